#include "costgate/budget/redis_ledger.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <exception>
#include <mutex>
#include <string_view>
#include <utility>
#include <variant>

#include "costgate/error.h"

namespace costgate::budget {
namespace {

// Every script takes three keys per line (K, K:holds, K:expiries, see the header) and the caller's
// time in ms as ARGV[1]. Numbers only ever reach Redis as the caller's decimal strings (or values
// Redis returned): Lua turns its own numbers into text through doubles.
constexpr std::string_view kPrologue = R"lua(
local now = ARGV[1]
local lines = #KEYS / 3

-- Drops line i if its window (plus the grace) is over by now, else releases its holds that expired
-- by now. An expired id stays in K:expiries with score +inf, so that a late settle still charges.
local function tidy(i)
  local totals, holds, expiries = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local drop_at = redis.call('HGET', totals, 'drop_at')
  if drop_at and tonumber(drop_at) <= tonumber(now) then
    redis.call('DEL', totals, holds, expiries)
    return
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', expiries, '-inf', now)) do
    local amount = redis.call('HGET', holds, id)
    if amount then
      if amount ~= '0' then redis.call('HINCRBY', totals, 'reserved', '-' .. amount) end
      redis.call('HDEL', holds, id)
    end
    redis.call('ZADD', expiries, '+inf', id)
  end
end

-- Keeps line i until drop_at ('' for ever): by the callers' clocks through tidy, by Redis's own
-- through PEXPIREAT, so that the keys of past windows go even if nobody asks for them again.
local function keepUntil(i, drop_at)
  local totals = KEYS[3 * i - 2]
  if drop_at == '' then
    redis.call('HDEL', totals, 'drop_at')
    for k = 3 * i - 2, 3 * i do redis.call('PERSIST', KEYS[k]) end
  else
    redis.call('HSET', totals, 'drop_at', drop_at)
    for k = 3 * i - 2, 3 * i do redis.call('PEXPIREAT', KEYS[k], drop_at) end
  end
end
)lua";

// ARGV: now, expiry, amount, id, then per line: limit, drop_at, and last the time (ms, the
// caller's real clock) after which the caller no longer waits for the answer. Returns {1, 0} when
// reserved, {0, index of the first line over} when not, each followed by every line's spent and
// reserved after it; {2, 0} when it came too late: a command a frozen Redis runs after the caller
// gave up would otherwise hold budget nobody settles.
constexpr std::string_view kReserve = R"lua(
local expiry, amount, id = ARGV[2], ARGV[3], ARGV[4]
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(ARGV[#ARGV]) then
  return {2, 0}
end
local function answer(status, over)
  local out = {status, over}
  for i = 1, lines do
    local state = redis.call('HMGET', KEYS[3 * i - 2], 'spent', 'reserved')
    out[2 * i + 1] = state[1] or '0'
    out[2 * i + 2] = state[2] or '0'
  end
  return out
end
for i = 1, lines do tidy(i) end
-- Sent again after its reply was lost: the reservation stands.
for i = 1, lines do
  if redis.call('ZSCORE', KEYS[3 * i], id) then return answer(1, 0) end
end
local wanted = tonumber(amount)
if wanted > 0 then
  for i = 1, lines do
    local state = redis.call('HMGET', KEYS[3 * i - 2], 'spent', 'reserved')
    local used = tonumber(state[1] or '0') + tonumber(state[2] or '0')
    if used + wanted > tonumber(ARGV[3 + 2 * i]) then return answer(0, i - 1) end
  end
end
for i = 1, lines do
  redis.call('HINCRBY', KEYS[3 * i - 2], 'reserved', amount)
  redis.call('HSET', KEYS[3 * i - 1], id, amount)
  redis.call('ZADD', KEYS[3 * i], expiry, id)
  keepUntil(i, ARGV[4 + 2 * i])
end
return answer(1, 0)
)lua";

// ARGV: now, id, actual. Charges each line that still knows the id (holding or expired), once.
// Returns how many lines it charged, then each line's spent and reserved after it.
constexpr std::string_view kSettle = R"lua(
local id, actual = ARGV[2], ARGV[3]
local out = {0}
for i = 1, lines do
  tidy(i)
  local totals, holds, expiries = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if redis.call('ZREM', expiries, id) == 1 then
    local held = redis.call('HGET', holds, id)
    if held then
      if held ~= '0' then redis.call('HINCRBY', totals, 'reserved', '-' .. held) end
      redis.call('HDEL', holds, id)
    end
    redis.call('HINCRBY', totals, 'spent', actual)
    out[1] = out[1] + 1
  end
  local state = redis.call('HMGET', totals, 'spent', 'reserved')
  out[2 * i] = state[1] or '0'
  out[2 * i + 1] = state[2] or '0'
end
return out
)lua";

// KEYS: the three keys of each line, then each line's set of the charge ids it took (K:charged).
// ARGV: now, amount, id, then per line: drop_at. Charges each line once per id.
constexpr std::string_view kCharge = R"lua(
lines = #KEYS / 4
for i = 1, lines do
  tidy(i)
  local charged = KEYS[3 * lines + i]
  if redis.call('SADD', charged, ARGV[3]) == 1 then
    redis.call('HINCRBY', KEYS[3 * i - 2], 'spent', ARGV[2])
  end
  local drop_at = ARGV[3 + i]
  keepUntil(i, drop_at)
  if drop_at == '' then redis.call('PERSIST', charged) else redis.call('PEXPIREAT', charged, drop_at) end
end
return lines
)lua";

