#include "costgate/openai/sse.h"

namespace costgate::openai {

void SseParser::bound() {
  if (partial_line_.size() + current_.data.size() + current_.event.size() <= kMaxEventBytes) return;
  overflowed_ = true;
  partial_line_ = {};
  current_ = SseEvent{};
  has_data_ = false;
}

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> events;
  while (!bytes.empty() && !overflowed_) {
    auto newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      partial_line_.append(bytes);
      bound();
      break;
    }
    std::string_view line = bytes.substr(0, newline);
    bytes.remove_prefix(newline + 1);
    if (!partial_line_.empty()) {
      partial_line_.append(line);
      std::string whole = std::move(partial_line_);
      partial_line_.clear();
      takeLine(whole, events);
    } else {
      takeLine(line, events);
    }
  }
  return events;
}

void SseParser::takeLine(std::string_view line, std::vector<SseEvent>& out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    if (has_data_ || !current_.event.empty()) out.push_back(std::move(current_));
    current_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // a comment (often a keep-alive ping)
  auto colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  }
  bound();
}

std::optional<SseEvent> SseParser::finish() {
  if (overflowed_) return std::nullopt;
  std::vector<SseEvent> events;
  if (!partial_line_.empty()) {
    std::string last = std::move(partial_line_);
    partial_line_.clear();
    takeLine(last, events);
  }
  takeLine("", events);
  if (events.empty()) return std::nullopt;
  return std::move(events.front());
}

std::string serializeSse(const SseEvent& event) {
  std::string out;
  out.reserve(event.data.size() + event.event.size() + 16);
  if (!event.event.empty()) out.append("event: ").append(event.event).append("\n");
  std::string_view data = event.data;
  for (;;) {
    auto newline = data.find('\n');
    out.append("data: ").append(data.substr(0, newline)).append("\n");
    if (newline == std::string_view::npos) break;
    data.remove_prefix(newline + 1);
  }
  out.append("\n");
  return out;
}

}  // namespace costgate::openai
