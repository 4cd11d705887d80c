// Semantic cache micro-benchmark (issue 5): lookup latency at N entries and memory per entry, on
// the real MemoryStore, LexicalEmbedder, factsOf and requestKeyOf.
//
//   costgate-cache-bench [--entries N] [--queries M] [--threshold T] [--seed S] [--passes P]
//
// 1. N distinct support-style questions come from a seeded generator (templates x actions x
//    objects x products x versions x numbers x names). Each becomes a chat body
//    {"model":"m","messages":[{"role":"user","content":q}]} keyed with requestKeyOf(body,
//    "team/feature", "m"): one partition for all of them, the worst case for a semantic search.
//    Its facts and vector go into a MemoryStore (max_entries = N) beside a ~600-byte
//    chat.completion answer. RSS (VmRSS) is read before and after the fill, with jemalloc's dirty
//    pages purged first, and compared with the store's own byte count.
// 2. M lookups, half exact repeats of stored questions and half near-duplicate paraphrases (a
//    punctuation change, "can" for "do", ", please", ...), each timed as the filter runs it:
//    requestKeyOf + findExact, and on a miss factsOf + embed + findSimilar. The body is parsed
//    before the clock starts: the gateway indexes a request once for all of its filters. Each
//    lookup runs in --passes passes (3) and its fastest counts, which takes out the milliseconds
//    lost when another process gets the core; the first pass alone is printed beside it, with
//    how many of its lookups getrusage saw switched out.
//
// Everything is single-threaded and deterministic for a given seed (the generator uses only
// mt19937_64's raw output, which the standard fixes).

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <variant>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "costgate/cache/embedder.h"
#include "costgate/cache/facts.h"
#include "costgate/cache/request_key.h"
#include "costgate/cache/store.h"
#include "costgate/jsonview/document.h"
#include "costgate/log/access_log.h"

// jemalloc's control interface, when the binary is linked with it (weak: the bench still runs, with
// less exact RSS figures, under another allocator).
extern "C" int mallctl(const char* name, void* oldp, std::size_t* oldlenp, void* newp,
                       std::size_t newlen) __attribute__((weak));

namespace {

namespace cache = costgate::cache;
namespace jsonview = costgate::jsonview;
using Steady = std::chrono::steady_clock;

constexpr std::string_view kTenant = "team/feature";
constexpr std::string_view kModel = "m";
constexpr std::size_t kAnswerBytes = 600;

struct Options {
  std::size_t entries = 100000;
  std::size_t queries = 2000;
  float threshold = 0.9f;
  std::uint64_t seed = 20250105;
  int passes = 3;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "costgate-cache-bench: %s\nusage: costgate-cache-bench [--entries N] [--queries M] "
               "[--threshold T] [--seed S] [--passes P]\n",
               message);
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (i + 1 >= argc) usage("an option is missing its value");
    const char* value = argv[++i];
    char* end = nullptr;
    if (arg == "--entries") {
      options.entries = std::strtoull(value, &end, 10);
    } else if (arg == "--queries") {
      options.queries = std::strtoull(value, &end, 10);
    } else if (arg == "--threshold") {
      options.threshold = std::strtof(value, &end);
    } else if (arg == "--passes") {
      options.passes = static_cast<int>(std::strtol(value, &end, 10));
    } else if (arg == "--seed") {
      options.seed = std::strtoull(value, &end, 10);
    } else {
      usage("unknown option");
    }
    if (end == value || *end != '\0') usage("an option's value is not a number");
  }
  if (options.entries == 0) usage("--entries must be at least 1");
  if (options.queries < 2) usage("--queries must be at least 2");
  if (options.passes < 1) usage("--passes must be at least 1");
  return options;
}

// ---- Deterministic generation -------------------------------------------------------------------

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  // Modulo bias is irrelevant here; what matters is the same sequence on every platform, which
  // std::uniform_int_distribution does not promise.
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(engine_() % n); }
  template <class T, std::size_t N>
  const T& pick(const T (&list)[N]) {
    return list[below(N)];
  }
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  std::mt19937_64 engine_;
};

constexpr std::string_view kActions[] = {
    "reset",   "change",    "export",  "import",    "rename",  "archive",  "restore",   "share",
    "sync",    "back up",   "migrate", "duplicate", "merge",   "transfer", "recover",   "download",
    "upload",  "schedule",  "update",  "configure", "encrypt", "move",     "copy",      "print",
    "convert", "tag",       "filter",  "sort",      "search",  "pin",      "publish",   "verify",
    "edit",    "customize", "audit",   "reorder",   "preview", "link",     "translate", "refresh"};
