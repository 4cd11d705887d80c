// The semantic cache's embedders compared: the lexical one and the word-vector one
// (cache/word_vectors.h), on tests/data/cache_pairs.jsonl and on time and memory.
//
//   costgate-embedder-bench [--vectors FILE] [--pairs FILE] [--threshold T] [--passes P]
//
// 1. Load: the word-vector file's load time, and RSS (VmRSS) before and after it.
// 2. Pairs: each labelled pair's second question is looked up in a store holding the first,
//    through the partition, exact key, fact guards and threshold the filter uses (as
//    tests/unit/cache/labelled_pairs_test.cpp does): recall and false hits at T (0.92, the policy's
//    default),
//    per kind, and over a sweep of thresholds 0.75..0.95.
// 3. Time: every question of the file embedded --passes times (5) by each embedder; the fastest
//    pass counts (another process may take the core), in microseconds per question.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "costgate/cache/embedder.h"
#include "costgate/cache/facts.h"
#include "costgate/cache/request_key.h"
#include "costgate/cache/store.h"
#include "costgate/cache/word_vectors.h"
#include "costgate/jsonview/document.h"

namespace {

namespace cache = costgate::cache;
using Steady = std::chrono::steady_clock;

struct Options {
  std::string vectors = cache::defaultWordVectorsPath();
  std::string pairs = "tests/data/cache_pairs.jsonl";
  float threshold = 0.92f;  // the semantic_cache policy's default
  int passes = 5;
};

struct Pair {
  std::string a;
  std::string b;
  bool expect_hit;
  std::string kind;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "costgate-embedder-bench: %s\nusage: costgate-embedder-bench [--vectors FILE] "
               "[--pairs FILE] [--threshold T] [--passes P]\n",
               message);
  std::exit(2);
}

Options optionsOf(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + arg).c_str());
    const char* value = argv[++i];
    if (arg == "--vectors") {
      options.vectors = value;
    } else if (arg == "--pairs") {
      options.pairs = value;
    } else if (arg == "--threshold") {
      options.threshold = std::strtof(value, nullptr);
    } else if (arg == "--passes") {
      options.passes = std::max(1, std::atoi(value));
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }
  return options;
}

std::vector<Pair> pairsOf(const std::string& path) {
  std::ifstream file(path);
  if (!file) usage(("cannot read " + path).c_str());
  std::vector<Pair> pairs;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty()) continue;
    auto json = nlohmann::json::parse(line);
    pairs.push_back({json["a"], json["b"], json["expect"] == "hit", json["kind"]});
  }
  return pairs;
}

std::size_t residentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

cache::RequestKey keyOf(const std::string& question) {
  std::string body =
      nlohmann::json{{"model", "m"}, {"messages", {{{"role", "user"}, {"content", question}}}}}
          .dump();
  auto document = costgate::jsonview::Document::parse(body);
  return std::get<cache::RequestKey>(cache::requestKeyOf(document->root(), "team/feature", "m"));
}

// Whether the filter's lookup would answer `asked` with the answer cached for `cached`.
bool hits(const cache::Embedder& embedder, float threshold, const std::string& cached,
          const std::string& asked) {
  cache::MemoryStore store(10, 1 << 20);
  cache::RequestKey key = keyOf(cached);
  auto now = cache::Clock::now();
  store.put(cache::Entry{.key = key,
                         .facts = cache::factsOf(key.question),
                         .vector = embedder.embed(key.question),
                         .answer = {"answer", {}, "large"},
                         .expires_at = now + std::chrono::hours(1)});
  cache::RequestKey asked_key = keyOf(asked);
  if (store.findExact(asked_key.exact, now)) return true;
  auto vector = embedder.embed(asked_key.question);
  return vector && store.findSimilar(asked_key.partition, *vector,
                                     cache::factsOf(asked_key.question), threshold, now);
}

struct Score {
  int hits = 0, expected = 0, false_hits = 0;
  double recall() const { return expected ? double(hits) / expected : 0; }
};

