#include "costgate/gateway/live_gateway.h"
#include "filters/registry.h"

#include <spdlog/spdlog.h>

#include "costgate/config/load.h"
#include "costgate/redis/async_connection.h"

namespace costgate::gateway {

bool LiveGateway::FileStamp::operator==(const FileStamp& other) const {
  return modified.tv_sec == other.modified.tv_sec && modified.tv_nsec == other.modified.tv_nsec &&
         size == other.size && inode == other.inode;
}

std::optional<LiveGateway::FileStamp> LiveGateway::stampOf(const std::string& path) {
  struct stat status {};
  // stat follows symbolic links: a Kubernetes ConfigMap swaps the link's target.
  if (::stat(path.c_str(), &status) != 0) return std::nullopt;
  return FileStamp{status.st_mtim, status.st_size, status.st_ino};
}

LiveGateway::LiveGateway(std::string path, const config::GatewayConfig& first)
    : path_(std::move(path)), records_(first.access_log.path) {}

std::variant<std::unique_ptr<LiveGateway>, config::ConfigError> LiveGateway::open(
    std::string path) {
  auto stamp = stampOf(path);
  auto loaded = config::loadFile(path);
  if (auto* error = std::get_if<config::ConfigError>(&loaded)) return std::move(*error);
  auto& config = std::get<config::GatewayConfig>(loaded);
  std::unique_ptr<LiveGateway> live(new LiveGateway(std::move(path), config));
  auto built = live->build(std::move(config));
  if (auto* error = std::get_if<config::ConfigError>(&built)) return std::move(*error);
  live->current_ = std::get<std::shared_ptr<Gateway>>(std::move(built));
  live->loaded_stamp_ = stamp;
  return live;
}

std::variant<std::shared_ptr<Gateway>, config::ConfigError> LiveGateway::build(
    config::GatewayConfig config) {
  auto chain = pipeline::buildChain(config, filters::registry(),
                                    {records_.kept(), records_.metrics(),
                                     // Filters reach Redis through their own loop's connection.
                                     &redis::AsyncConnection::onEachLoop});
  if (auto* error = std::get_if<config::ConfigError>(&chain)) return std::move(*error);
  try {
    return std::make_shared<Gateway>(std::move(config), std::get<pipeline::Chain>(std::move(chain)),
                                     records_);
  } catch (const std::exception& e) {  // a backend's TLS files
    config::ConfigError error;
    error.where.file = path_;
    error.message = e.what();
    return error;
  }
}

std::shared_ptr<Gateway> LiveGateway::load() const {
  std::lock_guard lock(current_mutex_);
  return current_;
}

// Not a coroutine: the configuration's handler keeps it alive for the request (Gateway::handle).
server::Task<> LiveGateway::handle(server::Request& request, server::ResponseWriter& writer) {
  return load()->handle(request, writer);
}

namespace {

// The server settings the listening sockets were made with: who may call (allowed origins and
// hosts) is each configuration's own and changes with a reload.
config::ServerConfig listening(config::ServerConfig server) {
  server.allowed_origins.clear();
  server.allowed_hosts.clear();
  return server;
}

}  // namespace

LiveGateway::ReloadOutcome LiveGateway::reload() {
  ReloadOutcome outcome;
  // Stamped before reading: a write while we read shows as a change at the next check.
  loaded_stamp_ = stampOf(path_);
  auto loaded = config::loadFile(path_);
  std::variant<std::shared_ptr<Gateway>, config::ConfigError> built = config::ConfigError();
  if (auto* error = std::get_if<config::ConfigError>(&loaded)) {
    built = std::move(*error);
  } else {
    auto& config = std::get<config::GatewayConfig>(loaded);
    const config::GatewayConfig& before = load()->config();
    if (!(listening(config.server) == listening(before.server)))
      outcome.restart.push_back("server");
    if (config.access_log.path != before.access_log.path) outcome.restart.push_back("access_log");
    const std::string log_level = config.log_level;
    built = build(std::move(config));
    if (std::holds_alternative<std::shared_ptr<Gateway>>(built)) {
      spdlog::default_logger()->set_level(spdlog::level::from_str(log_level));
    }
  }
  if (auto* error = std::get_if<config::ConfigError>(&built)) {
    outcome.error = error->describe();
    outcome.restart.clear();
    records_.metrics().countConfigReload(false);
    return outcome;
  }
  {
    std::lock_guard lock(current_mutex_);
    std::swap(current_, std::get<std::shared_ptr<Gateway>>(built));
  }
  retired_.push_back(std::get<std::shared_ptr<Gateway>>(std::move(built)));
  records_.metrics().countConfigReload(true);
  outcome.applied = true;
  return outcome;
}

bool LiveGateway::fileChanged() const { return stampOf(path_) != loaded_stamp_; }

void LiveGateway::releaseRetired() {
  // Only retired_ can still hand out these pointers, so a count of one cannot grow again.
  std::erase_if(retired_,
                [](const std::shared_ptr<Gateway>& gateway) { return gateway.use_count() == 1; });
}

}  // namespace costgate::gateway
