#pragma once
// Spend totals for showback and chargeback: calls, tokens and cost grouped by any of feature,
// team, env and model. Fed from access-log lines by `costgate report`, and from finished
// exchanges by the gateway's /costgate/spend endpoint. Plain data, no I/O.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "costgate/pricing/price.h"

namespace costgate::report {

enum class Dimension { kFeature, kTeam, kEnv, kModel };
inline constexpr std::array<std::string_view, 4> kDimensionNames = {"feature", "team", "env",
                                                                    "model"};
// "feature" -> Dimension::kFeature; nullopt for anything else.
std::optional<Dimension> dimensionNamed(std::string_view name);

struct Call {
  std::array<std::string, 4> tags;  // by Dimension; empty = not tagged
  std::uint64_t tokens_in = 0;
  std::uint64_t tokens_out = 0;
  pricing::Nanos cost = 0;          // 0 for unpriced calls
  pricing::Nanos saved = 0;         // a cache hit: what the call it was spared would have cost
  std::uint64_t tokens_cached = 0;  // of tokens_in, billed as the provider's cached input
};

struct Totals {
  std::uint64_t calls = 0;
  std::uint64_t tokens_in = 0;
  std::uint64_t tokens_out = 0;
  pricing::Nanos cost = 0;
  pricing::Nanos saved = 0;
  std::uint64_t tokens_cached = 0;
};

class SpendTotals {
 public:
  // Groups by `by` (in that order); at most `max_groups` groups, then further ones add to a group
  // whose values are all "other", so memory stays bounded whatever the tags.
  explicit SpendTotals(std::vector<Dimension> by, std::size_t max_groups = 100'000)
      : by_(std::move(by)), max_groups_(max_groups) {}
  // Not copied: the group of the last call is remembered by its address in groups_.
  SpendTotals(const SpendTotals&) = delete;
  SpendTotals& operator=(const SpendTotals&) = delete;

  void add(const Call& call);
  const std::vector<Dimension>& by() const { return by_; }
  // The groups in order of their values, and everything together.
  const std::map<std::vector<std::string>, Totals>& groups() const { return groups_; }
  const Totals& total() const { return total_; }

  // A fixed-width table, most expensive group first, with a total line.
  std::string table() const;
  // CSV with a header line; cost as exact decimal USD.
  std::string csv() const;
  // {"groups":[{"feature":...,"calls":...,"tokens_in":...,"tokens_out":...,"cost_usd":"...",
  //  "saved_usd":"...","tokens_cached":...,"cached_share":0.875}],"total":{...}}; cached_share is
  //  the provider-cached part of tokens_in (how warm its prompt cache is kept), null without input.
  std::string json() const;

 private:
  std::vector<Dimension> by_;
  std::size_t max_groups_;
  std::map<std::vector<std::string>, Totals> groups_;
  Totals total_;
  // The group the last call was added to (map nodes do not move).
  const std::vector<std::string>* last_key_ = nullptr;
  Totals* last_totals_ = nullptr;
};

// Whether `text` is a prefix of the access log's timestamps (2026-11-28T18:30:13.402Z), as
// --since and --until take: "2026-11-28", "2026-11-28T18:00".
bool isTimestampPrefix(std::string_view text);

// The calls of one access-log line, if it is a proxied call's line (it has a route and a model)
// whose timestamp is in [since, until) (ISO 8601 prefixes such as "2026-11-28" or
// "2026-11-28T18:00"; empty = unbounded): the request's own call, then its side_calls (an
// embedding, a cascade's escalated attempts), each under its own model. None for other lines
// and for lines that are not JSON.
std::vector<Call> callsFromLogLine(std::string_view line, std::string_view since,
                                   std::string_view until);

}  // namespace costgate::report
