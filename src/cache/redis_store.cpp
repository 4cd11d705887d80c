#include "costgate/cache/redis_store.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <limits>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "costgate/cache/entry_codec.h"

namespace costgate::cache {
namespace {

using namespace std::chrono_literals;
using redis::Reply;

// Redis next to the gateway answers in well under a millisecond; a second without a reply means
// it is gone or stuck, and the store is better off out of sync than with a thread stuck on it.
constexpr redis::Timeouts kTimeouts{500ms, 1000ms};
// How long the subscriber waits for a message before it looks at the stop and resync flags when
// nothing wakes it (the destructor and the writer do, through an eventfd, when they can make one).
constexpr auto kSubscriberWait = 200ms;
constexpr auto kFirstRetry = 100ms;
constexpr auto kLastRetry = 2000ms;
// Writes waiting for the writer: about the last second of misses at a busy replica. Past it Redis
// is too slow to keep up, and dropping a write only costs another replica a miss.
constexpr std::size_t kQueueLimit = 10'000;
// Entries sent in one pipeline: enough to amortize the round trip, few enough that a failed batch
// loses little.
constexpr std::size_t kWriteBatch = 128;
constexpr std::string_view kScanCount = "1000";

struct Write {
  std::string key;
  std::string value;  // encodeEntry()
  Clock::time_point expires_at;
};

// A lock to take (answered through `done`) or, without `done`, to give back.
struct LockCall {
  std::string key;        // <prefix>lock:<exact key>
  std::string exact_key;  // announced when the lock is given back
  std::function<void(LockTake)> done;
};

// What the writer sends, in the order it was asked for: a lock given back after a put follows it.
using Job = std::variant<Write, LockCall>;

// The lock scripts touch a lock only when it is free or this store's (ARGV[1], its origin), so a
// slow replica never renews or frees another's. Taking again a lock already ours succeeds: a take
// sent again on a new connection, after the first one's reply was lost, is not mistaken for
// another replica's.
//
// A take finds the entry (KEYS[2]) when its holder stored it and let go after this replica's
// lookup missed, before the announcement reached it: the entry comes back instead of the lock,
// so that the answer is not asked of the backend again.
constexpr std::string_view kTakeScript = R"(local stored = redis.call('GET', KEYS[2])
if stored then return {stored, redis.call('PTTL', KEYS[2])} end
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0)";
constexpr std::string_view kRenewScript = R"(if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0)";
// Gives the lock back and tells the replicas waiting for it (ARGV[2] the channel, ARGV[3] the
// exact key), who then take it and call the backend themselves.
constexpr std::string_view kReleaseScript = R"(if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0)";

// Distinguishes this store's announcements from the other replicas' (and from another store in the
// same process): 128 random bits.
std::string randomOrigin() {
  std::random_device random;
  std::string origin;
  for (int i = 0; i < 4; ++i) {
    char word[9];
    std::snprintf(word, sizeof word, "%08x", static_cast<unsigned>(random()));
    origin += word;
  }
  return origin;
}

// `text` matched literally by a SCAN MATCH pattern: a prefix may hold glob characters.
std::string globEscaped(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

bool isStatusOk(const Reply& reply) {
  return reply.type == Reply::Type::kStatus && reply.string == "OK";
}

}  // namespace

struct RedisStore::Shared {
  Shared(redis::Address address, std::string prefix, std::size_t max_entries, std::size_t max_bytes,
         std::size_t vector_dimensions)
      : address(std::move(address)),
        prefix(std::move(prefix)),
        channel(this->prefix + "events"),
        locks_channel(this->prefix + "locks"),
        lock_ttl(std::to_string(kLockTtl.count())),
        origin(randomOrigin()),
        max_entries(max_entries),
        max_bytes(max_bytes),
        dimensions(vector_dimensions),
        mirror(std::make_unique<MemoryStore>(max_entries, max_bytes)),
        wake_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Shared() {
    if (wake_fd >= 0) ::close(wake_fd);
  }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  const redis::Address address;
  const std::string prefix;
  const std::string channel;
  const std::string locks_channel;
  const std::string lock_ttl;  // milliseconds, as sent
  const std::string origin;
  const std::size_t max_entries;
  const std::size_t max_bytes;
  std::atomic<std::size_t> dimensions;  // 0 until known

