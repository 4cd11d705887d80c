#pragma once
// What routing looks at in a request, and the built-in complexity score. Plain data; no I/O.
//
// The complexity score (0 to 1) is the sum of these parts:
//   0.30 x min(1, prompt tokens / 3000)         long inputs
//   0.25 if the user text has a reasoning word  (kReasoningWords in request_features.cpp: prove,
//                                                derive, step by step, analyze, trade-off...)
//   0.15 if a message has code                  (a ``` fence, or lines of typical code)
//   0.10 if the request has tools
//   0.10 if a message has an image
//   0.05 if it asks for JSON (response_format json_object or json_schema)
//   0.05 x min(1, (messages - 1) / 8)          long conversations

#include <cstdint>
#include <string>

#include "costgate/pipeline/request_context.h"

namespace costgate::filters::router {

struct RequestFeatures {
  std::int64_t prompt_tokens = 0;  // as counted by an earlier filter, by the model's encoding,
                                   // or (no encoding) about four characters a token
  bool has_tools = false;
  bool has_images = false;
  bool has_code = false;
  bool json_response = false;
  bool reasoning_words = false;
  std::size_t messages = 0;
  std::string user_text;  // every user message's text, lower-cased, for keyword rules
};

RequestFeatures featuresOf(const pipeline::RequestContext& ctx);

double complexityOf(const RequestFeatures& features);

}  // namespace costgate::filters::router
