#include "costgate/log/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace costgate::log {

namespace {

// Control characters, DEL, '"' and '\\' are escaped; every other byte is copied as it is.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 0x20; ++c) table[c] = true;
  table['"'] = table['\\'] = table[0x7f] = true;
  return table;
}();

}  // namespace

void appendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  // Copy runs of characters that need no escaping in one append each.
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (!kNeedsEscape[byte]) continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (byte) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xf]);
    }
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

namespace {

// `key` is ours, with its punctuation: `,"name":`. It needs no escaping.
void field(std::string& out, std::string_view key, std::string_view value) {
  out.append(key);
  appendJsonString(out, value);
}

// For values that cannot hold a character JSON must escape: the request id (makeRequestId
// admits only [A-Za-z0-9._:-]), the method (an HTTP token) and the route (our own names).
void plainField(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append(1, '"').append(value).append(1, '"');
}

void field(std::string& out, std::string_view key, long long value) {
  out.append(key);
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
  out.append(digits, end);
}

// "2026-11-28T18:30:13.402Z": the part up to the seconds is formatted once a second per thread.
void appendTimestamp(std::string& out, std::chrono::system_clock::time_point now) {
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
  const char fraction[] = {'.', static_cast<char>('0' + millisecond / 100),
                           static_cast<char>('0' + millisecond / 10 % 10),
                           static_cast<char>('0' + millisecond % 10), 'Z'};
  out.append(cached_prefix).append(fraction, sizeof(fraction));
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
  out.append("{\"ts\":\"");
  appendTimestamp(out, at);
  out.append("\"");
  plainField(out, R"(,"request_id":)", record.request_id);
  plainField(out, R"(,"method":)", record.method);
  field(out, R"(,"path":)", record.target);
  plainField(out, R"(,"route":)", record.route);
  field(out, R"(,"model":)", record.model);
  field(out, R"(,"backend":)", record.backend);
  field(out, R"(,"status":)", record.status);
  out += record.stream ? ",\"stream\":true" : ",\"stream\":false";
  field(out, R"(,"latency_us":)", record.latency.count());
  field(out, R"(,"upstream_us":)", record.upstream_latency.count());
  field(out, R"(,"bytes_in":)", static_cast<long long>(record.bytes_in));
  field(out, R"(,"bytes_out":)", static_cast<long long>(record.bytes_out));
  if (record.usage) {
    field(out, R"(,"tokens_in":)", static_cast<long long>(record.usage->prompt_tokens));
    field(out, R"(,"tokens_out":)", static_cast<long long>(record.usage->completion_tokens));
    field(out, R"(,"cached_tokens":)", static_cast<long long>(record.usage->cached_tokens));
    field(out, R"(,"reasoning_tokens":)", static_cast<long long>(record.usage->reasoning_tokens));
    plainField(out, R"(,"usage_source":)", record.usage_source);
  }
  if (record.prompt_tokens_counted) {
    field(out, R"(,"tokens_in_counted":)", static_cast<long long>(*record.prompt_tokens_counted));
  }
  if (!record.token_savings.empty()) {
    long long saved = 0;
    std::string policies;
    for (const auto& saving : record.token_savings) {
      saved += saving.tokens;
      policies.append(policies.empty() ? "" : ",").append(saving.filter).append(":");
      policies.append(saving.policy);
    }
    field(out, R"(,"tokens_saved":)", saved);
    field(out, R"(,"policies":)", policies);
  }
  // Exact decimal text (a JSON number): readers that parse it as a decimal lose nothing.
  if (record.cost) out.append(R"(,"cost_usd":)").append(pricing::formatUsd(*record.cost));
  if (record.saved) out.append(R"(,"saved_usd":)").append(pricing::formatUsd(*record.saved));
  if (!record.side_calls.empty()) {
    out.append(R"(,"side_calls":[)");
    for (const auto& side : record.side_calls) {
      if (&side != &record.side_calls.front()) out.push_back(',');
      out.append(R"({"model":)");
      appendJsonString(out, side.model);
      field(out, R"(,"tokens_in":)", static_cast<long long>(side.usage.prompt_tokens));
      field(out, R"(,"tokens_out":)", static_cast<long long>(side.usage.completion_tokens));
      if (side.cost) out.append(R"(,"cost_usd":)").append(pricing::formatUsd(*side.cost));
      out.push_back('}');
    }
    out.push_back(']');
  }
  for (const auto& [name, json] : record.fields.all()) {
    out.push_back(',');
    appendJsonString(out, name);  // the writers' names: escaped like any other text
    out.push_back(':');
    out.append(json);  // made by log::Fields, valid JSON
  }
  if (!record.error.empty()) field(out, R"(,"error":)", record.error);
  out.push_back('}');
}

namespace {

// Appends whole lines to a file descriptor in large blocks: one write(2) per 64 KiB of log, or per
// line when `flush_each_line` (stdout, usually a pipe someone reads as it comes). Lines are the
// finished JSON from AccessLog::format, so no pattern formatting happens here.
class LineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  LineSink(int fd, bool owns_fd, bool flush_each_line)
      : fd_(fd), owns_fd_(owns_fd), flush_each_line_(flush_each_line) {
    buffer_.reserve(kBlockBytes + 1024);
  }
  ~LineSink() override {
    flush_();
    if (owns_fd_) ::close(fd_);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    buffer_.append(message.payload.data(), message.payload.size()).push_back('\n');
    if (flush_each_line_ || buffer_.size() >= kBlockBytes) flush_();
  }
  void flush_() override {
    std::size_t written = 0;
    while (written < buffer_.size()) {
      ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // a full disk or closed pipe must not stall requests: drop the block
      written += static_cast<std::size_t>(n);
    }
    buffer_.clear();
  }

 private:
  static constexpr std::size_t kBlockBytes = 64 * 1024;
  int fd_;
  bool owns_fd_;
  bool flush_each_line_;
  std::string buffer_;
};

}  // namespace

AccessLog::AccessLog(const std::string& path) {
  if (path.empty()) return;
  std::shared_ptr<LineSink> sink;
  if (path == "-") {
    sink = std::make_shared<LineSink>(STDOUT_FILENO, false, true);
  } else {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      throw std::runtime_error("cannot open access log '" + path + "': " + std::strerror(errno));
    }
    sink = std::make_shared<LineSink>(fd, true, false);
  }
  static std::atomic<int> instances{0};
  logger_ = std::make_shared<spdlog::logger>("access-" + std::to_string(instances++), sink);
  logger_->set_level(spdlog::level::info);
  // A file is flushed at least once a second so that a quiet gateway's lines still appear.
  if (path != "-") {
    spdlog::register_logger(logger_);
    spdlog::flush_every(std::chrono::seconds(1));
  }
}

AccessLog::~AccessLog() {
  if (logger_) spdlog::drop(logger_->name());
}

void AccessLog::write(const server::ExchangeRecord& record) const {
  if (!logger_) return;
  // One clock reading serves spdlog's record and the line's own timestamp.
  auto now = std::chrono::system_clock::now();
  thread_local std::string line;  // reused: formatting allocates nothing once warm
  line.clear();
  appendLine(line, record, now);
  logger_->log(now, spdlog::source_loc{}, spdlog::level::info, line);
}

}  // namespace costgate::log
