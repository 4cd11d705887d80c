// The bytes a backend sends on one connection, parsed as the upstream client parses them
// (src/upstream/upstream_client.cpp): response heads (http1::parseResponseHead, 1xx heads
// skipped), the body's framing (http1::responseFraming) and its decoding (http1::BodyDecoder), and
// the next response on the same connection while it may be kept alive.
//
// As for requests, the stream is parsed whole and in small pieces, and both must agree.

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

constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;  // upstream_client.cpp
constexpr std::size_t kBufferBytes = 16 * 1024;
constexpr std::size_t kReadBytes = 16 * 1024;
constexpr std::size_t kPieceBytes = 8 * 1024;  // Exchange::readSome's buffer

std::string fetch(std::string_view stream, std::optional<fuzz::Pieces> pieces) {
  http1::InputBuffer in(kBufferBytes);
  std::size_t offset = 0;
  auto readMore = [&]() -> std::size_t {
    char* at = in.prepare(kReadBytes);
    std::size_t n = std::min(in.writable(), stream.size() - offset);
    if (pieces) n = std::min(n, pieces->next());
    std::memcpy(at, stream.data() + offset, n);
    in.commit(n);
    offset += n;
    return n;
  };
  std::string transcript;
  http1::Head head;
  std::string piece(kPieceBytes, '\0');
  for (;;) {
    for (;;) {
      auto parsed = http1::parseResponseHead(in.data(), kMaxResponseHeaderBytes, head);
      if (parsed.state == http1::ParseResult::kComplete) {
        FUZZ_CHECK(parsed.consumed > 0 && parsed.consumed <= in.size(), "consumed");
        in.consume(parsed.consumed);
        FUZZ_CHECK(head.status() >= 100 && head.status() <= 999,
                   "status " + std::to_string(head.status()));
        transcript += std::to_string(head.status()) + " " + std::string(head.reason()) + "\n";
        if (head.status() < 200) continue;
        break;
      }
      if (parsed.state == http1::ParseResult::kTooLarge) return transcript + "head too large\n";
      if (parsed.state == http1::ParseResult::kInvalid) {
        FUZZ_CHECK(!parsed.error.empty(), "an invalid head without a reason");
        return transcript + "invalid: " + parsed.error + "\n";
      }
      if (readMore() == 0) return transcript + "closed before a whole head\n";
    }
    for (std::size_t i = 0; i < head.fieldCount(); ++i) {
      http1::Field field = head.field(i);
      for (char c : field.value) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0', "field value");
      transcript += std::string(field.name) + ": " + std::string(field.value) + "\n";
    }
    auto framed = http1::responseFraming(head);
    if (const auto* refused = std::get_if<Error>(&framed)) {
      return transcript + "framing: " + refused->message + "\n";
    }
    const std::optional<http1::Framing> framing = std::get<http1::Framing>(framed);
    http1::BodyDecoder decoder(*framing);
    const bool keep_alive = head.keepAlive() && framing->mode != http1::Framing::kUntilClose;
    std::string body;
    // Exchange::State::readyPiece and readMoreInto: decode what is buffered, read when that
    // gives nothing.
    for (;;) {
      if (decoder.done()) break;
      if (in.size() > 0) {
        auto step = decoder.decode(in.data(), piece.data(), piece.size());
        FUZZ_CHECK(step.consumed <= in.size() && step.produced <= piece.size() &&
                       step.produced <= step.consumed,
                   "consumed " + std::to_string(step.consumed));
        in.consume(step.consumed);
        if (step.invalid) return transcript + "bad chunked encoding\n";
        body.append(piece.data(), step.produced);
        if (step.done) break;
        if (step.produced > 0) continue;
      }
      if (readMore() == 0) {
        if (decoder.endsAtClose()) break;
        return transcript + "closed mid-body after " + std::to_string(body.size()) + "\n";
      }
    }
    if (framing->mode == http1::Framing::kLength) {
      FUZZ_CHECK(body.size() == framing->length, "length");
    }
    transcript += "body " + std::to_string(body.size()) + ": " + body + "\n";
    if (!keep_alive) return transcript + "close\n";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  std::string whole = fetch(stream, std::nullopt);
  std::string pieces = fetch(stream, fuzz::Pieces(stream));
  FUZZ_CHECK(whole == pieces, "read whole:\n" + fuzz::excerpt(whole, 2000) + "\nread in pieces:\n" +
                                  fuzz::excerpt(pieces, 2000));
  return 0;
}
