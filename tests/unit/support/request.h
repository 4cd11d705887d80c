#pragma once
// A request as Gateway::proxy() hands it to the filter chain: the body's index, the client's model,
// the route, the tags and the model's encoding.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "costgate/jsonview/document.h"
#include "costgate/jsonview/splice.h"
#include "costgate/openai/prompt_tokens.h"
#include "costgate/pipeline/request_context.h"
#include "encodings.h"

namespace costgate::test_data {

// The context views the body, so a Request is never copied or moved.
class Request {
 public:
  explicit Request(std::string body, pipeline::Route route = pipeline::Route::kChatCompletions,
                   const tokenizer::Encoding* encoding = &o200k(), pipeline::Tags tags = {})
      : text_(std::move(body)), document_(jsonview::Document::parse(text_)) {
    EXPECT_TRUE(document_.has_value()) << text_;
    ctx.route = route;
    ctx.request_index = document_->root();
    ctx.encoding = encoding;
    ctx.tags = std::move(tags);
    if (auto model = document_->root().find("model"); model && model->isString()) {
      ctx.model = model->string();
    }
  }
  explicit Request(const nlohmann::json& body,
                   pipeline::Route route = pipeline::Route::kChatCompletions,
                   const tokenizer::Encoding* encoding = &o200k(), pipeline::Tags tags = {})
      : Request(body.dump(), route, encoding, std::move(tags)) {}
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // What the gateway forwards: the body as the filters left it, member edits spliced in.
  nlohmann::json forwarded() const {
    return nlohmann::json::parse(jsonview::withMembers(*ctx.request_index, ctx.member_edits));
  }
  // The prompt tokens (o200k_base) of the body the index views now.
  std::int64_t countedNow() const {
    return openai::countPrompt(ctx.route, *ctx.request_index, o200k()).tokens;
  }
  // The body as the client sent it.
  const std::string& sent() const { return text_; }
  // After a filter's Wait, what the gateway does once the wait is over: its continuation.
  pipeline::FilterStatus resume() {
    EXPECT_TRUE(ctx.awaited.has_value()) << "the filter did not wait";
    if (!ctx.awaited) return pipeline::FilterStatus::kContinue;
    const pipeline::Awaited awaited = std::move(*ctx.awaited);
    ctx.awaited.reset();
    return awaited.resume(ctx);
  }

  pipeline::RequestContext ctx;

 private:
  std::string text_;
  std::optional<jsonview::Document> document_;
};

}  // namespace costgate::test_data
