// MQTT 5.0 properties [MQTT-2.2.2]. One table (the X-list below) is the single
// source of truth for each property's id, wire type and the packets it may
// appear in; the enum, names, validation and typed accessors all derive from it.
//
// Storage is a small vector of entries, so a packet without properties (most
// telemetry) costs one empty vector, not a struct of 27 optionals.
//
// Thread safety: a value type; no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqtt/types.hpp"

namespace roadmq::mqtt {

enum class PropertyType : std::uint8_t {
  byte,            // 1 byte
  two_byte_int,    // big endian
  four_byte_int,   // big endian
  varint,          // variable byte integer, 1..4 bytes
  utf8_string,     // 2-byte length + UTF-8 [MQTT-1.5.4]
  binary_data,     // 2-byte length + bytes
  utf8_pair,       // two UTF-8 strings (User Property)
};

// Where a property may appear. `will` is the will-properties block of CONNECT.
enum class PropertyScope : std::uint32_t {
  connect = 1u << 1,
  connack = 1u << 2,
  publish = 1u << 3,
  puback = 1u << 4,
  pubrec = 1u << 5,
  pubrel = 1u << 6,
  pubcomp = 1u << 7,
  subscribe = 1u << 8,
  suback = 1u << 9,
  unsubscribe = 1u << 10,
  unsuback = 1u << 11,
  disconnect = 1u << 14,
  auth = 1u << 15,
  will = 1u << 16,
};

constexpr PropertyScope scope_of(PacketType t) noexcept {
  return static_cast<PropertyScope>(1u << static_cast<unsigned>(t));
}

// X(id, accessor name, type, spec name, allowed scopes as a bit mask expression)
#define ROADMQ_MQTT_S(x) static_cast<std::uint32_t>(::roadmq::mqtt::PropertyScope::x)
#define ROADMQ_MQTT_PROPERTIES(X)                                                                   \
  X(0x01, payload_format_indicator, byte, "Payload Format Indicator",                               \
    ROADMQ_MQTT_S(publish) | ROADMQ_MQTT_S(will))                                                   \
  X(0x02, message_expiry_interval, four_byte_int, "Message Expiry Interval",                        \
    ROADMQ_MQTT_S(publish) | ROADMQ_MQTT_S(will))                                                   \
  X(0x03, content_type, utf8_string, "Content Type", ROADMQ_MQTT_S(publish) | ROADMQ_MQTT_S(will))  \
  X(0x08, response_topic, utf8_string, "Response Topic", ROADMQ_MQTT_S(publish) | ROADMQ_MQTT_S(will)) \
  X(0x09, correlation_data, binary_data, "Correlation Data",                                        \
    ROADMQ_MQTT_S(publish) | ROADMQ_MQTT_S(will))                                                   \
  X(0x0B, subscription_identifier, varint, "Subscription Identifier",                               \
    ROADMQ_MQTT_S(publish) | ROADMQ_MQTT_S(subscribe))                                              \
  X(0x11, session_expiry_interval, four_byte_int, "Session Expiry Interval",                        \
    ROADMQ_MQTT_S(connect) | ROADMQ_MQTT_S(connack) | ROADMQ_MQTT_S(disconnect))                    \
  X(0x12, assigned_client_identifier, utf8_string, "Assigned Client Identifier", ROADMQ_MQTT_S(connack)) \
  X(0x13, server_keep_alive, two_byte_int, "Server Keep Alive", ROADMQ_MQTT_S(connack))             \
  X(0x15, authentication_method, utf8_string, "Authentication Method",                              \
    ROADMQ_MQTT_S(connect) | ROADMQ_MQTT_S(connack) | ROADMQ_MQTT_S(auth))                          \
  X(0x16, authentication_data, binary_data, "Authentication Data",                                  \
    ROADMQ_MQTT_S(connect) | ROADMQ_MQTT_S(connack) | ROADMQ_MQTT_S(auth))                          \
  X(0x17, request_problem_information, byte, "Request Problem Information", ROADMQ_MQTT_S(connect)) \
  X(0x18, will_delay_interval, four_byte_int, "Will Delay Interval", ROADMQ_MQTT_S(will))           \
  X(0x19, request_response_information, byte, "Request Response Information", ROADMQ_MQTT_S(connect)) \
  X(0x1A, response_information, utf8_string, "Response Information", ROADMQ_MQTT_S(connack))        \
  X(0x1C, server_reference, utf8_string, "Server Reference",                                        \
    ROADMQ_MQTT_S(connack) | ROADMQ_MQTT_S(disconnect))                                             \
  X(0x1F, reason_string, utf8_string, "Reason String",                                              \
    ROADMQ_MQTT_S(connack) | ROADMQ_MQTT_S(puback) | ROADMQ_MQTT_S(pubrec) | ROADMQ_MQTT_S(pubrel) | \
        ROADMQ_MQTT_S(pubcomp) | ROADMQ_MQTT_S(suback) | ROADMQ_MQTT_S(unsuback) |                  \
        ROADMQ_MQTT_S(disconnect) | ROADMQ_MQTT_S(auth))                                            \
  X(0x21, receive_maximum, two_byte_int, "Receive Maximum",                                         \
    ROADMQ_MQTT_S(connect) | ROADMQ_MQTT_S(connack))                                                \
  X(0x22, topic_alias_maximum, two_byte_int, "Topic Alias Maximum",                                 \
    ROADMQ_MQTT_S(connect) | ROADMQ_MQTT_S(connack))                                                \
  X(0x23, topic_alias, two_byte_int, "Topic Alias", ROADMQ_MQTT_S(publish))                         \
  X(0x24, maximum_qos, byte, "Maximum QoS", ROADMQ_MQTT_S(connack))                                 \
  X(0x25, retain_available, byte, "Retain Available", ROADMQ_MQTT_S(connack))                       \
  X(0x26, user_property, utf8_pair, "User Property",                                                \
    ROADMQ_MQTT_S(connect) | ROADMQ_MQTT_S(connack) | ROADMQ_MQTT_S(publish) | ROADMQ_MQTT_S(will) | \
        ROADMQ_MQTT_S(puback) | ROADMQ_MQTT_S(pubrec) | ROADMQ_MQTT_S(pubrel) |                     \
        ROADMQ_MQTT_S(pubcomp) | ROADMQ_MQTT_S(subscribe) | ROADMQ_MQTT_S(suback) |                 \
        ROADMQ_MQTT_S(unsubscribe) | ROADMQ_MQTT_S(unsuback) | ROADMQ_MQTT_S(disconnect) |          \
        ROADMQ_MQTT_S(auth))                                                                        \
  X(0x27, maximum_packet_size, four_byte_int, "Maximum Packet Size",                                \
    ROADMQ_MQTT_S(connect) | ROADMQ_MQTT_S(connack))                                                \
  X(0x28, wildcard_subscription_available, byte, "Wildcard Subscription Available",                 \
    ROADMQ_MQTT_S(connack))                                                                         \
  X(0x29, subscription_identifier_available, byte, "Subscription Identifier Available",             \
    ROADMQ_MQTT_S(connack))                                                                         \
  X(0x2A, shared_subscription_available, byte, "Shared Subscription Available", ROADMQ_MQTT_S(connack))

enum class PropertyId : std::uint8_t {
#define ROADMQ_X(id, name, type, spec, scopes) name = id,
  ROADMQ_MQTT_PROPERTIES(ROADMQ_X)
#undef ROADMQ_X
};

struct PropertyInfo {
  PropertyId id;
  PropertyType type;
  std::string_view name;       // spec name, e.g. "Topic Alias"
  std::uint32_t scopes;        // PropertyScope bits
};

// nullptr for an identifier the spec does not define (a Malformed Packet).
const PropertyInfo* find_property(std::uint8_t id) noexcept;

bool is_allowed_in(PropertyId id, PropertyScope scope) noexcept;

// True for the properties the spec lets appear more than once in one packet:
// User Property anywhere, Subscription Identifier in PUBLISH [MQTT-3.3.4-4].
bool may_repeat(PropertyId id, PropertyScope scope) noexcept;

// One property as stored. Numeric types use `number`; strings and binary use
// `text`; a User Property uses `text` (name) and `text2` (value).
struct Property {
  PropertyId id;
  std::uint32_t number = 0;
  std::string text;
  std::string text2;
  friend bool operator==(const Property&, const Property&) = default;
};

class Properties {
 public:
  bool empty() const noexcept { return items_.empty(); }
  std::size_t size() const noexcept { return items_.size(); }
  const std::vector<Property>& items() const noexcept { return items_; }
  auto begin() const noexcept { return items_.begin(); }
  auto end() const noexcept { return items_.end(); }
  void clear() noexcept { items_.clear(); }