// ARGV: now. Returns spent and reserved of each line, as decimal strings.
constexpr std::string_view kRead = R"lua(
local states = {}
for i = 1, lines do
  tidy(i)
  local state = redis.call('HMGET', KEYS[3 * i - 2], 'spent', 'reserved')
  states[2 * i - 1] = state[1] or '0'
  states[2 * i] = state[2] or '0'
end
return states
)lua";

enum Script : std::size_t { kReserveScript, kSettleScript, kChargeScript, kReadScript, kScripts };

const std::array<std::string, kScripts>& scriptBodies() {
  static const std::array<std::string, kScripts> bodies = [] {
    std::array<std::string, kScripts> joined;
    const std::array<std::string_view, kScripts> parts = {kReserve, kSettle, kCharge, kRead};
    for (std::size_t i = 0; i < kScripts; ++i) {
      joined[i] = std::string(kPrologue) + std::string(parts[i]);
    }
    return joined;
  }();
  return bodies;
}

std::string millisOf(Clock::time_point time) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count());
}

// When Redis may drop a line whose window ends at `window_end`: "" for never.
std::string dropAtOf(Clock::time_point window_end) {
  if (window_end >= Clock::time_point::max() - kWindowGrace) return "";
  return millisOf(window_end + kWindowGrace);
}

void appendLineKeys(std::vector<std::string>& keys, const std::string& key) {
  keys.push_back(key);
  keys.push_back(key + ":holds");
  keys.push_back(key + ":expiries");
}

