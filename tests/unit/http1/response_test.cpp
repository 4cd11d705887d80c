#include "costgate/http1/response.h"

#include <gtest/gtest.h>

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

TEST(Http1Response, KnowsReasonPhrases) {
  EXPECT_EQ(reasonPhrase(200), "OK");
  EXPECT_EQ(reasonPhrase(504), "Gateway Timeout");
  EXPECT_EQ(reasonPhrase(299), "Unknown");
}

}  // namespace
}  // namespace costgate::http1