constexpr std::string_view kObjects[] = {"password",
                                         "profile picture",
                                         "billing address",
                                         "invoices",
                                         "API key",
                                         "project",
                                         "workspace",
                                         "calendar",
                                         "contact list",
                                         "email signature",
                                         "team members",
                                         "dashboard",
                                         "monthly report",
                                         "spreadsheet",
                                         "notification settings",
                                         "custom domain",
                                         "SSH key",
                                         "webhook",
                                         "database",
                                         "repository",
                                         "release branch",
                                         "backup",
                                         "subscription",
                                         "payment method",
                                         "shared folder",
                                         "user roles",
                                         "time zone",
                                         "language settings",
                                         "recovery codes",
                                         "audit log",
                                         "pipeline",
                                         "landing page",
                                         "product catalog",
                                         "support tickets",
                                         "meeting notes",
                                         "survey results",
                                         "access tokens",
                                         "storage bucket",
                                         "customer records",
                                         "sales forecast"};
constexpr std::string_view kProducts[] = {
    "Jira",       "Slack",      "GitHub",         "Notion",     "Dropbox",   "Zoom",
    "Salesforce", "Shopify",    "Trello",         "Asana",      "Figma",     "HubSpot",
    "Zendesk",    "Confluence", "Outlook",        "Gmail",      "WordPress", "Stripe",
    "Airtable",   "Miro",       "Linear",         "GitLab",     "Bitbucket", "Datadog",
    "Grafana",    "Postgres",   "Docker Desktop", "Kubernetes", "Excel",     "Google Sheets"};
constexpr std::string_view kVersions[] = {"",
                                          "",
                                          "",
                                          " 2",
                                          " 3",
                                          " 8.1",
                                          " 2023",
                                          " 2024",
                                          " v5",
                                          " Cloud",
                                          " Server",
                                          " for Mac",
                                          " on Android",
                                          " on iOS",
                                          " Enterprise",
                                          " Desktop",
                                          " for Windows",
                                          " 11",
                                          " 16.4",
                                          " Data Center"};
constexpr std::string_view kNames[] = {
    "Alice", "Bob",   "Priya", "Chen",   "Fatima", "Lucas", "Mei",   "Omar",  "Sofia",
    "Kenji", "Amara", "Diego", "Hannah", "Ivan",   "Leila", "Mateo", "Nadia", "Oscar",
    "Ravi",  "Sven",  "Tomas", "Yuki",   "Zara",   "Elena", "Jonas", "Aisha", "Pedro"};
constexpr std::string_view kCountables[] = {
    "projects", "users",   "invoices", "files",  "messages", "API calls",   "dashboards",
    "webhooks", "reports", "seats",    "guests", "channels", "automations", "exports"};
constexpr std::string_view kPeriods[] = {"hour", "day", "week", "month", "year"};
constexpr std::string_view kPlans[] = {"Free",       "Starter", "Pro",    "Business",
                                       "Enterprise", "Team",    "Premium"};
constexpr std::string_view kSymptoms[] = {
    "crash",           "log me out",   "show a blank page",    "run so slowly",
    "stop syncing",    "fail to load", "use so much memory",   "freeze",
    "drop my changes", "time out",     "show the wrong dates", "send duplicate emails"};
constexpr std::string_view kEvents[] = {
    "the latest update",       "I changed my password",   "installing a plugin",
    "switching to dark mode",  "the migration",           "a restart",
    "connecting my calendar",  "adding a second monitor", "moving to a new laptop",
    "enabling single sign-on", "the outage yesterday",    "upgrading the browser"};
constexpr std::string_view kSizes[] = {"1", "2", "5", "10", "20", "50", "100", "250", "500"};

std::string numberBetween(Random& random, std::size_t low, std::size_t high) {
  return std::to_string(low + random.below(high - low + 1));
}

