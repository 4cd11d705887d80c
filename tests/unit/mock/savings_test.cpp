#include "costgate/mock/savings.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "costgate/mock/responses.h"

namespace costgate::mock::savings {
namespace {

DifficultyTable tableOf(const std::string& text) {
  auto parsed = DifficultyTable::parse(text);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    ADD_FAILURE() << *error;
    return {};
  }
  return std::get<DifficultyTable>(std::move(parsed));
}

// A table with one hard question per failure kind and an easy one, keyed as the generator keys
// them.
DifficultyTable sampleTable() {
  auto entry = [](std::string_view text, std::string_view id, bool hard, std::string_view failure,
                  int tokens) {
    return "\"" + tableKey(text) + "\":{\"id\":\"" + std::string(id) +
           "\",\"hard\":" + (hard ? "true" : "false") + ",\"failure\":\"" + std::string(failure) +
           "\",\"answer_tokens\":" + std::to_string(tokens) + "}";
  };
  return tableOf("{\"entries\":{" +
                 entry("How do I reset my password?", "q-easy", false, "confident", 30) + "," +
                 entry("Find the race in worker.py", "q-low", true, "low_logprob", 50) + "," +
                 entry("Why does this deadlock?", "q-hedge", true, "hedge", 20) + "," +
                 entry("Extract the ticket", "q-json", true, "broken_json", 12) + "," +
                 entry("Optimize the loop", "q-sure", true, "confident", 25) + "}}");
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

TEST(SavingsTable, LooksUpTheNormalizedLastUserMessage) {
  DifficultyTable table = sampleTable();
  EXPECT_EQ(table.size(), 5u);
  const Difficulty* entry = table.find("  How do I\treset my\n\npassword?  ");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->id, "q-easy");
  EXPECT_FALSE(entry->hard);
  EXPECT_EQ(entry->answer_tokens, 30);
  const Difficulty* hard = table.find("Why does this deadlock?");
  ASSERT_NE(hard, nullptr);
  EXPECT_TRUE(hard->hard);
  EXPECT_EQ(hard->failure, Failure::kHedge);
  // A different question (not a whitespace variant) is unknown.
  EXPECT_EQ(table.find("How do I reset my passwords?"), nullptr);
}

TEST(SavingsTable, RefusesAMalformedTable) {
  EXPECT_TRUE(std::holds_alternative<std::string>(DifficultyTable::parse("[]")));
  EXPECT_TRUE(std::holds_alternative<std::string>(DifficultyTable::parse(
      R"({"entries":{"k":{"id":"a","hard":true,"failure":"sloppy","answer_tokens":3}}})")));
  EXPECT_TRUE(std::holds_alternative<std::string>(
      DifficultyTable::parse(R"({"entries":{"k":{"id":"a","hard":true,"answer_tokens":0}}})")));
}

TEST(SavingsAnswers, StrongIsAlwaysRightAndSure) {
  DifficultyTable table = sampleTable();
  for (std::string_view prompt : {"Find the race in worker.py", "Why does this deadlock?",
                                  "Optimize the loop", "How do I reset my password?"}) {
    const Difficulty* entry = table.find(prompt);
    Script answer = script(entry, "mock-large", false, 40);
    std::string text = joined(answer.words);
    EXPECT_NE(text.find(answerToken(entry->id, true)), std::string::npos) << prompt;
    EXPECT_EQ(text.find(answerToken(entry->id, false)), std::string::npos);
    EXPECT_EQ(answer.confidence, Confidence::kHigh);
    EXPECT_FALSE(answer.broken_json);
    EXPECT_EQ(answer.words.size(), static_cast<std::size_t>(entry->answer_tokens));
    EXPECT_EQ(answer.words.front(), "Answer") << "no hedge from the strong model";
  }
}

TEST(SavingsAnswers, CheapIsRightOnEasyAndUnknownPrompts) {
  DifficultyTable table = sampleTable();
  const Difficulty* easy = table.find("How do I reset my password?");
  Script answer = script(easy, "gpt-4o-mini", false, 40);
  EXPECT_NE(joined(answer.words).find(answerToken("q-easy", true)), std::string::npos);
  EXPECT_EQ(answer.confidence, Confidence::kHigh);
  // The same text as the strong model's: a right answer is the question's, whoever gives it.
  EXPECT_EQ(answer.words, script(easy, "mock-large", false, 40).words);

  Script unknown = script(nullptr, "mock-small", false, 17);
  EXPECT_EQ(unknown.words.size(), 17u);
  EXPECT_NE(joined(unknown.words).find(answerToken("unknown", true)), std::string::npos);
  EXPECT_EQ(unknown.confidence, Confidence::kHigh);
}

TEST(SavingsAnswers, CheapIsWrongOnHardPromptsWithItsFailureSignal) {
  DifficultyTable table = sampleTable();
  auto wrong = [&](std::string_view prompt, bool json_reply) {
    const Difficulty* entry = table.find(prompt);
    Script answer = script(entry, "mock-small", json_reply, 40);
    std::string text = joined(answer.words);
    EXPECT_NE(text.find(answerToken(entry->id, false)), std::string::npos) << prompt;
    EXPECT_EQ(text.find(answerToken(entry->id, true)), std::string::npos) << prompt;
    return answer;
  };
  Script low = wrong("Find the race in worker.py", false);
  EXPECT_EQ(low.confidence, Confidence::kLow);
  EXPECT_EQ(low.words.front(), "Answer");

  Script hedged = wrong("Why does this deadlock?", false);
  EXPECT_EQ(hedged.confidence, Confidence::kHigh);
  EXPECT_NE(hedged.words.front(), "Answer") << "a hedge opens the answer";
  EXPECT_EQ(hedged.words.size(), 20u) << "the hedge counts in the answer's length";

  Script broken = wrong("Extract the ticket", true);
  EXPECT_TRUE(broken.broken_json);
  EXPECT_EQ(broken.confidence, Confidence::kHigh);
  // A plain-text request cannot be broken JSON: the model shows low confidence instead.
  Script plain = wrong("Extract the ticket", false);
  EXPECT_FALSE(plain.broken_json);
  EXPECT_EQ(plain.confidence, Confidence::kLow);

  Script sure = wrong("Optimize the loop", false);
  EXPECT_EQ(sure.confidence, Confidence::kHigh);
  EXPECT_FALSE(sure.broken_json);
  EXPECT_EQ(sure.words.front(), "Answer") << "confidently wrong: no signal at all";
}

TEST(SavingsAnswers, TheMockAnswerCarriesTheScriptAndTheCachedTokens) {
  DifficultyTable table = sampleTable();
  ChatRequest request = std::get<ChatRequest>(parseChatRequest(json::parse(
      R"({"model":"mock-small","logprobs":true,"max_tokens":8,
          "response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{
            "type":"object","required":["category","summary"]}}},
          "messages":[{"role":"user","content":"Extract the ticket"}]})")));
  Script answer = script(table.find(request.last_user_text), request.model, true, 40);
  request.scripted_words = answer.words;
  request.confidence = answer.confidence;
  request.broken_json = answer.broken_json;
  request.cached_tokens = 1024;
  json whole = chatCompletion(request, MockOptions{}, Stamp{"chatcmpl-x", 1});
  const json& choice = whole["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "length") << "12 words cut to max_tokens 8";
  std::string content = choice["message"]["content"];
  EXPECT_TRUE(content.starts_with("{\"category\":\"Answer ref-")) << content;
  EXPECT_TRUE(json::parse(content, nullptr, false).is_discarded()) << "broken JSON";
  EXPECT_EQ(whole["usage"]["completion_tokens"], 8);
  EXPECT_EQ(whole["usage"]["prompt_tokens_details"]["cached_tokens"], 1024);

  request.stream = true;
  request.include_usage = true;
  MockOptions options;
  options.chunks = 3;
  SseEvents events = chatChunks(request, options, Stamp{"chatcmpl-x", 1});
  ASSERT_EQ(events.content_tokens.size(), events.content_end - events.opening);
  int streamed = 0;
  for (int tokens : events.content_tokens) streamed += tokens;
  EXPECT_EQ(streamed, 8);
  json usage = json::parse(events.data[events.data.size() - 2])["usage"];
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"], 1024);
}