  const Property* find(PropertyId id) const noexcept;
  bool has(PropertyId id) const noexcept { return find(id) != nullptr; }
  void erase(PropertyId id) noexcept;  // every entry with that id

  // Appends without any check; the decoder validates before it appends.
  void push_back(Property p) { items_.push_back(std::move(p)); }

  // Numeric property: replaces any earlier value.
  void set_number(PropertyId id, std::uint32_t v);
  std::optional<std::uint32_t> number(PropertyId id) const noexcept;
  // String/binary property: replaces any earlier value.
  void set_text(PropertyId id, std::string v);
  std::optional<std::string_view> text(PropertyId id) const noexcept;

  // Typed accessors, one pair per property of the table:
  //   std::optional<std::uint32_t> message_expiry_interval() const;  set_message_expiry_interval(v)
  //   std::optional<std::string_view> content_type() const;          set_content_type(std::string)
#define ROADMQ_NUM_ACCESSORS(nm)                                                               \
  std::optional<std::uint32_t> nm() const noexcept { return number(PropertyId::nm); }          \
  void set_##nm(std::uint32_t v) { set_number(PropertyId::nm, v); }
#define ROADMQ_TEXT_ACCESSORS(nm)                                                              \
  std::optional<std::string_view> nm() const noexcept { return text(PropertyId::nm); }         \
  void set_##nm(std::string v) { set_text(PropertyId::nm, std::move(v)); }
  ROADMQ_NUM_ACCESSORS(payload_format_indicator)
  ROADMQ_NUM_ACCESSORS(message_expiry_interval)
  ROADMQ_TEXT_ACCESSORS(content_type)
  ROADMQ_TEXT_ACCESSORS(response_topic)
  ROADMQ_TEXT_ACCESSORS(correlation_data)
  ROADMQ_NUM_ACCESSORS(session_expiry_interval)
  ROADMQ_TEXT_ACCESSORS(assigned_client_identifier)
  ROADMQ_NUM_ACCESSORS(server_keep_alive)
  ROADMQ_TEXT_ACCESSORS(authentication_method)
  ROADMQ_TEXT_ACCESSORS(authentication_data)
  ROADMQ_NUM_ACCESSORS(request_problem_information)
  ROADMQ_NUM_ACCESSORS(will_delay_interval)
  ROADMQ_NUM_ACCESSORS(request_response_information)
  ROADMQ_TEXT_ACCESSORS(response_information)
  ROADMQ_TEXT_ACCESSORS(server_reference)
  ROADMQ_TEXT_ACCESSORS(reason_string)
  ROADMQ_NUM_ACCESSORS(receive_maximum)
  ROADMQ_NUM_ACCESSORS(topic_alias_maximum)
  ROADMQ_NUM_ACCESSORS(topic_alias)
  ROADMQ_NUM_ACCESSORS(maximum_qos)
  ROADMQ_NUM_ACCESSORS(retain_available)
  ROADMQ_NUM_ACCESSORS(maximum_packet_size)
  ROADMQ_NUM_ACCESSORS(wildcard_subscription_available)
  ROADMQ_NUM_ACCESSORS(subscription_identifier_available)
  ROADMQ_NUM_ACCESSORS(shared_subscription_available)
#undef ROADMQ_NUM_ACCESSORS
#undef ROADMQ_TEXT_ACCESSORS

  // Repeatable properties.
  void add_user_property(std::string name, std::string value);
  void add_subscription_identifier(std::uint32_t id);
  std::vector<std::uint32_t> subscription_identifiers() const;
  std::vector<std::pair<std::string_view, std::string_view>> user_properties() const;

  friend bool operator==(const Properties&, const Properties&) = default;

 private:
  std::vector<Property> items_;
};

}  // namespace roadmq::mqtt
