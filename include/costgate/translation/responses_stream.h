#pragma once
// A chat completions stream turned into the Responses API's stream: response.created and
// response.in_progress, then per output item (a message's text, a function call)
// output_item.added, its deltas and done events, output_item.done, and at the end
// response.completed (or response.incomplete when cut by max_output_tokens) with usage. Each
// event has its sequence_number. Fed and read as MessagesStream is.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace costgate::translation {

class ResponsesStream {
 public:
  // `echo`: responseEchoOf(request), repeated in each event that carries the response.
  explicit ResponsesStream(nlohmann::json echo) : echo_(std::move(echo)) {}

  std::string onChunk(const nlohmann::json& chunk);
  // Closes the open item and sends the final response event. Once; later calls return "".
  std::string finish();
  // The stream failed after it began: an `error` event; the stream ends with it.
  std::string failed(int status, std::string_view openai_error_body);

 private:
  void start(const nlohmann::json& chunk, std::string& out);
  void add(std::string& out, const char* type, nlohmann::json data);
  nlohmann::json response(const char* status) const;
  void openText(std::string& out);
  void openCall(const nlohmann::json& call, std::string& out);
  void closeItem(std::string& out);

  nlohmann::json echo_;
  std::string id_;
  std::int64_t created_ = 0;
  bool started_ = false;
  bool finished_ = false;
  std::int64_t sequence_ = 0;
  // The item being streamed: its kind, id, the text or arguments so far.
  enum class Item { kNone, kText, kCall } open_ = Item::kNone;
  std::string item_id_;
  std::string text_;
  nlohmann::json call_;      // the function_call item, arguments growing
  int open_tool_call_ = -1;  // chat's index of the call the open item carries
  nlohmann::json output_ = nlohmann::json::array();  // finished items
  std::string finish_reason_ = "stop";
  nlohmann::json usage_;
};

}  // namespace costgate::translation
