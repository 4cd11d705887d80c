#pragma once
// A blocking connection to one Redis server through hiredis, for background threads that may wait
// on the network (the Redis cache's writer and subscriber), never for a request. Every step has a
// deadline (the connect, then each read and write), so a silent server becomes an error value
// instead of a stuck thread. Nothing here throws. Not thread-safe: one thread uses a connection at
// a time; different connections are independent.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "costgate/error.h"

struct redisContext;  // hiredis, kept out of this header

namespace costgate::redis {

struct Address {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // empty: no AUTH
};

// `redis://[:password@]host[:port][/db]`, read by config::parseUrl: the host may be an IPv6 literal
// in brackets, the password is percent-encoded where it holds '/', '?', '#' or '%' (`%2F`). The
// error says what is wrong with the text without repeating it (it may hold the password).
std::variant<Address, Error> parseAddress(std::string_view url);

// A reply as plain data, whatever hiredis allocated for it already freed.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string string;           // kString (binary-safe), kStatus ("OK"), kError (the message)
  long long integer = 0;        // kInteger
  std::vector<Reply> elements;  // kArray
};

// Sends a command without waiting: `done` runs later, on the sender's thread, with the reply
// (kError when the server refused the command) or why there is none. The event loop's
// AsyncConnection is one.
using Answered = std::function<void(std::variant<Reply, Error>)>;
using SendLater = std::function<void(std::vector<std::string> args, Answered done)>;

struct Timeouts {
  std::chrono::milliseconds connect{500};
  std::chrono::milliseconds io{1000};  // each read or write of a command or reply
};

class Connection {
 public:
  // Connects, then sends AUTH and SELECT when the address asks for them. The error names the
  // server and what failed (refused, timed out, a wrong password).
  static std::variant<Connection, Error> open(const Address& address, Timeouts timeouts = {});

  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Sends one command (binary-safe arguments) and waits for its reply. An error value means the
  // connection is broken (I/O error, timeout, protocol error) and every later call fails too; a
  // command the server refused is a Reply of type kError and the connection stays usable.
  std::variant<Reply, Error> command(const std::vector<std::string_view>& args);

  // Pipelining: appendCommand only buffers; getReply sends whatever is buffered, then waits for
  // the next reply in order. Errors as for command().
  void appendCommand(const std::vector<std::string_view>& args);
  std::variant<Reply, Error> getReply();

  // The next reply if one arrives within `wait`, nullopt if none did: for a subscribed connection,
  // where silence is normal. getReply() cannot serve there, since hiredis marks a context failed
  // for good when a blocking read times out; this waits with poll() on the socket and reads only
  // what is already there. It also returns nullopt as soon as `interrupt_fd` (when not -1, e.g. an
  // eventfd) is readable, so another thread can cut the wait short; reading it is the caller's.
  std::variant<std::optional<Reply>, Error> pollReply(std::chrono::milliseconds wait,
                                                      int interrupt_fd = -1);

  // For a connection with no reply outstanding: whether the server closed it (or sent something
  // it never asked for, which only a closing or broken connection does), checked without waiting.
  // Lets a connection that sat idle through a server restart be replaced before it loses a write.
  bool closedByServer() const;

  bool broken() const;
  int fd() const;

 private:
  struct Free {
    void operator()(redisContext* context) const;
  };
  Connection(redisContext* context, std::string server);
  Error failure() const;

  std::unique_ptr<redisContext, Free> context_;
  std::string server_;  // host:port, for error messages
};

}  // namespace costgate::redis
