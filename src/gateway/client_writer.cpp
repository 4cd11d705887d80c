#include "costgate/gateway/client_writer.h"

namespace costgate::gateway {
namespace {

// The value of the Content-Type line among a response's header lines.
std::string_view contentTypeOf(std::string_view fields) {
  constexpr std::string_view kName = "content-type:";
  for (std::size_t at = 0; at < fields.size();) {
    std::size_t end = fields.find("\r\n", at);
    if (end == std::string_view::npos) end = fields.size();
    std::string_view line = fields.substr(at, end - at);
    if (line.size() > kName.size() && std::equal(kName.begin(), kName.end(), line.begin(),
                                                 [](char a, char b) { return a == (b | 0x20); })) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return value;
    }
    at = end + 2;
  }
  return {};
}

}  // namespace

server::Task<bool> ClientWriter::send(server::Response response) {
  if (translation_) {
    response.body =
        translation_->whole(response.status, contentTypeOf(response.fields), response.body);
  }
  return writer_.send(std::move(response));
}

server::Task<bool> ClientWriter::beginStream(server::Response head) {
  return writer_.beginStream(std::move(head));
}

server::Task<bool> ClientWriter::writeChunk(std::string_view data) {
  if (!translation_) return writer_.writeChunk(data);
  return writeTranslated(translation_->events(data));
}

server::Task<bool> ClientWriter::writeTranslated(std::string data) {
  const bool written = co_await writer_.writeChunk(data);
  co_return written;
}

server::Task<bool> ClientWriter::endStream() {
  if (translation_) {
    if (std::string last = translation_->end(); !last.empty()) {
      if (!co_await writer_.writeChunk(last)) co_return false;
    }
  }
  const bool ended = co_await writer_.endStream();
  co_return ended;
}

}  // namespace costgate::gateway
