#pragma once
// One error-return style. A function that makes a value or fails returns std::variant<T, E>; one
// that only checks returns std::optional<E>, empty when all is well. E is a named error type of
// the function's layer, never a bare std::string:
//   config::ConfigError  configuration, with its file, line and column;
//   openai::ApiError     anything that becomes a client's reply;
//   upstream::Failure    calls to a backend;
//   costgate::Error      the layers below those (URL parsing, Redis connections and replies, time
//                        zones, DNS resolver setup, file reading); callers turn it into a
//                        ConfigError, an ApiError or a log line where it reaches a user.
// Exceptions are never thrown on the data path: only constructors of startup resources (TLS
// contexts, listening sockets, the access log file) throw, and they are caught where a
// configuration is built (LiveGateway::build, main).

#include <string>

namespace costgate {

struct Error {
  std::string message;
};

}  // namespace costgate
