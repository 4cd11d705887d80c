#include "costgate/budget/window.h"

#include <cstdio>

namespace costgate::budget {

namespace {

using TimePoint = std::chrono::system_clock::time_point;

// A unit of local clock time, by its first reading; the fields below the kind's unit are zero
// (day 1 for a month).
struct LocalUnit {
  int year = 1970;
  unsigned month = 1;
  unsigned day = 1;
  int hour = 0;
  int minute = 0;
};

// The unit of `kind` holding what the local clock shows at `instant`.
LocalUnit unitShownAt(WindowKind kind, const TimeZone& zone, TimePoint instant) {
  using namespace std::chrono;
  const sys_seconds local = floor<seconds>(instant) + zone.offsetAt(instant);
  const sys_days date = floor<days>(local);
  const year_month_day civil{date};
  const hh_mm_ss<seconds> clock{local - date};
  LocalUnit unit{.year = int(civil.year()),
                 .month = unsigned(civil.month()),
                 .day = unsigned(civil.day()),
                 .hour = int(clock.hours().count()),
                 .minute = int(clock.minutes().count())};
  switch (kind) {
    case WindowKind::kMonth:
      unit.day = 1;
      [[fallthrough]];
    case WindowKind::kDay:
      unit.hour = 0;
      [[fallthrough]];
    case WindowKind::kHour:
      unit.minute = 0;
      [[fallthrough]];
    case WindowKind::kMinute:
      break;
  }
  return unit;
}

TimePoint startOf(const TimeZone& zone, const LocalUnit& unit) {
  return zone.startOfLocal(unit.year, unit.month, unit.day, unit.hour, unit.minute);
}

// startOfLocal carries overflowing fields (month 13, day 32, hour 24, minute 60) into the next.
TimePoint startOfNext(WindowKind kind, const TimeZone& zone, LocalUnit unit) {
  switch (kind) {
    case WindowKind::kMonth:
      ++unit.month;
      break;
    case WindowKind::kDay:
      ++unit.day;
      break;
    case WindowKind::kHour:
      ++unit.hour;
      break;
    case WindowKind::kMinute:
      ++unit.minute;
      break;
  }
  return startOf(zone, unit);
}

std::string idOf(WindowKind kind, const LocalUnit& unit) {
  char id[64];
  switch (kind) {
    case WindowKind::kMonth:
      std::snprintf(id, sizeof id, "%04d-%02u", unit.year, unit.month);
      break;
    case WindowKind::kDay:
      std::snprintf(id, sizeof id, "%04d-%02u-%02u", unit.year, unit.month, unit.day);
      break;
    case WindowKind::kHour:
      std::snprintf(id, sizeof id, "%04d-%02u-%02uT%02d", unit.year, unit.month, unit.day,
                    unit.hour);
      break;
    case WindowKind::kMinute:
      std::snprintf(id, sizeof id, "%04d-%02u-%02uT%02d:%02d", unit.year, unit.month, unit.day,
                    unit.hour, unit.minute);
      break;
  }
  return id;
}

}  // namespace

std::optional<WindowKind> parseWindowKind(std::string_view text) {
  if (text == "minute") return WindowKind::kMinute;
  if (text == "hour") return WindowKind::kHour;
  if (text == "day") return WindowKind::kDay;
  if (text == "month") return WindowKind::kMonth;
  return std::nullopt;
}

WindowSpan windowAt(WindowKind kind, const TimeZone& zone, TimePoint now) {
  LocalUnit unit = unitShownAt(kind, zone, now);
  TimePoint end = startOfNext(kind, zone, unit);
  // The next unit already began before `now` only if the clock has since gone back (a fold): the
  // window open is then the latest unit the clock reached, found by following the starts forward.
  // Each step moves to a later unit, and no unit past now's clock reading plus the fold qualifies.
  while (end <= now && end != TimePoint::max()) {
    unit = unitShownAt(kind, zone, end);
    end = startOfNext(kind, zone, unit);
  }
  return {.start = startOf(zone, unit), .end = end, .id = idOf(kind, unit)};
}

}  // namespace costgate::budget
