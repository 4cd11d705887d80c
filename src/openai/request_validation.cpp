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
  kToolChoice,
  kParallelToolCalls,
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
                                                                   "tool_choice",
                                                                   "parallel_tool_calls",
                                                                   "response_format",
                                                                   "prompt",
                                                                   "input",
                                                                   "dimensions",
                                                                   "encoding_format"};

// The fields of each name length, at most four: a key is compared with those only.
constexpr std::size_t kLongestField = 21;
constexpr auto kFieldsByLength = [] {
  std::array<std::array<std::uint8_t, 4>, kLongestField + 1> table{};
  std::array<std::size_t, kLongestField + 1> filled{};
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    const std::size_t length = kFieldNames[i].size();
    table[length][filled[length]++] = static_cast<std::uint8_t>(i);
  }
  for (std::size_t length = 0; length <= kLongestField; ++length) {
    for (std::size_t slot = filled[length]; slot < 4; ++slot) table[length][slot] = kFieldCount;
  }
  return table;
}();

// The known field named `name`, or kFieldCount.
std::size_t fieldNamed(std::string_view name) {
  if (name.size() > kLongestField) return kFieldCount;
  for (std::uint8_t i : kFieldsByLength[name.size()]) {
    if (i == kFieldCount || name == kFieldNames[i]) return i;
  }
  return kFieldCount;
}

