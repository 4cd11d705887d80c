#pragma once
// The start of a cheaper model's stream, held back while a cascade judges it (cascade.cpp): the
// events read so far and what their chunks carried. Accepted, the events are relayed first and
// the rest of the stream after them (relay.cpp). Plain code over parsed events; no I/O.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "costgate/openai/sse.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/pricing/price.h"

namespace costgate::gateway {

class HeldStream {
 public:
  explicit HeldStream(std::size_t hold_tokens) : hold_tokens_(hold_tokens) {}

  // Keeps one event of the stream and reads its chunk. Returns whether it carried something
  // the judge has not seen (content, a tool call, the end).
  bool add(openai::SseEvent event);
  // The stream's bytes ended (or failed): whatever was held is all there is.
  void endOfBody() { ended_ = true; }

  // What the judge is shown; `last` once the hold is reached or the stream ended.
  pipeline::PartialAnswer partial() const;
  bool ended() const { return ended_; }
  // Whether the stream said it was done ([DONE] or a finish_reason): one whose bytes end without
  // that was cut off. And whether a chunk was an in-band error instead of an answer.
  bool complete() const { return saw_done_ || !finish_reason_.empty(); }
  bool broken() const { return error_; }
  std::size_t tokens() const;
  // The usage chunk, if it came within the hold.
  const std::optional<pricing::Usage>& usage() const { return usage_; }
  // The events held, in order (moved out: relayed once).
  std::vector<openai::SseEvent> takeEvents() { return std::move(events_); }

  // The parser the rest of the stream goes through, so an event split across reads is whole.
  openai::SseParser parser;
  // The judge asked for logprobs the client did not: every relayed chunk drops them.
  bool hide_logprobs = false;

 private:
  std::size_t hold_tokens_;
  std::vector<openai::SseEvent> events_;
  std::string text_;
  std::vector<double> logprobs_;
  std::uint64_t characters_ = 0;
  bool tool_calls_ = false;
  std::string finish_reason_;
  std::optional<pricing::Usage> usage_;
  bool ended_ = false;
  bool saw_done_ = false;
  bool error_ = false;
};

}  // namespace costgate::gateway
