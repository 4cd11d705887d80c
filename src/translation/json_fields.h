#pragma once
// Reading members of a client's JSON without exceptions: a wrong type reads as absent, and the
// translation then says what is missing or wrong.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace costgate::translation {

// The string member `key` of `object`, or "" when absent or not a string.
inline std::string stringAt(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// The integer member `key` of `object`, or 0.
inline std::int64_t integerAt(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto found = object.find(key);
  return found != object.end() && found->is_number_integer() ? found->get<std::int64_t>() : 0;
}

// The member `key` of `object` when present and not null, else nullptr.
inline const nlohmann::json* memberAt(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto found = object.find(key);
  return found != object.end() && !found->is_null() ? &*found : nullptr;
}

// JSON text that survives invalid UTF-8 from a client (replaced, not thrown).
inline std::string jsonText(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace costgate::translation
