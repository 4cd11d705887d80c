#include "costgate/openai/prompt_tokens.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../support/encodings.h"
#include "costgate/jsonview/document.h"
#include "costgate/text/base64.h"

namespace costgate::openai {
namespace {

using nlohmann::json;
using pipeline::Route;
using test_data::cl100k;
using test_data::o200k;

std::int64_t count(const tokenizer::Encoding& encoding, std::string_view text) {
  return static_cast<std::int64_t>(encoding.count(text));
}

// JSON text and its index. The index views the text, so this is never copied or moved (functions
// return it as a prvalue, which C++17 constructs in place).
class Indexed {
 public:
  explicit Indexed(std::string text)
      : text_(std::move(text)), document_(jsonview::Document::parse(text_)) {
    EXPECT_TRUE(document_.has_value()) << "not JSON: " << text_;
  }
  explicit Indexed(const char* text) : Indexed(std::string(text)) {}
  explicit Indexed(const json& value) : Indexed(value.dump()) {}
  Indexed(const Indexed&) = delete;
  Indexed& operator=(const Indexed&) = delete;

  jsonview::Value root() const { return document_->root(); }

 private:
  std::string text_;
  std::optional<jsonview::Document> document_;
};

PromptTokens chatPrompt(const json& body, const tokenizer::Encoding& encoding) {
  Indexed indexed(body);
  return countPrompt(Route::kChatCompletions, indexed.root(), encoding);
}

PromptTokens messageTokens(const json& message, const tokenizer::Encoding& encoding) {
  Indexed indexed(message);
  return countChatMessage(indexed.root(), encoding);
}

// --- OpenAI's cookbook ("How to count tokens with tiktoken") ------------------------------------

json cookbookMessages() {
  return json::array({
      {{"role", "system"},
       {"content",
        "You are a helpful, pattern-following assistant that translates corporate jargon into "
        "plain English."}},
      {{"role", "system"},
       {"name", "example_user"},
       {"content", "New synergies will help drive top-line growth."}},
      {{"role", "system"},
       {"name", "example_assistant"},
       {"content", "Things working well together will increase revenue."}},
      {{"role", "system"},
       {"name", "example_user"},
       {"content",
        "Let's circle back when we have more bandwidth to touch base on opportunities for "
        "increased leverage."}},
      {{"role", "system"},
       {"name", "example_assistant"},
       {"content", "Let's talk later when we're less busy about how to do better."}},
      {{"role", "user"},
       {"content",
        "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable."}},
  });
}

// The numbers the cookbook shows OpenAI's API billing for this conversation.
TEST(PromptTokens, CookbookConversationCostsWhatOpenAIBilled) {
  json body = {{"model", "gpt-4"}, {"messages", cookbookMessages()}};
  PromptTokens gpt4 = chatPrompt(body, cl100k());
  EXPECT_EQ(gpt4.tokens, 129) << "gpt-3.5-turbo / gpt-4 (cl100k_base)";
  EXPECT_FALSE(gpt4.estimated);

  body["model"] = "gpt-4o";
  PromptTokens gpt4o = chatPrompt(body, o200k());
  EXPECT_EQ(gpt4o.tokens, 124) << "gpt-4o (o200k_base)";
  EXPECT_FALSE(gpt4o.estimated);
}

// The message loop of the cookbook's num_tokens_from_messages, written out for one message.
TEST(PromptTokens, MessageCostsThreePlusItsStringsAndOneMoreForAName) {
  for (const tokenizer::Encoding* encoding : {&cl100k(), &o200k()}) {
    SCOPED_TRACE(encoding->name());
    json named = {{"role", "system"}, {"name", "example_user"}, {"content", "New synergies."}};
    EXPECT_EQ(messageTokens(named, *encoding).tokens, 3 + count(*encoding, "system") +
                                                          count(*encoding, "example_user") + 1 +
                                                          count(*encoding, "New synergies."));
    json plain = {{"role", "user"}, {"content", "hello there"}};
    EXPECT_EQ(messageTokens(plain, *encoding).tokens,
              3 + count(*encoding, "user") + count(*encoding, "hello there"));
  }
}

TEST(PromptTokens, ChatAddsThreeTokensOfReplyPriming) {
  json message = {{"role", "user"}, {"content", "hi"}};
  json body = {{"model", "gpt-4o"}, {"messages", json::array({message})}};
  EXPECT_EQ(chatPrompt(body, o200k()).tokens,
            messageTokens(message, o200k()).tokens + kReplyPrimingTokens);
  EXPECT_EQ(chatPrompt({{"messages", json::array()}}, o200k()).tokens, kReplyPrimingTokens);
}

// The cookbook's function-calling example; OpenAI's API billed 105 (gpt-3.5-turbo, gpt-4) and
// 101 (gpt-4o, gpt-4o-mini) prompt tokens for it.
TEST(PromptTokens, CookbookToolExampleCostsWhatOpenAIBilled) {
  json tools = json::parse(R"([{
    "type": "function",
    "function": {
      "name": "get_current_weather",
      "description": "Get the current weather in a given location",
      "parameters": {
        "type": "object",
        "properties": {
          "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
          "unit": {"type": "string", "description": "The unit of temperature to return",
                   "enum": ["celsius", "fahrenheit"]}
        },
        "required": ["location"]
      }
    }
  }])");
  json messages = json::array(
      {{{"role", "system"},
        {"content", "You are a helpful assistant that can answer to questions about the weather."}},
       {{"role", "user"}, {"content", "What's the weather like in San Francisco?"}}});
  json body = {{"model", "gpt-4"}, {"messages", messages}, {"tools", tools}};
  EXPECT_EQ(chatPrompt(body, cl100k()).tokens, 105);
  EXPECT_EQ(chatPrompt(body, o200k()).tokens, 101);
}

