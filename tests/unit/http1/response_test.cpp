#include "costgate/http1/response.h"

#include <gtest/gtest.h>

#include <string>

namespace costgate::http1 {
namespace {

TEST(Http1Response, CollectsHeaderLines) {
  Response response(429, "application/json", "{}");
  response.add("Retry-After", "1");
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.fields, "Content-Type: application/json\r\nRetry-After: 1\r\n");
  EXPECT_EQ(response.body, "{}");
  EXPECT_EQ(Response(204).fields, "");
}

TEST(Http1Response, CannotBeMadeToInjectLines) {
  Response response;
  response.add("X-Model", "m\r\nSet-Cookie: a=b").add("X\nY", "z");
  EXPECT_EQ(response.fields, "X-Model: m  Set-Cookie: a=b\r\nX Y: z\r\n");
}

// Every position of a break in values of every length up to 40 (the scan reads eight bytes at a
// time, the last eight overlapping), and values with none.
TEST(Http1Response, FindsLineBreaksAnywhere) {
  for (std::size_t length = 1; length <= 40; ++length) {
    const std::string plain(length, 'v');
    EXPECT_EQ(Response().add("N", plain).fields, "N: " + plain + "\r\n");
    for (std::size_t at = 0; at < length; ++at) {
      for (char line_break : {'\r', '\n'}) {
        std::string value = plain;
        value[at] = line_break;
        EXPECT_EQ(Response().add("N", value).fields,
                  "N: " + plain.substr(0, at) + " " + plain.substr(at + 1) + "\r\n")
            << length << " " << at;
      }
    }
  }
}

TEST(Http1Response, KnowsReasonPhrases) {
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(504), "Gateway Timeout");
  EXPECT_EQ(reasonPhrase(299), "Unknown");
}

}  // namespace
}  // namespace costgate::http1
