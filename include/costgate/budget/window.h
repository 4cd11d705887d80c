#pragma once
// Budget windows: the stretch of time a USD budget covers, cut at a time zone's local clock
// boundaries. The ledger keys spend by a window's id and answers Retry-After with its end.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "costgate/budget/time_zone.h"

namespace costgate::budget {

enum class WindowKind { kMinute, kHour, kDay, kMonth };

// "minute", "hour", "day" or "month" (as written in the config); nullopt for anything else.
std::optional<WindowKind> parseWindowKind(std::string_view text);

struct WindowSpan {
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point end;  // exclusive: the next window's start
  // The local start, distinct for every window of a kind and zone: "2026-11" (month), "2026-11-29"
  // (day), "2026-11-29T10" (hour), "2026-11-29T10:05" (minute).
  std::string id;
};

// Pure: the window of `kind` in `zone` that holds `now`, [start, end). A window runs from the first
// instant the local clock shows its unit (startOfLocal: after a DST gap, not inside it) to the
// first instant it shows the next unit, so a day can last 23 or 25 hours and a month runs from
// local midnight of the 1st to the next 1st. When the clock goes back, the local times it shows
// again stay in the window already open instead of opening their units a second time: each unit of
// local time gets one allowance, so the repeated hour of a fall-back night is one 2-hour hour
// window, and minute windows pause at :59 until the clock passes where it was.
WindowSpan windowAt(WindowKind kind, const TimeZone& zone,
                    std::chrono::system_clock::time_point now);

}  // namespace costgate::budget