// --- Tool definitions
// -----------------------------------------------------------------------------

json searchTools() {
  return json::parse(R"([
    {"type": "function",
     "function": {
       "name": "search_orders",
       "description": "Find a customer's orders.",
       "parameters": {
         "type": "object",
         "properties": {
           "customer_id": {"type": "string", "description": "The customer's id."},
           "status": {"type": "string", "description": "Order status",
                      "enum": ["open", "shipped", "cancelled"]},
           "limit": {"type": "integer"}
         }
       }
     }},
    {"type": "function",
     "function": {"name": "ping", "description": "Checks the service.", "parameters": {}}}
  ])");
}

// The cookbook's num_tokens_for_tools, spelled out: per function a start (7 on o200k_base, 10 on
// cl100k_base) and "name:description" without its final period; with properties 3, then per
// property 3, "name:type:description", and for an enum -3 plus 3 and the text of each item; 12 to
// close the list.
std::int64_t expectedSearchToolTokens(const tokenizer::Encoding& encoding, std::int64_t start) {
  std::int64_t total = 0;
  total += start + count(encoding, "search_orders:Find a customer's orders");
  total += 3;
  total += 3 + count(encoding, "customer_id:string:The customer's id");
  total += 3 + -3 + (3 + count(encoding, "open")) + (3 + count(encoding, "shipped")) +
           (3 + count(encoding, "cancelled")) + count(encoding, "status:string:Order status");
  total += 3 + count(encoding, "limit:integer:");
  total += start + count(encoding, "ping:Checks the service");  // no properties: nothing more
  total += 12;
  return total;
}

TEST(PromptTokens, ToolsCountByTheCookbookFormula) {
  Indexed tools(searchTools());
  PromptTokens on_o200k = countTools(tools.root(), o200k());
  EXPECT_EQ(on_o200k.tokens, expectedSearchToolTokens(o200k(), 7));
  EXPECT_FALSE(on_o200k.estimated);
  PromptTokens on_cl100k = countTools(tools.root(), cl100k());
  EXPECT_EQ(on_cl100k.tokens, expectedSearchToolTokens(cl100k(), 10));
  EXPECT_FALSE(on_cl100k.estimated);
}

TEST(PromptTokens, LegacyFunctionsCountLikeTools) {
  json functions = json::array();
  for (const json& tool : searchTools()) functions.push_back(tool["function"]);
  Indexed indexed(functions);
  EXPECT_EQ(countTools(indexed.root(), o200k()).tokens, expectedSearchToolTokens(o200k(), 7));

  json body = {{"messages", json::array()}, {"functions", functions}};
  EXPECT_EQ(chatPrompt(body, o200k()).tokens,
            kReplyPrimingTokens + expectedSearchToolTokens(o200k(), 7));
}

