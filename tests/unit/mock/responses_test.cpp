#include "costgate/mock/responses.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace costgate::mock {
namespace {

json parse(std::string_view text) { return json::parse(text); }

template <typename T>
T parsedOk(const Parsed<T>& parsed) {
  if (const auto* error = std::get_if<ApiError>(&parsed)) {
    ADD_FAILURE() << "unexpected error: " << error->message;
    return T{};
  }
  return std::get<T>(parsed);
}

template <typename T>
ApiError parsedError(const Parsed<T>& parsed) {
  if (const auto* error = std::get_if<ApiError>(&parsed)) return *error;
  ADD_FAILURE() << "expected an error";
  return ApiError{};
}

ChatRequest chatRequest(std::string_view body) { return parsedOk(parseChatRequest(parse(body))); }

const Stamp kStamp{"chatcmpl-test", 1700000123};

// Decodes standard base64 with padding; independent of the encoder under test.
std::vector<unsigned char> decodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<unsigned char> bytes;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = value(c);
    EXPECT_GE(v, 0) << "bad base64 character " << c;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<unsigned char>((buffer >> bits) & 0xff));
    }
  }
  return bytes;
}

std::vector<float> littleEndianFloats(const std::vector<unsigned char>& bytes) {
  std::vector<float> values(bytes.size() / 4);
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t bits = static_cast<std::uint32_t>(bytes[4 * i]) |
                         static_cast<std::uint32_t>(bytes[4 * i + 1]) << 8 |
                         static_cast<std::uint32_t>(bytes[4 * i + 2]) << 16 |
                         static_cast<std::uint32_t>(bytes[4 * i + 3]) << 24;
    std::memcpy(&values[i], &bits, sizeof bits);
  }
  return values;
}

std::vector<json> streamObjects(const SseEvents& events) {
  EXPECT_FALSE(events.data.empty());
  EXPECT_EQ(events.data.back(), "[DONE]");
  std::vector<json> objects;
  for (std::size_t i = 0; i + 1 < events.data.size(); ++i) objects.push_back(parse(events.data[i]));
  return objects;
}

// ---- Chat completions ----

TEST(MockChat, ResponseShapeAndUsageArithmetic) {
  ChatRequest request = chatRequest(R"({"model":"gpt-4o-mini","messages":[
      {"role":"system","content":"You are terse."},
      {"role":"user","content":"Hello there, how are you?"}]})");
  json response = chatCompletion(request, MockOptions{}, kStamp);

  EXPECT_EQ(response["id"], "chatcmpl-test");
  EXPECT_EQ(response["object"], "chat.completion");
  EXPECT_EQ(response["created"], 1700000123);
  EXPECT_EQ(response["model"], "gpt-4o-mini");
  EXPECT_EQ(response["system_fingerprint"], kSystemFingerprint);
  ASSERT_EQ(response["choices"].size(), 1u);
  const json& choice = response["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_TRUE(choice["message"]["refusal"].is_null());
  EXPECT_TRUE(choice["logprobs"].is_null());
  EXPECT_EQ(choice["finish_reason"], "stop");
  std::string content = choice["message"]["content"];
  EXPECT_EQ(content.rfind("Mock reply to: Hello there, how are you? alpha bravo", 0), 0u);
  EXPECT_EQ(countWords(content), 40);

  // 3 + 5 words, plus 3 per message.
  const json& usage = response["usage"];
  EXPECT_EQ(usage["prompt_tokens"], 14);
  EXPECT_EQ(usage["completion_tokens"], 40);
  EXPECT_EQ(usage["total_tokens"], 54);
  EXPECT_EQ(usage["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(usage["completion_tokens_details"]["reasoning_tokens"], 0);
}

TEST(MockChat, ContentPartsCountOnlyText) {
  ChatRequest request = chatRequest(R"({"model":"m","messages":[
      {"role":"user","content":[{"type":"text","text":"one two"},
                                {"type":"image_url","image_url":{"url":"data:x"}},
                                {"type":"text","text":"three"}]},
      {"role":"assistant","content":null,"tool_calls":[]}]})");
  EXPECT_EQ(request.prompt_tokens, 3 + 3 + 0 + 3);
  EXPECT_EQ(request.last_user_text, "one two three");
}