// The body's known fields, found in one pass over its members rather than a search per check.
class Fields {
 public:
  explicit Fields(const Value& body) {
    std::string unescaped;
    body.forEachMember([&](const Value& key, const Value& value) {
      std::string_view name = key.unquoted();
      if (key.hasEscapes()) name = unescaped = key.string();
      // A repeated key: the last one counts, as for every JSON reader here.
      if (std::size_t i = fieldNamed(name); i < kFieldCount) values_[i] = value;
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
  if (it->kind() != Kind::kInteger) return wrongType(kFieldNames[field], "an integer", *it);
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
  bool matches = it->kind() == kind || (kind == Kind::kNumber && it->isNumber());
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
  if (auto problem = checkKind(body, kStreamOptions, Kind::kObject, "an object")) return problem;
  auto it = given(body, kStreamOptions);
  if (!it) return std::nullopt;
  auto usage = it->find("include_usage");
  if (usage && !usage->isNull() && usage->kind() != Kind::kBoolean) {
    return wrongType("stream_options.include_usage", "a boolean", *usage);
  }
  return std::nullopt;
}

// The member `key` of `object` unless it is absent or null.
std::optional<Value> member(const Value& object, std::string_view key) {
  auto value = object.find(key);
  if (value && value->isNull()) return std::nullopt;
  return value;
}

// A member that must be there, of `kind`; `path` names the object it is in (made only for an
// error, so a valid request builds no strings).
template <typename Path>
Problem checkRequired(const Value& object, std::string_view key, Kind kind,
                      std::string_view expected, const Path& path) {
  auto value = member(object, key);
  if (!value) {
    std::string field = path() + "." + std::string(key);
    return invalidRequest("'" + field + "' is required", field, "missing_required_parameter");
  }
  if (value->kind() != kind) return wrongType(path() + "." + std::string(key), expected, *value);
  return std::nullopt;
}

// One part of an array `content`: an object with a string `type`; the text of a text part and
// the URL of an image part, which the token counts and the cache read, are checked too.
template <typename Path>
Problem checkContentPart(const Value& part, const Path& path) {
  if (!part.isObject()) return wrongType(path(), "an object", part);
  if (auto problem = checkRequired(part, "type", Kind::kString, "a string", path)) return problem;
  auto type = part.find("type");
  if (type->stringEquals("text")) {
    return checkRequired(part, "text", Kind::kString, "a string", path);
  }
  if (type->stringEquals("image_url")) {
    if (auto problem = checkRequired(part, "image_url", Kind::kObject, "an object", path)) {
      return problem;
    }
    return checkRequired(*part.find("image_url"), "url", Kind::kString, "a string",
                         [&] { return path() + ".image_url"; });
  }
  return std::nullopt;
}

Problem checkMessage(const Value& message, std::size_t i) {
  auto at = [&] { return "messages[" + std::to_string(i) + "]"; };
  static constexpr std::string_view kRoles[] = {"system",    "developer", "user",
                                                "assistant", "tool",      "function"};
  if (!message.isObject()) return wrongType(at(), "an object", message);
  const auto [role, content, name, tool_call_id, tool_calls] =
      message.findEach({"role", "content", "name", "tool_call_id", "tool_calls"});
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
  if (content && !content->isString() && !content->isArray() && !content->isNull()) {
    return wrongType(at() + ".content", "a string or an array of content parts", *content);
  }
  if (content && content->isArray()) {
    std::size_t j = 0;
    for (const Value& part : content->elements()) {
      auto part_at = [&] { return at() + ".content[" + std::to_string(j) + "]"; };
      if (auto problem = checkContentPart(part, part_at)) return problem;
      ++j;
    }
  }
  for (const auto& [key, value] : {std::pair{"name", name}, {"tool_call_id", tool_call_id}}) {
    if (value && !value->isNull() && !value->isString()) {
      return wrongType(at() + "." + key, "a string", *value);
    }
  }
  if (tool_calls && !tool_calls->isNull()) {
    if (!tool_calls->isArray()) return wrongType(at() + ".tool_calls", "an array", *tool_calls);
    std::size_t k = 0;
    for (const Value& call : tool_calls->elements()) {
      if (!call.isObject()) {
        return wrongType(at() + ".tool_calls[" + std::to_string(k) + "]", "an object", call);
      }
      ++k;
    }
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
  std::size_t i = 0;
  for (const Value& message : it->elements()) {
    if (auto problem = checkMessage(message, i)) return problem;
    ++i;
  }
  return std::nullopt;
}

// Each tool an object with a string `type`; a function tool's `function` an object with a
// string `name` (the token count and the router read them).
Problem checkTools(const Fields& body) {
  if (auto problem = checkKind(body, kTools, Kind::kArray, "an array")) return problem;
  auto tools = given(body, kTools);
  if (!tools) return std::nullopt;
  std::size_t i = 0;
  for (const Value& tool : tools->elements()) {
    auto at = [&] { return "tools[" + std::to_string(i) + "]"; };
    if (!tool.isObject()) return wrongType(at(), "an object", tool);
    if (auto problem = checkRequired(tool, "type", Kind::kString, "a string", at)) return problem;
    if (tool.find("type")->stringEquals("function")) {
      if (auto problem = checkRequired(tool, "function", Kind::kObject, "an object", at)) {
        return problem;
      }
      auto function_at = [&] { return at() + ".function"; };
      if (auto problem = checkRequired(*tool.find("function"), "name", Kind::kString, "a string",
                                       function_at)) {
        return problem;
      }
    }
    ++i;
  }
  return std::nullopt;
}

// An object with a string `type` (response_format; tool_choice, which may also be a string:
// "none", "auto" or "required").
Problem checkTypedObject(const Fields& body, Field field, bool or_string) {
  auto value = given(body, field);
  if (!value || (or_string && value->isString())) return std::nullopt;
  if (!value->isObject()) {
    return wrongType(kFieldNames[field], or_string ? "a string or an object" : "an object", *value);
  }
  return checkRequired(*value, "type", Kind::kString, "a string",
                       [&] { return std::string(kFieldNames[field]); });
}

// OpenAI's metadata is string to string; the tagging filter reads its values.
Problem checkMetadata(const Fields& body) {
  if (auto problem = checkKind(body, kMetadata, Kind::kObject, "an object")) return problem;
  auto metadata = given(body, kMetadata);
  if (!metadata) return std::nullopt;
  Problem problem;
  metadata->forEachMember([&](const Value& key, const Value& value) {
    if (!problem && !value.isString())
      problem = wrongType("metadata." + key.string(), "a string", value);
  });
  return problem;
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
  return firstProblem([&] { return checkKind(body, kStream, Kind::kBoolean, "a boolean"); },
                      [&] { return checkStreamOptions(body); },
                      [&] { return checkNumber(body, kTemperature, 0, 2); },
                      [&] { return checkNumber(body, kTopP, 0, 1); },
                      [&] { return checkNumber(body, kPresencePenalty, -2, 2); },
                      [&] { return checkNumber(body, kFrequencyPenalty, -2, 2); },
                      [&] { return checkInteger(body, kN, 1, 128); },
                      [&] { return checkInteger(body, kMaxTokens, 1, 1LL << 31); },
                      [&] { return checkInteger(body, kSeed, -(1LL << 62), 1LL << 62); },
                      [&] { return checkKind(body, kUser, Kind::kString, "a string"); },
                      [&] { return checkMetadata(body); },
                      [&] { return checkKind(body, kLogitBias, Kind::kObject, "an object"); },
                      [&] { return checkStop(body); });
}

// A member name as an error message shows it: at most 64 bytes, cut at a character boundary (the
// name is the client's, and the reply need not carry all of it).
std::string shownName(std::string_view name) {
  constexpr std::size_t kShown = 64;
  if (name.size() <= kShown) return std::string(name);
  std::size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return std::string(name.substr(0, cut)) + "...";
}

// Control characters (U+0000-U+001F, U+007F) in a name that filters match, log and forward: a
// model is a name, never text, and one carrying a line break or a NUL would reach a router's
// rewrite, the logs and the backend as sent.
bool hasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
  });
}

Problem checkModelName(const Value& model) {
  const bool control = model.hasEscapes() ? hasControlCharacter(model.string())
                                          : hasControlCharacter(model.unquoted());
  if (!control) return std::nullopt;
  return invalidRequest("'model' must not contain control characters", "model", "invalid_value");
}

}  // namespace