  // Lookups and puts hold it shared (the mirror locks itself); only replacing the mirror holds it
  // exclusively, and that is a pointer swap.
  mutable std::shared_mutex mirror_mutex;
  std::unique_ptr<MemoryStore> mirror;

  std::atomic<bool> in_sync{false};
  std::atomic<bool> resync{false};  // the writer lost its connection: the sync thread starts over
  std::atomic<bool> stopping{false};
  // Readable when the sync thread should look at the flags above now rather than after
  // kSubscriberWait; -1 when none could be made, and the wait bounds it.
  const int wake_fd;

  std::mutex mutex;           // the queue, and the threads' waits
  bool writer_retry = false;  // the sync thread reached Redis: the writer stops backing off
  std::condition_variable queue_ready;
  std::condition_variable stop_requested;
  std::deque<Job> queue;

  // The locks this replica holds, and when the writer renews them next: the writer's alone.
  std::unordered_set<std::string> held;
  std::chrono::steady_clock::time_point next_renewal{};

  // Who waits for another replica's entry or lock (ReplicaLocks::watch), by exact key.
  std::mutex watch_mutex;
  std::unordered_multimap<std::string, std::shared_ptr<pipeline::Signal>> watchers;

  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> write_failures{0};
  std::atomic<std::uint64_t> dropped_writes{0};
  std::atomic<std::uint64_t> loaded{0};
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> malformed{0};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> locks_taken{0};
  std::atomic<std::uint64_t> locks_held{0};
  std::atomic<std::uint64_t> lock_failures{0};

  std::thread writer;
  std::thread sync;

  // Whether a vector of `size` values fits the store, taking `size` as the store's when none is
  // known yet.
  bool dimensionsAgree(std::size_t size) {
    std::size_t known = 0;
    if (dimensions.compare_exchange_strong(known, size)) return true;
    return known == size;
  }

  void replaceMirror() {
    auto fresh = std::make_unique<MemoryStore>(max_entries, max_bytes);
    {
      std::unique_lock lock(mirror_mutex);
      mirror.swap(fresh);
    }
    // `fresh` holds the old mirror now: freed here, outside the lock, so lookups never wait on it.
  }

  void putInMirror(Entry entry) {
    std::shared_lock lock(mirror_mutex);
    mirror->put(std::move(entry));
  }

  // Waits `duration` unless the store is stopping; whether it is not.
  bool pause(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex);
    return !stop_requested.wait_for(lock, duration, [&] { return stopping.load(); });
  }

