#pragma once
// Checks the fields the gateway and its filters rely on, so a malformed request is answered with a
// 400 naming the offending field instead of reaching a backend or a filter half-understood.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "costgate/jsonview/document.h"
#include "costgate/openai/error.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::openai {

// What the dispatcher needs of a request, read while checking it.
struct RequestBasics {
  std::string model;
  bool stream = false;
};

// Returns the first problem found in `body` for this route, or nullopt when it is acceptable; then
// `basics`, if given, holds the request's model and stream flag. A member name repeated in any
// object of the body (found by the index's parse) and a model name with a control character are
// problems too. Runs before any filter.
std::optional<ApiError> validateRequest(pipeline::Route route, const jsonview::Value& body,
                                        RequestBasics* basics = nullptr);

// A member name repeated in any object of `body` (found by the index's parse): the 400 that
// refuses it, else nullopt. Part of validateRequest; the APIs translated to chat check it first.
std::optional<ApiError> repeatedMemberError(const jsonview::Value& body);

// The kind of a JSON value as an error message names it: "null", "a boolean", "a string",
// "an array", "an object", "a number" (a value with a fraction or exponent) or "an integer".
std::string_view describeJsonType(const nlohmann::json& value);
std::string_view describeJsonType(const jsonview::Value& value);

}  // namespace costgate::openai
