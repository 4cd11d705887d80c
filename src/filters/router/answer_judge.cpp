#include "filters/router/answer_judge.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include "costgate/jsonview/document.h"
#include "costgate/text/ascii_case.h"

namespace costgate::filters::router {
namespace {

bool isWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Models write "I’m" as often as "I'm": the phrases are matched with a plain apostrophe.
std::string withPlainApostrophes(std::string text) {
  constexpr std::string_view kCurly = "\xE2\x80\x99";
  for (std::size_t at = text.find(kCurly); at != std::string::npos; at = text.find(kCurly, at)) {
    text.replace(at, kCurly.size(), "'");
  }
  return text;
}

bool blank(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); });
}

// The earliest position at which any of `phrases` occurs, or npos.
std::size_t firstOf(std::string_view lower_text, const std::vector<std::string>& phrases) {
  std::size_t first = std::string_view::npos;
  for (const std::string& phrase : phrases) first = std::min(first, findPhrase(lower_text, phrase));
  return first;
}

bool validJson(std::string_view text, const Expected& expected) {
  auto document = jsonview::Document::parse(text);
  if (!document || !document->root().isObject()) return false;
  return std::all_of(
      expected.required.begin(), expected.required.end(),
      [&](const std::string& key) { return document->root().find(key).has_value(); });
}

// Whether more text could still make `text` a JSON object: only blanks so far, or a `{` first.
bool couldStartJsonObject(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  return first == std::string_view::npos || text[first] == '{';
}

// The signals fired for one answer, and the verdict they add up to.
class Signals {
 public:
  explicit Signals(const JudgeConfig& config) : config_(config) {}

  void fire(double weight, std::string_view name) {
    if (weight > 0) fired_.emplace_back(std::min(weight, 1.0), name);
  }

  // The phrase signals: a refusal (a phrase or the message's `refusal` field) and a hedge,
  // weightier when it opens the answer.
  void judgeText(std::string_view text, bool refused) {
    const std::string lower = withPlainApostrophes(text::lowerAscii(text));
    if (refused || firstOf(lower, config_.refusal_phrases) != std::string_view::npos) {
      fire(config_.refusal, "refusal");
    }
    const std::size_t opening = lower.find_first_not_of(" \t\r\n");
    const std::size_t hedge = firstOf(lower, config_.uncertainty_phrases);
    if (hedge != std::string_view::npos) {
      const bool opens = hedge - std::min(hedge, opening) < kOpeningChars;
      fire(config_.uncertainty * (opens ? kOpeningHedgeFactor : 1.0), "uncertainty");
    }
  }

  // The logprob signals; `mean_below` is where the mean fires (the config's, or an early
  // judgement's stricter line), and the lowest token counts only when `with_min`.
  void judgeLogprobs(const std::vector<double>& values, double mean_below, bool with_min) {
    if (values.empty()) return;
    double sum = 0;
    double lowest = std::numeric_limits<double>::infinity();
    for (double value : values) {
      sum += value;
      lowest = std::min(lowest, value);
    }
    if (sum / static_cast<double>(values.size()) < mean_below) {
      fire(config_.mean_logprob, "mean_logprob");
    }
    if (with_min && lowest < config_.min_logprob_below) fire(config_.min_logprob, "min_logprob");
  }

  double score() const {
    double score = 1;
    for (const auto& [weight, name] : fired_) score -= weight;
    return std::max(score, 0.0);
  }

  pipeline::Judgement verdict() const {
    const double total = score();
    return {total >= config_.threshold, total, reason(), total - config_.threshold};
  }

 private:
  // The fired signals, weightiest first, as "a,b".
  std::string reason() const {
    auto fired = fired_;
    std::stable_sort(fired.begin(), fired.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::string reason;
    for (const auto& [weight, name] : fired) reason.append(reason.empty() ? "" : ",").append(name);
    return reason;
  }

  const JudgeConfig& config_;
  std::vector<std::pair<double, std::string_view>> fired_;
};

std::vector<double> logprobsOf(const jsonview::Value& choice) {
  std::vector<double> values;
  auto logprobs = choice.find("logprobs");
  auto tokens = logprobs && logprobs->isObject() ? logprobs->find("content") : std::nullopt;
  if (!tokens || !tokens->isArray()) return values;
  for (const jsonview::Value& token : tokens->elements()) {
    auto value = token.isObject() ? token.find("logprob") : std::nullopt;
    if (value && value->isNumber()) values.push_back(value->number());
  }
  return values;
}

}  // namespace

const std::vector<std::string>& defaultRefusalPhrases() {
  static const std::vector<std::string> phrases = {
      "i'm sorry, but i can't", "i am sorry, but i can't", "i'm sorry, but i cannot",
      "i can't help with",      "i cannot help with",      "i can't assist with",
      "i cannot assist with",   "i'm unable to",           "i am unable to",
      "i'm not able to",        "i am not able to",        "as an ai language model",
      "i can't provide",        "i cannot provide",        "i won't be able to"};
  return phrases;
}

