#include "costgate/mock/responses.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>

#include "costgate/openai/request_validation.h"
#include "costgate/text/base64.h"

namespace costgate::mock {

using openai::invalidRequest;

namespace {

// Padding for replies and the alternatives in top_logprobs: fixed, so replies are predictable.
constexpr std::array<std::string_view, 26> kFiller = {
    "alpha",  "bravo", "charlie", "delta",  "echo",     "foxtrot", "golf",   "hotel",  "india",
    "juliet", "kilo",  "lima",    "mike",   "november", "oscar",   "papa",   "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey",  "xray",    "yankee", "zulu"};
constexpr std::size_t kSnippetBytes = 60;
constexpr int kTokensPerMessage = 3;
constexpr int kMaxChoices = 128;
constexpr int kMaxTopLogprobs = 20;
constexpr int kMaxLegacyLogprobs = 5;
constexpr int kMaxDimensions = 4096;
constexpr std::size_t kMaxEmbeddingInputs = 2048;
constexpr std::int64_t kModelsCreated = 1700000000;
// What a prompt (completions) or an input (embeddings) may be.
constexpr const char* kTokenInputTypes =
    "a string, an array of strings, an array of integers or an array of integer arrays";

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

template <typename Visit>
void forEachWord(std::string_view text, Visit&& visit) {
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && isSpace(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !isSpace(text[i])) ++i;
    if (i > start) visit(text.substr(start, i - start));
  }
}

// At most `limit` bytes of `text`, never cutting a UTF-8 sequence in half (a cut one would make
// the reply invalid UTF-8).
std::string_view utf8Prefix(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// SplitMix64: a tiny generator whose output is the same on every platform, unlike the
// distributions of <random>, so embeddings are reproducible everywhere.
std::uint64_t splitMix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string joinWords(const std::vector<std::string>& words, std::size_t begin, std::size_t end) {
  std::size_t size = 0;
  for (std::size_t i = begin; i < end; ++i) size += words[i].size() + 1;
  std::string text;
  text.reserve(size);
  for (std::size_t i = begin; i < end; ++i) {
    // A chunk that does not start the reply carries the space before its first word, so the
    // chunks concatenate to exactly the whole text.
    if (i > 0) text += ' ';
    text += words[i];
  }
  return text;
}

// One choice's reply after max_tokens truncation.
struct Reply {
  std::vector<std::string> words;
  // A literal, or MockOptions::shape.finish_reason, which outlives every reply made from it.
  std::string_view finish_reason = "stop";
};

// kRefusal and kHedge as words, so they stream and count like any reply.
constexpr std::array<std::string_view, 8> kRefusalWords = {"I'm",   "sorry,", "but",  "I",
                                                           "can't", "help",   "with", "that."};
constexpr std::array<std::string_view, 6> kHedgeWords = {"I'm", "not", "sure,",
                                                         "but", "I",   "think"};
// The JSON key of a reply whose schema requires none.
const std::vector<std::string> kAnswerKey = {"answer"};

// `text` as it goes inside a JSON string, without the quotes.
std::string jsonEscaped(std::string_view text) {
  std::string quoted = toWire(json(text));
  return quoted.substr(1, quoted.size() - 2);
}

// Wraps `words` into a JSON object word by word (the first word opens the object, the last closes
// it), so the reply still streams, counts and carries logprobs by words: keys[0] holds the words as
// one string, every other key "mock". `broken` stops inside the first string instead, as a model
// cut off mid-answer would.
void wrapAsJson(std::vector<std::string>& words, const std::vector<std::string>& keys,
                bool broken) {
  if (words.empty()) words.emplace_back();
  for (std::string& word : words) word = jsonEscaped(word);
  words.front().insert(0, "{\"" + jsonEscaped(keys.front()) + "\":\"");
  if (broken) return;
  std::string& last = words.back();
  last += '"';
  for (std::size_t k = 1; k < keys.size(); ++k) {
    last.append(",\"").append(jsonEscaped(keys[k])).append("\":\"mock\"");
  }
  last += '}';
}

// The reply to `source` for choice `choice`, shaped as ReplyShape describes. `json_keys`: the
// keys of the JSON object the request's response_format asks for, or null for plain text.
Reply makeReply(std::string_view source, int choice, std::optional<int> max_tokens,
                const MockOptions& options, const std::vector<std::string>* json_keys) {
  const ReplyShape& shape = options.shape;
  Reply reply;
  if (shape.refuse) {
    reply.words.assign(kRefusalWords.begin(), kRefusalWords.end());
  } else if (!shape.empty) {
    reply.words = replyWords(source, choice, options);
    if (shape.uncertain) {
      reply.words.insert(reply.words.begin(), kHedgeWords.begin(), kHedgeWords.end());
    }
    if (json_keys || shape.invalid_json) {
      wrapAsJson(reply.words, json_keys ? *json_keys : kAnswerKey, shape.invalid_json);
    }
  }
  if (max_tokens && static_cast<std::size_t>(*max_tokens) < reply.words.size()) {
    reply.words.resize(static_cast<std::size_t>(*max_tokens));
    reply.finish_reason = "length";
  }
  if (!shape.finish_reason.empty()) reply.finish_reason = shape.finish_reason;
  return reply;
}

// `n` replies to each source in turn, so choice index = source * n + choice.
std::vector<Reply> makeReplies(std::span<const std::string> sources, int n,
                               std::optional<int> max_tokens, const MockOptions& options,
                               const std::vector<std::string>* json_keys = nullptr) {
  std::vector<Reply> replies;
  replies.reserve(sources.size() * static_cast<std::size_t>(n));
  for (const std::string& source : sources) {
    for (int c = 0; c < n; ++c) {
      replies.push_back(makeReply(source, c, max_tokens, options, json_keys));
    }
  }
  return replies;
}

// Words emitted over all replies: the usage's completion_tokens.
int completionTokens(const std::vector<Reply>& replies) {
  int tokens = 0;
  for (const Reply& reply : replies) tokens += static_cast<int>(reply.words.size());
  return tokens;
}

// How a reply of `words` words is cut into stream chunks: chunk g covers words
// [bounds[g], bounds[g + 1]).
std::vector<std::size_t> chunkBounds(std::size_t words, int chunks) {
  std::size_t count = std::min<std::size_t>(words, static_cast<std::size_t>(std::max(1, chunks)));
  std::vector<std::size_t> bounds(count + 1);
  for (std::size_t g = 0; g <= count; ++g) bounds[g] = count == 0 ? 0 : g * words / count;
  return bounds;
}

std::string tokenAt(const std::vector<std::string>& words, std::size_t i) {
  return i == 0 ? words[0] : " " + words[i];
}

// A token's logprob, in hundredths within the range `confidence` gives (see responses.h).
double tokenLogprob(std::string_view token, std::size_t position, Confidence confidence) {
  std::uint64_t spread = fnv1a(token) + position;
  switch (confidence) {
    case Confidence::kHigh:
      return -static_cast<double>(1 + spread % 25) / 100.0;  // -0.01 .. -0.25
    case Confidence::kLow:
      return -static_cast<double>(120 + spread % 181) / 100.0;  // -1.20 .. -3.00
    case Confidence::kDefault:
      break;
  }
  return -static_cast<double>(spread % 100) / 100.0;  // 0.00 .. -0.99
}

// The rank-th (from 1) alternative to `token`: distinct filler words, never the token's own.
// top_logprobs asks for at most 20, and 25 fillers always remain.
std::string alternativeToken(std::string_view token, std::size_t position, int rank) {
  std::string_view word = position == 0 ? token : token.substr(1);
  std::size_t start = fnv1a(token) % kFiller.size();
  int found = 0;
  for (std::size_t k = 0; k < kFiller.size(); ++k) {
    std::string_view candidate = kFiller[(start + k) % kFiller.size()];
    if (candidate == word || ++found < rank) continue;
    return position == 0 ? std::string(candidate) : " " + std::string(candidate);
  }
  return std::string(token);
}

json tokenBytes(std::string_view token) {
  json bytes = json::array();
  for (char c : token) bytes.push_back(static_cast<unsigned char>(c));
  return bytes;
}

// Chat logprobs entries for words [begin, end): the emitted token first in top_logprobs, then
// filler alternatives each one nat less likely.
json chatLogprobs(const std::vector<std::string>& words, std::size_t begin, std::size_t end,
                  int top, Confidence confidence) {
  json content = json::array();
  for (std::size_t i = begin; i < end; ++i) {
    std::string token = tokenAt(words, i);
    double logprob = tokenLogprob(token, i, confidence);
    json alternatives = json::array();
    for (int rank = 0; rank < top; ++rank) {
      std::string alternative = rank == 0 ? token : alternativeToken(token, i, rank);
      alternatives.push_back({{"token", alternative},
                              {"logprob", logprob - rank},
                              {"bytes", tokenBytes(alternative)}});
    }
    content.push_back({{"token", token},
                       {"logprob", logprob},
                       {"bytes", tokenBytes(token)},
                       {"top_logprobs", std::move(alternatives)}});
  }
  return {{"content", std::move(content)}, {"refusal", nullptr}};
}

// Legacy completions logprobs for words [begin, end); text_offset counts from the reply's start.
json legacyLogprobs(const std::vector<std::string>& words, std::size_t begin, std::size_t end,
                    int top) {
  json tokens = json::array(), token_logprobs = json::array(), tops = json::array(),
       offsets = json::array();
  std::size_t offset = 0;
  for (std::size_t i = 0; i < begin; ++i) offset += tokenAt(words, i).size();
  for (std::size_t i = begin; i < end; ++i) {
    std::string token = tokenAt(words, i);
    double logprob = tokenLogprob(token, i, Confidence::kDefault);
    json alternatives = json::object();
    for (int rank = 0; rank < top; ++rank) {
      alternatives[rank == 0 ? token : alternativeToken(token, i, rank)] = logprob - rank;
    }
    tokens.push_back(token);
    token_logprobs.push_back(logprob);
    tops.push_back(std::move(alternatives));
    offsets.push_back(offset);
    offset += token.size();
  }
  return {{"tokens", std::move(tokens)},
          {"token_logprobs", std::move(token_logprobs)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

json chatUsage(int prompt_tokens, int completion_tokens, int cached_tokens = 0) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}, {"audio_tokens", 0}}},
          {"completion_tokens_details",
           {{"reasoning_tokens", 0},
            {"audio_tokens", 0},
            {"accepted_prediction_tokens", 0},
            {"rejected_prediction_tokens", 0}}}};
}

