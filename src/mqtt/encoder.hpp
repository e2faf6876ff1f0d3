// MQTT encoding: exact bytes for a packet under a protocol version. Fields a
// version lacks (properties, reason codes) are left out when encoding for it;
// 5.0 reason codes are mapped to 3.1.1 return codes at this edge.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mqtt/packet.hpp"

namespace roadmq::mqtt {

using ByteBuffer = std::vector<std::uint8_t>;

// Appends the encoded packet to `out`; returns the number of bytes appended.
// CONNECT is encoded under its own `version` field.
//
// Returns 0 and leaves `out` untouched when the packet has no encoding:
//  * AUTH under 3.1 / 3.1.1, which have no AUTH packet;
//  * a packet whose remaining length would exceed kMaxRemainingLength (e.g.
//    a near-maximal PUBLISH plus the properties a 5.0 subscriber gets).
// Properties are written only for 5.0, in stored order. For 3.x, reason codes
// are mapped (CONNACK via to_v3_connack_code, SUBACK failures to 0x80) and
// fields 3.x lacks are dropped. `out` grows by one allocation at most.
std::size_t encode(const Packet& packet, ProtocolVersion version, ByteBuffer& out);

// Encodes a PUBLISH and reports where its packet identifier sits in `out`, so
// one encoding can be shared by many subscribers and only the id patched.
// `packet_id_offset` is set to SIZE_MAX for QoS 0 (and when nothing is
// encoded); otherwise it is an index into `out`, counting bytes that were
// already there, of the identifier's high byte.
std::size_t encode_publish(const Publish& p, ProtocolVersion version, ByteBuffer& out,
                           std::size_t& packet_id_offset);

// A PUBLISH assembled from borrowed parts, so a broker can send one shared
// message to many subscribers without copying its topic, payload or
// properties. In 5.0 the property block is `delivery_properties` (what this
// subscriber gets: Message Expiry, Topic Alias, Subscription Identifiers)
// followed by `message_properties` (forwarded unchanged); either may be null.
struct PublishView {
  std::string_view topic;  // empty when a Topic Alias stands for it
  std::string_view payload;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  bool dup = false;
  PacketId packet_id;
  const Properties* delivery_properties = nullptr;
  const Properties* message_properties = nullptr;
};

// Same contract as encode(): bytes appended, or 0 when not encodable.
std::size_t encode(const PublishView& publish, ProtocolVersion version, ByteBuffer& out);
std::size_t encoded_size(const PublishView& publish, ProtocolVersion version);

// Size the packet would take on the wire, without encoding it (for the
// client's Maximum Packet Size check). Equals what encode() would return,
// including 0 for a packet that has no encoding.
std::size_t encoded_size(const Packet& packet, ProtocolVersion version);

// Helpers shared with the decoder tests and tools. `value` must not exceed
// kMaxRemainingLength (asserted in debug builds).
void write_varint(std::uint32_t value, ByteBuffer& out);
std::size_t varint_size(std::uint32_t value) noexcept;

}  // namespace roadmq::mqtt
