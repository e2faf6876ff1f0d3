#include "broker/sys_topics.hpp"

#include <ctime>
#include <memory>

#include "broker/node.hpp"
#include "broker/presence.hpp"

namespace roadmq::broker {

void collect_stats(Node& node, ShardId caller, std::function<void(const ShardStats&)> done) {
  struct Gather {
    ShardStats total;
    std::uint32_t waiting;
    std::function<void(const ShardStats&)> done;
  };
  auto g = std::make_shared<Gather>(Gather{{}, node.shard_count(), std::move(done)});
  for (std::uint32_t s = 0; s < node.shard_count(); ++s) {
    node.runtime().post(ShardId{s}, [&node, s, caller, g] {
      ShardStats part = node.shard(ShardId{s}).stats();
      // The sum is only touched on the caller's shard.
      node.runtime().post(caller, [g, part] {
        g->total += part;
        if (--g->waiting == 0) g->done(g->total);
      });
    });
  }
}

void SysPublisher::publish_now() {
  collect_stats(node_, ShardId{0}, [this](const ShardStats& total) { publish(total); });
}

void SysPublisher::publish(const ShardStats& t) {
  if (t.connections > connections_max_) connections_max_ = t.connections;
  const auto& node = node_.options().name;
  const std::string base = "$SYS/brokers/" + node + "/";
  const auto now_ms = wall_clock_ms();
  const auto uptime_s = (now_ms - node_.started_at_ms()) / 1000;

  char date[40];
  const std::time_t secs = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);

  const std::pair<std::string, std::string> items[] = {
      {"version", node_.options().version},
      {"uptime", std::to_string(uptime_s)},
      {"datetime", date},
      {"stats/connections/count", std::to_string(t.connections)},
      {"stats/connections/max", std::to_string(connections_max_)},
      {"stats/sessions/count", std::to_string(t.sessions_count)},
      {"stats/subscriptions/count", std::to_string(t.subscriptions)},
      {"stats/retained/count", std::to_string(t.retained)},
      {"metrics/messages/received", std::to_string(t.sessions.messages_received)},
      {"metrics/messages/sent", std::to_string(t.sessions.messages_sent)},
      {"metrics/messages/dropped",
       std::to_string(t.sessions.dropped_queue_full_qos0 + t.sessions.dropped_queue_full_oldest +
                      t.sessions.dropped_qos0_offline + t.sessions.dropped_qos0_busy + t.sessions.dropped_expired +
                      t.sessions.dropped_too_large + t.messages_no_subscriber)},
      {"metrics/messages/dropped/no_subscribers", std::to_string(t.messages_no_subscriber)},
      {"metrics/messages/qos0/received", std::to_string(t.sessions.qos0_received)},
      {"metrics/messages/qos1/received", std::to_string(t.sessions.qos1_received)},
      {"metrics/messages/qos2/received", std::to_string(t.sessions.qos2_received)},
      {"metrics/bytes/received", std::to_string(t.bytes_received)},
      {"metrics/bytes/sent", std::to_string(t.bytes_sent)},
      {"metrics/packets/malformed", std::to_string(t.malformed)},
  };
  auto& shard0 = node_.shard(ShardId{0});
  const auto now = SteadyClock::now();
  for (const auto& [suffix, value] : items) shard0.route(make_broker_message(base + suffix, value), now);
  shard0.flush_outbox();
}

}  // namespace roadmq::broker
