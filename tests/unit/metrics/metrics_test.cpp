#include "costgate/metrics/metrics.h"

#include <gtest/gtest.h>

namespace costgate::metrics {
namespace {

TEST(Metrics, SerializesEveryFamilyWithItsLabels) {
  Metrics metrics;
  metrics.countRequest("chat_completions", "mock-small", 200, 0.01);
  metrics.countRequest("chat_completions", "mock-small", 200, 0.02);
  metrics.countRequest("chat_completions", "unknown", 404, 0.001);
  metrics.observeUpstream("mock", 0.005);
  metrics.countUpstreamFailure("mock", "upstream_timeout");
  metrics.countStream("completed");
  std::string text = metrics.serialize();
  EXPECT_NE(text.find("costgate_requests_total{model=\"mock-small\",route=\"chat_completions\","
                      "status=\"200\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("status=\"404\"} 1"), std::string::npos);
  EXPECT_NE(text.find("costgate_request_duration_seconds_count{route=\"chat_completions\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("costgate_upstream_duration_seconds_count{backend=\"mock\"} 1"),
            std::string::npos);
  EXPECT_NE(
      text.find("costgate_upstream_failures_total{backend=\"mock\",kind=\"upstream_timeout\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("costgate_streams_total{outcome=\"completed\"} 1"), std::string::npos);
  EXPECT_NE(text.find("costgate_build_info{version=\"" COSTGATE_VERSION "\"} 1"),
            std::string::npos);
}

TEST(Metrics, SeparateInstancesDoNotShareSeries) {
  // The per-thread lookup caches must not hand one registry's series to another.
  auto first = std::make_unique<Metrics>();
  first->countRequest("embeddings", "m", 200, 0.1);
  first.reset();
  Metrics second;
  second.countRequest("embeddings", "m", 200, 0.1);
  EXPECT_NE(second.serialize().find("route=\"embeddings\",status=\"200\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace costgate::metrics
