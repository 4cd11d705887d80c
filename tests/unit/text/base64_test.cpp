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
  EXPECT_EQ(base64Decode("AP8"), std::string("\0\xFF", 2));
  std::string every_byte;
  for (int value = 0; value < 256; ++value) every_byte += static_cast<char>(value);
  EXPECT_EQ(base64Decode(base64Encode(every_byte)), every_byte);
}

TEST(Base64Test, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64Decode("Zm9v!"));
  EXPECT_FALSE(base64Decode("Z"));
  EXPECT_FALSE(base64Decode("Zm9=v"));
  EXPECT_FALSE(base64Decode("Zm8=="));
  // OpenSSL's decoder alone would take these.
  EXPECT_FALSE(base64Decode(" Zm9v"));
  EXPECT_FALSE(base64Decode("Zm9v\n"));
  EXPECT_FALSE(base64Decode("Z==="));
  EXPECT_FALSE(base64Decode("===="));
}

}  // namespace
}  // namespace costgate::text
