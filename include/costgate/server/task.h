#pragma once
// The executor, socket and coroutine types shared by the server, the upstream client and the mock.
// Coroutines run on their worker's io_context executor: a concrete executor type spares every
// asynchronous step the cost of a type-erased one.

#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace costgate::server {

namespace net = boost::asio;
using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<net::ip::tcp, Executor>;
using Timer = net::basic_waitable_timer<std::chrono::steady_clock,
                                        net::wait_traits<std::chrono::steady_clock>, Executor>;

template <class T = void>
using Task = net::awaitable<T, Executor>;
// Completion token: `auto [ec, n] = co_await op(..., kAwait);` returns errors as values.
inline constexpr auto kAwait = net::as_tuple(net::use_awaitable_t<Executor>{});

}  // namespace costgate::server