TEST(PromptTokens, ChatOverheadIsPrimingPlusTools) {
  Indexed body(json{{"messages", json::array()}, {"tools", searchTools()}});
  EXPECT_EQ(countChatOverhead(body.root(), o200k()).tokens,
            kReplyPrimingTokens + expectedSearchToolTokens(o200k(), 7));
  Indexed no_tools(json{{"messages", json::array()}, {"tools", json::array()}});
  EXPECT_EQ(countChatOverhead(no_tools.root(), o200k()).tokens, kReplyPrimingTokens)
      << "an empty tools list costs nothing, not even the closing 12";
}

TEST(PromptTokens, NestedToolSchemasAreMarkedEstimated) {
  json tools = json::parse(R"([{"type": "function", "function": {
    "name": "create", "description": "Creates items",
    "parameters": {"type": "object", "properties": {
      "items": {"type": "array", "description": "What to create",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}}}}])");
  Indexed indexed(tools);
  EXPECT_TRUE(countTools(indexed.root(), o200k()).estimated);
}

// --- Content parts and tool calls
// -----------------------------------------------------------------

TEST(PromptTokens, TextPartsCountTheirText) {
  json message = {{"role", "user"},
                  {"content", json::array({{{"type", "text"}, {"text", "first part"}},
                                           {{"type", "text"}, {"text", "second part"}}})}};
  PromptTokens counted = messageTokens(message, o200k());
  EXPECT_EQ(counted.tokens, 3 + count(o200k(), "user") + count(o200k(), "first part") +
                                count(o200k(), "second part"));
  EXPECT_FALSE(counted.estimated);
}

TEST(PromptTokens, AudioAndFilePartsAreMarkedEstimated) {
  json message = {
      {"role", "user"},
      {"content", json::array({{{"type", "input_audio"},
                                {"input_audio", {{"data", "AAAA"}, {"format", "wav"}}}}})}};
  PromptTokens counted = messageTokens(message, o200k());
  EXPECT_EQ(counted.tokens, 3 + count(o200k(), "user"));
  EXPECT_TRUE(counted.estimated);
}

// OpenAI does not document how a call is framed, so its name and arguments are counted and the
// whole marked estimated.
TEST(PromptTokens, ToolCallsCountNameAndArgumentsAsEstimated) {
  json message = {
      {"role", "assistant"},
      {"content", nullptr},
      {"tool_calls",
       json::array(
           {{{"id", "call_1"},
             {"type", "function"},
             {"function", {{"name", "get_weather"}, {"arguments", R"({"city":"Paris"})"}}}}})}};
  PromptTokens counted = messageTokens(message, o200k());
  EXPECT_EQ(counted.tokens, 3 + count(o200k(), "assistant") + count(o200k(), "get_weather") +
                                count(o200k(), R"({"city":"Paris"})"));
  EXPECT_TRUE(counted.estimated);

  json legacy = {{"role", "assistant"},
                 {"function_call", {{"name", "get_weather"}, {"arguments", "{}"}}}};
  PromptTokens legacy_counted = messageTokens(legacy, o200k());
  EXPECT_EQ(legacy_counted.tokens,
            3 + count(o200k(), "assistant") + count(o200k(), "get_weather") + count(o200k(), "{}"));
  EXPECT_TRUE(legacy_counted.estimated);
}

// --- Images
// ---------------------------------------------------------------------------------------

std::string bigEndian16(std::uint32_t value) {
  return {static_cast<char>(value >> 8), static_cast<char>(value)};
}
std::string bigEndian32(std::uint32_t value) {
  return bigEndian16(value >> 16) + bigEndian16(value & 0xFFFF);
}
std::string littleEndian(std::uint32_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>(value >> (8 * i));
  return out;
}

