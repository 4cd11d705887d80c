#include "costgate/tokenizer/encoding.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>

#include "costgate/text/base64.h"

namespace costgate::tokenizer {
namespace {

constexpr Token kNoRank = std::numeric_limits<Token>::max();

std::uint64_t hashBytes(const char* p, std::size_t n) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  while (n >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    h = (h ^ word) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h = (h ^ tail) * 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}

// Pieces up to this many bytes merge with tiktoken's own quadratic scan, which is the fastest
// for the short pieces nearly all text is made of; longer ones (a run of one character, a long
// identifier, random bytes) use a heap, so no input costs more than n log n.
constexpr std::size_t kLongPiece = 64;

}  // namespace

std::string_view encodingForModel(std::string_view model) {
  // Fine-tuned models ("ft:gpt-4o-mini:org::id") use their base model's encoding.
  if (model.starts_with("ft:")) model.remove_prefix(3);
  constexpr std::string_view kO200k[] = {"gpt-4o",  "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5",
                                         "gpt-oss", "o1",         "o3",      "o4",      "codex-"};
  // "gpt-35": Azure's spelling of gpt-3.5.
  constexpr std::string_view kCl100k[] = {
      "gpt-4",       "gpt-3.5",    "gpt-35", "text-embedding-3", "text-embedding-ada-002",
      "davinci-002", "babbage-002"};
  for (std::string_view prefix : kO200k) {
    if (model.starts_with(prefix)) return "o200k_base";
  }
  for (std::string_view prefix : kCl100k) {
    if (model.starts_with(prefix)) return "cl100k_base";
  }
  return {};
}

std::optional<SplitRule> splitRuleOf(std::string_view encoding_name) {
  if (encoding_name == "cl100k_base") return SplitRule::kCl100k;
  if (encoding_name == "o200k_base") return SplitRule::kO200k;
  return std::nullopt;
}

// Byte string -> rank, as an open-addressing hash table over one buffer of all token bytes.
struct Encoding::Ranks {
  std::string bytes;                  // every token's bytes, back to back
  std::vector<std::uint32_t> begin;   // rank -> start in `bytes`
  std::vector<std::uint32_t> length;  // rank -> length (0: the rank is unused)
  std::vector<std::uint64_t> slots;   // (hash high 32 bits << 32) | rank, or kEmpty
  std::uint64_t mask = 0;
  std::array<Token, 256> byte_ranks{};

  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

  std::string_view tokenBytes(Token rank) const {
    return std::string_view(bytes).substr(begin[rank], length[rank]);
  }

  Token find(const char* p, std::size_t n) const {
    if (n == 1) return byte_ranks[static_cast<unsigned char>(*p)];
    std::uint64_t h = hashBytes(p, n);
    std::uint32_t tag = static_cast<std::uint32_t>(h >> 32);
    for (std::uint64_t i = h & mask;; i = (i + 1) & mask) {
      std::uint64_t slot = slots[i];
      if (slot == kEmpty) return kNoRank;
      Token rank = static_cast<Token>(slot);
      if (static_cast<std::uint32_t>(slot >> 32) == tag && length[rank] == n &&
          std::memcmp(bytes.data() + begin[rank], p, n) == 0) {
        return rank;
      }
    }
  }

  // Returns false when these bytes already have a rank.
  bool add(std::string_view token, Token rank) {
    if (find(token.data(), token.size()) != kNoRank && token.size() > 1) return false;
    if (rank >= begin.size()) {
      begin.resize(rank + 1, 0);
      length.resize(rank + 1, 0);
    }
    begin[rank] = static_cast<std::uint32_t>(bytes.size());
    length[rank] = static_cast<std::uint32_t>(token.size());
    bytes += token;
    if (token.size() == 1) {
      if (byte_ranks[static_cast<unsigned char>(token[0])] != kNoRank) return false;
      byte_ranks[static_cast<unsigned char>(token[0])] = rank;
      return true;
    }
    std::uint64_t h = hashBytes(token.data(), token.size());
    std::uint64_t i = h & mask;
    while (slots[i] != kEmpty) i = (i + 1) & mask;
    slots[i] = (h >> 32 << 32) | rank;
    return true;
  }

