// The broker of one node: its shards' brokers, the settings they share and
// the runtime that carries work between them.
//
// Thread safety: constructed and started on the main thread; afterwards each
// ShardBroker is touched only on its own shard, and the rest is read-only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "broker/session_settings.hpp"
#include "broker/shard_broker.hpp"
#include "broker/transport.hpp"

namespace roadmq::broker {

struct NodeOptions {
  std::string name = "roadmq@127.0.0.1";
  std::string version;
  SessionSettings session;
  SharedStrategy shared_strategy = SharedStrategy::round_robin;
  std::size_t max_retained_messages = 0;     // 0: no cap
  std::size_t max_retained_payload = 1024 * 1024;
  bool retainer_enabled = true;
  std::chrono::milliseconds idle_timeout{15000};   // socket open, no CONNECT yet
  std::chrono::milliseconds sys_interval{60000};   // $SYS publish period; 0: off
  bool sys_client_connected = true;
  bool sys_client_disconnected = true;
};

class Node {
 public:
  Node(NodeOptions options, ShardRuntime& runtime);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const NodeOptions& options() const noexcept { return options_; }
  const SessionSettings& settings() const noexcept { return options_.session; }
  ShardRuntime& runtime() noexcept { return runtime_; }
  std::uint32_t shard_count() const noexcept { return static_cast<std::uint32_t>(shards_.size()); }

  // Only on that shard's thread.
  ShardBroker& shard(ShardId id) noexcept { return *shards_[id.value]; }

  // Every client id has one home shard, so one shard serialises its
  // connects, takeovers and session state without locks.
  ShardId home_shard(std::string_view client_id) const noexcept;

  std::uint64_t started_at_ms() const noexcept { return started_at_ms_; }

 private:
  NodeOptions options_;
  ShardRuntime& runtime_;
  std::vector<std::unique_ptr<ShardBroker>> shards_;
  std::uint64_t started_at_ms_ = 0;
};

}  // namespace roadmq::broker
