#pragma once
// What a reload must not lose: objects a filter builds that hold more than its settings (a cache's
// entries, a budget ledger's spend), kept across configurations under a key that says what each is
// and how it was built. A filter of a new configuration asks for its object by key and gets the
// previous configuration's while any chain still holds it, or a new one. Only weak references are
// kept here: an object lives as long as some chain uses it.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <typeindex>

namespace costgate::pipeline {

class KeptState {
 public:
  // The object kept under `key` if there is one of type T, else `make()`, kept from now on.
  // Thread-safe; the objects themselves must be safe to share between an old and a new chain.
  template <class T>
  std::shared_ptr<T> obtain(const std::string& key,
                            const std::function<std::shared_ptr<T>()>& make) {
    std::lock_guard lock(mutex_);
    std::erase_if(objects_, [](const auto& entry) { return entry.second.object.expired(); });
    auto found = objects_.find(key);
    if (found != objects_.end() && found->second.type == typeid(T)) {
      if (auto kept = found->second.object.lock()) return std::static_pointer_cast<T>(kept);
    }
    std::shared_ptr<T> made = make();
    objects_.insert_or_assign(key, Entry{made, typeid(T)});
    return made;
  }

 private:
  struct Entry {
    std::weak_ptr<void> object;
    std::type_index type;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> objects_;
};

}  // namespace costgate::pipeline