std::optional<std::int64_t> integerOf(const redis::Reply& reply) {
  if (reply.type == redis::Reply::Type::kInteger) return reply.integer;
  if (reply.type != redis::Reply::Type::kString) return std::nullopt;
  std::int64_t value = 0;
  const char* end = reply.string.data() + reply.string.size();
  auto [stop, error] = std::from_chars(reply.string.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

struct LoadedConnection {
  redis::Connection connection;
  std::array<std::string, kScripts> shas;  // as this connection's server named them
};

// A new connection with every script loaded (one round trip); nullopt when Redis cannot be reached.
std::optional<LoadedConnection> openLoaded(const redis::Address& address,
                                           redis::Timeouts timeouts) {
  auto opened = redis::Connection::open(address, timeouts);
  auto* connection = std::get_if<redis::Connection>(&opened);
  if (connection == nullptr) return std::nullopt;
  LoadedConnection loaded{std::move(*connection), {}};
  for (const std::string& body : scriptBodies()) {
    loaded.connection.appendCommand({"SCRIPT", "LOAD", body});
  }
  for (std::string& sha : loaded.shas) {
    auto reply = loaded.connection.getReply();
    auto* named = std::get_if<redis::Reply>(&reply);
    if (named == nullptr || named->type != redis::Reply::Type::kString) return std::nullopt;
    sha = std::move(named->string);
  }
  return loaded;
}

std::variant<redis::Reply, Error> evaluate(LoadedConnection& loaded, Script script,
                                           const std::vector<std::string>& keys,
                                           const std::vector<std::string>& args) {
  const std::string key_count = std::to_string(keys.size());
  std::vector<std::string_view> command = {"EVALSHA", loaded.shas[script], key_count};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  auto reply = loaded.connection.command(command);
  // The server lost its scripts since this connection loaded them (SCRIPT FLUSH, a failover to a
  // replica that never saw them): EVAL runs the script and caches it again for the next EVALSHA.
  if (auto* refused = std::get_if<redis::Reply>(&reply);
      refused != nullptr && refused->type == redis::Reply::Type::kError &&
      refused->string.starts_with("NOSCRIPT")) {
    command[0] = "EVAL";
    command[1] = scriptBodies()[script];
    reply = loaded.connection.command(command);
  }
  return reply;
}

}  // namespace

struct RedisLedger::Shared {
  redis::Address address;
  std::chrono::milliseconds timeout;
  std::size_t idle_limit;
  ReservationIds ids;
  std::mutex mutex;
  std::vector<LoadedConnection> idle;

  // An idle connection the server has not closed, or a new one.
  std::optional<LoadedConnection> take() {
    for (;;) {
      std::optional<LoadedConnection> connection;
      {
        std::lock_guard lock(mutex);
        if (idle.empty()) break;
        connection.emplace(std::move(idle.back()));
        idle.pop_back();
      }
      // One that sat idle through a restart of Redis would fail its command: never sent on.
      if (!connection->connection.closedByServer()) return connection;
    }
    return openLoaded(address, redis::Timeouts{timeout, timeout});
  }

  void giveBack(LoadedConnection connection) {
    std::lock_guard lock(mutex);
    if (idle.size() < idle_limit) idle.push_back(std::move(connection));
  }

  // The script's reply; nullopt when Redis could not be reached or refused the script.
  std::optional<redis::Reply> run(Script script, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) {
    const auto started = std::chrono::steady_clock::now();
    std::optional<LoadedConnection> connection = take();
    if (!connection) return std::nullopt;
    auto reply = evaluate(*connection, script, keys, args);
    bool timeouts_cut = false;
    // Every script is safe to send again (a reservation and a charge are recognised by their id, a
    // settle charges once, a read changes nothing).
    if (std::holds_alternative<Error>(reply)) {
      // The connection broke (reset, closed between the check and the command): one new one, if
      // the call has at least half its time left, and with only what is left as its timeouts.
      const auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - started);
      if (left < timeout / 2) return std::nullopt;
      connection = openLoaded(address, redis::Timeouts{left, left});
      if (!connection) return std::nullopt;
      reply = evaluate(*connection, script, keys, args);
      timeouts_cut = true;
    }
    auto* result = std::get_if<redis::Reply>(&reply);
    if (result == nullptr) return std::nullopt;
    // A connection with shorter timeouts than the ledger's must not serve later calls.
    if (!timeouts_cut) giveBack(std::move(*connection));
    if (result->type == redis::Reply::Type::kError) return std::nullopt;
    return std::move(*result);
  }
};

RedisLedger::RedisLedger(redis::Address address, std::chrono::milliseconds timeout,
                         std::size_t idle_connections)
    : shared_(std::make_unique<Shared>()) {
  shared_->address = std::move(address);
  shared_->timeout = timeout;
  shared_->idle_limit = idle_connections;
}

