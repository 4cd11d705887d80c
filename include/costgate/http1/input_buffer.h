#pragma once
// Bytes read from a connection and not parsed yet: reads append at the back, parsing consumes
// from the front, and what a message left over (a pipelined request) stays for the next one.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace costgate::http1 {

class InputBuffer {
 public:
  explicit InputBuffer(std::size_t capacity) : storage_(new char[capacity]), capacity_(capacity) {}

  std::string_view data() const { return {storage_.get() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Free space for the next read: at least `min` bytes, more when the storage has them.
  char* prepare(std::size_t min) {
    if (capacity_ - end_ < min) {
      std::size_t size = end_ - begin_;
      if (capacity_ - size < min) {
        std::size_t capacity = std::max(capacity_ * 2, size + min);
        std::unique_ptr<char[]> grown(new char[capacity]);
        std::memcpy(grown.get(), storage_.get() + begin_, size);
        storage_ = std::move(grown);
        capacity_ = capacity;
      } else {
        std::memmove(storage_.get(), storage_.get() + begin_, size);
      }
      begin_ = 0;
      end_ = size;
    }
    return storage_.get() + end_;
  }
  std::size_t writable() const { return capacity_ - end_; }
  // `n` bytes were written at prepare()'s pointer.
  void commit(std::size_t n) { end_ += n; }

 private:
  std::unique_ptr<char[]> storage_;
  std::size_t capacity_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace costgate::http1