// The first bytes of real files of each format, with the pixel size where the format keeps it.
std::string pngHeader(std::uint32_t width, std::uint32_t height) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + bigEndian32(13) + "IHDR" + bigEndian32(width) +
         bigEndian32(height) + std::string("\x08\x06\x00\x00\x00", 5) + "CRC!";
}

// A baseline or progressive JPEG as cameras write them: APP0 (JFIF) and a quantization table
// before the start-of-frame segment, so the reader has to walk segments.
std::string jpegHeader(std::uint32_t width, std::uint32_t height, unsigned char frame = 0xC0) {
  std::string out("\xFF\xD8", 2);
  out += std::string("\xFF\xE0", 2) + bigEndian16(16) + std::string("JFIF\0\x01\x01\x00", 8) +
         bigEndian16(72) + bigEndian16(72) + std::string("\x00\x00", 2);
  out += std::string("\xFF\xDB", 2) + bigEndian16(67) + std::string(65, '\x01');
  out += std::string("\xFF", 1) + static_cast<char>(frame) + bigEndian16(17) + '\x08' +
         bigEndian16(height) + bigEndian16(width) + '\x03' + std::string(9, '\x11');
  out += std::string("\xFF\xDA", 2) + bigEndian16(12) + std::string(10, '\0');
  return out;
}

std::string gifHeader(std::uint32_t width, std::uint32_t height) {
  return "GIF89a" + littleEndian(width, 2) + littleEndian(height, 2) +
         std::string("\xF7\x00\x00", 3);
}

std::string riff(const std::string& chunk, const std::string& data) {
  return "RIFF" + littleEndian(static_cast<std::uint32_t>(4 + 8 + data.size()), 4) + "WEBP" +
         chunk + littleEndian(static_cast<std::uint32_t>(data.size()), 4) + data;
}

// Extended WebP: the canvas size minus one in 24 bits.
std::string webpExtendedHeader(std::uint32_t width, std::uint32_t height) {
  return riff("VP8X",
              std::string(4, '\0') + littleEndian(width - 1, 3) + littleEndian(height - 1, 3));
}

// Lossy WebP: a VP8 key frame tag, its start code, then 14-bit sizes.
std::string webpLossyHeader(std::uint32_t width, std::uint32_t height) {
  return riff("VP8 ", std::string("\x30\x01\x00\x9D\x01\x2A", 6) + littleEndian(width, 2) +
                          littleEndian(height, 2) + std::string(8, '\0'));
}

// Lossless WebP: the 0x2F signature, then width-1 and height-1 in 14 bits each.
std::string webpLosslessHeader(std::uint32_t width, std::uint32_t height) {
  std::uint32_t bits = (width - 1) | (height - 1) << 14;
  return riff("VP8L", "\x2F" + littleEndian(bits, 4) + std::string(8, '\0'));
}

std::string dataUrl(const std::string& mime, const std::string& bytes) {
  // The rest of a real file follows the header.
  return "data:" + mime + ";base64," + text::base64Encode(bytes + std::string(300, '\x55'));
}

json imageMessage(const std::string& url, std::optional<std::string> detail) {
  json image = {{"url", url}};
  if (detail) image["detail"] = *detail;
  return {{"role", "user"},
          {"content", json::array({{{"type", "image_url"}, {"image_url", image}}})}};
}

// The image part alone: the message less its 3 tokens and role.
PromptTokens imageTokens(const std::string& url, std::optional<std::string> detail) {
  PromptTokens counted = messageTokens(imageMessage(url, std::move(detail)), o200k());
  counted.tokens -= 3 + count(o200k(), "user");
  return counted;
}