// A conversation of `messages` user messages of `words` words each.
json conversation(int messages, int words, std::string_view word = "w") {
  json list = json::array();
  for (int m = 0; m < messages; ++m) {
    std::string text;
    for (int w = 0; w < words; ++w) text += std::string(word) + std::to_string(m) + " ";
    list.push_back({{"role", m % 2 == 0 ? "user" : "assistant"}, {"content", text}});
  }
  return list;
}

TEST(SavingsPrefixCache, BoundariesEveryBlockOfTheMocksPromptTokens) {
  // 10 messages of 97 words: 100 tokens each (3 per message), 1000 in all: 7 boundaries.
  EXPECT_EQ(prefixHashes("m", conversation(10, 97)).size(), 7u);
  EXPECT_EQ(prefixHashes("m", conversation(10, 99)).size(), 7u);   // 1020 tokens
  EXPECT_EQ(prefixHashes("m", conversation(10, 100)).size(), 8u);  // 1030 tokens
  // A prefix's hash does not depend on what follows it, and differs per model.
  auto short_one = prefixHashes("m", conversation(12, 200));
  auto long_one = prefixHashes("m", conversation(20, 200));
  ASSERT_LT(short_one.size(), long_one.size());
  EXPECT_TRUE(std::equal(short_one.begin(), short_one.end(), long_one.begin()));
  EXPECT_NE(prefixHashes("other", conversation(12, 200)).front(), short_one.front());
}

