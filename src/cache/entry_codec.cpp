#include "costgate/cache/entry_codec.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <utility>

namespace costgate::cache {
namespace {

constexpr std::uint8_t kEntryVersion = 2;  // 2: the answer's model and trust
constexpr std::uint8_t kEventVersion = 1;
constexpr std::uint8_t kTextOnly = 1;
constexpr std::uint8_t kHasVector = 2;

void putU8(std::string& out, std::uint8_t value) { out += static_cast<char>(value); }

void putLittleEndian(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

void putU32(std::string& out, std::uint32_t value) { putLittleEndian(out, value, 4); }
void putU64(std::string& out, std::uint64_t value) { putLittleEndian(out, value, 8); }

void putString(std::string& out, std::string_view text) {
  putU32(out, static_cast<std::uint32_t>(text.size()));
  out += text;
}

// Reads fields front to back; after the first read past the end every later read fails too, so a
// decoder can check once at the end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool ok() const { return ok_; }
  bool atEnd() const { return ok_ && rest_.empty(); }

  std::uint64_t littleEndian(std::size_t bytes) {
    if (!take(bytes)) return 0;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      value |= std::uint64_t{static_cast<unsigned char>(taken_[i])} << (8 * i);
    }
    return value;
  }
  std::uint8_t u8() { return static_cast<std::uint8_t>(littleEndian(1)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(littleEndian(4)); }
  std::uint64_t u64() { return littleEndian(8); }

  std::string_view string() {
    std::uint32_t size = u32();
    return take(size) ? taken_ : std::string_view();
  }

  std::string_view bytes(std::size_t size) { return take(size) ? taken_ : std::string_view(); }
  std::string_view rest() {
    std::string_view all = ok_ ? rest_ : std::string_view();
    rest_ = {};
    return all;
  }

 private:
  bool take(std::size_t size) {
    if (!ok_ || rest_.size() < size) {
      ok_ = false;
      taken_ = {};
      return false;
    }
    taken_ = rest_.substr(0, size);
    rest_.remove_prefix(size);
    return true;
  }

  std::string_view rest_;
  std::string_view taken_;
  bool ok_ = true;
};

}  // namespace

std::string encodeEntry(const Entry& entry) {
  std::string out;
  const std::size_t vector_bytes = entry.vector ? 4 + 4 * entry.vector->size() : 0;
  out.reserve(1 + 4 * 4 + entry.key.partition.size() + entry.key.exact.size() +
              entry.key.question.size() + 1 + vector_bytes + entry.answer.body.size() + 4 * 8 + 4 +
              entry.answer.model.size() + 1);
  putU8(out, kEntryVersion);
  putString(out, entry.key.partition);
  putString(out, entry.key.exact);
  putString(out, entry.key.question);
  putU8(out, static_cast<std::uint8_t>((entry.key.text_only ? kTextOnly : 0) |
                                       (entry.vector ? kHasVector : 0)));
  if (entry.vector) {
    putU32(out, static_cast<std::uint32_t>(entry.vector->size()));
    for (float value : *entry.vector) putU32(out, std::bit_cast<std::uint32_t>(value));
  }
  putString(out, entry.answer.body);
  const pricing::Usage& usage = entry.answer.usage;
  putU64(out, usage.prompt_tokens);
  putU64(out, usage.completion_tokens);
  putU64(out, usage.cached_tokens);
  putU64(out, usage.reasoning_tokens);
  putString(out, entry.answer.model);
  putU8(out, entry.answer.trusted ? 1 : 0);
  return out;
}

std::optional<Entry> decodeEntry(std::string_view bytes, Clock::time_point expires_at) {
  Reader reader(bytes);
  if (reader.u8() != kEntryVersion) return std::nullopt;
  Entry entry;
  entry.key.partition = reader.string();
  entry.key.exact = reader.string();
  entry.key.question = reader.string();
  const std::uint8_t flags = reader.u8();
  if ((flags & ~(kTextOnly | kHasVector)) != 0) return std::nullopt;
  entry.key.text_only = (flags & kTextOnly) != 0;
  if ((flags & kHasVector) != 0) {
    const std::uint32_t dimensions = reader.u32();
    // Checked against what is left before anything is allocated: a damaged count must not ask
    // for gigabytes.
    std::string_view raw = reader.bytes(std::size_t{dimensions} * 4);
    if (!reader.ok() || dimensions == 0) return std::nullopt;
    Vector vector(dimensions);
    Reader values(raw);
    for (float& value : vector) {
      value = std::bit_cast<float>(values.u32());
      if (!std::isfinite(value)) return std::nullopt;
    }
    entry.vector = std::move(vector);
  }
  entry.answer.body = reader.string();
  entry.answer.usage.prompt_tokens = reader.u64();
  entry.answer.usage.completion_tokens = reader.u64();
  entry.answer.usage.cached_tokens = reader.u64();
  entry.answer.usage.reasoning_tokens = reader.u64();
  entry.answer.model = reader.string();
  const std::uint8_t trusted = reader.u8();
  if (trusted > 1) return std::nullopt;
  entry.answer.trusted = trusted == 1;
  if (!reader.atEnd() || entry.key.exact.empty()) return std::nullopt;
  entry.facts = factsOf(entry.key.question);
  entry.expires_at = expires_at;
  return entry;
}

std::string encodeEvent(const EntryEvent& event) {
  std::string out;
  out.reserve(1 + 4 + event.origin.size() + 8 + event.entry.size());
  putU8(out, kEventVersion);
  putString(out, event.origin);
  putU64(out, static_cast<std::uint64_t>(event.ttl.count() > 0 ? event.ttl.count() : 0));
  out += event.entry;
  return out;
}

std::optional<EntryEvent> decodeEvent(std::string_view bytes) {
  Reader reader(bytes);
  if (reader.u8() != kEventVersion) return std::nullopt;
  std::string_view origin = reader.string();
  const std::uint64_t ttl = reader.u64();
  std::string_view entry = reader.rest();
  // A TTL beyond a few centuries is damage, and would overflow the time point it is added to.
  constexpr std::uint64_t kLongestTtl = std::uint64_t{1} << 43;  // ms, about 278 years
  if (!reader.ok() || origin.empty() || ttl > kLongestTtl || entry.empty()) return std::nullopt;
  return EntryEvent{origin, std::chrono::milliseconds(static_cast<std::int64_t>(ttl)), entry};
}

}  // namespace costgate::cache
