// Broker-made messages: client presence events
// ($SYS/brokers/{node}/clients/{clientid}/connected|disconnected, with EMQX's
// fields) and JSON helpers shared with the $SYS publisher.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/message.hpp"
#include "broker/session_action.hpp"

namespace roadmq::broker {

std::uint64_t wall_clock_ms();

// EMQX's names for why a client went away.
std::string_view disconnect_reason_name(DetachReason reason) noexcept;

struct ClientInfo {
  std::string_view client_id;
  std::string_view username;
  std::string peer;  // "ip:port", formatted for this event
  unsigned proto_ver = 4;
  std::string_view proto_name = "MQTT";
  std::uint16_t keep_alive = 0;
  bool clean_start = true;
  std::uint64_t connected_at_ms = 0;
};

MessagePtr make_connected_event(std::string_view node, const ClientInfo& client);
MessagePtr make_disconnected_event(std::string_view node, const ClientInfo& client,
                                   DetachReason reason, std::uint64_t now_ms);

// A broker-made QoS 0 message (no publisher, so No Local never hides it).
MessagePtr make_broker_message(std::string topic, std::string_view payload, bool retain = false);

}  // namespace roadmq::broker
