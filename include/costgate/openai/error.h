#pragma once
// Errors in the shape OpenAI's API returns them, so every SDK raises its usual error classes:
// {"error":{"message":...,"type":...,"param":...,"code":...}}

#include <string>

namespace costgate::openai {

struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string message;
  std::string param;  // empty -> null
  std::string code;   // empty -> null

  // The JSON body for this error.
  std::string body() const;
};

ApiError invalidRequest(std::string message, std::string param = {}, std::string code = {});
ApiError notFound(std::string message, std::string code = "not_found");
// 403: the caller may not use what it asked for (a model its policy does not approve).
ApiError permissionDenied(std::string message, std::string param, std::string code);
ApiError serverError(int status, std::string message, std::string code);
// 405 for a known path asked with the wrong method; the caller sets the Allow header.
ApiError methodNotAllowed(std::string message);

}  // namespace costgate::openai
