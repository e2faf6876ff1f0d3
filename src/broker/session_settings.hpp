// The limits and switches a session obeys. Built by the app from the config
// (mqtt.* keys) and shared read-only; a reload swaps in a new snapshot.
#pragma once

#include <chrono>
#include <cstdint>

#include "mqtt/types.hpp"

namespace roadmq::broker {

struct SessionSettings {
  std::uint32_t max_packet_size = 1024 * 1024;  // mqtt.max_packet_size
  std::uint16_t max_clientid_len = 65535;
  std::uint16_t max_topic_levels = 128;
  std::uint16_t max_inflight = 32;              // mqtt.max_inflight
  std::uint32_t max_mqueue_len = 1000;          // mqtt.max_mqueue_len (0 = unbounded is not allowed)
  std::size_t max_mqueue_bytes = 16u << 20;   // mqtt.max_mqueue_bytes: topic + payload bytes queued
  bool mqueue_store_qos0 = true;
  std::chrono::seconds session_expiry_interval{7200};  // cap, and v3 persistent sessions' expiry
  std::chrono::milliseconds retry_interval{30000};
  std::uint16_t max_awaiting_rel = 100;
  std::chrono::milliseconds await_rel_timeout{300000};
  double keepalive_multiplier = 1.5;
  std::uint16_t server_keepalive = 0;           // 0 = disabled: the client's value stands
  bool retain_available = true;
  bool wildcard_subscription = true;
  bool shared_subscription = true;
  std::uint16_t max_topic_alias = 65535;        // inbound aliases we accept
  mqtt::QoS max_qos_allowed = mqtt::QoS::exactly_once;
  bool subscription_identifiers = true;
  // durable_sessions.enable: persistent sessions emit their state changes
  // for storage (StoreSession, StoreOutbound, ...).
  bool persistence = false;
};

}  // namespace roadmq::broker
