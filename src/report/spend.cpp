#include "costgate/report/spend.h"

#include <algorithm>
#include <cstdio>

#include "costgate/jsonview/document.h"
#include "costgate/log/access_log.h"

namespace costgate::report {

std::optional<Dimension> dimensionNamed(std::string_view name) {
  for (std::size_t i = 0; i < kDimensionNames.size(); ++i) {
    if (kDimensionNames[i] == name) return static_cast<Dimension>(i);
  }
  return std::nullopt;
}

bool isTimestampPrefix(std::string_view text) {
  constexpr std::string_view kShape = "0000-00-00T00:00:00.000Z";
  if (text.empty() || text.size() > kShape.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == '0' ? !digit : text[i] != kShape[i]) return false;
  }
  return true;
}

void SpendTotals::add(const Call& call) {
  auto value = [&call](Dimension dimension) -> std::string_view {
    const std::string& tag = call.tags[static_cast<std::size_t>(dimension)];
    return tag.empty() ? std::string_view("none") : std::string_view(tag);
  };
  // Most calls are grouped as the one before: its group is compared first, with no key built.
  Totals* group = nullptr;
  if (last_key_) {
    bool same = true;
    for (std::size_t i = 0; i < by_.size() && same; ++i) same = (*last_key_)[i] == value(by_[i]);
    if (same) group = last_totals_;
  }
  if (!group) {
    std::vector<std::string> key;
    key.reserve(by_.size());
    for (Dimension dimension : by_) key.emplace_back(value(dimension));
    auto it = groups_.find(key);
    if (it == groups_.end()) {
      if (groups_.size() >= max_groups_) std::fill(key.begin(), key.end(), "other");
      it = groups_.try_emplace(std::move(key)).first;
    }
    last_key_ = &it->first;
    last_totals_ = group = &it->second;
  }
  for (Totals* totals : {group, &total_}) {
    ++totals->calls;
    totals->tokens_in += call.tokens_in;
    totals->tokens_out += call.tokens_out;
    totals->cost = pricing::addSaturating(totals->cost, call.cost);
    totals->saved = pricing::addSaturating(totals->saved, call.saved);
    totals->tokens_cached += call.tokens_cached;
  }
}

namespace {

std::vector<std::pair<const std::vector<std::string>*, const Totals*>> byCost(
    const std::map<std::vector<std::string>, Totals>& groups) {
  std::vector<std::pair<const std::vector<std::string>*, const Totals*>> rows;
  for (const auto& [key, totals] : groups) rows.emplace_back(&key, &totals);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second->cost > b.second->cost; });
  return rows;
}

// CSV: quoted when it holds a comma, a quote or a line break.
std::string csvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::string SpendTotals::table() const {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> header;
  for (Dimension dimension : by_) {
    header.emplace_back(kDimensionNames[static_cast<std::size_t>(dimension)]);
  }
  for (const char* column : {"calls", "tokens_in", "tokens_out", "cost_usd", "saved_usd"}) {
    header.emplace_back(column);
  }
  cells.push_back(header);
  auto numbers = [](const Totals& totals) {
    return std::vector<std::string>{std::to_string(totals.calls), std::to_string(totals.tokens_in),
                                    std::to_string(totals.tokens_out),
                                    pricing::formatUsd(totals.cost),
                                    pricing::formatUsd(totals.saved)};
  };
  for (const auto& [key, totals] : byCost(groups_)) {
    std::vector<std::string> row = *key;
    for (auto& number : numbers(*totals)) row.push_back(std::move(number));
    cells.push_back(std::move(row));
  }
  std::vector<std::string> total_row(by_.size(), "");
  if (!total_row.empty()) total_row[0] = "total";
  for (auto& number : numbers(total_)) total_row.push_back(std::move(number));
  cells.push_back(std::move(total_row));

  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& row : cells) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : cells) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      bool number = i >= by_.size();  // numbers right-aligned, names left-aligned
      std::string pad(widths[i] - row[i].size(), ' ');
      out += i > 0 ? "  " : "";
      out += number ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : "");
    }
    out += '\n';
  }
  return out;
}

std::string SpendTotals::csv() const {
  std::string out;
  for (Dimension dimension : by_) {
    out.append(kDimensionNames[static_cast<std::size_t>(dimension)]).append(",");
  }
  out += "calls,tokens_in,tokens_out,cost_usd,saved_usd\n";
  for (const auto& [key, totals] : byCost(groups_)) {
    for (const auto& value : *key) out.append(csvField(value)).append(",");
    out += std::to_string(totals->calls) + "," + std::to_string(totals->tokens_in) + "," +
           std::to_string(totals->tokens_out) + "," + pricing::formatUsd(totals->cost) + "," +
           pricing::formatUsd(totals->saved) + "\n";
  }
  return out;
}

