#include "costgate/openai/request_validation.h"

#include <algorithm>
#include <array>
#include <cstdint>
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

// The top-level fields the checks read.
enum Field : std::uint8_t {
  kModel,
  kMessages,
  kStream,
  kStreamOptions,
  kTemperature,
  kTopP,
  kPresencePenalty,
  kFrequencyPenalty,
  kN,
  kMaxTokens,
  kSeed,
  kUser,
  kMetadata,
  kLogitBias,
  kStop,
  kMaxCompletionTokens,
  kLogprobs,
  kTopLogprobs,
  kTools,
  kResponseFormat,
  kPrompt,
  kInput,
  kDimensions,
  kEncodingFormat,
  kFieldCount
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {"model",
                                                                   "messages",
                                                                   "stream",
                                                                   "stream_options",
                                                                   "temperature",
                                                                   "top_p",
                                                                   "presence_penalty",
                                                                   "frequency_penalty",
                                                                   "n",
                                                                   "max_tokens",
                                                                   "seed",
                                                                   "user",
                                                                   "metadata",
                                                                   "logit_bias",
                                                                   "stop",
                                                                   "max_completion_tokens",
                                                                   "logprobs",
                                                                   "top_logprobs",
                                                                   "tools",
                                                                   "response_format",
                                                                   "prompt",
                                                                   "input",
                                                                   "dimensions",
                                                                   "encoding_format"};

// The body's known fields, found in one pass over its members rather than a search per check.
class Fields {
 public:
  explicit Fields(const Value& body) {
    std::string unescaped;
    body.forEachMember([&](const Value& key, const Value& value) {
      std::string_view name = key.unquoted();
      if (key.hasEscapes()) name = unescaped = key.string();
      for (std::size_t i = 0; i < kFieldCount; ++i) {
        if (name == kFieldNames[i]) {
          values_[i] = value;  // a repeated key: the last one counts, as for every JSON reader here
          break;
        }
      }
    });
  }
  // The field's value, even null; nullopt when absent.
  const std::optional<Value>& operator[](Field field) const { return values_[field]; }

