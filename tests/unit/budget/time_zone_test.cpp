#include "costgate/budget/time_zone.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

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

TimeZone loadZone(std::string_view name, std::string_view dir = "/usr/share/zoneinfo") {
  auto loaded = TimeZone::load(name, dir);
  if (const auto* error = std::get_if<Error>(&loaded)) {
    ADD_FAILURE() << error->message;
    return std::get<TimeZone>(TimeZone::load("UTC"));
  }
  return std::get<TimeZone>(std::move(loaded));
}

std::string loadError(std::string_view name, std::string_view dir = "/usr/share/zoneinfo") {
  auto loaded = TimeZone::load(name, dir);
  if (const auto* error = std::get_if<Error>(&loaded)) return error->message;
  ADD_FAILURE() << name << " loaded";
  return "";
}

// TZif bytes (RFC 8536) for synthetic, broken zones: offsets are the local time types, each
// transition names the type it switches to. (How cctz reads good files is cctz's to test; what is
// tested here is that a file it cannot use is an error naming the zone.)
struct SyntheticZone {
  std::vector<std::int32_t> offsets;
  std::vector<std::pair<std::int64_t, unsigned char>> transitions;
  std::string footer;
};

void appendBigEndian(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

void appendBlock(std::string& out, char version, const SyntheticZone& zone, int time_bytes) {
  out += "TZif";
  out.push_back(version);
  out.append(15, '\0');
  for (std::uint64_t count : {std::uint64_t{0}, std::uint64_t{0}, std::uint64_t{0},
                              std::uint64_t{zone.transitions.size()},
                              std::uint64_t{zone.offsets.size()}, std::uint64_t{4}}) {
    appendBigEndian(out, count, 4);
  }
  for (const auto& transition : zone.transitions) {
    appendBigEndian(out, static_cast<std::uint64_t>(transition.first), time_bytes);
  }
  for (const auto& transition : zone.transitions) out.push_back(char(transition.second));
  for (std::int32_t offset : zone.offsets) {
    appendBigEndian(out, static_cast<std::uint32_t>(offset), 4);
    out += std::string("\0\0", 2);  // not DST, abbreviation at index 0
  }
  out += std::string("ZZZ\0", 4);
}

std::string tzifV2(const SyntheticZone& zone) {
  std::string out;
  appendBlock(out, '2', zone, 4);  // what a v1 reader would see; v2 readers skip it
  appendBlock(out, '2', zone, 8);
  out += "\n" + zone.footer + "\n";
  return out;
}

class TimeZoneFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("costgate-tz-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "Test");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
  }
  std::string dir() const { return dir_.string(); }

 private:
  std::filesystem::path dir_;
};

TEST(TimeZoneTest, UtcIsBuiltIn) {
  for (std::string_view name : {"UTC", "Etc/UTC"}) {
    TimeZone zone = loadZone(name, "/nonexistent");
    EXPECT_EQ(zone.name(), name);
    EXPECT_EQ(zone.offsetAt(utc(2026, 3, 29, 1)), seconds{0});
    EXPECT_EQ(zone.startOfLocal(2026, 11, 29, 10, 5), utc(2026, 11, 29, 10, 5));
  }
}

TEST(TimeZoneTest, ParisSwitchesAtOneUtcOnTheLastSundays) {
  TimeZone paris = loadZone("Europe/Paris");
  EXPECT_EQ(paris.name(), "Europe/Paris");
  EXPECT_EQ(paris.offsetAt(utc(2026, 3, 29, 0, 59, 59)), hours{1});
  EXPECT_EQ(paris.offsetAt(utc(2026, 3, 29, 1)), hours{2});
  EXPECT_EQ(paris.offsetAt(utc(2026, 10, 25, 0, 59, 59)), hours{2});
  EXPECT_EQ(paris.offsetAt(utc(2026, 10, 25, 1)), hours{1});
  // Sub-second instants take the offset of the second they are in.
  EXPECT_EQ(paris.offsetAt(utc(2026, 3, 29, 1) - std::chrono::nanoseconds{1}), hours{1});
}

