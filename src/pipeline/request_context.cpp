#include "costgate/pipeline/request_context.h"

namespace costgate::pipeline {

std::string_view routeName(Route route) {
  switch (route) {
    case Route::ChatCompletions:
      return "chat_completions";
    case Route::Completions:
      return "completions";
    case Route::Embeddings:
      return "embeddings";
  }
  return "unknown";
}

std::optional<std::string_view> RequestContext::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

}  // namespace costgate::pipeline
