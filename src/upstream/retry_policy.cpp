#include "costgate/upstream/retry_policy.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace costgate::upstream {

namespace {

using std::chrono::milliseconds;

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// A decimal number ("-"? DIGIT+ ("." DIGIT+)?) of units lasting `ms_per_unit` each, in whole
// milliseconds rounded up, so a backend asking for 1.0001 s is not retried before then. Negative
// numbers give zero; huge ones saturate decades beyond any wait a caller would accept.
std::optional<milliseconds> parseDecimal(std::string_view text, std::int64_t ms_per_unit) {
  text = trimmed(text);
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  constexpr std::int64_t kSaturation = 1'000'000'000'000;
  std::size_t i = 0;
  std::int64_t whole = 0;
  for (; i < text.size() && isDigit(text[i]); ++i) {
    whole = std::min(kSaturation, whole * 10 + (text[i] - '0'));
  }
  if (i == 0) return std::nullopt;
  std::int64_t numerator = 0;
  std::int64_t denominator = 1;
  bool beyond_precision = false;  // a nonzero digit past the ninth decimal
  if (i < text.size() && text[i] == '.') {
    const std::size_t first = ++i;
    for (; i < text.size() && isDigit(text[i]); ++i) {
      if (i - first < 9) {
        numerator = numerator * 10 + (text[i] - '0');
        denominator *= 10;
      } else if (text[i] != '0') {
        beyond_precision = true;
      }
    }
    if (i == first) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  if (negative) return milliseconds(0);
  const std::int64_t scaled = numerator * ms_per_unit;
  std::int64_t fraction_ms = scaled / denominator;
  if (scaled % denominator != 0 || beyond_precision) ++fraction_ms;
  return milliseconds(whole * ms_per_unit + fraction_ms);
}

// Reads the fixed-layout pieces of an HTTP-date from left to right; every read fails (returns
// false or nullopt) without consuming when the text does not match.
class DateReader {
 public:
  explicit DateReader(std::string_view text) : rest_(text) {}

  bool atEnd() const { return rest_.empty(); }

  bool literal(std::string_view expected) {
    if (!rest_.starts_with(expected)) return false;
    rest_.remove_prefix(expected.size());
    return true;
  }

  // Exactly `count` digits.
  std::optional<int> digits(std::size_t count) {
    if (rest_.size() < count) return std::nullopt;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!isDigit(rest_[i])) return std::nullopt;
      value = value * 10 + (rest_[i] - '0');
    }
    rest_.remove_prefix(count);
    return value;
  }

  // 1 to 12 for "Jan" to "Dec".
  std::optional<unsigned> month() {
    static constexpr std::array<std::string_view, 12> kMonths = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t i = 0; i < kMonths.size(); ++i) {
      if (literal(kMonths[i])) return static_cast<unsigned>(i + 1);
    }
    return std::nullopt;
  }

  // "Mon" to "Sun", or with `full` "Monday" to "Sunday". Whether it matches the date is not
  // checked: the date alone says when.
  bool dayName(bool full) {
    static constexpr std::array<std::string_view, 7> kShort = {"Mon", "Tue", "Wed", "Thu",
                                                               "Fri", "Sat", "Sun"};
    static constexpr std::array<std::string_view, 7> kFull = {
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
    for (std::string_view name : full ? std::span<const std::string_view>(kFull)
                                      : std::span<const std::string_view>(kShort)) {
      if (literal(name)) return true;
    }
    return false;
  }

  // "HH:MM:SS" as a duration since midnight; 60 seconds allowed for a leap second.
  std::optional<std::chrono::seconds> timeOfDay() {
    const auto hours = digits(2);
    if (!hours || *hours > 23 || !literal(":")) return std::nullopt;
    const auto minutes = digits(2);
    if (!minutes || *minutes > 59 || !literal(":")) return std::nullopt;
    const auto seconds = digits(2);
    if (!seconds || *seconds > 60) return std::nullopt;
    return std::chrono::hours(*hours) + std::chrono::minutes(*minutes) +
           std::chrono::seconds(*seconds);
  }

 private:
  std::string_view rest_;
};

