#include "costgate/log/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace costgate::log {

namespace {

// Control characters, DEL, '"' and '\\' are escaped; every other byte is copied as it is.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = true;
  table['"'] = table['\\'] = table[0x7f] = true;
  return table;
}();

constexpr char kHex[] = "0123456789abcdef";

// Writes text at the end of a string through a pointer: each write makes sure of its room with
// one comparison, keys (literals) are copied with copies of constant size, which the compiler
// inlines, and the string is cut to what was written at the end. std::string::append would
// check, copy through a call and store the size for every piece of a line.
class LineWriter {
 public:
  // Writes after the first `from` bytes of `out`, which keeps them, with `room` bytes to start
  // with.
  LineWriter(std::string& out, std::size_t from, std::size_t room = 1024) : out_(out) {
    if (out_.size() < from + room) out_.resize(from + room);
    at_ = out_.data() + from;
    limit_ = out_.data() + out_.size();
  }
  // Where the line ends in the string (the string itself may be longer).
  std::size_t size() const { return static_cast<std::size_t>(at_ - out_.data()); }

  // A literal: a key with its punctuation, e.g. `,"status":`.
  template <std::size_t N>
  void literal(const char (&text)[N]) {
    room(N - 1);
    std::memcpy(at_, text, N - 1);
    at_ += N - 1;
  }
  void text(std::string_view text) {
    room(text.size());
    copy(text);
  }
  // For values that cannot hold a character JSON must escape: the request id (makeRequestId
  // admits only [A-Za-z0-9._:-]), the method (an HTTP token) and the route (our own names).
  void plain(std::string_view value) {
    room(value.size() + 2);
    *at_++ = '"';
    copy(value);
    *at_++ = '"';
  }
  // `value` as a quoted JSON string: control characters, DEL, '"' and '\\' escaped, every other
  // byte copied as it is.
  void string(std::string_view value) {
    room(value.size() * 6 + 2);  // "\u00XX" at most for each byte
    *at_++ = '"';
    for (char c : value) {
      const auto byte = static_cast<unsigned char>(c);
      if (!kNeedsEscape[byte]) {
        *at_++ = c;
        continue;
      }
      *at_++ = '\\';
      switch (byte) {
        case '"':
        case '\\':
          *at_++ = c;
          break;
        case '\n':
          *at_++ = 'n';
          break;
        case '\r':
          *at_++ = 'r';
          break;
        case '\t':
          *at_++ = 't';
          break;
        default:
          std::memcpy(at_, "u00", 3);
          at_[3] = kHex[byte >> 4];
          at_[4] = kHex[byte & 0xf];
          at_ += 5;
      }
    }
    *at_++ = '"';
  }
  void number(long long value) {
    room(24);
    at_ = std::to_chars(at_, at_ + 24, value).ptr;
  }

 private:
  // memcpy from an empty view's null data() is undefined even for zero bytes.
  void copy(std::string_view bytes) {
    if (bytes.empty()) return;
    std::memcpy(at_, bytes.data(), bytes.size());
    at_ += bytes.size();
  }
  void room(std::size_t bytes) {
    if (static_cast<std::size_t>(limit_ - at_) < bytes) grow(bytes);
  }
  [[gnu::noinline]] void grow(std::size_t bytes) {
    const std::size_t used = size();
    out_.resize(std::max(out_.size() * 2, used + bytes));
    at_ = out_.data() + used;
    limit_ = out_.data() + out_.size();
  }

  std::string& out_;
  char* at_;
  char* limit_;
};

}  // namespace

void appendJsonString(std::string& out, std::string_view text) {
  LineWriter writer(out, out.size(), text.size() * 6 + 2);
  writer.string(text);
  out.resize(writer.size());
}

