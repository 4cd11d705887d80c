#pragma once
// What a call is charged, from the usage its backend reports or, without one, the gateway's own
// count; and what a request is charged in the end (its call and every side call). Plain code over
// the record.

#include <cstdint>
#include <optional>
#include <string_view>

#include "costgate/jsonview/document.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/pricing/price.h"
#include "costgate/server/exchange_record.h"
#include "costgate/tokenizer/encoding.h"

namespace costgate::gateway {

// What a call is charged from: the usage its backend reports (for a stream, the final usage
// chunk, which the gateway asks for and hides from a client that did not); without one (or with
// one that cannot be trusted), its own count of the prompt sent and of the text answered.
struct CallAccounting {
  bool client_asked_for_usage = false;    // streams: the client asked for the usage chunk
  const pricing::Price* price = nullptr;  // null: not priced
  // The prompt's tokens as a filter counted them.
  std::optional<pipeline::TokenCount> prompt_tokens;
  // Otherwise the body sent, counted only if the backend reports no usage (rarely), with the
  // model's encoding if it has one: tokenizing every prompt up front would be work for nothing.
  const tokenizer::Encoding* encoding = nullptr;
  pipeline::Route route = pipeline::Route::kChatCompletions;
  std::string_view sent_body;  // the forwarded body, kept alive by the request

  // The prompt's tokens by the gateway's own count.
  std::uint64_t promptTokens() const;
};

// The members of a whole answer that pricing reads when its backend reports the usage: what the
// answer's index needs (jsonview::Document::parseMembers), the rest of it being checked only.
inline constexpr std::string_view kPricedMembers[] = {"usage"};

// What a whole 200 answer used: the usage `answer` (the index of `text`) reports, or else the
// gateway's own count; `source` is set to "backend" or "estimated".
pricing::Usage usageOrEstimate(std::string_view text, const jsonview::Value& answer,
                               const CallAccounting& accounting, std::string_view& source);

// What a whole 200 answer used, into `record`, and for a priced model its cost: the usage
// `answer` (the index of `text`, of kPricedMembers at least) reports, or else the gateway's own
// count (usage_source "estimated"), which indexes `text` whole.
void priceWholeAnswer(std::string_view text, const jsonview::Value& answer,
                      const CallAccounting& accounting, server::ExchangeRecord& record);

// What a stream is charged: the usage the backend reported, or else the gateway's count of the
// prompt and of the text relayed. Settled once, on whichever way the stream ends (a client that
// left mid-stream included).
class StreamCharge {
 public:
  StreamCharge(const CallAccounting& accounting, server::ExchangeRecord& record)
      : accounting_(accounting), record_(record) {}
  ~StreamCharge() { settle(); }
  StreamCharge(const StreamCharge&) = delete;
  StreamCharge& operator=(const StreamCharge&) = delete;

  void reported(const pricing::Usage& usage) { reported_ = usage; }
  void relayed(std::uint64_t characters) { completion_characters_ += characters; }
  void settle();

 private:
  const CallAccounting& accounting_;
  server::ExchangeRecord& record_;
  std::optional<pricing::Usage> reported_;
  std::uint64_t completion_characters_ = 0;
  bool settled_ = false;
};

// A filter's reply that stood in for a backend call (ctx.spared), into `record`: billed at
// nothing for the model asked (when it has a price), its saving recorded.
void recordSpared(const pipeline::RequestContext& ctx, server::ExchangeRecord& record);

// What the request was charged in the end: its call (a spared one costs nothing and used no
// tokens) and every side call.
pipeline::Charge chargeOf(const server::ExchangeRecord& record);

}  // namespace costgate::gateway
