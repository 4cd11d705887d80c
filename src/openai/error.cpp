#include "costgate/openai/error.h"

#include <nlohmann/json.hpp>

namespace costgate::openai {

std::string ApiError::body() const {
  nlohmann::json error = {{"message", message},
                          {"type", type},
                          {"param", param.empty() ? nlohmann::json() : nlohmann::json(param)},
                          {"code", code.empty() ? nlohmann::json() : nlohmann::json(code)}};
  // Replace invalid UTF-8 (e.g. echoed from a client's bytes) instead of throwing.
  return nlohmann::json{{"error", std::move(error)}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
}

ApiError invalidRequest(std::string message, std::string param, std::string code) {
  return ApiError{400, "invalid_request_error", std::move(message), std::move(param),
                  std::move(code)};
}

ApiError notFound(std::string message, std::string code) {
  return ApiError{404, "invalid_request_error", std::move(message), {}, std::move(code)};
}

ApiError permissionDenied(std::string message, std::string param, std::string code) {
  // OpenAI answers a model the key may not use with 403 and this type.
  return ApiError{403, "invalid_request_error", std::move(message), std::move(param),
                  std::move(code)};
}

ApiError serverError(int status, std::string message, std::string code) {
  return ApiError{status, "api_error", std::move(message), {}, std::move(code)};
}

ApiError methodNotAllowed(std::string message) {
  return ApiError{405, "invalid_request_error", std::move(message), {}, "method_not_allowed"};
}

}  // namespace costgate::openai