// ---- Request validation, in OpenAI's words so SDK error messages look familiar ----

// OpenAI names a number with a fraction "a decimal" (the gateway's own messages say "a number").
std::string_view typeName(const json& value) {
  return value.is_number_float() ? "a decimal" : openai::describeJsonType(value);
}

ApiError invalidType(std::string_view param, std::string_view expected, const json& got) {
  return invalidRequest("Invalid type for '" + std::string(param) + "': expected " +
                            std::string(expected) + ", but got " + std::string(typeName(got)) +
                            " instead.",
                        std::string(param), "invalid_type");
}

ApiError missing(std::string_view param) {
  return invalidRequest("Missing required parameter: '" + std::string(param) + "'.",
                        std::string(param), "missing_required_parameter");
}

// How every request starts: an object body naming a model, and the field the endpoint cannot do
// without (messages, prompt, input), which `value` then points at.
std::optional<ApiError> readRequired(const json& body, std::string& model, const char* field,
                                     const json*& value) {
  if (!body.is_object()) {
    return invalidRequest("The request body must be a JSON object.", {}, "invalid_type");
  }
  auto it = body.find("model");
  if (it == body.end() || it->is_null()) {
    // OpenAI's exact answer to a request without a model (param and code are null).
    return invalidRequest("you must provide a model parameter");
  }
  if (!it->is_string()) return invalidType("model", "a string", *it);
  model = it->get<std::string>();
  it = body.find(field);
  if (it == body.end() || it->is_null()) return missing(field);
  value = &*it;
  return std::nullopt;
}

// An optional integer in [min, max]; absent or null leaves `out` alone.
std::optional<ApiError> readInt(const json& body, const char* key, std::int64_t min,
                                std::int64_t max, std::optional<int>& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) return invalidType(key, "an integer", *it);
  // nlohmann stores non-negative integers as unsigned, so compare each kind in its own type.
  bool above, below;
  if (it->is_number_unsigned()) {
    auto value = it->get<std::uint64_t>();
    above = value > static_cast<std::uint64_t>(max);
    below = min > 0 && value < static_cast<std::uint64_t>(min);
  } else {
    auto value = it->get<std::int64_t>();
    above = value > max;
    below = value < min;
  }
  if (above || below) {
    return invalidRequest(
        "Invalid '" + std::string(key) + "': integer " +
            (above ? "above maximum value. Expected a value <= " + std::to_string(max)
                   : "below minimum value. Expected a value >= " + std::to_string(min)) +
            ", but got " + it->dump() + " instead.",
        key, above ? "integer_above_max_value" : "integer_below_min_value");
  }
  out = static_cast<int>(it->get<std::int64_t>());
  return std::nullopt;
}

std::optional<ApiError> readBool(const json& body, const char* key, bool& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return invalidType(key, "a boolean", *it);
  out = it->get<bool>();
  return std::nullopt;
}

