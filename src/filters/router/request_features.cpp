#include "filters/router/request_features.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>
#include <utility>

#include "costgate/openai/prompt_tokens.h"
#include "costgate/text/ascii_case.h"

namespace costgate::filters::router {
namespace {

// Words of a question that needs reasoning, or of a bug that needs finding (not merely showing).
constexpr std::array<std::string_view, 31> kReasoningWords = {
    "prove",      "derive",         "step by step",  "step-by-step", "analyze",   "analyse",
    "trade-off",  "tradeoff",       "compare",       "explain why",  "optimize",  "optimise",
    "algorithm",  "complexity",     "architecture",  "design a",     "debug",     "calculate",
    "root cause", "race condition", "deadlock",      "memory leak",  "segfault",  "why does",
    "why is",     "doesn't work",   "does not work", "intermittent", "edge case", "concurrency",
    "refactor"};

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

bool hasReasoningWord(std::string_view lower_text) {
  return std::any_of(kReasoningWords.begin(), kReasoningWords.end(), [&](std::string_view word) {
    return lower_text.find(word) != std::string_view::npos;
  });
}

// The characters of `text` outside ``` fences: the asker's own words, not what they pasted.
std::size_t proseCharacters(std::string_view text) {
  std::size_t prose = 0;
  bool fenced = false;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t fence = text.find("```", at);
    const std::size_t end = fence == std::string_view::npos ? text.size() : fence;
    if (!fenced) prose += end - at;
    if (fence == std::string_view::npos) break;
    fenced = !fenced;
    at = fence + 3;
  }
  return prose;
}

// Two decimals, for the access log.
std::string twoDecimals(double value) {
  char text[16];
  std::snprintf(text, sizeof(text), "%.2f", value);
  return text;
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
  // The last user message's text, rebuilt from its parts when it has several.
  std::string question;
  bool question_open = false;
  auto visitText = [&](std::string_view role, std::string_view text) {
    characters += text.size();
    features.has_code = features.has_code || looksLikeCode(text);
    if (role != "user") return;
    appendLower(features.user_text, text);
    if (!question_open) question.clear();
    question_open = true;
    question.append(text);
  };
  if (auto messages = body.find("messages"); messages && messages->isArray()) {
    features.messages = messages->size();
    for (const jsonview::Value& message : messages->elements()) {
      if (!message.isObject()) continue;
      auto role_value = message.find("role");
      std::string role = role_value && role_value->isString() ? role_value->string() : "";
      question_open = false;  // a later user message is a new question
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
  features.reasoning_words = hasReasoningWord(features.user_text);
  features.question_reasoning = hasReasoningWord(text::lowerAscii(question));
  features.question_code = looksLikeCode(question);
  features.question_tokens = static_cast<std::int64_t>(proseCharacters(question) / 4);
  if (ctx.prompt_tokens) {
    features.prompt_tokens = ctx.prompt_tokens->tokens;
  } else if (ctx.encoding) {
    features.prompt_tokens = openai::countPrompt(ctx.route, body, *ctx.encoding).tokens;
  } else {
    features.prompt_tokens = static_cast<std::int64_t>(characters / 4);
  }
  return features;
}

double ComplexityParts::score() const {
  return std::min(1.0, question + reasoning + context + code + tools + images + json + turns);
}

std::string ComplexityParts::describe() const {
  const std::pair<const char*, double> parts[] = {
      {"question", question}, {"reasoning", reasoning}, {"context", context}, {"code", code},
      {"tools", tools},       {"images", images},       {"json", json},       {"turns", turns}};
  std::string text;
  for (const auto& [name, value] : parts) {
    text.append(text.empty() ? "" : ",").append(name).append(":").append(twoDecimals(value));
  }
  return text;
}

ComplexityParts complexityPartsOf(const RequestFeatures& features) {
  ComplexityParts parts;
  parts.question = 0.25 * std::min(1.0, static_cast<double>(features.question_tokens) / 300.0);
  parts.reasoning = features.question_reasoning ? 0.30 : features.reasoning_words ? 0.10 : 0.0;
  parts.context = 0.10 * std::min(1.0, static_cast<double>(features.prompt_tokens) / 8000.0);
  parts.code = features.question_code ? 0.10 : features.has_code ? 0.03 : 0.0;
  parts.tools = features.has_tools ? 0.10 : 0.0;
  parts.images = features.has_images ? 0.10 : 0.0;
  parts.json = features.json_response ? 0.05 : 0.0;
  if (features.messages > 1) {
    parts.turns = 0.05 * std::min(1.0, static_cast<double>(features.messages - 1) / 8.0);
  }
  return parts;
}

double complexityOf(const RequestFeatures& features) { return complexityPartsOf(features).score(); }

}  // namespace costgate::filters::router