// As OpenAI does: tool results answer the assistant message right before them, all its calls.
TEST(MockChat, ToolResultsMustFollowTheirCalls) {
  auto error = [](std::string_view messages) {
    std::string body = R"({"model":"m","messages":)" + std::string(messages) + "}";
    auto parsed = parseChatRequest(parse(body));
    const auto* failure = std::get_if<ApiError>(&parsed);
    return failure ? failure->message : std::string();
  };
  const std::string call =
      R"({"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},)"
      R"({"id":"c2","type":"function","function":{"name":"g","arguments":"{}"}}]})";
  const std::string result1 = R"({"role":"tool","tool_call_id":"c1","content":"1"})";
  const std::string result2 = R"({"role":"tool","tool_call_id":"c2","content":"2"})";
  const std::string user = R"({"role":"user","content":"hi"})";
  EXPECT_EQ(error("[" + user + "," + call + "," + result2 + "," + result1 + "," + user + "]"), "");
  EXPECT_NE(error("[" + user + "," + result1 + "]").find("must be a response to a preceeding"),
            std::string::npos);
  EXPECT_NE(error("[" + user + "," + call + "," + result1 + "," + user + "]").find("c2"),
            std::string::npos);
  EXPECT_NE(error("[" + user + "," + call + "]").find("did not have response messages: c1, c2"),
            std::string::npos);
}

constexpr std::string_view kToolsBody = R"({"model":"m","tools":[
    {"type":"function","function":{"name":"other","parameters":{"type":"object"}}},
    {"type":"function","function":{"name":"weather","parameters":{"type":"object",
      "properties":{"city":{"type":"string"},"days":{"type":"integer"},"metric":{"type":"boolean"}},
      "required":["city","days","metric"]}}}],
  "tool_choice":{"type":"function","function":{"name":"weather"}},)";

TEST(MockChat, OfferedToolsAreCalledWithTheSchemasRequiredArguments) {
  ChatRequest request = chatRequest(std::string(kToolsBody) +
                                    R"("messages":[{"role":"user","content":"Weather?"}]})");
  json response = chatCompletion(request, MockOptions{}, kStamp);
  const json& choice = response["choices"][0];
  EXPECT_EQ(choice["finish_reason"], "tool_calls");
  EXPECT_TRUE(choice["message"]["content"].is_null());
  const json& call = choice["message"]["tool_calls"][0];
  EXPECT_EQ(call["function"]["name"], "weather");
  EXPECT_EQ(json::parse(call["function"]["arguments"].get<std::string>()),
            parse(R"({"city":"mock","days":1,"metric":true})"));
  EXPECT_TRUE(call["id"].get<std::string>().starts_with("call_"));

  request.stream = true;
  SseEvents events = chatChunks(request, MockOptions{}, kStamp);
  std::string arguments;
  std::string finish;
  for (const json& chunk : streamObjects(events)) {
    const json& delta = chunk["choices"][0]["delta"];
    if (delta.contains("tool_calls")) {
      arguments += delta["tool_calls"][0]["function"]["arguments"].get<std::string>();
    }
    if (!chunk["choices"][0]["finish_reason"].is_null())
      finish = chunk["choices"][0]["finish_reason"];
  }
  EXPECT_EQ(arguments, call["function"]["arguments"]);
  EXPECT_EQ(finish, "tool_calls");
}

TEST(MockChat, AfterAToolsAnswerOrWithToolChoiceNoneItAnswersInWords) {
  ChatRequest answered = chatRequest(std::string(kToolsBody) + R"("messages":[
    {"role":"user","content":"Weather?"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
      "function":{"name":"weather","arguments":"{}"}}]},
    {"role":"tool","tool_call_id":"call_1","content":"Snow"}]})");
  EXPECT_FALSE(answered.tool_call.has_value());
  EXPECT_EQ(chatCompletion(answered, MockOptions{}, kStamp)["choices"][0]["finish_reason"], "stop");
  ChatRequest declined = chatRequest(R"({"model":"m","tool_choice":"none","tools":[{"type":
    "function","function":{"name":"f"}}],"messages":[{"role":"user","content":"Hi"}]})");
  EXPECT_FALSE(declined.tool_call.has_value());
}

TEST(MockChat, SnippetIsCutAtSixtyBytesOnACharacterBoundary) {
  // 59 ASCII bytes then a 2-byte character: byte 60 is its first half, so it must go whole.
  std::string text(59, 'a');
  text += "\xc3\xa9 tail";
  json body = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", text}}}}};
  ChatRequest request = parsedOk(parseChatRequest(body));
  std::vector<std::string> words = replyWords(request.last_user_text, 0, MockOptions{});
  EXPECT_EQ(words[3], std::string(59, 'a'));
  EXPECT_EQ(words[4], "alpha");
}