// OpenAI's documented examples: a 1024x1024 image is 765 tokens at high detail (scaled to 768 on
// its short side: 4 tiles), 2048x4096 is 1105 (fit to 1024x2048, then 768x1536: 6 tiles), and
// any image at low detail is 85.
TEST(PromptTokens, ImagesCostOpenAIsDocumentedExamplesInEveryFormat) {
  struct Format {
    const char* name;
    std::string (*header)(std::uint32_t, std::uint32_t);
    const char* mime;
  };
  const Format formats[] = {
      {"png", pngHeader, "image/png"},
      {"jpeg", [](std::uint32_t w, std::uint32_t h) { return jpegHeader(w, h); }, "image/jpeg"},
      {"progressive jpeg", [](std::uint32_t w, std::uint32_t h) { return jpegHeader(w, h, 0xC2); },
       "image/jpeg"},
      {"gif", gifHeader, "image/gif"},
      {"webp extended", webpExtendedHeader, "image/webp"},
      {"webp lossy", webpLossyHeader, "image/webp"},
      {"webp lossless", webpLosslessHeader, "image/webp"},
  };
  for (const Format& format : formats) {
    SCOPED_TRACE(format.name);
    PromptTokens square = imageTokens(dataUrl(format.mime, format.header(1024, 1024)), "high");
    EXPECT_EQ(square.tokens, 765);
    EXPECT_FALSE(square.estimated) << "the size was read from the image";
    PromptTokens tall = imageTokens(dataUrl(format.mime, format.header(2048, 4096)), "high");
    EXPECT_EQ(tall.tokens, 1105);
    EXPECT_FALSE(tall.estimated);
    PromptTokens low = imageTokens(dataUrl(format.mime, format.header(4096, 8192)), "low");
    EXPECT_EQ(low.tokens, 85);
    EXPECT_FALSE(low.estimated);
  }
}

TEST(PromptTokens, SmallImagesAreNotScaledUp) {
  // 512x512 fits one tile as it is; 600x300 needs two across.
  EXPECT_EQ(imageTokens(dataUrl("image/png", pngHeader(512, 512)), "high").tokens, 85 + 170);
  EXPECT_EQ(imageTokens(dataUrl("image/png", pngHeader(600, 300)), "high").tokens, 85 + 2 * 170);
  EXPECT_EQ(imageTokens(dataUrl("image/png", pngHeader(1, 1)), "high").tokens, 85 + 170);
}

// "auto" lets OpenAI pick the detail; the larger (high) is counted and the count marked estimated.
TEST(PromptTokens, AutoDetailCountsAsHighAndIsEstimated) {
  for (std::optional<std::string> detail :
       {std::optional<std::string>("auto"), std::optional<std::string>()}) {
    PromptTokens counted = imageTokens(dataUrl("image/png", pngHeader(2048, 4096)), detail);
    EXPECT_EQ(counted.tokens, 1105);
    EXPECT_TRUE(counted.estimated);
  }
}

TEST(PromptTokens, ImagesOfUnknownSizeCountAsA1024SquareAndAreEstimated) {
  for (const std::string& url : {std::string("https://example.com/cat.png"),
                                 std::string("data:image/png;base64,!!!not base64!!!"),
                                 dataUrl("image/png", "not an image at all, just some bytes"),
                                 dataUrl("image/bmp", "BM" + std::string(60, '\0'))}) {
    SCOPED_TRACE(url.substr(0, 40));
    PromptTokens counted = imageTokens(url, "high");
    EXPECT_EQ(counted.tokens, 765);
    EXPECT_TRUE(counted.estimated);
  }
  EXPECT_EQ(imageTokens("https://example.com/cat.png", "low").tokens, 85)
      << "low detail needs no size";
  EXPECT_FALSE(imageTokens("https://example.com/cat.png", "low").estimated);
}

// Some JSON encoders (PHP's json_encode, by default) write every '/' as "\/", and base64 is full
// of slashes: the image is still read.
TEST(PromptTokens, ImageDataUrlWithEscapedSlashesIsStillRead) {
  std::string url = dataUrl("image/png", pngHeader(2048, 4096));
  std::string escaped;
  for (char c : url) escaped += c == '/' ? std::string("\\/") : std::string(1, c);
  ASSERT_NE(escaped, url) << "the test needs a URL with slashes";
  Indexed message(R"({"role":"user","content":[{"type":"image_url","image_url":{"url":")" +
                  escaped + R"(","detail":"high"}}]})");
  PromptTokens counted = countChatMessage(message.root(), o200k());
  EXPECT_EQ(counted.tokens, 3 + count(o200k(), "user") + 1105);
  EXPECT_FALSE(counted.estimated);
}

