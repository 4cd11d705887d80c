#include "costgate/upstream/retry_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace costgate::upstream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Sun, 06 Nov 1994 08:49:37 GMT.
const std::chrono::sys_seconds kNov6 = std::chrono::sys_days(std::chrono::year(1994) / 11 / 6) +
                                       std::chrono::hours(8) + std::chrono::minutes(49) +
                                       seconds(37);

TEST(RetryBackoff, StaysWithinTheExponentialCapForAnyRandomValue) {
  const RetryPolicy policy;  // 100 ms doubling, at most 5 s
  std::mt19937_64 random(42);
  for (int retry = 1; retry <= 12; ++retry) {
    const milliseconds cap = std::min(milliseconds(5000), milliseconds(100) * (1 << (retry - 1)));
    milliseconds longest{0};
    for (int i = 0; i < 2000; ++i) {
      const auto delay = backoffDelay(policy, retry, std::nullopt, random());
      ASSERT_TRUE(delay.has_value());
      EXPECT_GE(*delay, milliseconds(0));
      EXPECT_LE(*delay, cap) << "retry " << retry;
      longest = std::max(longest, *delay);
    }
    EXPECT_GT(longest, cap * 3 / 4) << "retry " << retry;  // the range is really used
    EXPECT_EQ(*backoffDelay(policy, retry, std::nullopt, 0), milliseconds(0));
    EXPECT_EQ(*backoffDelay(policy, retry, std::nullopt, static_cast<std::uint64_t>(cap.count())),
              cap);
    EXPECT_LE(*backoffDelay(policy, retry, std::nullopt, UINT64_MAX), cap);
  }
}

TEST(RetryBackoff, HugeRetryNumbersStopAtTheMaximum) {
  const RetryPolicy policy;
  EXPECT_EQ(*backoffDelay(policy, 1000, std::nullopt, 5000), milliseconds(5000));
  EXPECT_EQ(*backoffDelay(policy, INT_MAX, std::nullopt, 5000), milliseconds(5000));
  EXPECT_LE(*backoffDelay(policy, INT_MAX, std::nullopt, UINT64_MAX), milliseconds(5000));
  // A retry number below 1 is treated as the first.
  EXPECT_LE(*backoffDelay(policy, 0, std::nullopt, UINT64_MAX), milliseconds(100));
  RetryPolicy no_delay;
  no_delay.base_delay = milliseconds(0);
  EXPECT_EQ(*backoffDelay(no_delay, INT_MAX, std::nullopt, 12345), milliseconds(0));
}

TEST(RetryBackoff, RetryAfterWinsUpToItsCap) {
  const RetryPolicy policy;  // Retry-After honoured up to 60 s
  EXPECT_EQ(backoffDelay(policy, 1, milliseconds(20000), 7), milliseconds(20000));
  EXPECT_EQ(backoffDelay(policy, 3, milliseconds(0), 7), milliseconds(0));
  EXPECT_EQ(backoffDelay(policy, 1, milliseconds(60000), 7), milliseconds(60000));
  EXPECT_EQ(backoffDelay(policy, 1, milliseconds(60001), 7), std::nullopt);
  EXPECT_EQ(backoffDelay(policy, 1, milliseconds(-5), 7), milliseconds(0));
}

TEST(RetryAfter, ReadsDeltaSeconds) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(parseRetryAfter("2", now), milliseconds(2000));
  EXPECT_EQ(parseRetryAfter("0", now), milliseconds(0));
  EXPECT_EQ(parseRetryAfter(" 120\t", now), milliseconds(120000));
  EXPECT_EQ(parseRetryAfter("1.5", now), milliseconds(1500));
  EXPECT_EQ(parseRetryAfter("0.0001", now), milliseconds(1));  // rounded up
  EXPECT_EQ(parseRetryAfter("-3", now), milliseconds(0));
  // Absurdly long waits saturate (and backoffDelay then refuses them).
  const auto huge = parseRetryAfter("99999999999999999999999999", now);
  ASSERT_TRUE(huge.has_value());
  EXPECT_GT(*huge, std::chrono::hours(24 * 365));
}

TEST(RetryAfter, ReadsHttpDates) {
  const std::chrono::system_clock::time_point now = kNov6 - seconds(30);
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), milliseconds(30000));
  EXPECT_EQ(parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now), milliseconds(30000));
  EXPECT_EQ(parseRetryAfter("Sun Nov  6 08:49:37 1994", now), milliseconds(30000));
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:50:37 GMT", now + milliseconds(250)),
            milliseconds(89750));
  // The weekday is not checked against the date.
  EXPECT_EQ(parseRetryAfter("Mon, 06 Nov 1994 08:49:37 GMT", now), milliseconds(30000));
  // In the past: no wait.
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", now), milliseconds(0));
  EXPECT_EQ(parseRetryAfter("Sat, 05 Nov 1994 08:49:37 GMT", now), milliseconds(0));
}

