#include "costgate/log/fields.h"

#include <charconv>

namespace costgate::log {

void Fields::text(std::string_view name, std::string_view value) {
  std::string json;
  json.reserve(value.size() + 2);
  appendJsonString(json, value);
  set(name, std::move(json));
}

void Fields::number(std::string_view name, long long value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
  set(name, std::string(digits, end));
}

void Fields::flag(std::string_view name, bool value) { set(name, value ? "true" : "false"); }

void Fields::decimal(std::string_view name, std::string_view digits) {
  set(name, std::string(digits));
}

const std::string* Fields::find(std::string_view name) const {
  for (const auto& [key, json] : fields_) {
    if (key == name) return &json;
  }
  return nullptr;
}

std::string_view Fields::textOf(std::string_view name) const {
  const std::string* json = find(name);
  if (!json || json->size() < 2 || json->front() != '"') return {};
  return std::string_view(*json).substr(1, json->size() - 2);
}

void Fields::merge(Fields&& more) {
  for (auto& [name, json] : more.fields_) set(name, std::move(json));
  more.fields_.clear();
}

void Fields::set(std::string_view name, std::string json) {
  for (auto& [key, value] : fields_) {
    if (key == name) {
      value = std::move(json);
      return;
    }
  }
  fields_.emplace_back(std::string(name), std::move(json));
}

}  // namespace costgate::log
