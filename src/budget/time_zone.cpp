#include "costgate/budget/time_zone.h"

#include <filesystem>
#include <optional>

namespace costgate::budget {
namespace {

using SystemTime = std::chrono::system_clock::time_point;

// The name becomes a path under the zoneinfo directory, so it must not be able to leave it.
std::optional<Error> nameProblem(std::string_view name) {
  if (name.empty()) return Error{"empty name"};
  if (name.size() > 255) return Error{"name too long"};
  if (name.front() == '/') return Error{"absolute paths are not zone names"};
  if (name.find("..") != std::string_view::npos)
    return Error{"\"..\" is not allowed in zone names"};
  for (char c : name) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-' || c == '/';
    if (!allowed) return Error{"zone names use only letters, digits, '_', '+', '-' and '/'"};
  }
  return std::nullopt;
}

// cctz's instants are seconds on the system clock, with a far wider range than system_clock's
// nanoseconds.
SystemTime saturated(cctz::time_point<cctz::seconds> instant) {
  using std::chrono::seconds;
  static const auto kFirst = std::chrono::ceil<seconds>(SystemTime::min());
  static const auto kLast = std::chrono::floor<seconds>(SystemTime::max());
  if (instant < kFirst) return SystemTime::min();
  if (instant > kLast) return SystemTime::max();
  return instant;
}

}  // namespace

std::variant<TimeZone, Error> TimeZone::load(std::string_view name, std::string_view zoneinfo_dir) {
  const std::string quoted = "time zone \"" + std::string(name) + "\": ";
  if (auto problem = nameProblem(name)) return Error{quoted + problem->message};
  if (name == "UTC" || name == "Etc/UTC") return TimeZone(std::string(name), cctz::utc_time_zone());

  // Checked here rather than left to cctz, which remembers a failed load for the life of the
  // process: a zone file installed later is then found by the next reload.
  const std::filesystem::path path = std::filesystem::path(zoneinfo_dir) / std::string(name);
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return Error{quoted + "no zone file at " + path.string()};
  }
  cctz::time_zone zone;
  if (!cctz::load_time_zone(path.string(), &zone)) {
    return Error{quoted + "cannot use the zone file " + path.string() +
                 " (corrupt, or with leap seconds)"};
  }
  return TimeZone(std::string(name), zone);
}

std::chrono::seconds TimeZone::offsetAt(SystemTime utc) const {
  return std::chrono::seconds{zone_.lookup(std::chrono::floor<std::chrono::seconds>(utc)).offset};
}

SystemTime TimeZone::startOfLocal(int year, unsigned month, unsigned day, int hour,
                                  int minute) const {
  // civil_second normalizes fields past their range, as mktime does.
  const cctz::civil_second local(year, month, day, hour, minute, 0);
  const cctz::time_zone::civil_lookup found = zone_.lookup(local);
  // In a gap, `trans` is where the gap ends; otherwise `pre` is the first (or only) showing.
  return saturated(found.kind == cctz::time_zone::civil_lookup::SKIPPED ? found.trans : found.pre);
}

}  // namespace costgate::budget
