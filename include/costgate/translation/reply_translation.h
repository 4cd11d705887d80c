#pragma once
// What a client that spoke another API than chat completions gets instead of the chat replies
// the gateway's filters and backends produce. One object per request, used by the writer that
// answers the client (gateway/client_writer.h); plain text in, plain text out.

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace costgate::translation {

class ReplyTranslation {
 public:
  virtual ~ReplyTranslation() = default;
  // A whole reply's body (an answer, an error, or a stream replayed whole), for its status and
  // content type; returns the body to send instead.
  virtual std::string whole(int status, std::string_view content_type, std::string_view body) = 0;
  // Whole SSE events of a chat stream -> the bytes to send now (maybe none).
  virtual std::string events(std::string_view sse) = 0;
  // The stream's end -> the bytes to send before it ends (once; later calls return "").
  virtual std::string end() = 0;
};

// For a client of Anthropic's Messages API that asked for `model`.
std::unique_ptr<ReplyTranslation> messagesReplies(std::string model);
// For a client of OpenAI's Responses API; `echo` is responseEchoOf(its request).
std::unique_ptr<ReplyTranslation> responsesReplies(nlohmann::json echo);

}  // namespace costgate::translation