 private:
  std::array<std::optional<Value>, kFieldCount> values_;
};

// The field unless it is absent or null.
std::optional<Value> given(const Fields& body, Field field) {
  if (body[field] && body[field]->isNull()) return std::nullopt;
  return body[field];
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

Problem checkNumber(const Fields& body, Field field, double low, double high) {
  auto it = given(body, field);
  if (!it) return std::nullopt;
  if (!it->isNumber()) return wrongType(kFieldNames[field], "a number", *it);
  double value = it->number();
  if (value < low || value > high) {
    return outOfRange(kFieldNames[field],
                      "between " + printBound(low) + " and " + printBound(high));
  }
  return std::nullopt;
}

Problem checkInteger(const Fields& body, Field field, long long low, long long high) {
  auto it = given(body, field);
  if (!it) return std::nullopt;
  if (it->kind() != Kind::Integer) return wrongType(kFieldNames[field], "an integer", *it);
  // Beyond 64 bits is out of range on whichever side its sign puts it.
  long long value = it->integer().value_or(it->raw().starts_with('-') ? low - 1 : high + 1);
  if (value < low || value > high) {
    return outOfRange(kFieldNames[field],
                      "between " + std::to_string(low) + " and " + std::to_string(high));
  }
  return std::nullopt;
}

Problem checkKind(const Fields& body, Field field, Kind kind, std::string_view name) {
  auto it = given(body, field);
  if (!it) return std::nullopt;
  bool matches = it->kind() == kind || (kind == Kind::Number && it->isNumber());
  if (!matches) return wrongType(kFieldNames[field], name, *it);
  return std::nullopt;
}

Problem checkStop(const Fields& body) {
  auto it = given(body, kStop);
  if (!it || it->isString()) return std::nullopt;
  if (!it->isArray()) return wrongType("stop", "a string or an array of strings", *it);
  if (it->size() > 4) return outOfRange("stop", "at most 4 sequences");
  for (const Value& item : it->elements()) {
    if (!item.isString()) return wrongType("stop", "a string or an array of strings", item);
  }
  return std::nullopt;
}

Problem checkStreamOptions(const Fields& body) {
  if (auto problem = checkKind(body, kStreamOptions, Kind::Object, "an object")) return problem;
  auto it = given(body, kStreamOptions);
  if (!it) return std::nullopt;
  auto usage = it->find("include_usage");
  if (usage && !usage->isNull() && usage->kind() != Kind::Boolean) {
    return wrongType("stream_options.include_usage", "a boolean", *usage);
  }
  return std::nullopt;
}

Problem checkMessages(const Fields& body) {
  const auto& it = body[kMessages];
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

Problem checkPresentStringOrArray(const Fields& body, Field field) {
  auto it = body[field];
  if (!it) {
    return invalidRequest("'" + std::string(kFieldNames[field]) + "' is required",
                          std::string(kFieldNames[field]), "missing_required_parameter");
  }
  if (!it->isString() && !it->isArray())
    return wrongType(kFieldNames[field], "a string or an array", *it);
  if (it->isArray() && it->size() == 0) {
    return invalidRequest("'" + std::string(kFieldNames[field]) + "' must not be empty",
                          std::string(kFieldNames[field]), "empty_array");
  }
  return std::nullopt;
}

// Runs the checks in order and returns the first problem; later checks do not run.
template <typename... Checks>
Problem firstProblem(Checks&&... checks) {
  Problem problem;
  auto found = [&problem](auto& check) {
    if (auto found_problem = check()) {
      problem = std::move(found_problem);
      return true;
    }
    return false;
  };
  (found(checks) || ...);
  return problem;
}

Problem checkSampling(const Fields& body) {
  return firstProblem([&] { return checkKind(body, kStream, Kind::Boolean, "a boolean"); },
                      [&] { return checkStreamOptions(body); },
                      [&] { return checkNumber(body, kTemperature, 0, 2); },
                      [&] { return checkNumber(body, kTopP, 0, 1); },
                      [&] { return checkNumber(body, kPresencePenalty, -2, 2); },
                      [&] { return checkNumber(body, kFrequencyPenalty, -2, 2); },
                      [&] { return checkInteger(body, kN, 1, 128); },
                      [&] { return checkInteger(body, kMaxTokens, 1, 1LL << 31); },
                      [&] { return checkInteger(body, kSeed, -(1LL << 62), 1LL << 62); },
                      [&] { return checkKind(body, kUser, Kind::String, "a string"); },
                      [&] { return checkKind(body, kMetadata, Kind::Object, "an object"); },
                      [&] { return checkKind(body, kLogitBias, Kind::Object, "an object"); },
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

std::optional<ApiError> validateRequest(Route route, const Value& request, RequestBasics* basics) {
  if (!request.isObject()) {
    return invalidRequest("the request body must be a JSON object", {}, "invalid_json");
  }
  Fields body(request);
  const auto& model = body[kModel];
  if (!model) return invalidRequest("'model' is required", "model", "missing_required_parameter");
  if (!model->isString()) return wrongType("model", "a string", *model);
  if (model->stringEquals("")) {
    return invalidRequest("'model' must not be empty", "model", "invalid_value");
  }
  if (basics) {
    basics->model = model->string();
    basics->stream =
        body[kStream] && body[kStream]->kind() == Kind::Boolean && body[kStream]->boolean();
  }
  switch (route) {
    case Route::ChatCompletions:
      return firstProblem(
          [&] { return checkMessages(body); }, [&] { return checkSampling(body); },
          [&] { return checkInteger(body, kMaxCompletionTokens, 1, 1LL << 31); },
          [&] { return checkKind(body, kLogprobs, Kind::Boolean, "a boolean"); },
          [&] { return checkInteger(body, kTopLogprobs, 0, 20); },
          [&] { return checkKind(body, kTools, Kind::Array, "an array"); },
          [&] { return checkKind(body, kResponseFormat, Kind::Object, "an object"); });
    case Route::Completions:
      return firstProblem([&] { return checkPresentStringOrArray(body, kPrompt); },
                          [&] { return checkSampling(body); },
                          [&] { return checkInteger(body, kLogprobs, 0, 5); });
    case Route::Embeddings:
      return firstProblem(
          [&] { return checkPresentStringOrArray(body, kInput); },
          [&] { return checkInteger(body, kDimensions, 1, 65536); },
          [&] { return checkKind(body, kEncodingFormat, Kind::String, "a string"); });
  }
  return std::nullopt;
}

}  // namespace costgate::openai
