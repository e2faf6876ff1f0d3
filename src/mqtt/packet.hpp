// One packet model for MQTT 3.1, 3.1.1 and 5.0. The codec normalises every
// version into these structs; business logic never branches on the version.
// Fields a version lacks keep their defaults (properties empty, reason 0x00).
//
// Thread safety: value types; no shared state.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "mqtt/property.hpp"
#include "mqtt/reason_code.hpp"
#include "mqtt/types.hpp"

namespace roadmq::mqtt {

struct Will {
  std::string topic;
  std::string payload;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  Properties properties;  // will properties (v5)
  friend bool operator==(const Will&, const Will&) = default;
};

struct Connect {
  ProtocolVersion version = ProtocolVersion::v5;
  bool clean_start = true;  // "clean session" in 3.1/3.1.1
  std::uint16_t keep_alive = 0;
  std::string client_id;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary data
  std::optional<Will> will;
  Properties properties;
  friend bool operator==(const Connect&, const Connect&) = default;
};

struct Connack {
  bool session_present = false;
  ReasonCode reason = ReasonCode::success;  // v3 return codes are mapped
  Properties properties;
  friend bool operator==(const Connack&, const Connack&) = default;
};

struct Publish {
  std::string topic;  // empty when a v5 Topic Alias stands for it
  std::string payload;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  bool dup = false;
  PacketId packet_id;  // zero for QoS 0
  Properties properties;
  friend bool operator==(const Publish&, const Publish&) = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share a shape; distinct types keep the
// variant unambiguous.
struct AckFields {
  PacketId packet_id;
  ReasonCode reason = ReasonCode::success;
  Properties properties;
  friend bool operator==(const AckFields&, const AckFields&) = default;
};
struct Puback : AckFields {};
struct Pubrec : AckFields {};
struct Pubrel : AckFields {};
struct Pubcomp : AckFields {};

struct SubscribeOptions {
  QoS max_qos = QoS::at_most_once;
  bool no_local = false;
  bool retain_as_published = false;
  RetainHandling retain_handling = RetainHandling::send_on_subscribe;
  friend bool operator==(const SubscribeOptions&, const SubscribeOptions&) = default;
};

struct Subscription {
  std::string filter;  // as sent, including any $share/{group}/ prefix
  SubscribeOptions options;
  friend bool operator==(const Subscription&, const Subscription&) = default;
};

struct Subscribe {
  PacketId packet_id;
  std::vector<Subscription> subscriptions;  // never empty after decode
  Properties properties;
  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};

struct Suback {
  PacketId packet_id;
  std::vector<ReasonCode> reasons;  // granted QoS 0..2 or a failure; v3: failure = 0x80
  Properties properties;
  friend bool operator==(const Suback&, const Suback&) = default;
};

struct Unsubscribe {
  PacketId packet_id;
  std::vector<std::string> filters;  // never empty after decode
  Properties properties;
  friend bool operator==(const Unsubscribe&, const Unsubscribe&) = default;
};

struct Unsuback {
  PacketId packet_id;
  std::vector<ReasonCode> reasons;  // v5 only; empty in 3.1.1
  Properties properties;
  friend bool operator==(const Unsuback&, const Unsuback&) = default;
};

struct Pingreq {
  friend bool operator==(const Pingreq&, const Pingreq&) = default;
};
struct Pingresp {
  friend bool operator==(const Pingresp&, const Pingresp&) = default;
};

struct Disconnect {
  ReasonCode reason = ReasonCode::normal_disconnection;
  Properties properties;
  friend bool operator==(const Disconnect&, const Disconnect&) = default;
};

struct Auth {
  ReasonCode reason = ReasonCode::success;
  Properties properties;
  friend bool operator==(const Auth&, const Auth&) = default;
};

// Alternatives are in packet-type order: index() + 1 == PacketType value.
using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe,
                            Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth>;

inline PacketType type_of(const Packet& p) noexcept {
  return static_cast<PacketType>(p.index() + 1);
}

}  // namespace roadmq::mqtt
