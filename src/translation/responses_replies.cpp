// Chat replies -> Responses API replies (reply_translation.h). Errors keep OpenAI's shape, which
// both APIs share.

#include <nlohmann/json.hpp>

#include "costgate/openai/sse.h"
#include "costgate/translation/reply_translation.h"
#include "costgate/translation/responses_api.h"
#include "costgate/translation/responses_stream.h"
#include "json_fields.h"

namespace costgate::translation {
namespace {

using nlohmann::json;

class ResponsesReplies : public ReplyTranslation {
 public:
  explicit ResponsesReplies(json echo) : echo_(echo), stream_(std::move(echo)) {}

  std::string whole(int status, std::string_view content_type, std::string_view body) override {
    if (content_type.starts_with("text/event-stream")) {
      std::string out = events(body);
      return out + end();
    }
    if (status != 200) return std::string(body);
    json completion = json::parse(body, nullptr, false);
    if (!completion.is_object()) return std::string(body);
    return jsonText(responseOfChatCompletion(completion, echo_));
  }

  std::string events(std::string_view sse) override {
    std::string out;
    for (const auto& event : parser_.feed(sse)) {
      if (event.data == "[DONE]") {
        out += end();
        continue;
      }
      json chunk = json::parse(event.data, nullptr, false);
      if (chunk.is_object() && chunk.contains("error")) {
        out += stream_.failed(502, event.data);
        continue;
      }
      out += stream_.onChunk(chunk);
    }
    return out;
  }

  std::string end() override { return stream_.finish(); }

 private:
  json echo_;
  ResponsesStream stream_;
  openai::SseParser parser_;
};

}  // namespace

std::unique_ptr<ReplyTranslation> responsesReplies(json echo) {
  return std::make_unique<ResponsesReplies>(std::move(echo));
}

}  // namespace costgate::translation
