// A backend's text/event-stream body, as the gateway relays it (Gateway::relayStream): split
// into events by openai::SseParser whatever the read boundaries, each event's data read as a
// chat.completion.chunk (openai::chunkCharacters, openai::usageOf), re-serialized for the client
// (openai::serializeSse), and assembled into a whole completion for the cache
// (cache::StreamAssembler), which is replayed as a stream again (cache::replayAsStream) on a hit.
//
// Checked: the events do not depend on how the body was cut into reads; an event serialized and
// parsed again is the same event; a completion the assembler makes replays as a stream that
// assembles again.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "costgate/cache/completion_stream.h"
#include "costgate/jsonview/document.h"
#include "costgate/openai/sse.h"
#include "costgate/openai/usage.h"
#include "fuzz_support.h"

namespace {

using namespace costgate;

std::vector<openai::SseEvent> parseAll(std::string_view body, std::optional<fuzz::Pieces> pieces) {
  openai::SseParser parser;
  std::vector<openai::SseEvent> events;
  std::size_t at = 0;
  while (at < body.size()) {
    std::size_t n = pieces ? std::min(pieces->next(), body.size() - at) : body.size() - at;
    for (auto& event : parser.feed(body.substr(at, n))) events.push_back(std::move(event));
    at += n;
  }
  if (auto last = parser.finish()) events.push_back(std::move(*last));
  return events;
}

std::string describe(const std::vector<openai::SseEvent>& events) {
  std::string out;
  for (const auto& event : events) {
    out += "event[" + fuzz::excerpt(event.event) + "] data[" + fuzz::excerpt(event.data) + "]\n";
  }
  return out;
}

// What the cache would store from these events, and the stream it would replay from it.
void assemble(const std::vector<openai::SseEvent>& events) {
  cache::StreamAssembler assembler;
  for (const auto& event : events) assembler.add(event.data);
  std::optional<std::string> completion = assembler.completion();
  if (!completion) return;
  auto document = jsonview::Document::parse(*completion);
  FUZZ_CHECK(document.has_value(), "an assembled completion that is not JSON: " + *completion);
  for (bool include_usage : {false, true}) {
    std::optional<std::string> replay = cache::replayAsStream(*completion, include_usage);
    FUZZ_CHECK(replay.has_value(), "an assembled completion that does not replay: " + *completion);
    cache::StreamAssembler again;
    openai::SseParser parser;
    for (const auto& event : parser.feed(*replay)) again.add(event.data);
    FUZZ_CHECK(!parser.finish().has_value(), "a replay that ends mid-event");
    FUZZ_CHECK(again.completion().has_value(), "a replay that does not assemble: " + *replay);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<openai::SseEvent> whole = parseAll(body, std::nullopt);
  std::vector<openai::SseEvent> pieces = parseAll(body, fuzz::Pieces(body));
  FUZZ_CHECK(describe(whole) == describe(pieces),
             "whole:\n" + describe(whole) + "in pieces:\n" + describe(pieces));

  for (const auto& event : whole) {
    // Relayed as the client will see it, and read back as the client's parser would.
    std::string wire = openai::serializeSse(event);
    if (event.event.find('\r') == std::string::npos && event.data.find('\r') == std::string::npos) {
      openai::SseParser parser;
      std::vector<openai::SseEvent> back = parser.feed(wire);
      FUZZ_CHECK(!parser.finish().has_value(), "a serialized event without its blank line");
      FUZZ_CHECK(back.size() == 1 && back[0].event == event.event && back[0].data == event.data,
                 "serialized:\n" + fuzz::excerpt(wire) + "\nread back:\n" + describe(back));
    }
    if (event.data == "[DONE]") continue;
    if (auto chunk = jsonview::Document::parse(event.data)) {
      (void)openai::chunkCharacters(chunk->root());
      (void)openai::usageOf(chunk->root());
    }
  }
  assemble(whole);
  return 0;
}
