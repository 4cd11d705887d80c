#include "costgate/budget/time_zone.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace costgate::budget {

namespace {

// Instants and local clock readings as whole seconds since 1970-01-01T00:00 (a local reading is
// counted as if it were UTC). 64 bits: TZif transitions reach far beyond system_clock's range.
using EpochSeconds = std::int64_t;

constexpr EpochSeconds kSecondsPerDay = 86'400;
constexpr EpochSeconds kSecondsPerHour = 3'600;
// RFC 8536 bounds UTC offsets to more than -25 h and less than 26 h; files outside are corrupt, and
// every search around a local time relies on these bounds.
constexpr EpochSeconds kMinOffset = -89'999;
constexpr EpochSeconds kMaxOffset = 93'599;
// Zone files are a few kilobytes; anything far larger is not one.
constexpr std::uintmax_t kMaxZoneFileBytes = 1 << 20;

EpochSeconds floorDiv(EpochSeconds a, EpochSeconds b) {
  EpochSeconds quotient = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient;
}

// Proleptic Gregorian calendar on 64-bit day counts (Howard Hinnant's civil algorithms), since
// std::chrono::year stops at 32767.
EpochSeconds daysFromCivil(EpochSeconds year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const EpochSeconds era = floorDiv(year, 400);
  const EpochSeconds year_of_era = year - era * 400;
  const EpochSeconds day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const EpochSeconds day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146'097 + day_of_era - 719'468;
}

EpochSeconds yearOfDays(EpochSeconds days) {
  days += 719'468;
  const EpochSeconds era = floorDiv(days, 146'097);
  const EpochSeconds day_of_era = days - era * 146'097;
  const EpochSeconds year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  const EpochSeconds day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const EpochSeconds shifted_month = (5 * day_of_year + 2) / 153;  // March = 0
  return year_of_era + era * 400 + (shifted_month >= 10 ? 1 : 0);
}

bool isLeapYear(EpochSeconds year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

unsigned daysInMonth(EpochSeconds year, unsigned month) {
  static constexpr std::array<unsigned, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && isLeapYear(year) ? 29 : kDays[month - 1];
}

unsigned weekdayOfDays(EpochSeconds days) {  // 0 = Sunday; 1970-01-01 was a Thursday
  return static_cast<unsigned>(((days % 7) + 11) % 7);
}

// The day a POSIX TZ rule switches on: Jn (1..365, February 29 never counted), n (0..365, counted)
// or Mm.w.d (weekday d of week w of month m, week 5 meaning the last).
struct DateRule {
  enum class Form { kJulianWithoutLeapDay, kZeroBasedDayOfYear, kMonthWeekDay };
  Form form = Form::kMonthWeekDay;
  unsigned day_of_year = 0;
  unsigned month = 0;
  unsigned week = 0;
  unsigned weekday = 0;
  EpochSeconds time_of_day = 2 * kSecondsPerHour;  // POSIX default 02:00; -167..167 h in TZif v3

  EpochSeconds dayIn(EpochSeconds year) const {
    const EpochSeconds january_first = daysFromCivil(year, 1, 1);
    switch (form) {
      case Form::kJulianWithoutLeapDay:
        return january_first + day_of_year - 1 + (isLeapYear(year) && day_of_year >= 60 ? 1 : 0);
      case Form::kZeroBasedDayOfYear:
        return january_first + day_of_year;
      case Form::kMonthWeekDay:
        break;
    }
    const EpochSeconds first = daysFromCivil(year, month, 1);
    unsigned day = 1 + (weekday + 7 - weekdayOfDays(first)) % 7 + (week - 1) * 7;
    while (day > daysInMonth(year, month)) day -= 7;
    return first + day - 1;
  }
};

struct DaylightRule {
  EpochSeconds offset = 0;
  DateRule start;  // time_of_day in standard time
  DateRule end;    // time_of_day in daylight time
};

// A TZif footer such as "CET-1CEST,M3.5.0,M10.5.0/3": the rule past the last transition.
struct PosixRule {
  EpochSeconds standard_offset = 0;
  std::optional<DaylightRule> daylight;
};

struct OffsetChange {
  EpochSeconds at = 0;
  EpochSeconds offset = 0;
};

// The rule's offset changes in the years around `at`, in time order. Five years, because a v3 rule
// time of up to 167 h can push a change a week into the neighbouring year.
std::array<OffsetChange, 10> changesAround(const PosixRule& rule, const DaylightRule& daylight,
                                           EpochSeconds at) {
  const EpochSeconds year = yearOfDays(floorDiv(at + rule.standard_offset, kSecondsPerDay));
  std::array<OffsetChange, 10> changes;
  for (EpochSeconds i = 0; i < 5; ++i) {
    const EpochSeconds y = year - 2 + i;
    // Each switch happens at a local time of the offset in effect before it.
    changes[2 * i] = {.at = daylight.start.dayIn(y) * kSecondsPerDay + daylight.start.time_of_day -
                            rule.standard_offset,
                      .offset = daylight.offset};
    changes[2 * i + 1] = {
        .at = daylight.end.dayIn(y) * kSecondsPerDay + daylight.end.time_of_day - daylight.offset,
        .offset = rule.standard_offset};
  }
  // Stable: a rule with daylight time all year ends one year's daylight time at the instant the
  // next year's starts, and the later year's start must win.
  std::stable_sort(changes.begin(), changes.end(),
                   [](const OffsetChange& a, const OffsetChange& b) { return a.at < b.at; });
  return changes;
}

// Parses the POSIX TZ grammar as RFC 8536 §3.3 restricts it: std offset [dst [offset] [,rule]].
class PosixRuleParser {
 public:
  explicit PosixRuleParser(std::string_view text) : text_(text) {}

  std::optional<PosixRule> parse() {
    PosixRule rule;
    if (!skipName()) return std::nullopt;
    std::optional<EpochSeconds> standard = parseClock(24);
    if (!standard) return std::nullopt;
    rule.standard_offset = -*standard;  // POSIX counts hours west of Greenwich
    if (atEnd()) return rule;

    DaylightRule daylight;
    if (!skipName()) return std::nullopt;
    daylight.offset = rule.standard_offset + kSecondsPerHour;
    if (!atEnd() && peek() != ',') {
      std::optional<EpochSeconds> offset = parseClock(24);
      if (!offset) return std::nullopt;
      daylight.offset = -*offset;
    }
    if (atEnd()) {
      // No switch dates: POSIX leaves them to the implementation, and glibc uses the US rules.
      daylight.start = {.form = DateRule::Form::kMonthWeekDay,
                        .day_of_year = 0,
                        .month = 3,
                        .week = 2,
                        .weekday = 0,
                        .time_of_day = 2 * kSecondsPerHour};
      daylight.end = daylight.start;
      daylight.end.month = 11;
      daylight.end.week = 1;
    } else {
      std::optional<DateRule> start = consume(',') ? parseDateRule() : std::nullopt;
      std::optional<DateRule> end = start && consume(',') ? parseDateRule() : std::nullopt;
      if (!end || !atEnd()) return std::nullopt;
      daylight.start = *start;
      daylight.end = *end;
    }
    if (daylight.offset < kMinOffset || daylight.offset > kMaxOffset) return std::nullopt;
    rule.daylight = daylight;
    return rule;
  }

 private:
  bool atEnd() const { return pos_ == text_.size(); }
  char peek() const { return text_[pos_]; }
  bool consume(char c) {
    if (atEnd() || peek() != c) return false;
    ++pos_;
    return true;
  }
  static bool isAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
  static bool isDigit(char c) { return c >= '0' && c <= '9'; }

  // A zone abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'.
  bool skipName() {
    const std::size_t start = pos_;
    if (consume('<')) {
      while (!atEnd() && (isAlpha(peek()) || isDigit(peek()) || peek() == '+' || peek() == '-')) {
        ++pos_;
      }
      return pos_ - start >= 2 && consume('>');
    }
    while (!atEnd() && isAlpha(peek())) ++pos_;
    return pos_ - start >= 3;
  }

  std::optional<unsigned> parseNumber(std::size_t max_digits) {
    const std::size_t start = pos_;
    unsigned value = 0;
    while (!atEnd() && isDigit(peek()) && pos_ - start < max_digits) {
      value = value * 10 + static_cast<unsigned>(peek() - '0');
      ++pos_;
    }
    if (pos_ == start) return std::nullopt;
    return value;
  }

  // [+-]h[h[h]][:mm[:ss]] in seconds: an offset (hours up to 24) or a rule time (up to 167).
  std::optional<EpochSeconds> parseClock(unsigned max_hours) {
    EpochSeconds sign = 1;
    if (consume('-')) {
      sign = -1;
    } else {
      consume('+');
    }
    std::optional<unsigned> hours = parseNumber(3);
    if (!hours || *hours > max_hours) return std::nullopt;
    EpochSeconds seconds = *hours * kSecondsPerHour;
    for (EpochSeconds unit : {EpochSeconds{60}, EpochSeconds{1}}) {
      if (!consume(':')) break;
      std::optional<unsigned> part = parseNumber(2);
      if (!part || *part > 59) return std::nullopt;
      seconds += *part * unit;
    }
    return sign * seconds;
  }

  std::optional<DateRule> parseDateRule() {
    DateRule rule;
    if (consume('J')) {
      std::optional<unsigned> day = parseNumber(3);
      if (!day || *day < 1 || *day > 365) return std::nullopt;
      rule.form = DateRule::Form::kJulianWithoutLeapDay;
      rule.day_of_year = *day;
    } else if (consume('M')) {
      std::optional<unsigned> month = parseNumber(2);
      std::optional<unsigned> week = month && consume('.') ? parseNumber(1) : std::nullopt;
      std::optional<unsigned> weekday = week && consume('.') ? parseNumber(1) : std::nullopt;
      if (!weekday || *month < 1 || *month > 12 || *week < 1 || *week > 5 || *weekday > 6) {
        return std::nullopt;
      }
      rule.month = *month;
      rule.week = *week;
      rule.weekday = *weekday;
    } else {
      std::optional<unsigned> day = parseNumber(3);
      if (!day || *day > 365) return std::nullopt;
      rule.form = DateRule::Form::kZeroBasedDayOfYear;
      rule.day_of_year = *day;
    }
    if (consume('/')) {
      std::optional<EpochSeconds> time = parseClock(167);
      if (!time) return std::nullopt;
      rule.time_of_day = *time;
    }
    return rule;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

EpochSeconds secondsOf(std::chrono::system_clock::time_point instant) {
  return std::chrono::floor<std::chrono::seconds>(instant.time_since_epoch()).count();
}

std::chrono::system_clock::time_point timePointOf(EpochSeconds seconds) {
  using Clock = std::chrono::system_clock;
  constexpr EpochSeconds kFirst =
      std::chrono::ceil<std::chrono::seconds>(Clock::time_point::min().time_since_epoch()).count();
  constexpr EpochSeconds kLast =
      std::chrono::floor<std::chrono::seconds>(Clock::time_point::max().time_since_epoch()).count();
  if (seconds < kFirst) return Clock::time_point::min();
  if (seconds > kLast) return Clock::time_point::max();
  return Clock::time_point{std::chrono::seconds{seconds}};
}

}  // namespace

struct TimeZone::Rules {
  std::vector<EpochSeconds> transitions;    // ascending
  std::vector<EpochSeconds> offsets_after;  // offset from transitions[i] on
  EpochSeconds offset_before_first = 0;     // local time type 0, per RFC 8536
  std::optional<PosixRule> footer;          // after the last transition, or always if none

  bool footerApplies(EpochSeconds at) const {
    return footer && (transitions.empty() || at >= transitions.back());
  }

  EpochSeconds offsetAt(EpochSeconds at) const {
    if (footerApplies(at)) {
      if (!footer->daylight) return footer->standard_offset;
      EpochSeconds offset = footer->standard_offset;
      for (const OffsetChange& change : changesAround(*footer, *footer->daylight, at)) {
        if (change.at > at) break;
        offset = change.offset;
      }
      return offset;
    }
    auto after = std::upper_bound(transitions.begin(), transitions.end(), at);
    if (after == transitions.begin()) return offset_before_first;
    return offsets_after[static_cast<std::size_t>(after - transitions.begin() - 1)];
  }

  // The next instant after `at` at which the offset may change; nullopt when it never does.
  std::optional<EpochSeconds> nextChangeAfter(EpochSeconds at) const {
    if (!footerApplies(at)) {
      auto after = std::upper_bound(transitions.begin(), transitions.end(), at);
      if (after != transitions.end()) return *after;
      return std::nullopt;
    }
    if (!footer->daylight) return std::nullopt;
    for (const OffsetChange& change : changesAround(*footer, *footer->daylight, at)) {
      if (change.at > at) return change.at;
    }
    return std::nullopt;
  }
};

namespace {

class BigEndianReader {
 public:
  explicit BigEndianReader(std::string_view bytes) : bytes_(bytes) {}

  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  std::string_view rest() const { return bytes_.substr(pos_); }
  void skip(std::size_t count) { pos_ += count; }

  std::int64_t readSigned(std::size_t width) {  // width 4 or 8, two's complement
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      value = (value << 8) | static_cast<unsigned char>(bytes_[pos_ + i]);
    }
    pos_ += width;
    if (width == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(value));
    return static_cast<std::int64_t>(value);
  }
  unsigned char readByte() { return static_cast<unsigned char>(bytes_[pos_++]); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

struct TzifCounts {
  std::uint64_t isut = 0, isstd = 0, leap = 0, time = 0, type = 0, chars = 0;

  std::uint64_t dataBytes(std::uint64_t time_width) const {
    return time * time_width + time + type * 6 + chars + leap * (time_width + 4) + isstd + isut;
  }
};

constexpr std::size_t kTzifHeaderBytes = 44;

// Reads a 44-byte header at the reader's position; the version byte is 0 for v1, else '2', '3'...
std::optional<std::pair<char, TzifCounts>> readHeader(BigEndianReader& reader) {
  if (reader.remaining() < kTzifHeaderBytes || reader.rest().substr(0, 4) != "TZif") {
    return std::nullopt;
  }
  reader.skip(4);
  const char version = static_cast<char>(reader.readByte());
  reader.skip(15);
  TzifCounts counts;
  for (std::uint64_t* count :
       {&counts.isut, &counts.isstd, &counts.leap, &counts.time, &counts.type, &counts.chars}) {
    *count = static_cast<std::uint32_t>(reader.readSigned(4));
  }
  return std::pair{version, counts};
}

// Parses one data block (RFC 8536 §3.2) into `rules`; returns the reason it is corrupt, if it is.
std::optional<std::string> readDataBlock(BigEndianReader& reader, const TzifCounts& counts,
                                         std::size_t time_width, TimeZone::Rules& rules) {
  if (counts.dataBytes(time_width) > reader.remaining()) return "truncated data block";
  if (counts.type == 0) return "no local time types";
  if ((counts.isstd != 0 && counts.isstd != counts.type) ||
      (counts.isut != 0 && counts.isut != counts.type)) {
    return "indicator counts do not match the type count";
  }
  // Leap-second files count TAI-like seconds; budgets have no use for them, and treating them as
  // UTC would shift every boundary by the accumulated leap seconds.
  if (counts.leap != 0) return "leap-second zones (right/...) are not supported";

  rules.transitions.resize(counts.time);
  for (EpochSeconds& transition : rules.transitions) {
    transition = reader.readSigned(time_width);
  }
  if (std::adjacent_find(rules.transitions.begin(), rules.transitions.end(),
                         [](EpochSeconds a, EpochSeconds b) { return a >= b; }) !=
      rules.transitions.end()) {
    return "transitions out of order";
  }
  std::vector<unsigned char> type_of_transition(counts.time);
  for (unsigned char& type : type_of_transition) type = reader.readByte();
  std::vector<EpochSeconds> type_offsets(counts.type);
  for (EpochSeconds& offset : type_offsets) {
    offset = reader.readSigned(4);
    reader.skip(2);  // is-DST flag and abbreviation index: budgets need only the offset
    if (offset < kMinOffset || offset > kMaxOffset) return "UTC offset out of range";
  }
  rules.offsets_after.clear();
  for (unsigned char type : type_of_transition) {
    if (type >= counts.type) return "transition to an undefined local time type";
    rules.offsets_after.push_back(type_offsets[type]);
  }
  rules.offset_before_first = type_offsets[0];
  reader.skip(counts.chars + counts.isstd + counts.isut);
  return std::nullopt;
}

// The rules in a TZif file's bytes, or the reason they are corrupt.
std::variant<TimeZone::Rules, std::string> parseTzif(std::string_view bytes) {
  BigEndianReader reader(bytes);
  auto v1_header = readHeader(reader);
  if (!v1_header) return std::string("not a TZif file");
  auto [version, v1_counts] = *v1_header;
  TimeZone::Rules rules;
  if (version == '\0') {
    if (auto error = readDataBlock(reader, v1_counts, 4, rules)) return *error;
    return rules;
  }
  // v2 and later repeat the data with 64-bit times after the v1 block; the v1 block is only for
  // old readers and may be empty.
  if (v1_counts.dataBytes(4) > reader.remaining()) return std::string("truncated v1 data block");
  reader.skip(v1_counts.dataBytes(4));
  auto header = readHeader(reader);
  if (!header) return std::string("missing 64-bit header");
  if (auto error = readDataBlock(reader, header->second, 8, rules)) return *error;

  std::string_view footer = reader.rest();
  if (footer.empty()) return rules;  // tolerated: treat as a file without a rule
  if (footer.front() != '\n') return std::string("malformed footer");
  footer.remove_prefix(1);
  const std::size_t newline = footer.find('\n');
  if (newline == std::string_view::npos) return std::string("unterminated footer");
  footer = footer.substr(0, newline);
  if (!footer.empty()) {
    rules.footer = PosixRuleParser(footer).parse();
    if (!rules.footer) return "unreadable footer rule \"" + std::string(footer) + "\"";
    if (rules.footer->standard_offset < kMinOffset || rules.footer->standard_offset > kMaxOffset) {
      return std::string("footer offset out of range");
    }
  }
  return rules;
}

std::optional<std::string> nameProblem(std::string_view name) {
  if (name.empty()) return "empty name";
  if (name.size() > 255) return "name too long";
  if (name.front() == '/') return "absolute paths are not zone names";
  if (name.find("..") != std::string_view::npos) return "\"..\" is not allowed in zone names";
  for (char c : name) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-' || c == '/';
    if (!allowed) return "zone names use only letters, digits, '_', '+', '-' and '/'";
  }
  return std::nullopt;
}

}  // namespace

TimeZone::TimeZone(std::string name, std::shared_ptr<const Rules> rules)
    : name_(std::move(name)), rules_(std::move(rules)) {}

std::variant<TimeZone, std::string> TimeZone::load(std::string_view name,
                                                   std::string_view zoneinfo_dir) {
  const std::string quoted = "time zone \"" + std::string(name) + "\": ";
  if (auto problem = nameProblem(name)) return quoted + *problem;
  if (name == "UTC" || name == "Etc/UTC") {
    return TimeZone(std::string(name), std::make_shared<const Rules>());
  }

  const std::filesystem::path path = std::filesystem::path(zoneinfo_dir) / std::string(name);
  std::error_code error;
  const bool regular = std::filesystem::is_regular_file(path, error);
  const std::uintmax_t size = regular ? std::filesystem::file_size(path, error) : 0;
  if (!regular || error) return quoted + "no zone file at " + path.string();
  if (size > kMaxZoneFileBytes) return quoted + path.string() + " is too large for a zone file";
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) return quoted + "cannot read " + path.string();

  auto parsed = parseTzif(bytes);
  if (auto* reason = std::get_if<std::string>(&parsed)) {
    return quoted + "corrupt zone file " + path.string() + ": " + *reason;
  }
  return TimeZone(std::string(name),
                  std::make_shared<const Rules>(std::get<Rules>(std::move(parsed))));
}

std::chrono::seconds TimeZone::offsetAt(std::chrono::system_clock::time_point utc) const {
  return std::chrono::seconds{rules_->offsetAt(secondsOf(utc))};
}

std::chrono::system_clock::time_point TimeZone::startOfLocal(int year, unsigned month, unsigned day,
                                                             int hour, int minute) const {
  // Linear fields carry over by arithmetic; months need the year adjusted first.
  const EpochSeconds months_from_january = static_cast<EpochSeconds>(month) - 1;
  const EpochSeconds normalized_year = year + floorDiv(months_from_january, 12);
  const auto normalized_month =
      static_cast<unsigned>(months_from_january - floorDiv(months_from_january, 12) * 12 + 1);
  const EpochSeconds target =
      (daysFromCivil(normalized_year, normalized_month, 1) + day - 1) * kSecondsPerDay +
      EpochSeconds{hour} * kSecondsPerHour + EpochSeconds{minute} * 60;

  // The local clock reads t + offset(t), which rises within each stretch of constant offset. Walk
  // those stretches from the last instant that cannot yet show `target` (offsets stay below
  // kMaxOffset); the first stretch that reaches it holds the answer, at the stretch's start when
  // the clock jumped over `target` (a gap).
  EpochSeconds from = target - kMaxOffset - 1;
  for (;;) {
    const EpochSeconds candidate = std::max(from, target - rules_->offsetAt(from));
    const std::optional<EpochSeconds> next_change = rules_->nextChangeAfter(from);
    if (!next_change || candidate < *next_change) return timePointOf(candidate);
    from = *next_change;
  }
}

std::string TimeZone::name() const { return name_; }

}  // namespace costgate::budget
