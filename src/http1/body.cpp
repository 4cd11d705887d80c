#include "costgate/http1/body.h"

#include <algorithm>
#include <cstring>

namespace costgate::http1 {

namespace {

constexpr std::size_t kMaxTrailerBytes = 16 * 1024;

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What a head declares about its body, read in one pass over its fields.
struct Declared {
  std::optional<std::uint64_t> length;  // Content-Length, possibly repeated or a list
  bool bad_length = false;              // a value that is not a number, or numbers that differ
  int transfer_encodings = 0;           // Transfer-Encoding fields
  bool chunked_only = true;             // ...each exactly "chunked"
};

// Adds one Content-Length value (a comma-separated list is allowed) to `declared`.
void addLength(Declared& declared, std::string_view list) {
  do {
    std::size_t comma = list.find(',');
    std::string_view item = trimWhitespace(list.substr(0, comma));
    if (item.empty() || item.size() > 18 ||
        !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      declared.bad_length = true;
      return;
    }
    std::uint64_t value = 0;
    for (char c : item) value = value * 10 + static_cast<std::uint64_t>(c - '0');
    if (declared.length && *declared.length != value) {
      declared.bad_length = true;
      return;
    }
    declared.length = value;
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  } while (!list.empty());
}

Declared declaredBody(const Head& head) {
  Declared declared;
  for (std::size_t i = 0; i < head.fieldCount(); ++i) {
    Field field = head.field(i);
    if (field.name == "content-length") {
      addLength(declared, field.value);
    } else if (field.name == "transfer-encoding") {
      ++declared.transfer_encodings;
      declared.chunked_only = declared.chunked_only &&
                              field.value.find(',') == std::string_view::npos &&
                              hasToken(field.value, "chunked");
    }
  }
  return declared;
}

std::variant<Framing, Error> framing(const Head& head, bool response) {
  Declared declared = declaredBody(head);
  if (declared.bad_length) {
    return Error{"invalid Content-Length"};
  }
  if (declared.transfer_encodings > 0) {
    // Only one coding, "chunked", is undone here; anything else would be guessed at.
    if (declared.transfer_encodings > 1 || !declared.chunked_only) {
      return Error{"unsupported Transfer-Encoding (only chunked is accepted)"};
    }
    if (declared.length) {
      return Error{"both Transfer-Encoding and Content-Length"};
    }
    return Framing{Framing::kChunked, 0};
  }
  if (declared.length) {
    return Framing{*declared.length == 0 ? Framing::kNone : Framing::kLength, *declared.length};
  }
  return Framing{response ? Framing::kUntilClose : Framing::kNone, 0};
}

}  // namespace

std::variant<Framing, Error> requestFraming(const Head& head) { return framing(head, false); }

std::variant<Framing, Error> responseFraming(const Head& head) {
  int status = head.status();
  if ((status >= 100 && status < 200) || status == 204 || status == 304) return Framing{};
  return framing(head, true);
}

BodyDecoder::BodyDecoder(Framing framing)
    : framing_(framing), done_(framing.mode == Framing::kNone), remaining_(framing.length) {}

BodyDecoder::Step BodyDecoder::decode(std::string_view in, char* out, std::size_t room) {
  Step step;
  auto copy = [&](std::size_t available) {
    std::size_t n = std::min<std::size_t>({available, room - step.produced});
    std::memcpy(out + step.produced, in.data() + step.consumed, n);
    step.produced += n;
    step.consumed += n;
    return n;
  };
  switch (framing_.mode) {
    case Framing::kNone:
      step.done = done_ = true;
      return step;
    case Framing::kUntilClose:
      copy(in.size());
      return step;
    case Framing::kLength:
      remaining_ -= copy(static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size())));
      step.done = done_ = remaining_ == 0;
      return step;
    case Framing::kChunked:
      break;
  }
  while (step.consumed < in.size() && !done_) {
    if (state_ == ChunkState::kData) {
      std::size_t available =
          static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - step.consumed));
      if (available > 0 && step.produced == room) break;  // out is full
      remaining_ -= copy(available);
      if (remaining_ == 0) state_ = ChunkState::kDataEnd;
      continue;
    }
    char c = in[step.consumed++];
    switch (state_) {
      case ChunkState::kSize: {
        int digit = hexDigit(c);
        if (digit >= 0) {
          if (remaining_ >> 56) {  // more than any body we would accept
            step.invalid = true;
            return step;
          }
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
          size_digits_ = true;
        } else if (size_digits_ && (c == ';' || c == ' ' || c == '\t')) {
          state_ = ChunkState::kExtension;
        } else if (size_digits_ && c == '\r') {
          state_ = ChunkState::kSizeLineEnd;
        } else {
          step.invalid = true;
          return step;
        }
        break;
      }
      case ChunkState::kExtension:
        if (c == '\r')
          state_ = ChunkState::kSizeLineEnd;
        else if (c == '\n' || (++trailer_bytes_ > kMaxTrailerBytes))
          step.invalid = true;
        break;
      case ChunkState::kSizeLineEnd:
        if (c != '\n') step.invalid = true;
        size_digits_ = false;
        state_ = remaining_ == 0 ? ChunkState::kTrailerStart : ChunkState::kData;
        break;
      case ChunkState::kDataEnd:
        if (c != '\r') step.invalid = true;
        state_ = ChunkState::kDataLineEnd;
        break;
      case ChunkState::kDataLineEnd:
        if (c != '\n') step.invalid = true;
        state_ = ChunkState::kSize;
        break;
      case ChunkState::kTrailerStart:
        state_ = c == '\r' ? ChunkState::kLastLineEnd : ChunkState::kTrailer;
        break;
      case ChunkState::kTrailer:
        if (c == '\n') state_ = ChunkState::kTrailerStart;
        if (++trailer_bytes_ > kMaxTrailerBytes) step.invalid = true;
        break;
      case ChunkState::kLastLineEnd:
        if (c != '\n') step.invalid = true;
        done_ = true;
        break;
      case ChunkState::kData:
        break;
    }
    if (step.invalid) return step;
  }
  step.done = done_;
  return step;
}

}  // namespace costgate::http1
