// Basic MQTT vocabulary shared by every packet: versions, packet types, QoS,
// packet identifiers. Pure values; no allocation.
#pragma once

#include <cstdint>
#include <string_view>

namespace roadmq::mqtt {

// Protocol level byte of CONNECT: 3 = MQTT 3.1 ("MQIsdp"), 4 = 3.1.1, 5 = 5.0.
enum class ProtocolVersion : std::uint8_t { v3_1 = 3, v3_1_1 = 4, v5 = 5 };

constexpr bool has_properties(ProtocolVersion v) noexcept { return v == ProtocolVersion::v5; }
std::string_view to_string(ProtocolVersion v) noexcept;

enum class PacketType : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

std::string_view to_string(PacketType t) noexcept;

enum class QoS : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

constexpr QoS min(QoS a, QoS b) noexcept { return a < b ? a : b; }

// SUBSCRIBE option "Retain Handling" [MQTT-3.8.3.1].
enum class RetainHandling : std::uint8_t {
  send_on_subscribe = 0,
  send_if_new_subscription = 1,
  do_not_send = 2,
};

// Non-zero for every packet that carries one [MQTT-2.2.1-3].
struct PacketId {
  std::uint16_t value = 0;
  friend constexpr bool operator==(PacketId, PacketId) = default;
  friend constexpr auto operator<=>(PacketId, PacketId) = default;
};

// Upper bounds fixed by the protocol itself.
inline constexpr std::uint32_t kMaxRemainingLength = 268'435'455;       // 4-byte varint
inline constexpr std::uint32_t kMaxPacketSize = kMaxRemainingLength + 5;  // + fixed header
inline constexpr std::uint32_t kMaxSubscriptionIdentifier = 268'435'455;
inline constexpr std::size_t kMaxStringLength = 65'535;

}  // namespace roadmq::mqtt
