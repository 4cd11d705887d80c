#include "costgate/log/access_log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace costgate::log {

void appendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
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
        if (byte < 0x20 || byte == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

namespace {

void field(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(',');
  appendJsonString(out, name);
  out.push_back(':');
  appendJsonString(out, value);
}

void field(std::string& out, std::string_view name, long long value) {
  out.push_back(',');
  appendJsonString(out, name);
  out.push_back(':');
  out += std::to_string(value);
}

// "2026-11-28T18:30:13.402Z": the part up to the seconds is formatted once a second per thread.
void appendTimestamp(std::string& out) {
  thread_local std::time_t cached_second = -1;
  thread_local char cached_prefix[32];
  auto now = std::chrono::system_clock::now();
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  std::time_t second = static_cast<std::time_t>(millis.count() / 1000);
  if (second != cached_second) {
    std::tm utc{};
    gmtime_r(&second, &utc);
    std::strftime(cached_prefix, sizeof(cached_prefix), "%Y-%m-%dT%H:%M:%S", &utc);
    cached_second = second;
  }
  char fraction[8];
  std::snprintf(fraction, sizeof(fraction), ".%03dZ", static_cast<int>(millis.count() % 1000));
  out.append(cached_prefix).append(fraction);
}

}  // namespace

std::string AccessLog::format(const server::ExchangeRecord& record) {
  std::string out;
  out.reserve(384);
  out.append("{\"ts\":\"");
  appendTimestamp(out);
  out.append("\",\"request_id\":");
  appendJsonString(out, record.request_id);
  field(out, "method", record.method);
  field(out, "path", record.target);
  field(out, "route", record.route);
  field(out, "model", record.model);
  field(out, "backend", record.backend);
  field(out, "status", record.status);
  out += record.stream ? ",\"stream\":true" : ",\"stream\":false";
  field(out, "latency_us", record.latency.count());
  field(out, "upstream_us", record.upstream_latency.count());
  field(out, "bytes_in", static_cast<long long>(record.bytes_in));
  field(out, "bytes_out", static_cast<long long>(record.bytes_out));
  for (const auto& [name, value] : record.annotations) field(out, name, value);
  if (!record.error.empty()) field(out, "error", record.error);
  out.push_back('}');
  return out;
}

AccessLog::AccessLog(const std::string& path) {
  if (path.empty()) return;
  if (path == "-") {
    logger_ = std::make_shared<spdlog::logger>("access",
                                               std::make_shared<spdlog::sinks::stdout_sink_mt>());
  } else {
    logger_ = std::make_shared<spdlog::logger>(
        "access", std::make_shared<spdlog::sinks::basic_file_sink_mt>(path));
  }
  // format() writes the whole line, timestamp included, cheaper than spdlog's pattern engine.
  logger_->set_pattern("%v");
  logger_->set_level(spdlog::level::info);
  // A file is written in blocks and flushed each second, stdout line by line (it is usually a
  // pipe that someone reads as it comes).
  if (path == "-") {
    logger_->flush_on(spdlog::level::info);
  } else {
    static std::atomic<int> instances{0};
    logger_ = logger_->clone("access-" + std::to_string(instances++));
    spdlog::register_logger(logger_);
    spdlog::flush_every(std::chrono::seconds(1));
  }
}

AccessLog::~AccessLog() {
  if (logger_ && logger_->name() != "access") spdlog::drop(logger_->name());
}

void AccessLog::write(const server::ExchangeRecord& record) const {
  if (!logger_) return;
  logger_->info(format(record));
}

}  // namespace costgate::log