// n, then max_tokens and max_completion_tokens: the smaller one wins, as both cap the reply.
std::optional<ApiError> readChoices(const json& body, int& n, std::optional<int>& cap) {
  std::optional<int> count, max_tokens, max_completion_tokens;
  if (auto error = readInt(body, "n", 1, kMaxChoices, count)) return error;
  n = count.value_or(1);
  constexpr std::int64_t kMax = std::numeric_limits<int>::max();
  if (auto error = readInt(body, "max_tokens", 1, kMax, max_tokens)) return error;
  if (auto error = readInt(body, "max_completion_tokens", 1, kMax, max_completion_tokens)) {
    return error;
  }
  if (max_tokens && max_completion_tokens) {
    cap = std::min(*max_tokens, *max_completion_tokens);
  } else {
    cap = max_tokens ? max_tokens : max_completion_tokens;
  }
  return std::nullopt;
}

// stream, and stream_options.include_usage, which OpenAI refuses without stream.
std::optional<ApiError> readStream(const json& body, bool& stream, bool& include_usage) {
  if (auto error = readBool(body, "stream", stream)) return error;
  auto it = body.find("stream_options");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) return invalidType("stream_options", "an object", *it);
  if (!stream) {
    return invalidRequest(
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        "stream_options");
  }
  auto usage = it->find("include_usage");
  if (usage != it->end() && !usage->is_null()) {
    if (!usage->is_boolean()) {
      return invalidType("stream_options.include_usage", "a boolean", *usage);
    }
    include_usage = usage->get<bool>();
  }
  return std::nullopt;
}

// response_format: "text", "json_object", or "json_schema" with its schema's required keys, which
// the JSON reply then holds (ChatRequest::json_required).
std::optional<ApiError> readResponseFormat(const json& body, ChatRequest& request) {
  auto format = body.find("response_format");
  if (format == body.end() || format->is_null()) return std::nullopt;
  if (!format->is_object()) return invalidType("response_format", "an object", *format);
  auto type = format->find("type");
  if (type == format->end() || type->is_null()) return missing("response_format.type");
  if (!type->is_string()) return invalidType("response_format.type", "a string", *type);
  if (*type == "text") return std::nullopt;
  if (*type == "json_object") {
    request.json_reply = true;
    return std::nullopt;
  }
  if (*type != "json_schema") {
    return invalidRequest("Invalid value: " + toWire(*type) +
                              ". Supported values are: 'text', 'json_object', and 'json_schema'.",
                          "response_format.type", "invalid_value");
  }
  auto spec = format->find("json_schema");
  if (spec == format->end() || spec->is_null()) return missing("response_format.json_schema");
  if (!spec->is_object()) return invalidType("response_format.json_schema", "an object", *spec);
  request.json_reply = true;
  auto schema = spec->find("schema");
  if (schema == spec->end() || !schema->is_object()) return std::nullopt;
  auto required = schema->find("required");
  if (required == schema->end() || !required->is_array()) return std::nullopt;
  for (const json& key : *required) {
    if (!key.is_string()) continue;
    const auto& name = key.get_ref<const std::string&>();
    auto& keys = request.json_required;
    if (std::find(keys.begin(), keys.end(), name) == keys.end()) keys.push_back(name);
  }
  return std::nullopt;
}

// The text of a message's content: a string, null, or parts of which text parts count.
std::optional<ApiError> messageText(const json& content, std::size_t index, std::string& text) {
  if (content.is_null()) return std::nullopt;
  if (content.is_string()) {
    text = content.get<std::string>();
    return std::nullopt;
  }
  std::string param = "messages[" + std::to_string(index) + "].content";
  if (!content.is_array())
    return invalidType(param, "one of a string or array of objects", content);
  for (const json& part : content) {
    if (!part.is_object()) return invalidType(param, "an array of objects", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string() || *type != "text") continue;
    auto part_text = part.find("text");
    if (part_text == part.end() || !part_text->is_string()) {
      return missing(param + ".text");
    }
    if (!text.empty()) text += ' ';
    text += part_text->get_ref<const std::string&>();
  }
  return std::nullopt;
}

// Appends the integers of a token array to `out`, `separator` between them; false if one is not
// an integer.
bool appendTokens(const json& tokens, char separator, std::string& out) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].is_number_integer()) return false;
    if (i > 0) out += separator;
    out += tokens[i].dump();
  }
  return true;
}

// The fields that open every response object and every chunk of a stream.
json responseFields(std::string_view object, const Stamp& stamp, const std::string& model) {
  return {{"id", stamp.id}, {"object", object}, {"created", stamp.created}, {"model", model}};
}

// Chat responses and their chunks also carry these.
json chatFields(std::string_view object, const Stamp& stamp, const std::string& model) {
  json fields = responseFields(object, stamp, model);
  fields["system_fingerprint"] = kSystemFingerprint;
  fields["service_tier"] = "default";
  return fields;
}

// A whole (non-streamed) response: `fields`, `choice(index, reply)` for every reply, the usage.
template <typename Choice>
json wholeResponse(json fields, const std::vector<Reply>& replies, int prompt_tokens,
                   Choice&& choice, int cached_tokens = 0) {
  json choices = json::array();
  for (std::size_t i = 0; i < replies.size(); ++i) choices.push_back(choice(i, replies[i]));
  fields["choices"] = std::move(choices);
  fields["usage"] = chatUsage(prompt_tokens, completionTokens(replies), cached_tokens);
  return fields;
}

// Builds a stream's events, one choice per chunk. Every chunk repeats the same fields around its
// choices: they are serialized once and each chunk's choices spliced in, rather than building and
// dumping a whole object per chunk.
class StreamWriter {
 public:
  // With include_usage every chunk before the usage chunk carries "usage": null, as OpenAI's do.
  StreamWriter(json fields, bool include_usage)
      : fields_(std::move(fields)), include_usage_(include_usage) {
    if (include_usage_) fields_["usage"] = nullptr;
    prefix_ = toWire(fields_);
    prefix_.back() = ',';  // "{...}" -> "{...,"
    prefix_ += "\"choices\":";
  }

  // One chunk carrying `choice`.
  void push(const json& choice) {
    std::string choices_text = toWire(json::array({choice}));
    std::string chunk;
    chunk.reserve(prefix_.size() + choices_text.size() + 1);
    chunk += prefix_;
    chunk += choices_text;
    chunk += '}';
    events_.data.push_back(std::move(chunk));
  }

  // The content events, after what was pushed so far: round by round, every choice with words
  // left sends its next chunk, interleaved as OpenAI's are. Each reply is cut on its own, as
  // replies to different prompts differ in length. `choice(index, reply, begin, end)` carries
  // words [begin, end) of a reply.
  template <typename Choice>
  void pushContent(const std::vector<Reply>& replies, int chunks, Choice&& choice) {
    std::vector<std::vector<std::size_t>> bounds;
    bounds.reserve(replies.size());
    std::size_t rounds = 0;
    for (const Reply& reply : replies) {
      bounds.push_back(chunkBounds(reply.words.size(), chunks));
      rounds = std::max(rounds, bounds.back().size() - 1);
    }
    events_.opening = events_.data.size();
    events_.data.reserve(events_.opening + (rounds + 1) * replies.size() + 2);
    for (std::size_t g = 0; g < rounds; ++g) {
      for (std::size_t i = 0; i < replies.size(); ++i) {
        if (g + 1 < bounds[i].size()) {
          push(choice(i, replies[i], bounds[i][g], bounds[i][g + 1]));
          events_.content_tokens.push_back(static_cast<int>(bounds[i][g + 1] - bounds[i][g]));
        }
      }
    }
    events_.content_end = events_.data.size();
  }