TEST(RetryAfter, ReadsTwoDigitYearsAsTheNearestPast) {
  // RFC 850 years more than 50 years ahead are last century's.
  const std::chrono::system_clock::time_point now =
      std::chrono::sys_days(std::chrono::year(2030) / 1 / 1);
  EXPECT_EQ(parseRetryAfter("Friday, 01-Jan-30 00:00:10 GMT", now), milliseconds(10000));
  EXPECT_EQ(parseRetryAfter("Friday, 01-Jan-99 00:00:10 GMT", now), milliseconds(0));  // 1999
  EXPECT_EQ(parseRetryAfter("Friday, 01-Jan-80 00:00:00 GMT", now),
            std::chrono::duration_cast<milliseconds>(
                std::chrono::sys_days(std::chrono::year(2080) / 1 / 1) - now));
}

TEST(RetryAfter, RejectsGarbage) {
  const auto now = std::chrono::system_clock::now();
  for (const char* garbage : {"",
                              "  ",
                              "soon",
                              "2s",
                              "1.",
                              ".5",
                              "+2",
                              "-",
                              "1 2",
                              "0x10",
                              "Sun, 06 Nov 1994",
                              "Sun, 06 Nov 1994 08:49:37 UTC",
                              "Sun, 06 Nov 1994 08:49:37 GMT junk",
                              "sun, 06 Nov 1994 08:49:37 GMT",
                              "Sun, 6 Nov 1994 08:49:37 GMT",
                              "Sun, 31 Feb 1994 08:49:37 GMT",
                              "Sun, 06 Nov 1994 24:00:00 GMT",
                              "Sun, 06 Nov 1994 08:60:00 GMT",
                              "Sun, 06 Foo 1994 08:49:37 GMT",
                              "Sunday, 06-Nov-1994 08:49:37 GMT",
                              "Sun Nov 6 08:49:37 1994"}) {
    EXPECT_EQ(parseRetryAfter(garbage, now), std::nullopt) << '"' << garbage << '"';
  }
}

TEST(RetryAfterMs, ReadsMilliseconds) {
  EXPECT_EQ(parseRetryAfterMs("250"), milliseconds(250));
  EXPECT_EQ(parseRetryAfterMs("0"), milliseconds(0));
  EXPECT_EQ(parseRetryAfterMs(" 20.001 "), milliseconds(21));
  EXPECT_EQ(parseRetryAfterMs("12.000"), milliseconds(12));
  EXPECT_EQ(parseRetryAfterMs("-40"), milliseconds(0));
  EXPECT_EQ(parseRetryAfterMs(""), std::nullopt);
  EXPECT_EQ(parseRetryAfterMs("abc"), std::nullopt);
  EXPECT_EQ(parseRetryAfterMs("250ms"), std::nullopt);
}

TEST(RetryClassification, FailuresAndStatuses) {
  struct Row {
    std::optional<FailureKind> failure;
    int status;
    FaultClass expected;
    bool retry;
  };
  const std::vector<Row> table = {
      {FailureKind::kConnect, 0, FaultClass::kConnect, true},
      {FailureKind::kTls, 0, FaultClass::kConnect, true},
      {FailureKind::kTimeout, 0, FaultClass::kTimeout, true},
      {FailureKind::kReset, 0, FaultClass::kServerError, true},
      {FailureKind::kProtocol, 0, FaultClass::kServerError, true},
      {FailureKind::kCancelled, 0, FaultClass::kCancelled, false},
      {FailureKind::kTooLarge, 200, FaultClass::kClientError, false},
      // A failure wins over a status read before it (e.g. a stream cut after its head).
      {FailureKind::kReset, 200, FaultClass::kServerError, true},
      {std::nullopt, 200, FaultClass::kNone, false},
      {std::nullopt, 204, FaultClass::kNone, false},
      {std::nullopt, 304, FaultClass::kNone, false},
      {std::nullopt, 400, FaultClass::kClientError, false},
      {std::nullopt, 401, FaultClass::kClientError, false},
      {std::nullopt, 403, FaultClass::kClientError, false},
      {std::nullopt, 404, FaultClass::kClientError, false},
      {std::nullopt, 408, FaultClass::kTimeout, true},
      {std::nullopt, 409, FaultClass::kServerError, true},
      {std::nullopt, 413, FaultClass::kClientError, false},
      {std::nullopt, 422, FaultClass::kClientError, false},
      {std::nullopt, 429, FaultClass::kRateLimited, true},
      {std::nullopt, 500, FaultClass::kServerError, true},
      {std::nullopt, 501, FaultClass::kServerError, true},
      {std::nullopt, 502, FaultClass::kServerError, true},
      {std::nullopt, 503, FaultClass::kServerError, true},
      {std::nullopt, 504, FaultClass::kServerError, true},
      {std::nullopt, 529, FaultClass::kServerError, true},
      {std::nullopt, 0, FaultClass::kServerError, true},
      {std::nullopt, 999, FaultClass::kServerError, true},
  };
  for (const Row& row : table) {
    const FaultClass fault = classify(row.failure, row.status);
    EXPECT_EQ(fault, row.expected) << "status " << row.status << ", failure "
                                   << (row.failure ? static_cast<int>(*row.failure) : -1);
    EXPECT_EQ(retryable(fault), row.retry) << "status " << row.status;
  }
}

}  // namespace
}  // namespace costgate::upstream
