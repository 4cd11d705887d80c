#include "costgate/upstream/resolver.h"

#include <ares.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>

#include "costgate/error.h"
#include "costgate/server/socket.h"

namespace costgate::upstream {

using server::EventLoop;
using server::Task;
using Clock = Resolver::Clock;

namespace {

// Answers are kept with port 0; each resolve() sets its own.
Resolution withPort(Resolution resolution, std::uint16_t port) {
  for (SocketAddress& address : resolution.addresses) {
    if (address.storage.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in&>(address.storage).sin_port = htons(port);
    } else if (address.storage.ss_family == AF_INET6) {
      reinterpret_cast<sockaddr_in6&>(address.storage).sin6_port = htons(port);
    }
  }
  return resolution;
}

void append(Resolution& resolution, const sockaddr* address, socklen_t size) {
  SocketAddress copy;
  if (size > sizeof copy.storage) return;
  std::memcpy(&copy.storage, address, size);
  copy.size = size;
  resolution.addresses.push_back(copy);
}

// getaddrinfo with AI_NUMERICHOST never looks anything up, and it also reads IPv6 zone ids
// (fe80::1%eth0), which c-ares does not.
std::optional<Resolution> numericAddress(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return std::nullopt;
  Resolution resolution;
  for (addrinfo* each = found; each; each = each->ai_next) {
    append(resolution, each->ai_addr, each->ai_addrlen);
  }
  ::freeaddrinfo(found);
  return withPort(std::move(resolution), port);
}

// The addresses of an answer and how long they may be kept: the least TTL of the records that led
// to them, CNAMEs included (0 for /etc/hosts, which has none).
std::pair<Resolution, std::chrono::seconds> answerOf(const ares_addrinfo& answer) {
  Resolution resolution;
  int ttl = INT_MAX;
  for (const ares_addrinfo_node* node = answer.nodes; node; node = node->ai_next) {
    append(resolution, node->ai_addr, node->ai_addrlen);
    ttl = std::min(ttl, node->ai_ttl);
  }
  for (const ares_addrinfo_cname* cname = answer.cnames; cname; cname = cname->next) {
    ttl = std::min(ttl, cname->ttl);
  }
  return {std::move(resolution), std::chrono::seconds(std::max(ttl, 0))};
}

// c-ares asks for this once per process before any channel (it only matters on Windows, but the
// contract is the contract).
void initializeCares() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  (void)status;
}

}  // namespace

struct Resolver::State {
  class Lookup;
  struct Entry {
    Resolution answer;          // port 0
    Clock::time_point expires;  // the clock's epoch until answered: never fresh
    bool in_flight = false;
    std::vector<Lookup*> waiting;
  };
  // ares_getaddrinfo's argument: which name an answer is for.
  struct Query {
    State* state;
    std::string host;
  };

  State(EventLoop& loop, Options options);
  ~State();
  std::optional<Error> openChannel();  // why not, or nothing
  Clock::time_point now() const { return options.now ? options.now() : EventLoop::coarseNow(); }
  bool fresh(const Entry& entry) const { return !entry.in_flight && now() < entry.expires; }
  void start(const std::string& host, Entry& entry);
  void settle(const std::string& host, Resolution answer, std::chrono::seconds ttl);
  void forgetExpired();
  void processReady();
  Task<> driveTimeouts();
  static void onSocketState(void* data, ares_socket_t fd, int readable, int writable);
  static void onAnswer(void* arg, int status, int timeouts, ares_addrinfo* result);

  EventLoop& loop;
  Options options;
  ares_channel channel = nullptr;
  std::string channel_error;  // why there is no channel: every lookup of a name fails with it
  server::Socket ready_set;   // an epoll set of c-ares's sockets, itself watched by the loop
  server::Timer timer;        // c-ares's next timeout while queries are out
  bool driving = false;       // driveTimeouts() is running
  int queries_out = 0;
  std::unordered_map<std::string, Entry> entries;
};

// co_await: the entry's answer, after a lookup when it has none fresh. Awaited by name (a named
// local), since a settled lookup writes into it after the suspension.
class Resolver::State::Lookup {
 public:
  Lookup(State& state, std::string host) : state_(state), host_(std::move(host)) {}
  ~Lookup() {
    if (entry_) std::erase(entry_->waiting, this);
  }
  Lookup(const Lookup&) = delete;
  Lookup& operator=(const Lookup&) = delete;

  bool await_ready() {
    Entry& entry = state_.entries[host_];
    if (!state_.fresh(entry) && !entry.in_flight) state_.start(host_, entry);
    if (entry.in_flight) return false;
    result_ = entry.answer;  // fresh, or answered at once (from /etc/hosts)
    return true;
  }
  void await_suspend(std::coroutine_handle<> waiter) {
    waiter_ = waiter;
    entry_ = &state_.entries[host_];
    entry_->waiting.push_back(this);
  }
  Resolution await_resume() { return std::move(result_); }

  // Called from inside c-ares: the waiter resumes at the loop's next turn, outside it.
  void settle(const Resolution& answer) {
    result_ = answer;
    entry_ = nullptr;
    state_.loop.resumeSoon(waiter_);
  }
  void abandon() { entry_ = nullptr; }

 private:
  State& state_;
  std::string host_;
  Resolution result_;
  Entry* entry_ = nullptr;  // while waiting
  std::coroutine_handle<> waiter_;
};

