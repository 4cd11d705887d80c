#include "costgate/openai/request_validation.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace costgate::openai {

using jsonview::Kind;
using jsonview::Value;
using pipeline::Route;

namespace {

ApiError wrongType(std::string_view field, std::string_view expected, const Value& got) {
  return invalidRequest("'" + std::string(field) + "' must be " + std::string(expected) + ", got " +
                            std::string(describeJsonType(got)),
                        std::string(field), "invalid_type");
}

ApiError outOfRange(std::string_view field, std::string_view range) {
  return invalidRequest("'" + std::string(field) + "' must be " + std::string(range),
                        std::string(field), "invalid_value");
}

// Each check returns the problem with an optional field, if it is present and not null.
using Problem = std::optional<ApiError>;

// The member `field` of `body` unless it is absent or null.
std::optional<Value> given(const Value& body, std::string_view field) {
  auto member = body.find(field);
  if (member && member->isNull()) return std::nullopt;
  return member;
}

// Bounds as an error message prints them: integers without a fraction.
std::string printBound(double bound) {
  std::string text = std::to_string(bound);
  if (text.find('.') != std::string::npos) {
    text.erase(text.find_last_not_of('0') + 1);
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

Problem checkNumber(const Value& body, const char* field, double low, double high) {
  auto it = given(body, field);
  if (!it) return std::nullopt;
  if (!it->isNumber()) return wrongType(field, "a number", *it);
  double value = it->number();
  if (value < low || value > high) {
    return outOfRange(field, "between " + printBound(low) + " and " + printBound(high));
  }
  return std::nullopt;
}

Problem checkInteger(const Value& body, const char* field, long long low, long long high) {
  auto it = given(body, field);
  if (!it) return std::nullopt;
  if (it->kind() != Kind::Integer) return wrongType(field, "an integer", *it);
  // Beyond 64 bits is out of range on whichever side its sign puts it.
  long long value = it->integer().value_or(it->raw().starts_with('-') ? low - 1 : high + 1);
  if (value < low || value > high) {
    return outOfRange(field, "between " + std::to_string(low) + " and " + std::to_string(high));
  }
  return std::nullopt;
}

Problem checkKind(const Value& body, const char* field, Kind kind, std::string_view name) {
  auto it = given(body, field);
  if (!it) return std::nullopt;
  bool matches = it->kind() == kind || (kind == Kind::Number && it->isNumber());
  if (!matches) return wrongType(field, name, *it);
  return std::nullopt;
}

Problem checkStop(const Value& body) {
  auto it = given(body, "stop");
  if (!it || it->isString()) return std::nullopt;
  if (!it->isArray()) return wrongType("stop", "a string or an array of strings", *it);
  if (it->size() > 4) return outOfRange("stop", "at most 4 sequences");
  for (const Value& item : it->elements()) {
    if (!item.isString()) return wrongType("stop", "a string or an array of strings", item);
  }
  return std::nullopt;
}

Problem checkStreamOptions(const Value& body) {
  if (auto problem = checkKind(body, "stream_options", Kind::Object, "an object")) return problem;
  auto it = given(body, "stream_options");
  if (!it) return std::nullopt;
  auto usage = given(*it, "include_usage");
  if (usage && usage->kind() != Kind::Boolean) {
    return wrongType("stream_options.include_usage", "a boolean", *usage);
  }
  return std::nullopt;
}

Problem checkMessages(const Value& body) {
  auto it = body.find("messages");
  if (!it) {
    return invalidRequest("'messages' is required", "messages", "missing_required_parameter");
  }
  if (!it->isArray()) return wrongType("messages", "an array", *it);
  if (it->size() == 0) {
    return invalidRequest("'messages' must not be empty", "messages", "empty_array");
  }
  static constexpr std::string_view kRoles[] = {"system",    "developer", "user",
                                                "assistant", "tool",      "function"};
  std::size_t i = 0;
  for (const Value& message : it->elements()) {
    auto at = [&] { return "messages[" + std::to_string(i) + "]"; };
    if (!message.isObject()) return wrongType(at(), "an object", message);
    auto role = message.find("role");
    if (!role || !role->isString()) {
      return invalidRequest("'" + at() + ".role' is required and must be a string", at() + ".role",
                            "invalid_type");
    }
    if (std::none_of(std::begin(kRoles), std::end(kRoles),
                     [&](std::string_view known) { return role->stringEquals(known); })) {
      return invalidRequest("'" + at() +
                                ".role' must be one of system, developer, user, assistant, "
                                "tool, function; got '" +
                                role->string() + "'",
                            at() + ".role", "invalid_value");
    }
    auto content = message.find("content");
    if (content && !content->isString() && !content->isArray() && !content->isNull()) {
      return wrongType(at() + ".content", "a string or an array of content parts", *content);
    }
    ++i;
  }
  return std::nullopt;
}

Problem checkPresentStringOrArray(const Value& body, const char* field) {
  auto it = body.find(field);
  if (!it) {
    return invalidRequest("'" + std::string(field) + "' is required", field,
                          "missing_required_parameter");
  }
  if (!it->isString() && !it->isArray()) return wrongType(field, "a string or an array", *it);
  if (it->isArray() && it->size() == 0) {
    return invalidRequest("'" + std::string(field) + "' must not be empty", field, "empty_array");
  }
  return std::nullopt;
}

// Runs the checks in order and returns the first problem; later checks do not run.
template <typename... Checks>
Problem firstProblem(Checks&&... checks) {
  Problem problem;
  ((problem = checks()) || ...);
  return problem;
}

Problem checkSampling(const Value& body) {
  return firstProblem([&] { return checkKind(body, "stream", Kind::Boolean, "a boolean"); },
                      [&] { return checkStreamOptions(body); },
                      [&] { return checkNumber(body, "temperature", 0, 2); },
                      [&] { return checkNumber(body, "top_p", 0, 1); },
                      [&] { return checkNumber(body, "presence_penalty", -2, 2); },
                      [&] { return checkNumber(body, "frequency_penalty", -2, 2); },
                      [&] { return checkInteger(body, "n", 1, 128); },
                      [&] { return checkInteger(body, "max_tokens", 1, 1LL << 31); },
                      [&] { return checkInteger(body, "seed", -(1LL << 62), 1LL << 62); },
                      [&] { return checkKind(body, "user", Kind::String, "a string"); },
                      [&] { return checkKind(body, "metadata", Kind::Object, "an object"); },
                      [&] { return checkKind(body, "logit_bias", Kind::Object, "an object"); },
                      [&] { return checkStop(body); });
}

}  // namespace

std::string_view describeJsonType(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  if (value.is_number_float()) return "a number";
  return "an integer";
}

std::string_view describeJsonType(const Value& value) {
  switch (value.kind()) {
    case Kind::Null:
      return "null";
    case Kind::Boolean:
      return "a boolean";
    case Kind::String:
      return "a string";
    case Kind::Array:
      return "an array";
    case Kind::Object:
      return "an object";
    case Kind::Number:
      return "a number";
    case Kind::Integer:
      return "an integer";
  }
  return "a value";
}

std::optional<ApiError> validateRequest(Route route, const Value& body) {
  if (!body.isObject()) {
    return invalidRequest("the request body must be a JSON object", {}, "invalid_json");
  }
  auto model = body.find("model");
  if (!model) return invalidRequest("'model' is required", "model", "missing_required_parameter");
  if (!model->isString()) return wrongType("model", "a string", *model);
  if (model->stringEquals("")) {
    return invalidRequest("'model' must not be empty", "model", "invalid_value");
  }
  switch (route) {
    case Route::ChatCompletions:
      return firstProblem(
          [&] { return checkMessages(body); }, [&] { return checkSampling(body); },
          [&] { return checkInteger(body, "max_completion_tokens", 1, 1LL << 31); },
          [&] { return checkKind(body, "logprobs", Kind::Boolean, "a boolean"); },
          [&] { return checkInteger(body, "top_logprobs", 0, 20); },
          [&] { return checkKind(body, "tools", Kind::Array, "an array"); },
          [&] { return checkKind(body, "response_format", Kind::Object, "an object"); });
    case Route::Completions:
      return firstProblem([&] { return checkPresentStringOrArray(body, "prompt"); },
                          [&] { return checkSampling(body); },
                          [&] { return checkInteger(body, "logprobs", 0, 5); });
    case Route::Embeddings:
      return firstProblem(
          [&] { return checkPresentStringOrArray(body, "input"); },
          [&] { return checkInteger(body, "dimensions", 1, 65536); },
          [&] { return checkKind(body, "encoding_format", Kind::String, "a string"); });
  }
  return std::nullopt;
}

}  // namespace costgate::openai
