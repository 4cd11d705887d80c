#include "costgate/gateway/backend_request.h"

#include <nlohmann/json.hpp>

#include "costgate/jsonview/splice.h"

namespace costgate::gateway {

ClientHeaders clientHeaders(const pipeline::RequestContext& ctx) {
  ClientHeaders client;
  client.fields.reserve(ctx.headers.size());
  for (const auto& [name, value] : ctx.headers) client.fields.push_back({name, value});
  client.request_id = ctx.request_id;
  return client;
}

bool forwardable(std::string_view name, std::span<const std::string> allowed) {
  if (config::neverForwarded(name)) return false;
  for (const std::string& entry : allowed) {
    if (entry == name) return true;
    if (entry.ends_with('*') &&
        name.starts_with(std::string_view(entry).substr(0, entry.size() - 1)) &&
        !config::looksLikeCredential(name)) {
      return true;
    }
  }
  return false;
}

std::vector<upstream::Header> headersFor(const config::BackendConfig& backend,
                                         const ClientHeaders& client) {
  std::vector<upstream::Header> headers;
  headers.reserve(client.fields.size() + 1);
  for (const upstream::Header& header : client.fields) {
    if (forwardable(header.name, backend.forward_headers)) headers.push_back(header);
  }
  headers.push_back({"x-request-id", client.request_id});
  return headers;
}

std::string bodyWith(const jsonview::Value& filtered,
                     std::span<const std::pair<std::string, std::string>> edits) {
  return jsonview::withMembers(filtered, edits);
}

std::string forwardedBody(pipeline::RequestContext& ctx, const jsonview::Value& filtered,
                          std::string& client_body) {
  if (!ctx.member_edits.empty()) return bodyWith(filtered, ctx.member_edits);
  if (!ctx.replaced_body.empty()) return std::move(ctx.replaced_body);
  // Nothing changed: the body goes out as the client sent it.
  return std::move(client_body);
}

std::string withModel(const std::string& body, std::string_view model) {
  auto document = jsonview::Document::parse(body);
  if (!document) return body;
  const std::pair<std::string, std::string> edit{"model", nlohmann::json(model).dump()};
  return jsonview::withMembers(document->root(), std::span(&edit, 1));
}

std::string withoutLogprobs(const std::string& completion) {
  auto document = jsonview::Document::parse(completion);
  auto choices =
      document && document->root().isObject() ? document->root().find("choices") : std::nullopt;
  if (!choices || !choices->isArray()) return completion;
  std::string out;
  out.reserve(completion.size());
  std::size_t copied = 0;
  for (const jsonview::Value& choice : choices->elements()) {
    auto logprobs = choice.isObject() ? choice.find("logprobs") : std::nullopt;
    if (!logprobs || logprobs->isNull()) continue;
    const std::string_view raw = logprobs->raw();
    const auto at = static_cast<std::size_t>(raw.data() - completion.data());
    out.append(completion, copied, at - copied).append("null");
    copied = at + raw.size();
  }
  out.append(completion, copied);
  return out;
}

std::string streamOptionsWithUsage(const jsonview::Value& filtered) {
  auto options = filtered.find("stream_options");
  if (!options || !options->isObject() || options->size() == 0) return R"({"include_usage":true})";
  nlohmann::json merged = nlohmann::json::parse(options->raw());
  merged["include_usage"] = true;
  return merged.dump();
}

}  // namespace costgate::gateway