Resolver::State::State(EventLoop& loop, Options options)
    : loop(loop), options(std::move(options)), timer(loop) {
  initializeCares();
  if (auto problem = openChannel()) {
    channel_error = "cannot start the DNS resolver: " + problem->message;
    return;
  }
  ready_set.watchReadable([this] { processReady(); });
}

std::optional<Error> Resolver::State::openChannel() {
  const int set = ::epoll_create1(EPOLL_CLOEXEC);
  if (set < 0) return Error{std::strerror(errno)};
  ready_set = server::Socket(loop, set);
  ares_options settings{};
  settings.sock_state_cb = &State::onSocketState;
  settings.sock_state_cb_data = this;
  int status = ares_init_options(&channel, &settings, ARES_OPT_SOCK_STATE_CB);
  if (status == ARES_SUCCESS && !options.servers.empty()) {
    status = ares_set_servers_ports_csv(channel, options.servers.c_str());
  }
  if (status == ARES_SUCCESS) return std::nullopt;
  if (channel) ares_destroy(std::exchange(channel, nullptr));
  return Error{ares_strerror(status)};
}

Resolver::State::~State() {
  // Lookups still waiting (their tasks, destroyed later, never resume) must not reach back.
  for (auto& [host, entry] : entries) {
    for (Lookup* waiter : entry.waiting) waiter->abandon();
  }
  // Pending queries are answered ARES_EDESTRUCTION, which onAnswer drops; c-ares closes its
  // sockets, taking them out of ready_set, which must still be open.
  if (channel) ares_destroy(channel);
}

void Resolver::State::start(const std::string& host, Entry& entry) {
  entry.in_flight = true;  // first: forgetExpired() leaves entries in flight alone
  ++queries_out;
  forgetExpired();
  if (!channel) {
    settle(host, {{}, channel_error}, kFailureTtl);
    return;
  }
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(channel, host.c_str(), nullptr, &hints, &State::onAnswer, new Query{this, host});
  if (!entry.in_flight) return;  // answered at once
  if (driving) {
    timer.cancel();  // its wait was for the queries before this one
  } else {
    driving = true;
    loop.spawn(driveTimeouts());
  }
}

void Resolver::State::settle(const std::string& host, Resolution answer, std::chrono::seconds ttl) {
  --queries_out;
  Entry& entry = entries[host];
  entry.in_flight = false;
  entry.answer = std::move(answer);
  entry.expires = now() + ttl;
  for (Lookup* waiter : std::exchange(entry.waiting, {})) waiter->settle(entry.answer);
}

// Names a reload dropped would otherwise stay for good.
void Resolver::State::forgetExpired() {
  const Clock::time_point moment = now();
  std::erase_if(entries, [moment](const auto& item) {
    return !item.second.in_flight && item.second.expires <= moment;
  });
}

// The loop's edge on ready_set says some c-ares socket is ready; ready_set is level-triggered, so
// asking until it has nothing left to report leaves no event behind for a later edge to miss.
void Resolver::State::processReady() {
  epoll_event events[16];
  for (;;) {
    const int count = ::epoll_wait(ready_set.fd(), events, static_cast<int>(std::size(events)), 0);
    if (count <= 0) return;
    for (int i = 0; i < count; ++i) {
      const int fd = events[i].data.fd;
      const bool readable = events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR);
      const bool writable = events[i].events & EPOLLOUT;
      ares_process_fd(channel, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
    }
  }
}

Task<> Resolver::State::driveTimeouts() {
  while (queries_out > 0) {
    timeval longest{1, 0};
    timeval next{};
    const timeval* wait = ares_timeout(channel, &longest, &next);
    co_await timer.wait(std::chrono::seconds(wait->tv_sec) +
                        std::chrono::microseconds(wait->tv_usec));
    ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // resends, or gives up
  }
  driving = false;
}

void Resolver::State::onSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  const int set = static_cast<State*>(data)->ready_set.fd();
  if (!readable && !writable) {
    ::epoll_ctl(set, EPOLL_CTL_DEL, fd, nullptr);
    return;
  }
  epoll_event event{};
  event.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  event.data.fd = fd;
  if (::epoll_ctl(set, EPOLL_CTL_MOD, fd, &event) != 0 && errno == ENOENT) {
    ::epoll_ctl(set, EPOLL_CTL_ADD, fd, &event);
  }
}

void Resolver::State::onAnswer(void* arg, int status, int, ares_addrinfo* result) {
  const std::unique_ptr<Query> query(static_cast<Query*>(arg));
  const std::unique_ptr<ares_addrinfo, void (*)(ares_addrinfo*)> owned(result, &ares_freeaddrinfo);
  if (status == ARES_EDESTRUCTION) return;  // the State is going
  if (status != ARES_SUCCESS || !result || !result->nodes) {
    const char* why = status != ARES_SUCCESS ? ares_strerror(status) : "no address";
    query->state->settle(query->host, {{}, why}, kFailureTtl);
    return;
  }
  auto [answer, ttl] = answerOf(*result);
  query->state->settle(query->host, std::move(answer), ttl);
}

Resolver::Resolver(EventLoop& loop, Options options)
    : state_(std::make_unique<State>(loop, std::move(options))) {}

Resolver::~Resolver() = default;

Task<Resolution> Resolver::resolve(const std::string& host, std::uint16_t port) {
  if (auto numeric = numericAddress(host, port)) co_return std::move(*numeric);
  State::Lookup lookup(*state_, host);
  Resolution answer = co_await lookup;
  co_return withPort(std::move(answer), port);
}

}  // namespace costgate::upstream
