#pragma once
// Which of a client's headers a backend is sent (a backend's `forward_headers`): an allow-list,
// so a header nobody thought of (another provider's key, Forwarded, X-Forwarded-Host) stays at
// the gateway. Entries are lower-case names, or prefixes ending in '*' ("x-stainless-*"). The
// loader refuses entries naming what is never forwarded; the gateway applies the list
// (gateway/backend_request.h).

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace costgate::config {

// What a backend is sent when its configuration names no list: what OpenAI's SDKs send that a
// backend may act on (beta features, idempotency, the SDK's retry count and platform), trace
// context, and the client's User-Agent (folded into costgate's own, docs/hardening.md).
std::span<const std::string_view> defaultForwardHeaders();

// The entry of a `forward_headers` list that stands for the default list.
inline constexpr std::string_view kDefaultsEntry = "defaults";

// Headers no list may forward: the client's credentials (the backend gets the gateway's key),
// framing and hop-by-hop fields, and those the gateway sets itself.
bool neverForwarded(std::string_view lower_name);

// Whether a name matched only by a prefix entry looks like a credential (…-key, …token, auth…),
// which a prefix such as "x-*" must not carry along.
bool looksLikeCredential(std::string_view lower_name);

}  // namespace costgate::config