Score scoreAt(const cache::Embedder& embedder, const std::vector<Pair>& pairs, float threshold,
              std::map<std::string, std::pair<int, int>>* by_kind = nullptr) {
  Score score;
  for (const Pair& pair : pairs) {
    const bool hit = hits(embedder, threshold, pair.a, pair.b);
    score.expected += pair.expect_hit;
    score.hits += hit && pair.expect_hit;
    score.false_hits += hit && !pair.expect_hit;
    if (by_kind) {
      auto& [right, total] = (*by_kind)[pair.kind];
      right += hit == pair.expect_hit;
      ++total;
    }
  }
  return score;
}

void reportPairs(const char* name, const cache::Embedder& embedder, const std::vector<Pair>& pairs,
                 float threshold) {
  std::map<std::string, std::pair<int, int>> by_kind;
  const Score score = scoreAt(embedder, pairs, threshold, &by_kind);
  std::printf("%s at %.2f: recall %.3f (%d/%d), false hits %d\n", name, threshold, score.recall(),
              score.hits, score.expected, score.false_hits);
  for (const auto& [kind, counts] : by_kind) {
    std::printf("  %-15s %d/%d right\n", kind.c_str(), counts.first, counts.second);
  }
  std::printf("  sweep:");
  for (float other : {0.75f, 0.8f, 0.85f, 0.875f, 0.9f, 0.91f, 0.92f, 0.93f, 0.95f}) {
    const Score at = scoreAt(embedder, pairs, other);
    std::printf(" %.3f: %.3f/%d", other, at.recall(), at.false_hits);
  }
  std::printf("  (threshold: recall/false hits)\n");
}

void reportTime(const char* name, const cache::Embedder& embedder,
                const std::vector<std::string>& questions, int passes) {
  double best = 1e30;
  std::size_t sink = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto started = Steady::now();
    for (const std::string& question : questions) sink += embedder.embed(question)->size();
    best = std::min(best, std::chrono::duration<double>(Steady::now() - started).count());
  }
  std::printf("%s: %.2f us per question (fastest of %d passes over %zu questions; %zu values)\n",
              name, best * 1e6 / static_cast<double>(questions.size()), passes, questions.size(),
              sink / static_cast<std::size_t>(passes) / questions.size());
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = optionsOf(argc, argv);
  const std::vector<Pair> pairs = pairsOf(options.pairs);

  const std::size_t rss_before = residentBytes();
  const auto started = Steady::now();
  auto loaded = cache::WordVectors::load(options.vectors);
  const double load_seconds = std::chrono::duration<double>(Steady::now() - started).count();
  if (auto* error = std::get_if<cache::WordVectorsError>(&loaded)) {
    std::fprintf(stderr, "costgate-embedder-bench: %s\n", error->message.c_str());
    return 1;
  }
  auto vectors =
      std::make_shared<const cache::WordVectors>(std::get<cache::WordVectors>(std::move(loaded)));
  const std::size_t rss_after = residentBytes();
  std::printf(
      "word vectors: %zu words x %zu values, %.1f MiB file, loaded in %.1f ms; RSS +%.1f "
      "MiB (%.1f -> %.1f MiB)\n",
      vectors->size(), vectors->dimensions(), vectors->bytes() / 1048576.0, load_seconds * 1e3,
      (double(rss_after) - double(rss_before)) / 1048576.0, rss_before / 1048576.0,
      rss_after / 1048576.0);

  const cache::LexicalEmbedder lexical;
  const cache::WordVectorEmbedder words(vectors);
  std::printf("pairs: %zu from %s\n", pairs.size(), options.pairs.c_str());
  reportPairs("lexical256", lexical, pairs, options.threshold);
  reportPairs(words.name().c_str(), words, pairs, options.threshold);

  std::vector<std::string> questions;
  for (const Pair& pair : pairs) {
    questions.push_back(keyOf(pair.a).question);
    questions.push_back(keyOf(pair.b).question);
  }
  reportTime("lexical256", lexical, questions, options.passes);
  reportTime(words.name().c_str(), words, questions, options.passes);
  std::printf("an entry's vector: lexical256 %zu bytes, %s %zu bytes (float32)\n",
              lexical.dimensions() * sizeof(float), words.name().c_str(),
              words.dimensions() * sizeof(float));
  return 0;
}