std::optional<std::chrono::sys_seconds> instant(int year, unsigned month, int day,
                                                std::chrono::seconds time_of_day) {
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(month),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days(date) + time_of_day;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<std::chrono::sys_seconds> readImfFixdate(std::string_view text) {
  DateReader reader(text);
  if (!reader.dayName(false) || !reader.literal(", ")) return std::nullopt;
  const auto day = reader.digits(2);
  if (!day || !reader.literal(" ")) return std::nullopt;
  const auto month = reader.month();
  if (!month || !reader.literal(" ")) return std::nullopt;
  const auto year = reader.digits(4);
  if (!year || !reader.literal(" ")) return std::nullopt;
  const auto time = reader.timeOfDay();
  if (!time || !reader.literal(" GMT") || !reader.atEnd()) return std::nullopt;
  return instant(*year, *month, *day, *time);
}

// RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". Its two-digit year is the latest year ending in those
// digits that is not more than 50 years after `now` (RFC 9110, section 5.6.7).
std::optional<std::chrono::sys_seconds> readRfc850Date(std::string_view text,
                                                       std::chrono::system_clock::time_point now) {
  DateReader reader(text);
  if (!reader.dayName(true) || !reader.literal(", ")) return std::nullopt;
  const auto day = reader.digits(2);
  if (!day || !reader.literal("-")) return std::nullopt;
  const auto month = reader.month();
  if (!month || !reader.literal("-")) return std::nullopt;
  const auto two_digit_year = reader.digits(2);
  if (!two_digit_year || !reader.literal(" ")) return std::nullopt;
  const auto time = reader.timeOfDay();
  if (!time || !reader.literal(" GMT") || !reader.atEnd()) return std::nullopt;
  const int this_year = static_cast<int>(
      std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(now)).year());
  int year = this_year - this_year % 100 + *two_digit_year;
  if (year > this_year + 50) year -= 100;
  return instant(year, *month, *day, *time);
}

// asctime: "Sun Nov  6 08:49:37 1994" (the day padded with a space, not a zero).
std::optional<std::chrono::sys_seconds> readAsctimeDate(std::string_view text) {
  DateReader reader(text);
  if (!reader.dayName(false) || !reader.literal(" ")) return std::nullopt;
  const auto month = reader.month();
  if (!month || !reader.literal(" ")) return std::nullopt;
  std::optional<int> day = reader.literal(" ") ? reader.digits(1) : reader.digits(2);
  if (!day || !reader.literal(" ")) return std::nullopt;
  const auto time = reader.timeOfDay();
  if (!time || !reader.literal(" ")) return std::nullopt;
  const auto year = reader.digits(4);
  if (!year || !reader.atEnd()) return std::nullopt;
  return instant(*year, *month, *day, *time);
}

}  // namespace

std::optional<milliseconds> backoffDelay(const RetryPolicy& policy, int retry,
                                         std::optional<milliseconds> retry_after,
                                         std::uint64_t random) {
  if (retry_after) {
    if (*retry_after > policy.max_retry_after) return std::nullopt;
    return std::max(*retry_after, milliseconds(0));
  }
  const milliseconds max_delay = std::max(policy.max_delay, milliseconds(0));
  // base * 2^(retry - 1), doubled step by step and stopped at max_delay so it cannot overflow.
  milliseconds cap = std::clamp(policy.base_delay, milliseconds(0), max_delay);
  for (int i = 1; i < retry && cap < max_delay && cap > milliseconds(0); ++i) cap *= 2;
  cap = std::min(cap, max_delay);
  return milliseconds(
      static_cast<milliseconds::rep>(random % (static_cast<std::uint64_t>(cap.count()) + 1)));
}

std::optional<milliseconds> parseRetryAfter(std::string_view header,
                                            std::chrono::system_clock::time_point now) {
  header = trimmed(header);
  if (header.empty()) return std::nullopt;
  if (isDigit(header.front()) || header.front() == '-') return parseDecimal(header, 1000);
  std::optional<std::chrono::sys_seconds> date = readImfFixdate(header);
  if (!date) date = readRfc850Date(header, now);
  if (!date) date = readAsctimeDate(header);
  if (!date) return std::nullopt;
  if (*date <= now) return milliseconds(0);
  return std::chrono::ceil<milliseconds>(*date - now);
}

std::optional<milliseconds> parseRetryAfterMs(std::string_view header) {
  return parseDecimal(header, 1);
}

FaultClass classify(std::optional<FailureKind> failure, int status) {
  if (failure) {
    switch (*failure) {
      case FailureKind::kConnect:
      case FailureKind::kTls:
        return FaultClass::kConnect;
      case FailureKind::kTimeout:
        return FaultClass::kTimeout;
      case FailureKind::kReset:
      case FailureKind::kProtocol:
        return FaultClass::kServerError;
      case FailureKind::kCancelled:
        return FaultClass::kCancelled;
      case FailureKind::kTooLarge:
        // The same request would draw the same oversized answer from any deployment.
        return FaultClass::kClientError;
    }
    return FaultClass::kServerError;
  }
  if (status == 408) return FaultClass::kTimeout;
  // OpenAI answers 409 to a request that lost a race on its side (a lock timeout): trying again
  // succeeds, as its own SDKs do.
  if (status == 409) return FaultClass::kServerError;
  if (status == 429) return FaultClass::kRateLimited;
  if (status >= 100 && status < 400) return FaultClass::kNone;
  if (status >= 400 && status < 500) return FaultClass::kClientError;
  // 5xx, and a status no HTTP server sends: the backend is at fault either way.
  return FaultClass::kServerError;
}

bool retryable(FaultClass fault) {
  switch (fault) {
    case FaultClass::kConnect:
    case FaultClass::kTimeout:
    case FaultClass::kRateLimited:
    case FaultClass::kServerError:
      return true;
    case FaultClass::kClientError:
    case FaultClass::kCancelled:
    case FaultClass::kNone:
      return false;
  }
  return false;
}

}  // namespace costgate::upstream
