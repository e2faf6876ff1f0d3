// Every body read goes through WireReader, so malformed input can only ever
// produce a CodecError, never an out-of-bounds access. Checks that need only
// the first byte or the Remaining Length live in parse_frame(), which lets a
// connection refuse a bad packet before buffering its body; decode_packet()
// repeats them so that it is safe on a Frame built by hand.
#include "mqtt/decoder.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/assert.hpp"
#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"
#include "mqtt/wire_reader.hpp"

namespace roadmq::mqtt {
namespace {

using detail::as_chars;
using detail::ByteView;
using detail::WireReader;

using Status = Expected<void, CodecError>;
using PacketResult = Expected<Packet, CodecError>;

Unexpected<CodecError> fail(ReasonCode reason, std::string_view rule) noexcept {
  return Unexpected{CodecError{reason, rule}};
}
Unexpected<CodecError> malformed(std::string_view rule) noexcept {
  return fail(ReasonCode::malformed_packet, rule);
}
Unexpected<CodecError> protocol_error(std::string_view rule) noexcept {
  return fail(ReasonCode::protocol_error, rule);
}

// Rules cited from more than one place.
constexpr std::string_view kOverrun = "[MQTT-2.2.3] field runs past the Remaining Length";
constexpr std::string_view kTrailing = "[MQTT-2.2.3] bytes left after the last field";
constexpr std::string_view kVarIntTooLong =
    "[MQTT-1.5.5] Variable Byte Integer longer than 4 bytes";
constexpr std::string_view kVarIntNotMinimal =
    "[MQTT-1.5.5-1] Variable Byte Integer not in its minimal encoding";
// Inside a body read_varint() does not say which of the two it was.
constexpr std::string_view kVarIntMalformed =
    "[MQTT-1.5.5-1] Variable Byte Integer longer than 4 bytes or not minimal";
constexpr std::string_view kZeroPacketId = "[MQTT-2.2.1-3] Packet Identifier must not be 0";
constexpr std::string_view kReasonNotAllowed =
    "[MQTT-2.4] Reason Code not defined for this packet type";

bool is_v5(ProtocolVersion v) noexcept { return v == ProtocolVersion::v5; }

// ---------------------------------------------------------------------------
// Variable Byte Integer [MQTT-1.5.5]

enum class VarIntFault { none, need_more, too_long, not_minimal };

VarIntFault parse_varint(ByteView bytes, VarInt& out) noexcept {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i >= bytes.size()) return VarIntFault::need_more;
    const std::uint8_t b = bytes[i];
    value |= std::uint32_t{static_cast<std::uint8_t>(b & 0x7F)} << (7 * i);
    if ((b & 0x80) == 0) {
      // A zero last byte after the first adds nothing, so a shorter form of
      // the same value exists; only the minimal form is allowed [MQTT-1.5.5-1].
      if (i > 0 && b == 0) return VarIntFault::not_minimal;
      out = VarInt{value, static_cast<std::uint8_t>(i + 1)};
      return VarIntFault::none;
    }
  }
  return VarIntFault::too_long;
}

// ---------------------------------------------------------------------------
// Fixed header

// Checks that the first byte alone decides. Shared by parse_frame() and
// decode_packet(), so a hand-built Frame cannot smuggle in QoS 3.
std::optional<CodecError> check_type_and_flags(std::uint8_t type, std::uint8_t flags,
                                               ProtocolVersion version) noexcept {
  constexpr ReasonCode kMalformed = ReasonCode::malformed_packet;
  if (type == 0 || type > 15)
    return CodecError{kMalformed, "[MQTT-2.2.1] packet type 0 is reserved"};
  if (type == 15 && !is_v5(version)) {
    return CodecError{kMalformed, "[MQTT-2.2.1] packet type 15 (AUTH) is reserved before MQTT 5.0"};
  }
  if (flags > 0x0F) return CodecError{kMalformed, "[MQTT-2.2.2-1] flags are a 4-bit field"};

  switch (static_cast<PacketType>(type)) {
    case PacketType::publish: {
      const unsigned qos = (flags >> 1) & 0x03;
      if (qos == 3) return CodecError{kMalformed, "[MQTT-3.3.1-4] PUBLISH QoS 3"};
      if ((flags & 0x08) != 0 && qos == 0) {
        return CodecError{kMalformed, "[MQTT-3.3.1-2] PUBLISH DUP set with QoS 0"};
      }
      return std::nullopt;
    }
    case PacketType::pubrel:
    case PacketType::subscribe:
    case PacketType::unsubscribe: {
      // MQTT 3.1 defined these bits as DUP and QoS 1 rather than reserving
      // them, and its clients set DUP on a resent PUBREL/SUBSCRIBE, so only
      // 3.1.1 and 5.0 pin the DUP bit.
      const std::uint8_t mask = version == ProtocolVersion::v3_1 ? 0x07 : 0x0F;
      if ((flags & mask) != 0x02) {
        return CodecError{kMalformed,
                          "[MQTT-2.2.2-1] PUBREL, SUBSCRIBE and UNSUBSCRIBE flags must be 0010"};
      }
      return std::nullopt;
    }
    default:
      if (flags != 0) return CodecError{kMalformed, "[MQTT-2.2.2-1] reserved flags must be 0000"};
      return std::nullopt;
  }
}