// One question; the templates mirror what a support assistant is asked.
std::string question(Random& random) {
  std::string q;
  // A braced list is evaluated left to right (function arguments are not): the same questions
  // with every compiler.
  auto add = [&q](std::initializer_list<std::string_view> parts) {
    for (std::string_view part : parts) q.append(part);
  };
  switch (random.below(10)) {
    case 0:
      add({"How do I ", random.pick(kActions), " my ", random.pick(kObjects), " in ",
           random.pick(kProducts), random.pick(kVersions), "?"});
      break;
    case 1:
      add({"How do I ", random.pick(kActions), " the ", random.pick(kObjects), " for ",
           random.pick(kNames), "'s account in ", random.pick(kProducts), "?"});
      break;
    case 2:
      add({"Can I ", random.pick(kActions), " more than ", numberBetween(random, 2, 5000), " ",
           random.pick(kCountables), " per ", random.pick(kPeriods), " on the ",
           random.pick(kPlans), " plan of ", random.pick(kProducts), "?"});
      break;
    case 3:
      add({"Why does ", random.pick(kProducts), random.pick(kVersions), " ", random.pick(kSymptoms),
           " after ", random.pick(kEvents), "?"});
      break;
    case 4:
      add({"What does error ", numberBetween(random, 400, 599), " mean when I try to ",
           random.pick(kActions), " my ", random.pick(kObjects), " in ", random.pick(kProducts),
           "?"});
      break;
    case 5: {
      std::string_view a = random.pick(kPlans);
      std::string_view b = random.pick(kPlans);
      while (b == a) b = random.pick(kPlans);
      add({"What is the difference between the ", a, " and ", b, " plans of ",
           random.pick(kProducts), random.pick(kVersions), "?"});
      break;
    }
    case 6:
      add({"Is there a way to ", random.pick(kActions), " the ", random.pick(kObjects), " of ",
           numberBetween(random, 2, 900), " users at once in ", random.pick(kProducts), "?"});
      break;
    case 7:
      add({random.pick(kNames), " asked me how to ", random.pick(kActions), " the ",
           random.pick(kObjects), " in ", random.pick(kProducts), ". What should I tell them?"});
      break;
    case 8: {
      std::string_view from = random.pick(kProducts);
      std::string_view to = random.pick(kProducts);
      while (to == from) to = random.pick(kProducts);
      add({"How long does it take to ", random.pick(kActions), " a ", random.pick(kSizes), " GB ",
           random.pick(kObjects), " from ", from, " to ", to, "?"});
      break;
    }
    default:
      add({"My ", random.pick(kObjects), " in ", random.pick(kProducts), random.pick(kVersions),
           " stopped working after ", random.pick(kEvents), ". How can I fix it?"});
      break;
  }
  return q;
}

// A near duplicate of `q`: one or two small edits a user makes when asking the same thing again
// (a wording swap, ", please", punctuation, lower case, a typo, a greeting).
std::string paraphrase(const std::string& q, Random& random, bool* typo) {
  struct Swap {
    std::string_view from, to;
  };
  static constexpr Swap kSwaps[] = {{"How do I ", "How can I "},
                                    {"Can I ", "Could I "},
                                    {"What is ", "What's "},
                                    {"Is there a way", "Is there any way"},
                                    {"How can I fix it", "How do I fix it"},
                                    {"What should I tell them", "What do I tell them"},
                                    {" my ", " the "},
                                    {"How long does it take", "How long will it take"},
                                    {"What does error", "What does the error"}};
  std::string text = q;
  int edits = 1 + static_cast<int>(random.below(2));
  for (int tries = 0; edits > 0 && tries < 16; ++tries) {
    std::string before = text;
    switch (random.below(6)) {
      case 0: {  // a wording swap
        const Swap& swap = random.pick(kSwaps);
        if (auto at = text.find(swap.from); at != std::string::npos) {
          text.replace(at, swap.from.size(), swap.to);
        }
        break;
      }
      case 1:  // ", please" before the final mark
        if (text.find("please") == std::string::npos && text.ends_with("?")) {
          text.insert(text.size() - 1, ", please");
        }
        break;
      case 2:  // punctuation: no question mark, or two
        if (text.ends_with("??")) break;
        if (text.ends_with("?")) text.pop_back();
        if (random.chance(50)) text += "??";
        break;
      case 3:  // typed in lower case
        if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = char(text[0] - 'A' + 'a');
        break;
      case 4: {  // a typo: two letters of a plain lower-case word swapped
        std::vector<std::pair<std::size_t, std::size_t>> words;  // begin, length
        for (std::size_t at = 0; at < text.size();) {
          std::size_t end = at;
          while (end < text.size() && text[end] >= 'a' && text[end] <= 'z') ++end;
          bool word_ends = end == text.size() || text[end] == ' ' || text[end] == '?' ||
                           text[end] == '.' || text[end] == ',';
          bool word_starts = at == 0 || text[at - 1] == ' ';
          if (end - at >= 6 && word_starts && word_ends) words.emplace_back(at, end - at);
          at = std::max(end, at + 1);
        }
        if (words.empty()) break;
        auto [begin, length] = words[random.below(words.size())];
        std::size_t i = begin + 1 + random.below(length - 3);
        if (text[i] == text[i + 1]) break;
        std::swap(text[i], text[i + 1]);
        *typo = true;
        break;
      }
      default: {  // a greeting in front, the old first word lower-cased
        std::string_view first(text.data(), std::min(text.find(' '), text.size()));
        // A name or product stays capitalized, and would then read as a name inside the sentence.
        bool proper = std::find(std::begin(kNames), std::end(kNames), first) != std::end(kNames);
        if (proper || text.starts_with("hi, ") || text.empty() || text[0] < 'A' || text[0] > 'Z') {
          break;
        }
        text[0] = char(text[0] - 'A' + 'a');
        text.insert(0, "hi, ");
        break;
      }
    }
    if (text != before) --edits;
  }
  return text;
}

