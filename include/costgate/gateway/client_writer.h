#pragma once
// The proxy's way to answer its client: the server's ResponseWriter, through the reply translation
// of the API the client spoke (none for chat completions, whose replies go out as they are). Every
// step of the proxy answers through it, so no reply can skip the translation.

#include <memory>
#include <string>
#include <string_view>

#include "costgate/server/http_server.h"
#include "costgate/translation/reply_translation.h"

namespace costgate::gateway {

class ClientWriter {
 public:
  ClientWriter(server::ResponseWriter& writer,
               std::unique_ptr<translation::ReplyTranslation> translation)
      : writer_(writer), translation_(std::move(translation)) {}

  // As ResponseWriter's, each reply translated first.
  server::Task<bool> send(server::Response response);
  server::Task<bool> beginStream(server::Response head);
  server::Task<bool> writeChunk(std::string_view data);
  server::Task<bool> endStream();

  void watchForDisconnect(std::function<void()> on_gone) {
    writer_.watchForDisconnect(std::move(on_gone));
  }
  void stopWatching() { writer_.stopWatching(); }
  bool clientGone() const { return writer_.clientGone(); }
  server::ExchangeRecord& record() { return writer_.record(); }

 private:
  // Owns the translated bytes while they are written.
  server::Task<bool> writeTranslated(std::string data);

  server::ResponseWriter& writer_;
  std::unique_ptr<translation::ReplyTranslation> translation_;  // null: chat completions
};

}  // namespace costgate::gateway
