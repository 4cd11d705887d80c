#pragma once
// How a cascade judges a cheap model's answer before serving it: each signal that fires takes its
// weight off a score that starts at 1, and the answer is accepted when the score stays at or
// above the threshold. Plain JSON text in, a verdict out; no I/O.

#include <string>
#include <string_view>
#include <vector>

#include "costgate/pipeline/request_context.h"

namespace costgate::filters::router {

struct JudgeConfig {
  double threshold = 0.6;
  // Weights (0 turns a signal off). The defaults make a truncated, filtered, empty or unparsable
  // answer escalate on its own, and low confidence escalate with any other doubt.
  double finish_reason = 1.0;  // finish_reason length or content_filter
  double empty = 1.0;          // no text (and no tool call)
  double invalid_json = 1.0;   // response_format json_object/json_schema: not JSON, not an
                               // object, or missing a required key of the schema
  double refusal = 0.6;        // a refusal phrase, or the message's `refusal` field
  double uncertainty = 0.3;    // an uncertainty phrase
  double mean_logprob = 0.5;   // the tokens' mean log-probability below mean_logprob_below
  double mean_logprob_below = -0.7;
  double min_logprob = 0.2;  // some token's log-probability below min_logprob_below
  double min_logprob_below = -6.0;
  std::vector<std::string> refusal_phrases;      // lower-case; defaults in answer_judge.cpp
  std::vector<std::string> uncertainty_phrases;  // lower-case; defaults in answer_judge.cpp
};

// The default phrase lists (lower-case substrings of the answer's text).
const std::vector<std::string>& defaultRefusalPhrases();
const std::vector<std::string>& defaultUncertaintyPhrases();

// What the request asked the answer to be, read from its response_format.
struct Expected {
  bool json = false;                  // json_object or json_schema
  std::vector<std::string> required;  // json_schema: the schema's top-level required keys
};
Expected expectedOf(const jsonview::Value& request_body);

// Judges a whole chat.completion (its first choice). Logprob signals fire only when the answer
// carries logprobs.
pipeline::Judgement judgeAnswer(std::string_view completion, const Expected& expected,
                                const JudgeConfig& config);

}  // namespace costgate::filters::router
