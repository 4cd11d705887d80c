#pragma once
// One proxied request's state as it goes through the gateway's steps (gateway.h): the filters'
// context, the record the server logs, the body's index and what the backend is sent.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "costgate/gateway/backend_request.h"
#include "costgate/gateway/charges.h"
#include "costgate/gateway/client_writer.h"
#include "costgate/jsonview/document.h"
#include "costgate/pipeline/request_context.h"
#include "costgate/server/http_server.h"
#include "costgate/upstream/upstream_client.h"

namespace costgate::gateway {

struct ProxyCall {
  // `translation`: the replies of a client that spoke another API than `route`'s (null: none).
  ProxyCall(pipeline::Route route, server::ResponseWriter& writer,
            std::unique_ptr<translation::ReplyTranslation> translation)
      : writer(writer, std::move(translation)), record(writer.record()) {
    ctx.route = route;
    ctx.request_id = record.request_id;
    ctx.received_at = record.started;
    record.route = pipeline::routeName(route);
  }

  pipeline::RequestContext ctx;
  ClientWriter writer;
  server::ExchangeRecord& record;  // the writer's
  // The client's body as the filters left it (set once the chain ran), viewing `document` or
  // ctx.replaced_index; the backend is sent it with ctx.member_edits spliced in.
  std::optional<jsonview::Document> document;
  std::optional<jsonview::Value> filtered;
  CallAccounting accounting;
  std::string path;       // at the backend: "/chat/completions"...
  ClientHeaders headers;  // the client's, for each backend to pick from; view ctx
  int attempts = 0;       // backend calls made, a cascade's included
  // The Authorization the filters see for a client that sent its key otherwise (x-api-key).
  std::optional<std::string> client_authorization;
};

}  // namespace costgate::gateway
