#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "filters/router/answer_judge.h"

namespace costgate::filters::router {
namespace {

using pipeline::PartialAnswer;

const JudgeConfig kDefaults;
const Expected kText;

// The held start of a stream: `text` so far, one logprob per value (none when empty).
PartialAnswer held(std::string_view text, const std::vector<double>* logprobs = nullptr,
                   bool last = false, std::string_view finish = "") {
  PartialAnswer partial;
  partial.text = text;
  partial.logprobs = logprobs;
  partial.tokens = logprobs ? logprobs->size() : text.size() / 4;
  partial.finish_reason = finish;
  partial.last = last;
  return partial;
}

TEST(JudgePartial, UndecidedWhileNothingDecisiveFired) {
  const std::vector<double> sure(10, -0.1);
  EXPECT_FALSE(judgePartial(held("The capital of France", &sure), kText, kDefaults));
  // A mean just under the line may still recover: no early call.
  const std::vector<double> meh(10, -0.9);
  EXPECT_FALSE(judgePartial(held("The capital of France", &meh), kText, kDefaults));
  // A very low mean over too few tokens says little yet.
  const std::vector<double> few(4, -3.0);
  EXPECT_FALSE(judgePartial(held("The", &few), kText, kDefaults));
}

TEST(JudgePartial, RejectsEarlyOnADecisiveSignal) {
  auto refused = judgePartial(held("I'm sorry, but I can't"), kText, kDefaults);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->accept);
  EXPECT_EQ(refused->reason, "refusal");
  EXPECT_LT(refused->margin, 0);

  auto hedged = judgePartial(held("I believe it is"), kText, kDefaults);
  ASSERT_TRUE(hedged);
  EXPECT_FALSE(hedged->accept);
  EXPECT_EQ(hedged->reason, "uncertainty");

  const std::vector<double> lost(8, -2.0);
  auto unsure = judgePartial(held("Paris is a", &lost), kText, kDefaults);
  ASSERT_TRUE(unsure);
  EXPECT_EQ(unsure->reason, "mean_logprob");

  auto filtered = judgePartial(held("", nullptr, false, "content_filter"), kText, kDefaults);
  ASSERT_TRUE(filtered);
  EXPECT_FALSE(filtered->accept);

  // JSON was asked for: text that cannot open an object rejects at once.
  auto prose = judgePartial(held("Sure! Here is"), Expected{true, {}}, kDefaults);
  ASSERT_TRUE(prose);
  EXPECT_EQ(prose->reason, "invalid_json");
  EXPECT_FALSE(judgePartial(held("  {\"city\": "), Expected{true, {}}, kDefaults));
}

TEST(JudgePartial, DecidesWhenTheHoldIsOver) {
  const std::vector<double> sure(24, -0.1);
  auto accepted = judgePartial(held("Paris is the capital of France, on the Seine", &sure, true),
                               kText, kDefaults);
  ASSERT_TRUE(accepted);
  EXPECT_TRUE(accepted->accept);
  EXPECT_NEAR(accepted->margin, 0.4, 1e-9);

  // At the end of the hold the normal line applies to the mean.
  const std::vector<double> meh(24, -0.9);
  auto unconfident = judgePartial(held("Paris", &meh, true), kText, kDefaults);
  ASSERT_TRUE(unconfident);
  EXPECT_FALSE(unconfident->accept);
  EXPECT_EQ(unconfident->reason, "mean_logprob");

  // A stream that ended within the hold: finish_reason and emptiness count.
  auto truncated = judgePartial(held("Paris is", nullptr, true, "length"), kText, kDefaults);
  ASSERT_TRUE(truncated);
  EXPECT_EQ(truncated->reason, "finish_reason");
  Expected limited;
  limited.output_limited = true;
  JudgeConfig lenient;
  lenient.length_at_limit = 0;
  auto at_limit = judgePartial(held("Paris is", nullptr, true, "length"), limited, lenient);
  ASSERT_TRUE(at_limit);
  EXPECT_TRUE(at_limit->accept);
  auto empty = judgePartial(held("", nullptr, true, "stop"), kText, kDefaults);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->reason, "empty");
  // A hold that is over on a stream still going: no finish_reason, no emptiness yet.
  auto going = judgePartial(held("Paris", nullptr, true), kText, kDefaults);
  ASSERT_TRUE(going);
  EXPECT_TRUE(going->accept);
}

TEST(JudgePartial, JsonIsCheckedWholeOnlyWhenTheStreamEnded) {
  const Expected schema{true, {"city"}};
  auto started = judgePartial(held("{\"city\": \"Pa", nullptr, true), schema, kDefaults);
  ASSERT_TRUE(started);
  EXPECT_TRUE(started->accept) << "may still become the object asked for";
  auto whole =
      judgePartial(held("{\"town\": \"Paris\"}", nullptr, true, "stop"), schema, kDefaults);
  ASSERT_TRUE(whole);
  EXPECT_FALSE(whole->accept);
  EXPECT_EQ(whole->reason, "invalid_json");
  auto good = judgePartial(held("{\"city\": \"Paris\"}", nullptr, true, "stop"), schema, kDefaults);
  ASSERT_TRUE(good);
  EXPECT_TRUE(good->accept);
  // A tool call is not judged as JSON text.
  PartialAnswer call = held("", nullptr, true, "tool_calls");
  call.has_tool_calls = true;
  auto tool = judgePartial(call, schema, kDefaults);
  ASSERT_TRUE(tool);
  EXPECT_TRUE(tool->accept);
}

}  // namespace
}  // namespace costgate::filters::router
