#include "mqtt/encoder.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "mqtt/wire_writer.hpp"

namespace roadmq::mqtt {
namespace {

using wire::PropertyBlockSizes;
using wire::SizeCounter;
using wire::WireWriter;

constexpr std::uint8_t byte_of(ReasonCode rc) noexcept { return static_cast<std::uint8_t>(rc); }
constexpr std::uint8_t byte_of(QoS q) noexcept { return static_cast<std::uint8_t>(q); }

// Fixed-header byte 1: type in the high nibble; the low nibble is fixed by the
// spec except for PUBLISH [MQTT-2.2.2-1]. PUBREL, SUBSCRIBE and UNSUBSCRIBE
// carry 0b0010 [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1].
constexpr std::uint8_t fixed_byte(const Connect&) noexcept { return 0x10; }
constexpr std::uint8_t fixed_byte(const Connack&) noexcept { return 0x20; }
constexpr std::uint8_t fixed_byte(const Publish& p) noexcept {
  return static_cast<std::uint8_t>(0x30 | (p.dup ? 0x08 : 0) | (byte_of(p.qos) << 1) |
                                   (p.retain ? 0x01 : 0));
}
constexpr std::uint8_t fixed_byte(const Puback&) noexcept { return 0x40; }
constexpr std::uint8_t fixed_byte(const Pubrec&) noexcept { return 0x50; }
constexpr std::uint8_t fixed_byte(const Pubrel&) noexcept { return 0x62; }
constexpr std::uint8_t fixed_byte(const Pubcomp&) noexcept { return 0x70; }
constexpr std::uint8_t fixed_byte(const Subscribe&) noexcept { return 0x82; }
constexpr std::uint8_t fixed_byte(const Suback&) noexcept { return 0x90; }
constexpr std::uint8_t fixed_byte(const Unsubscribe&) noexcept { return 0xA2; }
constexpr std::uint8_t fixed_byte(const Unsuback&) noexcept { return 0xB0; }
constexpr std::uint8_t fixed_byte(const Pingreq&) noexcept { return 0xC0; }
constexpr std::uint8_t fixed_byte(const Pingresp&) noexcept { return 0xD0; }
constexpr std::uint8_t fixed_byte(const Disconnect&) noexcept { return 0xE0; }
constexpr std::uint8_t fixed_byte(const Auth&) noexcept { return 0xF0; }

// 3.1.1 has one SUBACK failure code, 0x80, for every 5.0 refusal (3.1.1 section 3.9.3).
constexpr std::uint8_t v3_suback_code(ReasonCode rc) noexcept {
  const auto v = byte_of(rc);
  return v <= 2 ? v : 0x80;
}

constexpr std::uint8_t subscribe_options(const SubscribeOptions& o, ProtocolVersion v) noexcept {
  // Before 5.0 the byte is the requested QoS alone; the other bits are reserved.
  if (!has_properties(v)) return byte_of(o.max_qos);
  return static_cast<std::uint8_t>(byte_of(o.max_qos) | (o.no_local ? 0x04 : 0) |
                                   (o.retain_as_published ? 0x08 : 0) |
                                   (static_cast<std::uint8_t>(o.retain_handling) << 4));
}

// The 5.0 tail shared by PUBACK..PUBCOMP, DISCONNECT and AUTH: the spec lets
// the sender stop after any field whose remaining values are the defaults
// (reason 0x00, no properties) (5.0 sections 3.4.2.1, 3.14.2.1, 3.15.2.1).
template <class Sink>
void reason_and_properties(ReasonCode reason, const Properties& props, Sink& s) {
  if (props.empty()) {
    if (reason != ReasonCode::success) s.u8(byte_of(reason));
    return;
  }
  s.u8(byte_of(reason));
  s.properties(props);
}

// ---- bodies (variable header + payload), one per packet type ----

template <class Sink>
void emit(const Connect& c, ProtocolVersion, Sink& s) {
  // CONNECT is what establishes the version, so it is written under its own.
  const ProtocolVersion v = c.version;
  s.string(v == ProtocolVersion::v3_1 ? std::string_view("MQIsdp") : std::string_view("MQTT"));
  s.u8(static_cast<std::uint8_t>(v));
  std::uint8_t flags = c.clean_start ? 0x02 : 0x00;
  if (c.will) {
    flags |=
        static_cast<std::uint8_t>(0x04 | (byte_of(c.will->qos) << 3) | (c.will->retain ? 0x20 : 0));
  }
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  s.u8(flags);
  s.u16(c.keep_alive);
  const bool v5 = has_properties(v);
  if (v5) s.properties(c.properties);
  s.string(c.client_id);
  if (c.will) {
    if (v5) s.properties(c.will->properties);
    s.string(c.will->topic);
    s.string(c.will->payload);
  }
  if (c.username) s.string(*c.username);
  if (c.password) s.string(*c.password);
}

template <class Sink>
void emit(const Connack& c, ProtocolVersion v, Sink& s) {
  // 3.1 has no Session Present; its first byte is "not used" and sent as 0.
  s.u8(c.session_present && v != ProtocolVersion::v3_1 ? 0x01 : 0x00);
  if (has_properties(v)) {
    s.u8(byte_of(c.reason));
    s.properties(c.properties);
  } else {
    s.u8(to_v3_connack_code(c.reason));
  }
}

template <class Sink>
void emit(const Publish& p, ProtocolVersion v, Sink& s) {
  s.string(p.topic);
  if (p.qos != QoS::at_most_once) {
    s.mark_packet_id();
    s.u16(p.packet_id.value);
  }
  if (has_properties(v)) s.properties(p.properties);
  s.raw(p.payload);
}

const Properties kNoProperties;

constexpr std::uint8_t fixed_byte(const PublishView& p) noexcept {
  return static_cast<std::uint8_t>(0x30 | (p.dup ? 0x08 : 0) | (byte_of(p.qos) << 1) | (p.retain ? 0x01 : 0));
}

template <class Sink>
void emit(const PublishView& p, ProtocolVersion v, Sink& s) {
  s.string(p.topic);
  if (p.qos != QoS::at_most_once) {
    s.mark_packet_id();
    s.u16(p.packet_id.value);
  }
  if (has_properties(v))
    s.properties(p.delivery_properties ? *p.delivery_properties : kNoProperties,
                 p.message_properties ? *p.message_properties : kNoProperties);
  s.raw(p.payload);
}

template <class Sink>
void emit(const AckFields& a, ProtocolVersion v, Sink& s) {
  s.u16(a.packet_id.value);
  if (has_properties(v)) reason_and_properties(a.reason, a.properties, s);
}

template <class Sink>
void emit(const Subscribe& sub, ProtocolVersion v, Sink& s) {
  s.u16(sub.packet_id.value);
  if (has_properties(v)) s.properties(sub.properties);
  for (const auto& entry : sub.subscriptions) {
    s.string(entry.filter);
    s.u8(subscribe_options(entry.options, v));
  }
}

template <class Sink>
void emit(const Suback& a, ProtocolVersion v, Sink& s) {
  s.u16(a.packet_id.value);
  const bool v5 = has_properties(v);
  if (v5) s.properties(a.properties);
  for (const auto rc : a.reasons) s.u8(v5 ? byte_of(rc) : v3_suback_code(rc));
}

template <class Sink>
void emit(const Unsubscribe& u, ProtocolVersion v, Sink& s) {
  s.u16(u.packet_id.value);
  if (has_properties(v)) s.properties(u.properties);
  for (const auto& filter : u.filters) s.string(filter);
}

template <class Sink>
void emit(const Unsuback& a, ProtocolVersion v, Sink& s) {
  s.u16(a.packet_id.value);
  // 3.x UNSUBACK is the packet identifier alone (3.1.1 section 3.11.2).
  if (!has_properties(v)) return;
  s.properties(a.properties);
  for (const auto rc : a.reasons) s.u8(byte_of(rc));
}

template <class Sink>
void emit(const Pingreq&, ProtocolVersion, Sink&) {}

template <class Sink>
void emit(const Pingresp&, ProtocolVersion, Sink&) {}

template <class Sink>
void emit(const Disconnect& d, ProtocolVersion v, Sink& s) {
  if (has_properties(v)) reason_and_properties(d.reason, d.properties, s);
}

template <class Sink>
void emit(const Auth& a, ProtocolVersion, Sink& s) {
  reason_and_properties(a.reason, a.properties, s);
}

// AUTH does not exist before 5.0; a 3.x peer would take its type 15 as
// malformed, so it is not encoded at all.
template <class T>
constexpr bool encodable(const T&, ProtocolVersion v) noexcept {
  return !std::is_same_v<T, Auth> || has_properties(v);
}

struct Plan {
  std::size_t body = 0;   // remaining length
  std::size_t total = 0;  // 0: not encodable
};

template <class T>
Plan plan(const T& packet, ProtocolVersion v, PropertyBlockSizes& blocks) noexcept {
  if (!encodable(packet, v)) return {};
  SizeCounter counter(blocks);
  emit(packet, v, counter);
  const std::size_t body = counter.position();
  // Reachable from valid input: the properties a 5.0 subscriber gets (e.g.
  // Subscription Identifiers) can push a near-maximal PUBLISH past what the
  // 4-byte remaining length can express. There is no encoding; write nothing.
  if (body > kMaxRemainingLength) return {};
  return {body, 1 + wire::varint_length(body) + body};
}

// One allocation at most: exact for a fresh buffer (the shared fan-out
// encoding), doubling when appending to a buffer already in use so that
// batching many packets into one buffer stays linear.
void grow_by(ByteBuffer& out, std::size_t n) {
  const std::size_t need = out.size() + n;
  if (need > out.capacity()) out.reserve(std::max(need, 2 * out.capacity()));
  out.resize(need);
}

template <class T>
std::size_t encode_one(const T& packet, ProtocolVersion v, ByteBuffer& out,
                       std::size_t* packet_id_at) {
  PropertyBlockSizes blocks;
  const Plan p = plan(packet, v, blocks);
  if (p.total == 0) return 0;
  const std::size_t start = out.size();
  grow_by(out, p.total);
  WireWriter w(out.data(), start, blocks);
  w.u8(fixed_byte(packet));
  w.varint(p.body);
  emit(packet, v, w);
  ROADMQ_ASSERT(w.position() == start + p.total);
  if (packet_id_at != nullptr) *packet_id_at = w.packet_id_at();
  return p.total;
}

}  // namespace

std::size_t encode(const Packet& packet, ProtocolVersion version, ByteBuffer& out) {
  return std::visit([&](const auto& p) { return encode_one(p, version, out, nullptr); }, packet);
}

std::size_t encode_publish(const Publish& p, ProtocolVersion version, ByteBuffer& out,
                           std::size_t& packet_id_offset) {
  packet_id_offset = SIZE_MAX;
  return encode_one(p, version, out, &packet_id_offset);
}

std::size_t encode(const PublishView& p, ProtocolVersion version, ByteBuffer& out) {
  return encode_one(p, version, out, nullptr);
}

std::size_t encoded_size(const PublishView& p, ProtocolVersion version) {
  PropertyBlockSizes blocks;
  return plan(p, version, blocks).total;
}

std::size_t encoded_size(const Packet& packet, ProtocolVersion version) {
  return std::visit(
      [&](const auto& p) {
        PropertyBlockSizes blocks;
        return plan(p, version, blocks).total;
      },
      packet);
}

void write_varint(std::uint32_t value, ByteBuffer& out) {
  ROADMQ_ASSERT(value <= kMaxRemainingLength);
  while (value >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(value));
}

std::size_t varint_size(std::uint32_t value) noexcept { return wire::varint_length(value); }

}  // namespace roadmq::mqtt
