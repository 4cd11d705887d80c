#include "costgate/openai/usage.h"

#include <cstdint>

namespace costgate::openai {

namespace {

// Reads `value` (a member's, or nullopt when absent) into *out when present; false when present
// but not a count.
bool readCount(const std::optional<jsonview::Value>& value, std::uint64_t* out) {
  if (!value || value->isNull()) return true;
  // 2^40 tokens in one call is no real usage: a broken or hostile backend, not a bill.
  constexpr std::int64_t kMostTokens = std::int64_t{1} << 40;
  auto count = value->integer();
  if (!count || *count < 0 || *count > kMostTokens) return false;
  *out = static_cast<std::uint64_t>(*count);
  return true;
}

// A token id, in characters: estimateTokens() turns them back into one token.
constexpr std::uint64_t kCharactersPerToken = 4;

// The characters of a string, or of the text parts of an array of content parts; token ids (a
// prompt or input given as ids) count as kCharactersPerToken each.
std::uint64_t textCharacters(const jsonview::Value& content) {
  if (content.isString()) return content.unquoted().size();
  std::uint64_t total = 0;
  if (content.isArray()) {
    for (const auto& part : content.elements()) {
      if (part.isString()) {
        total += part.unquoted().size();
      } else if (part.isNumber()) {
        total += kCharactersPerToken;
      } else if (part.isArray()) {
        total += textCharacters(part);
      } else if (auto text = part.isObject() ? part.find("text") : std::nullopt; text) {
        total += textCharacters(*text);
      }
    }
  }
  return total;
}

// The text a message (or a streamed delta) carries: its content, a refusal, and the names and
// arguments of the tools it calls, which are output tokens too.
std::uint64_t messageCharacters(const jsonview::Value& message) {
  if (!message.isObject()) return 0;
  std::uint64_t total = 0;
  for (const char* key : {"content", "refusal"}) {
    if (auto text = message.find(key)) total += textCharacters(*text);
  }
  if (auto calls = message.find("tool_calls"); calls && calls->isArray()) {
    for (const auto& call : calls->elements()) {
      auto function = call.isObject() ? call.find("function") : std::nullopt;
      if (!function || !function->isObject()) continue;
      for (const char* key : {"name", "arguments"}) {
        if (auto text = function->find(key)) total += textCharacters(*text);
      }
    }
  }
  return total;
}

// The text of every choice of a completion or of a streamed chunk (`member`: "message" or
// "delta"), and of legacy completions (`text`).
std::uint64_t choicesCharacters(const jsonview::Value& answer, std::string_view member) {
  auto choices = answer.isObject() ? answer.find("choices") : std::nullopt;
  if (!choices || !choices->isArray()) return 0;
  std::uint64_t total = 0;
  for (const auto& choice : choices->elements()) {
    if (!choice.isObject()) continue;
    if (auto text = choice.find("text")) total += textCharacters(*text);
    if (auto message = choice.find(member)) total += messageCharacters(*message);
  }
  return total;
}

}  // namespace

std::uint64_t promptCharacters(const jsonview::Value& request) {
  if (!request.isObject()) return 0;
  if (auto prompt = request.find("prompt")) return textCharacters(*prompt);
  if (auto input = request.find("input")) return textCharacters(*input);
  std::uint64_t total = 0;
  if (auto messages = request.find("messages"); messages && messages->isArray()) {
    for (const auto& message : messages->elements()) {
      if (auto content = message.isObject() ? message.find("content") : std::nullopt; content) {
        total += textCharacters(*content);
      }
    }
  }
  return total;
}

std::uint64_t chunkCharacters(const jsonview::Value& chunk) {
  return choicesCharacters(chunk, "delta");
}

std::uint64_t answerCharacters(const jsonview::Value& answer) {
  return choicesCharacters(answer, "message");
}

std::uint64_t estimateTokens(std::uint64_t characters) {
  return (characters + kCharactersPerToken - 1) / kCharactersPerToken;
}

bool asksForUsage(const jsonview::Value& request) {
  auto options = request.isObject() ? request.find("stream_options") : std::nullopt;
  if (!options || !options->isObject()) return false;
  auto include = options->find("include_usage");
  return include && include->kind() == jsonview::Kind::kBoolean && include->boolean();
}

std::optional<pricing::Usage> usageOf(const jsonview::Value& response) {
  if (!response.isObject()) return std::nullopt;
  auto usage = response.find("usage");
  if (!usage || !usage->isObject()) return std::nullopt;
  const auto [prompt, completion, prompt_details, completion_details] = usage->findEach(
      {"prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"});
  // Every usage OpenAI's API reports counts the prompt; without that count it is no usage.
  if (!prompt || prompt->isNull()) return std::nullopt;
  pricing::Usage counts;
  bool valid =
      readCount(prompt, &counts.prompt_tokens) && readCount(completion, &counts.completion_tokens);
  if (prompt_details && prompt_details->isObject()) {
    valid = valid && readCount(prompt_details->find("cached_tokens"), &counts.cached_tokens);
  }
  if (completion_details && completion_details->isObject()) {
    valid =
        valid && readCount(completion_details->find("reasoning_tokens"), &counts.reasoning_tokens);
  }
  if (!valid) return std::nullopt;
  return counts;
}

namespace {

std::string_view finishReasonLabel(std::string_view reason) {
  for (std::string_view known :
       {"stop", "length", "tool_calls", "content_filter", "function_call"}) {
    if (reason == known) return known;
  }
  return "other";
}

}  // namespace

std::string_view finishReasonOf(const jsonview::Value& answer_or_chunk) {
  auto choices = answer_or_chunk.isObject() ? answer_or_chunk.find("choices") : std::nullopt;
  if (!choices || !choices->isArray()) return {};
  for (const jsonview::Value& choice : choices->elements()) {
    auto reason = choice.isObject() ? choice.find("finish_reason") : std::nullopt;
    if (reason && reason->isString()) return finishReasonLabel(reason->string());
  }
  return {};
}

std::string_view finishReasonIn(std::string_view answer_text) {
  constexpr std::string_view kKey = "\"finish_reason\"";
  for (std::size_t at = answer_text.find(kKey); at != std::string_view::npos;
       at = answer_text.find(kKey, at + 1)) {
    std::size_t next = at + kKey.size();
    auto skipSpace = [&] {
      while (next < answer_text.size() &&
             (answer_text[next] == ' ' || answer_text[next] == '\n' || answer_text[next] == '\r' ||
              answer_text[next] == '\t')) {
        ++next;
      }
    };
    skipSpace();
    if (next >= answer_text.size() || answer_text[next] != ':') continue;
    ++next;
    skipSpace();
    if (next >= answer_text.size() || answer_text[next] != '"') continue;  // null: not yet
    const std::size_t end = answer_text.find('"', next + 1);
    if (end == std::string_view::npos) return {};
    return finishReasonLabel(answer_text.substr(next + 1, end - next - 1));
  }
  return {};
}

}  // namespace costgate::openai