TEST(TimeZoneTest, LocalTimesInTheSpringGapStartWhenTheGapEnds) {
  TimeZone paris = loadZone("Europe/Paris");
  EXPECT_EQ(paris.startOfLocal(2026, 3, 29, 1, 59), utc(2026, 3, 29, 0, 59));
  // 02:00..02:59 never shows: the clock goes from 01:59:59 CET to 03:00 CEST at 01:00Z.
  EXPECT_EQ(paris.startOfLocal(2026, 3, 29, 2, 0), utc(2026, 3, 29, 1));
  EXPECT_EQ(paris.startOfLocal(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1));
  EXPECT_EQ(paris.startOfLocal(2026, 3, 29, 3, 0), utc(2026, 3, 29, 1));
  EXPECT_EQ(paris.startOfLocal(2026, 3, 29, 3, 1), utc(2026, 3, 29, 1, 1));
}

TEST(TimeZoneTest, LocalTimesInTheAutumnFoldStartAtTheirFirstShowing) {
  TimeZone paris = loadZone("Europe/Paris");
  EXPECT_EQ(paris.startOfLocal(2026, 10, 25, 2, 0), utc(2026, 10, 25, 0));
  EXPECT_EQ(paris.startOfLocal(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30));
  // 03:00 first shows after the repeated hour, in CET.
  EXPECT_EQ(paris.startOfLocal(2026, 10, 25, 3, 0), utc(2026, 10, 25, 2));
  EXPECT_EQ(paris.startOfLocal(2026, 10, 25, 0, 0), utc(2026, 10, 24, 22));
  EXPECT_EQ(paris.startOfLocal(2026, 10, 26, 0, 0), utc(2026, 10, 25, 23));
}

TEST(TimeZoneTest, NewYorkMonthBoundariesFollowTheOffsetOfTheirDay) {
  TimeZone new_york = loadZone("America/New_York");
  EXPECT_EQ(new_york.startOfLocal(2026, 11, 1, 0, 0), utc(2026, 11, 1, 4));
  EXPECT_EQ(new_york.startOfLocal(2026, 12, 1, 0, 0), utc(2026, 12, 1, 5));
}

TEST(TimeZoneTest, OverflowingFieldsCarryOver) {
  TimeZone new_york = loadZone("America/New_York");
  EXPECT_EQ(new_york.startOfLocal(2026, 13, 1, 0, 0), utc(2027, 1, 1, 5));
  EXPECT_EQ(new_york.startOfLocal(2026, 12, 32, 0, 0), utc(2027, 1, 1, 5));
  EXPECT_EQ(new_york.startOfLocal(2026, 12, 31, 24, 0), utc(2027, 1, 1, 5));
  EXPECT_EQ(new_york.startOfLocal(2026, 12, 31, 23, 60), utc(2027, 1, 1, 5));
  EXPECT_EQ(new_york.startOfLocal(2027, 0, 1, 0, 0), utc(2026, 12, 1, 5));
}

TEST(TimeZoneTest, HalfAndQuarterHourOffsets) {
  TimeZone kolkata = loadZone("Asia/Kolkata");
  EXPECT_EQ(kolkata.offsetAt(utc(2026, 11, 29, 10)), hours{5} + minutes{30});
  EXPECT_EQ(kolkata.startOfLocal(2026, 11, 29, 16, 0), utc(2026, 11, 29, 10, 30));
  TimeZone kathmandu = loadZone("Asia/Kathmandu");
  EXPECT_EQ(kathmandu.offsetAt(utc(2026, 11, 29, 10)), hours{5} + minutes{45});
  EXPECT_EQ(kathmandu.startOfLocal(2026, 11, 29, 16, 0), utc(2026, 11, 29, 10, 15));
}

