#include "costgate/text/base64.h"

#include <gtest/gtest.h>

namespace costgate::text {
namespace {

TEST(Base64Test, EncodesAndDecodesRfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64Encode(plain), encoded);
    EXPECT_EQ(base64Decode(encoded), std::string(plain));
  }
  EXPECT_EQ(base64Decode("Zm8"), "fo");  // padding may be left out
  EXPECT_EQ(base64Encode(std::string("\0\xFF", 2)), "AP8=");
}

TEST(Base64Test, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64Decode("Zm9v!"));
  EXPECT_FALSE(base64Decode("Z"));
  EXPECT_FALSE(base64Decode("Zm9=v"));
  EXPECT_FALSE(base64Decode("Zm8=="));
}

}  // namespace
}  // namespace costgate::text