namespace {

// "2026-11-28T18:30:13.402Z": the part up to the seconds is formatted once a second per thread.
void writeTimestamp(LineWriter& out, std::chrono::system_clock::time_point now) {
  thread_local std::time_t cached_second = -1;
  thread_local char cached_prefix[32];
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  std::time_t second = static_cast<std::time_t>(millis.count() / 1000);
  if (second != cached_second) {
    std::tm utc{};
    gmtime_r(&second, &utc);
    std::strftime(cached_prefix, sizeof(cached_prefix), "%Y-%m-%dT%H:%M:%S", &utc);
    cached_second = second;
  }
  auto millisecond = static_cast<int>(millis.count() % 1000);
  const char fraction[] = {'.',
                           static_cast<char>('0' + millisecond / 100),
                           static_cast<char>('0' + millisecond / 10 % 10),
                           static_cast<char>('0' + millisecond % 10),
                           'Z',
                           '\0'};
  out.text(cached_prefix);
  out.literal(fraction);
}

// The request target with each query value replaced: `/v1/models?key=REDACTED&page=REDACTED`.
// Values are where clients put credentials (`?key=`, `?api-key=`, signed URLs' `sig=`), and a log
// is read by more people than the gateway's keys are; the names stay, so a log still says what
// was asked. A parameter without '=' is redacted whole: it may be a bare token. Only the log is
// redacted: routing and the record keep the target as sent.
void writeTarget(LineWriter& out, std::string_view target) {
  const std::size_t query = target.find('?');
  if (query == std::string_view::npos) {
    out.string(target);
    return;
  }
  constexpr std::string_view kRedacted = "REDACTED";
  std::string redacted(target.substr(0, query + 1));
  std::string_view rest = target.substr(query + 1);
  for (;;) {
    const std::size_t end = rest.find('&');
    const std::string_view parameter = rest.substr(0, end);
    const std::size_t equals = parameter.find('=');
    if (equals != std::string_view::npos) {
      redacted.append(parameter.substr(0, equals + 1));
      if (equals + 1 < parameter.size()) redacted.append(kRedacted);
    } else if (!parameter.empty()) {
      redacted.append(kRedacted);
    }
    if (end == std::string_view::npos) break;
    redacted += '&';
    rest.remove_prefix(end + 1);
  }
  out.string(redacted);
}

// The line, written after what `out` already holds.
void writeLine(LineWriter& out, const server::ExchangeRecord& record,
               std::chrono::system_clock::time_point at) {
  out.literal("{\"ts\":\"");
  writeTimestamp(out, at);
  out.literal("\",\"request_id\":");
  out.plain(record.request_id);
  out.literal(",\"method\":");
  out.plain(record.method);
  out.literal(",\"path\":");
  writeTarget(out, record.target);
  out.literal(",\"route\":");
  out.plain(record.route);
  out.literal(",\"model\":");
  out.string(record.model);
  out.literal(",\"backend\":");
  out.string(record.backend);
  out.literal(",\"status\":");
  out.number(record.status);
  if (record.stream) {
    out.literal(",\"stream\":true");
  } else {
    out.literal(",\"stream\":false");
  }
  out.literal(",\"latency_us\":");
  out.number(record.latency.count());
  out.literal(",\"upstream_us\":");
  out.number(record.upstream_latency.count());
  if (record.time_to_first_token.count() > 0) {
    out.literal(",\"first_token_us\":");
    out.number(record.time_to_first_token.count());
  }
  out.literal(",\"bytes_in\":");
  out.number(static_cast<long long>(record.bytes_in));
  out.literal(",\"bytes_out\":");
  out.number(static_cast<long long>(record.bytes_out));
  if (record.usage) {
    out.literal(",\"tokens_in\":");
    out.number(static_cast<long long>(record.usage->prompt_tokens));
    out.literal(",\"tokens_out\":");
    out.number(static_cast<long long>(record.usage->completion_tokens));
    out.literal(",\"cached_tokens\":");
    out.number(static_cast<long long>(record.usage->cached_tokens));
    out.literal(",\"reasoning_tokens\":");
    out.number(static_cast<long long>(record.usage->reasoning_tokens));
    out.literal(",\"usage_source\":");
    out.plain(record.usage_source);
  }
  if (record.prompt_tokens_counted) {
    out.literal(",\"tokens_in_counted\":");
    out.number(static_cast<long long>(*record.prompt_tokens_counted));
  }
  if (!record.token_savings.empty()) {
    long long saved = 0;
    std::string policies;
    for (const auto& saving : record.token_savings) {
      saved += saving.tokens;
      policies.append(policies.empty() ? "" : ",").append(saving.filter).append(":");
      policies.append(saving.policy);
    }
    out.literal(",\"tokens_saved\":");
    out.number(saved);
    out.literal(",\"policies\":");
    out.string(policies);
  }
  // Exact decimal text (a JSON number): readers that parse it as a decimal lose nothing.
  if (record.cost) {
    out.literal(",\"cost_usd\":");
    out.text(pricing::formatUsd(*record.cost));
  }
  if (record.saved) {
    out.literal(",\"saved_usd\":");
    out.text(pricing::formatUsd(*record.saved));
  }
  if (!record.side_calls.empty()) {
    out.literal(",\"side_calls\":[");
    for (const auto& side : record.side_calls) {
      if (&side != &record.side_calls.front()) out.literal(",");
      out.literal("{\"model\":");
      out.string(side.model);
      out.literal(",\"tokens_in\":");
      out.number(static_cast<long long>(side.usage.prompt_tokens));
      out.literal(",\"tokens_out\":");
      out.number(static_cast<long long>(side.usage.completion_tokens));
      if (side.usage.cached_tokens > 0) {
        out.literal(",\"cached_tokens\":");
        out.number(static_cast<long long>(side.usage.cached_tokens));
      }
      if (side.cost) {
        out.literal(",\"cost_usd\":");
        out.text(pricing::formatUsd(*side.cost));
      }
      out.literal(",\"usage_source\":");
      out.string(side.usage_source);
      out.literal("}");
    }
    out.literal("]");
  }
  for (const auto& [name, json] : record.fields.all()) {
    out.literal(",");
    out.string(name);  // the writers' names: escaped like any other text
    out.literal(":");
    out.text(json);  // made by log::Fields: valid JSON
  }
  if (!record.error.empty()) {
    out.literal(",\"error\":");
    out.string(record.error);
  }
  out.literal("}");
}

}  // namespace