TEST(MockChat, MaxTokensTruncatesWithLength) {
  ChatRequest request =
      chatRequest(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})");
  json response = chatCompletion(request, MockOptions{}, kStamp);
  EXPECT_EQ(response["choices"][0]["message"]["content"], "Mock reply to: hi alpha");
  EXPECT_EQ(response["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(response["usage"]["completion_tokens"], 5);

  // The smaller cap wins when both are given.
  request = chatRequest(
      R"({"model":"m","max_tokens":9,"max_completion_tokens":2,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(chatCompletion(request, MockOptions{}, kStamp)["usage"]["completion_tokens"], 2);

  // A cap at or above the reply's length stops naturally.
  request = chatRequest(
      R"({"model":"m","max_completion_tokens":40,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(chatCompletion(request, MockOptions{}, kStamp)["choices"][0]["finish_reason"], "stop");
}

TEST(MockChat, ReplyWordsOption) {
  ChatRequest request = chatRequest(R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  MockOptions options;
  options.reply_words = 2;
  json response = chatCompletion(request, options, kStamp);
  EXPECT_EQ(response["choices"][0]["message"]["content"], "Mock reply");
  EXPECT_EQ(response["choices"][0]["finish_reason"], "stop");
}

TEST(MockChat, NChoices) {
  ChatRequest request =
      chatRequest(R"({"model":"m","n":3,"messages":[{"role":"user","content":"hi"}]})");
  json response = chatCompletion(request, MockOptions{}, kStamp);
  ASSERT_EQ(response["choices"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(response["choices"][i]["index"], i);
    EXPECT_EQ(countWords(response["choices"][i]["message"]["content"].get<std::string>()), 40);
  }
  EXPECT_NE(response["choices"][0]["message"]["content"],
            response["choices"][1]["message"]["content"]);
  EXPECT_EQ(response["usage"]["completion_tokens"], 120);
}

TEST(MockChat, Logprobs) {
  ChatRequest request = chatRequest(
      R"({"model":"m","logprobs":true,"top_logprobs":3,"max_tokens":6,
          "messages":[{"role":"user","content":"héllo"}]})");
  json response = chatCompletion(request, MockOptions{}, kStamp);
  const json& choice = response["choices"][0];
  const json& content = choice["logprobs"]["content"];
  ASSERT_EQ(content.size(), 6u);
  std::string joined;
  for (const json& entry : content) {
    std::string token = entry["token"];
    joined += token;
    std::string from_bytes;
    for (const json& byte : entry["bytes"]) from_bytes += static_cast<char>(byte.get<int>());
    EXPECT_EQ(from_bytes, token);
    EXPECT_LE(entry["logprob"].get<double>(), 0.0);
    ASSERT_EQ(entry["top_logprobs"].size(), 3u);
    EXPECT_EQ(entry["top_logprobs"][0]["token"], token);
    EXPECT_EQ(entry["top_logprobs"][0]["logprob"], entry["logprob"]);
    for (std::size_t k = 1; k < 3; ++k) {
      EXPECT_LT(entry["top_logprobs"][k]["logprob"].get<double>(),
                entry["top_logprobs"][k - 1]["logprob"].get<double>());
      for (std::size_t j = 0; j < k; ++j) {
        EXPECT_NE(entry["top_logprobs"][k]["token"], entry["top_logprobs"][j]["token"]);
      }
    }
  }
  EXPECT_EQ(joined, choice["message"]["content"]);
  EXPECT_TRUE(choice["logprobs"]["refusal"].is_null());
}

TEST(MockChat, TwentyDistinctTopLogprobs) {
  ChatRequest request = chatRequest(
      R"({"model":"m","logprobs":true,"top_logprobs":20,"max_tokens":30,
          "messages":[{"role":"user","content":"alpha bravo charlie"}]})");
  json content =
      chatCompletion(request, MockOptions{}, kStamp)["choices"][0]["logprobs"]["content"];
  for (const json& entry : content) {
    std::set<std::string> tokens;
    for (const json& top : entry["top_logprobs"]) tokens.insert(top["token"].get<std::string>());
    EXPECT_EQ(tokens.size(), 20u) << entry["token"];
  }
}

// ---- Chat streaming ----

TEST(MockChatStream, ChunkSequenceWithoutUsage) {
  ChatRequest request =
      chatRequest(R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  MockOptions options;
  options.chunks = 5;
  SseEvents events = chatChunks(request, options, kStamp);
  std::vector<json> chunks = streamObjects(events);
  ASSERT_EQ(chunks.size(), 1u + 5u + 1u);
  EXPECT_EQ(events.opening, 1u);
  EXPECT_EQ(events.content_end, 6u);

  for (const json& chunk : chunks) {
    EXPECT_EQ(chunk["id"], kStamp.id);
    EXPECT_EQ(chunk["created"], kStamp.created);
    EXPECT_EQ(chunk["model"], "m");
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    EXPECT_FALSE(chunk.contains("usage"));
  }
  const json& role = chunks.front()["choices"][0];
  EXPECT_EQ(role["delta"]["role"], "assistant");
  EXPECT_EQ(role["delta"]["content"], "");
  EXPECT_TRUE(role["finish_reason"].is_null());

  std::string text;
  for (std::size_t i = events.opening; i < events.content_end; ++i) {
    const json& choice = chunks[i]["choices"][0];
    EXPECT_FALSE(choice["delta"].contains("role"));
    EXPECT_TRUE(choice["finish_reason"].is_null());
    text += choice["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, chatCompletion(request, options, kStamp)["choices"][0]["message"]["content"]);

  const json& finish = chunks.back()["choices"][0];
  EXPECT_TRUE(finish["delta"].empty());
  EXPECT_EQ(finish["finish_reason"], "stop");
}

TEST(MockChatStream, UsageChunkOnlyWithIncludeUsage) {
  ChatRequest request = chatRequest(
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":7,
          "messages":[{"role":"user","content":"count me"}]})");
  SseEvents events = chatChunks(request, MockOptions{}, kStamp);
  std::vector<json> chunks = streamObjects(events);
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
    ASSERT_TRUE(chunks[i].contains("usage"));
    EXPECT_TRUE(chunks[i]["usage"].is_null());
  }
  const json& last = chunks.back();
  EXPECT_TRUE(last["choices"].is_array() && last["choices"].empty());
  EXPECT_EQ(last["usage"], chatCompletion(request, MockOptions{}, kStamp)["usage"]);
  EXPECT_EQ(last["usage"]["completion_tokens"], 7);
  EXPECT_EQ(chunks[chunks.size() - 2]["choices"][0]["finish_reason"], "length");

  request.include_usage = false;
  for (const json& chunk : streamObjects(chatChunks(request, MockOptions{}, kStamp))) {
    EXPECT_FALSE(chunk.contains("usage"));
  }
}

TEST(MockChatStream, FewerWordsThanChunks) {
  ChatRequest request = chatRequest(
      R"({"model":"m","stream":true,"max_tokens":3,"messages":[{"role":"user","content":"x"}]})");
  SseEvents events = chatChunks(request, MockOptions{}, kStamp);
  EXPECT_EQ(events.content_end - events.opening, 3u);
}

TEST(MockChatStream, SeveralChoicesInterleave) {
  ChatRequest request = chatRequest(
      R"({"model":"m","stream":true,"n":2,"messages":[{"role":"user","content":"hi"}]})");
  MockOptions options;
  options.chunks = 4;
  SseEvents events = chatChunks(request, options, kStamp);
  std::vector<json> chunks = streamObjects(events);
  EXPECT_EQ(events.opening, 2u);
  EXPECT_EQ(events.content_end, 2u + 8u);
  json whole = chatCompletion(request, options, kStamp);
  std::string text[2];
  int finishes = 0;
  for (const json& chunk : chunks) {
    const json& choice = chunk["choices"][0];
    int index = choice["index"];
    if (choice["delta"].contains("content")) text[index] += choice["delta"]["content"];
    if (!choice["finish_reason"].is_null()) ++finishes;
  }
  EXPECT_EQ(text[0], whole["choices"][0]["message"]["content"]);
  EXPECT_EQ(text[1], whole["choices"][1]["message"]["content"]);
  EXPECT_EQ(finishes, 2);
}

TEST(MockChatStream, LogprobsRideOnContentChunks) {
  ChatRequest request = chatRequest(
      R"({"model":"m","stream":true,"logprobs":true,"messages":[{"role":"user","content":"hi"}]})");
  SseEvents events = chatChunks(request, MockOptions{}, kStamp);
  std::vector<json> chunks = streamObjects(events);
  std::size_t tokens = 0;
  for (std::size_t i = events.opening; i < events.content_end; ++i) {
    const json& choice = chunks[i]["choices"][0];
    std::string text;
    for (const json& entry : choice["logprobs"]["content"]) text += entry["token"];
    EXPECT_EQ(text, choice["delta"]["content"]);
    tokens += choice["logprobs"]["content"].size();
  }
  EXPECT_EQ(tokens, 40u);
  EXPECT_TRUE(chunks.front()["choices"][0]["logprobs"].is_null());
}

// ---- Legacy completions ----

TEST(MockCompletions, ShapeAndPrompts) {
  CompletionRequest request = parsedOk(parseCompletionRequest(
      parse(R"({"model":"gpt-3.5-turbo-instruct","prompt":["say hi","x y z"],"n":2,
                "max_tokens":4})")));
  json response = completion(request, MockOptions{}, Stamp{"cmpl-1", 5});
  EXPECT_EQ(response["object"], "text_completion");
  EXPECT_EQ(response["model"], "gpt-3.5-turbo-instruct");
  ASSERT_EQ(response["choices"].size(), 4u);
  EXPECT_EQ(response["choices"][0]["text"], "Mock reply to: say");
  EXPECT_EQ(response["choices"][2]["text"], "Mock reply to: x");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(response["choices"][i]["index"], i);
    EXPECT_TRUE(response["choices"][i]["logprobs"].is_null());
    EXPECT_EQ(response["choices"][i]["finish_reason"], "length");
  }
  EXPECT_EQ(response["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(response["usage"]["completion_tokens"], 16);
  EXPECT_EQ(response["usage"]["total_tokens"], 21);
}

TEST(MockCompletions, TokenPrompts) {
  CompletionRequest request =
      parsedOk(parseCompletionRequest(parse(R"({"model":"m","prompt":[[1,2,3],[4]]})")));
  EXPECT_EQ(request.prompt_tokens, 4);
  request = parsedOk(parseCompletionRequest(parse(R"({"model":"m","prompt":[5,6]})")));
  EXPECT_EQ(request.prompt_tokens, 2);
  EXPECT_EQ(request.prompts.size(), 1u);
}

TEST(MockCompletions, LegacyLogprobs) {
  CompletionRequest request = parsedOk(
      parseCompletionRequest(parse(R"({"model":"m","prompt":"p","logprobs":2,"max_tokens":3})")));
  json logprobs = completion(request, MockOptions{}, Stamp{"cmpl-1", 5})["choices"][0]["logprobs"];
  EXPECT_EQ(logprobs["tokens"], json({"Mock", " reply", " to:"}));
  EXPECT_EQ(logprobs["text_offset"], json({0, 4, 10}));
  EXPECT_EQ(logprobs["token_logprobs"].size(), 3u);
  EXPECT_EQ(logprobs["top_logprobs"][1].size(), 2u);
}

TEST(MockCompletions, Stream) {
  CompletionRequest request = parsedOk(parseCompletionRequest(parse(
      R"({"model":"m","prompt":"p","stream":true,"stream_options":{"include_usage":true}})")));
  MockOptions options;
  options.chunks = 3;
  Stamp stamp{"cmpl-1", 5};
  SseEvents events = completionChunks(request, options, stamp);
  std::vector<json> chunks = streamObjects(events);
  EXPECT_EQ(events.opening, 0u);
  EXPECT_EQ(events.content_end, 3u);
  std::string text;
  for (std::size_t i = 0; i < events.content_end; ++i) {
    EXPECT_EQ(chunks[i]["object"], "text_completion");
    EXPECT_TRUE(chunks[i]["usage"].is_null());
    EXPECT_TRUE(chunks[i]["choices"][0]["logprobs"].is_null());
    text += chunks[i]["choices"][0]["text"].get<std::string>();
  }
  json whole = completion(request, options, stamp);
  EXPECT_EQ(text, whole["choices"][0]["text"]);
  EXPECT_EQ(chunks[3]["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(chunks[3]["choices"][0]["text"], "");
  EXPECT_TRUE(chunks[4]["choices"].empty());
  EXPECT_EQ(chunks[4]["usage"], whole["usage"]);
}

// ---- Embeddings ----

TEST(MockEmbeddings, DeterministicUnitVectors) {
  EmbeddingsRequest request = parsedOk(parseEmbeddingsRequest(
      parse(R"({"model":"e","input":["hello world","other","hello world"]})")));
  json response = embeddings(request);
  EXPECT_EQ(response["object"], "list");
  EXPECT_EQ(response["model"], "e");
  ASSERT_EQ(response["data"].size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const json& item = response["data"][i];
    EXPECT_EQ(item["object"], "embedding");
    EXPECT_EQ(item["index"], i);
    ASSERT_EQ(item["embedding"].size(), 8u);
    double norm = 0;
    for (const json& v : item["embedding"]) norm += v.get<double>() * v.get<double>();
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5);
  }
  EXPECT_EQ(response["data"][0]["embedding"], response["data"][2]["embedding"]);
  EXPECT_NE(response["data"][0]["embedding"], response["data"][1]["embedding"]);
  EXPECT_EQ(response["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(response["usage"]["total_tokens"], 5);
  // Same input in another request: same vector.
  EXPECT_EQ(embeddingVector("hello world", 8), embeddingVector("hello world", 8));
}

TEST(MockEmbeddings, TextsSharingWordsAreAlike) {
  auto dot = [](const std::vector<float>& a, const std::vector<float>& b) {
    double sum = 0;
    for (std::size_t i = 0; i < a.size(); ++i) sum += double(a[i]) * b[i];
    return sum;
  };
  auto question = embeddingVector("How do I reset my password on the website?", 256);
  auto paraphrase = embeddingVector("how do I reset my password on this website", 256);
  auto other = embeddingVector("Which cities do you ship furniture to?", 256);
  EXPECT_GT(dot(question, paraphrase), 0.8);
  EXPECT_LT(dot(question, other), 0.5);
}

TEST(MockEmbeddings, Dimensions) {
  EmbeddingsRequest request =
      parsedOk(parseEmbeddingsRequest(parse(R"({"model":"e","input":"x","dimensions":1536})")));
  EXPECT_EQ(embeddings(request)["data"][0]["embedding"].size(), 1536u);
  EXPECT_EQ(
      parsedError(parseEmbeddingsRequest(parse(R"({"model":"e","input":"x","dimensions":0})")))
          .param,
      "dimensions");
  EXPECT_EQ(
      parsedError(parseEmbeddingsRequest(parse(R"({"model":"e","input":"x","dimensions":4097})")))
          .code,
      "integer_above_max_value");
}

TEST(MockEmbeddings, Base64RoundTrip) {
  EmbeddingsRequest request = parsedOk(parseEmbeddingsRequest(
      parse(R"({"model":"e","input":"round trip","encoding_format":"base64","dimensions":5})")));
  json encoded = embeddings(request);
  request.base64 = false;
  json plain = embeddings(request);
  std::vector<float> decoded =
      littleEndianFloats(decodeBase64(encoded["data"][0]["embedding"].get<std::string>()));
  ASSERT_EQ(decoded.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(decoded[i], static_cast<float>(plain["data"][0]["embedding"][i].get<double>()));
  }
  // Known bytes: 1.0f is 00 00 80 3f little-endian.
  EXPECT_EQ(base64Floats({1.0f}), "AACAPw==");
  EXPECT_EQ(base64Floats({1.0f, -2.0f}), "AACAPwAAAMA=");
}

TEST(MockEmbeddings, TokenInputs) {
  EmbeddingsRequest request =
      parsedOk(parseEmbeddingsRequest(parse(R"({"model":"e","input":[[1,2,3],[4,5]]})")));
  EXPECT_EQ(request.seeds.size(), 2u);
  EXPECT_EQ(request.prompt_tokens, 5);
  request = parsedOk(parseEmbeddingsRequest(parse(R"({"model":"e","input":[7,8,9]})")));
  EXPECT_EQ(request.seeds.size(), 1u);
  EXPECT_EQ(request.prompt_tokens, 3);
}

TEST(MockEmbeddings, InvalidInputs) {
  for (const char* body :
       {R"({"model":"e"})", R"({"model":"e","input":""})", R"({"model":"e","input":[]})",
        R"({"model":"e","input":[1,"a"]})", R"({"model":"e","input":{"a":1}})",
        R"({"model":"e","input":"x","encoding_format":"hex"})"}) {
    ApiError error = parsedError(parseEmbeddingsRequest(parse(body)));
    EXPECT_EQ(error.status, 400) << body;
    EXPECT_EQ(error.type, "invalid_request_error") << body;
  }
}

// ---- Models ----

TEST(MockModels, ListAndAnyId) {
  json list = models();
  EXPECT_EQ(list["object"], "list");
  ASSERT_FALSE(list["data"].empty());
  for (const json& entry : list["data"]) {
    EXPECT_EQ(entry["object"], "model");
    EXPECT_EQ(entry["owned_by"], "costgate-mock");
    EXPECT_TRUE(entry["created"].is_number_integer());
  }
  EXPECT_EQ(model("my-fine-tune")["id"], "my-fine-tune");
}

// ---- Errors ----

TEST(MockErrors, BodyShape) {
  json body = parse(statusFault(429).body());
  EXPECT_EQ(body, parse(R"({"error":{"message":"Mock fault: HTTP 429 injected by x-mock-status.",
                                     "type":"requests","param":null,"code":"rate_limit_exceeded"}})"));
  body = parse(parsedError(parseChatRequest(parse(R"({"model":"m"})"))).body());
  EXPECT_EQ(body, parse(R"({"error":{"message":"Missing required parameter: 'messages'.",
                                     "type":"invalid_request_error","param":"messages",
                                     "code":"missing_required_parameter"}})"));
  body = parse(parsedError(parseChatRequest(parse(R"({"messages":[]})"))).body());
  EXPECT_TRUE(body["error"]["param"].is_null());
  EXPECT_TRUE(body["error"]["code"].is_null());
}

TEST(MockErrors, TypeNamesInOpenAIsWords) {
  auto completionsError = [](const std::string& extra) {
    return parsedError(parseCompletionRequest(parse(R"({"model":"m","prompt":"x",)" + extra + "}")))
        .message;
  };
  EXPECT_EQ(completionsError(R"("n":1.5)"),
            "Invalid type for 'n': expected an integer, but got a decimal instead.");
  EXPECT_EQ(completionsError(R"("stream":2)"),
            "Invalid type for 'stream': expected a boolean, but got an integer instead.");
  EXPECT_EQ(completionsError(R"("max_tokens":"5")"),
            "Invalid type for 'max_tokens': expected an integer, but got a string instead.");
  EXPECT_EQ(parsedError(parseEmbeddingsRequest(parse(R"({"model":"e","input":{}})"))).message,
            "Invalid type for 'input': expected a string, an array of strings, an array of "
            "integers or an array of integer arrays, but got an object instead.");
}

TEST(MockErrors, ChatValidation) {
  ApiError error = parsedError(parseChatRequest(parse(R"({"messages":[]})")));
  EXPECT_EQ(error.message, "you must provide a model parameter");
  error = parsedError(parseChatRequest(parse(R"({"model":"m"})")));
  EXPECT_EQ(error.param, "messages");
  EXPECT_EQ(error.code, "missing_required_parameter");
  error = parsedError(parseChatRequest(parse(R"({"model":"m","messages":[]})")));
  EXPECT_EQ(error.code, "empty_array");
  error = parsedError(parseChatRequest(parse(R"({"model":"m","messages":"hi"})")));
  EXPECT_EQ(error.code, "invalid_type");
  error = parsedError(parseChatRequest(parse(R"([1,2])")));
  EXPECT_EQ(error.status, 400);

  const std::string messages = R"("messages":[{"role":"user","content":"x"}])";
  auto chatError = [&](const std::string& extra) {
    return parsedError(parseChatRequest(parse("{\"model\":\"m\"," + messages + "," + extra + "}")));
  };
  EXPECT_EQ(chatError(R"("n":0)").code, "integer_below_min_value");
  EXPECT_EQ(chatError(R"("n":129)").code, "integer_above_max_value");
  EXPECT_EQ(chatError(R"("n":"2")").code, "invalid_type");
  EXPECT_EQ(chatError(R"("max_tokens":0)").param, "max_tokens");
  EXPECT_EQ(chatError(R"("top_logprobs":2)").param, "top_logprobs");
  EXPECT_EQ(chatError(R"("logprobs":true,"top_logprobs":21)").param, "top_logprobs");
  EXPECT_EQ(chatError(R"("stream_options":{"include_usage":true})").param, "stream_options");
  EXPECT_EQ(chatError(R"("stream":"yes")").param, "stream");
  EXPECT_EQ(
      chatError(R"("model2":1,"messages2":[],"messages":[{"role":"user","content":5}])").param,
      "messages[0].content");
}

TEST(MockErrors, StatusFaults) {
  EXPECT_EQ(statusFault(404).code, "model_not_found");
  EXPECT_EQ(statusFault(500).code, "");
  EXPECT_EQ(statusFault(429).type, "requests");
  EXPECT_EQ(statusFault(429).code, "rate_limit_exceeded");
  EXPECT_EQ(statusFault(503).type, "server_error");
  EXPECT_EQ(statusFault(401).code, "invalid_api_key");
  EXPECT_EQ(statusFault(418).type, "invalid_request_error");
  EXPECT_EQ(statusFault(503).status, 503);
}

// ---- answer(): parse, then a whole response, a stream or an error ----

TEST(MockAnswer, DispatchesByRouteAndStream) {
  const MockOptions options;
  const std::string chat = R"({"model":"m","messages":[{"role":"user","content":"hi"}])";
  Answer whole = answer(pipeline::Route::kChatCompletions, parse(chat + "}"), options);
  ASSERT_TRUE(std::holds_alternative<json>(whole));
  EXPECT_EQ(std::get<json>(whole)["object"], "chat.completion");
  EXPECT_TRUE(std::get<json>(whole)["id"].get<std::string>().starts_with("chatcmpl-"));

  Answer stream =
      answer(pipeline::Route::kChatCompletions, parse(chat + R"(,"stream":true})"), options);
  ASSERT_TRUE(std::holds_alternative<SseEvents>(stream));
  EXPECT_EQ(std::get<SseEvents>(stream).data.back(), "[DONE]");

  Answer legacy = answer(pipeline::Route::kCompletions,
                         parse(R"({"model":"m","prompt":"hi","stream":true})"), options);
  ASSERT_TRUE(std::holds_alternative<SseEvents>(legacy));
  EXPECT_EQ(parse(std::get<SseEvents>(legacy).data.front())["object"], "text_completion");
  EXPECT_TRUE(parse(std::get<SseEvents>(legacy).data.front())["id"].get<std::string>().starts_with(
      "cmpl-"));

  Answer vectors =
      answer(pipeline::Route::kEmbeddings, parse(R"({"model":"e","input":"hi"})"), options);
  ASSERT_TRUE(std::holds_alternative<json>(vectors));
  EXPECT_EQ(std::get<json>(vectors)["object"], "list");

  Answer error = answer(pipeline::Route::kCompletions, parse(R"({"model":"m"})"), options);
  ASSERT_TRUE(std::holds_alternative<ApiError>(error));
  EXPECT_EQ(std::get<ApiError>(error).param, "prompt");
}

// ---- x-mock-* headers ----

TEST(MockHeaders, Apply) {
  EXPECT_TRUE(isMockHeader("X-Mock-Status"));
  EXPECT_FALSE(isMockHeader("x-mocking"));
  Behaviour behaviour;
  EXPECT_FALSE(applyMockHeader("x-mock-status", "503", behaviour));
  EXPECT_EQ(behaviour.status, 503);
  EXPECT_FALSE(applyMockHeader("x-mock-status", "200", behaviour));
  EXPECT_EQ(behaviour.status, 0);
  EXPECT_FALSE(applyMockHeader("x-mock-latency-ms", " 250 ", behaviour));
  EXPECT_EQ(behaviour.latency_ms, 250);
  EXPECT_FALSE(applyMockHeader("x-mock-chunks", "3", behaviour));
  EXPECT_EQ(behaviour.options.chunks, 3);
  EXPECT_FALSE(applyMockHeader("x-mock-chunk-delay-ms", "10", behaviour));
  EXPECT_EQ(behaviour.chunk_delay_ms, 10);
  EXPECT_FALSE(applyMockHeader("x-mock-reply-words", "100", behaviour));
  EXPECT_EQ(behaviour.options.reply_words, 100);
  EXPECT_FALSE(applyMockHeader("x-mock-reset-after-chunks", "0", behaviour));
  EXPECT_EQ(behaviour.reset_after_chunks, 0);
  EXPECT_FALSE(applyMockHeader("x-mock-stall-after-chunks", "2", behaviour));
  EXPECT_EQ(behaviour.stall_after_chunks, 2);
  EXPECT_FALSE(applyMockHeader("x-mock-reset", "1", behaviour));
  EXPECT_TRUE(behaviour.reset);
  EXPECT_FALSE(applyMockHeader("x-mock-echo-headers", "true", behaviour));
  EXPECT_TRUE(behaviour.echo_headers);
  EXPECT_FALSE(applyMockHeader("x-mock-echo-body", "1", behaviour));
  EXPECT_TRUE(behaviour.echo_body);
}

TEST(MockHeaders, BadValuesAreErrors) {
  Behaviour behaviour;
  for (auto [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"x-mock-status", "abc"},
                                                        {"x-mock-status", "302"},
                                                        {"x-mock-status", "600"},
                                                        {"x-mock-latency-ms", "-1"},
                                                        {"x-mock-latency-ms", "1.5"},
                                                        {"x-mock-latency-ms", "99999999999"},
                                                        {"x-mock-chunks", "0"},
                                                        {"x-mock-chunks", ""},
                                                        {"x-mock-reset", "maybe"},
                                                        {"x-mock-unknown", "1"}}) {
    std::optional<ApiError> error = applyMockHeader(name, value, behaviour);
    ASSERT_TRUE(error) << name << ": " << value;
    EXPECT_EQ(error->status, 400);
    EXPECT_EQ(error->param, name);
    EXPECT_EQ(error->code, "invalid_mock_header");
  }
  EXPECT_EQ(behaviour.status, 0);
  EXPECT_EQ(behaviour.options.chunks, MockOptions{}.chunks);
}

TEST(MockWire, InvalidUtf8IsReplacedNotThrown) {
  json body = {{"text", std::string("ok\xff")}};
  EXPECT_NO_THROW(toWire(body));
  EXPECT_EQ(toWire(body), "{\"text\":\"ok\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace costgate::mock
