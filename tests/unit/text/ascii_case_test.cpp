#include "costgate/text/ascii_case.h"

#include <gtest/gtest.h>

namespace costgate::text {
namespace {

TEST(LowerAscii, LowersOnlyAsciiLetters) {
  EXPECT_EQ(lowerAscii("Cache-Control: NO-Store"), "cache-control: no-store");
  EXPECT_EQ(lowerAscii("I'M NOT SURE, Ça Va"), "i'm not sure, Ça va");  // UTF-8 bytes kept
  EXPECT_EQ(lowerAscii(""), "");
}

}  // namespace
}  // namespace costgate::text
