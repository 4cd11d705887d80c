#include "costgate/log/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace costgate::log {
namespace {

TEST(AccessLog, FormatsOneJsonObjectWithEveryField) {
  server::ExchangeRecord record;
  record.request_id = "abc";
  record.method = "POST";
  record.target = "/v1/chat/completions";
  record.route = "chat_completions";
  record.model = "m\"odel\n";  // escaped, not breaking the line
  record.backend = "mock";
  record.status = 502;
  record.stream = true;
  record.bytes_in = 10;
  record.bytes_out = 20;
  record.latency = std::chrono::microseconds(1234);
  record.upstream_latency = std::chrono::microseconds(1000);
  record.error = "backend reset";
  record.fields.text("feature", "search");
  record.fields.text("team", "gr\"owth");  // escaped by the fields, not breaking the line
  record.fields.number("attempts", 3);
  record.fields.flag("coalesced", true);
  record.fields.decimal("saved_usd", "0.000125");
  std::string line = AccessLog::format(record, std::chrono::system_clock::now());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["request_id"], "abc");
  EXPECT_EQ(json["model"], "m\"odel\n");
  EXPECT_EQ(json["status"], 502);
  EXPECT_EQ(json["stream"], true);
  EXPECT_EQ(json["latency_us"], 1234);
  EXPECT_EQ(json["upstream_us"], 1000);
  EXPECT_EQ(json["bytes_in"], 10);
  EXPECT_EQ(json["bytes_out"], 20);
  EXPECT_EQ(json["error"], "backend reset");
  EXPECT_EQ(json["feature"], "search");
  EXPECT_EQ(json["team"], "gr\"owth");
  EXPECT_EQ(json["attempts"], 3);
  EXPECT_EQ(json["coalesced"], true);
  EXPECT_EQ(json["saved_usd"].dump(), "0.000125");
  EXPECT_TRUE(json["ts"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(json["ts"].get<std::string>().size(), 24u);  // 2026-11-28T18:30:13.402Z
}

TEST(AccessLog, CarriesUsageAndCostWhenKnown) {
  server::ExchangeRecord record;
  record.request_id = "abc";
  std::string bare = AccessLog::format(record, std::chrono::system_clock::now());
  EXPECT_FALSE(nlohmann::json::parse(bare).contains("tokens_in"));
  EXPECT_FALSE(nlohmann::json::parse(bare).contains("cost_usd"));

  record.usage = pricing::Usage{
      .prompt_tokens = 120, .completion_tokens = 40, .cached_tokens = 100, .reasoning_tokens = 5};
  record.usage_source = "backend";
  record.cost = 7'000;
  std::string line = AccessLog::format(record, std::chrono::system_clock::now());
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["tokens_in"], 120);
  EXPECT_EQ(json["tokens_out"], 40);
  EXPECT_EQ(json["cached_tokens"], 100);
  EXPECT_EQ(json["reasoning_tokens"], 5);
  EXPECT_EQ(json["usage_source"], "backend");
  EXPECT_NE(line.find(R"("cost_usd":0.000007)"), std::string::npos) << line;  // exact text
}

TEST(AccessLog, RedactsQueryValuesAndKeepsTheirNames) {
  auto logged = [](const std::string& target) {
    server::ExchangeRecord record;
    record.target = target;
    return nlohmann::json::parse(
               AccessLog::format(record, std::chrono::system_clock::time_point()))["path"]
        .get<std::string>();
  };
  EXPECT_EQ(logged("/v1/chat/completions"), "/v1/chat/completions");
  EXPECT_EQ(logged("/v1/models?key=sk-secret"), "/v1/models?key=REDACTED");
  EXPECT_EQ(logged("/v1/models?key=sk-secret&x=1&api-key=abc"),
            "/v1/models?key=REDACTED&x=REDACTED&api-key=REDACTED");
  // Empty values stay empty; a bare parameter may be a token and goes whole; empty pieces stay.
  EXPECT_EQ(logged("/healthz?verbose=&sk-bare-token"), "/healthz?verbose=&REDACTED");
  EXPECT_EQ(logged("/p?a=1&&b=2&"), "/p?a=REDACTED&&b=REDACTED&");
  EXPECT_EQ(logged("/p?"), "/p?");
  EXPECT_EQ(logged("/p?sig=a=b=c#frag"), "/p?sig=REDACTED");
  // The names are the client's bytes, escaped as any logged text is.
  EXPECT_EQ(logged("/p?a\x01b=\x02"), "/p?a\x01b=REDACTED");
}

TEST(AccessLog, EscapesControlCharacters) {
  std::string out;
  appendJsonString(out, std::string("a\x01\tb\\", 5));
  EXPECT_EQ(out, "\"a\\u0001\\tb\\\\\"");
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tempPath() {
  char path[] = "/tmp/costgate-access-log-XXXXXX";
  const int fd = ::mkstemp(path);
  ::close(fd);
  return path;
}

TEST(AccessLog, AFileGetsEveryLineOfEveryThreadWholeByTheTimeItCloses) {
  const std::string path = tempPath();
  constexpr int kThreads = 4;
  constexpr int kLines = 3000;  // several 64 KiB blocks per thread
  {
    AccessLog log(path);
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&log, t] {
        for (int i = 0; i < kLines; ++i) {
          server::ExchangeRecord record;
          record.request_id = std::to_string(t) + "-" + std::to_string(i);
          record.target = std::string(40, 'x');
          log.write(record);
        }
      });
    }
    for (auto& writer : writers) writer.join();
  }
  std::istringstream lines(readFile(path));
  std::set<std::string> ids;
  for (std::string line; std::getline(lines, line);) {
    auto parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    ids.insert(parsed["request_id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kLines));
  ::unlink(path.c_str());
}

TEST(AccessLog, AQuietFileStillGetsItsLinesWithinAboutASecond) {
  const std::string path = tempPath();
  AccessLog log(path);
  server::ExchangeRecord record;
  record.request_id = "quiet";
  log.write(record);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (readFile(path).find("\"quiet\"") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(readFile(path).find("\"request_id\":\"quiet\""), std::string::npos);
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace costgate::log
