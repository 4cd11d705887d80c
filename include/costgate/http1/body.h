#pragma once
// HTTP/1.x message bodies (RFC 9112 section 6): how a head says its body is delimited, and a
// decoder that turns the bytes after the head into body data, whatever way they were split.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "costgate/error.h"
#include "costgate/http1/head.h"

namespace costgate::http1 {

struct Framing {
  enum Mode {
    kNone,        // no body
    kLength,      // exactly `length` bytes
    kChunked,     // chunked transfer coding
    kUntilClose,  // responses only: everything until the connection closes
  } mode = kNone;
  std::uint64_t length = 0;
};

// The framing of a request's body, or the reason it is refused (conflicting or malformed lengths,
// a transfer coding other than chunked): a request that could be read two ways is never guessed.
std::variant<Framing, Error> requestFraming(const Head& head);
// The framing of a response's body to a request that was not HEAD.
std::variant<Framing, Error> responseFraming(const Head& head);

class BodyDecoder {
 public:
  explicit BodyDecoder(Framing framing = {});

  struct Step {
    std::size_t consumed = 0;  // bytes of `in` used, framing included
    std::size_t produced = 0;  // body bytes written to `out`
    bool done = false;         // the body has ended; bytes after it belong to the next message
    bool invalid = false;      // the chunked framing is malformed
  };
  // Decodes from `in` into `out` (at most `room` bytes).
  Step decode(std::string_view in, char* out, std::size_t room);
  // The connection closed: true when that ends the body properly (UntilClose), false when the
  // body was cut short.
  bool endsAtClose() const { return framing_.mode == Framing::kUntilClose; }
  bool done() const { return done_; }
  // Length framing: the bytes not received yet. Chunked: those of the current chunk, as far as
  // its size line has been read (so never more than the chunk will hold).
  std::uint64_t remaining() const { return remaining_; }

 private:
  enum class ChunkState {
    kSize,
    kExtension,
    kSizeLineEnd,
    kData,
    kDataEnd,
    kDataLineEnd,
    kTrailerStart,
    kTrailer,
    kLastLineEnd
  };
  Framing framing_;
  bool done_ = false;
  std::uint64_t remaining_ = 0;
  ChunkState state_ = ChunkState::kSize;
  bool size_digits_ = false;
  std::size_t trailer_bytes_ = 0;
};

}  // namespace costgate::http1
