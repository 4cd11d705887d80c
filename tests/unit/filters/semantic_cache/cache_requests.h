#pragma once
// What the semantic_cache filter's tests send and get: a one-question chat request, a tenant to
// key it under, and a backend's chat.completion answering it.

#include <string>

#include <nlohmann/json.hpp>

#include "costgate/pipeline/request_context.h"

namespace costgate::filters::semantic_cache::test_requests {

inline const pipeline::Tags kTenant{"faq", "core", "test", ""};

inline nlohmann::json chat(const std::string& question) {
  return {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", question}}}}};
}

inline std::string answer(const std::string& text) {
  return nlohmann::json{
      {"id", "chatcmpl-1"},
      {"object", "chat.completion"},
      {"model", "m"},
      {"choices",
       {{{"index", 0},
         {"message", {{"role", "assistant"}, {"content", text}}},
         {"finish_reason", "stop"}}}},
      {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 5}, {"total_tokens", 15}}}}
      .dump();
}

}  // namespace costgate::filters::semantic_cache::test_requests
