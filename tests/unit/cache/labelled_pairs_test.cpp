// The cache against tests/data/cache_pairs.jsonl: hand-written pairs of questions, each labelled
// "hit" (a paraphrase or near-duplicate that should share an answer) or "miss" (a look-alike that
// needs another answer: a negation, a number, a name, code, a quoted string, another topic). The
// second question of each pair is looked up in a store holding the first, through the same
// partition, embedder, threshold and fact guards the filter uses.

#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "costgate/cache/embedder.h"
#include "costgate/cache/facts.h"
#include "costgate/cache/request_key.h"
#include "costgate/cache/store.h"
#include "costgate/jsonview/document.h"
#include "filters/semantic_cache/semantic_cache_filter.h"

namespace costgate::cache {
namespace {

struct Pair {
  std::string a;
  std::string b;
  bool expect_hit;
  std::string kind;
};

std::vector<Pair> labelledPairs() {
  std::ifstream file(std::string(COSTGATE_SOURCE_DIR) + "/tests/data/cache_pairs.jsonl");
  std::vector<Pair> pairs;
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty()) continue;
    auto json = nlohmann::json::parse(line);
    pairs.push_back({json["a"], json["b"], json["expect"] == "hit", json["kind"]});
  }
  return pairs;
}

RequestKey keyOf(const std::string& question) {
  std::string body =
      nlohmann::json{{"model", "m"}, {"messages", {{{"role", "user"}, {"content", question}}}}}
          .dump();
  auto document = jsonview::Document::parse(body);
  return std::get<RequestKey>(requestKeyOf(document->root(), "team/feature", "m"));
}

// Whether the filter's lookup would answer `asked` with the answer cached for `cached`.
bool hits(const Embedder& embedder, float threshold, const std::string& cached,
          const std::string& asked) {
  MemoryStore store(10, 1 << 20);
  RequestKey key = keyOf(cached);
  auto now = Clock::now();
  store.put(Entry{.key = key,
                  .facts = factsOf(key.question),
                  .vector = embedder.embed(key.question),
                  .answer = {"answer", {}, "large"},
                  .expires_at = now + std::chrono::hours(1)});
  RequestKey asked_key = keyOf(asked);
  if (store.findExact(asked_key.exact, now)) return true;
  auto vector = embedder.embed(asked_key.question);
  return vector && store.findSimilar(asked_key.partition, *vector, factsOf(asked_key.question),
                                     threshold, now);
}

TEST(LabelledPairs, NoFalseHitsAndTheRecallIsReported) {
  const std::vector<Pair> pairs = labelledPairs();
  ASSERT_GE(pairs.size(), 150u) << "tests/data/cache_pairs.jsonl";
  const Embedder& embedder = defaultBuiltInEmbedder();
  const float threshold = filters::semantic_cache::CachePolicy{}.threshold;
  int true_hits = 0, false_hits = 0, missed = 0, true_misses = 0;
  std::map<std::string, std::pair<int, int>> by_kind;  // kind -> (right, total)
  for (const Pair& pair : pairs) {
    bool hit = hits(embedder, threshold, pair.a, pair.b);
    bool right = hit == pair.expect_hit;
    auto& [right_count, total] = by_kind[pair.kind];
    right_count += right ? 1 : 0;
    ++total;
    if (hit && pair.expect_hit) ++true_hits;
    if (hit && !pair.expect_hit) {
      ++false_hits;
      ADD_FAILURE() << "false hit (" << pair.kind << "): \"" << pair.a << "\" answered \"" << pair.b
                    << "\"";
    }
    if (!hit && pair.expect_hit) ++missed;
    if (!hit && !pair.expect_hit) ++true_misses;
  }
  double precision = true_hits + false_hits ? double(true_hits) / (true_hits + false_hits) : 1;
  double recall = true_hits + missed ? double(true_hits) / (true_hits + missed) : 0;
  std::cout << "cache pairs: " << pairs.size() << " at threshold " << threshold << ": " << true_hits
            << " hits, " << missed << " missed hits, " << false_hits << " false hits, "
            << true_misses << " right misses; precision " << std::fixed << std::setprecision(3)
            << precision << ", recall " << recall << "\n";
  for (const auto& [kind, counts] : by_kind) {
    std::cout << "  " << kind << ": " << counts.first << "/" << counts.second << " right\n";
  }
  // How the threshold trades recall for risk, for whoever tunes a policy.
  for (float other : {0.75f, 0.8f, 0.85f, 0.95f}) {
    int hits_at = 0, false_at = 0, expected = 0;
    for (const Pair& pair : pairs) {
      bool hit = hits(embedder, other, pair.a, pair.b);
      expected += pair.expect_hit ? 1 : 0;
      hits_at += hit && pair.expect_hit ? 1 : 0;
      false_at += hit && !pair.expect_hit ? 1 : 0;
    }
    std::cout << "  at threshold " << std::setprecision(2) << other << ": recall "
              << std::setprecision(3) << double(hits_at) / expected << ", false hits " << false_at
              << "\n";
  }
  EXPECT_EQ(false_hits, 0);
  // A cache that never hits is useless: most paraphrases must be answered.
  EXPECT_GE(recall, 0.5);
}

}  // namespace
}  // namespace costgate::cache
