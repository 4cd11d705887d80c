#pragma once
// Chat answers converted for the cache, which stores every answer whole: a stream's chunks are
// assembled into the chat.completion a whole request would have got, and a stored completion is
// replayed as the chunks of a real stream for a streaming client.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace costgate::cache {

class StreamAssembler {
 public:
  // One event's data: a chat.completion.chunk's JSON, or "[DONE]". Chunks that do not parse make
  // the stream unusable (completion() is then nullopt).
  void add(std::string_view data);
  // Whether the stream ended with [DONE] (a stream cut short is never stored).
  bool done() const { return done_; }
  // The assembled chat.completion; nullopt unless done() and every chunk made sense with one
  // choice (the cache stores only n = 1 answers).
  std::optional<std::string> completion() const;

 private:
  nlohmann::json first_;  // the first chunk: id, created, model, system_fingerprint...
  std::string role_ = "assistant";
  std::string content_;
  std::string refusal_;
  bool has_content_ = false;
  bool has_refusal_ = false;
  nlohmann::json tool_calls_ = nlohmann::json::array();
  nlohmann::json finish_reason_;
  nlohmann::json usage_;
  bool done_ = false;
  bool broken_ = false;
};

// `completion` (a chat.completion JSON) as the server-sent events of a stream: a role chunk, the
// content in chunks of a few words, the finish chunk, a usage chunk when `include_usage`, then
// [DONE]. nullopt when `completion` is not a chat.completion with one choice.
std::optional<std::string> replayAsStream(std::string_view completion, bool include_usage);

}  // namespace costgate::cache
