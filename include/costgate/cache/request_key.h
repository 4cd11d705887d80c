#pragma once
// What a chat request is cached under, read from its index (no DOM).
//
// The partition holds everything but the question: the tenant, the model, every other member of
// the body (sampling parameters, response_format, tools...) and every message before the last
// user turn (the system prompt and the earlier conversation). Two requests that differ in any of
// these never share an entry. Inside a partition, the exact key is the question as sent
// (whitespace collapsed) and the semantic level compares the question's embedding.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <string>
#include <utility>
#include <vector>

#include "costgate/jsonview/document.h"

namespace costgate::cache {

struct RequestKey {
  std::string partition;  // a hash, hex
  std::string exact;      // a hash of the partition and the question, hex
  std::string question;   // the last user turn's text, whitespace collapsed
  bool text_only = true;  // false when the question has image, audio or file parts: exact only
};

// Why a request cannot be cached; empty when it can.
struct Uncacheable {
  std::string reason;
};

// The key of a chat request for `tenant` (non-empty; e.g. "team/feature" or a gateway key's name)
// and `model`; Uncacheable when the body has no messages or does not end with a user turn.
// Members that do not change the answer (stream, stream_options, user, metadata) are left out.
// `edits` are top-level members earlier filters set (JSON text; a later edit of a key wins; null
// removes it), so the key is the request the backend would get (a capped max_tokens), and the
// members are keyed in name order, so their order in the body does not split entries.
using MemberEdits = std::vector<std::pair<std::string, std::string>>;
std::variant<RequestKey, Uncacheable> requestKeyOf(const jsonview::Value& body,
                                                   std::string_view tenant, std::string_view model,
                                                   const MemberEdits& edits = {});

// JSON text without the whitespace outside strings, so formatting does not split partitions.
std::string compactJson(std::string_view json);

}  // namespace costgate::cache