TEST(TimeZoneTest, PastTheLastTransitionTheFooterRuleApplies) {
  // The files end their tables in 2037; 2090's switches come from the POSIX rules.
  TimeZone paris = loadZone("Europe/Paris");  // CET-1CEST,M3.5.0,M10.5.0/3
  EXPECT_EQ(paris.offsetAt(utc(2090, 3, 26, 0, 59, 59)), hours{1});
  EXPECT_EQ(paris.offsetAt(utc(2090, 3, 26, 1)), hours{2});
  EXPECT_EQ(paris.offsetAt(utc(2090, 10, 29, 0, 59, 59)), hours{2});
  EXPECT_EQ(paris.offsetAt(utc(2090, 10, 29, 1)), hours{1});
  EXPECT_EQ(paris.startOfLocal(2090, 3, 26, 2, 30), utc(2090, 3, 26, 1));
  EXPECT_EQ(paris.startOfLocal(2090, 10, 29, 2, 30), utc(2090, 10, 29, 0, 30));

  TimeZone new_york = loadZone("America/New_York");  // EST5EDT,M3.2.0,M11.1.0
  EXPECT_EQ(new_york.offsetAt(utc(2090, 3, 12, 6, 59, 59)), hours{-5});
  EXPECT_EQ(new_york.offsetAt(utc(2090, 3, 12, 7)), hours{-4});
  EXPECT_EQ(new_york.offsetAt(utc(2090, 11, 5, 5, 59, 59)), hours{-4});
  EXPECT_EQ(new_york.offsetAt(utc(2090, 11, 5, 6)), hours{-5});

  // Southern hemisphere: daylight time spans the new year.
  TimeZone sydney = loadZone("Australia/Sydney");  // AEST-10AEDT,M10.1.0,M4.1.0/3
  EXPECT_EQ(sydney.offsetAt(utc(2090, 1, 15)), hours{11});
  EXPECT_EQ(sydney.offsetAt(utc(2090, 4, 1, 15, 59, 59)), hours{11});
  EXPECT_EQ(sydney.offsetAt(utc(2090, 4, 1, 16)), hours{10});
  EXPECT_EQ(sydney.offsetAt(utc(2090, 9, 30, 15, 59, 59)), hours{10});
  EXPECT_EQ(sydney.offsetAt(utc(2090, 9, 30, 16)), hours{11});
  EXPECT_EQ(sydney.startOfLocal(2091, 1, 1, 0, 0), utc(2090, 12, 31, 13));
}

TEST(TimeZoneTest, SaturatesOutsideTheSystemClocksRange) {
  TimeZone paris = loadZone("Europe/Paris");
  EXPECT_EQ(paris.startOfLocal(2300, 1, 1, 0, 0), TimePoint::max());
  EXPECT_EQ(paris.startOfLocal(1600, 1, 1, 0, 0), TimePoint::min());
  EXPECT_EQ(paris.offsetAt(TimePoint::min()), minutes{9} + seconds{21});  // Paris mean time
}

TEST(TimeZoneTest, RejectsNamesThatAreNotZoneNames) {
  for (std::string_view name : {"../etc/passwd", "/abs", "Europe/../../etc/passwd", "Europe/Par is",
                                "Europe/Paris;ls", "Europe/Paris.", ""}) {
    std::string error = loadError(name);
    EXPECT_NE(error.find("time zone \"" + std::string(name) + "\""), std::string::npos) << error;
  }
}

TEST(TimeZoneTest, MissingZonesAreErrorsNamingTheZone) {
  EXPECT_NE(loadError("Nope/Zone").find("Nope/Zone"), std::string::npos);
  EXPECT_NE(loadError("Europe").find("Europe"), std::string::npos);  // a directory
  EXPECT_NE(loadError("Europe/Paris", "/nonexistent").find("Europe/Paris"), std::string::npos);
}

TEST(TimeZoneTest, RejectsLeapSecondZones) {
  if (!std::filesystem::exists("/usr/share/zoneinfo/right/UTC")) GTEST_SKIP();
  EXPECT_NE(loadError("right/UTC").find("leap"), std::string::npos);
}

TEST_F(TimeZoneFileTest, CorruptFilesAreErrorsNamingTheZone) {
  std::ifstream paris("/usr/share/zoneinfo/Europe/Paris", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(paris)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 200u);
  write("Test/Truncated", bytes.substr(0, 200));
  write("Test/Empty", "");
  write("Test/Text", "Europe/Paris is a nice zone, but this is not its file.\n");
  SyntheticZone out_of_order{
      .offsets = {0, 3600}, .transitions = {{100, 1}, {50, 0}}, .footer = ""};
  write("Test/OutOfOrder", tzifV2(out_of_order));
  SyntheticZone bad_type{.offsets = {0}, .transitions = {{100, 1}}, .footer = ""};
  write("Test/BadType", tzifV2(bad_type));
  SyntheticZone huge_offset{.offsets = {0, 30 * 3600}, .transitions = {{100, 1}}, .footer = ""};
  write("Test/HugeOffset", tzifV2(huge_offset));

  for (std::string name : {"Test/Truncated", "Test/Empty", "Test/Text", "Test/OutOfOrder",
                           "Test/BadType", "Test/HugeOffset"}) {
    std::string error = loadError(name, dir());
    EXPECT_NE(error.find(name), std::string::npos) << error;
    EXPECT_NE(error.find("corrupt"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace costgate::budget
