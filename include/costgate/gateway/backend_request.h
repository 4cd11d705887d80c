#pragma once
// What a backend is sent for a client's request: the headers that may be forwarded and the body
// as the filters left it, spliced (jsonview) rather than re-serialized. Plain functions.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "costgate/jsonview/document.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/upstream/upstream_client.h"

namespace costgate::gateway {

using MemberEdits = std::vector<std::pair<std::string, std::string>>;

// Whether a client header may reach a backend: not hop-by-hop ones, the client's credentials (the
// backend gets the gateway's own key), our own controls, or encodings we could not read.
bool forwardable(std::string_view lower_name);
// The client's forwardable headers and the request's id; they view `ctx`.
std::vector<upstream::Header> forwardedHeaders(const pipeline::RequestContext& ctx);

// `filtered` (the body as the filters left it) with `edits` set on top.
std::string bodyWith(const jsonview::Value& filtered,
                     std::span<const std::pair<std::string, std::string>> edits);
// The body to send: the filters' member edits spliced into `filtered`, or the body a filter
// replaced, or, when nothing changed, the client's bytes, moved.
std::string forwardedBody(pipeline::RequestContext& ctx, const jsonview::Value& filtered,
                          std::string& client_body);
// `body` (a JSON object) with its "model" member set to `model`.
std::string withModel(const std::string& body, std::string_view model);
// A chat.completion without the logprobs the gateway asked for to judge it: each choice's
// logprobs replaced by null in place, the rest of the bytes as they are.
std::string withoutLogprobs(const std::string& completion);
// The stream_options member that asks a backend for a stream's usage chunk, keeping the client's
// other options; `filtered` is the request body.
std::string streamOptionsWithUsage(const jsonview::Value& filtered);

}  // namespace costgate::gateway
