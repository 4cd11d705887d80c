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
  // Far more than any real event (a chunk of a completion is a few hundred bytes).
  static constexpr std::size_t kMaxEventBytes = 8 * 1024 * 1024;

  // Consumes `bytes` and returns the events they complete. Once an event (or a line) grows past
  // kMaxEventBytes the parser is overflowed(): it drops what it held and takes nothing more.
  std::vector<SseEvent> feed(std::string_view bytes);
  // At the end of the stream: the last event if it lacked its blank line.
  std::optional<SseEvent> finish();
  bool overflowed() const { return overflowed_; }

 private:
  void takeLine(std::string_view line, std::vector<SseEvent>& out);
  // Checks the event being built against kMaxEventBytes.
  void bound();
  std::string partial_line_;
  SseEvent current_;
  bool has_data_ = false;
  bool overflowed_ = false;
};

// The wire form of an event: optional "event:" line, "data:" lines and the blank line.
std::string serializeSse(const SseEvent& event);

}  // namespace costgate::openai