// `text` as a JSON string, quotes included.
std::string quoted(std::string_view text) {
  std::string out;
  costgate::log::appendJsonString(out, text);
  return out;
}

std::string chatBody(std::string_view q) {
  return R"({"model":"m","messages":[{"role":"user","content":)" + quoted(q) + "}]}";
}

std::uint64_t wordCount(std::string_view text) {
  return 1 + static_cast<std::uint64_t>(std::count(text.begin(), text.end(), ' '));
}

// A chat.completion as OpenAI returns it, about kAnswerBytes long; its id carries the entry's
// index so a semantic hit can be checked against the question it came from.
std::string answerBody(std::size_t index, std::string_view q, std::uint64_t* completion_tokens) {
  constexpr std::string_view kSteps =
      "Open Settings, choose the section the item belongs to and select it. Use the menu in the "
      "top right corner, pick the option you need, confirm, and wait for the notification that "
      "the change is done. If the option is greyed out, ask a workspace admin to grant you the "
      "permission first; changes can take a few minutes to show on other devices. ";
  std::string content = "Here is how to do that: ";
  content += kSteps;
  char head[160];
  std::snprintf(head, sizeof head,
                R"({"id":"chatcmpl-cb%015zu","object":"chat.completion","created":%zu,)"
                R"("model":"m","choices":[{"index":0,"message":{"role":"assistant","content":)",
                index, std::size_t{1735000000} + index);
  std::string tail = R"(,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{)";
  std::uint64_t prompt = wordCount(q) * 4 / 3 + 8;
  std::uint64_t completion = 0;
  std::string usage;
  // Trim the answer so the whole body is about kAnswerBytes; the question is not repeated in it,
  // as an answer would not repeat it either, but its length moves the usage figures.
  std::size_t fixed = std::strlen(head) + tail.size() + 60 + 80;
  if (fixed < kAnswerBytes) {
    std::size_t room = kAnswerBytes - fixed;
    if (content.size() > room) content.resize(room);
    while (!content.empty() && content.back() == ' ') content.pop_back();
  }
  completion = wordCount(content) * 4 / 3;
  char numbers[200];
  std::snprintf(
      numbers, sizeof numbers,
      R"("prompt_tokens":%)" PRIu64 R"(,"completion_tokens":%)" PRIu64 R"(,"total_tokens":%)" PRIu64
      R"(,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_0c3b1b07e1"})",
      prompt, completion, prompt + completion);
  *completion_tokens = completion;
  return head + quoted(content) + tail + numbers;
}

// ---- Measurement
// ---------------------------------------------------------------------------------

// Resident set size in bytes, from /proc/self/status.
std::size_t residentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

// jemalloc keeps freed pages resident for a while; purging them makes two RSS readings comparable.
void purgeAllocator() {
  if (mallctl) mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);  // MALLCTL_ARENAS_ALL
}

// Bytes the allocator has handed out and not taken back (jemalloc only; 0 otherwise).
std::size_t allocatedBytes() {
  if (!mallctl) return 0;
  std::uint64_t epoch = 1;
  std::size_t length = sizeof epoch;
  mallctl("epoch", &epoch, &length, &epoch, length);
  std::size_t allocated = 0;
  length = sizeof allocated;
  if (mallctl("stats.allocated", &allocated, &length, nullptr, 0) != 0) return 0;
  return allocated;
}

// Times the scheduler took this thread off its core for another while it could have run.
long involuntarySwitches() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_nivcsw;
}

