// The cache against tests/data/cache_pairs.jsonl: hand-written pairs of questions, each labelled
// "hit" (the two share one answer: a paraphrase, a typo, a politer or shorter wording) or "miss"
// (a look-alike that needs another answer: another subject, unit, number, name, direction, time,
// an antonym, a negation, code, a quoted string, another topic). The `kind` says which; the kinds
// are listed below with the label each must carry. The second question of each pair is looked up
// in a store holding the first, through the same partition, embedder, threshold and fact guards
// the filter uses. The report gives, per kind, the recall (must-hit kinds) or the false hits
// (must-miss kinds), then the totals and how other thresholds would trade one for the other.

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
#include "costgate/cache/word_vectors.h"
#include "costgate/jsonview/document.h"
#include "filters/semantic_cache/semantic_cache_filter.h"

namespace costgate::cache {
namespace {

// Every kind the set may use, and whether its pairs must hit (true) or must miss (false).
const std::map<std::string, bool>& kinds() {
  static const std::map<std::string, bool> kinds = {
      {"paraphrase_synonym", true},
      {"paraphrase_reorder", true},
      {"question_form", true},
      {"politeness", true},
      {"typo", true},
      {"punctuation_case", true},
      {"near_duplicate", true},
      {"contraction", true},
      {"subject", false},
      {"unit", false},
      {"number", false},
      {"negation", false},
      {"antonym", false},
      {"entity_country", false},
      {"entity_city", false},
      {"entity_product_plan", false},
      {"entity_language", false},
      {"entity_programming_language", false},
      {"entity_person", false},
      {"entity_other", false},
      {"direction", false},
      {"time", false},
      {"topic", false},
      {"code", false},
      {"quoted", false},
  };
  return kinds;
}

// A kind with fewer pairs says little about its guard or its recall.
constexpr int kMinPairsPerKind = 30;
// Just below what the lexical embedder reaches at the default threshold (0.433 on 1,065 pairs),
// so a change that loses paraphrases fails here; raise it when the embedder improves.
constexpr double kRecallFloor = 0.42;

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

// Whether the fact guards alone tell the two questions apart, whatever their similarity: a
// must-miss pair they don't is kept apart only by the threshold and the embedder; a must-hit pair
// they do can never hit, whatever the embedder.
bool factsTellApart(const Pair& pair) {
  return !factsAgree(factsOf(keyOf(pair.b).question), factsOf(keyOf(pair.a).question));
}

struct Tally {
  int pairs = 0;
  int hits = 0;        // answered from the cache at the default threshold
  int told_apart = 0;  // facts disagree: a guard keeps them apart
};

void printKind(const std::string& kind, bool must_hit, const Tally& tally) {
  std::cout << "  " << std::left << std::setw(28) << kind << std::right;
  if (must_hit) {
    std::cout << "must hit:  recall " << std::setprecision(3) << double(tally.hits) / tally.pairs
              << " (" << tally.hits << "/" << tally.pairs << "); facts block " << tally.told_apart
              << "\n";
  } else {
    std::cout << "must miss: " << tally.hits << " false hits of " << tally.pairs
              << "; facts tell apart " << tally.told_apart << "/" << tally.pairs << "\n";
  }
}

// How the threshold trades recall for risk, for whoever tunes a policy.
void printThresholdSweep(const Embedder& embedder, const std::vector<Pair>& pairs) {
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
}

TEST(LabelledPairs, EveryKindIsKnownLabelledByItsSideAndLargeEnough) {
  const std::vector<Pair> pairs = labelledPairs();
  ASSERT_GE(pairs.size(), 1000u) << "tests/data/cache_pairs.jsonl";
  std::map<std::string, int> counts;
  for (const Pair& pair : pairs) {
    auto kind = kinds().find(pair.kind);
    if (kind == kinds().end()) {
      ADD_FAILURE() << "unknown kind " << pair.kind << ": \"" << pair.b << "\"";
      continue;
    }
    EXPECT_EQ(pair.expect_hit, kind->second) << pair.kind << ": \"" << pair.b << "\"";
    ++counts[pair.kind];
  }
  for (const auto& [kind, must_hit] : kinds()) {
    EXPECT_GE(counts[kind], kMinPairsPerKind) << kind;
  }
}

TEST(LabelledPairs, NoFalseHitsAndTheRecallIsReported) {
  const std::vector<Pair> pairs = labelledPairs();
  ASSERT_GE(pairs.size(), 1000u) << "tests/data/cache_pairs.jsonl";
  const Embedder& embedder = defaultBuiltInEmbedder();
  const float threshold = filters::semantic_cache::CachePolicy{}.threshold;
  int true_hits = 0, false_hits = 0, missed = 0, true_misses = 0;
  std::map<std::string, Tally> by_kind;
  for (const Pair& pair : pairs) {
    bool hit = hits(embedder, threshold, pair.a, pair.b);
    Tally& tally = by_kind[pair.kind];
    ++tally.pairs;
    tally.hits += hit ? 1 : 0;
    tally.told_apart += factsTellApart(pair) ? 1 : 0;
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
  std::cout << std::fixed;
  for (bool must_hit : {true, false}) {
    for (const auto& [kind, tally] : by_kind) {
      auto known = kinds().find(kind);
      if ((known != kinds().end() && known->second) == must_hit) printKind(kind, must_hit, tally);
    }
  }
  std::cout << "cache pairs: " << pairs.size() << " at threshold " << std::setprecision(2)
            << threshold << ": " << true_hits << " hits, " << missed << " missed hits, "
            << false_hits << " false hits, " << true_misses << " right misses; precision "
            << std::setprecision(3) << precision << ", recall " << recall << "\n";
  printThresholdSweep(embedder, pairs);
  EXPECT_EQ(false_hits, 0);
  // A cache that never hits is useless, and a change that loses paraphrases should be seen.
  EXPECT_GE(recall, kRecallFloor);
}

}  // namespace
}  // namespace costgate::cache
