#include "app/node_options.hpp"

#include <algorithm>
#include <limits>
#include <chrono>

#include "base/version.hpp"

namespace roadmq::app {
namespace {

template <class T>
T clamp_to(std::uint64_t v) {
  return static_cast<T>(std::min<std::uint64_t>(v, std::numeric_limits<T>::max()));
}

broker::SharedStrategy strategy(config::SharedSubscriptionStrategy s) {
  switch (s) {
    case config::SharedSubscriptionStrategy::random: return broker::SharedStrategy::random;
    case config::SharedSubscriptionStrategy::round_robin: return broker::SharedStrategy::round_robin;
    case config::SharedSubscriptionStrategy::sticky: return broker::SharedStrategy::sticky;
    case config::SharedSubscriptionStrategy::hash_clientid: return broker::SharedStrategy::hash_clientid;
    case config::SharedSubscriptionStrategy::hash_topic: return broker::SharedStrategy::hash_topic;
    case config::SharedSubscriptionStrategy::local: return broker::SharedStrategy::local;
  }
  return broker::SharedStrategy::round_robin;
}

}  // namespace

broker::NodeOptions node_options(const config::Settings& s) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  broker::NodeOptions o;
  o.name = s.node.name;
  o.version = kVersion;
  auto& m = o.session;
  m.max_packet_size = clamp_to<std::uint32_t>(s.mqtt.max_packet_size.bytes);
  m.max_clientid_len = clamp_to<std::uint16_t>(s.mqtt.max_clientid_len);
  m.max_topic_levels = clamp_to<std::uint16_t>(s.mqtt.max_topic_levels);
  m.max_inflight = s.mqtt.max_inflight;
  m.max_mqueue_len = s.mqtt.max_mqueue_len;
  m.max_mqueue_bytes = static_cast<std::size_t>(s.mqtt.max_mqueue_bytes.bytes);
  m.mqueue_store_qos0 = s.mqtt.mqueue_store_qos0;
  m.session_expiry_interval = duration_cast<seconds>(s.mqtt.session_expiry_interval);
  m.retry_interval = duration_cast<milliseconds>(s.mqtt.retry_interval);
  m.max_awaiting_rel = clamp_to<std::uint16_t>(s.mqtt.max_awaiting_rel);
  m.await_rel_timeout = duration_cast<milliseconds>(s.mqtt.await_rel_timeout);
  m.keepalive_multiplier = s.mqtt.keepalive_multiplier;
  m.server_keepalive =
      s.mqtt.server_keepalive ? clamp_to<std::uint16_t>(duration_cast<seconds>(*s.mqtt.server_keepalive).count()) : 0;
  m.retain_available = s.mqtt.retain_available;
  m.wildcard_subscription = s.mqtt.wildcard_subscription;
  m.shared_subscription = s.mqtt.shared_subscription;
  m.max_topic_alias = s.mqtt.max_topic_alias;
  m.max_qos_allowed = static_cast<mqtt::QoS>(std::min<std::uint8_t>(s.mqtt.max_qos_allowed, 2));
  m.persistence = s.durable_sessions.enable;
  o.shared_strategy = strategy(s.mqtt.shared_subscription_strategy);
  o.retainer_enabled = s.retainer.enable && s.mqtt.retain_available;
  o.max_retained_messages = s.retainer.max_retained_messages;
  o.max_retained_payload = s.retainer.max_payload_size.bytes;
  o.idle_timeout = duration_cast<milliseconds>(s.mqtt.idle_timeout);
  o.sys_interval = s.sys_topics.sys_msg_interval ? duration_cast<milliseconds>(*s.sys_topics.sys_msg_interval)
                                                 : milliseconds{0};
  o.sys_client_connected = s.sys_topics.sys_event_messages.client_connected;
  o.sys_client_disconnected = s.sys_topics.sys_event_messages.client_disconnected;
  return o;
}

}  // namespace roadmq::app