  // A finish_reason event per reply, its `content_key` ("delta", "text") holding `no_content`,
  // then the usage chunk (include_usage only) and [DONE]: the finished stream, which leaves the
  // writer empty.
  SseEvents finish(const std::vector<Reply>& replies, int prompt_tokens, const char* content_key,
                   const json& no_content, int cached_tokens = 0) {
    for (std::size_t i = 0; i < replies.size(); ++i) {
      push({{"index", i},
            {content_key, no_content},
            {"logprobs", nullptr},
            {"finish_reason", replies[i].finish_reason}});
    }
    if (include_usage_) {
      fields_["choices"] = json::array();
      fields_["usage"] = chatUsage(prompt_tokens, completionTokens(replies), cached_tokens);
      events_.data.push_back(toWire(fields_));
    }
    events_.data.emplace_back("[DONE]");
    return std::move(events_);
  }

 private:
  json fields_;
  bool include_usage_;
  std::string prefix_;
  SseEvents events_;
};

// Header values may carry optional whitespace around them (RFC 9110).
std::string_view trimSpace(std::string_view value) {
  while (!value.empty() && isSpace(value.front())) value.remove_prefix(1);
  while (!value.empty() && isSpace(value.back())) value.remove_suffix(1);
  return value;
}

std::optional<int> parseNumber(std::string_view value) {
  value = trimSpace(value);
  int number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || error != std::errc() || end != value.data() + value.size()) {
    return std::nullopt;
  }
  return number;
}

std::optional<bool> parseSwitch(std::string_view value) {
  value = trimSpace(value);
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  return std::nullopt;
}

ApiError badMockHeader(std::string_view name, std::string_view value, std::string_view expected) {
  return invalidRequest("Invalid value '" + std::string(value) + "' for mock header " +
                            std::string(name) + ": expected " + std::string(expected) + ".",
                        std::string(name), "invalid_mock_header");
}

}  // namespace

// ---- Shared ----

std::string toWire(const json& body) {
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

int countWords(std::string_view text) {
  int words = 0;
  forEachWord(text, [&](std::string_view) { ++words; });
  return words;
}

std::vector<std::string> replyWords(std::string_view last_user_text, int choice,
                                    const MockOptions& options) {
  std::size_t total = static_cast<std::size_t>(std::max(1, options.reply_words));
  std::vector<std::string> words{"Mock", "reply", "to:"};
  words.reserve(std::max(total, words.size()));
  forEachWord(utf8Prefix(last_user_text, kSnippetBytes),
              [&](std::string_view word) { words.emplace_back(word); });
  if (words.size() > total) words.resize(total);
  for (std::size_t i = 0; words.size() < total; ++i) {
    words.emplace_back(kFiller[(static_cast<std::size_t>(choice) + i) % kFiller.size()]);
  }
  return words;
}

// ---- Errors and ids ----

ApiError statusFault(int status) {
  ApiError fault{status,
                 "invalid_request_error",
                 "Mock fault: HTTP " + std::to_string(status) + " injected by x-mock-status.",
                 {},
                 {}};
  if (status == 401) fault.code = "invalid_api_key";
  if (status == 404) fault.code = "model_not_found";
  if (status == 429) {
    fault.type = "requests";
    fault.code = "rate_limit_exceeded";
  }
  if (status >= 500) fault.type = "server_error";
  return fault;
}

Stamp newStamp(std::string_view prefix) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 random{std::random_device{}()};
  Stamp stamp;
  stamp.id.reserve(prefix.size() + 29);
  stamp.id += prefix;
  // OpenAI's ids carry 29 random characters after the prefix.
  for (int i = 0; i < 29; ++i) stamp.id += kAlphabet[random() % (sizeof(kAlphabet) - 1)];
  stamp.created = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return stamp;
}

// ---- Chat completions ----

namespace {

// A value of a JSON schema's type, for the mock's tool arguments.
json sampleOf(const json& schema) {
  std::string type = schema.is_object() ? schema.value("type", "") : "";
  if (type == "string") return "mock";
  if (type == "integer" || type == "number") return 1;
  if (type == "boolean") return true;
  if (type == "object") return json::object();
  if (type == "array") return json::array();
  return nullptr;
}

// The call the mock makes to one of the request's function tools (ToolCall), if it offers any.
std::optional<ToolCall> toolCallOf(const json& body) {
  auto tools = body.find("tools");
  if (tools == body.end() || !tools->is_array() || tools->empty()) return std::nullopt;
  const json choice = body.value("tool_choice", json("auto"));
  if (choice == "none") return std::nullopt;
  std::string wanted;
  if (choice.is_object() && choice.contains("function") && choice["function"].is_object()) {
    wanted = choice["function"].value("name", "");
  }
  for (const json& tool : *tools) {
    if (!tool.is_object() || tool.value("type", "") != "function") continue;
    const json function = tool.value("function", json::object());
    std::string name = function.is_object() ? function.value("name", "") : "";
    if (!wanted.empty() && name != wanted) continue;
    const json parameters = function.value("parameters", json::object());
    json arguments = json::object();
    if (parameters.is_object() && parameters.contains("required") &&
        parameters["required"].is_array()) {
      const json properties = parameters.value("properties", json::object());
      for (const json& key : parameters["required"]) {
        if (!key.is_string()) continue;
        arguments[key.get<std::string>()] = sampleOf(
            properties.is_object() ? properties.value(key.get<std::string>(), json()) : json());
      }
    }
    return ToolCall{"call_" + newStamp("").id, std::move(name), toWire(arguments)};
  }
  return std::nullopt;
}

}  // namespace