RedisLedger::~RedisLedger() = default;

// One reserve script's call: the reservation it makes, and the script's keys and arguments.
struct RedisLedger::ReserveCall {
  Reservation reservation;
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

RedisLedger::ReserveCall RedisLedger::reserveCall(const std::vector<Line>& lines,
                                                  std::int64_t amount, Clock::time_point now,
                                                  std::chrono::seconds hold) {
  ReserveCall call{Reservation{shared_->ids.next(), {}, std::max<std::int64_t>(amount, 0)}, {}, {}};
  call.args = {millisOf(now), millisOf(now + hold), std::to_string(call.reservation.amount),
               call.reservation.id};
  for (const Line& line : lines) {
    appendLineKeys(call.keys, line.key);
    call.args.push_back(std::to_string(line.limit));
    call.args.push_back(dropAtOf(line.window_end));
    call.reservation.keys.push_back(line.key);
  }
  call.args.push_back(millisOf(Clock::now() + shared_->timeout));
  return call;
}

namespace {

// The reserve script's answer (nullopt: none came) as a ReserveResult.
ReserveResult reserveAnswer(const std::optional<redis::Reply>& reply, std::size_t lines,
                            Reservation reservation) {
  ReserveResult unavailable;
  unavailable.attempted = reservation;
  if (!reply || reply->type != redis::Reply::Type::kArray || reply->elements.size() < 2) {
    return unavailable;
  }
  auto reserved = integerOf(reply->elements[0]);
  auto over_line = integerOf(reply->elements[1]);
  if (!reserved || !over_line || *over_line < 0 || *reserved == 2 ||
      static_cast<std::size_t>(*over_line) >= lines || reply->elements.size() != 2 + 2 * lines) {
    return unavailable;
  }
  std::vector<LineState> after;
  for (std::size_t i = 0; i < lines; ++i) {
    after.push_back({integerOf(reply->elements[2 + 2 * i]).value_or(0),
                     integerOf(reply->elements[3 + 2 * i]).value_or(0)});
  }
  if (*reserved == 1) {
    return ReserveResult{ReserveStatus::kReserved, std::move(reservation), 0, std::nullopt,
                         std::move(after)};
  }
  return ReserveResult{ReserveStatus::kOverLimit, std::nullopt,
                       static_cast<std::size_t>(*over_line), std::nullopt, std::move(after)};
}

// The read script's answer (nullopt: none came) as line states.
std::optional<std::vector<LineState>> readAnswer(const std::optional<redis::Reply>& reply,
                                                 std::size_t keys) {
  if (!reply || reply->type != redis::Reply::Type::kArray || reply->elements.size() != 2 * keys) {
    return std::nullopt;
  }
  std::vector<LineState> states;
  states.reserve(keys);
  for (std::size_t i = 0; i < keys; ++i) {
    auto spent = integerOf(reply->elements[2 * i]);
    auto reserved = integerOf(reply->elements[2 * i + 1]);
    if (!spent || !reserved) return std::nullopt;
    states.push_back(LineState{*spent, *reserved});
  }
  return states;
}

// EVAL of `script` on the loop's connection: the body each time, which Redis caches by its digest
// (calls on it are a request's rare lease takes, so the bytes cost less than a NOSCRIPT round).
void evaluateOn(const redis::SendLater& send, Script script, const std::vector<std::string>& keys,
                const std::vector<std::string>& args,
                std::function<void(std::optional<redis::Reply>)> done) {
  std::vector<std::string> command = {"EVAL", scriptBodies()[script], std::to_string(keys.size())};
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());
  send(std::move(command), [done = std::move(done)](std::variant<redis::Reply, Error> answer) {
    auto* reply = std::get_if<redis::Reply>(&answer);
    if (reply == nullptr || reply->type == redis::Reply::Type::kError) {
      done(std::nullopt);
      return;
    }
    done(std::move(*reply));
  });
}

}  // namespace

