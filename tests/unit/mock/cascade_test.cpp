// The mock's behaviour for testing a cascading router: per-model logprobs, answer shapes,
// x-mock-only-model targeting and attempt-counted faults.

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "costgate/mock/responses.h"

namespace costgate::mock {
namespace {

const Stamp kStamp{"chatcmpl-test", 1700000123};

ChatRequest chatRequest(const json& body) {
  Parsed<ChatRequest> parsed = parseChatRequest(body);
  if (const auto* error = std::get_if<ApiError>(&parsed)) {
    ADD_FAILURE() << "unexpected error: " << error->message;
    return ChatRequest{};
  }
  return std::get<ChatRequest>(parsed);
}

// A chat request for `model` asking `question`, with `extra` fields merged in.
json chatBody(std::string_view model, std::string_view question, json extra = json::object()) {
  json body = {{"model", model}, {"messages", {{{"role", "user"}, {"content", question}}}}};
  body.update(extra);
  return body;
}

const json& firstChoice(const json& response) { return response["choices"][0]; }
std::string contentOf(const json& response) {
  return firstChoice(response)["message"]["content"].get<std::string>();
}

// What the content events of a stream carry for choice 0: the text and the logprobs entries.
struct Streamed {
  std::string text;
  json logprobs = json::array();
  json finish_reason;
};
Streamed streamed(const SseEvents& events) {
  Streamed out;
  EXPECT_EQ(events.data.back(), "[DONE]");
  for (std::size_t i = 0; i + 1 < events.data.size(); ++i) {
    json chunk = json::parse(events.data[i]);
    if (chunk["choices"].empty()) continue;
    const json& choice = chunk["choices"][0];
    if (choice["delta"].contains("content")) out.text += choice["delta"]["content"];
    if (choice["logprobs"].is_object()) {
      for (const json& entry : choice["logprobs"]["content"]) out.logprobs.push_back(entry);
    }
    if (!choice["finish_reason"].is_null()) out.finish_reason = choice["finish_reason"];
  }
  return out;
}

// The whole answer and the stream of `body` agree: same text, finish_reason and logprobs.
json wholeMatchingStream(const json& body, const MockOptions& options = MockOptions{}) {
  ChatRequest request = chatRequest(body);
  json whole = chatCompletion(request, options, kStamp);
  request.stream = true;
  Streamed stream = streamed(chatChunks(request, options, kStamp));
  EXPECT_EQ(stream.text, contentOf(whole));
  EXPECT_EQ(stream.finish_reason, firstChoice(whole)["finish_reason"]);
  if (request.logprobs) {
    EXPECT_EQ(stream.logprobs, firstChoice(whole)["logprobs"]["content"]);
  }
  return whole;
}

// Every token's logprob of `whole` is within [low, high], the alternatives below it; the mean.
double checkLogprobs(const json& whole, double low, double high) {
  const json& tokens = firstChoice(whole)["logprobs"]["content"];
  EXPECT_FALSE(tokens.empty());
  double sum = 0;
  for (const json& token : tokens) {
    double logprob = token["logprob"];
    EXPECT_GE(logprob, low) << token["token"];
    EXPECT_LE(logprob, high) << token["token"];
    sum += logprob;
    const json& top = token["top_logprobs"];
    for (std::size_t k = 1; k < top.size(); ++k) {
      EXPECT_LT(top[k]["logprob"].get<double>(), logprob);
    }
  }
  return tokens.empty() ? 0 : sum / static_cast<double>(tokens.size());
}

// ---- Per-model confidence ----

TEST(MockConfidence, ByModelNameAndHardMarker) {
  EXPECT_EQ(modelConfidence("mock-small", "easy"), Confidence::kHigh);
  EXPECT_EQ(modelConfidence("mock-small", "a [hard] one"), Confidence::kLow);
  EXPECT_EQ(modelConfidence("Mock-SMALL", "a [Hard] one"), Confidence::kLow);
  EXPECT_EQ(modelConfidence("mock-large", "a [hard] one"), Confidence::kHigh);
  EXPECT_EQ(modelConfidence("mock-large", "easy"), Confidence::kHigh);
  EXPECT_EQ(modelConfidence("gpt-4o-mini", "a [hard] one"), Confidence::kDefault);
  EXPECT_EQ(modelConfidence("mock-small", "hard, but not marked"), Confidence::kHigh);
}

TEST(MockConfidence, SmallModelIsUnsureOfHardQuestions) {
  json logprobs = {{"logprobs", true}, {"top_logprobs", 5}};
  json whole = wholeMatchingStream(chatBody("mock-small", "[HARD] prove it", logprobs));
  double mean = checkLogprobs(whole, -3.0, -1.2);
  EXPECT_GT(mean, -2.5);
  EXPECT_LT(mean, -1.7);
  // Deterministic: the same request, the same values.
  EXPECT_EQ(
      firstChoice(chatCompletion(chatRequest(chatBody("mock-small", "[HARD] prove it", logprobs)),
                                 MockOptions{}, Stamp{"other", 1}))["logprobs"],
      firstChoice(whole)["logprobs"]);
}

TEST(MockConfidence, SmallModelIsSureOfEasyQuestions) {
  json logprobs = {{"logprobs", true}, {"top_logprobs", 3}};
  json whole = wholeMatchingStream(chatBody("mock-small", "what is 2+2?", logprobs));
  checkLogprobs(whole, -0.25, -0.01);
}

TEST(MockConfidence, LargeModelIsAlwaysSure) {
  json logprobs = {{"logprobs", true}, {"top_logprobs", 3}};
  checkLogprobs(wholeMatchingStream(chatBody("mock-large", "[hard] prove it", logprobs)), -0.25,
                -0.01);
  checkLogprobs(wholeMatchingStream(chatBody("mock-large", "easy", logprobs)), -0.25, -0.01);
}

TEST(MockConfidence, OtherModelsAsBefore) {
  json logprobs = {{"logprobs", true}};
  json whole = wholeMatchingStream(chatBody("gpt-4o-mini", "[hard] prove it", logprobs));
  checkLogprobs(whole, -0.99, 0.0);
  // Spread over the whole old range, not squeezed into the high one.
  double lowest = 0;
  for (const json& token : firstChoice(whole)["logprobs"]["content"]) {
    lowest = std::min(lowest, token["logprob"].get<double>());
  }
  EXPECT_LT(lowest, -0.25);
}

TEST(MockConfidence, StreamChunksCarryTheWholeAnswersValues) {
  json body = chatBody("mock-small", "[hard] x", {{"logprobs", true}, {"top_logprobs", 2}});
  MockOptions options;
  options.chunks = 5;
  // wholeMatchingStream compares the concatenated per-chunk logprobs with the whole answer's.
  checkLogprobs(wholeMatchingStream(body, options), -3.0, -1.2);
}

// ---- Answer shapes ----

TEST(MockShapes, Refuse) {
  MockOptions options;
  options.shape.refuse = true;
  for (const char* model : {"mock-small", "gpt-4o"}) {
    json whole = wholeMatchingStream(chatBody(model, "hi", {{"logprobs", true}}), options);
    EXPECT_EQ(contentOf(whole), "I'm sorry, but I can't help with that.");
    EXPECT_EQ(contentOf(whole), kRefusal);
    EXPECT_EQ(firstChoice(whole)["finish_reason"], "stop");
    EXPECT_EQ(whole["usage"]["completion_tokens"], 8);
  }
}

TEST(MockShapes, Uncertain) {
  MockOptions options;
  options.shape.uncertain = true;
  json whole = wholeMatchingStream(chatBody("m", "hi"), options);
  EXPECT_TRUE(contentOf(whole).starts_with("I'm not sure, but I think Mock reply to: hi alpha"))
      << contentOf(whole);
  EXPECT_TRUE(contentOf(whole).starts_with(kHedge));
  EXPECT_EQ(firstChoice(whole)["finish_reason"], "stop");
}

TEST(MockShapes, Empty) {
  MockOptions options;
  options.shape.empty = true;
  ChatRequest request = chatRequest(chatBody("m", "hi", {{"logprobs", true}}));
  json whole = wholeMatchingStream(chatBody("m", "hi", {{"logprobs", true}}), options);
  EXPECT_EQ(contentOf(whole), "");
  EXPECT_EQ(firstChoice(whole)["finish_reason"], "stop");
  EXPECT_EQ(whole["usage"]["completion_tokens"], 0);
  EXPECT_TRUE(firstChoice(whole)["logprobs"]["content"].empty());
  request.stream = true;
  SseEvents events = chatChunks(request, options, kStamp);
  EXPECT_EQ(events.content_end, events.opening);  // no content events, only the role delta's ""
}

TEST(MockShapes, FinishReason) {
  for (const char* reason : {"length", "content_filter", "stop"}) {
    MockOptions options;
    options.shape.finish_reason = reason;
    // Even over a max_tokens cut, the header decides.
    json whole = wholeMatchingStream(chatBody("m", "hi", {{"max_tokens", 5}}), options);
    EXPECT_EQ(firstChoice(whole)["finish_reason"], reason);
    EXPECT_EQ(contentOf(whole), "Mock reply to: hi alpha");
  }
}

TEST(MockShapes, JsonObject) {
  json body = chatBody("m", R"(say "hi" \ there)",
                       {{"response_format", {{"type", "json_object"}}}, {"logprobs", true}});
  json whole = wholeMatchingStream(body);
  json parsed = json::parse(contentOf(whole));
  ASSERT_TRUE(parsed.is_object());
  ASSERT_EQ(parsed.size(), 1u);
  std::string answer = parsed["answer"];
  EXPECT_TRUE(answer.starts_with(R"(Mock reply to: say "hi" \ there alpha)")) << answer;
  EXPECT_EQ(countWords(answer), 40);
  EXPECT_EQ(whole["usage"]["completion_tokens"], 40);  // the braces ride on the words
  EXPECT_EQ(firstChoice(whole)["finish_reason"], "stop");

  // Combined with the hedge, the hedge goes inside the answer.
  MockOptions options;
  options.shape.uncertain = true;
  parsed = json::parse(contentOf(wholeMatchingStream(body, options)));
  EXPECT_TRUE(parsed["answer"].get<std::string>().starts_with(kHedge));
}

TEST(MockShapes, JsonSchemaHoldsItsRequiredKeys) {
  json schema = {
      {"type", "object"},
      {"properties", {{"city", {{"type", "string"}}}, {"country", {{"type", "string"}}}}},
      {"required", {"city", "country", "city", 7}},
      {"additionalProperties", false}};
  json body =
      chatBody("m", "where?",
               {{"response_format",
                 {{"type", "json_schema"},
                  {"json_schema", {{"name", "place"}, {"strict", true}, {"schema", schema}}}}}});
  ChatRequest request = chatRequest(body);
  EXPECT_TRUE(request.json_reply);
  EXPECT_EQ(request.json_required, (std::vector<std::string>{"city", "country"}));

  MockOptions options;
  options.chunks = 3;
  json parsed = json::parse(contentOf(wholeMatchingStream(body, options)));
  ASSERT_TRUE(parsed.is_object());
  EXPECT_EQ(parsed.size(), 2u);
  ASSERT_TRUE(parsed["city"].is_string());
  EXPECT_TRUE(parsed["city"].get<std::string>().starts_with("Mock reply to: where?"));
  EXPECT_EQ(parsed["country"], "mock");

  // A schema without required keys gets the default {"answer": ...}.
  body["response_format"]["json_schema"]["schema"].erase("required");
  parsed = json::parse(contentOf(wholeMatchingStream(body)));
  EXPECT_TRUE(parsed["answer"].is_string());
}

TEST(MockShapes, InvalidJson) {
  MockOptions options;
  options.shape.invalid_json = true;
  json schema = {{"type", "object"}, {"required", {"city"}}};
  for (json format :
       {json{{"type", "json_object"}},
        json{{"type", "json_schema"}, {"json_schema", {{"schema", schema}}}}, json()}) {
    json body = chatBody("m", "hi");
    if (!format.is_null()) body["response_format"] = format;
    std::string content = contentOf(wholeMatchingStream(body, options));
    EXPECT_TRUE(content.starts_with(R"({")")) << content;
    EXPECT_FALSE(json::accept(content)) << content;
  }
}

TEST(MockShapes, CutJsonIsBroken) {
  json body =
      chatBody("m", "hi", {{"response_format", {{"type", "json_object"}}}, {"max_tokens", 4}});
  json whole = wholeMatchingStream(body);
  EXPECT_EQ(firstChoice(whole)["finish_reason"], "length");
  EXPECT_FALSE(json::accept(contentOf(whole)));
}

TEST(MockShapes, TextFormatAndValidation) {
  EXPECT_FALSE(
      chatRequest(chatBody("m", "x", {{"response_format", {{"type", "text"}}}})).json_reply);
  auto error = [](json format) {
    Parsed<ChatRequest> parsed =
        parseChatRequest(chatBody("m", "x", {{"response_format", format}}));
    const auto* failure = std::get_if<ApiError>(&parsed);
    return failure ? failure->param : std::string("no error");
  };
  EXPECT_EQ(error("json"), "response_format");
  EXPECT_EQ(error(json::object()), "response_format.type");
  EXPECT_EQ(error({{"type", "yaml"}}), "response_format.type");
  EXPECT_EQ(error({{"type", "json_schema"}}), "response_format.json_schema");
  EXPECT_EQ(error({{"type", "json_schema"}, {"json_schema", 1}}), "response_format.json_schema");
}

TEST(MockShapes, LegacyCompletionsToo) {
  CompletionRequest request =
      std::get<CompletionRequest>(parseCompletionRequest({{"model", "m"}, {"prompt", "p"}}));
  MockOptions options;
  options.shape.refuse = true;
  options.shape.finish_reason = "content_filter";
  json whole = completion(request, options, kStamp);
  EXPECT_EQ(whole["choices"][0]["text"], kRefusal);
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "content_filter");
  request.stream = true;
  std::string text;
  SseEvents events = completionChunks(request, options, kStamp);
  for (std::size_t i = events.opening; i < events.content_end; ++i) {
    text += json::parse(events.data[i])["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, kRefusal);
}

// ---- Headers ----

TEST(MockCascadeHeaders, Apply) {
  Behaviour behaviour;
  EXPECT_FALSE(applyMockHeader("x-mock-refuse", "1", behaviour));
  EXPECT_FALSE(applyMockHeader("x-mock-uncertain", "true", behaviour));
  EXPECT_FALSE(applyMockHeader("x-mock-empty", "1", behaviour));
  EXPECT_FALSE(applyMockHeader("x-mock-invalid-json", "1", behaviour));
  EXPECT_FALSE(applyMockHeader("x-mock-finish-reason", " content_filter ", behaviour));
  EXPECT_FALSE(applyMockHeader("x-mock-fail-attempts", "2", behaviour));
  EXPECT_FALSE(applyMockHeader("x-mock-retry-after", "7", behaviour));
  EXPECT_FALSE(applyMockHeader("x-mock-only-model", " mock-small ", behaviour));
  const ReplyShape& shape = behaviour.options.shape;
  EXPECT_TRUE(shape.refuse && shape.uncertain && shape.empty && shape.invalid_json);
  EXPECT_EQ(shape.finish_reason, "content_filter");
  EXPECT_TRUE(shape.any());
  EXPECT_FALSE(ReplyShape{}.any());
  EXPECT_EQ(behaviour.fail_attempts, 2);
  EXPECT_EQ(behaviour.retry_after, 7);
  EXPECT_EQ(behaviour.only_model, "mock-small");
  EXPECT_FALSE(applyMockHeader("x-mock-refuse", "0", behaviour));
  EXPECT_FALSE(behaviour.options.shape.refuse);
}

TEST(MockCascadeHeaders, BadValues) {
  Behaviour behaviour;
  for (auto [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"x-mock-refuse", "sure"},
                                                        {"x-mock-finish-reason", "tool_calls"},
                                                        {"x-mock-finish-reason", ""},
                                                        {"x-mock-fail-attempts", "-1"},
                                                        {"x-mock-retry-after", "abc"},
                                                        {"x-mock-retry-after", "100000"},
                                                        {"x-mock-only-model", "  "}}) {
    std::optional<ApiError> error = applyMockHeader(name, value, behaviour);
    ASSERT_TRUE(error) << name << ": " << value;
    EXPECT_EQ(error->param, name);
    EXPECT_EQ(error->code, "invalid_mock_header");
  }
  EXPECT_FALSE(behaviour.options.shape.any());
  EXPECT_FALSE(behaviour.only_model);
}

// ---- x-mock-only-model ----

TEST(MockTargeting, RequestModel) {
  EXPECT_EQ(requestModel(json{{"model", "a"}}, "deployment"), "a");
  EXPECT_EQ(requestModel(json{{"prompt", "p"}}, "deployment"), "deployment");
  EXPECT_EQ(requestModel(json(json::value_t::discarded), ""), "");
  EXPECT_EQ(requestModel(json{{"model", 5}}, ""), "");
}

TEST(MockTargeting, FaultsApplyOnlyToTheNamedModel) {
  Behaviour faulty;
  for (auto [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"x-mock-status", "500"},
                                                        {"x-mock-latency-ms", "100"},
                                                        {"x-mock-chunk-delay-ms", "5"},
                                                        {"x-mock-reset", "1"},
                                                        {"x-mock-reset-after-chunks", "1"},
                                                        {"x-mock-stall-after-chunks", "1"},
                                                        {"x-mock-refuse", "1"},
                                                        {"x-mock-uncertain", "1"},
                                                        {"x-mock-empty", "1"},
                                                        {"x-mock-invalid-json", "1"},
                                                        {"x-mock-finish-reason", "length"},
                                                        {"x-mock-fail-attempts", "3"},
                                                        {"x-mock-retry-after", "9"},
                                                        {"x-mock-reply-words", "5"},
                                                        {"x-mock-chunks", "2"},
                                                        {"x-mock-echo-body", "1"},
                                                        {"x-mock-only-model", "mock-small"}}) {
    ASSERT_FALSE(applyMockHeader(name, value, faulty)) << name;
  }

  Behaviour targeted = faulty;
  EXPECT_FALSE(dropFaultsUnlessTargeted(targeted, "mock-small"));
  EXPECT_EQ(targeted.status, 500);
  EXPECT_TRUE(targeted.options.shape.refuse);
  EXPECT_EQ(targeted.fail_attempts, 3);

  Behaviour other = faulty;
  EXPECT_TRUE(dropFaultsUnlessTargeted(other, "mock-large"));
  EXPECT_EQ(other.status, 0);
  EXPECT_EQ(other.latency_ms, 0);
  EXPECT_EQ(other.chunk_delay_ms, 0);
  EXPECT_FALSE(other.reset);
  EXPECT_FALSE(other.reset_after_chunks);
  EXPECT_FALSE(other.stall_after_chunks);
  EXPECT_FALSE(other.options.shape.any());
  EXPECT_EQ(other.fail_attempts, 0);
  EXPECT_FALSE(other.retry_after);
  EXPECT_EQ(faultStatus(other, 1), 0);
  // What shapes a normal answer stays.
  EXPECT_EQ(other.options.reply_words, 5);
  EXPECT_EQ(other.options.chunks, 2);
  EXPECT_TRUE(other.echo_body);

  // A request naming no model (GET /v1/models) is not the target either.
  Behaviour unnamed = faulty;
  EXPECT_TRUE(dropFaultsUnlessTargeted(unnamed, ""));

  // Without x-mock-only-model every model gets the faults.
  Behaviour untargeted = faulty;
  untargeted.only_model.reset();
  EXPECT_FALSE(dropFaultsUnlessTargeted(untargeted, "mock-large"));
  EXPECT_EQ(untargeted.status, 500);
}

TEST(MockTargeting, CascadeSeesOnlyTheCheapModelFail) {
  Behaviour headers;
  ASSERT_FALSE(applyMockHeader("x-mock-only-model", "mock-small", headers));
  ASSERT_FALSE(applyMockHeader("x-mock-invalid-json", "1", headers));
  json format = {{"response_format", {{"type", "json_object"}}}};
  for (const char* model : {"mock-small", "mock-large"}) {
    Behaviour behaviour = headers;
    dropFaultsUnlessTargeted(behaviour, model);
    Answer answer = costgate::mock::answer(pipeline::Route::kChatCompletions,
                                           chatBody(model, "hi", format), behaviour.options);
    ASSERT_TRUE(std::holds_alternative<json>(answer));
    bool valid = json::accept(contentOf(std::get<json>(answer)));
    EXPECT_EQ(valid, std::string_view(model) == "mock-large") << model;
  }
}

// ---- x-mock-fail-attempts, x-mock-retry-after ----

TEST(MockAttempts, FirstKAttemptsFail) {
  Behaviour behaviour;
  ASSERT_FALSE(applyMockHeader("x-mock-fail-attempts", "2", behaviour));
  AttemptCounter counter;
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i) statuses.push_back(faultStatus(behaviour, counter.next("req-1")));
  EXPECT_EQ(statuses, (std::vector<int>{503, 503, 0, 0}));
  // Another id has its own count.
  EXPECT_EQ(faultStatus(behaviour, counter.next("req-2")), 503);