Parsed<ChatRequest> parseChatRequest(const json& body) {
  ChatRequest request;
  const json* messages = nullptr;
  if (auto error = readRequired(body, request.model, "messages", messages)) return *error;
  if (!messages->is_array()) return invalidType("messages", "an array of objects", *messages);
  if (messages->empty()) {
    return invalidRequest(
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        "messages", "empty_array");
  }
  // OpenAI refuses a conversation whose tool results do not follow the assistant message that
  // called the tools, all of them: so does the mock, since pruning must never produce one.
  std::vector<std::string> unanswered_calls;
  std::size_t calling_message = 0;
  auto unanswered = [&]() -> ApiError {
    std::string ids;
    for (const auto& id : unanswered_calls) ids += (ids.empty() ? "" : ", ") + id;
    return invalidRequest(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to "
        "each 'tool_call_id'. The following tool_call_ids did not have response messages: " +
            ids,
        "messages.[" + std::to_string(calling_message) + "].role");
  };
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const json& message = (*messages)[i];
    std::string param = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) return invalidType(param, "an object", message);
    auto role = message.find("role");
    if (role == message.end() || role->is_null()) return missing(param + ".role");
    if (!role->is_string()) return invalidType(param + ".role", "a string", *role);
    if (*role == "tool") {
      auto id = message.find("tool_call_id");
      auto answered = id != message.end() && id->is_string()
                          ? std::find(unanswered_calls.begin(), unanswered_calls.end(), *id)
                          : unanswered_calls.end();
      if (answered == unanswered_calls.end()) {
        return invalidRequest(
            "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
            "message with 'tool_calls'.",
            "messages.[" + std::to_string(i) + "].role");
      }
      unanswered_calls.erase(answered);
    } else if (!unanswered_calls.empty()) {
      return unanswered();
    }
    if (auto calls = message.find("tool_calls");
        *role == "assistant" && calls != message.end() && calls->is_array()) {
      calling_message = i;
      for (const json& call : *calls) {
        if (auto id = call.find("id"); call.is_object() && id != call.end() && id->is_string()) {
          unanswered_calls.push_back(*id);
        }
      }
    }
    std::string text;
    auto content = message.find("content");
    if (content != message.end()) {
      if (auto error = messageText(*content, i, text)) return *error;
    }
    request.prompt_tokens += countWords(text) + kTokensPerMessage;
    if (*role == "user") request.last_user_text = std::move(text);
  }
  if (!unanswered_calls.empty()) return unanswered();
  request.messages = static_cast<int>(messages->size());

  if (auto error = readChoices(body, request.n, request.max_tokens)) return *error;
  std::optional<int> top_logprobs;
  if (auto error = readBool(body, "logprobs", request.logprobs)) return *error;
  if (auto error = readInt(body, "top_logprobs", 0, kMaxTopLogprobs, top_logprobs)) return *error;
  if (top_logprobs && !request.logprobs) {
    return invalidRequest("Invalid value for 'top_logprobs': 'logprobs' must be set to true.",
                          "top_logprobs");
  }
  request.top_logprobs = top_logprobs.value_or(0);
  if (auto error = readStream(body, request.stream, request.include_usage)) return *error;
  if (auto error = readResponseFormat(body, request)) return *error;
  const json& last = messages->back();
  if (last.is_object() && last.value("role", "") == "user") request.tool_call = toolCallOf(body);
  return request;
}

namespace {

bool containsIgnoringCase(std::string_view text, std::string_view lower_needle) {
  auto equal = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == static_cast<unsigned char>(b);
  };
  return std::search(text.begin(), text.end(), lower_needle.begin(), lower_needle.end(), equal) !=
         text.end();
}

// The realistic mode's reply (ChatRequest::scripted_words): the scripted words, wrapped as JSON
// (cut off when the script says so) and cut by max_tokens, the same for every choice.
std::vector<Reply> scriptedReplies(const ChatRequest& request,
                                   const std::vector<std::string>* json_keys) {
  Reply reply;
  reply.words = *request.scripted_words;
  if (json_keys) wrapAsJson(reply.words, *json_keys, request.broken_json);
  if (request.max_tokens && static_cast<std::size_t>(*request.max_tokens) < reply.words.size()) {
    reply.words.resize(static_cast<std::size_t>(*request.max_tokens));
    reply.finish_reason = "length";
  }
  return std::vector<Reply>(static_cast<std::size_t>(request.n), reply);
}

std::vector<Reply> chatReplies(const ChatRequest& request, const MockOptions& options) {
  const std::vector<std::string>* json_keys = nullptr;
  if (request.json_reply) {
    json_keys = request.json_required.empty() ? &kAnswerKey : &request.json_required;
  }
  if (request.scripted_words) return scriptedReplies(request, json_keys);
  return makeReplies(std::span(&request.last_user_text, 1), request.n, request.max_tokens, options,
                     json_keys);
}

// The logprobs of words [begin, end) of a reply, or null when the request did not ask.
json chatChoiceLogprobs(const ChatRequest& request, const Reply& reply, std::size_t begin,
                        std::size_t end) {
  if (!request.logprobs) return json();
  return chatLogprobs(
      reply.words, begin, end, request.top_logprobs,
      request.confidence.value_or(modelConfidence(request.model, request.last_user_text)));
}

}  // namespace

Confidence modelConfidence(std::string_view model, std::string_view last_user_text) {
  if (containsIgnoringCase(model, "small")) {
    return containsIgnoringCase(last_user_text, "[hard]") ? Confidence::kLow : Confidence::kHigh;
  }
  if (containsIgnoringCase(model, "large")) return Confidence::kHigh;
  return Confidence::kDefault;
}

namespace {

// The words a tool call counts as, for its usage.
std::vector<Reply> toolCallReplies(const ChatRequest& request) {
  Reply reply;
  reply.words = {request.tool_call->name, request.tool_call->arguments};
  reply.finish_reason = "tool_calls";
  return std::vector<Reply>(static_cast<std::size_t>(request.n), reply);
}

json toolCallsOf(const ToolCall& call, bool with_arguments) {
  return json::array(
      {{{"index", 0},
        {"id", call.id},
        {"type", "function"},
        {"function",
         {{"name", call.name}, {"arguments", with_arguments ? call.arguments : std::string()}}}}});
}

json toolCallCompletion(const ChatRequest& request, const Stamp& stamp) {
  return wholeResponse(
      chatFields("chat.completion", stamp, request.model), toolCallReplies(request),
      request.prompt_tokens,
      [&](std::size_t c, const Reply& reply) -> json {
        json tool_calls = toolCallsOf(*request.tool_call, true);
        tool_calls[0].erase("index");
        return {{"index", c},
                {"message",
                 {{"role", "assistant"},
                  {"content", nullptr},
                  {"tool_calls", std::move(tool_calls)},
                  {"refusal", nullptr},
                  {"annotations", json::array()}}},
                {"logprobs", nullptr},
                {"finish_reason", reply.finish_reason}};
      },
      request.cached_tokens);
}

// The call's name and id first, then its arguments in two pieces, as OpenAI streams them.
SseEvents toolCallChunks(const ChatRequest& request, const Stamp& stamp) {
  std::vector<Reply> replies = toolCallReplies(request);
  StreamWriter stream(chatFields("chat.completion.chunk", stamp, request.model),
                      request.include_usage);
  const ToolCall& call = *request.tool_call;
  const std::size_t half = call.arguments.size() / 2;
  for (std::size_t c = 0; c < replies.size(); ++c) {
    stream.push({{"index", c},
                 {"delta",
                  {{"role", "assistant"},
                   {"content", nullptr},
                   {"tool_calls", toolCallsOf(call, false)},
                   {"refusal", nullptr}}},
                 {"logprobs", nullptr},
                 {"finish_reason", nullptr}});
    for (std::string piece : {call.arguments.substr(0, half), call.arguments.substr(half)}) {
      stream.push(
          {{"index", c},
           {"delta",
            {{"tool_calls", json::array({{{"index", 0}, {"function", {{"arguments", piece}}}}})}}},
           {"logprobs", nullptr},
           {"finish_reason", nullptr}});
    }
  }
  return stream.finish(replies, request.prompt_tokens, "delta", json::object(),
                       request.cached_tokens);
}

}  // namespace