ReserveResult RedisLedger::reserve(const std::vector<Line>& lines, std::int64_t amount,
                                   Clock::time_point now, std::chrono::seconds hold) {
  try {
    ReserveCall call = reserveCall(lines, amount, now, hold);
    if (lines.empty()) {
      return ReserveResult{
          ReserveStatus::kReserved, std::move(call.reservation), 0, std::nullopt, {}};
    }
    auto reply = shared_->run(kReserveScript, call.keys, call.args);
    return reserveAnswer(reply, lines.size(), std::move(call.reservation));
  } catch (const std::exception&) {
    return ReserveResult{};
  }
}

void RedisLedger::reserveOn(const redis::SendLater& send, const std::vector<Line>& lines,
                            std::int64_t amount, Clock::time_point now, std::chrono::seconds hold,
                            std::function<void(ReserveResult)> done) {
  ReserveCall call = reserveCall(lines, amount, now, hold);
  evaluateOn(
      send, kReserveScript, call.keys, call.args,
      [done = std::move(done), lines = lines.size(), reservation = std::move(call.reservation)](
          std::optional<redis::Reply> reply) { done(reserveAnswer(reply, lines, reservation)); });
}

void RedisLedger::readOn(const redis::SendLater& send, const std::vector<std::string>& keys,
                         Clock::time_point now,
                         std::function<void(std::optional<std::vector<LineState>>)> done) {
  std::vector<std::string> line_keys;
  for (const std::string& key : keys) appendLineKeys(line_keys, key);
  evaluateOn(send, kReadScript, line_keys, {millisOf(now)},
             [done = std::move(done), count = keys.size()](std::optional<redis::Reply> reply) {
               done(readAnswer(reply, count));
             });
}

bool RedisLedger::settle(const Reservation& reservation, std::int64_t actual, Clock::time_point now,
                         std::vector<LineState>* after) {
  try {
    if (reservation.keys.empty()) return true;
    std::vector<std::string> keys;
    for (const std::string& key : reservation.keys) appendLineKeys(keys, key);
    const std::vector<std::string> args = {millisOf(now), reservation.id,
                                           std::to_string(std::max<std::int64_t>(actual, 0))};
    auto reply = shared_->run(kSettleScript, keys, args);
    const std::size_t lines = reservation.keys.size();
    if (!reply || reply->type != redis::Reply::Type::kArray ||
        reply->elements.size() != 1 + 2 * lines) {
      return false;
    }
    if (after != nullptr) {
      after->clear();
      for (std::size_t i = 0; i < lines; ++i) {
        auto spent = integerOf(reply->elements[1 + 2 * i]);
        auto reserved = integerOf(reply->elements[2 + 2 * i]);
        after->push_back(LineState{spent.value_or(0), reserved.value_or(0)});
      }
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool RedisLedger::charge(const std::vector<Line>& lines, std::int64_t amount, Clock::time_point now,
                         const std::string& id) {
  try {
    if (lines.empty()) return true;
    std::vector<std::string> keys;
    std::vector<std::string> args = {millisOf(now),
                                     std::to_string(std::max<std::int64_t>(amount, 0)), id};
    for (const Line& line : lines) {
      appendLineKeys(keys, line.key);
      args.push_back(dropAtOf(line.window_end));
    }
    for (const Line& line : lines) keys.push_back(line.key + ":charged");
    // The id makes it safe to send again.
    auto reply = shared_->run(kChargeScript, keys, args);
    return reply && reply->type == redis::Reply::Type::kInteger;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<std::vector<LineState>> RedisLedger::read(const std::vector<std::string>& keys,
                                                        Clock::time_point now) {
  try {
    if (keys.empty()) return std::vector<LineState>{};
    std::vector<std::string> line_keys;
    for (const std::string& key : keys) appendLineKeys(line_keys, key);
    return readAnswer(shared_->run(kReadScript, line_keys, {millisOf(now)}), keys.size());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace costgate::budget