std::string AccessLog::format(const server::ExchangeRecord& record,
                              std::chrono::system_clock::time_point at) {
  std::string out;
  appendLine(out, record, at);
  return out;
}

void AccessLog::appendLine(std::string& out, const server::ExchangeRecord& record,
                           std::chrono::system_clock::time_point at) {
  LineWriter writer(out, out.size());
  writeLine(writer, record, at);
  out.resize(writer.size());
}

// Where the lines go. stdout (usually a pipe someone reads as it comes) gets each line at once,
// whole, under one lock. A file gets them in blocks of 64 KiB, one block per thread, so that
// threads never wait on each other for a line: the owner appends under its block's own lock
// (uncontended but for the flusher), and writes the block out when it is full. A flusher thread
// writes every block out once a second, so that a quiet gateway's lines still appear.
struct AccessLog::Output {
  struct Block {
    std::mutex mutex;
    std::string bytes;
  };

  Output(int fd, bool owns_fd, bool line_by_line)
      : fd(fd), owns_fd(owns_fd), line_by_line(line_by_line) {
    if (!line_by_line) flusher = std::thread([this] { flushEverySecond(); });
  }
  ~Output() {
    {
      std::lock_guard lock(stop_mutex);
      stopping = true;
    }
    stop.notify_all();
    if (flusher.joinable()) flusher.join();
    for (auto& block : blocks) writeOut(block->bytes);
    if (owns_fd) ::close(fd);
  }

  // `line` ends with its newline.
  void append(std::string_view line) {
    if (line_by_line) {
      std::lock_guard lock(line_mutex);
      writeAll(line);
      return;
    }
    Block& block = ownBlock();
    std::lock_guard lock(block.mutex);
    block.bytes.append(line);
    if (block.bytes.size() >= kBlockBytes) writeOut(block.bytes);
  }

  // This thread's block, made at its first line. The cache names the Output by a serial number,
  // never reused, so a thread cannot reach a block of an Output that is gone.
  Block& ownBlock() {
    thread_local std::uint64_t cached_serial = 0;
    thread_local Block* cached = nullptr;
    if (cached_serial == serial) return *cached;
    std::lock_guard lock(blocks_mutex);
    blocks.push_back(std::make_unique<Block>());
    blocks.back()->bytes.reserve(kBlockBytes + 4096);
    cached_serial = serial;
    cached = blocks.back().get();
    return *cached;
  }

  void flushEverySecond() {
    std::unique_lock lock(stop_mutex);
    while (!stop.wait_for(lock, std::chrono::seconds(1), [this] { return stopping; })) {
      std::lock_guard blocks_lock(blocks_mutex);
      for (auto& block : blocks) {
        std::lock_guard block_lock(block->mutex);
        writeOut(block->bytes);
      }
    }
  }

  void writeOut(std::string& bytes) const {
    writeAll(bytes);
    bytes.clear();
  }
  // A full disk or closed pipe must not stall requests: what cannot be written is dropped.
  void writeAll(std::string_view bytes) const {
    std::size_t written = 0;
    while (written < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
  }

  static constexpr std::size_t kBlockBytes = 64 * 1024;
  static inline std::atomic<std::uint64_t> next_serial{1};
  const int fd;
  const bool owns_fd;
  const bool line_by_line;
  const std::uint64_t serial = next_serial++;
  std::mutex line_mutex;
  std::mutex blocks_mutex;
  std::vector<std::unique_ptr<Block>> blocks;
  std::mutex stop_mutex;
  std::condition_variable stop;
  bool stopping = false;
  std::thread flusher;
};

AccessLog::AccessLog(const std::string& path) {
  if (path.empty()) return;
  if (path == "-") {
    output_ = std::make_unique<Output>(STDOUT_FILENO, false, true);
    return;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error("cannot open access log '" + path + "': " + std::strerror(errno));
  }
  output_ = std::make_unique<Output>(fd, true, false);
}

AccessLog::~AccessLog() = default;

void AccessLog::write(const server::ExchangeRecord& record) const {
  if (!output_) return;
  // Reused, and never cut: formatting allocates and clears nothing once warm.
  thread_local std::string line;
  LineWriter writer(line, 0);
  writeLine(writer, record, std::chrono::system_clock::now());
  writer.literal("\n");
  output_->append(std::string_view(line.data(), writer.size()));
}

}  // namespace costgate::log