TEST(SavingsPrefixCache, CachesTheLongestRememberedBlockFrom1024Tokens) {
  PrefixCache cache;
  // 12 messages of 197 words: 2400 tokens, boundaries up to 2304.
  auto first = prefixHashes("m", conversation(12, 197));
  EXPECT_EQ(cache.lookupAndRemember(first), 0) << "nothing cached yet";
  EXPECT_EQ(cache.lookupAndRemember(first), 2304) << "a repeat: every whole block";
  // The next turn of the conversation: the same 2400 tokens and more.
  auto next = prefixHashes("m", conversation(16, 197));
  EXPECT_EQ(cache.lookupAndRemember(next), 2304);
  EXPECT_EQ(cache.lookupAndRemember(next), 3200);  // 3200 tokens: 25 whole blocks
  // A prompt sharing fewer than 1024 tokens gets nothing: 5 messages (1000 tokens) in common.
  json diverging = conversation(12, 197);
  diverging[5]["content"] = "changed";
  EXPECT_EQ(cache.lookupAndRemember(prefixHashes("m", diverging)), 0);
  // Another model's cache is its own.
  EXPECT_EQ(cache.lookupAndRemember(prefixHashes("other", conversation(12, 197))), 0);
  // A short prompt is never cached.
  auto small = prefixHashes("m", conversation(2, 50));
  cache.lookupAndRemember(small);
  EXPECT_EQ(cache.lookupAndRemember(small), 0);
  cache.clear();
  EXPECT_EQ(cache.lookupAndRemember(first), 0);
}

TEST(SavingsPrefixCache, ForgetsTheLeastRecentlyUsedPastItsCapacity) {
  PrefixCache cache(20);
  auto a = prefixHashes("m", conversation(12, 197, "a"));  // 18 boundaries
  auto b = prefixHashes("m", conversation(12, 197, "b"));
  cache.lookupAndRemember(a);
  cache.lookupAndRemember(b);  // pushes a's 16 first (least recent) blocks out
  EXPECT_EQ(cache.size(), 20u);
  EXPECT_EQ(cache.lookupAndRemember(a), 0) << "a's first blocks are gone, so all of them are";
  EXPECT_EQ(cache.lookupAndRemember(a), 2304);
}

TEST(SavingsBill, CountsPerModelAndResets) {
  Bill bill;
  bill.call("mock-large", 100, 0);
  bill.call("mock-large", 2000, 1024);
  bill.completion("mock-large", 40);
  bill.call("mock-small", 10, 0);
  json report = bill.report();
  EXPECT_EQ(report["mock-large"]["calls"], 2);
  EXPECT_EQ(report["mock-large"]["prompt_tokens"], 2100);
  EXPECT_EQ(report["mock-large"]["cached_tokens"], 1024);
  EXPECT_EQ(report["mock-large"]["completion_tokens"], 40);
  EXPECT_EQ(report["mock-small"]["calls"], 1);
  bill.reset();
  EXPECT_TRUE(bill.report().empty());
}

TEST(SavingsTiers, CheapByNameAndPacedPerTier) {
  EXPECT_TRUE(isCheapModel("mock-small"));
  EXPECT_TRUE(isCheapModel("gpt-4o-MINI"));
  EXPECT_FALSE(isCheapModel("mock-large"));
  Pace cheap = paceOf("mock-small", 0.5), strong = paceOf("mock-large", 0.5);
  EXPECT_DOUBLE_EQ(cheap.first_token_ms, 75);
  EXPECT_DOUBLE_EQ(cheap.per_token_ms, 2);
  EXPECT_DOUBLE_EQ(strong.first_token_ms, 200);
  EXPECT_DOUBLE_EQ(strong.per_token_ms, 6);
}

}  // namespace
}  // namespace costgate::mock::savings