namespace {

// The provider-cached share of the input tokens, to three decimals, or null without input.
std::string cachedShare(const Totals& totals) {
  if (totals.tokens_in == 0) return "null";
  const double share =
      static_cast<double>(totals.tokens_cached) / static_cast<double>(totals.tokens_in);
  char text[16];
  std::snprintf(text, sizeof text, "%.3f", std::min(share, 1.0));
  return text;
}

}  // namespace

std::string SpendTotals::json() const {
  auto numbers = [](const Totals& totals) {
    return "\"calls\":" + std::to_string(totals.calls) +
           ",\"tokens_in\":" + std::to_string(totals.tokens_in) +
           ",\"tokens_out\":" + std::to_string(totals.tokens_out) + ",\"cost_usd\":\"" +
           pricing::formatUsd(totals.cost) + "\",\"saved_usd\":\"" +
           pricing::formatUsd(totals.saved) +
           "\",\"tokens_cached\":" + std::to_string(totals.tokens_cached) +
           ",\"cached_share\":" + cachedShare(totals);
  };
  std::string out = "{\"groups\":[";
  bool first = true;
  for (const auto& [key, totals] : byCost(groups_)) {
    out += first ? "{" : ",{";
    first = false;
    for (std::size_t i = 0; i < by_.size(); ++i) {
      log::appendJsonString(out, kDimensionNames[static_cast<std::size_t>(by_[i])]);
      out += ':';
      log::appendJsonString(out, (*key)[i]);
      out += ',';
    }
    out += numbers(*totals) + "}";
  }
  return out + "],\"total\":{" + numbers(total_) + "}}";
}

std::vector<Call> callsFromLogLine(std::string_view line, std::string_view since,
                                   std::string_view until) {
  std::vector<Call> calls;
  auto document = jsonview::Document::parse(line);
  if (!document || !document->root().isObject()) return calls;
  auto root = document->root();
  auto text = [&](std::string_view key) -> std::string {
    auto value = root.find(key);
    return value && value->isString() ? value->string() : std::string();
  };
  std::string ts = text("ts");
  if (!since.empty() && ts < since) return calls;
  if (!until.empty() && ts >= until) return calls;
  Call call;
  call.tags = {text("feature"), text("team"), text("env"), text("model")};
  std::string route = text("route");
  bool proxied = route == "chat_completions" || route == "completions" || route == "embeddings";
  if (!proxied || call.tags[3].empty() || call.tags[3] == "unknown") return calls;
  auto countIn = [](const jsonview::Value& object, std::string_view key) -> std::uint64_t {
    auto value = object.find(key);
    auto number = value ? value->integer() : std::nullopt;
    return number && *number > 0 ? static_cast<std::uint64_t>(*number) : 0;
  };
  // A cache hit logs the usage of the answer it gave, which it did not use again.
  bool cached = false;
  if (auto source = root.find("usage_source"); source && source->isString()) {
    cached = source->stringEquals("cache");
  }
  call.tokens_in = cached ? 0 : countIn(root, "tokens_in");
  call.tokens_out = cached ? 0 : countIn(root, "tokens_out");
  call.tokens_cached = cached ? 0 : countIn(root, "cached_tokens");
  // The log writes cost as exact decimal text; read back exactly.
  if (auto cost = root.find("cost_usd")) call.cost = pricing::parseUsd(cost->raw()).value_or(0);
  if (auto saved = root.find("saved_usd")) {
    call.saved = pricing::parseUsd(saved->raw()).value_or(0);
  }
  calls.push_back(call);
  // Other calls made for the request (an embedding, a cascade's escalated attempt): the same
  // tags, their own model and cost.
  if (auto sides = root.find("side_calls"); sides && sides->isArray()) {
    for (const jsonview::Value& side : sides->elements()) {
      if (!side.isObject()) continue;
      auto model = side.find("model");
      if (!model || !model->isString()) continue;
      Call extra;
      extra.tags = {call.tags[0], call.tags[1], call.tags[2], model->string()};
      extra.tokens_in = countIn(side, "tokens_in");
      extra.tokens_out = countIn(side, "tokens_out");
      extra.tokens_cached = countIn(side, "cached_tokens");
      if (auto cost = side.find("cost_usd")) {
        extra.cost = pricing::parseUsd(cost->raw()).value_or(0);
      }
      calls.push_back(std::move(extra));
    }
  }
  return calls;
}

}  // namespace costgate::report
