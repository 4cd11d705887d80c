#pragma once
// The mock's realistic mode (costgate-mock --savings-table FILE), for bench/savings: a cheap model
// that is wrong on the prompts a table says are hard, with the signals a weak model really gives,
// provider prefix caching, per-tier timing and a per-model bill.
//
// Header-only: the build lists the mock library's sources one by one, and this mode is plain
// functions over plain data that the server (src/mock/main.cpp) and the unit tests both include.
//
// - The difficulty table (written by bench/savings/trace.mjs) maps the SHA-256 (lower-case hex) of
//   a request's normalized last user message (whitespace runs collapsed to one space, trimmed) to
//   {id, hard, failure, answer_tokens}. The difficulty is never read from the prompt's text.
// - Models whose name contains "small" or "mini" (any case) are the cheap tier, others strong.
// - An answer carries "ref-" and 12 hex digits of SHA-256(id + "right") when it is correct, of
//   SHA-256(id + "wrong") when it is not, so a harness checks correctness without a judge.
// - Strong is always right and sure (logprobs in [-0.25, -0.01]); cheap is right and sure on easy
//   and unknown prompts; on hard ones it is wrong with its failure kind's one signal: low logprobs
//   (every token in [-3.0, -1.2]), a hedge opening the answer, a JSON object cut off (JSON
//   requests), or none at all (confident).
// - Prefix caching: a prompt is a token sequence (per message: its role and two framing tokens,
//   then its words: the mock's prompt_tokens). Every 128-token boundary's prefix is remembered per
//   model; a request's cached_tokens is its longest remembered run of leading blocks, if it holds
//   at least 1024 tokens.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <list>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "costgate/crypto/sha256.h"
#include "costgate/mock/responses.h"

