#include "costgate/budget/window.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace costgate::budget {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

TimePoint utc(int year, unsigned month, unsigned day, int hour = 0, int minute = 0,
              int second = 0) {
  return std::chrono::sys_days{std::chrono::year{year} / month / day} + hours{hour} +
         minutes{minute} + seconds{second};
}

TimeZone loadZone(std::string_view name) {
  auto loaded = TimeZone::load(name);
  if (const auto* error = std::get_if<Error>(&loaded)) {
    ADD_FAILURE() << error->message;
    return std::get<TimeZone>(TimeZone::load("UTC"));
  }
  return std::get<TimeZone>(std::move(loaded));
}

void expectWindow(const WindowSpan& window, TimePoint start, TimePoint end, const std::string& id) {
  EXPECT_EQ(window.start, start) << window.id;
  EXPECT_EQ(window.end, end) << window.id;
  EXPECT_EQ(window.id, id);
}

TEST(WindowTest, ParsesKindNames) {
  EXPECT_EQ(parseWindowKind("minute"), WindowKind::kMinute);
  EXPECT_EQ(parseWindowKind("hour"), WindowKind::kHour);
  EXPECT_EQ(parseWindowKind("day"), WindowKind::kDay);
  EXPECT_EQ(parseWindowKind("month"), WindowKind::kMonth);
  EXPECT_EQ(parseWindowKind("Month"), std::nullopt);
  EXPECT_EQ(parseWindowKind("week"), std::nullopt);
  EXPECT_EQ(parseWindowKind(""), std::nullopt);
}

TEST(WindowTest, UtcWindowsAndTheirIds) {
  TimeZone zone = loadZone("UTC");
  const TimePoint now = utc(2026, 11, 29, 10, 5, 30) + std::chrono::milliseconds{250};
  expectWindow(windowAt(WindowKind::kMinute, zone, now), utc(2026, 11, 29, 10, 5),
               utc(2026, 11, 29, 10, 6), "2026-11-29T10:05");
  expectWindow(windowAt(WindowKind::kHour, zone, now), utc(2026, 11, 29, 10), utc(2026, 11, 29, 11),
               "2026-11-29T10");
  expectWindow(windowAt(WindowKind::kDay, zone, now), utc(2026, 11, 29), utc(2026, 11, 30),
               "2026-11-29");
  expectWindow(windowAt(WindowKind::kMonth, zone, now), utc(2026, 11, 1), utc(2026, 12, 1),
               "2026-11");
}

TEST(WindowTest, AWindowEndIsTheNextWindowsStart) {
  TimeZone zone = loadZone("UTC");
  expectWindow(windowAt(WindowKind::kMinute, zone, utc(2026, 11, 29, 10, 6)),
               utc(2026, 11, 29, 10, 6), utc(2026, 11, 29, 10, 7), "2026-11-29T10:06");
  expectWindow(
      windowAt(WindowKind::kMinute, zone, utc(2026, 11, 29, 10, 6) - std::chrono::nanoseconds{1}),
      utc(2026, 11, 29, 10, 5), utc(2026, 11, 29, 10, 6), "2026-11-29T10:05");
}

TEST(WindowTest, DecemberRollsOverIntoJanuary) {
  TimeZone utc_zone = loadZone("UTC");
  const TimePoint new_years_eve = utc(2026, 12, 31, 23, 59, 59);
  expectWindow(windowAt(WindowKind::kMonth, utc_zone, new_years_eve), utc(2026, 12, 1),
               utc(2027, 1, 1), "2026-12");
  expectWindow(windowAt(WindowKind::kDay, utc_zone, new_years_eve), utc(2026, 12, 31),
               utc(2027, 1, 1), "2026-12-31");
  expectWindow(windowAt(WindowKind::kHour, utc_zone, new_years_eve), utc(2026, 12, 31, 23),
               utc(2027, 1, 1), "2026-12-31T23");
  expectWindow(windowAt(WindowKind::kMinute, utc_zone, new_years_eve), utc(2026, 12, 31, 23, 59),
               utc(2027, 1, 1), "2026-12-31T23:59");

  // New York's year ends at 05:00Z.
  TimeZone new_york = loadZone("America/New_York");
  expectWindow(windowAt(WindowKind::kMonth, new_york, utc(2027, 1, 1, 4, 59, 59)),
               utc(2026, 12, 1, 5), utc(2027, 1, 1, 5), "2026-12");
  expectWindow(windowAt(WindowKind::kMonth, new_york, utc(2027, 1, 1, 5)), utc(2027, 1, 1, 5),
               utc(2027, 2, 1, 5), "2027-01");
}

