// Chat replies -> Messages API replies (reply_translation.h).

#include <nlohmann/json.hpp>

#include "costgate/openai/sse.h"
#include "costgate/translation/messages_api.h"
#include "costgate/translation/messages_stream.h"
#include "costgate/translation/reply_translation.h"
#include "json_fields.h"

namespace costgate::translation {
namespace {

using nlohmann::json;

class MessagesReplies : public ReplyTranslation {
 public:
  explicit MessagesReplies(std::string model) : model_(model), stream_(std::move(model)) {}

  std::string whole(int status, std::string_view content_type, std::string_view body) override {
    if (content_type.starts_with("text/event-stream")) {
      std::string out = events(body);
      return out + end();
    }
    if (status != 200) return messagesErrorBody(status, body);
    json completion = json::parse(body, nullptr, false);
    if (!completion.is_object()) return messagesErrorBody(502, body);
    return jsonText(messageOfChatCompletion(completion, model_));
  }

  std::string events(std::string_view sse) override {
    std::string out;
    for (const auto& event : parser_.feed(sse)) {
      if (failed_) break;
      if (event.data == "[DONE]") {
        out += end();
        continue;
      }
      json chunk = json::parse(event.data, nullptr, false);
      if (chunk.is_object() && chunk.contains("error")) {
        // The gateway's in-band error after a broken stream: Messages' own error event ends it.
        out += MessagesStream::errorEvent(502, event.data);
        failed_ = true;
        continue;
      }
      out += stream_.onChunk(chunk);
    }
    return out;
  }

  std::string end() override { return failed_ ? std::string() : stream_.finish(); }

 private:
  std::string model_;
  MessagesStream stream_;
  openai::SseParser parser_;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<ReplyTranslation> messagesReplies(std::string model) {
  return std::make_unique<MessagesReplies>(std::move(model));
}

}  // namespace costgate::translation
