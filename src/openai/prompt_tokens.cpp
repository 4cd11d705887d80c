#include "costgate/openai/prompt_tokens.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "costgate/text/base64.h"

namespace costgate::openai {
namespace {

constexpr std::int64_t kTokensPerMessage = 3;
constexpr std::int64_t kTokensPerName = 1;

// Token counts of text, which may be written with JSON escapes.
std::int64_t textTokens(const jsonview::Value& string, const tokenizer::Encoding& encoding) {
  if (!string.hasEscapes()) return static_cast<std::int64_t>(encoding.count(string.unquoted()));
  return static_cast<std::int64_t>(encoding.count(string.string()));
}

struct Size {
  std::uint32_t width;
  std::uint32_t height;
};

std::uint32_t bigEndian(std::string_view b, std::size_t at, int bytes) {
  std::uint32_t value = 0;
  for (int i = 0; i < bytes; ++i) value = value << 8 | static_cast<unsigned char>(b[at + i]);
  return value;
}

std::uint32_t littleEndian(std::string_view b, std::size_t at, int bytes) {
  std::uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(b[at + i]);
  return value;
}

// The pixel size written in a PNG, GIF, JPEG or WebP header, or nullopt.
std::optional<Size> imageSize(std::string_view b) {
  if (b.size() >= 24 && b.substr(0, 8) == "\x89PNG\r\n\x1a\n" && b.substr(12, 4) == "IHDR") {
    return Size{bigEndian(b, 16, 4), bigEndian(b, 20, 4)};
  }
  if (b.size() >= 10 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a")) {
    return Size{littleEndian(b, 6, 2), littleEndian(b, 8, 2)};
  }
  if (b.size() >= 30 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") {
    std::string_view chunk = b.substr(12, 4);
    if (chunk == "VP8X") return Size{littleEndian(b, 24, 3) + 1, littleEndian(b, 27, 3) + 1};
    if (chunk == "VP8 ") {
      return Size{littleEndian(b, 26, 2) & 0x3FFF, littleEndian(b, 28, 2) & 0x3FFF};
    }
    if (chunk == "VP8L" && b.size() >= 25) {
      std::uint32_t bits = littleEndian(b, 21, 4);
      return Size{(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
    }
    return std::nullopt;
  }
  if (b.size() >= 4 && b.substr(0, 2) == "\xFF\xD8") {
    // JPEG: walk the segments to a start-of-frame marker (C0-CF but C4, C8, CC).
    std::size_t at = 2;
    while (at + 9 < b.size()) {
      if (static_cast<unsigned char>(b[at]) != 0xFF) return std::nullopt;
      unsigned char marker = static_cast<unsigned char>(b[at + 1]);
      if (marker == 0xFF) {
        ++at;
        continue;
      }
      std::uint32_t length = bigEndian(b, at + 2, 2);
      if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
        return Size{bigEndian(b, at + 7, 2), bigEndian(b, at + 5, 2)};
      }
      if (length < 2) return std::nullopt;
      at += 2 + length;
    }
  }
  return std::nullopt;
}

// OpenAI's documented vision cost: fit in 2048x2048, scale the short side down to 768, then 170
// per 512-px tile plus 85.
std::int64_t highDetailTokens(Size size) {
  double width = std::max<std::uint32_t>(size.width, 1);
  double height = std::max<std::uint32_t>(size.height, 1);
  if (double longest = std::max(width, height); longest > 2048) {
    width *= 2048 / longest;
    height *= 2048 / longest;
  }
  if (double shortest = std::min(width, height); shortest > 768) {
    width *= 768 / shortest;
    height *= 768 / shortest;
  }
  auto tiles = static_cast<std::int64_t>(std::ceil(width / 512) * std::ceil(height / 512));
  return 85 + 170 * tiles;
}

PromptTokens imageTokens(const jsonview::Value& part) {
  constexpr std::int64_t kLowDetail = 85;
  auto image = part.find("image_url");
  std::string detail = "auto";
  std::optional<Size> size;
  if (image && image->isObject()) {
    if (auto d = image->find("detail"); d && d->isString()) detail = d->string();
    if (auto url = image->find("url"); url && url->isString()) {
      // Encoders that write '/' as "\/" (PHP's json_encode does by default) escape most of a
      // base64 payload; only then is the URL unescaped, a copy.
      std::string unescaped;
      if (url->hasEscapes()) unescaped = url->string();
      std::string_view text = url->hasEscapes() ? std::string_view(unescaped) : url->unquoted();
      if (text.starts_with("data:")) {
        if (auto comma = text.find(";base64,"); comma != std::string_view::npos) {
          // The header is in the first few hundred bytes (JPEG: usually the first few KiB).
          std::string_view head = text.substr(comma + 8, 65536);
          head = head.substr(0, head.size() / 4 * 4);
          if (auto bytes = text::base64Decode(head)) size = imageSize(*bytes);
        }
      }
    }
  }
  if (detail == "low") return {kLowDetail, false};
  // "auto" lets the model choose; it is counted as "high", the larger, and marked estimated.
  bool estimated = detail != "high" || !size;
  return {highDetailTokens(size.value_or(Size{1024, 1024})), estimated};
}

PromptTokens contentTokens(const jsonview::Value& content, const tokenizer::Encoding& encoding) {
  if (content.isString()) return {textTokens(content, encoding), false};
  PromptTokens total;
  if (!content.isArray()) return total;
  for (const auto& part : content.elements()) {
    if (!part.isObject()) continue;
    auto type = part.find("type");
    if (!type || !type->isString()) continue;
    if (type->stringEquals("text") || type->stringEquals("input_text")) {
      if (auto text = part.find("text"); text && text->isString()) {
        total.tokens += textTokens(*text, encoding);
      }
    } else if (type->stringEquals("image_url")) {
      total += imageTokens(part);
    } else if (type->stringEquals("refusal")) {
      if (auto text = part.find("refusal"); text && text->isString()) {
        total.tokens += textTokens(*text, encoding);
      }
    } else {
      total.estimated = true;  // audio and files: their cost is not documented as a formula
    }
  }
  return total;
}

// A function an assistant message called (tool_calls[].function, or the legacy function_call):
// its name and arguments. OpenAI does not document the framing around them, so the count is
// marked estimated.
PromptTokens calledFunctionTokens(const jsonview::Value& function,
                                  const tokenizer::Encoding& encoding) {
  PromptTokens total{0, true};
  if (!function.isObject()) return total;
  for (const char* key : {"name", "arguments"}) {
    if (auto value = function.find(key); value && value->isString()) {
      total.tokens += textTokens(*value, encoding);
    }
  }
  return total;
}

PromptTokens toolCallTokens(const jsonview::Value& calls, const tokenizer::Encoding& encoding) {
  PromptTokens total{0, true};
  if (!calls.isArray()) return total;
  for (const auto& call : calls.elements()) {
    if (!call.isObject()) continue;
    if (auto function = call.find("function")) total += calledFunctionTokens(*function, encoding);
  }
  return total;
}

std::string withoutFinalPeriod(std::string text) {
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

std::string stringMember(const jsonview::Value& object, std::string_view key) {
  auto value = object.find(key);
  return value && value->isString() ? value->string() : std::string();
}

}  // namespace

PromptTokens countChatMessage(const jsonview::Value& message, const tokenizer::Encoding& encoding) {
  PromptTokens total{kTokensPerMessage, false};
  if (!message.isObject()) return total;
  message.forEachMember([&](const jsonview::Value& key, const jsonview::Value& value) {
    if (key.stringEquals("content")) {
      total += contentTokens(value, encoding);
    } else if (key.stringEquals("tool_calls")) {
      total += toolCallTokens(value, encoding);
    } else if (key.stringEquals("function_call")) {
      total += calledFunctionTokens(value, encoding);
    } else if (value.isString()) {
      total.tokens += textTokens(value, encoding);
      if (key.stringEquals("name")) total.tokens += kTokensPerName;
    }
  });
  return total;
}

PromptTokens countTools(const jsonview::Value& tools, const tokenizer::Encoding& encoding) {
  // OpenAI's cookbook: per function a start, "name:description", per property a start and
  // "name:type:description", per enum item its text; one end for the whole list.
  bool o200k = encoding.rule() == tokenizer::SplitRule::kO200k;
  const std::int64_t function_start = o200k ? 7 : 10;
  constexpr std::int64_t kPropertiesStart = 3;
  constexpr std::int64_t kPropertyStart = 3;
  constexpr std::int64_t kEnumStart = -3;
  constexpr std::int64_t kEnumItem = 3;
  constexpr std::int64_t kToolsEnd = 12;
  PromptTokens total;
  if (!tools.isArray() || tools.size() == 0) return total;
  for (const auto& tool : tools.elements()) {
    if (!tool.isObject()) continue;
    // {"type":"function","function":{...}}, or a legacy `functions` entry that is the function.
    auto nested = tool.find("function");
    const jsonview::Value function = nested && nested->isObject() ? *nested : tool;
    total.tokens += function_start;
    std::string line = stringMember(function, "name") + ":" +
                       withoutFinalPeriod(stringMember(function, "description"));
    total.tokens += static_cast<std::int64_t>(encoding.count(line));
    auto parameters = function.find("parameters");
    if (!parameters || !parameters->isObject()) continue;
    auto properties = parameters->find("properties");
    if (!properties || !properties->isObject() || properties->size() == 0) continue;
    total.tokens += kPropertiesStart;
    properties->forEachMember([&](const jsonview::Value& name, const jsonview::Value& property) {
      total.tokens += kPropertyStart;
      if (!property.isObject()) return;
      if (auto values = property.find("enum"); values && values->isArray()) {
        total.tokens += kEnumStart;
        for (const auto& item : values->elements()) {
          total.tokens += kEnumItem;
          if (item.isString()) total.tokens += textTokens(item, encoding);
        }
      }
      // Nested schemas are outside the documented formula.
      if (property.find("properties") || property.find("items")) total.estimated = true;
      std::string property_line = name.string() + ":" + stringMember(property, "type") + ":" +
                                  withoutFinalPeriod(stringMember(property, "description"));
      total.tokens += static_cast<std::int64_t>(encoding.count(property_line));
    });
  }
  total.tokens += kToolsEnd;
  return total;
}

PromptTokens countChatOverhead(const jsonview::Value& body, const tokenizer::Encoding& encoding) {
  PromptTokens total{kReplyPrimingTokens, false};
  if (!body.isObject()) return total;
  for (const char* key : {"tools", "functions"}) {
    if (auto tools = body.find(key)) total += countTools(*tools, encoding);
  }
  return total;
}

PromptTokens countPrompt(pipeline::Route route, const jsonview::Value& body,
                         const tokenizer::Encoding& encoding) {
  PromptTokens total;
  if (!body.isObject()) return total;
  // A string, or an array of strings or of token ids (or arrays of them).
  auto countInput = [&](const jsonview::Value& input) {
    if (input.isString()) {
      total.tokens += textTokens(input, encoding);
      return;
    }
    if (!input.isArray()) return;
    for (const auto& item : input.elements()) {
      if (item.isString()) {
        total.tokens += textTokens(item, encoding);
      } else if (item.isNumber()) {
        total.tokens += 1;
      } else if (item.isArray()) {
        total.tokens += static_cast<std::int64_t>(item.size());
      }
    }
  };
  switch (route) {
    case pipeline::Route::kChatCompletions: {
      if (auto messages = body.find("messages"); messages && messages->isArray()) {
        for (const auto& message : messages->elements()) {
          total += countChatMessage(message, encoding);
        }
      }
      total += countChatOverhead(body, encoding);
      break;
    }
    case pipeline::Route::kCompletions:
      if (auto prompt = body.find("prompt")) countInput(*prompt);
      break;
    case pipeline::Route::kEmbeddings:
      if (auto input = body.find("input")) countInput(*input);
      break;
  }
  return total;
}

}  // namespace costgate::openai
