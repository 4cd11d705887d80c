#pragma once
// Splits a text/event-stream byte stream into events, whatever the chunk boundaries.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace costgate::openai {

struct SseEvent {
  std::string event;  // the `event:` field; empty for the default "message"
  std::string data;   // the `data:` lines joined with '\n'
};

class SseParser {
 public:
  // Consumes `bytes` and returns the events they complete.
  std::vector<SseEvent> feed(std::string_view bytes);
  // At the end of the stream: the last event if it lacked its blank line.
  std::optional<SseEvent> finish();

 private:
  void takeLine(std::string_view line, std::vector<SseEvent>& out);
  std::string partial_line_;
  SseEvent current_;
  bool has_data_ = false;
};

// The wire form of an event: optional "event:" line, "data:" lines and the blank line.
std::string serializeSse(const SseEvent& event);

}  // namespace costgate::openai
