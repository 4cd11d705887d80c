#pragma once
// Writing without the event loop when the socket can take the bytes at once, which for a whole
// response or a backend request it nearly always can: one sendmsg, and no asynchronous operation
// to schedule, complete and resume a coroutine from. Only a remainder goes through async_write.

#include <array>
#include <cstddef>
#include <string_view>

#include "costgate/server/task.h"

namespace costgate::server {

struct PendingWrite {
  std::array<net::const_buffer, 2> rest;  // what the socket did not take
  std::size_t written = 0;
  boost::system::error_code ec;  // a real failure; "would block" is not one
  bool done() const { return ec || rest[0].size() + rest[1].size() == 0; }
};

// Sends what a non-blocking socket takes now of head then body.
PendingWrite writeNow(Socket& socket, std::string_view head, std::string_view body);

}  // namespace costgate::server