  explicit Ranks(std::size_t count) {
    std::size_t size = 16;
    while (size < count * 2) size *= 2;
    slots.assign(size, kEmpty);
    mask = size - 1;
    byte_ranks.fill(kNoRank);
  }
};

Encoding::Encoding(std::string name, SplitRule rule, std::unique_ptr<Ranks> ranks)
    : name_(std::move(name)), rule_(rule), ranks_(std::move(ranks)) {}

Encoding::~Encoding() = default;

std::variant<std::shared_ptr<const Encoding>, Error> Encoding::load(std::string name,
                                                                    const std::string& path,
                                                                    SplitRule rule) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return Error{"cannot read the rank file " + path + " (scripts/fetch-tokenizer-data.sh)"};
  std::stringstream content;
  content << file.rdbuf();
  std::string text = content.str();
  std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  auto ranks = std::make_unique<Ranks>(lines + 1);
  std::size_t line_number = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + at, end - at);
    at = end + 1;
    ++line_number;
    if (line.empty()) continue;
    auto where = [&] { return path + ":" + std::to_string(line_number) + ": "; };
    std::size_t space = line.find(' ');
    if (space == std::string_view::npos)
      return Error{where() + "expected \"<base64 token> <rank>\""};
    auto token = text::base64Decode(line.substr(0, space));
    if (!token || token->empty()) return Error{where() + "the token is not base64"};
    std::string_view digits = line.substr(space + 1);
    Token rank = 0;
    auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), rank);
    if (parsed.ec != std::errc() || parsed.ptr != digits.data() + digits.size() ||
        rank >= 100'000'000) {
      return Error{where() + "the rank is not a number below 100000000"};
    }
    if (rank < ranks->length.size() && ranks->length[rank] != 0) {
      return Error{where() + "rank " + std::to_string(rank) + " appears twice"};
    }
    if (!ranks->add(*token, rank)) return Error{where() + "the token appears twice"};
  }
  for (int byte = 0; byte < 256; ++byte) {
    if (ranks->byte_ranks[byte] == kNoRank) {
      return Error{path + ": no rank for the single byte " + std::to_string(byte) +
                   " (every byte needs one, or some text could not be encoded)"};
    }
  }
  return std::shared_ptr<const Encoding>(new Encoding(std::move(name), rule, std::move(ranks)));
}

std::variant<std::shared_ptr<const Encoding>, Error> Encoding::loadShared(std::string name,
                                                                          const std::string& path,
                                                                          SplitRule rule) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, SplitRule>, std::shared_ptr<const Encoding>> loaded;
  std::lock_guard lock(mutex);
  auto key = std::make_pair(path, rule);
  if (auto it = loaded.find(key); it != loaded.end() && it->second->name() == name) {
    return it->second;
  }
  auto result = load(std::move(name), path, rule);
  if (auto* encoding = std::get_if<std::shared_ptr<const Encoding>>(&result))
    loaded[key] = *encoding;
  return result;
}

std::shared_ptr<const Encoding> Encoding::fromTokens(std::string name,
                                                     std::vector<std::string> tokens,
                                                     SplitRule rule) {
  auto ranks = std::make_unique<Ranks>(tokens.size());
  for (std::size_t rank = 0; rank < tokens.size(); ++rank) {
    ranks->add(tokens[rank], static_cast<Token>(rank));
  }
  return std::shared_ptr<const Encoding>(new Encoding(std::move(name), rule, std::move(ranks)));
}

