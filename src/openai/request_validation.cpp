#include "costgate/openai/request_validation.h"

#include <string>
#include <string_view>

namespace costgate::openai {

using nlohmann::json;
using pipeline::Route;

namespace {

ApiError wrongType(std::string_view field, std::string_view expected, const json& got) {
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

Problem checkNumber(const json& body, const char* field, double low, double high) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return wrongType(field, "a number", *it);
  double value = it->get<double>();
  if (value < low || value > high) {
    return outOfRange(field, "between " + json(low).dump() + " and " + json(high).dump());
  }
  return std::nullopt;
}

Problem checkInteger(const json& body, const char* field, long long low, long long high) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) return wrongType(field, "an integer", *it);
  long long value = it->is_number_unsigned() && it->get<unsigned long long>() > 1ull << 62
                        ? high + 1
                        : it->get<long long>();
  if (value < low || value > high) {
    return outOfRange(field, "between " + std::to_string(low) + " and " + std::to_string(high));
  }
  return std::nullopt;
}

Problem checkKind(const json& body, const char* field, json::value_t kind, std::string_view name) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  bool matches = it->type() == kind || (kind == json::value_t::number_float && it->is_number());
  if (!matches) return wrongType(field, name, *it);
  return std::nullopt;
}

Problem checkStop(const json& body) {
  auto it = body.find("stop");
  if (it == body.end() || it->is_null() || it->is_string()) return std::nullopt;
  if (!it->is_array()) return wrongType("stop", "a string or an array of strings", *it);
  if (it->size() > 4) return outOfRange("stop", "at most 4 sequences");
  for (const auto& item : *it) {
    if (!item.is_string()) return wrongType("stop", "a string or an array of strings", item);
  }
  return std::nullopt;
}

Problem checkStreamOptions(const json& body) {
  if (auto problem = checkKind(body, "stream_options", json::value_t::object, "an object")) {
    return problem;
  }
  auto it = body.find("stream_options");
  if (it == body.end() || it->is_null()) return std::nullopt;
  auto usage = it->find("include_usage");
  if (usage != it->end() && !usage->is_boolean() && !usage->is_null()) {
    return wrongType("stream_options.include_usage", "a boolean", *usage);
  }
  return std::nullopt;
}

Problem checkMessages(const json& body) {
  auto it = body.find("messages");
  if (it == body.end()) {
    return invalidRequest("'messages' is required", "messages", "missing_required_parameter");
  }
  if (!it->is_array()) return wrongType("messages", "an array", *it);
  if (it->empty()) return invalidRequest("'messages' must not be empty", "messages", "empty_array");
  static constexpr std::string_view kRoles[] = {"system",    "developer", "user",
                                                "assistant", "tool",      "function"};
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& message = (*it)[i];
    std::string at = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) return wrongType(at, "an object", message);
    auto role = message.find("role");
    if (role == message.end() || !role->is_string()) {
      return invalidRequest("'" + at + ".role' is required and must be a string", at + ".role",
                            "invalid_type");
    }
    if (std::find(std::begin(kRoles), std::end(kRoles), role->get<std::string_view>()) ==
        std::end(kRoles)) {
      return invalidRequest("'" + at +
                                ".role' must be one of system, developer, user, assistant, "
                                "tool, function; got '" +
                                role->get<std::string>() + "'",
                            at + ".role", "invalid_value");
    }
    auto content = message.find("content");
    if (content != message.end() && !content->is_string() && !content->is_array() &&
        !content->is_null()) {
      return wrongType(at + ".content", "a string or an array of content parts", *content);
    }
  }
  return std::nullopt;
}

Problem checkPresentStringOrArray(const json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end()) {
    return invalidRequest("'" + std::string(field) + "' is required", field,
                          "missing_required_parameter");
  }
  if (!it->is_string() && !it->is_array()) {
    return wrongType(field, "a string or an array", *it);
  }
  if (it->is_array() && it->empty()) {
    return invalidRequest("'" + std::string(field) + "' must not be empty", field, "empty_array");
  }
  return std::nullopt;
}

Problem checkSampling(const json& body) {
  using K = json::value_t;
  for (const Problem& problem : {
           checkKind(body, "stream", K::boolean, "a boolean"),
           checkStreamOptions(body),
           checkNumber(body, "temperature", 0, 2),
           checkNumber(body, "top_p", 0, 1),
           checkNumber(body, "presence_penalty", -2, 2),
           checkNumber(body, "frequency_penalty", -2, 2),
           checkInteger(body, "n", 1, 128),
           checkInteger(body, "max_tokens", 1, 1LL << 31),
           checkInteger(body, "seed", -(1LL << 62), 1LL << 62),
           checkKind(body, "user", K::string, "a string"),
           checkKind(body, "metadata", K::object, "an object"),
           checkKind(body, "logit_bias", K::object, "an object"),
           checkStop(body),
       }) {
    if (problem) return problem;
  }
  return std::nullopt;
}

}  // namespace

std::string_view describeJsonType(const json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  if (value.is_number_float()) return "a number";
  return "an integer";
}

std::optional<ApiError> validateRequest(Route route, const json& body) {
  if (!body.is_object()) {
    return invalidRequest("the request body must be a JSON object", {}, "invalid_json");
  }
  auto model = body.find("model");
  if (model == body.end()) {
    return invalidRequest("'model' is required", "model", "missing_required_parameter");
  }
  if (!model->is_string()) return wrongType("model", "a string", *model);
  if (model->get_ref<const std::string&>().empty()) {
    return invalidRequest("'model' must not be empty", "model", "invalid_value");
  }
  using K = json::value_t;
  switch (route) {
    case Route::ChatCompletions:
      for (const Problem& problem : {
               checkMessages(body),
               checkSampling(body),
               checkInteger(body, "max_completion_tokens", 1, 1LL << 31),
               checkKind(body, "logprobs", K::boolean, "a boolean"),
               checkInteger(body, "top_logprobs", 0, 20),
               checkKind(body, "tools", K::array, "an array"),
               checkKind(body, "response_format", K::object, "an object"),
           }) {
        if (problem) return problem;
      }
      return std::nullopt;
    case Route::Completions:
      if (auto problem = checkPresentStringOrArray(body, "prompt")) return problem;
      if (auto problem = checkSampling(body)) return problem;
      return checkInteger(body, "logprobs", 0, 5);
    case Route::Embeddings:
      if (auto problem = checkPresentStringOrArray(body, "input")) return problem;
      if (auto problem = checkInteger(body, "dimensions", 1, 65536)) return problem;
      return checkKind(body, "encoding_format", K::string, "a string");
  }
  return std::nullopt;
}

}  // namespace costgate::openai
