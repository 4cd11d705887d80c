#include "filters/router/request_features.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "costgate/openai/prompt_tokens.h"
#include "costgate/text/ascii_case.h"

namespace costgate::filters::router {
namespace {

constexpr std::array<std::string_view, 18> kReasoningWords = {
    "prove",     "derive",     "step by step", "step-by-step", "analyze",  "analyse",
    "trade-off", "tradeoff",   "compare",      "explain why",  "optimize", "optimise",
    "algorithm", "complexity", "architecture", "design a",     "debug",    "calculate"};

// Markers of source code outside a fence: common keywords and punctuation at a line's start or
// end. A heuristic: a false "code" only raises the score a little.
bool looksLikeCode(std::string_view text) {
  if (text.find("```") != std::string_view::npos) return true;
  for (std::string_view marker : {"#include", "def ", "function ", "return ", "public static",
                                  "import ", "const ", "};", "=>", "SELECT ", "printf("}) {
    if (text.find(marker) != std::string_view::npos) return true;
  }
  return false;
}

void appendLower(std::string& out, std::string_view text) {
  if (!out.empty()) out.push_back('\n');
  out += text::lowerAscii(text);
}

}  // namespace

RequestFeatures featuresOf(const pipeline::RequestContext& ctx) {
  RequestFeatures features;
  if (!ctx.request_index) return features;
  const jsonview::Value body = *ctx.request_index;
  for (const char* key : {"tools", "functions"}) {
    auto tools = body.find(key);
    features.has_tools = features.has_tools || (tools && tools->isArray() && tools->size() > 0);
  }
  if (auto format = body.find("response_format"); format && format->isObject()) {
    auto type = format->find("type");
    features.json_response =
        type && type->isString() &&
        (type->stringEquals("json_object") || type->stringEquals("json_schema"));
  }
  std::size_t characters = 0;
  auto visitText = [&](std::string_view role, std::string_view text) {
    characters += text.size();
    features.has_code = features.has_code || looksLikeCode(text);
    if (role == "user") appendLower(features.user_text, text);
  };
  if (auto messages = body.find("messages"); messages && messages->isArray()) {
    features.messages = messages->size();
    for (const jsonview::Value& message : messages->elements()) {
      if (!message.isObject()) continue;
      auto role_value = message.find("role");
      std::string role = role_value && role_value->isString() ? role_value->string() : "";
      auto content = message.find("content");
      if (!content) continue;
      if (content->isString()) {
        visitText(role, content->string());
        continue;
      }
      if (!content->isArray()) continue;
      for (const jsonview::Value& part : content->elements()) {
        auto type = part.isObject() ? part.find("type") : std::nullopt;
        if (!type || !type->isString()) continue;
        if (type->stringEquals("image_url") || type->stringEquals("input_image")) {
          features.has_images = true;
        } else if (auto text = part.find("text"); text && text->isString()) {
          visitText(role, text->string());
        }
      }
    }
  } else if (auto prompt = body.find("prompt"); prompt && prompt->isString()) {
    visitText("user", prompt->string());
  }
  features.reasoning_words = std::any_of(
      kReasoningWords.begin(), kReasoningWords.end(),
      [&](std::string_view word) { return features.user_text.find(word) != std::string::npos; });
  if (ctx.prompt_tokens) {
    features.prompt_tokens = ctx.prompt_tokens->tokens;
  } else if (ctx.encoding) {
    features.prompt_tokens = openai::countPrompt(ctx.route, body, *ctx.encoding).tokens;
  } else {
    features.prompt_tokens = static_cast<std::int64_t>(characters / 4);
  }
  return features;
}

double complexityOf(const RequestFeatures& features) {
  double score = 0.30 * std::min(1.0, static_cast<double>(features.prompt_tokens) / 3000.0);
  if (features.reasoning_words) score += 0.25;
  if (features.has_code) score += 0.15;
  if (features.has_tools) score += 0.10;
  if (features.has_images) score += 0.10;
  if (features.json_response) score += 0.05;
  if (features.messages > 1) {
    score += 0.05 * std::min(1.0, static_cast<double>(features.messages - 1) / 8.0);
  }
  return std::min(score, 1.0);
}

}  // namespace costgate::filters::router