json chatCompletion(const ChatRequest& request, const MockOptions& options, const Stamp& stamp) {
  if (request.tool_call) return toolCallCompletion(request, stamp);
  return wholeResponse(
      chatFields("chat.completion", stamp, request.model), chatReplies(request, options),
      request.prompt_tokens,
      [&](std::size_t c, const Reply& reply) -> json {
        std::size_t words = reply.words.size();
        return {{"index", c},
                {"message",
                 {{"role", "assistant"},
                  {"content", joinWords(reply.words, 0, words)},
                  {"refusal", nullptr},
                  {"annotations", json::array()}}},
                {"logprobs", chatChoiceLogprobs(request, reply, 0, words)},
                {"finish_reason", reply.finish_reason}};
      },
      request.cached_tokens);
}

SseEvents chatChunks(const ChatRequest& request, const MockOptions& options, const Stamp& stamp) {
  if (request.tool_call) return toolCallChunks(request, stamp);
  std::vector<Reply> replies = chatReplies(request, options);
  StreamWriter stream(chatFields("chat.completion.chunk", stamp, request.model),
                      request.include_usage);
  for (std::size_t c = 0; c < replies.size(); ++c) {
    stream.push({{"index", c},
                 {"delta", {{"role", "assistant"}, {"content", ""}, {"refusal", nullptr}}},
                 {"logprobs", nullptr},
                 {"finish_reason", nullptr}});
  }
  stream.pushContent(
      replies, options.chunks,
      [&](std::size_t c, const Reply& reply, std::size_t begin, std::size_t end) -> json {
        return {{"index", c},
                {"delta", {{"content", joinWords(reply.words, begin, end)}}},
                {"logprobs", chatChoiceLogprobs(request, reply, begin, end)},
                {"finish_reason", nullptr}};
      });
  return stream.finish(replies, request.prompt_tokens, "delta", json::object(),
                       request.cached_tokens);
}

// ---- Legacy completions ----

Parsed<CompletionRequest> parseCompletionRequest(const json& body) {
  CompletionRequest request;
  const json* prompt = nullptr;
  if (auto error = readRequired(body, request.model, "prompt", prompt)) return *error;
  if (prompt->is_string()) {
    request.prompts.push_back(prompt->get<std::string>());
    request.prompt_tokens = countWords(request.prompts.back());
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number_integer()) {
    std::string text;
    if (!appendTokens(*prompt, ' ', text)) return invalidType("prompt", kTokenInputTypes, *prompt);
    request.prompt_tokens = static_cast<int>(prompt->size());
    request.prompts.push_back(std::move(text));
  } else if (prompt->is_array() && !prompt->empty()) {
    for (const json& item : *prompt) {
      if (item.is_string()) {
        request.prompts.push_back(item.get<std::string>());
        request.prompt_tokens += countWords(request.prompts.back());
      } else if (item.is_array()) {
        std::string text;
        if (!appendTokens(item, ' ', text)) return invalidType("prompt", kTokenInputTypes, item);
        request.prompt_tokens += static_cast<int>(item.size());
        request.prompts.push_back(std::move(text));
      } else {
        return invalidType("prompt", kTokenInputTypes, item);
      }
    }
  } else {
    return invalidType("prompt", kTokenInputTypes, *prompt);
  }

  if (auto error = readChoices(body, request.n, request.max_tokens)) return *error;
  if (auto error = readInt(body, "logprobs", 0, kMaxLegacyLogprobs, request.logprobs)) {
    return *error;
  }
  if (auto error = readStream(body, request.stream, request.include_usage)) return *error;
  return request;
}

namespace {

// The logprobs of words [begin, end) of a reply, or null when the request did not ask.
json legacyChoiceLogprobs(const CompletionRequest& request, const Reply& reply, std::size_t begin,
                          std::size_t end) {
  return request.logprobs ? legacyLogprobs(reply.words, begin, end, *request.logprobs) : json();
}

// The text and logprobs of words [begin, end) of reply `index`.
json legacyChoice(const CompletionRequest& request, std::size_t index, const Reply& reply,
                  std::size_t begin, std::size_t end, json finish_reason) {
  return {{"text", joinWords(reply.words, begin, end)},
          {"index", index},
          {"logprobs", legacyChoiceLogprobs(request, reply, begin, end)},
          {"finish_reason", std::move(finish_reason)}};
}

}  // namespace

json completion(const CompletionRequest& request, const MockOptions& options, const Stamp& stamp) {
  return wholeResponse(responseFields("text_completion", stamp, request.model),
                       makeReplies(request.prompts, request.n, request.max_tokens, options),
                       request.prompt_tokens, [&](std::size_t i, const Reply& reply) {
                         return legacyChoice(request, i, reply, 0, reply.words.size(),
                                             reply.finish_reason);
                       });
}

SseEvents completionChunks(const CompletionRequest& request, const MockOptions& options,
                           const Stamp& stamp) {
  std::vector<Reply> replies = makeReplies(request.prompts, request.n, request.max_tokens, options);
  StreamWriter stream(responseFields("text_completion", stamp, request.model),
                      request.include_usage);
  stream.pushContent(replies, options.chunks,
                     [&](std::size_t i, const Reply& reply, std::size_t begin, std::size_t end) {
                       return legacyChoice(request, i, reply, begin, end, nullptr);
                     });
  return stream.finish(replies, request.prompt_tokens, "text", "");
}

// ---- Embeddings ----