  // The writer's wait between connection attempts: also cut short when the sync thread has just
  // reached Redis, so writes resume with the sync instead of at the end of the writer's backoff.
  void pauseWriter(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex);
    stop_requested.wait_for(lock, duration, [&] { return stopping.load() || writer_retry; });
    writer_retry = false;
  }

  void wakeWriter() {
    {
      std::lock_guard lock(mutex);
      writer_retry = true;
    }
    stop_requested.notify_all();
  }

  void wakeSync() {
    if (wake_fd < 0) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(wake_fd, &one, sizeof one);
  }

  // Makes wake_fd quiet again, so that a wake already acted upon does not keep poll() returning.
  void drainWake() {
    if (wake_fd < 0) return;
    std::uint64_t count = 0;
    [[maybe_unused]] auto read = ::read(wake_fd, &count, sizeof count);
  }

  std::size_t queued() {
    std::lock_guard lock(mutex);
    return queue.size();
  }

  // Answers a lock's taker, counting the answer.
  void answer(const std::function<void(LockTake)>& done, LockTake result) {
    (result == LockTake::kTaken    ? locks_taken
     : result == LockTake::kFailed ? lock_failures
                                   : locks_held) += 1;
    done(result);
  }

  // Drops (and counts) the oldest `count` queued jobs, at most all of them: a lock to take is
  // answered kFailed, a lock to give back expires in Redis.
  void dropQueued(std::size_t count = std::numeric_limits<std::size_t>::max()) {
    std::vector<Job> dropped;
    {
      std::lock_guard lock(mutex);
      count = std::min(count, queue.size());
      const auto end = queue.begin() + static_cast<std::ptrdiff_t>(count);
      dropped.assign(std::make_move_iterator(queue.begin()), std::make_move_iterator(end));
      queue.erase(queue.begin(), end);
    }
    for (Job& job : dropped) {
      if (std::holds_alternative<Write>(job)) {
        ++dropped_writes;
      } else {
        forget(std::get<LockCall>(job));
      }
    }
  }

  // A job that was never settled: a write failed, a take is answered kFailed.
  void forget(LockCall& call) {
    if (call.done) {
      answer(call.done, LockTake::kFailed);
    } else {
      held.erase(call.key);  // given back or not, no longer renewed: it expires
    }
  }

  void abandon(std::span<Job> jobs) {
    for (Job& job : jobs) {
      if (std::holds_alternative<Write>(job)) {
        ++write_failures;
      } else {
        forget(std::get<LockCall>(job));
      }
    }
  }

  // The jobs to send next, waiting for some (while locks are held, only until they are due for
  // renewal); empty when the store is stopping or it is time to renew.
  std::vector<Job> nextBatch() {
    std::unique_lock lock(mutex);
    const auto ready = [&] { return stopping.load() || !queue.empty(); };
    if (held.empty()) {
      queue_ready.wait(lock, ready);
    } else {
      queue_ready.wait_until(lock, next_renewal, ready);
    }
    std::vector<Job> batch;
    if (stopping) return batch;
    while (!queue.empty() && batch.size() < kWriteBatch) {
      batch.push_back(std::move(queue.front()));
      queue.pop_front();
    }
    return batch;
  }

  // The writer thread: sends the queued writes; reconnects with backoff while Redis is away,
  // dropping what is queued meanwhile.
  void writeLoop() {
    std::optional<redis::Connection> connection;
    auto retry = kFirstRetry;
    while (!stopping) {
      std::vector<Job> batch;
      try {
        if (!connection) {
          // Only what was queued before this attempt is dropped if it fails: a put made meanwhile
          // (the sync thread back in sync first) waits for the next attempt, which it cuts short.
          const std::size_t queued_before = queued();
          auto opened = redis::Connection::open(address, kTimeouts);
          if (auto* opened_connection = std::get_if<redis::Connection>(&opened)) {
            connection.emplace(std::move(*opened_connection));
            retry = kFirstRetry;
          } else {
            dropQueued(queued_before);
            pauseWriter(retry);
            retry = std::min(retry * 2, kLastRetry);
            continue;
          }
        }
        batch = nextBatch();
        if (batch.empty()) {
          renewIfDue(connection);
          continue;
        }
        // A write that fails on a connection Redis closed (a restart) is sent once more on a new
        // one; a connection that sat idle through a restart is replaced before it is used.
        std::size_t settled = 0;
        for (int attempt = 0; attempt < 2 && settled < batch.size(); ++attempt) {
          if (attempt > 0 || connection->closedByServer()) {
            connection.reset();
            auto opened = redis::Connection::open(address, kTimeouts);
            if (!std::holds_alternative<redis::Connection>(opened)) break;
            connection.emplace(std::move(std::get<redis::Connection>(opened)));
          }
          settled += send(*connection, std::span<Job>(batch).subspan(settled));
        }
        if (settled < batch.size()) {
          abandon(std::span<Job>(batch).subspan(settled));
          connection.reset();
          resync = true;
          wakeSync();
          dropQueued();
        }
        renewIfDue(connection);
      } catch (const std::exception&) {
        // Out of memory, most likely: start over with a new connection, as after an outage. What
        // the batch held is lost: takes time out, locks to give back expire.
        for (Job& job : batch) {
          if (auto* call = std::get_if<LockCall>(&job); call && !call->done) held.erase(call->key);
        }
        connection.reset();
        resync = true;
        wakeSync();
        dropQueued();
        pause(retry);
      }
    }
  }

  // Sends `batch` in one pipeline (a write as MULTI, SET PX, PUBLISH, EXEC; a lock as its
  // script); how many jobs were settled (stored, refused, answered, or skipped as expired) before
  // the connection broke.
  std::size_t send(redis::Connection& connection, std::span<Job> batch) {
    const auto now = Clock::now();
    std::vector<int> replies(batch.size(), 0);
    for (std::size_t i = 0; i < batch.size(); ++i) replies[i] = append(connection, batch[i], now);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (replies[i] == 0) continue;
      std::optional<Reply> last;
      for (int reply = 0; reply < replies[i]; ++reply) {
        auto got = connection.getReply();
        if (!std::holds_alternative<Reply>(got)) return i;
        last = std::get<Reply>(std::move(got));
      }
      settle(batch[i], *last);
    }
    return batch.size();
  }

  // Appends `job`'s commands; how many replies they will get (none for an expired write).
  int append(redis::Connection& connection, const Job& job, Clock::time_point now) {
    if (const auto* call = std::get_if<LockCall>(&job)) {
      if (call->done) {
        const std::string entry_key = prefix + "e:" + call->exact_key;
        connection.appendCommand(
            {"EVAL", kTakeScript, "2", call->key, entry_key, origin, lock_ttl});
      } else {
        connection.appendCommand(
            {"EVAL", kReleaseScript, "1", call->key, origin, locks_channel, call->exact_key});
      }
      return 1;
    }
    const Write& write = std::get<Write>(job);
    const auto ttl = std::chrono::ceil<std::chrono::milliseconds>(write.expires_at - now);
    if (ttl.count() <= 0) return 0;
    const std::string ttl_text = std::to_string(ttl.count());
    const std::string event = encodeEvent({origin, ttl, write.value});
    connection.appendCommand({"MULTI"});
    connection.appendCommand({"SET", write.key, write.value, "PX", ttl_text});
    connection.appendCommand({"PUBLISH", channel, event});
    connection.appendCommand({"EXEC"});
    return 4;
  }

  // What `job`'s last reply means.
  void settle(Job& job, const Reply& reply) {
    if (auto* call = std::get_if<LockCall>(&job)) {
      if (!call->done) {
        held.erase(call->key);
        return;
      }
      if (reply.type == Reply::Type::kArray && reply.elements.size() == 2) {
        load(reply.elements[0], reply.elements[1]);
        return answer(call->done, LockTake::kStored);
      }
      if (reply.type != Reply::Type::kInteger) return answer(call->done, LockTake::kFailed);
      if (reply.integer != 1) return answer(call->done, LockTake::kHeldElsewhere);
      if (held.empty()) next_renewal = std::chrono::steady_clock::now() + kLockRenewal;
      held.insert(call->key);
      return answer(call->done, LockTake::kTaken);
    }
    // EXEC answers [OK, subscriber count]; an error or nil means nothing was stored.
    if (reply.type == Reply::Type::kArray && reply.elements.size() == 2 &&
        isStatusOk(reply.elements[0])) {
      ++writes;
    } else {
      ++write_failures;
    }
  }

  // Keeps the locks this replica holds from expiring while their calls go on; forgets those that
  // are no longer its own (expired while Redis was away, taken since). A broken connection is
  // dropped: the writer makes a new one, and renews on it.
  void renewIfDue(std::optional<redis::Connection>& connection) {
    const auto now = std::chrono::steady_clock::now();
    if (held.empty() || !connection || now < next_renewal) return;
    next_renewal = now + kLockRenewal;
    const std::vector<std::string> keys(held.begin(), held.end());
    for (const std::string& key : keys) {
      connection->appendCommand({"EVAL", kRenewScript, "1", key, origin, lock_ttl});
    }
    for (const std::string& key : keys) {
      auto renewed = connection->getReply();
      auto* reply = std::get_if<Reply>(&renewed);
      if (reply == nullptr) {
        connection.reset();
        return;
      }
      if (reply->type == Reply::Type::kInteger && reply->integer == 0) held.erase(key);
    }
  }

  // The sync thread: one round per connection, until the store stops.
  void syncLoop() {
    auto retry = kFirstRetry;
    bool was_in_sync = false;
    while (!stopping) {
      bool reached = false;
      try {
        reached = syncRound(was_in_sync);
      } catch (const std::exception&) {
        // Out of memory, most likely: treated as an outage.
      }
      in_sync = false;
      if (stopping) break;
      // Whatever the other replicas store from now on is missed until the next scan.
      replaceMirror();
      if (reached) {
        was_in_sync = true;
        retry = kFirstRetry;
      }
      pause(retry);
      retry = std::min(retry * 2, kLastRetry);
    }
  }

  // Subscribes, scans, then applies announcements until the connection breaks, a resync is asked
  // for, or the store stops; whether it got in sync.
  bool syncRound(bool was_in_sync) {
    drainWake();
    resync = false;
    auto opened = redis::Connection::open(address, kTimeouts);
    auto* subscriber = std::get_if<redis::Connection>(&opened);
    if (subscriber == nullptr) return false;
    auto subscribed = subscriber->command({"SUBSCRIBE", channel, locks_channel});
    if (auto* reply = std::get_if<Reply>(&subscribed);
        reply == nullptr || reply->type != Reply::Type::kArray || reply->elements.empty() ||
        reply->elements[0].string != "subscribe") {
      return false;
    }
    {
      auto data = redis::Connection::open(address, kTimeouts);
      if (!std::holds_alternative<redis::Connection>(data)) return false;
      if (!scan(std::get<redis::Connection>(data))) return false;
    }
    in_sync = true;
    wakeWriter();  // in case it is backing off: puts are taken again from now
    if (was_in_sync) ++reconnects;
    // Announcements made during the scan were held by Redis and come now. One may be older than
    // what the scan read for the same key; both are answers to the same question, so either will
    // do.
    while (!stopping && !resync) {
      auto polled = subscriber->pollReply(kSubscriberWait, wake_fd);
      auto* message = std::get_if<std::optional<Reply>>(&polled);
      if (message == nullptr) return true;
      if (*message) {
        apply(**message);
      } else {
        drainWake();
      }
    }
    return true;
  }

  // Every entry under the prefix into the mirror; false when the connection broke or the store
  // is stopping.
  bool scan(redis::Connection& data) {
    const std::string pattern = globEscaped(prefix) + "e:*";
    std::string cursor = "0";
    do {
      if (stopping) return false;
      auto scanned = data.command({"SCAN", cursor, "MATCH", pattern, "COUNT", kScanCount});
      auto* page = std::get_if<Reply>(&scanned);
      if (page == nullptr || page->type != Reply::Type::kArray || page->elements.size() != 2 ||
          page->elements[1].type != Reply::Type::kArray) {
        return false;
      }
      cursor = page->elements[0].string;
      const std::vector<Reply>& keys = page->elements[1].elements;
      for (const Reply& key : keys) {
        data.appendCommand({"GET", key.string});
        data.appendCommand({"PTTL", key.string});
      }
      for (std::size_t i = 0; i < keys.size(); ++i) {
        auto value = data.getReply();
        auto ttl = data.getReply();
        if (!std::holds_alternative<Reply>(value) || !std::holds_alternative<Reply>(ttl)) {
          return false;
        }
        load(std::get<Reply>(value), std::get<Reply>(ttl));
      }
    } while (cursor != "0");
    return true;
  }

  void load(const Reply& value, const Reply& ttl) {
    // Nil or -2: it expired between the SCAN and the GET.
    if (value.type == Reply::Type::kNil || ttl.type != Reply::Type::kInteger || ttl.integer == -2) {
      return;
    }
    if (value.type != Reply::Type::kString) {  // not a string: not ours
      ++malformed;
      return;
    }
    // -1: no TTL (not written by a store); it stays until Redis drops it.
    const Clock::time_point expires_at =
        ttl.integer == -1 ? Clock::time_point::max()
                          : Clock::now() + std::chrono::milliseconds(ttl.integer);
    auto entry = decodeEntry(value.string, expires_at);
    if (!entry || (entry->vector && !dimensionsAgree(entry->vector->size()))) {
      ++malformed;
      return;
    }
    ++loaded;
    putInMirror(std::move(*entry));
  }

  // Wakes who waits for `exact_key` (ReplicaLocks::watch).
  void notifyWatchers(const std::string& exact_key) {
    std::vector<std::shared_ptr<pipeline::Signal>> due;
    {
      std::lock_guard lock(watch_mutex);
      auto [first, last] = watchers.equal_range(exact_key);
      for (auto it = first; it != last; ++it) due.push_back(std::move(it->second));
      watchers.erase(first, last);
    }
    for (const auto& signal : due) signal->fire();
  }

  // A message from the subscription: another replica's entry goes into the mirror; a lock given
  // back wakes who waited for it.
  void apply(const Reply& message) {
    if (message.type != Reply::Type::kArray || message.elements.size() != 3 ||
        message.elements[0].string != "message") {
      return;  // a subscribe confirmation
    }
    if (message.elements[1].string == locks_channel) {
      notifyWatchers(message.elements[2].string);
      return;
    }
    auto event = decodeEvent(message.elements[2].string);
    if (!event) {
      ++malformed;
      return;
    }
    if (event->origin == origin) return;
    auto entry = decodeEntry(event->entry, Clock::now() + event->ttl);
    if (!entry || (entry->vector && !dimensionsAgree(entry->vector->size()))) {
      ++malformed;
      return;
    }
    ++received;
    std::string exact_key = entry->key.exact;
    putInMirror(std::move(*entry));
    notifyWatchers(exact_key);
  }
};

