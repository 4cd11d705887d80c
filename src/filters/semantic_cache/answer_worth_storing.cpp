#include "filters/semantic_cache/answer_worth_storing.h"

#include <string>

#include "costgate/jsonview/document.h"
#include "filters/semantic_cache/semantic_cache_filter.h"

namespace costgate::filters::semantic_cache {
namespace {

// The judge's reason lists the signals that fired, weightiest first; each name is a literal of
// answer_judge.cpp, returned as this static view.
std::string_view firstSignal(const std::string& reason) {
  static constexpr std::string_view kSignals[] = {"finish_reason", "empty",       "invalid_json",
                                                  "refusal",       "uncertainty", "mean_logprob",
                                                  "min_logprob",   "unreadable"};
  std::string_view first = std::string_view(reason).substr(0, reason.find(','));
  for (std::string_view signal : kSignals) {
    if (signal == first) return signal;
  }
  return "judge";
}

}  // namespace

std::optional<std::string_view> whyNotStored(std::string_view completion,
                                             const router::Expected& expected,
                                             const CachePolicy& policy) {
  auto document = jsonview::Document::parse(completion);
  auto choices =
      document && document->root().isObject() ? document->root().find("choices") : std::nullopt;
  if (!choices || !choices->isArray() || choices->size() != 1 ||
      !choices->elements()[0].isObject()) {
    return "unreadable";
  }
  const jsonview::Value choice = choices->elements()[0];
  auto finish = choice.find("finish_reason");
  if (!finish || !finish->isString()) return "unfinished";
  bool calls_tools = finish->stringEquals("tool_calls") || finish->stringEquals("function_call");
  if (auto message = choice.find("message"); message && message->isObject()) {
    auto calls = message->find("tool_calls");
    calls_tools = calls_tools || (calls && calls->isArray() && calls->size() > 0);
  }
  if (finish->stringEquals("length")) {
    if (!policy.cache_truncated) return "truncated";
  } else if (calls_tools) {
    if (!policy.cache_tool_calls) return "tool_calls";
  } else if (!finish->stringEquals("stop")) {
    return "unfinished";
  }
  // What the cascade's judge would escalate is no answer to replay. A cut answer the policy
  // keeps is judged on the rest.
  router::JudgeConfig judge;
  judge.finish_reason = 0;
  judge.length_at_limit = 0;
  pipeline::Judgement verdict = router::judgeAnswer(completion, expected, judge);
  if (!verdict.accept) return firstSignal(verdict.reason);
  return std::nullopt;
}

}  // namespace costgate::filters::semantic_cache