namespace costgate::mock::savings {

// How the cheap model gets a hard prompt wrong.
enum class Failure { kLowLogprob, kHedge, kBrokenJson, kConfident };

struct Difficulty {
  std::string id;  // the question: paraphrases and repeats share it
  bool hard = false;
  Failure failure = Failure::kConfident;
  int answer_tokens = 40;
};

inline constexpr int kBlockTokens = 128;
inline constexpr int kMinCachedTokens = 1024;

inline bool isSpaceByte(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// `text` with whitespace runs collapsed to one space and trimmed: what the table is keyed by, so a
// gateway that collapses whitespace does not change the question.
inline std::string normalized(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (char c : text) {
    if (isSpaceByte(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

// The table key of a last user message.
inline std::string tableKey(std::string_view last_user_text) {
  return crypto::toHex(crypto::sha256(normalized(last_user_text)));
}

// The opaque token a correct (or wrong) answer to question `id` carries.
inline std::string answerToken(std::string_view id, bool right) {
  std::string seed(id);
  seed += right ? "right" : "wrong";
  return "ref-" + crypto::toHex(crypto::sha256(seed)).substr(0, 12);
}

inline bool containsNoCase(std::string_view text, std::string_view lower) {
  auto equal = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == static_cast<unsigned char>(b);
  };
  return std::search(text.begin(), text.end(), lower.begin(), lower.end(), equal) != text.end();
}

inline bool isCheapModel(std::string_view model) {
  return containsNoCase(model, "small") || containsNoCase(model, "mini");
}

class DifficultyTable {
 public:
  // The table in `text` (the generator's JSON: {"entries": {key: {...}}}), or what is wrong with
  // it.
  static std::variant<DifficultyTable, std::string> parse(std::string_view text) {
    nlohmann::json root = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!root.is_object() || !root.contains("entries") || !root["entries"].is_object()) {
      return std::string("not a difficulty table: want {\"entries\": {...}}");
    }
    DifficultyTable table;
    for (const auto& [key, value] : root["entries"].items()) {
      auto entry = parseEntry(value);
      if (auto* error = std::get_if<std::string>(&entry)) return "entry " + key + ": " + *error;
      table.entries_.emplace(key, std::get<Difficulty>(std::move(entry)));
    }
    return table;
  }

  static std::variant<DifficultyTable, std::string> load(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return path + ": cannot be read";
    std::stringstream text;
    text << file.rdbuf();
    auto table = parse(text.str());
    if (auto* error = std::get_if<std::string>(&table)) return path + ": " + *error;
    return table;
  }

  // The entry of a last user message, or null for a prompt the table does not know.
  const Difficulty* find(std::string_view last_user_text) const {
    auto it = entries_.find(tableKey(last_user_text));
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::size_t size() const { return entries_.size(); }

 private:
  static std::variant<Difficulty, std::string> parseEntry(const nlohmann::json& value) {
    if (!value.is_object()) return std::string("not an object");
    Difficulty entry;
    auto id = value.find("id");
    auto hard = value.find("hard");
    auto tokens = value.find("answer_tokens");
    if (id == value.end() || !id->is_string()) return std::string("id: want a string");
    if (hard == value.end() || !hard->is_boolean()) return std::string("hard: want a boolean");
    if (tokens == value.end() || !tokens->is_number_integer() || *tokens < 1) {
      return std::string("answer_tokens: want a positive integer");
    }
    entry.id = id->get<std::string>();
    entry.hard = hard->get<bool>();
    entry.answer_tokens = tokens->get<int>();
    std::string failure = value.value("failure", std::string("confident"));
    if (failure == "low_logprob") {
      entry.failure = Failure::kLowLogprob;
    } else if (failure == "hedge") {
      entry.failure = Failure::kHedge;
    } else if (failure == "broken_json") {
      entry.failure = Failure::kBrokenJson;
    } else if (failure != "confident") {
      return "failure: unknown kind '" + failure + "'";
    }
    return entry;
  }

  std::unordered_map<std::string, Difficulty> entries_;
};

// What a model answers a request with: the words (before JSON wrapping and max_tokens), how sure
// it is, and whether a JSON answer is cut off.
struct Script {
  std::vector<std::string> words;
  Confidence confidence = Confidence::kHigh;
  bool broken_json = false;
};

// Varied, as real models' hedges are, so a judge's phrase list is tested rather than matched.
inline const std::vector<std::vector<std::string>>& hedges() {
  static const std::vector<std::vector<std::string>> kHedges = {{"I'm", "not", "sure,", "but"},
                                                                {"I", "believe"},
                                                                {"If", "I", "recall", "correctly,"},
                                                                {"It", "might", "be", "that"},
                                                                {"I", "think"},
                                                                {"Possibly"},
                                                                {"Perhaps"},
                                                                {"I'm", "guessing,", "but"}};
  return kHedges;
}

// Words that read like prose, seeded per answer so answers to different questions differ.
inline void padWords(std::vector<std::string>& words, std::string_view seed, std::size_t total) {
  static constexpr std::string_view kVocabulary[] = {
      "the",    "function", "returns", "value",   "when",    "you",   "should", "check",
      "before", "calling",  "this",    "because", "it",      "can",   "lock",   "update",
      "plan",   "account",  "setting", "open",    "then",    "and",   "is",     "a",
      "field",  "list",     "request", "order",   "refund",  "error", "thread", "buffer",
      "change", "line",     "file",    "your",    "default", "use",   "new",    "step"};
  crypto::Sha256Digest digest = crypto::sha256(seed);
  std::uint64_t state = 0;
  for (int i = 0; i < 8; ++i) state = state << 8 | digest[static_cast<std::size_t>(i)];
  while (words.size() < total) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    words.emplace_back(kVocabulary[(state >> 33) % std::size(kVocabulary)]);
  }
}

// How `model` answers the question `entry` (null: unknown, answered as easy with `default_words`
// words). `json_reply`: the request asks for a JSON object, the only kind that can be broken.
inline Script script(const Difficulty* entry, std::string_view model, bool json_reply,
                     int default_words) {
  Script out;
  std::string id = entry ? entry->id : "unknown";
  bool wrong = entry && entry->hard && isCheapModel(model);
  Failure failure = entry ? entry->failure : Failure::kConfident;
  if (wrong && failure == Failure::kBrokenJson && !json_reply) failure = Failure::kLowLogprob;
  if (wrong && failure == Failure::kHedge) {
    const auto& all = hedges();
    const auto& hedge = all[crypto::sha256(id)[0] % all.size()];
    out.words.assign(hedge.begin(), hedge.end());
  }
  out.words.emplace_back("Answer");
  out.words.push_back(answerToken(id, !wrong) + ":");
  std::size_t total = static_cast<std::size_t>(entry ? entry->answer_tokens : default_words);
  padWords(out.words, id + (wrong ? "wrong" : "right"), std::max(total, out.words.size()));
  out.confidence = wrong && failure == Failure::kLowLogprob ? Confidence::kLow : Confidence::kHigh;
  out.broken_json = wrong && failure == Failure::kBrokenJson;
  return out;
}

// ---- Prefix caching ----

inline std::uint64_t mixToken(std::uint64_t hash, std::string_view token) {
  for (char c : token) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  hash ^= 0xff;  // the token's end, so "ab" "c" differs from "a" "bc"
  return hash * 0x100000001b3ULL;
}

// The hash of the prompt's prefix at every 128-token boundary, in order (boundary k ends at token
// (k + 1) * 128), for `model`'s cache. `messages` is the request's; a message's content counts as
// the mock counts it (a string, or its text parts joined by a space).
inline std::vector<std::uint64_t> prefixHashes(std::string_view model,
                                               const nlohmann::json& messages) {
  std::vector<std::uint64_t> boundaries;
  std::uint64_t hash = mixToken(0xcbf29ce484222325ULL, model);
  std::int64_t tokens = 0;
  auto add = [&](std::string_view token) {
    hash = mixToken(hash, token);
    if (++tokens % kBlockTokens == 0) boundaries.push_back(hash);
  };
  if (!messages.is_array()) return boundaries;
  for (const auto& message : messages) {
    if (!message.is_object()) continue;
    add(message.value("role", std::string()));
    add("<|message|>");
    add("<|content|>");
    auto content = message.find("content");
    if (content == message.end()) continue;
    auto words = [&](std::string_view text) {
      std::size_t i = 0;
      while (i < text.size()) {
        while (i < text.size() && isSpaceByte(text[i])) ++i;
        std::size_t start = i;
        while (i < text.size() && !isSpaceByte(text[i])) ++i;
        if (i > start) add(text.substr(start, i - start));
      }
    };
    if (content->is_string()) {
      words(content->get_ref<const std::string&>());
    } else if (content->is_array()) {
      for (const auto& part : *content) {
        if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
            part["text"].is_string()) {
          words(part["text"].get_ref<const std::string&>());
        }
      }
    }
  }
  return boundaries;
}

// The prefixes a provider still has cached: the newest `capacity` boundary hashes, all models
// together. Shared by the server's threads.
class PrefixCache {
 public:
  static constexpr std::size_t kDefaultCapacity = 200'000;
  explicit PrefixCache(std::size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // The cached tokens of a prompt with these boundaries: its leading blocks still remembered (a
  // block is usable only after all those before it), if they reach 1024 tokens, else 0. Then
  // remembers all of them, as the provider caches the prompt.
  int lookupAndRemember(const std::vector<std::uint64_t>& boundaries) {
    std::lock_guard lock(mutex_);
    std::size_t blocks = 0;
    while (blocks < boundaries.size() && index_.contains(boundaries[blocks])) ++blocks;
    int cached = static_cast<int>(blocks) * kBlockTokens;
    for (std::uint64_t hash : boundaries) touch(hash);
    return cached >= kMinCachedTokens ? cached : 0;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return index_.size();
  }
  // Forgets every prefix: a benchmark's passes are alternative worlds, so the second must not find
  // the first's prompts cached.
  void clear() {
    std::lock_guard lock(mutex_);
    index_.clear();
    order_.clear();
  }

 private:
  void touch(std::uint64_t hash) {
    auto it = index_.find(hash);
    if (it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    order_.push_front(hash);
    index_.emplace(hash, order_.begin());
    if (index_.size() > capacity_) {
      index_.erase(order_.back());
      order_.pop_back();
    }
  }

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::list<std::uint64_t> order_;  // most recently used first
  std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator> index_;
};

// ---- Time and the bill ----

// How long a tier takes: to its first token, and per token after it (ms, before --time-scale).
struct Pace {
  double first_token_ms = 0;
  double per_token_ms = 0;
};
inline Pace paceOf(std::string_view model, double scale) {
  Pace pace = isCheapModel(model) ? Pace{150, 4} : Pace{400, 12};
  return {pace.first_token_ms * scale, pace.per_token_ms * scale};
}

// What the provider bills, per model, since the last reset.
class Bill {
 public:
  struct Counts {
    std::int64_t calls = 0;
    std::int64_t prompt_tokens = 0;
    std::int64_t cached_tokens = 0;
    std::int64_t completion_tokens = 0;
  };

  // A call's input, when it is accepted.
  void call(const std::string& model, int prompt_tokens, int cached_tokens) {
    std::lock_guard lock(mutex_);
    Counts& counts = models_[model];
    ++counts.calls;
    counts.prompt_tokens += prompt_tokens;
    counts.cached_tokens += cached_tokens;
  }
  // Tokens generated (a stream's as they go out, so a cancelled one pays for what it emitted).
  void completion(const std::string& model, int tokens) {
    std::lock_guard lock(mutex_);
    models_[model].completion_tokens += tokens;
  }
  void reset() {
    std::lock_guard lock(mutex_);
    models_.clear();
  }
  nlohmann::json report() const {
    std::lock_guard lock(mutex_);
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [model, counts] : models_) {
      out[model] = {{"calls", counts.calls},
                    {"prompt_tokens", counts.prompt_tokens},
                    {"cached_tokens", counts.cached_tokens},
                    {"completion_tokens", counts.completion_tokens}};
    }
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Counts> models_;
};

// Everything the realistic mode shares across requests.
struct Mode {
  DifficultyTable table;
  PrefixCache cache;
  Bill bill;
  double time_scale = 1.0;
};

}  // namespace costgate::mock::savings
