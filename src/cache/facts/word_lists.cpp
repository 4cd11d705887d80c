#include "costgate/cache/facts/word_lists.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace costgate::cache::facts {
namespace {

// The fields of one line, its comment cut off.
WordEntry fieldsOf(std::string_view line) {
  line = line.substr(0, line.find('#'));
  WordEntry fields;
  for (std::size_t i = line.find_first_not_of(" \t\r"); i != std::string_view::npos;) {
    std::size_t end = std::min(line.find_first_of(" \t\r", i), line.size());
    fields.push_back(line.substr(i, end - i));
    i = line.find_first_not_of(" \t\r", end);
  }
  return fields;
}

// The entries of the list `name`, each of 1 to `maxFields` fields.
std::vector<WordEntry> entriesOf(std::string_view name, std::size_t maxFields) {
  std::vector<WordEntry> entries = wordListEntries(name);
  for (const WordEntry& entry : entries) {
    if (entry.size() > maxFields) {
      malformedWordList(name, "too many fields at " + std::string(entry[0]));
    }
  }
  return entries;
}

}  // namespace

void malformedWordList(std::string_view name, std::string_view why) {
  throw std::logic_error("word list " + std::string(name) + ": " + std::string(why));
}

std::vector<WordEntry> wordEntries(std::string_view text) {
  std::vector<WordEntry> entries;
  while (!text.empty()) {
    std::size_t end = std::min(text.find('\n'), text.size());
    if (WordEntry fields = fieldsOf(text.substr(0, end)); !fields.empty()) {
      entries.push_back(std::move(fields));
    }
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return entries;
}

std::vector<WordEntry> wordListEntries(std::string_view name) {
  auto lists = wordLists();
  auto list = std::find_if(lists.begin(), lists.end(),
                           [&](const WordList& candidate) { return candidate.name == name; });
  if (list == lists.end()) malformedWordList(name, "no such list in src/cache/facts/words");
  std::vector<WordEntry> entries = wordEntries(list->text);
  if (entries.empty()) malformedWordList(name, "empty");
  return entries;
}

WordSet::WordSet(std::string_view name) {
  for (const WordEntry& entry : entriesOf(name, 1)) {
    if (!words_.insert(entry[0]).second) {
      malformedWordList(name, "repeats " + std::string(entry[0]));
    }
  }
}

WordMap& WordMap::add(std::string_view name) {
  for (const WordEntry& entry : entriesOf(name, 2)) insert(name, entry.front(), entry.back());
  return *this;
}

WordMap& WordMap::add(std::string_view name, std::string_view value) {
  for (const WordEntry& entry : entriesOf(name, 1)) insert(name, entry[0], value);
  return *this;
}

std::optional<std::string_view> WordMap::find(std::string_view word) const {
  auto it = values_.find(word);
  return it == values_.end() ? std::nullopt : std::optional<std::string_view>(it->second);
}

void WordMap::insert(std::string_view name, std::string_view word, std::string_view value) {
  if (!values_.emplace(word, value).second) malformedWordList(name, "repeats " + std::string(word));
}

}  // namespace costgate::cache::facts
