#pragma once
// A chat completions stream turned into the Messages API's stream, event by event:
// message_start, then per content block content_block_start / _delta / _stop, then message_delta
// (stop_reason and usage) and message_stop. Fed the parsed `data:` of each chat chunk as the
// backend sends them; each call returns the SSE text to send the client now (maybe empty).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace costgate::translation {

class MessagesStream {
 public:
  // `model`: the model the client asked for, echoed in message_start.
  explicit MessagesStream(std::string model) : model_(std::move(model)) {}

  // One chat.completion.chunk.
  std::string onChunk(const nlohmann::json& chunk);
  // The chat stream's end ([DONE], or the backend closed after its last chunk): closes the open
  // block and sends message_delta and message_stop. Called once; later calls return "".
  std::string finish();
  // The stream failed after it began: an `error` event in Anthropic's shape.
  static std::string errorEvent(int status, std::string_view openai_error_body);

 private:
  enum class Block { kNone, kText, kToolUse };
  void start(const nlohmann::json& chunk, std::string& out);
  void openBlock(Block kind, nlohmann::json content_block, std::string& out);
  void closeBlock(std::string& out);
  void onToolCallDelta(const nlohmann::json& call, std::string& out);

  std::string model_;
  bool started_ = false;
  bool finished_ = false;
  Block open_ = Block::kNone;
  int index_ = -1;           // the open (or last) content block's index
  int open_tool_call_ = -1;  // chat's index of the tool call the open block carries
  std::string stop_reason_ = "end_turn";
  nlohmann::json usage_;  // chat's usage, from the last chunk that carried one
};

}  // namespace costgate::translation