template <class Emit>
void Encoding::encodePiece(std::string_view piece, Emit&& emit) const {
  const Ranks& ranks = *ranks_;
  const char* p = piece.data();
  const std::size_t n = piece.size();
  if (Token whole = ranks.find(p, n); whole != kNoRank) {
    emit(whole);
    return;
  }
  if (n <= kLongPiece) {
    // parts[k] starts a part; rank[k] is the rank of parts[k] merged with parts[k + 1].
    std::array<std::uint32_t, kLongPiece + 1> start;
    std::array<Token, kLongPiece + 1> rank;
    std::size_t count = n + 1;
    for (std::size_t k = 0; k <= n; ++k) start[k] = static_cast<std::uint32_t>(k);
    auto pairRank = [&](std::size_t k) {
      return k + 2 < count ? ranks.find(p + start[k], start[k + 2] - start[k]) : kNoRank;
    };
    for (std::size_t k = 0; k < count; ++k) rank[k] = pairRank(k);
    while (count > 2) {
      std::size_t best = 0;
      for (std::size_t k = 1; k + 1 < count; ++k) {
        if (rank[k] < rank[best]) best = k;
      }
      if (rank[best] == kNoRank) break;
      std::copy(start.begin() + best + 2, start.begin() + count, start.begin() + best + 1);
      std::copy(rank.begin() + best + 2, rank.begin() + count, rank.begin() + best + 1);
      --count;
      rank[best] = pairRank(best);
      if (best > 0) rank[best - 1] = pairRank(best - 1);
    }
    for (std::size_t k = 0; k + 1 < count; ++k)
      emit(ranks.find(p + start[k], start[k + 1] - start[k]));
    return;
  }
  // Parts as a linked list over their start offsets, and a min-heap of (pair rank, start):
  // popping the least pair, leftmost on ties, is tiktoken's merge order. Entries whose pair has
  // changed since they were pushed are skipped when popped.
  std::vector<std::uint32_t> next(n + 1);
  std::vector<std::uint32_t> prev(n + 1);
  std::vector<Token> part_rank(n + 1);
  std::vector<Token> pair_rank(n + 1, kNoRank);
  for (std::uint32_t k = 0; k <= n; ++k) {
    next[k] = k + 1;
    prev[k] = k == 0 ? 0 : k - 1;
    if (k < n) part_rank[k] = ranks.byte_ranks[static_cast<unsigned char>(p[k])];
  }
  std::vector<std::uint64_t> heap;
  heap.reserve(n);
  // Ranks the pair starting at part k; returns whether it is a token.
  auto rankPair = [&](std::uint32_t k) {
    pair_rank[k] = k < n && next[k] < n ? ranks.find(p + k, next[next[k]] - k) : kNoRank;
    return pair_rank[k] != kNoRank;
  };
  auto push = [&](std::uint32_t k) {
    if (!rankPair(k)) return;
    heap.push_back(std::uint64_t{pair_rank[k]} << 32 | k);
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  for (std::uint32_t k = 0; k + 1 < n; ++k) {
    if (rankPair(k)) heap.push_back(std::uint64_t{pair_rank[k]} << 32 | k);
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  std::vector<bool> alive(n, true);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    std::uint64_t top = heap.back();
    heap.pop_back();
    auto k = static_cast<std::uint32_t>(top);
    auto merged = static_cast<Token>(top >> 32);
    if (!alive[k] || pair_rank[k] != merged) continue;
    std::uint32_t right = next[k];
    alive[right] = false;
    next[k] = next[right];
    if (next[k] <= n) prev[next[k]] = k;
    part_rank[k] = merged;
    push(k);
    if (k > 0) push(prev[k]);
  }
  for (std::uint32_t k = 0; k < n; k = next[k]) emit(part_rank[k]);
}

std::vector<Token> Encoding::encode(std::string_view text) const {
  std::vector<Token> tokens;
  tokens.reserve(text.size() / 3 + 1);
  split(text, rule_, [&](std::string_view piece) {
    encodePiece(piece, [&](Token token) { tokens.push_back(token); });
  });
  return tokens;
}

std::size_t Encoding::count(std::string_view text) const {
  std::size_t tokens = 0;
  split(text, rule_, [&](std::string_view piece) { encodePiece(piece, [&](Token) { ++tokens; }); });
  return tokens;
}

std::string Encoding::decode(std::span<const Token> tokens) const {
  std::string bytes;
  for (Token token : tokens) {
    if (token < ranks_->length.size()) bytes += ranks_->tokenBytes(token);
  }
  return bytes;
}

}  // namespace costgate::tokenizer
