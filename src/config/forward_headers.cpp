#include "costgate/config/forward_headers.h"

#include <algorithm>
#include <array>

namespace costgate::config {

std::span<const std::string_view> defaultForwardHeaders() {
  // openai-organization and openai-project are not here: with the gateway's key they would let a
  // client pick which organization or project the gateway's account is billed to (or make
  // OpenAI refuse a key that is not a member), so an operator lists them deliberately.
  static constexpr std::array<std::string_view, 6> kDefaults = {
      "user-agent", "openai-beta", "idempotency-key", "x-stainless-*", "traceparent", "tracestate"};
  return kDefaults;
}

bool neverForwarded(std::string_view name) {
  static constexpr std::array<std::string_view, 20> kNever = {"host",
                                                              "connection",
                                                              "keep-alive",
                                                              "proxy-connection",
                                                              "te",
                                                              "trailer",
                                                              "transfer-encoding",
                                                              "upgrade",
                                                              "content-length",
                                                              "expect",
                                                              "accept-encoding",
                                                              "authorization",
                                                              "proxy-authorization",
                                                              "cookie",
                                                              "api-key",
                                                              "x-api-key",
                                                              "x-goog-api-key",
                                                              "ocp-apim-subscription-key",
                                                              "x-request-id",
                                                              "set-cookie"};
  return name.starts_with("x-costgate-") || name.starts_with("proxy-") ||
         std::find(kNever.begin(), kNever.end(), name) != kNever.end();
}

bool looksLikeCredential(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kWords = {
      "auth", "key", "token", "secret", "cookie", "password", "session", "signature"};
  return std::any_of(kWords.begin(), kWords.end(),
                     [name](std::string_view word) { return name.find(word) != name.npos; });
}

}  // namespace costgate::config