double microsecondsBetween(Steady::time_point from, Steady::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

struct Summary {
  std::size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles.
Summary summarize(std::vector<double> samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  auto rank = [&](double q) {
    auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<std::size_t>(index, 1, samples.size()) - 1];
  };
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.max = samples.back();
  double total = 0;
  for (double v : samples) total += v;
  s.mean = total / static_cast<double>(samples.size());
  return s;
}

void printRow(const char* label, const Summary& s) {
  std::printf("  %-34s %6zu %10.1f %10.1f %10.1f %10.1f %10.1f\n", label, s.count, s.p50, s.p90,
              s.p99, s.max, s.mean);
}

double kib(double bytes) { return bytes / 1024.0; }

double percent(std::size_t part, std::size_t whole) {
  return whole ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

cache::RequestKey keyOf(const std::string& body_text) {
  auto document = jsonview::Document::parse(body_text);
  if (!document) {
    std::fprintf(stderr, "costgate-cache-bench: a generated body is not JSON: %s\n",
                 body_text.c_str());
    std::exit(1);
  }
  auto key = cache::requestKeyOf(document->root(), kTenant, kModel);
  if (auto* why = std::get_if<cache::Uncacheable>(&key)) {
    std::fprintf(stderr, "costgate-cache-bench: a generated body is uncacheable: %s\n",
                 why->reason.c_str());
    std::exit(1);
  }
  return std::get<cache::RequestKey>(std::move(key));
}

// The index carried by an answer's id ("chatcmpl-cb000000000012345").
std::optional<std::size_t> answerIndex(const std::string& body) {
  auto at = body.find("chatcmpl-cb");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(body.c_str() + at + 11, nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parseOptions(argc, argv);
  const std::size_t n = options.entries;
  const auto now = cache::Clock::now();
  const auto expires = now + std::chrono::hours(24);

  // -- The questions -------------------------------------------------------------------------
  Random random(options.seed);
  std::vector<std::string> questions;
  questions.reserve(n);
  {
    std::unordered_set<std::string> seen;
    seen.reserve(n * 2);
    std::size_t attempts = 0;
    while (questions.size() < n) {
      if (++attempts > n * 50 + 1000) {
        std::fprintf(stderr, "costgate-cache-bench: cannot generate %zu distinct questions\n", n);
        return 1;
      }
      std::string q = question(random);
      if (seen.insert(q).second) questions.push_back(std::move(q));
    }
  }
  std::size_t question_bytes = 0;
  for (const auto& q : questions) question_bytes += q.size();

  // The lookups: half exact repeats, half paraphrases that are not themselves stored questions.
  struct Query {
    std::string text;
    std::size_t source;
    bool exact;
    bool typo;
  };
  std::vector<Query> queries;
  {
    std::unordered_set<std::string_view> stored(questions.begin(), questions.end());
    std::size_t exact_count = options.queries / 2;
    for (std::size_t i = 0; i < options.queries; ++i) {
      std::size_t source = random.below(n);
      bool exact = i < exact_count;
      std::string text = questions[source];
      bool typo = false;
      if (!exact) {
        for (int tries = 0; tries < 8 && (text == questions[source] || stored.contains(text));
             ++tries) {
          typo = false;
          text = paraphrase(questions[source], random, &typo);
        }
        if (text == questions[source] || stored.contains(text)) continue;  // rare; skip
      }
      queries.push_back({std::move(text), source, exact, typo});
    }
    // Fisher-Yates by hand: std::shuffle's order differs between standard libraries.
    for (std::size_t i = queries.size(); i > 1; --i)
      std::swap(queries[i - 1], queries[random.below(i)]);
  }

  std::printf(
      "semantic cache bench: %zu entries in one partition, %zu lookups (%zu exact repeats, "
      "%zu paraphrases), threshold %.2f, seed %" PRIu64 "\n",
      n, queries.size(),
      static_cast<std::size_t>(
          std::count_if(queries.begin(), queries.end(), [](const Query& q) { return q.exact; })),
      static_cast<std::size_t>(
          std::count_if(queries.begin(), queries.end(), [](const Query& q) { return !q.exact; })),
      double{options.threshold}, options.seed);
  std::printf("machine: %u cores, load average %s",
              static_cast<unsigned>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))), [] {
                static char line[64] = "?\n";
                if (FILE* f = std::fopen("/proc/loadavg", "r")) {
                  if (!std::fgets(line, sizeof line, f)) std::strcpy(line, "?\n");
                  std::fclose(f);
                }
                return line;
              }());
  std::printf("allocator: %s\n", mallctl ? "jemalloc (dirty pages purged before each RSS reading)"
                                         : "not jemalloc (RSS readings include freed pages)");
  std::printf("sample questions:\n");
  for (std::size_t i = 0; i < 3 && i < questions.size(); ++i) {
    std::printf("  stored:     %s\n", questions[i].c_str());
  }
  for (std::size_t i = 0, shown = 0; i < queries.size() && shown < 3; ++i) {
    if (queries[i].exact) continue;
    std::printf("  paraphrase: %s\n      of:     %s\n", queries[i].text.c_str(),
                questions[queries[i].source].c_str());
    ++shown;
  }

  // -- The fill --------------------------------------------------------------------------------
  cache::LexicalEmbedder embedder;
  cache::MemoryStore store(n, std::size_t{64} << 30);
  std::size_t vectorless = 0;
  std::size_t answer_bytes = 0;

  purgeAllocator();
  const std::size_t rss_before = residentBytes();
  const std::size_t allocated_before = allocatedBytes();
  // store.put alone, timed into `times`.
  auto timedPut = [&store](cache::Entry entry, std::vector<double>& times) {
    const auto started = Steady::now();
    store.put(std::move(entry));
    times.push_back(microsecondsBetween(started, Steady::now()));
  };
  std::vector<double> put_times;
  put_times.reserve(n);
  const auto fill_started = Steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    std::string body = chatBody(questions[i]);
    cache::RequestKey key = keyOf(body);
    cache::Facts facts = cache::factsOf(key.question);
    std::optional<cache::Vector> vector = embedder.embed(key.question);
    if (!vector) ++vectorless;
    std::uint64_t completion_tokens = 0;
    cache::CachedAnswer answer{answerBody(i, questions[i], &completion_tokens), {}, "large"};
    answer.usage.prompt_tokens = wordCount(questions[i]) * 4 / 3 + 8;
    answer.usage.completion_tokens = completion_tokens;
    answer_bytes += answer.body.size();
    timedPut(cache::Entry{.key = std::move(key),
                          .facts = std::move(facts),
                          .vector = std::move(vector),
                          .answer = std::move(answer),
                          .expires_at = expires},
             put_times);
  }
  const double fill_seconds = std::chrono::duration<double>(Steady::now() - fill_started).count();
  purgeAllocator();
  const std::size_t rss_after = residentBytes();
  const std::size_t allocated_after = allocatedBytes();
  const cache::Store::Size size = store.size();
  if (size.entries != n) {
    std::fprintf(stderr, "costgate-cache-bench: the store holds %zu entries, not %zu\n",
                 size.entries, n);
    return 1;
  }

  // -- The lookups -----------------------------------------------------------------------------
  // Every lookup is timed in each of `passes` passes over the same queries in the same order, and
  // the fastest of its timings counts: what a lookup costs, without the milliseconds a process
  // loses when the scheduler hands its core to another (these machines are shared). The first
  // pass alone is reported too. The store does not change between passes (no entry expires), so
  // each query takes the same path every time; thousands of other lookups run between two
  // timings of one query, so the second finds no more of it in the CPU caches than the first.
  std::vector<std::string> bodies;
  bodies.reserve(queries.size());
  for (const Query& query : queries) bodies.push_back(chatBody(query.text));
  for (std::size_t i = 0; i < std::min<std::size_t>(10, queries.size()); ++i) {  // warm-up
    auto document = jsonview::Document::parse(bodies[i]);
    auto key = std::get<cache::RequestKey>(cache::requestKeyOf(document->root(), kTenant, kModel));
    if (!store.findExact(key.exact, now)) {
      auto vector = embedder.embed(key.question);
      if (vector) {
        store.findSimilar(key.partition, *vector, cache::factsOf(key.question), options.threshold,
                          now);
      }
    }
  }

  struct Timing {
    double total = 0, key = 0, facts = 0, embed = 0, similar = 0;
    bool semantic = false;  // went past findExact
    bool vector = false;    // had a vector to search with
    std::optional<cache::Level> level;
    float similarity = 0;
    std::optional<std::size_t> answer;  // the index of the entry that answered
    bool preempted = false;             // the thread was switched out involuntarily while it ran
  };
  auto lookup = [&](const std::string& body_text) {
    auto document = jsonview::Document::parse(body_text);  // once per request, by the gateway
    Timing t;
    const long switches = involuntarySwitches();
    const auto started = Steady::now();
    auto key_or = cache::requestKeyOf(document->root(), kTenant, kModel);
    const cache::RequestKey& key = std::get<cache::RequestKey>(key_or);
    std::optional<cache::Hit> hit = store.findExact(key.exact, now);
    const auto exact_done = Steady::now();
    if (!hit) {
      t.semantic = true;
      cache::Facts facts = cache::factsOf(key.question);
      const auto facts_done = Steady::now();
      std::optional<cache::Vector> vector = embedder.embed(key.question);
      const auto embed_done = Steady::now();
      t.facts = microsecondsBetween(exact_done, facts_done);
      t.embed = microsecondsBetween(facts_done, embed_done);
      if (vector) {
        t.vector = true;
        hit = store.findSimilar(key.partition, *vector, facts, options.threshold, now);
        t.similar = microsecondsBetween(embed_done, Steady::now());
      }
    }
    t.total = microsecondsBetween(started, Steady::now());
    t.preempted = involuntarySwitches() != switches;
    t.key = microsecondsBetween(started, exact_done);
    if (hit) {
      t.level = hit->level;
      t.similarity = hit->similarity;
      t.answer = answerIndex(hit->answer.body);
    }
    return t;
  };

  std::vector<Timing> best(queries.size());
  std::vector<double> first_pass, first_pass_unpreempted;
  for (int pass = 0; pass < options.passes; ++pass) {
    for (std::size_t i = 0; i < queries.size(); ++i) {
      Timing t = lookup(bodies[i]);
      if (pass == 0) {
        first_pass.push_back(t.total);
        if (!t.preempted) first_pass_unpreempted.push_back(t.total);
        best[i] = t;
      } else if (t.total < best[i].total) {
        best[i] = t;
      }
    }
  }

  std::vector<double> all, exact_hits, semantic, embed_times, similar_times, facts_times, key_times;
  std::size_t exact_asked = 0, exact_found = 0, no_vector = 0;
  std::size_t para_asked = 0, para_exact = 0, para_semantic = 0, para_right = 0, para_wrong = 0;
  std::size_t typo_asked = 0, typo_semantic = 0;
  double similarity_total = 0;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const Query& query = queries[i];
    const Timing& t = best[i];
    all.push_back(t.total);
    key_times.push_back(t.key);
    if (t.semantic) {
      semantic.push_back(t.total);
      facts_times.push_back(t.facts);
      embed_times.push_back(t.embed);
      if (t.vector) similar_times.push_back(t.similar);
      if (!t.vector) ++no_vector;
    }
    if (query.exact) {
      ++exact_asked;
      if (t.level == cache::Level::kExact) {
        ++exact_found;
        exact_hits.push_back(t.total);
      }
      continue;
    }
    ++para_asked;
    if (query.typo) ++typo_asked;
    if (t.level == cache::Level::kExact) ++para_exact;  // not expected
    if (t.level == cache::Level::kSemantic) {
      ++para_semantic;
      if (query.typo) ++typo_semantic;
      similarity_total += t.similarity;
      if (t.answer == query.source) {
        ++para_right;
      } else {
        ++para_wrong;
        std::printf("another's answer (similarity %.4f): %s\n  asked of:  %s\n  answered:  %s\n",
                    t.similarity, query.text.c_str(), questions[query.source].c_str(),
                    t.answer && *t.answer < questions.size() ? questions[*t.answer].c_str() : "?");
      }
    }
  }

  // -- Report ----------------------------------------------------------------------------------
  const Summary all_summary = summarize(all);
  const Summary exact_summary = summarize(exact_hits);
  const Summary semantic_summary = summarize(semantic);
  std::printf(
      "\nfill: %zu entries in %.2f s (%.1f us each: body index, requestKeyOf, factsOf, "
      "embed, put); %zu without a vector\n",
      n, fill_seconds, fill_seconds * 1e6 / static_cast<double>(n), vectorless);
  std::printf(
      "\nlookup latency, microseconds (one thread; body parsed before the clock starts; each "
      "lookup the fastest of %d passes)\n",
      options.passes);
  std::printf("  %-34s %6s %10s %10s %10s %10s %10s\n", "", "count", "p50", "p90", "p99", "max",
              "mean");
  printRow("exact hits (key + findExact)", exact_summary);
  printRow("semantic lookups (hit or miss)", semantic_summary);
  printRow("all lookups", all_summary);
  printRow("all lookups, first pass only", summarize(first_pass));
  printRow("  its lookups not preempted", summarize(first_pass_unpreempted));
  std::printf(
      "  (%zu of the first pass's %zu lookups were preempted: the thread was switched out "
      "for another process while it ran)\n",
      first_pass.size() - first_pass_unpreempted.size(), first_pass.size());
  std::printf("  parts:\n");
  printRow("  requestKeyOf + findExact", summarize(key_times));
  printRow("  factsOf alone", summarize(facts_times));
  printRow("  embed alone", summarize(embed_times));
  printRow("  findSimilar alone", summarize(similar_times));

  const std::size_t hits = exact_found + para_exact + para_semantic;
  std::printf("\nhit rate: %.1f%% of all lookups (%zu of %zu)\n",
              100.0 * static_cast<double>(hits) / static_cast<double>(queries.size()), hits,
              queries.size());
  std::printf("  exact repeats: %zu of %zu hit exact\n", exact_found, exact_asked);
  std::printf(
      "  paraphrases:   %zu of %zu hit semantic (%.1f%%; mean similarity %.3f), %zu hit "
      "exact; of the semantic hits %zu returned their own question's answer, %zu "
      "another's\n",
      para_semantic, para_asked, percent(para_semantic, para_asked),
      para_semantic ? similarity_total / static_cast<double>(para_semantic) : 0.0, para_exact,
      para_right, para_wrong);
  std::printf("    without a typo: %zu of %zu hit (%.1f%%); with a typo: %zu of %zu hit (%.1f%%)\n",
              para_semantic - typo_semantic, para_asked - typo_asked,
              percent(para_semantic - typo_semantic, para_asked - typo_asked), typo_semantic,
              typo_asked, percent(typo_semantic, typo_asked));
  if (no_vector) std::printf("  lookups without a vector: %zu\n", no_vector);

  const double rss_delta = static_cast<double>(rss_after) - static_cast<double>(rss_before);
  const double allocated_delta =
      static_cast<double>(allocated_after) - static_cast<double>(allocated_before);
  std::printf(
      "\nmemory: RSS %.1f MiB before the fill, %.1f MiB after (+%.1f MiB); store count "
      "%.1f MiB",
      static_cast<double>(rss_before) / 1048576.0, static_cast<double>(rss_after) / 1048576.0,
      rss_delta / 1048576.0, static_cast<double>(size.bytes) / 1048576.0);
  if (mallctl) {
    std::printf("; jemalloc allocated +%.1f MiB (counts reserved, untouched capacity too)",
                allocated_delta / 1048576.0);
  }
  std::printf(
      "\n  per entry the data alone: answer %.0f B, question %.0f B, vector %zu B "
      "(%zu floats)\n",
      static_cast<double>(answer_bytes) / static_cast<double>(n),
      static_cast<double>(question_bytes) / static_cast<double>(n),
      embedder.dimensions() * sizeof(float), embedder.dimensions());
  if (mallctl) {
    std::printf("  allocated per entry: %.2f KiB\n", kib(allocated_delta / static_cast<double>(n)));
  }

  // With half the lookups exact, the overall p50 sits on the border of the two kinds: the kinds'
  // own figures follow it.
  std::printf(
      "\ncache lookup at %zu entries: p50 %.1f us, p99 %.1f us (target p99 < 1000 us): "
      "%s\n",
      n, all_summary.p50, all_summary.p99, all_summary.p99 < 1000 ? "met" : "NOT MET");
  std::printf(
      "  exact hits p50 %.1f us, p99 %.1f us; semantic lookups p50 %.1f us, p99 %.1f us; "
      "first pass alone p99 %.1f us\n",
      exact_summary.p50, exact_summary.p99, semantic_summary.p50, semantic_summary.p99,
      summarize(first_pass).p99);
  std::printf("memory per entry: %.2f KiB (RSS), %.2f KiB (store count)\n",
              kib(rss_delta / static_cast<double>(n)),
              kib(static_cast<double>(size.bytes) / static_cast<double>(n)));

  // -- Churn: the store is full, so each new entry evicts the least recently used one, whose
  // place in the index it takes. A put must never stall (the store's lock blocks lookups).
  std::vector<double> churn_times;
  {
    const std::size_t extra = std::max<std::size_t>(n / 5, 1);
    std::unordered_set<std::string> seen(questions.begin(), questions.end());
    churn_times.reserve(extra);
    std::size_t attempts = 0;
    while (churn_times.size() < extra && ++attempts < extra * 50) {
      std::string q = question(random);
      if (!seen.insert(q).second) continue;
      cache::RequestKey key = keyOf(chatBody(q));
      cache::Facts facts = cache::factsOf(key.question);
      std::optional<cache::Vector> vector = embedder.embed(key.question);
      std::uint64_t completion_tokens = 0;
      cache::CachedAnswer answer{
          answerBody(n + churn_times.size(), q, &completion_tokens), {}, "large"};
      timedPut(cache::Entry{.key = std::move(key),
                            .facts = std::move(facts),
                            .vector = std::move(vector),
                            .answer = std::move(answer),
                            .expires_at = expires},
               churn_times);
    }
  }
  const Summary fill_puts = summarize(put_times);
  const Summary churn_puts = summarize(churn_times);
  std::printf("\nput latency, microseconds\n");
  std::printf("  %-34s %6s %10s %10s %10s %10s %10s\n", "", "count", "p50", "p90", "p99", "max",
              "mean");
  printRow("filling the store", fill_puts);
  printRow("full store (each put evicts one)", churn_puts);
  std::printf(
      "put at %zu entries: p99 %.1f us, max %.1f us filling; p99 %.1f us, max %.1f us "
      "when full\n",
      n, fill_puts.p99, fill_puts.max, churn_puts.p99, churn_puts.max);
  return 0;
}
