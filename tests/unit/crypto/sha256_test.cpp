#include "costgate/crypto/sha256.h"

#include <gtest/gtest.h>

namespace costgate::crypto {
namespace {

TEST(Sha256, MatchesTheStandardTestVectors) {
  EXPECT_EQ(toHex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(toHex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256().update("a").update("bc").finish(), sha256("abc"));
}

TEST(Sha256, ReadsADigestBackFromHexOfEitherCase) {
  const std::string hex = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
  ASSERT_TRUE(digestFromHex(hex));
  EXPECT_EQ(*digestFromHex(hex), sha256("abc"));
  EXPECT_FALSE(digestFromHex(hex.substr(1)));
  EXPECT_FALSE(digestFromHex(std::string(63, 'a') + "g"));
}

}  // namespace
}  // namespace costgate::crypto
