// Counters a session bumps; one instance per shard, summed at scrape time,
// so no atomics and no lock per message.
#pragma once

#include <cstdint>

#include "mqtt/types.hpp"

namespace roadmq::broker {

struct SessionStats {
  std::uint64_t messages_received = 0;     // PUBLISH from clients
  std::uint64_t messages_sent = 0;         // PUBLISH to clients
  std::uint64_t qos0_received = 0, qos1_received = 0, qos2_received = 0;
  std::uint64_t qos0_sent = 0, qos1_sent = 0, qos2_sent = 0;
  std::uint64_t messages_redelivered = 0;  // DUP resends
  std::uint64_t dropped_queue_full_qos0 = 0;   // queue full: a QoS 0 message dropped
  std::uint64_t dropped_queue_full_oldest = 0; // queue full of QoS 1/2: oldest dropped
  std::uint64_t dropped_qos0_offline = 0;      // mqueue_store_qos0 = false
  std::uint64_t dropped_qos0_busy = 0;         // QoS 0 to a subscriber whose socket backlog is full
  std::uint64_t dropped_expired = 0;           // message expiry passed while queued
  std::uint64_t dropped_too_large = 0;         // over the client's Maximum Packet Size
  std::uint64_t dropped_await_rel_timeout = 0; // inbound QoS 2 never released
  std::uint64_t puback_missed = 0;             // PUBACK/PUBREC/PUBCOMP for an unknown id
  std::uint64_t keepalive_timeouts = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t wills_published = 0;
  std::uint64_t sessions_expired = 0;

  void count_received(mqtt::QoS qos) noexcept {
    ++messages_received;
    ++per_qos(qos, qos0_received, qos1_received, qos2_received);
  }
  void count_sent(mqtt::QoS qos) noexcept {
    ++messages_sent;
    ++per_qos(qos, qos0_sent, qos1_sent, qos2_sent);
  }

 private:
  static std::uint64_t& per_qos(mqtt::QoS qos, std::uint64_t& q0, std::uint64_t& q1,
                                std::uint64_t& q2) noexcept {
    switch (qos) {
      case mqtt::QoS::at_most_once:
        return q0;
      case mqtt::QoS::at_least_once:
        return q1;
      case mqtt::QoS::exactly_once:
        break;
    }
    return q2;
  }
};

}  // namespace roadmq::broker
