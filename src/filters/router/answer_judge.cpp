#include "filters/router/answer_judge.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include "costgate/jsonview/document.h"
#include "costgate/text/ascii_case.h"

namespace costgate::filters::router {
namespace {

bool containsAny(const std::string& lower_text, const std::vector<std::string>& phrases) {
  return std::any_of(phrases.begin(), phrases.end(), [&](const std::string& phrase) {
    return lower_text.find(phrase) != std::string::npos;
  });
}

// The fired signals, weightiest first, as "a,b".
std::string reasonOf(std::vector<std::pair<double, std::string_view>> fired) {
  std::stable_sort(fired.begin(), fired.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string reason;
  for (const auto& [weight, name] : fired) reason.append(reason.empty() ? "" : ",").append(name);
  return reason;
}

bool validJson(std::string_view text, const Expected& expected) {
  auto document = jsonview::Document::parse(text);
  if (!document || !document->root().isObject()) return false;
  return std::all_of(
      expected.required.begin(), expected.required.end(),
      [&](const std::string& key) { return document->root().find(key).has_value(); });
}

}  // namespace

const std::vector<std::string>& defaultRefusalPhrases() {
  static const std::vector<std::string> phrases = {
      "i'm sorry, but i can't", "i am sorry, but i can't", "i'm sorry, but i cannot",
      "i can't help with",      "i cannot help with",      "i can't assist with",
      "i cannot assist with",   "i'm unable to",           "i am unable to",
      "i'm not able to",        "i am not able to",        "as an ai language model"};
  return phrases;
}

const std::vector<std::string>& defaultUncertaintyPhrases() {
  static const std::vector<std::string> phrases = {
      "i'm not sure",  "i am not sure",    "i'm not certain",   "i am not certain",
      "i don't know",  "i do not know",    "i'm not confident", "it's unclear",
      "it is unclear", "i might be wrong", "i may be wrong",    "i think, but"};
  return phrases;
}

Expected expectedOf(const jsonview::Value& request_body) {
  Expected expected;
  auto format = request_body.find("response_format");
  if (!format || !format->isObject()) return expected;
  auto type = format->find("type");
  if (!type || !type->isString()) return expected;
  if (type->stringEquals("json_object")) {
    expected.json = true;
  } else if (type->stringEquals("json_schema")) {
    expected.json = true;
    auto schema = format->find("json_schema");
    auto body = schema && schema->isObject() ? schema->find("schema") : std::nullopt;
    auto required = body && body->isObject() ? body->find("required") : std::nullopt;
    if (required && required->isArray()) {
      for (const jsonview::Value& key : required->elements()) {
        if (key.isString()) expected.required.push_back(key.string());
      }
    }
  }
  return expected;
}

pipeline::Judgement judgeAnswer(std::string_view completion, const Expected& expected,
                                const JudgeConfig& config) {
  std::vector<std::pair<double, std::string_view>> fired;
  auto fire = [&](double weight, std::string_view name) {
    if (weight > 0) fired.emplace_back(weight, name);
  };
  auto document = jsonview::Document::parse(completion);
  auto choices =
      document && document->root().isObject() ? document->root().find("choices") : std::nullopt;
  if (!choices || !choices->isArray() || choices->size() == 0 ||
      !choices->elements()[0].isObject()) {
    return {false, 0, "unreadable"};
  }
  const jsonview::Value choice = choices->elements()[0];
  if (auto finish = choice.find("finish_reason"); finish && finish->isString()) {
    if (finish->stringEquals("length") || finish->stringEquals("content_filter")) {
      fire(config.finish_reason, "finish_reason");
    }
  }
  std::string text;
  bool calls_tools = false;
  bool refused = false;
  if (auto message = choice.find("message"); message && message->isObject()) {
    if (auto content = message->find("content"); content && content->isString()) {
      text = content->string();
    }
    auto calls = message->find("tool_calls");
    calls_tools = calls && calls->isArray() && calls->size() > 0;
    auto refusal = message->find("refusal");
    refused = refusal && refusal->isString() && !refusal->string().empty();
  }
  const bool blank =
      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); });
  if (blank && !calls_tools && !refused) fire(config.empty, "empty");
  const std::string lower = text::lowerAscii(text);
  if (refused || containsAny(lower, config.refusal_phrases.empty() ? defaultRefusalPhrases()
                                                                   : config.refusal_phrases)) {
    fire(config.refusal, "refusal");
  }
  if (containsAny(lower, config.uncertainty_phrases.empty() ? defaultUncertaintyPhrases()
                                                            : config.uncertainty_phrases)) {
    fire(config.uncertainty, "uncertainty");
  }
  if (expected.json && !calls_tools && !validJson(text, expected)) {
    fire(config.invalid_json, "invalid_json");
  }
  auto logprobs = choice.find("logprobs");
  auto tokens = logprobs && logprobs->isObject() ? logprobs->find("content") : std::nullopt;
  if (tokens && tokens->isArray() && tokens->size() > 0) {
    double sum = 0;
    double lowest = std::numeric_limits<double>::infinity();
    std::size_t count = 0;
    for (const jsonview::Value& token : tokens->elements()) {
      auto value = token.isObject() ? token.find("logprob") : std::nullopt;
      if (!value || !value->isNumber()) continue;
      sum += value->number();
      lowest = std::min(lowest, value->number());
      ++count;
    }
    if (count > 0 && sum / static_cast<double>(count) < config.mean_logprob_below) {
      fire(config.mean_logprob, "mean_logprob");
    }
    if (count > 0 && lowest < config.min_logprob_below) fire(config.min_logprob, "min_logprob");
  }
  double score = 1;
  for (const auto& [weight, name] : fired) score -= weight;
  score = std::max(score, 0.0);
  return {score >= config.threshold, score, reasonOf(std::move(fired))};
}

}  // namespace costgate::filters::router