// Packets whose body size the type alone fixes. parse_frame() checks this as
// soon as the Remaining Length is known, so a PINGREQ claiming a megabyte of
// body is refused before any of it is buffered.
std::optional<CodecError> check_fixed_length(PacketType type, std::size_t length,
                                             ProtocolVersion version) noexcept {
  constexpr ReasonCode kMalformed = ReasonCode::malformed_packet;
  switch (type) {
    case PacketType::pingreq:
      if (length != 0) return CodecError{kMalformed, "[MQTT-3.12.1] PINGREQ has no body"};
      return std::nullopt;
    case PacketType::pingresp:
      if (length != 0) return CodecError{kMalformed, "[MQTT-3.13.1] PINGRESP has no body"};
      return std::nullopt;
    default:
      break;
  }
  if (is_v5(version)) return std::nullopt;
  switch (type) {
    case PacketType::disconnect:
      if (length != 0) {
        return CodecError{kMalformed, "[MQTT-3.14.1] DISCONNECT has no body before MQTT 5.0"};
      }
      return std::nullopt;
    case PacketType::connack:
      if (length != 2) {
        return CodecError{kMalformed, "[MQTT-3.2.1] CONNACK Remaining Length must be 2"};
      }
      return std::nullopt;
    case PacketType::puback:
    case PacketType::pubrec:
    case PacketType::pubrel:
    case PacketType::pubcomp:
    case PacketType::unsuback:
      if (length != 2) {
        return CodecError{
            kMalformed, "[MQTT-2.2.3] acknowledgement Remaining Length must be 2 before MQTT 5.0"};
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// ---------------------------------------------------------------------------
// Field readers

Status check_utf8(std::string_view s) noexcept {
  switch (check_mqtt_utf8(s)) {
    case Utf8Status::ok:
      return {};
    case Utf8Status::null_character:
      return malformed("[MQTT-1.5.4-2] UTF-8 string contains U+0000");
    case Utf8Status::too_long:
      return malformed("[MQTT-1.5.4] UTF-8 string longer than 65535 bytes");
    case Utf8Status::ill_formed:
      break;
  }
  return malformed("[MQTT-1.5.4-1] ill-formed UTF-8 string");
}

Status read_utf8(WireReader& r, std::string_view& out,
                 std::string_view overrun_rule = kOverrun) noexcept {
  const auto bytes = r.prefixed();
  if (!bytes) return malformed(overrun_rule);
  out = as_chars(*bytes);
  return check_utf8(out);
}

Status read_utf8(WireReader& r, std::string& out) {
  std::string_view view;
  if (auto st = read_utf8(r, view); !st) return st;
  out.assign(view);
  return {};
}

Status read_binary(WireReader& r, std::string& out) {
  const auto bytes = r.prefixed();
  if (!bytes) return malformed(kOverrun);
  out.assign(as_chars(*bytes));
  return {};
}

Status read_packet_id(WireReader& r, PacketId& out) noexcept {
  const auto id = r.u16();
  if (!id) return malformed(kOverrun);
  if (*id == 0) return protocol_error(kZeroPacketId);
  out = PacketId{*id};
  return {};
}

Status read_reason(WireReader& r, PacketType type, ReasonCode& out) noexcept {
  const auto byte = r.u8();
  if (!byte) return malformed(kOverrun);
  const auto rc = static_cast<ReasonCode>(*byte);
  if (!is_allowed_in(rc, type)) return malformed(kReasonNotAllowed);
  out = rc;
  return {};
}

// ---------------------------------------------------------------------------
// Properties [MQTT-2.2.2]

constexpr std::uint8_t max_property_id() {
  std::uint8_t m = 0;
#define ROADMQ_X(id, nm, type, spec, scopes) m = std::max<std::uint8_t>(m, id);
  ROADMQ_MQTT_PROPERTIES(ROADMQ_X)
#undef ROADMQ_X
  return m;
}
// The duplicate check keeps one bit per identifier in a 64-bit mask.
static_assert(max_property_id() < 64);

constexpr std::uint64_t bit_of(PropertyId id) noexcept {
  return std::uint64_t{1} << static_cast<std::uint8_t>(id);
}

// Value rules the wire type alone cannot express. nullopt when the value is fine.
std::optional<std::string_view> bad_value_rule(PropertyId id, std::uint32_t v) noexcept {
  switch (id) {
    case PropertyId::payload_format_indicator:
      if (v > 1) return "[MQTT-3.3.2.3.2] Payload Format Indicator must be 0 or 1";
      break;
    case PropertyId::request_problem_information:
      if (v > 1) return "[MQTT-3.1.2.11.7] Request Problem Information must be 0 or 1";
      break;
    case PropertyId::request_response_information:
      if (v > 1) return "[MQTT-3.1.2.11.6] Request Response Information must be 0 or 1";
      break;
    case PropertyId::maximum_qos:
      if (v > 1) return "[MQTT-3.2.2.3.4] Maximum QoS must be 0 or 1";
      break;
    case PropertyId::retain_available:
      if (v > 1) return "[MQTT-3.2.2.3.5] Retain Available must be 0 or 1";
      break;
    case PropertyId::wildcard_subscription_available:
      if (v > 1) return "[MQTT-3.2.2.3.11] Wildcard Subscription Available must be 0 or 1";
      break;
    case PropertyId::subscription_identifier_available:
      if (v > 1) return "[MQTT-3.2.2.3.12] Subscription Identifiers Available must be 0 or 1";
      break;
    case PropertyId::shared_subscription_available:
      if (v > 1) return "[MQTT-3.2.2.3.13] Shared Subscription Available must be 0 or 1";
      break;
    case PropertyId::receive_maximum:
      if (v == 0) return "[MQTT-3.1.2.11.3] Receive Maximum must not be 0";
      break;
    case PropertyId::maximum_packet_size:
      if (v == 0) return "[MQTT-3.1.2.11.4] Maximum Packet Size must not be 0";
      break;
    case PropertyId::topic_alias:
      if (v == 0) return "[MQTT-3.3.2.3.4] Topic Alias must not be 0";
      break;
    case PropertyId::subscription_identifier:
      if (v == 0) return "[MQTT-3.3.2.3.8] Subscription Identifier must not be 0";
      break;
    default:
      break;
  }
  return std::nullopt;
}

constexpr std::string_view kValueOverrun =
    "[MQTT-2.2.2.2] property value runs past the Property Length";

Status read_property_value(WireReader& p, const PropertyInfo& info, Property& prop) {
  switch (info.type) {
    case PropertyType::byte: {
      const auto v = p.u8();
      if (!v) return malformed(kValueOverrun);
      prop.number = *v;
      return {};
    }
    case PropertyType::two_byte_int: {
      const auto v = p.u16();
      if (!v) return malformed(kValueOverrun);
      prop.number = *v;
      return {};
    }
    case PropertyType::four_byte_int: {
      const auto v = p.u32();
      if (!v) return malformed(kValueOverrun);
      prop.number = *v;
      return {};
    }
    case PropertyType::varint: {
      VarInt v;
      switch (p.varint(v)) {
        case VarIntStatus::ok:
          prop.number = v.value;
          return {};
        case VarIntStatus::need_more:
          return malformed(kValueOverrun);
        case VarIntStatus::malformed:
          break;
      }
      return malformed(kVarIntMalformed);
    }
    case PropertyType::utf8_string: {
      std::string_view s;
      if (auto st = read_utf8(p, s, kValueOverrun); !st) return st;
      prop.text.assign(s);
      return {};
    }
    case PropertyType::binary_data: {
      const auto b = p.prefixed();
      if (!b) return malformed(kValueOverrun);
      prop.text.assign(as_chars(*b));
      return {};
    }
    case PropertyType::utf8_pair: {
      std::string_view name;
      std::string_view value;
      if (auto st = read_utf8(p, name, kValueOverrun); !st) return st;
      if (auto st = read_utf8(p, value, kValueOverrun); !st) return st;
      prop.text.assign(name);
      prop.text2.assign(value);
      return {};
    }
  }
  return malformed("[MQTT-2.2.2.2] unknown property type");
}

// Reads a Property Length and the properties it spans, in wire order.
// `scope` is the packet (or PropertyScope::will for the will properties).
Status read_properties(WireReader& r, PropertyScope scope, Properties& out) {
  VarInt length;
  switch (r.varint(length)) {
    case VarIntStatus::ok:
      break;
    case VarIntStatus::need_more:
      return malformed(kOverrun);
    case VarIntStatus::malformed:
      return malformed(kVarIntMalformed);
  }
  const auto block = r.take(length.value);
  if (!block) return malformed("[MQTT-2.2.2.1] Property Length runs past the Remaining Length");

  WireReader p(*block);
  std::uint64_t seen = 0;
  const auto scope_bits = static_cast<std::uint32_t>(scope);
  while (!p.empty()) {
    // The identifier is formally a Variable Byte Integer, but every defined
    // one is below 0x80, so a continuation byte is an unknown identifier
    // either way.
    const std::uint8_t id_byte = *p.u8();
    const PropertyInfo* info = find_property(id_byte);
    if (info == nullptr) return malformed("[MQTT-2.2.2.2] unknown Property Identifier");
    if ((info->scopes & scope_bits) == 0) {
      return malformed("[MQTT-2.2.2.2] Property not valid in this packet");
    }
    const std::uint64_t bit = bit_of(info->id);
    if ((seen & bit) != 0 && !may_repeat(info->id, scope)) {
      return protocol_error("[MQTT-2.2.2.2] Property included more than once");
    }
    seen |= bit;

    Property prop{info->id, 0, {}, {}};
    if (auto st = read_property_value(p, *info, prop); !st) return st;
    if (const auto rule = bad_value_rule(info->id, prop.number)) return protocol_error(*rule);
    // A Response Topic is a topic name a responder publishes to, so it obeys
    // the topic name rules [MQTT-3.3.2-14].
    if (info->id == PropertyId::response_topic && validate_topic_name(prop.text)) {
      return protocol_error("[MQTT-3.3.2-14] Response Topic is not a valid Topic Name");
    }
    out.push_back(std::move(prop));
  }
  if ((seen & bit_of(PropertyId::authentication_data)) != 0 &&
      (seen & bit_of(PropertyId::authentication_method)) == 0) {
    return protocol_error("[MQTT-3.1.2.11.10] Authentication Data without Authentication Method");
  }
  return {};
}

Status expect_end(const WireReader& r) noexcept {
  if (!r.empty()) return malformed(kTrailing);
  return {};
}

// Subscriptions and filters take at least three bytes each on the wire, but
// a vector slot is far larger; reserve for a typical packet and let a long
// list grow, so a huge packet cannot make us reserve many times its size.
constexpr std::size_t kListReserveCap = 16;

// ---------------------------------------------------------------------------
// Packets

PacketResult decode_connect(WireReader& r) {
  const auto name_bytes = r.prefixed();
  if (!name_bytes) return malformed(kOverrun);
  const std::string_view name = as_chars(*name_bytes);
  const auto level = r.u8();
  if (!level) return malformed(kOverrun);

  const bool is_mqtt = name == "MQTT";
  const bool is_mqisdp = name == "MQIsdp";
  if (!is_mqtt && !is_mqisdp) {
    return fail(ReasonCode::unsupported_protocol_version,
                "[MQTT-3.1.2-1] Protocol Name must be \"MQTT\" (or \"MQIsdp\" for 3.1)");
  }
  ProtocolVersion version;
  if (is_mqisdp && *level == 3) {
    version = ProtocolVersion::v3_1;
  } else if (is_mqtt && *level == 4) {
    version = ProtocolVersion::v3_1_1;
  } else if (is_mqtt && *level == 5) {
    version = ProtocolVersion::v5;
  } else {
    return fail(ReasonCode::unsupported_protocol_version,
                "[MQTT-3.1.2-2] Protocol Level not supported for this Protocol Name");
  }

  const auto flags = r.u8();
  if (!flags) return malformed(kOverrun);
  if ((*flags & 0x01) != 0) return malformed("[MQTT-3.1.2-3] reserved CONNECT flag must be 0");
  const bool has_will = (*flags & 0x04) != 0;
  const unsigned will_qos = (*flags >> 3) & 0x03;
  const bool will_retain = (*flags & 0x20) != 0;
  const bool has_password = (*flags & 0x40) != 0;
  const bool has_username = (*flags & 0x80) != 0;
  if (!has_will && will_qos != 0)
    return malformed("[MQTT-3.1.2-13] Will QoS set without Will Flag");
  if (!has_will && will_retain)
    return malformed("[MQTT-3.1.2-15] Will Retain set without Will Flag");
  if (has_will && will_qos == 3) return malformed("[MQTT-3.1.2-14] Will QoS 3");
  // 5.0 lets a password stand alone (e.g. a token); earlier versions do not.
  if (has_password && !has_username && !is_v5(version)) {
    return malformed("[MQTT-3.1.2-22] Password Flag set without User Name Flag");
  }

  const auto keep_alive = r.u16();
  if (!keep_alive) return malformed(kOverrun);

  Connect c;
  c.version = version;
  c.clean_start = (*flags & 0x02) != 0;
  c.keep_alive = *keep_alive;
  if (is_v5(version)) {
    if (auto st = read_properties(r, PropertyScope::connect, c.properties); !st) {
      return Unexpected{st.error()};
    }
  }
  if (auto st = read_utf8(r, c.client_id); !st) return Unexpected{st.error()};

  if (has_will) {
    Will will;
    will.qos = static_cast<QoS>(will_qos);
    will.retain = will_retain;
    if (is_v5(version)) {
      if (auto st = read_properties(r, PropertyScope::will, will.properties); !st) {
        return Unexpected{st.error()};
      }
    }
    if (auto st = read_utf8(r, will.topic); !st) return Unexpected{st.error()};
    if (auto err = validate_topic_name(will.topic)) return Unexpected{*err};
    if (auto st = read_binary(r, will.payload); !st) return Unexpected{st.error()};
    c.will = std::move(will);
  }
  if (has_username) {
    std::string username;
    if (auto st = read_utf8(r, username); !st) return Unexpected{st.error()};
    c.username = std::move(username);
  }
  if (has_password) {
    std::string password;
    if (auto st = read_binary(r, password); !st) return Unexpected{st.error()};
    c.password = std::move(password);
  }
  if (auto st = expect_end(r); !st) return Unexpected{st.error()};
  return Packet{std::move(c)};
}

PacketResult decode_connack(WireReader& r, ProtocolVersion version) {
  const auto ack_flags = r.u8();
  const auto code = r.u8();
  if (!ack_flags || !code) return malformed(kOverrun);

  Connack c;
  // 3.1 has no Session Present: its first byte is simply "not used".
  if (version != ProtocolVersion::v3_1) {
    if ((*ack_flags & 0xFE) != 0) {
      return malformed("[MQTT-3.2.2-1] reserved Connect Acknowledge Flags must be 0");
    }
    c.session_present = (*ack_flags & 0x01) != 0;
  }
  if (is_v5(version)) {
    c.reason = static_cast<ReasonCode>(*code);
    if (!is_allowed_in(c.reason, PacketType::connack)) return malformed(kReasonNotAllowed);
    if (auto st = read_properties(r, PropertyScope::connack, c.properties); !st) {
      return Unexpected{st.error()};
    }
  } else {
    // 3.1.1 defines return codes 0..5 only; anything else has no 5.0
    // meaning to map to [MQTT-3.2.2.3].
    if (*code > 5) return malformed("[MQTT-3.2.2.3] CONNACK return code above 5");
    c.reason = from_v3_connack_code(*code);
  }
  if (c.session_present && c.reason != ReasonCode::success) {
    return protocol_error("[MQTT-3.2.2-4] Session Present set with a non-zero return code");
  }
  if (auto st = expect_end(r); !st) return Unexpected{st.error()};
  return Packet{std::move(c)};
}

// Fills `p`, which may hold a previous packet's fields.
Status decode_publish_into(WireReader& r, std::uint8_t flags, ProtocolVersion version, Publish& p) {
  p.qos = static_cast<QoS>((flags >> 1) & 0x03);  // QoS 3 refused with the header
  p.retain = (flags & 0x01) != 0;
  p.dup = (flags & 0x08) != 0;
  p.packet_id = PacketId{};
  p.properties.clear();

  std::string_view topic;
  if (auto st = read_utf8(r, topic); !st) return st;
  if (p.qos != QoS::at_most_once) {
    if (auto st = read_packet_id(r, p.packet_id); !st) return st;
  }
  if (is_v5(version)) {
    if (auto st = read_properties(r, PropertyScope::publish, p.properties); !st) return st;
  }
  // 5.0 lets a Topic Alias stand in for the name; the session resolves it.
  if (topic.empty() && is_v5(version)) {
    if (!p.properties.has(PropertyId::topic_alias)) {
      return protocol_error("[MQTT-3.3.2.3.4] empty Topic Name without a Topic Alias");
    }
  } else if (auto err = check_topic_name_shape(topic)) {  // read_utf8() checked the encoding
    return Unexpected{*err};
  }
  p.topic.assign(topic);
  p.payload.assign(as_chars(r.rest()));
  return {};
}

PacketResult decode_publish(WireReader& r, std::uint8_t flags, ProtocolVersion version) {
  Publish p;
  if (auto st = decode_publish_into(r, flags, version, p); !st) return Unexpected{st.error()};
  return Packet{std::move(p)};
}

template <class Ack>
PacketResult decode_ack(WireReader& r, PacketType type, ProtocolVersion version) {
  Ack ack{};
  if (auto st = read_packet_id(r, ack.packet_id); !st) return Unexpected{st.error()};
  // 5.0: Remaining Length 2 means Success and no properties; 3 means a
  // reason code and no properties.
  if (is_v5(version) && !r.empty()) {
    if (auto st = read_reason(r, type, ack.reason); !st) return Unexpected{st.error()};
    if (!r.empty()) {
      if (auto st = read_properties(r, scope_of(type), ack.properties); !st) {
        return Unexpected{st.error()};
      }
    }
  }
  if (auto st = expect_end(r); !st) return Unexpected{st.error()};
  return Packet{std::move(ack)};
}

PacketResult decode_subscribe(WireReader& r, ProtocolVersion version) {
  Subscribe s;
  if (auto st = read_packet_id(r, s.packet_id); !st) return Unexpected{st.error()};
  if (is_v5(version)) {
    // The property table makes Subscription Identifier non-repeatable here.
    if (auto st = read_properties(r, PropertyScope::subscribe, s.properties); !st) {
      return Unexpected{st.error()};
    }
  }
  s.subscriptions.reserve(std::min(r.remaining() / 3, kListReserveCap));
  while (!r.empty()) {
    std::string_view filter;
    if (auto st = read_utf8(r, filter); !st) return Unexpected{st.error()};
    const auto options = r.u8();
    if (!options) return malformed(kOverrun);

    Subscription sub;
    const std::uint8_t o = *options;
    if (is_v5(version)) {
      if ((o & 0xC0) != 0)
        return malformed("[MQTT-3.8.3-5] reserved Subscription Options bits set");
      if ((o & 0x03) == 3) return malformed("[MQTT-3.8.3.1] Subscription Options Maximum QoS 3");
      const unsigned retain_handling = (o >> 4) & 0x03;
      if (retain_handling == 3) return protocol_error("[MQTT-3.8.3.1] Retain Handling 3");
      sub.options.no_local = (o & 0x04) != 0;
      sub.options.retain_as_published = (o & 0x08) != 0;
      sub.options.retain_handling = static_cast<RetainHandling>(retain_handling);
    } else {
      if ((o & 0xFC) != 0) return malformed("[MQTT-3.8.3-4] reserved bits of Requested QoS set");
      if ((o & 0x03) == 3) return malformed("[MQTT-3.8.3-4] Requested QoS 3");
    }
    sub.options.max_qos = static_cast<QoS>(o & 0x03);
    if (auto err = validate_topic_filter(filter)) return Unexpected{*err};
    // A shared subscription would deliver a client's own messages to other
    // members anyway, so No Local is meaningless there.
    if (sub.options.no_local && parse_shared(filter)) {
      return protocol_error("[MQTT-3.8.3-4] No Local set on a Shared Subscription");
    }
    sub.filter.assign(filter);
    s.subscriptions.push_back(std::move(sub));
  }
  if (s.subscriptions.empty()) {
    return protocol_error("[MQTT-3.8.3-3] SUBSCRIBE must contain at least one Topic Filter");
  }
  return Packet{std::move(s)};
}

PacketResult decode_suback(WireReader& r, ProtocolVersion version) {
  Suback s;
  if (auto st = read_packet_id(r, s.packet_id); !st) return Unexpected{st.error()};
  if (is_v5(version)) {
    if (auto st = read_properties(r, PropertyScope::suback, s.properties); !st) {
      return Unexpected{st.error()};
    }
  }
  // One byte per code: the reservation is bounded by the packet itself.
  s.reasons.reserve(r.remaining());
  while (!r.empty()) {
    const std::uint8_t code = *r.u8();
    if (is_v5(version)) {
      const auto rc = static_cast<ReasonCode>(code);
      if (!is_allowed_in(rc, PacketType::suback)) return malformed(kReasonNotAllowed);
      s.reasons.push_back(rc);
    } else if (code <= 2) {
      s.reasons.push_back(static_cast<ReasonCode>(code));  // granted QoS 0..2
    } else if (code == 0x80) {
      s.reasons.push_back(ReasonCode::unspecified_error);
    } else {
      return malformed("[MQTT-3.9.3-2] SUBACK return code must be 0x00, 0x01, 0x02 or 0x80");
    }
  }
  if (s.reasons.empty()) {
    return protocol_error("[MQTT-3.9.3-1] SUBACK must carry one code per Topic Filter");
  }
  return Packet{std::move(s)};
}

PacketResult decode_unsubscribe(WireReader& r, ProtocolVersion version) {
  Unsubscribe u;
  if (auto st = read_packet_id(r, u.packet_id); !st) return Unexpected{st.error()};
  if (is_v5(version)) {
    if (auto st = read_properties(r, PropertyScope::unsubscribe, u.properties); !st) {
      return Unexpected{st.error()};
    }
  }
  u.filters.reserve(std::min(r.remaining() / 3, kListReserveCap));
  while (!r.empty()) {
    std::string_view filter;
    if (auto st = read_utf8(r, filter); !st) return Unexpected{st.error()};
    if (auto err = validate_topic_filter(filter)) return Unexpected{*err};
    u.filters.emplace_back(filter);
  }
  if (u.filters.empty()) {
    return protocol_error("[MQTT-3.10.3-2] UNSUBSCRIBE must contain at least one Topic Filter");
  }
  return Packet{std::move(u)};
}

PacketResult decode_unsuback(WireReader& r, ProtocolVersion version) {
  Unsuback u;
  if (auto st = read_packet_id(r, u.packet_id); !st) return Unexpected{st.error()};
  if (is_v5(version)) {
    if (auto st = read_properties(r, PropertyScope::unsuback, u.properties); !st) {
      return Unexpected{st.error()};
    }
    u.reasons.reserve(r.remaining());
    while (!r.empty()) {
      const auto rc = static_cast<ReasonCode>(*r.u8());
      if (!is_allowed_in(rc, PacketType::unsuback)) return malformed(kReasonNotAllowed);
      u.reasons.push_back(rc);
    }
    if (u.reasons.empty()) {
      return protocol_error("[MQTT-3.11.3-1] UNSUBACK must carry one code per Topic Filter");
    }
  }
  if (auto st = expect_end(r); !st) return Unexpected{st.error()};
  return Packet{std::move(u)};
}

// DISCONNECT and AUTH (5.0): an empty body means reason 0x00 and no
// properties; a single byte is a reason code without properties.
template <class T>
PacketResult decode_reason_and_properties(WireReader& r, PacketType type) {
  T out{};
  if (!r.empty()) {
    if (auto st = read_reason(r, type, out.reason); !st) return Unexpected{st.error()};
    if (!r.empty()) {
      if (auto st = read_properties(r, scope_of(type), out.properties); !st) {
        return Unexpected{st.error()};
      }
    }
  }
  if (auto st = expect_end(r); !st) return Unexpected{st.error()};
  return Packet{std::move(out)};
}

}  // namespace

// ---------------------------------------------------------------------------

VarIntStatus read_varint(std::span<const std::uint8_t> bytes, VarInt& out) noexcept {
  switch (parse_varint(bytes, out)) {
    case VarIntFault::none:
      return VarIntStatus::ok;
    case VarIntFault::need_more:
      return VarIntStatus::need_more;
    case VarIntFault::too_long:
    case VarIntFault::not_minimal:
      break;
  }
  return VarIntStatus::malformed;
}

FrameResult parse_frame(std::span<const std::uint8_t> bytes, std::uint32_t max_packet_size,
                        ProtocolVersion version) noexcept {
  FrameResult result;
  auto error = [&result](CodecError e) {
    result.status = FrameStatus::error;
    result.error = e;
    return result;
  };
  if (bytes.empty()) return result;

  const auto type = static_cast<std::uint8_t>(bytes[0] >> 4);
  const auto flags = static_cast<std::uint8_t>(bytes[0] & 0x0F);
  if (auto err = check_type_and_flags(type, flags, version)) return error(*err);

  VarInt length;
  switch (parse_varint(bytes.subspan(1), length)) {
    case VarIntFault::none:
      break;
    case VarIntFault::need_more:
      return result;
    case VarIntFault::too_long:
      return error({ReasonCode::malformed_packet, kVarIntTooLong});
    case VarIntFault::not_minimal:
      return error({ReasonCode::malformed_packet, kVarIntNotMinimal});
  }

  FixedHeader header;
  header.type = static_cast<PacketType>(type);
  header.flags = flags;
  header.remaining_length = length.value;
  header.header_size = static_cast<std::uint8_t>(1 + length.size);
  // Decided from the header alone, so an oversized packet is refused before
  // its body is buffered.
  if (header.packet_size() > max_packet_size) {
    return error({ReasonCode::packet_too_large,
                  "[MQTT-3.2.2.3.6] packet larger than the Maximum Packet Size"});
  }
  if (auto err = check_fixed_length(header.type, header.remaining_length, version)) {
    return error(*err);
  }
  if (bytes.size() < header.packet_size()) {
    result.needed = header.packet_size();
    return result;
  }
  result.status = FrameStatus::complete;
  result.frame.header = header;
  result.frame.body = bytes.subspan(header.header_size, header.remaining_length);
  return result;
}

std::optional<CodecError> decode_packet_into(const Frame& frame, ProtocolVersion version, Packet& out) {
  if (frame.header.type != PacketType::publish) {
    auto decoded = decode_packet(frame, version);
    if (!decoded) return decoded.error();
    out = std::move(*decoded);
    return std::nullopt;
  }
  // PUBLISH, nearly every packet: decoded in place, without moving a
  // Publish into the result and from there into `out`.
  const auto type = static_cast<std::uint8_t>(frame.header.type);
  if (auto err = check_type_and_flags(type, frame.header.flags, version)) return err;
  if (auto err = check_fixed_length(frame.header.type, frame.body.size(), version)) return err;
  Publish* p = std::get_if<Publish>(&out);
  if (p == nullptr) p = &out.emplace<Publish>();
  WireReader r(frame.body);
  if (auto st = decode_publish_into(r, frame.header.flags, version, *p); !st) return st.error();
  return std::nullopt;
}

Expected<Packet, CodecError> decode_packet(const Frame& frame, ProtocolVersion version) {
  const auto type = static_cast<std::uint8_t>(frame.header.type);
  if (auto err = check_type_and_flags(type, frame.header.flags, version)) return Unexpected{*err};
  if (auto err = check_fixed_length(frame.header.type, frame.body.size(), version)) {
    return Unexpected{*err};
  }

  WireReader r(frame.body);
  switch (frame.header.type) {
    case PacketType::connect:
      return decode_connect(r);
    case PacketType::connack:
      return decode_connack(r, version);
    case PacketType::publish:
      return decode_publish(r, frame.header.flags, version);
    case PacketType::puback:
      return decode_ack<Puback>(r, PacketType::puback, version);
    case PacketType::pubrec:
      return decode_ack<Pubrec>(r, PacketType::pubrec, version);
    case PacketType::pubrel:
      return decode_ack<Pubrel>(r, PacketType::pubrel, version);
    case PacketType::pubcomp:
      return decode_ack<Pubcomp>(r, PacketType::pubcomp, version);
    case PacketType::subscribe:
      return decode_subscribe(r, version);
    case PacketType::suback:
      return decode_suback(r, version);
    case PacketType::unsubscribe:
      return decode_unsubscribe(r, version);
    case PacketType::unsuback:
      return decode_unsuback(r, version);
    case PacketType::pingreq:
      return Packet{Pingreq{}};
    case PacketType::pingresp:
      return Packet{Pingresp{}};
    case PacketType::disconnect:
      // Before 5.0 check_fixed_length() has already insisted on an empty body.
      return decode_reason_and_properties<Disconnect>(r, PacketType::disconnect);
    case PacketType::auth:
      return decode_reason_and_properties<Auth>(r, PacketType::auth);
  }
  return malformed("[MQTT-2.2.1] packet type 0 is reserved");
}

}  // namespace roadmq::mqtt
