#include "costgate/cache/request_key.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>
#include <map>

#include "costgate/crypto/sha256.h"

namespace costgate::cache {
namespace {

constexpr std::string_view kIgnoredMembers[] = {"messages", "stream",   "stream_options",
                                                "user",     "metadata", "store"};

// The text of a message's content: a string, or its text parts joined by newlines.
std::string contentText(const jsonview::Value& content, bool* text_only) {
  if (content.isString()) return content.string();
  std::string text;
  if (!content.isArray()) return text;
  for (const auto& part : content.elements()) {
    auto type = part.isObject() ? part.find("type") : std::nullopt;
    auto part_text = part.isObject() ? part.find("text") : std::nullopt;
    if (type && type->isString() && type->stringEquals("text") && part_text &&
        part_text->isString()) {
      if (!text.empty()) text += '\n';
      text += part_text->string();
    } else {
      *text_only = false;
    }
  }
  return text;
}

std::string collapseWhitespace(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// SHA-256 of the parts, each length-prefixed so no two lists of parts hash alike; hex.
class Digest {
 public:
  Digest& add(std::string_view part) {
    sha256_.update(std::to_string(part.size()) + ":").update(part);
    return *this;
  }
  std::string hex() { return crypto::toHex(sha256_.finish()); }

 private:
  crypto::Sha256 sha256_;
};

}  // namespace

namespace {

// The members the key covers, as the backend would get them, by name: compact JSON values.
std::map<std::string, std::string> effectiveMembers(const jsonview::Value& body,
                                                    const MemberEdits& edits) {
  auto ignored = [](std::string_view key) {
    return std::find(std::begin(kIgnoredMembers), std::end(kIgnoredMembers), key) !=
           std::end(kIgnoredMembers);
  };
  std::map<std::string, std::string> members;
  body.forEachMember([&](const jsonview::Value& key, const jsonview::Value& value) {
    std::string name = key.string();
    if (!ignored(name)) members[std::move(name)] = compactJson(value.raw());
  });
  for (const auto& [key, value] : edits) {
    if (ignored(key)) continue;
    std::string compact = compactJson(value);
    if (compact == "null") {
      members.erase(key);
    } else {
      members[key] = std::move(compact);
    }
  }
  return members;
}

}  // namespace

std::string compactJson(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  bool escaped = false;
  for (char c : json) {
    if (in_string) {
      out += c;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      out += c;
    }
  }
  return out;
}

std::variant<RequestKey, Uncacheable> requestKeyOf(const jsonview::Value& body,
                                                   std::string_view tenant, std::string_view model,
                                                   const MemberEdits& edits) {
  if (tenant.empty()) return Uncacheable{"no tenant to partition by"};
  if (!body.isObject()) return Uncacheable{"the body is not an object"};
  auto messages = body.find("messages");
  if (!messages || !messages->isArray() || messages->size() == 0) {
    return Uncacheable{"no messages"};
  }
  std::vector<jsonview::Value> list = messages->elements();
  const jsonview::Value& last = list.back();
  auto role = last.isObject() ? last.find("role") : std::nullopt;
  if (!role || !role->isString() || !role->stringEquals("user")) {
    return Uncacheable{"the last message is not a user turn"};
  }
  Digest partition;
  partition.add("costgate-cache-v2").add(tenant).add(model);
  for (const auto& [key, value] : effectiveMembers(body, edits)) partition.add(key).add(value);
  for (std::size_t i = 0; i + 1 < list.size(); ++i) partition.add(compactJson(list[i].raw()));
  // The last turn's members other than its content (a name, say) belong to the partition too.
  last.forEachMember([&](const jsonview::Value& key, const jsonview::Value& value) {
    if (!key.stringEquals("content")) partition.add(key.string()).add(compactJson(value.raw()));
  });

  RequestKey result;
  result.partition = partition.hex();
  auto content = last.find("content");
  if (!content) return Uncacheable{"the last user turn has no content"};
  result.question = collapseWhitespace(contentText(*content, &result.text_only));
  Digest exact;
  exact.add(result.partition).add(result.text_only ? result.question : compactJson(content->raw()));
  result.exact = exact.hex();
  return result;
}

}  // namespace costgate::cache
