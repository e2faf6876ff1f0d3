// MQTT 5.0 reason codes [MQTT-2.4]. Business logic speaks only these; the
// encoder maps them to 3.1.1 CONNACK return codes / SUBACK failure at the edge.
#pragma once

#include <cstdint>
#include <string_view>

#include "mqtt/types.hpp"

namespace roadmq::mqtt {

// X(value, enumerator, spec name)
#define ROADMQ_MQTT_REASON_CODES(X)                                         \
  X(0x00, success, "Success")                                              \
  X(0x01, granted_qos1, "Granted QoS 1")                                   \
  X(0x02, granted_qos2, "Granted QoS 2")                                   \
  X(0x04, disconnect_with_will, "Disconnect with Will Message")            \
  X(0x10, no_matching_subscribers, "No matching subscribers")              \
  X(0x11, no_subscription_existed, "No subscription existed")              \
  X(0x18, continue_authentication, "Continue authentication")              \
  X(0x19, reauthenticate, "Re-authenticate")                               \
  X(0x80, unspecified_error, "Unspecified error")                          \
  X(0x81, malformed_packet, "Malformed Packet")                            \
  X(0x82, protocol_error, "Protocol Error")                                \
  X(0x83, implementation_specific_error, "Implementation specific error")  \
  X(0x84, unsupported_protocol_version, "Unsupported Protocol Version")    \
  X(0x85, client_identifier_not_valid, "Client Identifier not valid")      \
  X(0x86, bad_username_or_password, "Bad User Name or Password")           \
  X(0x87, not_authorized, "Not authorized")                                \
  X(0x88, server_unavailable, "Server unavailable")                        \
  X(0x89, server_busy, "Server busy")                                      \
  X(0x8A, banned, "Banned")                                                \
  X(0x8B, server_shutting_down, "Server shutting down")                    \
  X(0x8C, bad_authentication_method, "Bad authentication method")          \
  X(0x8D, keep_alive_timeout, "Keep Alive timeout")                        \
  X(0x8E, session_taken_over, "Session taken over")                        \
  X(0x8F, topic_filter_invalid, "Topic Filter invalid")                    \
  X(0x90, topic_name_invalid, "Topic Name invalid")                        \
  X(0x91, packet_identifier_in_use, "Packet Identifier in use")            \
  X(0x92, packet_identifier_not_found, "Packet Identifier not found")      \
  X(0x93, receive_maximum_exceeded, "Receive Maximum exceeded")            \
  X(0x94, topic_alias_invalid, "Topic Alias invalid")                      \
  X(0x95, packet_too_large, "Packet too large")                            \
  X(0x96, message_rate_too_high, "Message rate too high")                  \
  X(0x97, quota_exceeded, "Quota exceeded")                                \
  X(0x98, administrative_action, "Administrative action")                  \
  X(0x99, payload_format_invalid, "Payload format invalid")                \
  X(0x9A, retain_not_supported, "Retain not supported")                    \
  X(0x9B, qos_not_supported, "QoS not supported")                          \
  X(0x9C, use_another_server, "Use another server")                        \
  X(0x9D, server_moved, "Server moved")                                    \
  X(0x9E, shared_subscriptions_not_supported, "Shared Subscriptions not supported") \
  X(0x9F, connection_rate_exceeded, "Connection rate exceeded")            \
  X(0xA0, maximum_connect_time, "Maximum connect time")                    \
  X(0xA1, subscription_identifiers_not_supported, "Subscription Identifiers not supported") \
  X(0xA2, wildcard_subscriptions_not_supported, "Wildcard Subscriptions not supported")

enum class ReasonCode : std::uint8_t {
#define ROADMQ_X(v, e, n) e = v,
  ROADMQ_MQTT_REASON_CODES(ROADMQ_X)
#undef ROADMQ_X
  // Aliases the spec gives the value 0x00 in other packets.
  normal_disconnection = 0x00,
  granted_qos0 = 0x00,
};

// The spec's name ("Malformed Packet"); "Unknown reason code" for others.
std::string_view name(ReasonCode rc) noexcept;

// True for a value the spec defines at all.
bool is_known(std::uint8_t value) noexcept;

// True when the spec allows `rc` in packets of type `t` [MQTT-2.4 table 2-6].
bool is_allowed_in(ReasonCode rc, PacketType t) noexcept;

constexpr bool is_error(ReasonCode rc) noexcept { return static_cast<std::uint8_t>(rc) >= 0x80; }

// MQTT 3.1.1 CONNACK return codes 0..5 [MQTT-3.2.2.3] <-> 5.0 reason codes.
std::uint8_t to_v3_connack_code(ReasonCode rc) noexcept;
ReasonCode from_v3_connack_code(std::uint8_t code) noexcept;

}  // namespace roadmq::mqtt
