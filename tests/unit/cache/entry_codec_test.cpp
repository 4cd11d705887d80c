#include "costgate/cache/entry_codec.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <string>

namespace costgate::cache {
namespace {

using namespace std::chrono_literals;

Entry sample(bool with_vector) {
  const std::string question = "How do I enable 2FA for user_id 42?";
  Entry entry;
  entry.key = RequestKey{std::string("part\0ition", 10), "exact-hash", question, !with_vector};
  entry.facts = factsOf(question);
  if (with_vector) entry.vector = Vector{0.5f, -0.25f, 1e-30f, 0.0f, -0.0f};
  entry.answer.body =
      "{\"choices\":[{\"message\":{\"content\":\"Settings \xe2\x86\x92 Security\"}}]}";
  entry.answer.usage = pricing::Usage{12, 34, 5, 6};
  entry.answer.model = "gpt-4o-mini";
  entry.answer.trusted = !with_vector;  // both values round-trip
  entry.expires_at = Clock::now() + 1h;
  return entry;
}

void expectSame(const Entry& decoded, const Entry& original) {
  EXPECT_EQ(decoded.key.partition, original.key.partition);
  EXPECT_EQ(decoded.key.exact, original.key.exact);
  EXPECT_EQ(decoded.key.question, original.key.question);
  EXPECT_EQ(decoded.key.text_only, original.key.text_only);
  EXPECT_EQ(decoded.facts, original.facts);
  ASSERT_EQ(decoded.vector.has_value(), original.vector.has_value());
  if (original.vector) {
    ASSERT_EQ(decoded.vector->size(), original.vector->size());
    // Bit for bit, the sign of zero included.
    EXPECT_EQ(std::memcmp(decoded.vector->data(), original.vector->data(),
                          original.vector->size() * sizeof(float)),
              0);
  }
  EXPECT_EQ(decoded.answer.body, original.answer.body);
  EXPECT_EQ(decoded.answer.usage.prompt_tokens, original.answer.usage.prompt_tokens);
  EXPECT_EQ(decoded.answer.usage.completion_tokens, original.answer.usage.completion_tokens);
  EXPECT_EQ(decoded.answer.usage.cached_tokens, original.answer.usage.cached_tokens);
  EXPECT_EQ(decoded.answer.usage.reasoning_tokens, original.answer.usage.reasoning_tokens);
  EXPECT_EQ(decoded.answer.model, original.answer.model);
  EXPECT_EQ(decoded.answer.trusted, original.answer.trusted);
}

TEST(EntryCodec, RoundTripsEveryFieldAndRecomputesFacts) {
  for (bool with_vector : {true, false}) {
    Entry original = sample(with_vector);
    const auto expires_at = Clock::now() + 5min;
    auto decoded = decodeEntry(encodeEntry(original), expires_at);
    ASSERT_TRUE(decoded) << with_vector;
    expectSame(*decoded, original);
    EXPECT_EQ(decoded->expires_at, expires_at);
    EXPECT_FALSE(decoded->facts.polarity.empty());  // "enable", from the question
  }
}

TEST(EntryCodec, RefusesEveryTruncationAndTrailingBytes) {
  const std::string bytes = encodeEntry(sample(true));
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_FALSE(decodeEntry(std::string_view(bytes).substr(0, size), Clock::now())) << size;
  }
  EXPECT_FALSE(decodeEntry(bytes + "x", Clock::now()));
}

TEST(EntryCodec, RefusesOtherVersionsFlagsAndBadVectors) {
  std::string bytes = encodeEntry(sample(true));
  std::string other_version = bytes;
  other_version[0] = 1;  // an entry written before answers named their model
  EXPECT_FALSE(decodeEntry(other_version, Clock::now()));

  // The flags byte follows the version and three length-prefixed strings.
  const Entry entry = sample(true);
  const std::size_t flags_at =
      1 + 12 + entry.key.partition.size() + entry.key.exact.size() + entry.key.question.size();
  std::string unknown_flag = bytes;
  unknown_flag[flags_at] = static_cast<char>(unknown_flag[flags_at] | 0x80);
  EXPECT_FALSE(decodeEntry(unknown_flag, Clock::now()));

  // A count far beyond the bytes there are is refused before anything is allocated.
  std::string huge_count = bytes;
  huge_count.replace(flags_at + 1, 4, "\xff\xff\xff\x7f");
  EXPECT_FALSE(decodeEntry(huge_count, Clock::now()));

  Entry empty_vector = sample(true);
  empty_vector.vector = Vector{};
  EXPECT_FALSE(decodeEntry(encodeEntry(empty_vector), Clock::now()));

  Entry not_finite = sample(true);
  (*not_finite.vector)[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(decodeEntry(encodeEntry(not_finite), Clock::now()));
  (*not_finite.vector)[1] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(decodeEntry(encodeEntry(not_finite), Clock::now()));

  EXPECT_FALSE(decodeEntry("", Clock::now()));
  EXPECT_FALSE(decodeEntry("garbage that is not an entry", Clock::now()));
}

TEST(EntryCodec, EventsCarryTheirOriginAndTtl) {
  const std::string entry = encodeEntry(sample(false));
  const std::string bytes = encodeEvent({"replica-a", 1500ms, entry});
  auto event = decodeEvent(bytes);
  ASSERT_TRUE(event);
  EXPECT_EQ(event->origin, "replica-a");
  EXPECT_EQ(event->ttl, 1500ms);
  EXPECT_EQ(event->entry, entry);

  for (std::size_t size = 0; size < bytes.size() - entry.size(); ++size) {
    EXPECT_FALSE(decodeEvent(std::string_view(bytes).substr(0, size))) << size;
  }
  EXPECT_FALSE(decodeEvent(encodeEvent({"", 1500ms, entry})));
  EXPECT_FALSE(decodeEvent(encodeEvent({"replica-a", 1500ms, ""})));
  std::string other_version = bytes;
  other_version[0] = 9;
  EXPECT_FALSE(decodeEvent(other_version));
  // A TTL of centuries would overflow the time point it is added to.
  std::string forever = bytes;
  forever.replace(1 + 4 + 9, 8, "\xff\xff\xff\xff\xff\xff\xff\x7f");
  EXPECT_FALSE(decodeEvent(forever));
}

}  // namespace
}  // namespace costgate::cache