  // With x-mock-status, that status; it no longer fails every request.
  ASSERT_FALSE(applyMockHeader("x-mock-status", "429", behaviour));
  EXPECT_EQ(faultStatus(behaviour, counter.next("req-3")), 429);
  EXPECT_EQ(faultStatus(behaviour, counter.next("req-3")), 429);
  EXPECT_EQ(faultStatus(behaviour, counter.next("req-3")), 0);

  // Without x-mock-fail-attempts, x-mock-status fails every request as before.
  Behaviour always;
  always.status = 500;
  EXPECT_EQ(faultStatus(always, 0), 500);
  EXPECT_EQ(faultStatus(Behaviour{}, 0), 0);

  ApiError fault = attemptFault(503, 1, 2);
  EXPECT_EQ(fault.status, 503);
  EXPECT_EQ(fault.type, "server_error");
  EXPECT_NE(fault.message.find("attempt 1 of 2"), std::string::npos);
}

TEST(MockAttempts, RetryAfter) {
  Behaviour behaviour;
  EXPECT_EQ(retryAfterSeconds(behaviour, 429), 1);
  EXPECT_EQ(retryAfterSeconds(behaviour, 503), std::nullopt);
  ASSERT_FALSE(applyMockHeader("x-mock-retry-after", "30", behaviour));
  EXPECT_EQ(retryAfterSeconds(behaviour, 429), 30);
  EXPECT_EQ(retryAfterSeconds(behaviour, 503), 30);
  ASSERT_FALSE(applyMockHeader("x-mock-retry-after", "0", behaviour));
  EXPECT_EQ(retryAfterSeconds(behaviour, 429), 0);
}

TEST(MockAttempts, CounterDropsTheOldestIds) {
  AttemptCounter counter(3);
  EXPECT_EQ(counter.next("a"), 1);
  EXPECT_EQ(counter.next("a"), 2);
  EXPECT_EQ(counter.next("b"), 1);
  EXPECT_EQ(counter.next("c"), 1);
  EXPECT_EQ(counter.size(), 3u);
  EXPECT_EQ(counter.next("d"), 1);  // "a" goes: it was seen first
  EXPECT_EQ(counter.size(), 3u);
  EXPECT_EQ(counter.next("b"), 2);
  EXPECT_EQ(counter.next("a"), 1);  // forgotten, so counted afresh (and "c" goes)
  EXPECT_EQ(counter.next("d"), 2);
  EXPECT_EQ(counter.size(), 3u);

  AttemptCounter big;
  for (int i = 0; i < 10'050; ++i) big.next("id-" + std::to_string(i));
  EXPECT_EQ(big.size(), AttemptCounter::kDefaultCapacity);
}

TEST(MockAttempts, CounterIsSharedByThreads) {
  AttemptCounter counter;
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&counter, t] {
      for (int i = 0; i < kEach; ++i) {
        counter.next("shared");
        counter.next("own-" + std::to_string(t) + "-" + std::to_string(i % 10));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.next("shared"), kThreads * kEach + 1);
  EXPECT_EQ(counter.next("own-0-0"), kEach / 10 + 1);
  EXPECT_EQ(counter.size(), 1u + kThreads * 10u);
}

}  // namespace
}  // namespace costgate::mock
