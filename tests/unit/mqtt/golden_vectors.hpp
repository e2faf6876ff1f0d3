// Golden vectors: packets and the exact bytes the MQTT 3.1, 3.1.1 and 5.0
// specs give for them. Every byte below was worked out by hand from the spec
// layouts (lengths counted, not computed by a helper), so the table is an
// independent oracle for the encoder and, through roundtrip_test, the decoder.
//
// Conventions in the byte lists: `{...}` are literal bytes, a quoted string
// stands for its characters only; every length prefix is written explicitly.
//
// `encode_only` marks vectors of the 5.0-to-3.x mapping at the encoder's edge
// (a refusal mapped to a nearer 3.1.1 code, fields 3.x lacks dropped): those
// bytes decode to a different, canonical packet, so they cannot round trip.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "mqtt/encoder.hpp"
#include "mqtt/packet.hpp"

// GCC 12 flags every member a designated initializer leaves to its default
// member initializer; leaving them is the point of designated initializers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace roadmq::mqtt::golden {

enum class Direction { both, encode_only };

struct GoldenVector {
  std::string name;  // a valid GoogleTest parameter name: [A-Za-z0-9_]
  ProtocolVersion version;
  Packet packet;
  ByteBuffer bytes;
  Direction direction = Direction::both;
};

// GoogleTest prints parameters on failure; a byte dump of the struct is noise.
inline void PrintTo(const GoldenVector& v, std::ostream* os) { *os << v.name; }

// One piece of an expected byte string: literal bytes (copied, at most 16)
// or the characters of a string literal (viewed; literals live forever).
struct Chunk {
  Chunk(std::initializer_list<std::uint8_t> b) : size(b.size()) {
    if (b.size() > inline_bytes.size()) std::abort();  // split the list in two
    std::copy(b.begin(), b.end(), inline_bytes.begin());
  }
  Chunk(const char* s)  // NOLINT: implicit by design
      : chars(reinterpret_cast<const std::uint8_t*>(s)), size(std::strlen(s)) {}
  const std::uint8_t* begin() const { return chars != nullptr ? chars : inline_bytes.data(); }

  std::array<std::uint8_t, 16> inline_bytes{};
  const std::uint8_t* chars = nullptr;
  std::size_t size;
};

inline ByteBuffer wire(std::initializer_list<Chunk> chunks) {
  ByteBuffer out;
  for (const auto& c : chunks) out.insert(out.end(), c.begin(), c.begin() + c.size);
  return out;
}

inline Property num(PropertyId id, std::uint32_t v) { return Property{id, v, {}, {}}; }
inline Property text(PropertyId id, std::string v) { return Property{id, 0, std::move(v), {}}; }
inline Property user(std::string k, std::string v) {
  return Property{PropertyId::user_property, 0, std::move(k), std::move(v)};
}
inline Properties props(std::initializer_list<Property> list) {
  Properties p;
  for (const auto& item : list) p.push_back(item);
  return p;
}

// A 3.1.1/3.1 QoS 0 PUBLISH of topic "t" whose remaining length is exactly
// `remaining`: 2 + 1 bytes of topic, the rest payload.
inline Publish sized_publish(std::size_t remaining) {
  return Publish{.topic = "t", .payload = std::string(remaining - 3, 'a')};
}
inline ByteBuffer sized_publish_bytes(std::initializer_list<std::uint8_t> header,
                                      std::size_t remaining) {
  ByteBuffer out(header);
  out.insert(out.end(), {0x00, 0x01, 't'});
  out.insert(out.end(), remaining - 3, 'a');
  return out;
}

