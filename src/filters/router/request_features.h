#pragma once
// What routing looks at in a request, and the built-in complexity score. Plain data; no I/O.
//
// The score is about the question, not the context pasted around it: the last user message (the
// turn being answered) weighs much more than the prompt as a whole, so a long but easy turn of a
// coding conversation (a log pasted, "what is this error?") can still try the cheap model. The
// complexity score (0 to 1, clamped) is the sum of these parts, named as in the access log's
// `complexity_parts`:
//   question   0.25 x min(1, the last user message's prose tokens / 300)  (prose: its text
//                                                                         outside ``` fences)
//   reasoning  0.30 if the last user message has a reasoning or debugging word (kReasoningWords
//              in request_features.cpp: prove, derive, step by step, trade-off, debug, race
//              condition, root cause...); 0.10 if only an earlier user message has one
//   context    0.10 x min(1, prompt tokens / 8000)                        everything pasted
//   code       0.10 if the last user message has code (a ``` fence, or typical code lines);
//              0.03 if only an earlier message has
//   tools      0.10 if the request has tools
//   images     0.10 if a message has an image
//   json       0.05 if it asks for JSON (response_format json_object or json_schema)
//   turns      0.05 x min(1, (messages - 1) / 8)                          long conversations

#include <cstdint>
#include <string>

#include "costgate/pipeline/request_context.h"

namespace costgate::filters::router {

struct RequestFeatures {
  std::int64_t prompt_tokens = 0;  // as counted by an earlier filter, by the model's encoding,
                                   // or (no encoding) about four characters a token
  bool has_tools = false;
  bool has_images = false;
  bool has_code = false;  // in any message
  bool json_response = false;
  bool reasoning_words = false;  // in any user message
  std::size_t messages = 0;
  std::string user_text;  // every user message's text, lower-cased, for keyword rules
  // The last user message: the question being asked now.
  std::int64_t question_tokens = 0;  // its prose (outside ``` fences), about four chars a token
  bool question_reasoning = false;   // it has a reasoning or debugging word
  bool question_code = false;        // it has code
};

RequestFeatures featuresOf(const pipeline::RequestContext& ctx);

// The score's parts, each already weighted (their sum is the score before clamping).
struct ComplexityParts {
  double question = 0;
  double reasoning = 0;
  double context = 0;
  double code = 0;
  double tools = 0;
  double images = 0;
  double json = 0;
  double turns = 0;

  double score() const;          // the sum, at most 1
  std::string describe() const;  // "question:0.12,reasoning:0.30,..." (every part, 2 decimals)
};

ComplexityParts complexityPartsOf(const RequestFeatures& features);

double complexityOf(const RequestFeatures& features);

}  // namespace costgate::filters::router