RedisStore::RedisStore(RedisAddress address, std::string key_prefix, std::size_t max_entries,
                       std::size_t max_bytes, std::size_t vector_dimensions)
    : shared_(std::make_unique<Shared>(std::move(address), std::move(key_prefix), max_entries,
                                       max_bytes, vector_dimensions)) {
  shared_->sync = std::thread([shared = shared_.get()] { shared->syncLoop(); });
  shared_->writer = std::thread([shared = shared_.get()] { shared->writeLoop(); });
}

RedisStore::~RedisStore() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->queue_ready.notify_all();
  shared_->stop_requested.notify_all();
  shared_->wakeSync();
  if (shared_->writer.joinable()) shared_->writer.join();
  if (shared_->sync.joinable()) shared_->sync.join();
  shared_->dropQueued();  // answers the takes still queued
}

std::optional<Hit> RedisStore::findExact(const std::string& exact_key, Clock::time_point now) {
  try {
    std::shared_lock lock(shared_->mirror_mutex);
    if (!shared_->in_sync) return std::nullopt;
    return shared_->mirror->findExact(exact_key, now);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<Hit> RedisStore::findSimilar(const std::string& partition, const Vector& vector,
                                           const Facts& facts, float threshold,
                                           Clock::time_point now) {
  try {
    std::shared_lock lock(shared_->mirror_mutex);
    if (!shared_->in_sync) return std::nullopt;
    // A vector of another size would be compared with the entries' past its end.
    const std::size_t dimensions = shared_->dimensions;
    if (dimensions != 0 && vector.size() != dimensions) return std::nullopt;
    return shared_->mirror->findSimilar(partition, vector, facts, threshold, now);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void RedisStore::put(Entry entry) {
  Shared& shared = *shared_;
  try {
    if (entry.expires_at <= Clock::now()) return;
    // While the writer reconnects (the sync thread may be back first) the write waits in the
    // queue: the writer sends it, or drops and counts it if Redis is still away.
    if (!shared.in_sync) {
      ++shared.dropped_writes;
      return;
    }
    if (entry.vector && !shared.dimensionsAgree(entry.vector->size())) entry.vector.reset();
    Job write = Write{shared.prefix + "e:" + entry.key.exact, encodeEntry(entry), entry.expires_at};
    {
      std::lock_guard lock(shared.mutex);
      if (shared.queue.size() >= kQueueLimit) {
        ++shared.dropped_writes;
        return;
      }
      shared.queue.push_back(std::move(write));
    }
    shared.queue_ready.notify_one();
    shared.putInMirror(std::move(entry));
  } catch (const std::exception&) {
    ++shared.dropped_writes;
  }
}

Store::Size RedisStore::size() const {
  std::shared_lock lock(shared_->mirror_mutex);
  return shared_->mirror->size();
}

bool RedisStore::inSync() const { return shared_->in_sync; }

void RedisStore::tryLock(const std::string& exact_key, std::function<void(LockTake)> done) {
  Shared& shared = *shared_;
  try {
    if (!shared.in_sync) return shared.answer(done, LockTake::kFailed);
    {
      std::lock_guard lock(shared.mutex);
      if (shared.queue.size() < kQueueLimit) {
        shared.queue.push_back(LockCall{shared.prefix + "lock:" + exact_key, exact_key, done});
        done = nullptr;
      }
    }
    if (done) return shared.answer(done, LockTake::kFailed);
    shared.queue_ready.notify_one();
  } catch (const std::exception&) {
    if (done) shared.answer(done, LockTake::kFailed);
  }
}

void RedisStore::unlock(const std::string& exact_key) {
  Shared& shared = *shared_;
  try {
    {
      std::lock_guard lock(shared.mutex);
      // Past the limit the lock is not given back: it expires in kLockTtl.
      if (shared.queue.size() >= kQueueLimit) return;
      shared.queue.push_back(LockCall{shared.prefix + "lock:" + exact_key, exact_key, {}});
    }
    shared.queue_ready.notify_one();
  } catch (const std::exception&) {
  }
}

std::shared_ptr<pipeline::Signal> RedisStore::watch(const std::string& exact_key) {
  auto signal = std::make_shared<pipeline::Signal>();
  std::lock_guard lock(shared_->watch_mutex);
  shared_->watchers.emplace(exact_key, signal);
  return signal;
}

void RedisStore::unwatch(const std::string& exact_key,
                         const std::shared_ptr<pipeline::Signal>& signal) {
  std::lock_guard lock(shared_->watch_mutex);
  auto [first, last] = shared_->watchers.equal_range(exact_key);
  for (auto it = first; it != last; ++it) {
    if (it->second == signal) {
      shared_->watchers.erase(it);
      return;
    }
  }
}

RedisStore::Stats RedisStore::stats() const {
  const Shared& shared = *shared_;
  return Stats{
      shared.in_sync.load(),        shared.writes.load(),       shared.write_failures.load(),
      shared.dropped_writes.load(), shared.loaded.load(),       shared.received.load(),
      shared.malformed.load(),      shared.reconnects.load(),   shared.locks_taken.load(),
      shared.locks_held.load(),     shared.lock_failures.load()};
}

}  // namespace costgate::cache