// A name repeated in any object of the body is refused rather than resolved: the filters read the
// last one (as nlohmann's and most parsers do) while a backend may read the first, so a cap, a
// route or a budget decision could be made on one value and the call run on another. Re-writing
// the body with one member would guess which one the client meant and change bytes it signed or
// a cache keyed on; I-JSON (RFC 7493) forbids repeated names and strict readers refuse them.
std::optional<ApiError> repeatedMemberError(const jsonview::Value& request) {
  auto repeated = request.repeatedMember();
  if (!repeated) return std::nullopt;
  return invalidRequest("duplicate member \"" + shownName(repeated->name) + "\" at '" +
                            shownName(repeated->path) +
                            "': a member name may appear only once in an object",
                        shownName(repeated->path), "duplicate_member");
}

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
    case Kind::kNull:
      return "null";
    case Kind::kBoolean:
      return "a boolean";
    case Kind::kString:
      return "a string";
    case Kind::kArray:
      return "an array";
    case Kind::kObject:
      return "an object";
    case Kind::kNumber:
      return "a number";
    case Kind::kInteger:
      return "an integer";
  }
  return "a value";
}

std::optional<ApiError> validateRequest(Route route, const Value& request, RequestBasics* basics) {
  if (auto problem = repeatedMemberError(request)) return problem;
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
  if (auto problem = checkModelName(*model)) return problem;
  if (basics) {
    basics->model = model->string();
    basics->stream =
        body[kStream] && body[kStream]->kind() == Kind::kBoolean && body[kStream]->boolean();
  }
  switch (route) {
    case Route::kChatCompletions:
      return firstProblem(
          [&] { return checkMessages(body); }, [&] { return checkSampling(body); },
          [&] { return checkInteger(body, kMaxCompletionTokens, 1, 1LL << 31); },
          [&] { return checkKind(body, kLogprobs, Kind::kBoolean, "a boolean"); },
          [&] { return checkInteger(body, kTopLogprobs, 0, 20); }, [&] { return checkTools(body); },
          [&] { return checkTypedObject(body, kToolChoice, true); },
          [&] { return checkKind(body, kParallelToolCalls, Kind::kBoolean, "a boolean"); },
          [&] { return checkTypedObject(body, kResponseFormat, false); });
    case Route::kCompletions:
      return firstProblem([&] { return checkPresentStringOrArray(body, kPrompt); },
                          [&] { return checkSampling(body); },
                          [&] { return checkInteger(body, kLogprobs, 0, 5); });
    case Route::kEmbeddings:
      return firstProblem(
          [&] { return checkPresentStringOrArray(body, kInput); },
          [&] { return checkInteger(body, kDimensions, 1, 65536); },
          [&] { return checkKind(body, kEncodingFormat, Kind::kString, "a string"); },
          [&] { return checkKind(body, kUser, Kind::kString, "a string"); });
  }
  return std::nullopt;
}

}  // namespace costgate::openai
