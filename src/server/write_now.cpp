#include "costgate/server/write_now.h"

#include <algorithm>

namespace costgate::server {

PendingWrite writeNow(Socket& socket, std::string_view head, std::string_view body) {
  PendingWrite write{{net::buffer(head), net::buffer(body)}, 0, {}};
  std::size_t written = socket.write_some(write.rest, write.ec);
  if (write.ec == net::error::would_block || write.ec == net::error::try_again) write.ec = {};
  write.written = written;
  std::size_t from_head = std::min(written, head.size());
  write.rest = {net::buffer(head.substr(from_head)), net::buffer(body.substr(written - from_head))};
  return write;
}

}  // namespace costgate::server