TEST(WindowTest, NewYorkNovemberStartsInDaylightAndEndsInStandardTime) {
  TimeZone new_york = loadZone("America/New_York");
  for (TimePoint now : {utc(2026, 11, 1, 4), utc(2026, 11, 15, 12), utc(2026, 12, 1, 4, 59, 59)}) {
    expectWindow(windowAt(WindowKind::kMonth, new_york, now), utc(2026, 11, 1, 4),
                 utc(2026, 12, 1, 5), "2026-11");
  }
  // Still October locally.
  EXPECT_EQ(windowAt(WindowKind::kMonth, new_york, utc(2026, 11, 1, 3, 59, 59)).id, "2026-10");
}

TEST(WindowTest, ParisDaysAcrossDstChangesLast23And25Hours) {
  TimeZone paris = loadZone("Europe/Paris");
  WindowSpan spring = windowAt(WindowKind::kDay, paris, utc(2026, 3, 29, 12));
  expectWindow(spring, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), "2026-03-29");
  EXPECT_EQ(spring.end - spring.start, hours{23});

  WindowSpan autumn = windowAt(WindowKind::kDay, paris, utc(2026, 10, 25, 12));
  expectWindow(autumn, utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), "2026-10-25");
  EXPECT_EQ(autumn.end - autumn.start, hours{25});
}

TEST(WindowTest, ParisHoursAroundTheSpringGap) {
  TimeZone paris = loadZone("Europe/Paris");
  // 01:59 CET is followed by 03:00 CEST: there is no 02 hour.
  expectWindow(windowAt(WindowKind::kHour, paris, utc(2026, 3, 29, 0, 59, 59)), utc(2026, 3, 29, 0),
               utc(2026, 3, 29, 1), "2026-03-29T01");
  expectWindow(windowAt(WindowKind::kHour, paris, utc(2026, 3, 29, 1)), utc(2026, 3, 29, 1),
               utc(2026, 3, 29, 2), "2026-03-29T03");
}

TEST(WindowTest, TheRepeatedAutumnHourIsOneWindow) {
  TimeZone paris = loadZone("Europe/Paris");
  // 02:00..02:59 shows in CEST (00:00Z..00:59Z) and again in CET (01:00Z..01:59Z): one allowance.
  for (TimePoint now : {utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)}) {
    expectWindow(windowAt(WindowKind::kHour, paris, now), utc(2026, 10, 25, 0),
                 utc(2026, 10, 25, 2), "2026-10-25T02");
  }
  // Minute windows do not reopen while the clock shows minutes it already showed.
  expectWindow(windowAt(WindowKind::kMinute, paris, utc(2026, 10, 25, 0, 30)),
               utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 0, 31), "2026-10-25T02:30");
  expectWindow(windowAt(WindowKind::kMinute, paris, utc(2026, 10, 25, 1, 30)),
               utc(2026, 10, 25, 0, 59), utc(2026, 10, 25, 2), "2026-10-25T02:59");
  expectWindow(windowAt(WindowKind::kMinute, paris, utc(2026, 10, 25, 2)), utc(2026, 10, 25, 2),
               utc(2026, 10, 25, 2, 1), "2026-10-25T03:00");
}

