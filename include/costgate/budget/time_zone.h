#pragma once
// A time zone's UTC offsets over time, from the system's zoneinfo files through cctz (GCC 12's
// libstdc++ has no std::chrono time-zone database). Budget windows need two answers from it: the
// offset at an instant, and the instant a local civil time begins.

#include <cctz/time_zone.h>

#include <chrono>
#include <string>
#include <string_view>
#include <variant>

#include "costgate/error.h"

namespace costgate::budget {

// Immutable after load; a copy is a handle to the same rules (cctz keeps each loaded zone for the
// life of the process), so it is cheap to copy and safe to read from any thread.
class TimeZone {
 public:
  // Runs at config load: "UTC" and "Etc/UTC" are built in; any other IANA name reads
  // <zoneinfo_dir>/<name>. Returns the zone, or an error naming it for a name with "..", an
  // absolute path or characters outside [A-Za-z0-9_+-/], a missing file, or one cctz cannot use
  // (corrupt, or with leap seconds: the right/ zones).
  static std::variant<TimeZone, Error> load(std::string_view name,
                                            std::string_view zoneinfo_dir = "/usr/share/zoneinfo");

  // The UTC offset (local minus UTC) in effect at `utc`.
  std::chrono::seconds offsetAt(std::chrono::system_clock::time_point utc) const;

  // The first UTC instant at which the local clock shows the given civil time or later: a time
  // skipped by a DST gap maps to the end of the gap, a time shown twice (a fold) to its first
  // showing. Fields past their range carry over as in mktime (month 13 is January of the next year,
  // day 32 or hour 24 the next day). Saturates at system_clock's range (years 1678..2261).
  std::chrono::system_clock::time_point startOfLocal(int year, unsigned month, unsigned day,
                                                     int hour, int minute) const;

  // The name it was loaded under, e.g. "Europe/Paris".
  std::string name() const { return name_; }

 private:
  TimeZone(std::string name, cctz::time_zone zone) : name_(std::move(name)), zone_(zone) {}

  std::string name_;
  cctz::time_zone zone_;
};

}  // namespace costgate::budget
