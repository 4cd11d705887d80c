#pragma once
// What a backend is sent for a client's request: the client headers its allow-list lets through
// and the body as the filters left it, spliced (jsonview) rather than re-serialized. Plain
// functions.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "costgate/config/config.h"
#include "costgate/jsonview/document.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/upstream/upstream_client.h"

namespace costgate::gateway {

using MemberEdits = std::vector<std::pair<std::string, std::string>>;

// A client's headers on their way to a backend, and the request's id (every call carries it as
// x-request-id). Which headers go is decided per backend (headersFor).
struct ClientHeaders {
  std::vector<upstream::Header> fields;  // all of the client's, viewing the request
  std::string_view request_id;
};
// The client's headers of `ctx` and its request id; they view `ctx`.
ClientHeaders clientHeaders(const pipeline::RequestContext& ctx);

// Whether the client header `lower_name` may reach a backend whose forward_headers are `allowed`
// (config/forward_headers.h): named by an entry, or matched by a prefix entry and not looking
// like a credential; never what no list may forward.
bool forwardable(std::string_view lower_name, std::span<const std::string> allowed);
// What a call to `backend` carries besides its fixed headers: the client's headers it may be
// sent, then x-request-id. They view `client`.
std::vector<upstream::Header> headersFor(const config::BackendConfig& backend,
                                         const ClientHeaders& client);

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