TEST(WindowTest, HoursOfHalfAndQuarterHourZonesStartOffTheUtcHour) {
  TimeZone kolkata = loadZone("Asia/Kolkata");
  // 10:05Z is 15:35 in Kolkata.
  expectWindow(windowAt(WindowKind::kHour, kolkata, utc(2026, 11, 29, 10, 5)),
               utc(2026, 11, 29, 9, 30), utc(2026, 11, 29, 10, 30), "2026-11-29T15");
  expectWindow(windowAt(WindowKind::kHour, kolkata, utc(2026, 11, 29, 10, 30)),
               utc(2026, 11, 29, 10, 30), utc(2026, 11, 29, 11, 30), "2026-11-29T16");
  expectWindow(windowAt(WindowKind::kDay, kolkata, utc(2026, 11, 29, 20)),
               utc(2026, 11, 29, 18, 30), utc(2026, 11, 30, 18, 30), "2026-11-30");
  expectWindow(windowAt(WindowKind::kMinute, kolkata, utc(2026, 11, 29, 10, 5, 59)),
               utc(2026, 11, 29, 10, 5), utc(2026, 11, 29, 10, 6), "2026-11-29T15:35");

  TimeZone kathmandu = loadZone("Asia/Kathmandu");
  // 10:05Z is 15:50 in Kathmandu.
  expectWindow(windowAt(WindowKind::kHour, kathmandu, utc(2026, 11, 29, 10, 5)),
               utc(2026, 11, 29, 9, 15), utc(2026, 11, 29, 10, 15), "2026-11-29T15");
}

TEST(WindowTest, FarFutureWindowsFollowTheFooterRule) {
  TimeZone paris = loadZone("Europe/Paris");
  // March 26 and October 29 are 2090's last Sundays.
  WindowSpan spring = windowAt(WindowKind::kDay, paris, utc(2090, 3, 26, 12));
  expectWindow(spring, utc(2090, 3, 25, 23), utc(2090, 3, 26, 22), "2090-03-26");
  WindowSpan autumn = windowAt(WindowKind::kDay, paris, utc(2090, 10, 29, 12));
  expectWindow(autumn, utc(2090, 10, 28, 22), utc(2090, 10, 29, 23), "2090-10-29");
  expectWindow(windowAt(WindowKind::kMonth, paris, utc(2090, 10, 15)), utc(2090, 9, 30, 22),
               utc(2090, 10, 31, 23), "2090-10");
}

TEST(WindowTest, WindowsTileTimeWithoutGapsOverlapsOrRepeatedIds) {
  // Across both 2026 Paris changes and a Kolkata stretch, every instant is in exactly the window
  // that starts where the previous one ended.
  struct Stretch {
    const char* zone;
    TimePoint from;
    TimePoint to;
  };
  for (const Stretch& stretch :
       {Stretch{"Europe/Paris", utc(2026, 3, 28, 20), utc(2026, 3, 29, 6)},
        Stretch{"Europe/Paris", utc(2026, 10, 24, 20), utc(2026, 10, 25, 6)},
        Stretch{"Asia/Kolkata", utc(2026, 11, 29), utc(2026, 11, 29, 6)}}) {
    TimeZone zone = loadZone(stretch.zone);
    for (WindowKind kind : {WindowKind::kMinute, WindowKind::kHour, WindowKind::kDay}) {
      WindowSpan window = windowAt(kind, zone, stretch.from);
      for (TimePoint now = stretch.from; now < stretch.to; now += seconds{37}) {
        if (now >= window.end) {
          WindowSpan next = windowAt(kind, zone, now);
          EXPECT_EQ(next.start, window.end) << stretch.zone << " " << next.id;
          EXPECT_GT(next.id, window.id) << stretch.zone;
          window = next;
        }
        WindowSpan current = windowAt(kind, zone, now);
        ASSERT_EQ(current.id, window.id) << stretch.zone;
        ASSERT_LE(current.start, now);
        ASSERT_GT(current.end, now);
      }
    }
  }
}

}  // namespace
}  // namespace costgate::budget