TEST(PromptTokens, ImageAndTextPartsAddUp) {
  json message = {
      {"role", "user"},
      {"content", json::array({{{"type", "text"}, {"text", "What is in this picture?"}},
                               {{"type", "image_url"},
                                {"image_url",
                                 {{"url", dataUrl("image/jpeg", jpegHeader(1024, 1024))},
                                  {"detail", "high"}}}}})}};
  PromptTokens counted = messageTokens(message, o200k());
  EXPECT_EQ(counted.tokens,
            3 + count(o200k(), "user") + count(o200k(), "What is in this picture?") + 765);
  EXPECT_FALSE(counted.estimated);
}

// --- Escapes
// --------------------------------------------------------------------------------------

// What is billed is the text the model sees, not its JSON spelling.
TEST(PromptTokens, EscapedStringsCountAsTheirUnescapedText) {
  const std::string text = "caf\xC3\xA9 \"quoted\"\n\tnext line \\ slash";
  Indexed escaped(R"({"role":"user","name":"al\u0069ce","content":"caf\u00e9 \"quoted\"\n\tnext )"
                  R"(line \\ slash"})");
  PromptTokens counted = countChatMessage(escaped.root(), o200k());
  EXPECT_EQ(counted.tokens,
            3 + count(o200k(), "user") + count(o200k(), "alice") + 1 + count(o200k(), text));

  Indexed completion(R"({"prompt":"caf\u00e9 \"quoted\"\n\tnext line \\ slash"})");
  EXPECT_EQ(countPrompt(Route::kCompletions, completion.root(), o200k()).tokens,
            count(o200k(), text));

  Indexed tool(R"([{"type":"function","function":{"name":"f","description":"Says \"hi\"."}}])");
  EXPECT_EQ(countTools(tool.root(), o200k()).tokens, 7 + count(o200k(), "f:Says \"hi\"") + 12);
}

// --- Completions and embeddings
// -------------------------------------------------------------------

TEST(PromptTokens, CompletionsPromptStringArrayAndTokenArrays) {
  const std::string first = "Once upon a time";
  const std::string second = "in a land far away";
  Indexed string(json{{"model", "gpt-3.5-turbo-instruct"}, {"prompt", first}});
  EXPECT_EQ(countPrompt(Route::kCompletions, string.root(), cl100k()).tokens,
            count(cl100k(), first))
      << "no per-message overhead outside chat";
  Indexed strings(json{{"prompt", {first, second}}});
  EXPECT_EQ(countPrompt(Route::kCompletions, strings.root(), cl100k()).tokens,
            count(cl100k(), first) + count(cl100k(), second));
  Indexed tokens(json{{"prompt", {1212, 318, 257}}});
  EXPECT_EQ(countPrompt(Route::kCompletions, tokens.root(), cl100k()).tokens, 3)
      << "each token id is one token";
  Indexed token_lists(json{{"prompt", {{1212, 318}, {257, 1332, 13}}}});
  EXPECT_EQ(countPrompt(Route::kCompletions, token_lists.root(), cl100k()).tokens, 5);
}

TEST(PromptTokens, EmbeddingsInputStringArrayAndTokenArrays) {
  const std::string text = "The food was delicious and the waiter was friendly.";
  Indexed string(json{{"model", "text-embedding-3-small"}, {"input", text}});
  EXPECT_EQ(countPrompt(Route::kEmbeddings, string.root(), cl100k()).tokens, count(cl100k(), text));
  Indexed strings(json{{"input", {text, "second"}}});
  EXPECT_EQ(countPrompt(Route::kEmbeddings, strings.root(), cl100k()).tokens,
            count(cl100k(), text) + count(cl100k(), "second"));
  Indexed ids(json{{"input", {{1, 2, 3}, {4}}}});
  EXPECT_EQ(countPrompt(Route::kEmbeddings, ids.root(), cl100k()).tokens, 4);
}

// Each route reads only its own field: a chat body's prompt is not the chat's input.
TEST(PromptTokens, EachRouteCountsOnlyItsOwnInputField) {
  Indexed body(json{
      {"prompt", "completion text"}, {"input", "embedding text"}, {"messages", json::array()}});
  EXPECT_EQ(countPrompt(Route::kCompletions, body.root(), o200k()).tokens,
            count(o200k(), "completion text"));
  EXPECT_EQ(countPrompt(Route::kEmbeddings, body.root(), o200k()).tokens,
            count(o200k(), "embedding text"));
  EXPECT_EQ(countPrompt(Route::kChatCompletions, body.root(), o200k()).tokens, kReplyPrimingTokens);
}

