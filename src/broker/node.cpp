#include "broker/node.hpp"

#include "broker/presence.hpp"

namespace roadmq::broker {

Node::Node(NodeOptions options, ShardRuntime& runtime)
    : options_(std::move(options)), runtime_(runtime), started_at_ms_(wall_clock_ms()) {
  const auto n = runtime_.shard_count();
  shards_.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<ShardBroker>(*this, ShardId{i}));
}

ShardId Node::home_shard(std::string_view client_id) const noexcept {
  // FNV-1a: stable across runs and builds, so a restarted node puts a
  // client's persisted session on the same shard.
  std::uint64_t h = 1469598103934665603ull;
  for (const char c : client_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return ShardId{static_cast<std::uint32_t>(h % shards_.size())};
}

}  // namespace roadmq::broker