Parsed<EmbeddingsRequest> parseEmbeddingsRequest(const json& body) {
  EmbeddingsRequest request;
  const json* input = nullptr;
  if (auto error = readRequired(body, request.model, "input", input)) return *error;
  ApiError empty =
      invalidRequest("'$.input' is invalid: it must not be empty.", "input", "invalid_value");
  auto tokenSeed = [](const json& tokens, std::string& seed) {
    seed = "tokens:";
    return appendTokens(tokens, ',', seed);
  };
  if (input->is_string()) {
    if (input->get_ref<const std::string&>().empty()) return empty;
    request.seeds.push_back(input->get<std::string>());
    request.prompt_tokens = countWords(request.seeds.back());
  } else if (input->is_array() && !input->empty() && (*input)[0].is_number_integer()) {
    std::string seed;
    if (!tokenSeed(*input, seed)) return invalidType("input", kTokenInputTypes, *input);
    request.seeds.push_back(std::move(seed));
    request.prompt_tokens = static_cast<int>(input->size());
  } else if (input->is_array() && !input->empty()) {
    if (input->size() > kMaxEmbeddingInputs) {
      return invalidRequest("'$.input' is invalid: at most " + std::to_string(kMaxEmbeddingInputs) +
                                " inputs are allowed.",
                            "input", "invalid_value");
    }
    for (const json& item : *input) {
      std::string seed;
      if (item.is_string()) {
        if (item.get_ref<const std::string&>().empty()) return empty;
        seed = item.get<std::string>();
        request.prompt_tokens += countWords(seed);
      } else if (item.is_array() && !item.empty()) {
        if (!tokenSeed(item, seed)) return invalidType("input", kTokenInputTypes, item);
        request.prompt_tokens += static_cast<int>(item.size());
      } else if (item.is_array()) {
        return empty;
      } else {
        return invalidType("input", kTokenInputTypes, item);
      }
      request.seeds.push_back(std::move(seed));
    }
  } else if (input->is_array()) {
    return empty;
  } else {
    return invalidType("input", kTokenInputTypes, *input);
  }

  std::optional<int> dimensions;
  if (auto error = readInt(body, "dimensions", 1, kMaxDimensions, dimensions)) return *error;
  request.dimensions = dimensions.value_or(request.dimensions);
  auto format = body.find("encoding_format");
  if (format != body.end() && !format->is_null()) {
    if (!format->is_string()) return invalidType("encoding_format", "a string", *format);
    if (*format == "base64") {
      request.base64 = true;
    } else if (*format != "float") {
      return invalidRequest(
          "Invalid value for 'encoding_format': expected 'float' or 'base64', "
          "but got " +
              format->dump() + " instead.",
          "encoding_format", "invalid_value");
    }
  }
  return request;
}

std::vector<float> embeddingVector(std::string_view seed, int dimensions) {
  // The sum of one pseudo-random vector per word (lower-cased letters and digits), so that texts
  // sharing most words are close, as with a real embedding model: the gateway's semantic cache
  // can then be tested with this backend as its embedder.
  std::vector<double> raw(static_cast<std::size_t>(std::max(1, dimensions)));
  auto addWord = [&](std::string_view word) {
    std::uint64_t state = fnv1a(word);
    for (double& value : raw) {
      // 53 random bits -> [0, 1) -> [-1, 1).
      value += static_cast<double>(splitMix(state) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
    }
  };
  std::string word;
  bool any = false;
  for (std::size_t i = 0; i <= seed.size(); ++i) {
    unsigned char c = i < seed.size() ? static_cast<unsigned char>(seed[i]) : ' ';
    if (std::isalnum(c) || c >= 0x80) {
      word.push_back(static_cast<char>(std::tolower(c)));
    } else if (!word.empty()) {
      addWord(word);
      word.clear();
      any = true;
    }
  }
  if (!any) addWord(seed);
  double norm = 0;
  for (double value : raw) norm += value * value;
  norm = std::sqrt(norm);
  std::vector<float> vector(raw.size());
  if (norm == 0) {  // all components exactly 0: astronomically unlikely, but stay a unit vector
    vector[0] = 1.0f;
    return vector;
  }
  for (std::size_t i = 0; i < raw.size(); ++i) vector[i] = static_cast<float>(raw[i] / norm);
  return vector;
}

std::string base64Floats(const std::vector<float>& values) {
  std::string bytes;
  bytes.reserve(values.size() * 4);
  for (float value : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    // Little-endian whatever the host's order, as OpenAI sends it.
    for (int shift = 0; shift < 32; shift += 8)
      bytes.push_back(static_cast<char>((bits >> shift) & 0xff));
  }
  return text::base64Encode(bytes);
}

json embeddings(const EmbeddingsRequest& request) {
  json data = json::array();
  for (std::size_t i = 0; i < request.seeds.size(); ++i) {
    std::vector<float> vector = embeddingVector(request.seeds[i], request.dimensions);
    json embedding;
    if (request.base64) {
      embedding = base64Floats(vector);
    } else {
      embedding = json::array();
      // Widened exactly, so a client that narrows back to float32 gets the base64 values.
      for (float value : vector) embedding.push_back(static_cast<double>(value));
    }
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
  }
  return {{"object", "list"},
          {"data", std::move(data)},
          {"model", request.model},
          {"usage",
           {{"prompt_tokens", request.prompt_tokens}, {"total_tokens", request.prompt_tokens}}}};
}

// ---- Models ----

json model(std::string_view id) {
  return {
      {"id", id}, {"object", "model"}, {"created", kModelsCreated}, {"owned_by", "costgate-mock"}};
}

json models() {
  static constexpr std::array<std::string_view, 8> kModels = {"gpt-4o-mini",
                                                              "gpt-4o",
                                                              "gpt-4.1-mini",
                                                              "gpt-4.1-nano",
                                                              "o4-mini",
                                                              "gpt-3.5-turbo-instruct",
                                                              "text-embedding-3-small",
                                                              "text-embedding-3-large"};
  json data = json::array();
  for (std::string_view id : kModels) data.push_back(model(id));
  return {{"object", "list"}, {"data", std::move(data)}};
}

// ---- POST to a generation route ----

namespace {

// The answer to a parsed chat or completions request: `whole` or, when it asks, `stream`.
template <typename Request>
Answer generate(const Parsed<Request>& parsed, std::string_view id_prefix,
                const MockOptions& options,
                json (*whole)(const Request&, const MockOptions&, const Stamp&),
                SseEvents (*stream)(const Request&, const MockOptions&, const Stamp&)) {
  if (const auto* error = std::get_if<ApiError>(&parsed)) return *error;
  const Request& request = std::get<Request>(parsed);
  Stamp stamp = newStamp(id_prefix);
  if (request.stream) return stream(request, options, stamp);
  return whole(request, options, stamp);
}

}  // namespace

Answer answer(pipeline::Route route, const json& body, const MockOptions& options) {
  switch (route) {
    case pipeline::Route::kChatCompletions:
      return generate(parseChatRequest(body), "chatcmpl-", options, chatCompletion, chatChunks);
    case pipeline::Route::kCompletions:
      return generate(parseCompletionRequest(body), "cmpl-", options, completion, completionChunks);
    case pipeline::Route::kEmbeddings:
      break;
  }
  Parsed<EmbeddingsRequest> parsed = parseEmbeddingsRequest(body);
  if (const auto* error = std::get_if<ApiError>(&parsed)) return *error;
  return embeddings(std::get<EmbeddingsRequest>(parsed));
}

// ---- x-mock-* headers ----

bool isMockHeader(std::string_view name) {
  constexpr std::string_view kPrefix = "x-mock-";
  if (name.size() < kPrefix.size()) return false;
  for (std::size_t i = 0; i < kPrefix.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kPrefix[i]) return false;
  }
  return true;
}