const std::vector<std::string>& defaultUncertaintyPhrases() {
  static const std::vector<std::string> phrases = {"i'm not sure",
                                                   "i am not sure",
                                                   "not entirely sure",
                                                   "i'm not certain",
                                                   "i am not certain",
                                                   "i'm not 100% sure",
                                                   "i don't know",
                                                   "i do not know",
                                                   "i'm not confident",
                                                   "it's unclear",
                                                   "it is unclear",
                                                   "i might be wrong",
                                                   "i may be wrong",
                                                   "i believe",
                                                   "i think",
                                                   "if i recall",
                                                   "if i remember",
                                                   "it might be",
                                                   "possibly",
                                                   "perhaps",
                                                   "maybe",
                                                   "probably",
                                                   "i suspect",
                                                   "i assume",
                                                   "it's possible that",
                                                   "it is possible that",
                                                   "i'm guessing",
                                                   "i would guess",
                                                   "my best guess",
                                                   "it seems",
                                                   "may not be accurate",
                                                   "might not be accurate",
                                                   "i can't be certain",
                                                   "i cannot be certain"};
  return phrases;
}

std::size_t findPhrase(std::string_view lower_text, std::string_view phrase) {
  if (phrase.empty()) return std::string_view::npos;
  for (std::size_t at = lower_text.find(phrase); at != std::string_view::npos;
       at = lower_text.find(phrase, at + 1)) {
    const std::size_t end = at + phrase.size();
    const bool starts_word = at == 0 || !isWordChar(lower_text[at - 1]) || !isWordChar(phrase[0]);
    const bool ends_word =
        end == lower_text.size() || !isWordChar(lower_text[end]) || !isWordChar(phrase.back());
    if (starts_word && ends_word) return at;
  }
  return std::string_view::npos;
}

namespace {
bool outputLimited(const pipeline::RequestContext& ctx) {
  for (std::string_view key : {"max_tokens", "max_completion_tokens"}) {
    if (const std::string* edited = ctx.editedMember(key)) {
      if (*edited != "null") return true;
      continue;
    }
    auto member = ctx.request_index->find(key);
    if (member && member->isNumber()) return true;
  }
  return false;
}
}  // namespace

Expected expectedOf(const pipeline::RequestContext& ctx) {
  Expected expected;
  expected.output_limited = outputLimited(ctx);
  const jsonview::Value& request_body = *ctx.request_index;
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

namespace {
double lengthWeight(const Expected& expected, const JudgeConfig& config) {
  return expected.output_limited ? config.length_at_limit : config.finish_reason;
}
}  // namespace

pipeline::Judgement judgeAnswer(std::string_view completion, const Expected& expected,
                                const JudgeConfig& config) {
  auto document = jsonview::Document::parse(completion);
  auto choices =
      document && document->root().isObject() ? document->root().find("choices") : std::nullopt;
  if (!choices || !choices->isArray() || choices->size() == 0 ||
      !choices->elements()[0].isObject()) {
    return {false, 0, "unreadable", -config.threshold};
  }
  Signals signals(config);
  const jsonview::Value choice = choices->elements()[0];
  if (auto finish = choice.find("finish_reason"); finish && finish->isString()) {
    if (finish->stringEquals("content_filter")) signals.fire(config.finish_reason, "finish_reason");
    if (finish->stringEquals("length"))
      signals.fire(lengthWeight(expected, config), "finish_reason");
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
  if (blank(text) && !calls_tools && !refused) signals.fire(config.empty, "empty");
  signals.judgeText(text, refused);
  if (expected.json && !calls_tools && !validJson(text, expected)) {
    signals.fire(config.invalid_json, "invalid_json");
  }
  signals.judgeLogprobs(logprobsOf(choice), config.mean_logprob_below, true);
  return signals.verdict();
}

std::optional<pipeline::Judgement> judgePartial(const pipeline::PartialAnswer& partial,
                                                const Expected& expected,
                                                const JudgeConfig& config) {
  Signals signals(config);
  const bool ended = !partial.finish_reason.empty();
  if (partial.finish_reason == "content_filter")
    signals.fire(config.finish_reason, "finish_reason");
  if (partial.last && partial.finish_reason == "length") {
    signals.fire(lengthWeight(expected, config), "finish_reason");
  }
  signals.judgeText(partial.text, false);
  if (expected.json && !partial.has_tool_calls) {
    const bool invalid = !couldStartJsonObject(partial.text) ||
                         (partial.last && ended && !validJson(partial.text, expected));
    if (invalid) signals.fire(config.invalid_json, "invalid_json");
  }
  const std::vector<double> no_logprobs;
  const std::vector<double>& logprobs = partial.logprobs ? *partial.logprobs : no_logprobs;
  if (partial.last) {
    if (ended && blank(partial.text) && !partial.has_tool_calls) {
      signals.fire(config.empty, "empty");
    }
    signals.judgeLogprobs(logprobs, config.mean_logprob_below, true);
    return signals.verdict();
  }
  if (logprobs.size() >= kEarlyLogprobTokens) {
    signals.judgeLogprobs(logprobs, 2 * config.mean_logprob_below, false);
  }
  if (signals.score() < config.threshold) return signals.verdict();
  return std::nullopt;
}

}  // namespace costgate::filters::router
