// What a Session asks its owner to do. The owning shard executes actions in
// order: encode and send packets, route messages, change the subscription
// index, close the connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "broker/message.hpp"
#include "mqtt/packet.hpp"

namespace roadmq::broker {

// Why a session lost its connection; decides the will [MQTT-3.1.2-8/10].
enum class DetachReason : std::uint8_t {
  normal_disconnect,     // DISCONNECT 0x00 from the client: will discarded
  disconnect_with_will,  // DISCONNECT 0x04: will published
  connection_lost,       // socket closed or I/O error without DISCONNECT
  keep_alive_timeout,    // [MQTT-3.1.2-22]
  protocol_error,        // the broker closed it for bad input
  taken_over,            // another connection took the session (v5: 0x8E)
  server_shutdown,       // broker stopping (v5: 0x8B)
  administrative,        // kicked by an operator (v5: 0x98)
};

// How a routed message reaches one session: from the matching
// subscription(s) of that session, merged by the router.
struct DeliveryOptions {
  mqtt::QoS qos = mqtt::QoS::at_most_once;  // granted QoS; the session applies min(message, granted)
  bool retain_as_published = false;
  bool from_retained = false;               // sent because of a SUBSCRIBE: retain flag kept 1 [MQTT-3.3.1-8]
  std::vector<std::uint32_t> subscription_ids;
  std::string share_group;                  // non-empty for a shared-subscription delivery
};

// A subscription as the session keeps it (and persistence stores it).
struct SubscriptionEntry {
  mqtt::SubscribeOptions options;
  std::optional<std::uint32_t> subscription_id;
};

// Control packets: CONNACK, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBACK, UNSUBACK,
// PINGRESP, DISCONNECT, AUTH.
struct SendPacket {
  mqtt::Packet packet;
};

// An outgoing PUBLISH built from a shared message without copying it.
struct SendPublish {
  MessagePtr message;
  mqtt::PacketId packet_id;  // zero for QoS 0
  mqtt::QoS qos = mqtt::QoS::at_most_once;
  bool retain = false;
  bool dup = false;
  std::uint16_t topic_alias = 0;  // 0: none
  bool omit_topic = false;        // alias already known to the client
  std::optional<std::uint32_t> message_expiry;  // remaining interval
  std::vector<std::uint32_t> subscription_ids;
};

// An inbound message for the router (and the retained store if retain=1).
struct RoutePublish {
  MessagePtr message;
};

// SUBSCRIBE accepted for one filter; the owner updates the index and, per
// Retain Handling and `is_new`, delivers retained messages after the SUBACK.
struct AddSubscription {
  std::string filter;
  mqtt::SubscribeOptions options;
  std::optional<std::uint32_t> subscription_id;
  bool is_new = true;
};

struct RemoveSubscription {
  std::string filter;
};

// The will, due now (after its delay, or at session end).
struct PublishWill {
  MessagePtr message;
};

// Close the connection; in 5.0 a DISCONNECT with `reason` goes first when
// `send_disconnect` is set [MQTT-4.13.2].
struct CloseConnection {
  mqtt::ReasonCode reason = mqtt::ReasonCode::normal_disconnection;
  bool send_disconnect = true;
  DetachReason detach = DetachReason::protocol_error;
};

// The session has expired (or ended with Clean Start + expiry 0 on
// disconnect): remove it and all its subscriptions.
struct SessionEnded {};

// ── durable state (only for a persistent session on a node with durable
// sessions: see Session::persistent()). The owner writes these into the
// shard's storage batch, committed before the acks that depend on them leave.

// The session's header (expiry, will, deadlines) changed: the owner writes
// Session::image() as it stands when the action runs.
struct StoreSession {};

// An outbound record (a queued or inflight delivery) was created or changed.
struct StoreOutbound {
  std::uint64_t seq = 0;
  MessagePtr message;       // the message the record refers to; null once released (awaiting PUBCOMP)
  MessagePtr released;      // a message the record no longer refers to
  bool is_new = false;      // first write of this record: `message` gains a reference
  mqtt::QoS qos = mqtt::QoS::at_most_once;
  std::uint8_t flags = 0;
  std::uint16_t packet_id = 0;  // 0 while queued
  std::uint8_t phase = 0;       // persist::OutboundPhase
  std::vector<std::uint32_t> subscription_ids;
  std::string share_group;
};

// An outbound record is done (acknowledged, dropped, expired).
struct ForgetOutbound {
  std::uint64_t seq = 0;
  MessagePtr message;  // loses a reference; null if already released
};

// An inbound QoS 2 packet id awaiting PUBREL, stored / released.
// The record holds the message too (one reference), so a restart can route
// it again to sessions that did not get it stored before the crash.
struct StoreInbound {
  std::uint16_t packet_id = 0;
  MessagePtr message;
};
struct ForgetInbound {
  std::uint16_t packet_id = 0;
  MessagePtr message;  // loses its reference
};

// The session stopped being persistent (reconnected with expiry 0): erase
// everything stored for it (the owner reads subscriptions() and the inbound
// ids); `records` are its outbound records, whose messages lose a reference.
struct UnstoreSession {
  std::vector<std::pair<std::uint64_t, MessagePtr>> records;
};

using Action = std::variant<SendPacket, SendPublish, RoutePublish, AddSubscription,
                            RemoveSubscription, PublishWill, CloseConnection, SessionEnded,
                            StoreSession, StoreOutbound, ForgetOutbound, StoreInbound, ForgetInbound,
                            UnstoreSession>;
using Actions = std::vector<Action>;

}  // namespace roadmq::broker
