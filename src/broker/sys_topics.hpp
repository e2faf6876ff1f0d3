// The $SYS/brokers/{node}/... topics, published every sys_topics.sys_msg_interval,
// and the node-wide stats gather they (and later the REST API) use.
//
// Thread safety: collect_stats() may be called on any shard; its callback runs
// on the shard that called it. SysPublisher lives on shard 0.
#pragma once

#include <functional>

#include "broker/shard_broker.hpp"

namespace roadmq::broker {

class Node;

// Asks every shard for its counters (by message, no lock) and calls `done`
// with their sum, on the calling shard.
void collect_stats(Node& node, ShardId caller, std::function<void(const ShardStats&)> done);

class SysPublisher {
 public:
  explicit SysPublisher(Node& node) : node_(node) {}
  // Gathers the stats and publishes one message per $SYS topic from shard 0.
  void publish_now();

 private:
  void publish(const ShardStats& total);
  Node& node_;
  std::uint64_t connections_max_ = 0;
};

}  // namespace roadmq::broker