std::optional<ApiError> applyMockHeader(std::string_view name, std::string_view value,
                                        Behaviour& behaviour) {
  // Bounds keep a typo from asking for, say, a week of latency or a billion chunks.
  constexpr int kMaxMillis = 3'600'000;
  constexpr int kMaxCount = 1'000'000;
  constexpr int kMaxRetryAfterSeconds = 86'400;
  auto number = [&](int min, int max, auto&& store) -> std::optional<ApiError> {
    std::optional<int> parsed = parseNumber(value);
    if (!parsed || *parsed < min || *parsed > max) {
      return badMockHeader(name, value,
                           "an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    store(*parsed);
    return std::nullopt;
  };
  auto flag = [&](bool& out) -> std::optional<ApiError> {
    std::optional<bool> parsed = parseSwitch(value);
    if (!parsed) return badMockHeader(name, value, "1 or 0");
    out = *parsed;
    return std::nullopt;
  };
  if (name == "x-mock-status") {
    std::optional<int> parsed = parseNumber(value);
    if (!parsed || !(*parsed == 200 || (*parsed >= 400 && *parsed <= 599))) {
      return badMockHeader(name, value, "200 (no fault) or a status from 400 to 599");
    }
    behaviour.status = *parsed == 200 ? 0 : *parsed;
    return std::nullopt;
  }
  if (name == "x-mock-latency-ms") {
    return number(0, kMaxMillis, [&](int v) { behaviour.latency_ms = v; });
  }
  if (name == "x-mock-chunk-delay-ms") {
    return number(0, kMaxMillis, [&](int v) { behaviour.chunk_delay_ms = v; });
  }
  if (name == "x-mock-chunks") {
    return number(1, kMaxCount, [&](int v) { behaviour.options.chunks = v; });
  }
  if (name == "x-mock-reply-words") {
    return number(1, kMaxCount, [&](int v) { behaviour.options.reply_words = v; });
  }
  if (name == "x-mock-reset-after-chunks") {
    return number(0, kMaxCount, [&](int v) { behaviour.reset_after_chunks = v; });
  }
  if (name == "x-mock-stall-after-chunks") {
    return number(0, kMaxCount, [&](int v) { behaviour.stall_after_chunks = v; });
  }
  if (name == "x-mock-reset") return flag(behaviour.reset);
  if (name == "x-mock-echo-headers") return flag(behaviour.echo_headers);
  if (name == "x-mock-echo-body") return flag(behaviour.echo_body);
  ReplyShape& shape = behaviour.options.shape;
  if (name == "x-mock-refuse") return flag(shape.refuse);
  if (name == "x-mock-uncertain") return flag(shape.uncertain);
  if (name == "x-mock-empty") return flag(shape.empty);
  if (name == "x-mock-invalid-json") return flag(shape.invalid_json);
  if (name == "x-mock-finish-reason") {
    std::string_view reason = trimSpace(value);
    if (reason != "stop" && reason != "length" && reason != "content_filter") {
      return badMockHeader(name, value, "stop, length or content_filter");
    }
    shape.finish_reason = reason;
    return std::nullopt;
  }
  if (name == "x-mock-fail-attempts") {
    return number(0, kMaxCount, [&](int v) { behaviour.fail_attempts = v; });
  }
  if (name == "x-mock-retry-after") {
    return number(0, kMaxRetryAfterSeconds, [&](int v) { behaviour.retry_after = v; });
  }
  if (name == "x-mock-only-model") {
    std::string_view model = trimSpace(value);
    if (model.empty()) return badMockHeader(name, value, "a model name");
    behaviour.only_model = std::string(model);
    return std::nullopt;
  }
  return invalidRequest("Unknown mock header " + std::string(name) +
                            ". Known: x-mock-status, x-mock-latency-ms, x-mock-chunks, "
                            "x-mock-chunk-delay-ms, x-mock-reply-words, x-mock-reset, "
                            "x-mock-reset-after-chunks, x-mock-stall-after-chunks, "
                            "x-mock-echo-headers, x-mock-echo-body, x-mock-refuse, "
                            "x-mock-uncertain, x-mock-empty, x-mock-invalid-json, "
                            "x-mock-finish-reason, x-mock-fail-attempts, x-mock-retry-after, "
                            "x-mock-only-model.",
                        std::string(name), "invalid_mock_header");
}

// ---- Targeting and attempt-counted faults ----

std::string_view requestModel(const json& body, std::string_view deployment) {
  if (body.is_object()) {
    auto model = body.find("model");
    if (model != body.end() && model->is_string()) return model->get_ref<const std::string&>();
  }
  return deployment;
}

bool dropFaultsUnlessTargeted(Behaviour& behaviour, std::string_view model) {
  if (!behaviour.only_model || *behaviour.only_model == model) return false;
  behaviour.latency_ms = 0;
  behaviour.chunk_delay_ms = 0;
  behaviour.status = 0;
  behaviour.reset_after_chunks.reset();
  behaviour.stall_after_chunks.reset();
  behaviour.reset = false;
  behaviour.fail_attempts = 0;
  behaviour.retry_after.reset();
  behaviour.options.shape = ReplyShape{};
  return true;
}

int faultStatus(const Behaviour& behaviour, int attempt) {
  constexpr int kDefaultAttemptStatus = 503;
  if (behaviour.fail_attempts == 0) return behaviour.status;
  if (attempt > behaviour.fail_attempts) return 0;
  return behaviour.status != 0 ? behaviour.status : kDefaultAttemptStatus;
}

std::optional<int> retryAfterSeconds(const Behaviour& behaviour, int status) {
  if (behaviour.retry_after) return behaviour.retry_after;
  if (status == 429) return 1;
  return std::nullopt;
}

ApiError attemptFault(int status, int attempt, int fail_attempts) {
  ApiError fault = statusFault(status);
  fault.message = "Mock fault: HTTP " + std::to_string(status) +
                  " injected by x-mock-fail-attempts (attempt " + std::to_string(attempt) + " of " +
                  std::to_string(fail_attempts) + " to fail).";
  return fault;
}

int AttemptCounter::next(std::string_view request_id) {
  std::lock_guard lock(mutex_);
  auto [entry, inserted] = attempts_.try_emplace(std::string(request_id), 0);
  int attempt = ++entry->second;
  if (inserted) {
    first_seen_.push_back(entry->first);
    while (first_seen_.size() > capacity_) {
      attempts_.erase(first_seen_.front());
      first_seen_.pop_front();
    }
  }
  return attempt;
}

std::size_t AttemptCounter::size() const {
  std::lock_guard lock(mutex_);
  return attempts_.size();
}

}  // namespace costgate::mock
