#pragma once
// What token_cap tells about each request it judged by its input: its metric (declared here,
// counted by no one else) and its access-log fields.

#include <cstdint>
#include <string_view>

#include "costgate/metrics/metrics.h"
#include "costgate/pipeline/request_context.h"

namespace costgate::filters::token_cap {

// What became of a request's input under a policy's max_input_tokens.
enum class InputResult {
  kWithin,    // arrived within the cap
  kPruned,    // over it, pruned to fit
  kOver,      // over it even after pruning, sent on
  kRejected,  // over it, refused with 400
};

struct InputJudgement {
  InputResult result = InputResult::kWithin;
  std::int64_t tokens = 0;  // the input as sent on (or refused)
};

class TokenCapStats {
 public:
  explicit TokenCapStats(metrics::Metrics& metrics);

  // Counts the request (costgate_token_cap_inputs_total{feature,result}) and writes the log
  // fields "input_cap" (the result) and, for an input sent on over its cap, "input_cap_tokens".
  // From the filter's onComplete.
  void record(pipeline::RequestContext& ctx, const InputJudgement& judgement) const;

 private:
  metrics::Metrics& metrics_;
  metrics::CounterFamily& inputs_;
};

std::string_view toString(InputResult result);

}  // namespace costgate::filters::token_cap
