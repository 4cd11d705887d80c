// The bytes a client sends on one connection, parsed as the server's session loop parses them
// (src/server/http_server.cpp runSession): request heads (http1::parseRequestHead), the body's
// framing (http1::requestFraming) and its decoding (http1::BodyDecoder) out of an
// http1::InputBuffer, request after request while the connection may be kept alive.
//
// The stream is parsed twice: in reads as large as the buffer takes, and cut into small pieces at
// places that depend on the input. Both must give the same requests and the same refusal: a
// message read two ways depending on how TCP split it is how request smuggling starts. Each
// parsed head is also checked for what the rest of the gateway assumes of it.

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "costgate/http1/body.h"
#include "costgate/http1/head.h"
#include "costgate/http1/input_buffer.h"
#include "fuzz_support.h"

namespace {

using namespace costgate;

// The server's defaults (config::ServerConfig, http_server.cpp).
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxBodyBytes = 4 * 1024 * 1024;
constexpr std::size_t kReadBufferBytes = 8 * 1024;
constexpr std::size_t kMinReadBytes = 4 * 1024;

bool isTokenChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// What the rest of the gateway relies on in a parsed request head.
void checkHead(const http1::Head& head) {
  FUZZ_CHECK(!head.method().empty(), "empty method");
  for (char c : head.method()) FUZZ_CHECK(isTokenChar(c), "method " + std::string(head.method()));
  FUZZ_CHECK(!head.target().empty(), "empty target");
  for (char c : head.target()) {
    FUZZ_CHECK(static_cast<unsigned char>(c) > ' ' && c != 0x7f,
               "target " + fuzz::excerpt(head.target()));
  }
  FUZZ_CHECK(head.versionMinor() == 0 || head.versionMinor() == 1, "version");
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    http1::Field field = head.field(i);
    FUZZ_CHECK(!field.name.empty(), "empty field name");
    for (char c : field.name) {
      FUZZ_CHECK(isTokenChar(c) && !(c >= 'A' && c <= 'Z'),
                 "field name " + std::string(field.name));
    }
    // A value is relayed into other messages' heads: no line breaks, no NUL, no edge whitespace.
    for (char c : field.value) {
      FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0', "field value " + fuzz::excerpt(field.value));
    }
    if (!field.value.empty()) {
      FUZZ_CHECK(field.value.front() != ' ' && field.value.front() != '\t' &&
                     field.value.back() != ' ' && field.value.back() != '\t',
                 "untrimmed value");
    }
    FUZZ_CHECK(head.has(field.name), "has() misses " + std::string(field.name));
  }
}

// Everything the server would do with the stream, as text: the requests it would hand to the
// gateway and how the connection ends.
std::string serve(std::string_view stream, std::optional<fuzz::Pieces> pieces) {
  http1::InputBuffer in(kReadBufferBytes);
  std::size_t offset = 0;
  // One read: what is left of the stream, at most the free space (and at most one piece).
  auto readMore = [&]() -> std::size_t {
    char* at = in.prepare(kMinReadBytes);
    std::size_t n = std::min(in.writable(), stream.size() - offset);
    if (pieces) n = std::min(n, pieces->next());
    std::memcpy(at, stream.data() + offset, n);
    in.commit(n);
    offset += n;
    return n;
  };
  std::string transcript;
  http1::Head head;
  std::string body;
  for (;;) {
    http1::ParseResult parsed;
    for (;;) {
      parsed = http1::parseRequestHead(in.data(), kMaxHeaderBytes, head);
      if (parsed.state != http1::ParseResult::kIncomplete) break;
      FUZZ_CHECK(in.size() < kMaxHeaderBytes, "incomplete past the limit");
      if (readMore() == 0) return transcript + "closed before a whole head\n";
    }
    if (parsed.state == http1::ParseResult::kTooLarge) return transcript + "431\n";
    if (parsed.state == http1::ParseResult::kInvalid) {
      FUZZ_CHECK(!parsed.error.empty(), "an invalid head without a reason");
      return transcript + "400 " + parsed.error + "\n";
    }
    FUZZ_CHECK(
        parsed.consumed > 0 && parsed.consumed <= in.size() && parsed.consumed <= kMaxHeaderBytes,
        "consumed " + std::to_string(parsed.consumed));
    FUZZ_CHECK(in.data().substr(parsed.consumed - 4, 4) == "\r\n\r\n", "head end");
    checkHead(head);
    in.consume(parsed.consumed);
    transcript += std::string(head.method()) + " " + std::string(head.target()) + " 1." +
                  std::to_string(head.versionMinor()) + "\n";
    for (std::size_t i = 0; i < head.fieldCount(); ++i) {
      transcript +=
          std::string(head.field(i).name) + ": " + std::string(head.field(i).value) + "\n";
    }
    auto framed = http1::requestFraming(head);
    if (const auto* refused = std::get_if<Error>(&framed)) {
      FUZZ_CHECK(!refused->message.empty(), "refused framing without a reason");
      return transcript + "400 " + refused->message + "\n";
    }
    const std::optional<http1::Framing> framing = std::get<http1::Framing>(framed);
    FUZZ_CHECK(framing->mode != http1::Framing::kUntilClose, "a request body until close");
    if (framing->mode == http1::Framing::kLength && framing->length > kMaxBodyBytes) {
      return transcript + "413 declared\n";
    }
    http1::BodyDecoder decoder(*framing);
    body.clear();
    while (!decoder.done()) {
      if (in.size() > 0) {
        std::size_t used = body.size();
        body.resize(used + in.size());
        auto step = decoder.decode(in.data(), body.data() + used, in.size());
        FUZZ_CHECK(step.consumed <= in.size() && step.produced <= step.consumed,
                   "consumed " + std::to_string(step.consumed) + " produced " +
                       std::to_string(step.produced) + " of " + std::to_string(in.size()));
        body.resize(used + step.produced);
        in.consume(step.consumed);
        if (step.invalid) return transcript + "400 bad chunked encoding\n";
        if (body.size() > kMaxBodyBytes) return transcript + "413\n";
        FUZZ_CHECK(step.done == decoder.done(), "done");
        if (step.done) break;
      }
      if (readMore() == 0) return transcript + "closed mid-body\n";
    }
    if (framing->mode == http1::Framing::kLength) {
      FUZZ_CHECK(body.size() == framing->length,
                 std::to_string(body.size()) + " of " + std::to_string(framing->length));
    }
    transcript += "body " + std::to_string(body.size()) + ": " + body + "\n";
    if (!head.keepAlive()) return transcript + "close\n";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  std::string whole = serve(stream, std::nullopt);
  std::string pieces = serve(stream, fuzz::Pieces(stream));
  FUZZ_CHECK(whole == pieces, "read whole:\n" + fuzz::excerpt(whole, 2000) + "\nread in pieces:\n" +
                                  fuzz::excerpt(pieces, 2000));
  return 0;
}
