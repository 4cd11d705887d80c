// What makes two chat requests one cache entry: the request as the backend would get it.

#include "costgate/cache/request_key.h"

#include <gtest/gtest.h>

namespace costgate::cache {
namespace {

std::string exactKeyOf(const std::string& body, const MemberEdits& edits = {}) {
  auto document = jsonview::Document::parse(body);
  EXPECT_TRUE(document);
  auto key = requestKeyOf(document->root(), "team/feature", "m", edits);
  EXPECT_TRUE(std::holds_alternative<RequestKey>(key));
  return std::get<RequestKey>(key).exact;
}

const std::string kQuestion = R"("messages":[{"role":"user","content":"Where is my parcel?"}])";

TEST(RequestKey, MembersInAnyOrderAreOneRequest) {
  EXPECT_EQ(exactKeyOf("{" + kQuestion + R"(,"temperature":0,"max_tokens":5})"),
            exactKeyOf(R"({"max_tokens":5,"temperature":0,)" + kQuestion + "}"));
}

TEST(RequestKey, IsTheRequestAsEditedForTheBackend) {
  const MemberEdits capped = {{"max_tokens", "600"}};
  const std::string asked_800 = exactKeyOf("{" + kQuestion + R"(,"max_tokens":800})", capped);
  EXPECT_EQ(asked_800, exactKeyOf("{" + kQuestion + "}", capped));
  EXPECT_EQ(asked_800, exactKeyOf("{" + kQuestion + R"(,"max_tokens":600})"));
  EXPECT_NE(asked_800, exactKeyOf("{" + kQuestion + R"(,"max_tokens":800})"));
  // A later edit of the same member wins; null takes it out.
  EXPECT_EQ(exactKeyOf("{" + kQuestion + "}", {{"max_tokens", "9"}, {"max_tokens", "600"}}),
            asked_800);
  EXPECT_EQ(exactKeyOf("{" + kQuestion + R"(,"seed":1})", {{"seed", "null"}}),
            exactKeyOf("{" + kQuestion + "}"));
  // Members that do not change the answer stay out, edited or not.
  EXPECT_EQ(exactKeyOf("{" + kQuestion + "}", {{"stream_options", R"({"include_usage":true})"}}),
            exactKeyOf("{" + kQuestion + "}"));
}

}  // namespace
}  // namespace costgate::cache