namespace detail {

using PI = PropertyId;
using RC = ReasonCode;
inline constexpr auto v31 = ProtocolVersion::v3_1;
inline constexpr auto v311 = ProtocolVersion::v3_1_1;
inline constexpr auto v5 = ProtocolVersion::v5;
inline constexpr auto encode_only = Direction::encode_only;

struct Table {
  std::vector<GoldenVector> rows;
  void add(std::string name, ProtocolVersion version, Packet packet, ByteBuffer bytes,
           Direction direction = Direction::both) {
    rows.push_back(
        GoldenVector{std::move(name), version, std::move(packet), std::move(bytes), direction});
  }
};

// One function per packet type keeps each small enough to compile quickly.
// The byte lists are laid out by field, which clang-format would undo.
// clang-format off

inline void add_connect(Table& t) {
  // 3.1: protocol name "MQIsdp", level 3.
  t.add("v31_connect_minimal", v31,
        Connect{.version = v31, .clean_start = true, .keep_alive = 60, .client_id = "c1"},
        wire({{0x10, 0x10, 0x00, 0x06}, "MQIsdp", {0x03, 0x02, 0x00, 0x3C}, {0x00, 0x02}, "c1"}));

  // flags: user 0x80 | password 0x40 | will retain 0x20 | will QoS 1 (0x08) | will 0x04 = 0xEC
  // remaining: 12 + (2+3) + (2+3) + (2+3) + (2+1) + (2+2) = 34
  t.add("v31_connect_will_username_password", v31,
        Connect{.version = v31,
                .clean_start = false,
                .keep_alive = 10,
                .client_id = "cid",
                .username = "u",
                .password = "pw",
                .will = Will{.topic = "w/t",
                             .payload = "bye",
                             .qos = QoS::at_least_once,
                             .retain = true}},
        wire({{0x10, 0x22, 0x00, 0x06}, "MQIsdp", {0x03, 0xEC, 0x00, 0x0A},
              {0x00, 0x03}, "cid",
              {0x00, 0x03}, "w/t",
              {0x00, 0x03}, "bye",
              {0x00, 0x01}, "u",
              {0x00, 0x02}, "pw"}));

  // 3.1.1: "MQTT", level 4.
  t.add("v311_connect_minimal", v311,
        Connect{.version = v311, .clean_start = true, .keep_alive = 60, .client_id = "c1"},
        wire({{0x10, 0x0E, 0x00, 0x04}, "MQTT", {0x04, 0x02, 0x00, 0x3C}, {0x00, 0x02}, "c1"}));

  // A zero-length client id is allowed with a clean session [MQTT-3.1.3-6].
  t.add("v311_connect_empty_client_id", v311,
        Connect{.version = v311, .clean_start = true, .keep_alive = 0, .client_id = ""},
        wire({{0x10, 0x0C, 0x00, 0x04}, "MQTT", {0x04, 0x02, 0x00, 0x00}, {0x00, 0x00}}));

  // flags: 0x80 | 0x40 | will QoS 2 (0x10) | will 0x04 | clean 0x02 = 0xD6
  // remaining: 10 + (2+8) + (2+9) + (2+7) + (2+5) + (2+4) = 53; password is binary.
  t.add("v311_connect_will_qos2_username_binary_password", v311,
        Connect{.version = v311,
                .clean_start = true,
                .keep_alive = 300,
                .client_id = "client-1",
                .username = "alice",
                .password = std::string("\x00\xFFpw", 4),
                .will = Will{.topic = "status/c1", .payload = "offline", .qos = QoS::exactly_once}},
        wire({{0x10, 0x35, 0x00, 0x04}, "MQTT", {0x04, 0xD6, 0x01, 0x2C},
              {0x00, 0x08}, "client-1",
              {0x00, 0x09}, "status/c1",
              {0x00, 0x07}, "offline",
              {0x00, 0x05}, "alice",
              {0x00, 0x04, 0x00, 0xFF}, "pw"}));

  t.add("v311_connect_username_only", v311,
        Connect{.version = v311, .clean_start = true, .keep_alive = 60, .client_id = "c",
                .username = "u"},
        wire({{0x10, 0x10, 0x00, 0x04}, "MQTT", {0x04, 0x82, 0x00, 0x3C},
              {0x00, 0x01}, "c", {0x00, 0x01}, "u"}));

  // flags: will retain 0x20 | will 0x04 | clean 0x02 = 0x26; empty will payload.
  t.add("v311_connect_will_retain_empty_payload", v311,
        Connect{.version = v311,
                .clean_start = true,
                .keep_alive = 60,
                .client_id = "c",
                .will = Will{.topic = "t", .payload = "", .retain = true}},
        wire({{0x10, 0x12, 0x00, 0x04}, "MQTT", {0x04, 0x26, 0x00, 0x3C},
              {0x00, 0x01}, "c", {0x00, 0x01}, "t", {0x00, 0x00}}));

  // 5.0: level 5 and a property length (0 here) after keep alive.
  t.add("v5_connect_minimal", v5,
        Connect{.version = v5, .clean_start = true, .keep_alive = 60, .client_id = "c1"},
        wire({{0x10, 0x0F, 0x00, 0x04}, "MQTT", {0x05, 0x02, 0x00, 0x3C, 0x00},
              {0x00, 0x02}, "c1"}));

  // Properties: 5 + 3 + 5 + 3 + 2 + 2 + 7 + 8 + 6 = 41 (0x29).
  // remaining: 10 + 1 + 41 + (2+2) = 56 (0x38).
  t.add("v5_connect_properties", v5,
        Connect{.version = v5,
                .clean_start = true,
                .keep_alive = 60,
                .client_id = "c1",
                .properties = props({num(PI::session_expiry_interval, 3600),
                                     num(PI::receive_maximum, 20),
                                     num(PI::maximum_packet_size, 1048576),
                                     num(PI::topic_alias_maximum, 10),
                                     num(PI::request_response_information, 1),
                                     num(PI::request_problem_information, 0),
                                     user("k", "v"),
                                     text(PI::authentication_method, "SCRAM"),
                                     text(PI::authentication_data, "\x01\x02\x03")})},
        wire({{0x10, 0x38, 0x00, 0x04}, "MQTT", {0x05, 0x02, 0x00, 0x3C},
              {0x29},
              {0x11, 0x00, 0x00, 0x0E, 0x10},
              {0x21, 0x00, 0x14},
              {0x27, 0x00, 0x10, 0x00, 0x00},
              {0x22, 0x00, 0x0A},
              {0x19, 0x01},
              {0x17, 0x00},
              {0x26, 0x00, 0x01}, "k", {0x00, 0x01}, "v",
              {0x15, 0x00, 0x05}, "SCRAM",
              {0x16, 0x00, 0x03, 0x01, 0x02, 0x03},
              {0x00, 0x02}, "c1"}));

  // flags 0xEC as in 3.1 above; connect properties: 5; will properties:
  // 5 + 2 + 5 + 13 + 10 + 5 + 7 = 47 (0x2F).
  // remaining: 10 + 1 + 5 + (2+5) + (1+47) + (2+10) + (2+4) + (2+3) + (2+2) = 98 (0x62).
  t.add("v5_connect_will_properties_username_password", v5,
        Connect{.version = v5,
                .clean_start = false,
                .keep_alive = 30,
                .client_id = "dev-7",
                .username = "bob",
                .password = "s3",
                .will = Will{.topic = "dead/dev-7",
                             .payload = "gone",
                             .qos = QoS::at_least_once,
                             .retain = true,
                             .properties = props({num(PI::will_delay_interval, 5),
                                                  num(PI::payload_format_indicator, 1),
                                                  num(PI::message_expiry_interval, 120),
                                                  text(PI::content_type, "text/plain"),
                                                  text(PI::response_topic, "r/dev-7"),
                                                  text(PI::correlation_data, "\xAB\xCD"),
                                                  user("a", "b")})},
                .properties = props({num(PI::session_expiry_interval, 0xFFFFFFFF)})},
        wire({{0x10, 0x62, 0x00, 0x04}, "MQTT", {0x05, 0xEC, 0x00, 0x1E},
              {0x05, 0x11, 0xFF, 0xFF, 0xFF, 0xFF},
              {0x00, 0x05}, "dev-7",
              {0x2F},
              {0x18, 0x00, 0x00, 0x00, 0x05},
              {0x01, 0x01},
              {0x02, 0x00, 0x00, 0x00, 0x78},
              {0x03, 0x00, 0x0A}, "text/plain",
              {0x08, 0x00, 0x07}, "r/dev-7",
              {0x09, 0x00, 0x02, 0xAB, 0xCD},
              {0x26, 0x00, 0x01}, "a", {0x00, 0x01}, "b",
              {0x00, 0x0A}, "dead/dev-7",
              {0x00, 0x04}, "gone",
              {0x00, 0x03}, "bob",
              {0x00, 0x02}, "s3"}));

  // 5.0 allows a password without a user name (3.1.1 did not [MQTT-3.1.2-22]).
  t.add("v5_connect_password_without_username", v5,
        Connect{.version = v5, .clean_start = true, .keep_alive = 60, .client_id = "c",
                .password = "p"},
        wire({{0x10, 0x11, 0x00, 0x04}, "MQTT", {0x05, 0x42, 0x00, 0x3C, 0x00},
              {0x00, 0x01}, "c", {0x00, 0x01}, "p"}));
}

inline void add_connack(Table& t) {
  // 3.1 and 3.1.1: flags byte, return code 0..5 [MQTT-3.2.2.3].
  t.add("v31_connack_accepted", v31, Connack{}, wire({{0x20, 0x02, 0x00, 0x00}}));
  t.add("v311_connack_accepted_session_present", v311, Connack{.session_present = true},
        wire({{0x20, 0x02, 0x01, 0x00}}));
  {
    // The canonical 5.0 reason for each 3.x return code (what the decoder yields).
    const std::pair<RC, std::uint8_t> codes[] = {
        {RC::unsupported_protocol_version, 1}, {RC::client_identifier_not_valid, 2},
        {RC::server_unavailable, 3},           {RC::bad_username_or_password, 4},
        {RC::not_authorized, 5}};
    for (const auto& [rc, code] : codes) {
      const std::string suffix = "_connack_refused_code_" + std::to_string(code);
      t.add("v31" + suffix, v31, Connack{.reason = rc}, wire({{0x20, 0x02, 0x00, code}}));
      t.add("v311" + suffix, v311, Connack{.reason = rc}, wire({{0x20, 0x02, 0x00, code}}));
    }
  }
  // 5.0 refusals with no 3.x counterpart map to the nearest code.
  t.add("v311_connack_banned_maps_to_5", v311, Connack{.reason = RC::banned},
        wire({{0x20, 0x02, 0x00, 0x05}}), encode_only);
  t.add("v311_connack_bad_auth_method_maps_to_5", v311,
        Connack{.reason = RC::bad_authentication_method}, wire({{0x20, 0x02, 0x00, 0x05}}),
        encode_only);
  t.add("v311_connack_server_busy_maps_to_3", v311, Connack{.reason = RC::server_busy},
        wire({{0x20, 0x02, 0x00, 0x03}}), encode_only);
  t.add("v311_connack_quota_exceeded_maps_to_3", v311, Connack{.reason = RC::quota_exceeded},
        wire({{0x20, 0x02, 0x00, 0x03}}), encode_only);
  t.add("v31_connack_unspecified_error_maps_to_3", v31, Connack{.reason = RC::unspecified_error},
        wire({{0x20, 0x02, 0x00, 0x03}}), encode_only);
  // 3.1 has no Session Present: the first byte is "not used" and sent as 0.
  t.add("v31_connack_session_present_not_sent", v31, Connack{.session_present = true},
        wire({{0x20, 0x02, 0x00, 0x00}}), encode_only);
  t.add("v311_connack_properties_dropped", v311,
        Connack{.properties = props({text(PI::assigned_client_identifier, "x")})},
        wire({{0x20, 0x02, 0x00, 0x00}}), encode_only);

  t.add("v5_connack_success", v5, Connack{}, wire({{0x20, 0x03, 0x00, 0x00, 0x00}}));

  // Properties: 2+2+5+9+3+3+2+2+2+3+7+5+7 = 52 (0x34); remaining 2 + 1 + 52 = 55 (0x37).
  t.add("v5_connack_session_present_properties", v5,
        Connack{.session_present = true,
                .properties = props({num(PI::maximum_qos, 1),
                                     num(PI::retain_available, 0),
                                     num(PI::maximum_packet_size, 65536),
                                     text(PI::assigned_client_identifier, "auto-1"),
                                     num(PI::topic_alias_maximum, 16),
                                     num(PI::server_keep_alive, 120),
                                     num(PI::wildcard_subscription_available, 1),
                                     num(PI::subscription_identifier_available, 1),
                                     num(PI::shared_subscription_available, 0),
                                     num(PI::receive_maximum, 100),
                                     text(PI::response_information, "resp"),
                                     text(PI::reason_string, "ok"),
                                     user("x", "y")})},
        wire({{0x20, 0x37, 0x01, 0x00, 0x34},
              {0x24, 0x01},
              {0x25, 0x00},
              {0x27, 0x00, 0x01, 0x00, 0x00},
              {0x12, 0x00, 0x06}, "auto-1",
              {0x22, 0x00, 0x10},
              {0x13, 0x00, 0x78},
              {0x28, 0x01},
              {0x29, 0x01},
              {0x2A, 0x00},
              {0x21, 0x00, 0x64},
              {0x1A, 0x00, 0x04}, "resp",
              {0x1F, 0x00, 0x02}, "ok",
              {0x26, 0x00, 0x01}, "x", {0x00, 0x01}, "y"}));

  // Properties: 9 + 13 = 22 (0x16); remaining 2 + 1 + 22 = 25 (0x19).
  t.add("v5_connack_use_another_server", v5,
        Connack{.reason = RC::use_another_server,
                .properties = props({text(PI::reason_string, "denied"),
                                     text(PI::server_reference, "other:1883")})},
        wire({{0x20, 0x19, 0x00, 0x9C, 0x16},
              {0x1F, 0x00, 0x06}, "denied",
              {0x1C, 0x00, 0x0A}, "other:1883"}));

  // Properties: 8 + 6 = 14 (0x0E); remaining 17 (0x11).
  t.add("v5_connack_authentication", v5,
        Connack{.properties = props({text(PI::authentication_method, "SCRAM"),
                                     text(PI::authentication_data, "xyz")})},
        wire({{0x20, 0x11, 0x00, 0x00, 0x0E},
              {0x15, 0x00, 0x05}, "SCRAM",
              {0x16, 0x00, 0x03}, "xyz"}));
}

inline void add_publish(Table& t) {
  t.add("v31_publish_qos0", v31, Publish{.topic = "a/b", .payload = "hi"},
        wire({{0x30, 0x07, 0x00, 0x03}, "a/b", "hi"}));
  t.add("v31_publish_qos1_retain", v31,
        Publish{.topic = "a/b", .payload = "hi", .qos = QoS::at_least_once, .retain = true,
                .packet_id = {10}},
        wire({{0x33, 0x09, 0x00, 0x03}, "a/b", {0x00, 0x0A}, "hi"}));
  t.add("v31_publish_qos2_dup", v31,
        Publish{.topic = "x", .payload = "y", .qos = QoS::exactly_once, .dup = true,
                .packet_id = {0x1234}},
        wire({{0x3C, 0x06, 0x00, 0x01}, "x", {0x12, 0x34}, "y"}));

  t.add("v311_publish_qos0_retain", v311, Publish{.topic = "a/b", .payload = "hi", .retain = true},
        wire({{0x31, 0x07, 0x00, 0x03}, "a/b", "hi"}));
  t.add("v311_publish_qos1_dup", v311,
        Publish{.topic = "t", .payload = "x", .qos = QoS::at_least_once, .dup = true,
                .packet_id = {1}},
        wire({{0x3A, 0x06, 0x00, 0x01}, "t", {0x00, 0x01}, "x"}));
  t.add("v311_publish_qos2_empty_payload", v311,
        Publish{.topic = "a/b", .payload = "", .qos = QoS::exactly_once, .packet_id = {0xBEEF}},
        wire({{0x34, 0x07, 0x00, 0x03}, "a/b", {0xBE, 0xEF}}));
  t.add("v311_publish_qos2_dup_retain", v311,
        Publish{.topic = "x", .payload = "y", .qos = QoS::exactly_once, .retain = true,
                .dup = true, .packet_id = {2}},
        wire({{0x3D, 0x06, 0x00, 0x01}, "x", {0x00, 0x02}, "y"}));
  t.add("v311_publish_binary_payload", v311,
        Publish{.topic = "t", .payload = std::string("\x00\x01\xFF", 3)},
        wire({{0x30, 0x06, 0x00, 0x01}, "t", {0x00, 0x01, 0xFF}}));
  t.add("v311_publish_properties_dropped", v311,
        Publish{.topic = "t", .payload = "p",
                .properties = props({num(PI::message_expiry_interval, 10)})},
        wire({{0x30, 0x04, 0x00, 0x01}, "t", "p"}), encode_only);

  t.add("v5_publish_qos0", v5, Publish{.topic = "t", .payload = "hi"},
        wire({{0x30, 0x06, 0x00, 0x01}, "t", {0x00}, "hi"}));

  // Properties: 2 + 5 + 19 + 10 + 7 + 13 + 2 + 5 + 3 = 66 (0x42);
  // remaining (2+3) + 2 + 1 + 66 + 2 = 76 (0x4C). Subscription identifiers
  // 1, 268435455 and 128 exercise 1-, 4- and 2-byte varint properties.
  t.add("v5_publish_qos1_all_publish_properties", v5,
        Publish{.topic = "s/1",
                .payload = "{}",
                .qos = QoS::at_least_once,
                .packet_id = {7},
                .properties = props({num(PI::payload_format_indicator, 1),
                                     num(PI::message_expiry_interval, 60),
                                     text(PI::content_type, "application/json"),
                                     text(PI::response_topic, "reply/1"),
                                     text(PI::correlation_data, "\x01\x02\x03\x04"),
                                     user("trace", "abc"),
                                     num(PI::subscription_identifier, 1),
                                     num(PI::subscription_identifier, 268435455),
                                     num(PI::subscription_identifier, 128)})},
        wire({{0x32, 0x4C, 0x00, 0x03}, "s/1", {0x00, 0x07},
              {0x42},
              {0x01, 0x01},
              {0x02, 0x00, 0x00, 0x00, 0x3C},
              {0x03, 0x00, 0x10}, "application/json",
              {0x08, 0x00, 0x07}, "reply/1",
              {0x09, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04},
              {0x26, 0x00, 0x05}, "trace", {0x00, 0x03}, "abc",
              {0x0B, 0x01},
              {0x0B, 0xFF, 0xFF, 0xFF, 0x7F},
              {0x0B, 0x80, 0x01},
              "{}"}));

  // An empty topic with a Topic Alias stands for an earlier topic [MQTT-3.3.2-8].
  t.add("v5_publish_topic_alias_empty_topic", v5,
        Publish{.topic = "", .payload = "z", .properties = props({num(PI::topic_alias, 5)})},
        wire({{0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x05}, "z"}));
  t.add("v5_publish_qos2_dup_retain_empty_payload", v5,
        Publish{.topic = "t", .payload = "", .qos = QoS::exactly_once, .retain = true,
                .dup = true, .packet_id = {0x0102}},
        wire({{0x3D, 0x06, 0x00, 0x01}, "t", {0x01, 0x02, 0x00}}));
}

inline void add_acks(Table& t) {
  t.add("v31_puback", v31, Puback{{.packet_id = {1}}}, wire({{0x40, 0x02, 0x00, 0x01}}));
  t.add("v31_pubrec", v31, Pubrec{{.packet_id = {2}}}, wire({{0x50, 0x02, 0x00, 0x02}}));
  t.add("v31_pubrel", v31, Pubrel{{.packet_id = {3}}}, wire({{0x62, 0x02, 0x00, 0x03}}));
  t.add("v31_pubcomp", v31, Pubcomp{{.packet_id = {4}}}, wire({{0x70, 0x02, 0x00, 0x04}}));
  t.add("v311_puback", v311, Puback{{.packet_id = {0x0101}}}, wire({{0x40, 0x02, 0x01, 0x01}}));
  t.add("v311_pubrec", v311, Pubrec{{.packet_id = {0x0202}}}, wire({{0x50, 0x02, 0x02, 0x02}}));
  t.add("v311_pubrel", v311, Pubrel{{.packet_id = {0x0303}}}, wire({{0x62, 0x02, 0x03, 0x03}}));
  t.add("v311_pubcomp", v311, Pubcomp{{.packet_id = {0xFFFF}}}, wire({{0x70, 0x02, 0xFF, 0xFF}}));
  t.add("v311_puback_reason_and_properties_dropped", v311,
        Puback{{.packet_id = {5},
                .reason = RC::no_matching_subscribers,
                .properties = props({text(PI::reason_string, "r")})}},
        wire({{0x40, 0x02, 0x00, 0x05}}), encode_only);
  t.add("v311_pubrel_reason_dropped", v311,
        Pubrel{{.packet_id = {6}, .reason = RC::packet_identifier_not_found}},
        wire({{0x62, 0x02, 0x00, 0x06}}), encode_only);

  // 5.0: reason 0x00 without properties may be left out (remaining length 2).
  t.add("v5_puback_compact", v5, Puback{{.packet_id = {5}}}, wire({{0x40, 0x02, 0x00, 0x05}}));
  t.add("v5_puback_reason_only", v5,
        Puback{{.packet_id = {5}, .reason = RC::no_matching_subscribers}},
        wire({{0x40, 0x03, 0x00, 0x05, 0x10}}));
  t.add("v5_puback_reason_and_reason_string", v5,
        Puback{{.packet_id = {5},
                .reason = RC::not_authorized,
                .properties = props({text(PI::reason_string, "no")})}},
        wire({{0x40, 0x09, 0x00, 0x05, 0x87, 0x05, 0x1F, 0x00, 0x02}, "no"}));
  t.add("v5_puback_success_with_user_property", v5,
        Puback{{.packet_id = {6}, .properties = props({user("k", "v")})}},
        wire({{0x40, 0x0B, 0x00, 0x06, 0x00, 0x07, 0x26, 0x00, 0x01}, "k", {0x00, 0x01}, "v"}));
  t.add("v5_pubrec_compact", v5, Pubrec{{.packet_id = {8}}}, wire({{0x50, 0x02, 0x00, 0x08}}));
  t.add("v5_pubrec_reason_only", v5,
        Pubrec{{.packet_id = {8}, .reason = RC::no_matching_subscribers}},
        wire({{0x50, 0x03, 0x00, 0x08, 0x10}}));
  t.add("v5_pubrec_error_with_reason_string", v5,
        Pubrec{{.packet_id = {8},
                .reason = RC::unspecified_error,
                .properties = props({text(PI::reason_string, "e")})}},
        wire({{0x50, 0x08, 0x00, 0x08, 0x80, 0x04, 0x1F, 0x00, 0x01}, "e"}));
  t.add("v5_pubrel_compact", v5, Pubrel{{.packet_id = {9}}}, wire({{0x62, 0x02, 0x00, 0x09}}));
  t.add("v5_pubrel_reason_only", v5,
        Pubrel{{.packet_id = {9}, .reason = RC::packet_identifier_not_found}},
        wire({{0x62, 0x03, 0x00, 0x09, 0x92}}));
  t.add("v5_pubrel_reason_and_user_property", v5,
        Pubrel{{.packet_id = {9},
                .reason = RC::packet_identifier_not_found,
                .properties = props({user("a", "b")})}},
        wire({{0x62, 0x0B, 0x00, 0x09, 0x92, 0x07, 0x26, 0x00, 0x01}, "a", {0x00, 0x01}, "b"}));
  t.add("v5_pubcomp_compact", v5, Pubcomp{{.packet_id = {10}}}, wire({{0x70, 0x02, 0x00, 0x0A}}));
  t.add("v5_pubcomp_reason_and_reason_string", v5,
        Pubcomp{{.packet_id = {10},
                 .reason = RC::packet_identifier_not_found,
                 .properties = props({text(PI::reason_string, "gone")})}},
        wire({{0x70, 0x0B, 0x00, 0x0A, 0x92, 0x07, 0x1F, 0x00, 0x04}, "gone"}));
}

inline void add_subscribe(Table& t) {
  t.add("v31_subscribe", v31,
        Subscribe{.packet_id = {1},
                  .subscriptions = {{.filter = "a/b", .options = {.max_qos = QoS::at_least_once}}}},
        wire({{0x82, 0x08, 0x00, 0x01, 0x00, 0x03}, "a/b", {0x01}}));
  // remaining: 2 + (2+3+1) + (2+3+1) + (2+1+1) = 18 (0x12)
  t.add("v311_subscribe_three_filters", v311,
        Subscribe{.packet_id = {2},
                  .subscriptions = {{.filter = "a/#"},
                                    {.filter = "+/b", .options = {.max_qos = QoS::exactly_once}},
                                    {.filter = "c", .options = {.max_qos = QoS::at_least_once}}}},
        wire({{0x82, 0x12, 0x00, 0x02},
              {0x00, 0x03}, "a/#", {0x00},
              {0x00, 0x03}, "+/b", {0x02},
              {0x00, 0x01}, "c", {0x01}}));
  // 3.1.1 has only the QoS bits; the 5.0 options are not sent.
  t.add("v311_subscribe_v5_options_dropped", v311,
        Subscribe{.packet_id = {3},
                  .subscriptions = {{.filter = "t",
                                     .options = {.max_qos = QoS::at_least_once,
                                                 .no_local = true,
                                                 .retain_as_published = true,
                                                 .retain_handling = RetainHandling::do_not_send}}},
                  .properties = props({num(PI::subscription_identifier, 9)})},
        wire({{0x82, 0x06, 0x00, 0x03, 0x00, 0x01}, "t", {0x01}}), encode_only);

  // options: QoS 1 | No Local 0x04 | Retain As Published 0x08 | Retain Handling 2 << 4 = 0x2D
  t.add("v5_subscribe_all_options", v5,
        Subscribe{.packet_id = {10},
                  .subscriptions = {{.filter = "a/b",
                                     .options = {.max_qos = QoS::at_least_once,
                                                 .no_local = true,
                                                 .retain_as_published = true,
                                                 .retain_handling = RetainHandling::do_not_send}}}},
        wire({{0x82, 0x09, 0x00, 0x0A, 0x00, 0x00, 0x03}, "a/b", {0x2D}}));
  // Subscription Identifier 300 = 0xAC 0x02. Properties 3 + 7 = 10;
  // remaining 2 + 1 + 10 + (2+3+1) + (2+10+1) = 32 (0x20).
  t.add("v5_subscribe_properties_shared", v5,
        Subscribe{.packet_id = {11},
                  .subscriptions = {{.filter = "x/+",
                                     .options = {.max_qos = QoS::exactly_once,
                                                 .retain_handling =
                                                     RetainHandling::send_if_new_subscription}},
                                    {.filter = "$share/g/y"}},
                  .properties = props({num(PI::subscription_identifier, 300), user("u", "1")})},
        wire({{0x82, 0x20, 0x00, 0x0B, 0x0A},
              {0x0B, 0xAC, 0x02},
              {0x26, 0x00, 0x01}, "u", {0x00, 0x01}, "1",
              {0x00, 0x03}, "x/+", {0x12},
              {0x00, 0x0A}, "$share/g/y", {0x00}}));
}

inline void add_suback(Table& t) {
  t.add("v31_suback", v31, Suback{.packet_id = {1}, .reasons = {RC::granted_qos1}},
        wire({{0x90, 0x03, 0x00, 0x01, 0x01}}));
  t.add("v31_suback_failure", v31, Suback{.packet_id = {4}, .reasons = {RC::not_authorized}},
        wire({{0x90, 0x03, 0x00, 0x04, 0x80}}), encode_only);
  t.add("v311_suback_granted_and_failure", v311,
        Suback{.packet_id = {2},
               .reasons = {RC::granted_qos0, RC::granted_qos1, RC::granted_qos2,
                           RC::unspecified_error}},
        wire({{0x90, 0x06, 0x00, 0x02, 0x00, 0x01, 0x02, 0x80}}));
  // Every 5.0 failure reason is 0x80 in 3.1.1.
  t.add("v311_suback_v5_failures_map_to_0x80", v311,
        Suback{.packet_id = {3},
               .reasons = {RC::not_authorized, RC::topic_filter_invalid, RC::granted_qos2,
                           RC::quota_exceeded},
               .properties = props({text(PI::reason_string, "r")})},
        wire({{0x90, 0x06, 0x00, 0x03, 0x80, 0x80, 0x02, 0x80}}), encode_only);
  t.add("v5_suback_granted_and_failures", v5,
        Suback{.packet_id = {5},
               .reasons = {RC::granted_qos0, RC::granted_qos1, RC::granted_qos2, RC::not_authorized,
                           RC::shared_subscriptions_not_supported,
                           RC::wildcard_subscriptions_not_supported}},
        wire({{0x90, 0x09, 0x00, 0x05, 0x00, 0x00, 0x01, 0x02, 0x87, 0x9E, 0xA2}}));
  // Properties 4 + 7 = 11 (0x0B); remaining 2 + 1 + 11 + 1 = 15 (0x0F).
  t.add("v5_suback_properties", v5,
        Suback{.packet_id = {6},
               .reasons = {RC::quota_exceeded},
               .properties = props({text(PI::reason_string, "r"), user("k", "v")})},
        wire({{0x90, 0x0F, 0x00, 0x06, 0x0B},
              {0x1F, 0x00, 0x01}, "r",
              {0x26, 0x00, 0x01}, "k", {0x00, 0x01}, "v",
              {0x97}}));
}

inline void add_unsubscribe(Table& t) {
  t.add("v31_unsubscribe", v31, Unsubscribe{.packet_id = {1}, .filters = {"a/b"}},
        wire({{0xA2, 0x07, 0x00, 0x01, 0x00, 0x03}, "a/b"}));
  t.add("v311_unsubscribe_two_filters", v311,
        Unsubscribe{.packet_id = {2}, .filters = {"a/#", "b"}},
        wire({{0xA2, 0x0A, 0x00, 0x02, 0x00, 0x03}, "a/#", {0x00, 0x01}, "b"}));
  t.add("v5_unsubscribe_two_filters", v5, Unsubscribe{.packet_id = {3}, .filters = {"a/#", "b"}},
        wire({{0xA2, 0x0B, 0x00, 0x03, 0x00, 0x00, 0x03}, "a/#", {0x00, 0x01}, "b"}));
  t.add("v5_unsubscribe_user_property", v5,
        Unsubscribe{.packet_id = {4}, .filters = {"t"}, .properties = props({user("k", "v")})},
        wire({{0xA2, 0x0D, 0x00, 0x04, 0x07, 0x26, 0x00, 0x01}, "k", {0x00, 0x01}, "v",
              {0x00, 0x01}, "t"}));
}

inline void add_unsuback(Table& t) {
  t.add("v31_unsuback", v31, Unsuback{.packet_id = {1}}, wire({{0xB0, 0x02, 0x00, 0x01}}));
  t.add("v311_unsuback", v311, Unsuback{.packet_id = {2}}, wire({{0xB0, 0x02, 0x00, 0x02}}));
  t.add("v311_unsuback_reasons_dropped", v311,
        Unsuback{.packet_id = {3},
                 .reasons = {RC::success, RC::no_subscription_existed},
                 .properties = props({text(PI::reason_string, "r")})},
        wire({{0xB0, 0x02, 0x00, 0x03}}), encode_only);
  t.add("v5_unsuback_reasons", v5,
        Unsuback{.packet_id = {5},
                 .reasons = {RC::success, RC::no_subscription_existed, RC::not_authorized}},
        wire({{0xB0, 0x06, 0x00, 0x05, 0x00, 0x00, 0x11, 0x87}}));
  t.add("v5_unsuback_reason_string", v5,
        Unsuback{.packet_id = {6},
                 .reasons = {RC::topic_filter_invalid},
                 .properties = props({text(PI::reason_string, "x")})},
        wire({{0xB0, 0x08, 0x00, 0x06, 0x04, 0x1F, 0x00, 0x01}, "x", {0x8F}}));
}

inline void add_ping(Table& t) {
  t.add("v31_pingreq", v31, Pingreq{}, wire({{0xC0, 0x00}}));
  t.add("v31_pingresp", v31, Pingresp{}, wire({{0xD0, 0x00}}));
  t.add("v311_pingreq", v311, Pingreq{}, wire({{0xC0, 0x00}}));
  t.add("v311_pingresp", v311, Pingresp{}, wire({{0xD0, 0x00}}));
  t.add("v5_pingreq", v5, Pingreq{}, wire({{0xC0, 0x00}}));
  t.add("v5_pingresp", v5, Pingresp{}, wire({{0xD0, 0x00}}));
}

inline void add_disconnect(Table& t) {
  t.add("v31_disconnect", v31, Disconnect{}, wire({{0xE0, 0x00}}));
  t.add("v311_disconnect", v311, Disconnect{}, wire({{0xE0, 0x00}}));
  t.add("v311_disconnect_reason_and_properties_dropped", v311,
        Disconnect{.reason = RC::server_shutting_down,
                   .properties = props({text(PI::reason_string, "bye")})},
        wire({{0xE0, 0x00}}), encode_only);
  t.add("v5_disconnect_compact", v5, Disconnect{}, wire({{0xE0, 0x00}}));
  t.add("v5_disconnect_with_will", v5, Disconnect{.reason = RC::disconnect_with_will},
        wire({{0xE0, 0x01, 0x04}}));
  t.add("v5_disconnect_server_shutting_down", v5, Disconnect{.reason = RC::server_shutting_down},
        wire({{0xE0, 0x01, 0x8B}}));
  t.add("v5_disconnect_session_expiry", v5,
        Disconnect{.properties = props({num(PI::session_expiry_interval, 0)})},
        wire({{0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00}}));
  // Properties 9 + 9 = 18 (0x12); remaining 1 + 1 + 18 = 20 (0x14).
  t.add("v5_disconnect_server_reference", v5,
        Disconnect{.reason = RC::use_another_server,
                   .properties = props({text(PI::server_reference, "b:1883"),
                                        text(PI::reason_string, "moving")})},
        wire({{0xE0, 0x14, 0x9C, 0x12},
              {0x1C, 0x00, 0x06}, "b:1883",
              {0x1F, 0x00, 0x06}, "moving"}));
}

inline void add_auth(Table& t) {
  // AUTH does not exist before 5.0: nothing is encoded.
  t.add("v31_auth_not_encodable", v31, Auth{}, {}, encode_only);
  t.add("v311_auth_not_encodable", v311,
        Auth{.reason = RC::continue_authentication,
             .properties = props({text(PI::authentication_method, "SCRAM")})},
        {}, encode_only);
  t.add("v5_auth_compact", v5, Auth{}, wire({{0xF0, 0x00}}));
  // Properties 8 + 5 = 13 (0x0D); remaining 15 (0x0F).
  t.add("v5_auth_continue", v5,
        Auth{.reason = RC::continue_authentication,
             .properties = props({text(PI::authentication_method, "SCRAM"),
                                  text(PI::authentication_data, "\x01\x02")})},
        wire({{0xF0, 0x0F, 0x18, 0x0D},
              {0x15, 0x00, 0x05}, "SCRAM",
              {0x16, 0x00, 0x02, 0x01, 0x02}}));
  // Properties 8 + 8 + 7 = 23 (0x17); remaining 25 (0x19).
  t.add("v5_auth_reauthenticate", v5,
        Auth{.reason = RC::reauthenticate,
             .properties = props({text(PI::authentication_method, "SCRAM"),
                                  text(PI::reason_string, "again"), user("k", "v")})},
        wire({{0xF0, 0x19, 0x19, 0x17},
              {0x15, 0x00, 0x05}, "SCRAM",
              {0x1F, 0x00, 0x05}, "again",
              {0x26, 0x00, 0x01}, "k", {0x00, 0x01}, "v"}));
  t.add("v5_auth_success_with_method", v5,
        Auth{.properties = props({text(PI::authentication_method, "SCRAM")})},
        wire({{0xF0, 0x0A, 0x00, 0x08, 0x15, 0x00, 0x05}, "SCRAM"}));
}

inline void add_boundaries(Table& t) {
  // Remaining length as a varint: 127 = 7F; 128 = 80 01; 16383 = FF 7F;
  // 16384 = 80 80 01; 2097151 = FF FF 7F; 2097152 = 80 80 80 01.
  t.add("v311_publish_remaining_127", v311, sized_publish(127),
        sized_publish_bytes({0x30, 0x7F}, 127));
  t.add("v311_publish_remaining_128", v311, sized_publish(128),
        sized_publish_bytes({0x30, 0x80, 0x01}, 128));
  t.add("v311_publish_remaining_16383", v311, sized_publish(16383),
        sized_publish_bytes({0x30, 0xFF, 0x7F}, 16383));
  t.add("v311_publish_remaining_16384", v311, sized_publish(16384),
        sized_publish_bytes({0x30, 0x80, 0x80, 0x01}, 16384));
  t.add("v311_publish_remaining_2097151", v311, sized_publish(2097151),
        sized_publish_bytes({0x30, 0xFF, 0xFF, 0x7F}, 2097151));
  t.add("v311_publish_remaining_2097152", v311, sized_publish(2097152),
        sized_publish_bytes({0x30, 0x80, 0x80, 0x80, 0x01}, 2097152));
  t.add("v31_publish_remaining_16384", v31, sized_publish(16384),
        sized_publish_bytes({0x30, 0x80, 0x80, 0x01}, 16384));
  {
    // 5.0 QoS 0: topic (2+1) + property length (1) + payload; payload 2097148.
    Publish p{.topic = "t", .payload = std::string(2097148, 'b')};
    ByteBuffer b = wire({{0x30, 0x80, 0x80, 0x80, 0x01, 0x00, 0x01}, "t", {0x00}});
    b.insert(b.end(), 2097148, 'b');
    t.add("v5_publish_remaining_2097152", v5, std::move(p), std::move(b));
  }
  {
    // A property length of exactly 128 (80 01): one User Property of
    // 1 + (2+1) + (2+122) = 128 bytes. Remaining (2+1) + 2 + 2 + 128 + 1 = 136 (88 01).
    const std::string value(122, 'v');
    Publish p{.topic = "t",
              .payload = "p",
              .qos = QoS::at_least_once,
              .packet_id = {1},
              .properties = props({user("n", value)})};
    ByteBuffer b = wire({{0x32, 0x88, 0x01, 0x00, 0x01}, "t",
                         {0x00, 0x01, 0x80, 0x01, 0x26, 0x00, 0x01}, "n", {0x00, 0x7A}});
    b.insert(b.end(), value.begin(), value.end());
    b.push_back('p');
    t.add("v5_publish_property_length_128", v5, std::move(p), std::move(b));
  }
}

// clang-format on

}  // namespace detail

inline std::vector<GoldenVector> build_golden_vectors() {
  detail::Table t;
  detail::add_connect(t);
  detail::add_connack(t);
  detail::add_publish(t);
  detail::add_acks(t);
  detail::add_subscribe(t);
  detail::add_suback(t);
  detail::add_unsubscribe(t);
  detail::add_unsuback(t);
  detail::add_ping(t);
  detail::add_disconnect(t);
  detail::add_auth(t);
  detail::add_boundaries(t);
  return std::move(t.rows);
}

// Built once per test binary; tests refer to vectors by index.
inline const std::vector<GoldenVector>& golden_vectors() {
  static const std::vector<GoldenVector> vectors = build_golden_vectors();
  return vectors;
}

}  // namespace roadmq::mqtt::golden

#pragma GCC diagnostic pop