// --- Garbage
// --------------------------------------------------------------------------------------

// Counting runs on whatever reached the filters; shapes the API would refuse count what they can
// and never crash.
TEST(PromptTokens, GarbageShapesCountWhatTheyCanWithoutCrashing) {
  const char* bodies[] = {
      R"({"messages":[1,"text",null,true,[],{}]})",
      R"({"messages":[{"role":5,"content":7,"name":["x"]}]})",
      R"({"messages":[{"role":"user","content":[1,"text",null,{},{"type":5},{"type":"text"},
          {"type":"text","text":9},{"type":"image_url"},{"type":"image_url","image_url":"x"},
          {"type":"image_url","image_url":{"url":7,"detail":3}}]}]})",
      R"({"messages":[{"role":"assistant","tool_calls":[1,{},{"function":5},
          {"function":{"name":1,"arguments":{}}}],"function_call":"x"}]})",
      R"({"messages":{"role":"user"}})",
      R"({"messages":"hello"})",
      R"({"messages":[],"tools":[1,null,{},{"function":5},{"function":{"parameters":5}},
          {"function":{"name":"f","parameters":{"properties":[1,2]}}},
          {"function":{"name":"g","parameters":{"properties":{"a":5,"b":{"enum":5},
           "c":{"enum":[1,null,{}],"type":7,"description":[]}}}}}]})",
      R"({"messages":[],"tools":"all of them","functions":{}})",
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":
          "data:image/jpeg;base64,/9j/4AAQ","detail":"high"}}]}]})",
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":
          "data:image/webp;base64,UklGRgAAAABXRUJQVlA4WAoAAAA=","detail":"high"}}]}]})",
      R"([1,2,3])",
      R"("just a string")",
      R"(42)",
      R"(null)",
  };
  for (const char* text : bodies) {
    SCOPED_TRACE(text);
    Indexed body{std::string(text)};
    for (Route route : {Route::kChatCompletions, Route::kCompletions, Route::kEmbeddings}) {
      PromptTokens counted = countPrompt(route, body.root(), o200k());
      EXPECT_GE(counted.tokens, 0);
    }
  }
  Indexed non_object(std::string("[1,2]"));
  EXPECT_EQ(countPrompt(Route::kChatCompletions, non_object.root(), o200k()).tokens, 0);
  Indexed numbers(std::string(R"({"messages":[7,{"role":"user","content":12}]})"));
  EXPECT_EQ(countPrompt(Route::kChatCompletions, numbers.root(), o200k()).tokens,
            3 + (3 + count(o200k(), "user")) + kReplyPrimingTokens)
      << "a message that is not an object still costs its 3; number content costs nothing";
  Indexed number_prompt(std::string(R"({"prompt":12,"input":{"a":"b"}})"));
  EXPECT_EQ(countPrompt(Route::kCompletions, number_prompt.root(), o200k()).tokens, 0);
  EXPECT_EQ(countPrompt(Route::kEmbeddings, number_prompt.root(), o200k()).tokens, 0);
}

// A JPEG whose segment lengths run past the data, or a header cut short: no size, no crash.
TEST(PromptTokens, TruncatedImageHeadersAreEstimatedNotMisread) {
  std::string jpeg = jpegHeader(1024, 1024);
  std::string png = pngHeader(2048, 4096);
  for (std::size_t keep : {3u, 8u, 12u, 20u, 23u}) {
    SCOPED_TRACE(keep);
    for (const std::string& bytes : {jpeg.substr(0, keep), png.substr(0, keep)}) {
      std::string url = "data:image/png;base64," + text::base64Encode(bytes);
      PromptTokens counted = imageTokens(url, "high");
      EXPECT_EQ(counted.tokens, 765);
      EXPECT_TRUE(counted.estimated);
    }
  }
}

}  // namespace
}  // namespace costgate::openai
