#pragma once
// How a cascade judges a cheaper model's answer before serving it: each signal that fires takes
// its weight off a score that starts at 1, and the answer is accepted when the score stays at or
// above the threshold. Whole answers (judgeAnswer) and the held start of a stream (judgePartial)
// are judged by the same signals. Plain text in, a verdict out; no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "costgate/pipeline/request_context.h"

namespace costgate::filters::router {

// The built-in phrase lists (lower-case, matched at word boundaries; docs/routing.md lists them).
const std::vector<std::string>& defaultRefusalPhrases();
const std::vector<std::string>& defaultUncertaintyPhrases();

struct JudgeConfig {
  double threshold = 0.6;
  // Weights (0 turns a signal off). The defaults make a truncated, filtered, empty or unparsable
  // answer, a refusal, a hedge or low confidence escalate on its own; a single unlikely token
  // only with another doubt.
  double finish_reason = 1.0;  // finish_reason content_filter, or length with no output limit
  // finish_reason length where the request set an output limit (max_tokens, a cap): the next
  // model stops at the same limit, so escalating buys the same cut answer at a higher price; but
  // it also escalates long answers that are wrong with no other signal. On by default (see
  // docs/routing.md for what turning it off measured).
  double length_at_limit = 1.0;
  double empty = 1.0;         // no text (and no tool call)
  double invalid_json = 1.0;  // response_format json_object/json_schema: not JSON, not an
                              // object, or missing a required key of the schema
  double refusal = 0.6;       // a refusal phrase, or the message's `refusal` field
  double uncertainty = 0.5;   // a hedge; x kOpeningHedgeFactor when it opens the answer
  double mean_logprob = 0.5;  // the tokens' mean log-probability below mean_logprob_below
  double mean_logprob_below = -0.7;
  double min_logprob = 0.2;  // some token's log-probability below min_logprob_below
  double min_logprob_below = -6.0;
  // The phrases in force (lower-case): the built-ins, extended or replaced by the configuration.
  std::vector<std::string> refusal_phrases = defaultRefusalPhrases();
  std::vector<std::string> uncertainty_phrases = defaultUncertaintyPhrases();
};

// A hedge in the answer's first kOpeningChars characters says the whole answer is a guess: its
// weight is multiplied by this (at most 1).
inline constexpr double kOpeningHedgeFactor = 1.5;
inline constexpr std::size_t kOpeningChars = 40;

// What the request asked the answer to be, read from its response_format.
struct Expected {
  bool json = false;                  // json_object or json_schema
  std::vector<std::string> required;  // json_schema: the schema's top-level required keys
  bool output_limited = false;        // max_tokens or max_completion_tokens in force
};
// `ctx`'s request as the backend gets it: its body with the filters' member edits (a cap).
Expected expectedOf(const pipeline::RequestContext& ctx);

// Whether `phrase` occurs in `lower_text` with no letter or digit right before or after it.
// Returns the position of the first such occurrence, or npos.
std::size_t findPhrase(std::string_view lower_text, std::string_view phrase);

// Judges a whole chat.completion (its first choice). Logprob signals fire only when the answer
// carries logprobs. The verdict's reason lists the fired signals, weightiest first.
pipeline::Judgement judgeAnswer(std::string_view completion, const Expected& expected,
                                const JudgeConfig& config);

// Judges the held start of a stream, after each event (pipeline::Cascade::judge_partial).
// Before the hold is over it returns nullopt unless the signals fired so far already put the
// score under the threshold, and only signals more text cannot undo count then: a refusal or a
// hedge phrase, a content_filter end, text that cannot start the JSON asked for, and a mean
// logprob over at least kEarlyLogprobTokens tokens below twice mean_logprob_below. When
// `partial.last` it always decides, with judgeAnswer's signals (finish_reason and emptiness only
// when the stream ended within the hold; JSON fully checked only then).
std::optional<pipeline::Judgement> judgePartial(const pipeline::PartialAnswer& partial,
                                                const Expected& expected,
                                                const JudgeConfig& config);
inline constexpr std::size_t kEarlyLogprobTokens = 8;

}  // namespace costgate::filters::router
