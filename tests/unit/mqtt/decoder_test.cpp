// Golden-byte decoding: every packet of MQTT 3.1, 3.1.1 and 5.0, written out
// byte by byte from the layouts in the specifications (3.1.1 chapter 3, 5.0
// chapter 3), with every decoded field checked. Remaining Lengths are written
// by hand too; decode_as() checks each one against the array's real size.
#include "mqtt/decoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace roadmq::mqtt {
namespace {

using Bytes = std::vector<std::uint8_t>;
using namespace std::string_literals;

constexpr auto v31 = ProtocolVersion::v3_1;
constexpr auto v311 = ProtocolVersion::v3_1_1;
constexpr auto v5 = ProtocolVersion::v5;

// Frames `bytes`, checks the frame spans all of them, decodes under `v` and
// returns the packet as a T (a default T after reporting any failure).
template <class T>
T decode_as(const Bytes& bytes, ProtocolVersion v) {
  const FrameResult fr = parse_frame(bytes, kMaxPacketSize, v);
  EXPECT_EQ(fr.status, FrameStatus::complete) << fr.error.rule;
  if (fr.status != FrameStatus::complete) return T{};
  EXPECT_EQ(fr.frame.header.packet_size(), bytes.size()) << "hand-written Remaining Length";
  auto decoded = decode_packet(fr.frame, v);
  EXPECT_TRUE(decoded.has_value()) << (decoded ? std::string_view{} : decoded.error().rule);
  if (!decoded) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*decoded)) << "got type index " << decoded->index();
  if (!std::holds_alternative<T>(*decoded)) return T{};
  return std::get<T>(std::move(decoded).value());
}

CodecError decode_error(const Bytes& bytes, ProtocolVersion v) {
  const FrameResult fr = parse_frame(bytes, kMaxPacketSize, v);
  if (fr.status == FrameStatus::error) return fr.error;
  EXPECT_EQ(fr.status, FrameStatus::complete);
  if (fr.status != FrameStatus::complete) return {};
  auto decoded = decode_packet(fr.frame, v);
  EXPECT_FALSE(decoded.has_value());
  return decoded ? CodecError{} : decoded.error();
}

using Pairs = std::vector<std::pair<std::string_view, std::string_view>>;

// ---------------------------------------------------------------------------
// Variable Byte Integer [MQTT-1.5.5]

TEST(DecoderVarInt, BoundaryValuesFromTheSpecTable) {
  struct Case {
    Bytes bytes;
    std::uint32_t value;
  };
  // [MQTT-1.5.5] table 1-1: the smallest and largest value of each size.
  const Case cases[] = {
      {{0x00}, 0},
      {{0x7F}, 127},
      {{0x80, 0x01}, 128},
      {{0xFF, 0x7F}, 16'383},
      {{0x80, 0x80, 0x01}, 16'384},
      {{0xFF, 0xFF, 0x7F}, 2'097'151},
      {{0x80, 0x80, 0x80, 0x01}, 2'097'152},
      {{0xFF, 0xFF, 0xFF, 0x7F}, 268'435'455},
  };
  for (const auto& c : cases) {
    VarInt v;
    ASSERT_EQ(read_varint(c.bytes, v), VarIntStatus::ok) << c.value;
    EXPECT_EQ(v.value, c.value);
    EXPECT_EQ(v.size, c.bytes.size());
  }
}

TEST(DecoderVarInt, StopsAtTheLastByte) {
  const Bytes bytes = {0xC1, 0x02, 0xAA, 0xBB};  // 321, then unrelated bytes
  VarInt v;
  ASSERT_EQ(read_varint(bytes, v), VarIntStatus::ok);
  EXPECT_EQ(v.value, 321u);
  EXPECT_EQ(v.size, 2);
}

TEST(DecoderVarInt, IncompleteNeedsMore) {
  VarInt v;
  EXPECT_EQ(read_varint(Bytes{}, v), VarIntStatus::need_more);
  EXPECT_EQ(read_varint(Bytes{0x80}, v), VarIntStatus::need_more);
  EXPECT_EQ(read_varint(Bytes{0xFF, 0xFF, 0xFF}, v), VarIntStatus::need_more);
}

TEST(DecoderVarInt, FiveBytesAndNonMinimalFormsAreMalformed) {
  VarInt v;
  EXPECT_EQ(read_varint(Bytes{0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, v), VarIntStatus::malformed);
  EXPECT_EQ(read_varint(Bytes{0x80, 0x80, 0x80, 0x80}, v), VarIntStatus::malformed);
  EXPECT_EQ(read_varint(Bytes{0x80, 0x00}, v), VarIntStatus::malformed);
  EXPECT_EQ(read_varint(Bytes{0xFF, 0x80, 0x00}, v), VarIntStatus::malformed);
  EXPECT_EQ(read_varint(Bytes{0x81, 0x80, 0x80, 0x00}, v), VarIntStatus::malformed);
}

// ---------------------------------------------------------------------------
// parse_frame

TEST(DecoderFrame, ReadsTheFixedHeader) {
  const Bytes bytes = {0x3B, 0x07, 0x00, 0x01, 't', 0x12, 0x34, 'x', 'y', 0xC0, 0x00};
  const FrameResult fr = parse_frame(bytes, kMaxPacketSize, v311);
  ASSERT_EQ(fr.status, FrameStatus::complete);
  EXPECT_EQ(fr.frame.header.type, PacketType::publish);
  EXPECT_EQ(fr.frame.header.flags, 0x0B);
  EXPECT_EQ(fr.frame.header.remaining_length, 7u);
  EXPECT_EQ(fr.frame.header.header_size, 2);
  EXPECT_EQ(fr.frame.header.packet_size(), 9u);
  // Only the first frame; the PINGREQ behind it is left for the next call.
  EXPECT_EQ(fr.frame.body.size(), 7u);
  EXPECT_EQ(fr.frame.body.data(), bytes.data() + 2);
}

TEST(DecoderFrame, NeedMoreReportsTheWholeFrameSizeOnceTheHeaderIsIn) {
  Bytes bytes = {0x30, 0xC8, 0x01};  // PUBLISH, Remaining Length 200
  bytes.resize(50);
  FrameResult fr = parse_frame(Bytes{}, kMaxPacketSize, v5);
  EXPECT_EQ(fr.status, FrameStatus::need_more);
  EXPECT_EQ(fr.needed, 0u);
  fr = parse_frame(std::span(bytes).first(2), kMaxPacketSize, v5);
  EXPECT_EQ(fr.status, FrameStatus::need_more);
  EXPECT_EQ(fr.needed, 0u);  // Remaining Length still incomplete
  fr = parse_frame(bytes, kMaxPacketSize, v5);
  EXPECT_EQ(fr.status, FrameStatus::need_more);
  EXPECT_EQ(fr.needed, 203u);
}

TEST(DecoderFrame, FourByteRemainingLength) {
  const Bytes bytes = {0x30, 0x80, 0x80, 0x80, 0x01};  // 2'097'152 bytes of body
  const FrameResult fr = parse_frame(bytes, kMaxPacketSize, v5);
  EXPECT_EQ(fr.status, FrameStatus::need_more);
  EXPECT_EQ(fr.needed, 2'097'157u);
}

TEST(DecoderFrame, MaximumPacketSizeCountsTheFixedHeader) {
  const Bytes bytes = {0x30, 0x08, 0x00, 0x01, 't', 'p', 'a', 'y', 'l', 'd'};  // 10 bytes
  EXPECT_EQ(parse_frame(bytes, 10, v311).status, FrameStatus::complete);
  const FrameResult fr = parse_frame(bytes, 9, v311);
  ASSERT_EQ(fr.status, FrameStatus::error);
  EXPECT_EQ(fr.error.reason, ReasonCode::packet_too_large);
}

// ---------------------------------------------------------------------------
// CONNECT [MQTT-3.1]

TEST(DecoderConnect, Minimal311) {
  const Bytes bytes = {
      0x10, 0x0F,                      // CONNECT, Remaining Length 15
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // Protocol Name
      0x04,                            // Protocol Level 4
      0x02,                            // Clean Session
      0x00, 0x3C,                      // Keep Alive 60
      0x00, 0x03, 'a', 'b', 'c',       // Client Identifier
  };
  const auto c = decode_as<Connect>(bytes, v311);
  EXPECT_EQ(c.version, v311);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 60);
  EXPECT_EQ(c.client_id, "abc");
  EXPECT_FALSE(c.username);
  EXPECT_FALSE(c.password);
  EXPECT_FALSE(c.will);
  EXPECT_TRUE(c.properties.empty());
}

TEST(DecoderConnect, Full311WithWillUserAndPassword) {
  const Bytes bytes = {
      0x10, 0x22,  // Remaining Length 34
      0x00, 0x04, 'M',  'Q',  'T',  'T', 0x04,
      0xEE,                               // user, password, will retain, will QoS 1, will, clean
      0x01, 0x02,                         // Keep Alive 258
      0x00, 0x02, 'c',  '1',              // Client Identifier
      0x00, 0x03, 'w',  '/',  't',        // Will Topic
      0x00, 0x03, 0x01, 0x00, 0xFF,       // Will Message (binary)
      0x00, 0x04, 'u',  's',  'e',  'r',  // User Name
      0x00, 0x02, 0x00, 0xFF,             // Password (binary)
  };
  const auto c = decode_as<Connect>(bytes, v311);
  EXPECT_EQ(c.version, v311);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 258);
  EXPECT_EQ(c.client_id, "c1");
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->topic, "w/t");
  EXPECT_EQ(c.will->payload, "\x01\x00\xFF"s);
  EXPECT_EQ(c.will->qos, QoS::at_least_once);
  EXPECT_TRUE(c.will->retain);
  EXPECT_TRUE(c.will->properties.empty());
  EXPECT_EQ(c.username, "user");
  EXPECT_EQ(c.password, "\x00\xFF"s);
}

TEST(DecoderConnect, PersistentSessionAndEmptyClientId311) {
  const Bytes bytes = {0x10, 0x0C, 0x00, 0x04, 'M',  'Q',  'T',
                       'T',  0x04, 0x00, 0x00, 0x00, 0x00, 0x00};
  const auto c = decode_as<Connect>(bytes, v311);
  EXPECT_FALSE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 0);
  EXPECT_EQ(c.client_id, "");
}

TEST(DecoderConnect, Mqtt31) {
  const Bytes bytes = {
      0x10, 0x16,                                  // Remaining Length 22
      0x00, 0x06, 'M', 'Q', 'I',  's',  'd', 'p',  // Protocol Name of 3.1
      0x03,                                        // Protocol Version 3
      0xC2,                                        // user, password, clean
      0x00, 0x0A,                                  // Keep Alive 10
      0x00, 0x02, 'i', 'd', 0x00, 0x01, 'u', 0x00, 0x01, 'p',
  };
  const auto c = decode_as<Connect>(bytes, v31);
  EXPECT_EQ(c.version, v31);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 10);
  EXPECT_EQ(c.client_id, "id");
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, "p");
  EXPECT_FALSE(c.will);
}

TEST(DecoderConnect, Mqtt31WithWill) {
  const Bytes bytes = {
      0x10, 0x1A, 0x00, 0x06, 'M', 'Q',  'I',  's', 'd', 'p', 0x03,
      0x34,  // will retain, will QoS 2, will
      0x00, 0x00, 0x00, 0x01, 'x', 0x00, 0x03, 'a', '/', 'b', 0x00, 0x04, 'g', 'o', 'n', 'e',
  };
  const auto c = decode_as<Connect>(bytes, v31);
  EXPECT_FALSE(c.clean_start);
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->topic, "a/b");
  EXPECT_EQ(c.will->payload, "gone");
  EXPECT_EQ(c.will->qos, QoS::exactly_once);
  EXPECT_TRUE(c.will->retain);
}

TEST(DecoderConnect, Full5WithPropertiesAndWillProperties) {
  const Bytes bytes = {
      0x10, 0x81, 0x01,  // Remaining Length 129 (two bytes)
      0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05,
      0xD6,                                     // user, password, will QoS 2, will, clean start
      0x00, 0x1E,                               // Keep Alive 30
      0x2F,                                     // Property Length 47
      0x11, 0x00, 0x00, 0x00, 0x78,             //   Session Expiry Interval 120
      0x21, 0x00, 0x14,                         //   Receive Maximum 20
      0x27, 0x00, 0x01, 0x00, 0x00,             //   Maximum Packet Size 65536
      0x22, 0x00, 0x0A,                         //   Topic Alias Maximum 10
      0x19, 0x01,                               //   Request Response Information 1
      0x17, 0x00,                               //   Request Problem Information 0
      0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',  // User Property k=v
      0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'w',  // User Property k=w (repeats allowed)
      0x15, 0x00, 0x05, 'S',  'C',  'R',  'A',  'M',  // Authentication Method
      0x16, 0x00, 0x02, 0x01, 0x02,                   //   Authentication Data
      0x00, 0x00,                                     // Client Identifier "" (server assigns one)
      0x2C,                                           // Will Property Length 44
      0x18, 0x00, 0x00, 0x00, 0x05,                   //   Will Delay Interval 5
      0x01, 0x01,                                     //   Payload Format Indicator 1
      0x02, 0x00, 0x00, 0x0E, 0x10,                   //   Message Expiry Interval 3600
      0x03, 0x00, 0x0A, 't',  'e',  'x',  't',  '/', 'p', 'l', 'a', 'i', 'n',  // Content Type
      0x08, 0x00, 0x03, 'r',  '/',  't',                                       //   Response Topic
      0x09, 0x00, 0x03, 0xAA, 0xBB, 0xCC,                                      //   Correlation Data
      0x26, 0x00, 0x01, 'a',  0x00, 0x01, 'b',                                 // User Property a=b
      0x00, 0x0A, 'w',  'i',  'l',  'l',  '/',  't', 'o', 'p', 'i', 'c',       // Will Topic
      0x00, 0x03, 'b',  'y',  'e',                                             // Will Payload
      0x00, 0x02, 'm',  'e',                                                   // User Name
      0x00, 0x01, 0x00,                                                        // Password
  };
  const auto c = decode_as<Connect>(bytes, v5);
  EXPECT_EQ(c.version, v5);
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 30);
  EXPECT_EQ(c.client_id, "");
  EXPECT_EQ(c.username, "me");
  EXPECT_EQ(c.password, "\0"s);

  const Properties& p = c.properties;
  ASSERT_EQ(p.size(), 10u);
  EXPECT_EQ(p.session_expiry_interval(), 120u);
  EXPECT_EQ(p.receive_maximum(), 20u);
  EXPECT_EQ(p.maximum_packet_size(), 65536u);
  EXPECT_EQ(p.topic_alias_maximum(), 10u);
  EXPECT_EQ(p.request_response_information(), 1u);
  EXPECT_EQ(p.request_problem_information(), 0u);
  EXPECT_EQ(p.user_properties(), (Pairs{{"k", "v"}, {"k", "w"}}));
  EXPECT_EQ(p.authentication_method(), "SCRAM");
  EXPECT_EQ(p.authentication_data(), "\x01\x02");
  // Wire order is kept.
  EXPECT_EQ(p.items()[0].id, PropertyId::session_expiry_interval);
  EXPECT_EQ(p.items()[6].id, PropertyId::user_property);
  EXPECT_EQ(p.items()[9].id, PropertyId::authentication_data);

  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->qos, QoS::exactly_once);
  EXPECT_FALSE(c.will->retain);
  EXPECT_EQ(c.will->topic, "will/topic");
  EXPECT_EQ(c.will->payload, "bye");
  const Properties& w = c.will->properties;
  ASSERT_EQ(w.size(), 7u);
  EXPECT_EQ(w.will_delay_interval(), 5u);
  EXPECT_EQ(w.payload_format_indicator(), 1u);
  EXPECT_EQ(w.message_expiry_interval(), 3600u);
  EXPECT_EQ(w.content_type(), "text/plain");
  EXPECT_EQ(w.response_topic(), "r/t");
  EXPECT_EQ(w.correlation_data(), "\xAA\xBB\xCC");
  EXPECT_EQ(w.user_properties(), (Pairs{{"a", "b"}}));
}

TEST(DecoderConnect, Minimal5AndPasswordWithoutUserName) {
  const Bytes bytes = {
      0x10, 0x11, 0x00, 0x04, 'M',  'Q', 'T', 'T', 0x05,
      0x40,  // password only: allowed from 5.0 on
      0x00, 0x00,
      0x00,  // no properties
      0x00, 0x01, 'c',  0x00, 0x01, 't',
  };
  const auto c = decode_as<Connect>(bytes, v5);
  EXPECT_EQ(c.version, v5);
  EXPECT_FALSE(c.clean_start);
  EXPECT_EQ(c.client_id, "c");
  EXPECT_FALSE(c.username);
  EXPECT_EQ(c.password, "t");
  EXPECT_TRUE(c.properties.empty());
}

TEST(DecoderConnect, VersionComesFromTheConnectNotTheStream) {
  const Bytes v311_connect = {0x10, 0x0C, 0x00, 0x04, 'M',  'Q',  'T',
                              'T',  0x04, 0x02, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(decode_as<Connect>(v311_connect, v5).version, v311);
  const Bytes v5_connect = {0x10, 0x0D, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                            0x05, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(decode_as<Connect>(v5_connect, v31).version, v5);
}

// ---------------------------------------------------------------------------
// CONNACK [MQTT-3.2]

TEST(DecoderConnack, SessionPresent311) {
  const auto c = decode_as<Connack>({0x20, 0x02, 0x01, 0x00}, v311);
  EXPECT_TRUE(c.session_present);
  EXPECT_EQ(c.reason, ReasonCode::success);
  EXPECT_TRUE(c.properties.empty());
}

TEST(DecoderConnack, V3ReturnCodesAreMapped) {
  const std::pair<std::uint8_t, ReasonCode> cases[] = {
      {0, ReasonCode::success},
      {1, ReasonCode::unsupported_protocol_version},
      {2, ReasonCode::client_identifier_not_valid},
      {3, ReasonCode::server_unavailable},
      {4, ReasonCode::bad_username_or_password},
      {5, ReasonCode::not_authorized},
  };
  for (const auto& [code, reason] : cases) {
    for (const auto v : {v31, v311}) {
      const auto c = decode_as<Connack>({0x20, 0x02, 0x00, code}, v);
      EXPECT_FALSE(c.session_present);
      EXPECT_EQ(c.reason, reason) << int{code};
    }
  }
}

TEST(DecoderConnack, Mqtt31FirstByteIsNotUsed) {
  const auto c = decode_as<Connack>({0x20, 0x02, 0xFF, 0x00}, v31);
  EXPECT_FALSE(c.session_present);
  EXPECT_EQ(c.reason, ReasonCode::success);
}

TEST(DecoderConnack, Refusal5WithoutProperties) {
  const auto c = decode_as<Connack>({0x20, 0x03, 0x00, 0x87, 0x00}, v5);
  EXPECT_FALSE(c.session_present);
  EXPECT_EQ(c.reason, ReasonCode::not_authorized);
  EXPECT_TRUE(c.properties.empty());
}

TEST(DecoderConnack, EveryConnackProperty5) {
  const Bytes bytes = {
      0x20, 0x50,                                    // Remaining Length 80
      0x01,                                          // Session Present
      0x00,                                          // Success
      0x4D,                                          // Property Length 77
      0x11, 0x00, 0x00, 0x00, 0x3C,                  //   Session Expiry Interval 60
      0x21, 0x00, 0x0A,                              //   Receive Maximum 10
      0x24, 0x01,                                    //   Maximum QoS 1
      0x25, 0x00,                                    //   Retain Available 0
      0x27, 0x00, 0x00, 0x10, 0x00,                  //   Maximum Packet Size 4096
      0x12, 0x00, 0x05, 'g',  'e',  'n',  '-', '1',  // Assigned Client Identifier
      0x22, 0x00, 0x05,                              //   Topic Alias Maximum 5
      0x1F, 0x00, 0x02, 'o',  'k',                   //   Reason String
      0x26, 0x00, 0x01, 'x',  0x00, 0x01, 'y',       // User Property
      0x28, 0x01,                                    //   Wildcard Subscription Available
      0x29, 0x00,                                    //   Subscription Identifiers Available
      0x2A, 0x01,                                    //   Shared Subscription Available
      0x13, 0x00, 0x1E,                              //   Server Keep Alive 30
      0x1A, 0x00, 0x04, 'r',  'e',  's',  'p',       // Response Information
      0x1C, 0x00, 0x0A, 'o',  't',  'h',  'e', 'r', ':', '1', '8', '8', '3',  // Server Reference
      0x15, 0x00, 0x01, 'M',   //   Authentication Method
      0x16, 0x00, 0x01, 0x07,  //   Authentication Data
  };
  const auto c = decode_as<Connack>(bytes, v5);
  EXPECT_TRUE(c.session_present);
  EXPECT_EQ(c.reason, ReasonCode::success);
  const Properties& p = c.properties;
  ASSERT_EQ(p.size(), 17u);
  EXPECT_EQ(p.session_expiry_interval(), 60u);
  EXPECT_EQ(p.receive_maximum(), 10u);
  EXPECT_EQ(p.maximum_qos(), 1u);
  EXPECT_EQ(p.retain_available(), 0u);
  EXPECT_EQ(p.maximum_packet_size(), 4096u);
  EXPECT_EQ(p.assigned_client_identifier(), "gen-1");
  EXPECT_EQ(p.topic_alias_maximum(), 5u);
  EXPECT_EQ(p.reason_string(), "ok");
  EXPECT_EQ(p.user_properties(), (Pairs{{"x", "y"}}));
  EXPECT_EQ(p.wildcard_subscription_available(), 1u);
  EXPECT_EQ(p.subscription_identifier_available(), 0u);
  EXPECT_EQ(p.shared_subscription_available(), 1u);
  EXPECT_EQ(p.server_keep_alive(), 30u);
  EXPECT_EQ(p.response_information(), "resp");
  EXPECT_EQ(p.server_reference(), "other:1883");
  EXPECT_EQ(p.authentication_method(), "M");
  EXPECT_EQ(p.authentication_data(), "\x07");
}

// ---------------------------------------------------------------------------
// PUBLISH [MQTT-3.3]

TEST(DecoderPublish, Qos0In311And31) {
  const Bytes bytes = {0x30, 0x0A, 0x00, 0x03, 'a', '/', 'b', 'h', 'e', 'l', 'l', 'o'};
  for (const auto v : {v31, v311}) {
    const auto p = decode_as<Publish>(bytes, v);
    EXPECT_EQ(p.topic, "a/b");
    EXPECT_EQ(p.payload, "hello");
    EXPECT_EQ(p.qos, QoS::at_most_once);
    EXPECT_FALSE(p.retain);
    EXPECT_FALSE(p.dup);
    EXPECT_EQ(p.packet_id, PacketId{0});
    EXPECT_TRUE(p.properties.empty());
  }
}

TEST(DecoderPublish, Qos1RetainDup311) {
  const Bytes bytes = {
      0x3B, 0x07,       // PUBLISH, DUP, QoS 1, RETAIN
      0x00, 0x01, 't',  // Topic Name
      0x12, 0x34,       // Packet Identifier
      'x',  'y',        // Payload
  };
  const auto p = decode_as<Publish>(bytes, v311);
  EXPECT_EQ(p.topic, "t");
  EXPECT_EQ(p.payload, "xy");
  EXPECT_EQ(p.qos, QoS::at_least_once);
  EXPECT_TRUE(p.retain);
  EXPECT_TRUE(p.dup);
  EXPECT_EQ(p.packet_id, PacketId{0x1234});
}

TEST(DecoderPublish, Qos2EmptyPayload311) {
  const auto p = decode_as<Publish>({0x34, 0x05, 0x00, 0x01, 't', 0x00, 0x07}, v311);
  EXPECT_EQ(p.qos, QoS::exactly_once);
  EXPECT_EQ(p.packet_id, PacketId{7});
  EXPECT_EQ(p.payload, "");
}

TEST(DecoderPublish, BinaryPayloadKeepsEveryByte) {
  const auto p = decode_as<Publish>({0x30, 0x07, 0x00, 0x01, 't', 0x00, 0xFF, 0x80, 0x00}, v311);
  EXPECT_EQ(p.payload, "\x00\xFF\x80\x00"s);
}

TEST(DecoderPublish, Qos1EveryPublishProperty5) {
  const Bytes bytes = {
      0x32, 0x31,                               // PUBLISH QoS 1, Remaining Length 49
      0x00, 0x03, 's',  '/',  't',              // Topic Name
      0x00, 0x09,                               // Packet Identifier 9
      0x27,                                     // Property Length 39
      0x01, 0x01,                               //   Payload Format Indicator 1
      0x02, 0x00, 0x00, 0x00, 0x0A,             //   Message Expiry Interval 10
      0x23, 0x00, 0x03,                         //   Topic Alias 3
      0x08, 0x00, 0x02, 'r',  'e',              //   Response Topic
      0x09, 0x00, 0x02, 0x01, 0x02,             //   Correlation Data
      0x26, 0x00, 0x01, 'a',  0x00, 0x01, '1',  // User Property
      0x0B, 0x80, 0x01,                         //   Subscription Identifier 128
      0x0B, 0x05,                               //   Subscription Identifier 5 (repeatable here)
      0x03, 0x00, 0x04, 'j',  's',  'o',  'n',  // Content Type
      '{',  '}',                                // Payload
  };
  const auto p = decode_as<Publish>(bytes, v5);
  EXPECT_EQ(p.topic, "s/t");
  EXPECT_EQ(p.payload, "{}");
  EXPECT_EQ(p.qos, QoS::at_least_once);
  EXPECT_EQ(p.packet_id, PacketId{9});
  const Properties& pr = p.properties;
  ASSERT_EQ(pr.size(), 9u);
  EXPECT_EQ(pr.payload_format_indicator(), 1u);
  EXPECT_EQ(pr.message_expiry_interval(), 10u);
  EXPECT_EQ(pr.topic_alias(), 3u);
  EXPECT_EQ(pr.response_topic(), "re");
  EXPECT_EQ(pr.correlation_data(), "\x01\x02");
  EXPECT_EQ(pr.user_properties(), (Pairs{{"a", "1"}}));
  EXPECT_EQ(pr.subscription_identifiers(), (std::vector<std::uint32_t>{128, 5}));
  EXPECT_EQ(pr.content_type(), "json");
}

TEST(DecoderPublish, NoProperties5) {
  const auto p = decode_as<Publish>({0x31, 0x06, 0x00, 0x01, 't', 0x00, 'h', 'i'}, v5);
  EXPECT_EQ(p.topic, "t");
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.payload, "hi");
  EXPECT_TRUE(p.properties.empty());
}

TEST(DecoderPublish, EmptyTopicWithTopicAlias5) {
  const auto p = decode_as<Publish>({0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, 'p'}, v5);
  EXPECT_EQ(p.topic, "");
  EXPECT_EQ(p.properties.topic_alias(), 1u);
  EXPECT_EQ(p.payload, "p");
}

TEST(DecoderPublish, SameBytesMeanDifferentThingsPerVersion) {
  // Under 3.1.1 the byte after the topic is payload; under 5.0 it is the
  // Property Length.
  const Bytes bytes = {0x30, 0x04, 0x00, 0x01, 't', 0x00};
  EXPECT_EQ(decode_as<Publish>(bytes, v311).payload, "\0"s);
  EXPECT_EQ(decode_as<Publish>(bytes, v5).payload, "");
}

// ---------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP [MQTT-3.4..3.7]

TEST(DecoderAck, EveryAckIn3) {
  for (const auto v : {v31, v311}) {
    EXPECT_EQ(decode_as<Puback>({0x40, 0x02, 0x00, 0x01}, v).packet_id, PacketId{1});
    EXPECT_EQ(decode_as<Pubrec>({0x50, 0x02, 0x01, 0x00}, v).packet_id, PacketId{256});
    EXPECT_EQ(decode_as<Pubrel>({0x62, 0x02, 0xFF, 0xFF}, v).packet_id, PacketId{65535});
    const auto c = decode_as<Pubcomp>({0x70, 0x02, 0x00, 0x02}, v);
    EXPECT_EQ(c.packet_id, PacketId{2});
    EXPECT_EQ(c.reason, ReasonCode::success);
    EXPECT_TRUE(c.properties.empty());
  }
}

TEST(DecoderAck, Mqtt31AllowsDupOnPubrel) {
  EXPECT_EQ(decode_as<Pubrel>({0x6A, 0x02, 0x00, 0x03}, v31).packet_id, PacketId{3});
}

TEST(DecoderAck, ShortForms5) {
  // Remaining Length 2: Success, no properties.
  const auto a = decode_as<Puback>({0x40, 0x02, 0x12, 0x34}, v5);
  EXPECT_EQ(a.packet_id, PacketId{0x1234});
  EXPECT_EQ(a.reason, ReasonCode::success);
  EXPECT_TRUE(a.properties.empty());
  // Remaining Length 3: reason code only.
  const auto b = decode_as<Puback>({0x40, 0x03, 0x12, 0x34, 0x10}, v5);
  EXPECT_EQ(b.reason, ReasonCode::no_matching_subscribers);
  EXPECT_TRUE(b.properties.empty());
  // Remaining Length 4: reason code and an empty property list.
  const auto c = decode_as<Pubrec>({0x50, 0x04, 0x00, 0x01, 0x80, 0x00}, v5);
  EXPECT_EQ(c.reason, ReasonCode::unspecified_error);
  EXPECT_TRUE(c.properties.empty());
  const auto d = decode_as<Pubrel>({0x62, 0x03, 0x00, 0x05, 0x92}, v5);
  EXPECT_EQ(d.packet_id, PacketId{5});
  EXPECT_EQ(d.reason, ReasonCode::packet_identifier_not_found);
  const auto e = decode_as<Pubcomp>({0x70, 0x03, 0x00, 0x06, 0x00}, v5);
  EXPECT_EQ(e.reason, ReasonCode::success);
}

TEST(DecoderAck, WithProperties5) {
  const Bytes bytes = {
      0x50, 0x11,                              // PUBREC, Remaining Length 17
      0x00, 0x05,                              // Packet Identifier
      0x97,                                    // Quota exceeded
      0x0D,                                    // Property Length 13
      0x1F, 0x00, 0x03, 'b', 'a',  'd',        //   Reason String
      0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',  // User Property
  };
  const auto r = decode_as<Pubrec>(bytes, v5);
  EXPECT_EQ(r.packet_id, PacketId{5});
  EXPECT_EQ(r.reason, ReasonCode::quota_exceeded);
  EXPECT_EQ(r.properties.reason_string(), "bad");
  EXPECT_EQ(r.properties.user_properties(), (Pairs{{"k", "v"}}));

  const auto c =
      decode_as<Pubcomp>({0x70, 0x0A, 0x00, 0x05, 0x92, 0x06, 0x1F, 0x00, 0x03, 'g', 'o', 'n'}, v5);
  EXPECT_EQ(c.reason, ReasonCode::packet_identifier_not_found);
  EXPECT_EQ(c.properties.reason_string(), "gon");
}

// ---------------------------------------------------------------------------
// SUBSCRIBE / SUBACK [MQTT-3.8, 3.9]

TEST(DecoderSubscribe, ThreeFilters311And31) {
  const Bytes bytes = {
      0x82, 0x10,                        // SUBSCRIBE, Remaining Length 16
      0x00, 0x0A,                        // Packet Identifier 10
      0x00, 0x03, 'a', '/',  '+', 0x01,  // "a/+" QoS 1
      0x00, 0x01, '#', 0x02,             // "#"   QoS 2
      0x00, 0x01, 'c', 0x00,             // "c"   QoS 0
  };
  for (const auto v : {v31, v311}) {
    const auto s = decode_as<Subscribe>(bytes, v);
    EXPECT_EQ(s.packet_id, PacketId{10});
    ASSERT_EQ(s.subscriptions.size(), 3u);
    EXPECT_EQ(s.subscriptions[0].filter, "a/+");
    EXPECT_EQ(s.subscriptions[0].options.max_qos, QoS::at_least_once);
    EXPECT_EQ(s.subscriptions[1].filter, "#");
    EXPECT_EQ(s.subscriptions[1].options.max_qos, QoS::exactly_once);
    EXPECT_EQ(s.subscriptions[2].filter, "c");
    EXPECT_EQ(s.subscriptions[2].options, SubscribeOptions{});
    EXPECT_TRUE(s.properties.empty());
  }
}

TEST(DecoderSubscribe, Mqtt31AllowsDup) {
  const auto s = decode_as<Subscribe>({0x8A, 0x06, 0x00, 0x01, 0x00, 0x01, 'x', 0x01}, v31);
  ASSERT_EQ(s.subscriptions.size(), 1u);
  EXPECT_EQ(s.subscriptions[0].filter, "x");
}

TEST(DecoderSubscribe, OptionsAndProperties5) {
  const Bytes bytes = {
      0x82, 0x1F,                              // Remaining Length 31
      0x00, 0x0B,                              // Packet Identifier 11
      0x09,                                    // Property Length 9
      0x0B, 0x07,                              //   Subscription Identifier 7
      0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v',  // User Property
      0x00, 0x03, 'a',  '/', 'b',
      0x2D,  // Retain Handling 2, RAP, No Local, QoS 1
      0x00, 0x0A, '$',  's', 'h',  'a',  'r', 'e', '/', 'g', '/', 'x',
      0x12,  // Retain Handling 1, QoS 2
  };
  const auto s = decode_as<Subscribe>(bytes, v5);
  EXPECT_EQ(s.packet_id, PacketId{11});
  EXPECT_EQ(s.properties.subscription_identifiers(), (std::vector<std::uint32_t>{7}));
  EXPECT_EQ(s.properties.user_properties(), (Pairs{{"k", "v"}}));
  ASSERT_EQ(s.subscriptions.size(), 2u);
  const auto& a = s.subscriptions[0];
  EXPECT_EQ(a.filter, "a/b");
  EXPECT_EQ(a.options.max_qos, QoS::at_least_once);
  EXPECT_TRUE(a.options.no_local);
  EXPECT_TRUE(a.options.retain_as_published);
  EXPECT_EQ(a.options.retain_handling, RetainHandling::do_not_send);
  const auto& b = s.subscriptions[1];
  EXPECT_EQ(b.filter, "$share/g/x");
  EXPECT_EQ(b.options.max_qos, QoS::exactly_once);
  EXPECT_FALSE(b.options.no_local);
  EXPECT_FALSE(b.options.retain_as_published);
  EXPECT_EQ(b.options.retain_handling, RetainHandling::send_if_new_subscription);
}

TEST(DecoderSubscribe, NoLocalAndRetainAsPublishedAreSeparateBits5) {
  const Bytes bytes = {0x82, 0x0B, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x04, 0x00, 0x01, 'b', 0x08};
  const auto s = decode_as<Subscribe>(bytes, v5);
  ASSERT_EQ(s.subscriptions.size(), 2u);
  EXPECT_TRUE(s.subscriptions[0].options.no_local);
  EXPECT_FALSE(s.subscriptions[0].options.retain_as_published);
  EXPECT_FALSE(s.subscriptions[1].options.no_local);
  EXPECT_TRUE(s.subscriptions[1].options.retain_as_published);
  EXPECT_EQ(s.subscriptions[1].options.retain_handling, RetainHandling::send_on_subscribe);
}

TEST(DecoderSuback, ReturnCodes311) {
  const auto s = decode_as<Suback>({0x90, 0x06, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80}, v311);
  EXPECT_EQ(s.packet_id, PacketId{10});
  EXPECT_EQ(s.reasons,
            (std::vector<ReasonCode>{ReasonCode::granted_qos0, ReasonCode::granted_qos1,
                                     ReasonCode::granted_qos2, ReasonCode::unspecified_error}));
  EXPECT_TRUE(s.properties.empty());
}

TEST(DecoderSuback, GrantedQos31) {
  const auto s = decode_as<Suback>({0x90, 0x03, 0x00, 0x01, 0x02}, v31);
  EXPECT_EQ(s.reasons, std::vector<ReasonCode>{ReasonCode::granted_qos2});
}

TEST(DecoderSuback, EveryReasonCode5) {
  const Bytes bytes = {
      0x90, 0x14,                                     // Remaining Length 20
      0x00, 0x0B, 0x05, 0x1F, 0x00, 0x02, 'n',  'o',  // Reason String
      0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
  };
  const auto s = decode_as<Suback>(bytes, v5);
  EXPECT_EQ(s.packet_id, PacketId{11});
  EXPECT_EQ(s.properties.reason_string(), "no");
  EXPECT_EQ(s.reasons,
            (std::vector<ReasonCode>{
                ReasonCode::granted_qos0, ReasonCode::granted_qos1, ReasonCode::granted_qos2,
                ReasonCode::unspecified_error, ReasonCode::implementation_specific_error,
                ReasonCode::not_authorized, ReasonCode::topic_filter_invalid,
                ReasonCode::packet_identifier_in_use, ReasonCode::quota_exceeded,
                ReasonCode::shared_subscriptions_not_supported,
                ReasonCode::subscription_identifiers_not_supported,
                ReasonCode::wildcard_subscriptions_not_supported}));
}

// ---------------------------------------------------------------------------
// UNSUBSCRIBE / UNSUBACK [MQTT-3.10, 3.11]

TEST(DecoderUnsubscribe, Filters311And31) {
  const Bytes bytes = {0xA2, 0x0A, 0x00, 0x0C, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x01, '#'};
  for (const auto v : {v31, v311}) {
    const auto u = decode_as<Unsubscribe>(bytes, v);
    EXPECT_EQ(u.packet_id, PacketId{12});
    EXPECT_EQ(u.filters, (std::vector<std::string>{"a/b", "#"}));
    EXPECT_TRUE(u.properties.empty());
  }
}

TEST(DecoderUnsubscribe, WithUserProperty5) {
  const Bytes bytes = {
      0xA2, 0x0F, 0x00, 0x0C, 0x07, 0x26, 0x00, 0x01, 'k',
      0x00, 0x01, 'v',  0x00, 0x03, 'x',  '/',  '+',
  };
  const auto u = decode_as<Unsubscribe>(bytes, v5);
  EXPECT_EQ(u.packet_id, PacketId{12});
  EXPECT_EQ(u.filters, std::vector<std::string>{"x/+"});
  EXPECT_EQ(u.properties.user_properties(), (Pairs{{"k", "v"}}));
}

TEST(DecoderUnsuback, NoPayload311And31) {
  for (const auto v : {v31, v311}) {
    const auto u = decode_as<Unsuback>({0xB0, 0x02, 0x00, 0x0C}, v);
    EXPECT_EQ(u.packet_id, PacketId{12});
    EXPECT_TRUE(u.reasons.empty());
    EXPECT_TRUE(u.properties.empty());
  }
}

TEST(DecoderUnsuback, ReasonCodes5) {
  const Bytes bytes = {0xB0, 0x0A, 0x00, 0x0C, 0x00, 0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
  const auto u = decode_as<Unsuback>(bytes, v5);
  EXPECT_EQ(u.packet_id, PacketId{12});
  EXPECT_EQ(u.reasons, (std::vector<ReasonCode>{
                           ReasonCode::success, ReasonCode::no_subscription_existed,
                           ReasonCode::unspecified_error, ReasonCode::implementation_specific_error,
                           ReasonCode::not_authorized, ReasonCode::topic_filter_invalid,
                           ReasonCode::packet_identifier_in_use}));
  const auto w =
      decode_as<Unsuback>({0xB0, 0x08, 0x00, 0x01, 0x04, 0x1F, 0x00, 0x01, 'r', 0x11}, v5);
  EXPECT_EQ(w.properties.reason_string(), "r");
  EXPECT_EQ(w.reasons, std::vector<ReasonCode>{ReasonCode::no_subscription_existed});
}

// ---------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH [MQTT-3.12..3.15]

TEST(DecoderPing, EveryVersion) {
  for (const auto v : {v31, v311, v5}) {
    decode_as<Pingreq>({0xC0, 0x00}, v);
    decode_as<Pingresp>({0xD0, 0x00}, v);
  }
}

TEST(DecoderDisconnect, EmptyIn3) {
  for (const auto v : {v31, v311}) {
    const auto d = decode_as<Disconnect>({0xE0, 0x00}, v);
    EXPECT_EQ(d.reason, ReasonCode::normal_disconnection);
    EXPECT_TRUE(d.properties.empty());
  }
}

TEST(DecoderDisconnect, Forms5) {
  EXPECT_EQ(decode_as<Disconnect>({0xE0, 0x00}, v5).reason, ReasonCode::normal_disconnection);
  EXPECT_EQ(decode_as<Disconnect>({0xE0, 0x01, 0x04}, v5).reason, ReasonCode::disconnect_with_will);
  const Bytes bytes = {
      0xE0, 0x1A,                               // Remaining Length 26
      0x8B,                                     // Server shutting down
      0x18,                                     // Property Length 24
      0x11, 0x00, 0x00, 0x00, 0x00,             //   Session Expiry Interval 0
      0x1F, 0x00, 0x03, 'b',  'y',  'e',        //   Reason String
      0x1C, 0x00, 0x03, 's',  'r',  'v',        //   Server Reference
      0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',  // User Property
  };
  const auto d = decode_as<Disconnect>(bytes, v5);
  EXPECT_EQ(d.reason, ReasonCode::server_shutting_down);
  EXPECT_EQ(d.properties.session_expiry_interval(), 0u);
  EXPECT_EQ(d.properties.reason_string(), "bye");
  EXPECT_EQ(d.properties.server_reference(), "srv");
  EXPECT_EQ(d.properties.user_properties(), (Pairs{{"k", "v"}}));
}

TEST(DecoderAuth, Forms5) {
  const auto empty = decode_as<Auth>({0xF0, 0x00}, v5);
  EXPECT_EQ(empty.reason, ReasonCode::success);
  EXPECT_TRUE(empty.properties.empty());
  EXPECT_EQ(decode_as<Auth>({0xF0, 0x01, 0x19}, v5).reason, ReasonCode::reauthenticate);
  const Bytes bytes = {
      0xF0, 0x1B,                                    // Remaining Length 27
      0x18,                                          // Continue authentication
      0x19,                                          // Property Length 25
      0x15, 0x00, 0x05, 'S',  'C',  'R',  'A', 'M',  // Authentication Method
      0x16, 0x00, 0x03, 0x01, 0x02, 0x03,            //   Authentication Data
      0x1F, 0x00, 0x01, 'r',                         //   Reason String
      0x26, 0x00, 0x01, 'k',  0x00, 0x01, 'v',       // User Property
  };
  const auto a = decode_as<Auth>(bytes, v5);
  EXPECT_EQ(a.reason, ReasonCode::continue_authentication);
  EXPECT_EQ(a.properties.authentication_method(), "SCRAM");
  EXPECT_EQ(a.properties.authentication_data(), "\x01\x02\x03");
  EXPECT_EQ(a.properties.reason_string(), "r");
  EXPECT_EQ(a.properties.user_properties(), (Pairs{{"k", "v"}}));
}

TEST(DecoderAuth, NotAPacketBefore5) {
  for (const auto v : {v31, v311}) {
    const CodecError e = decode_error({0xF0, 0x00}, v);
    EXPECT_EQ(e.reason, ReasonCode::malformed_packet);
  }
}

// ---------------------------------------------------------------------------
// Properties: one case per wire type [MQTT-2.2.2.2], at their boundaries.

TEST(DecoderProperties, ByteType) {
  const auto p = decode_as<Publish>({0x30, 0x06, 0x00, 0x01, 't', 0x02, 0x01, 0x00}, v5);
  ASSERT_EQ(p.properties.size(), 1u);
  EXPECT_EQ(p.properties.items()[0], (Property{PropertyId::payload_format_indicator, 0, {}, {}}));
}

TEST(DecoderProperties, TwoByteIntegerIsBigEndian) {
  const auto p = decode_as<Publish>({0x30, 0x07, 0x00, 0x01, 't', 0x03, 0x23, 0xFF, 0xFE}, v5);
  EXPECT_EQ(p.properties.topic_alias(), 0xFFFEu);
}

TEST(DecoderProperties, FourByteIntegerIsBigEndian) {
  const auto p =
      decode_as<Publish>({0x30, 0x09, 0x00, 0x01, 't', 0x05, 0x02, 0xFF, 0xFE, 0xFD, 0xFC}, v5);
  EXPECT_EQ(p.properties.message_expiry_interval(), 0xFFFEFDFCu);
}

TEST(DecoderProperties, VariableByteIntegerEverySize) {
  const std::pair<Bytes, std::uint32_t> cases[] = {
      {{0x01}, 1},
      {{0x7F}, 127},
      {{0x80, 0x01}, 128},
      {{0x80, 0x80, 0x01}, 16'384},
      {{0xFF, 0xFF, 0xFF, 0x7F}, kMaxSubscriptionIdentifier},
  };
  for (const auto& [encoded, value] : cases) {
    // SUBSCRIBE: packet id, properties {0x0B encoded}, one filter "t" QoS 0.
    Bytes bytes = {0x82, static_cast<std::uint8_t>(2 + 2 + encoded.size() + 4), 0x00,
                   0x01, static_cast<std::uint8_t>(1 + encoded.size()),         0x0B};
    bytes.insert(bytes.end(), encoded.begin(), encoded.end());
    bytes.insert(bytes.end(), {0x00, 0x01, 't', 0x00});
    const auto s = decode_as<Subscribe>(bytes, v5);
    EXPECT_EQ(s.properties.subscription_identifiers(), std::vector<std::uint32_t>{value});
  }
}

TEST(DecoderProperties, Utf8StringMayBeEmptyOrMultiByte) {
  const auto p = decode_as<Publish>({0x30, 0x0E, 0x00, 0x01, 't', 0x0A, 0x03, 0x00, 0x00, 0x08,
                                     0x00, 0x04, 0xF0, 0x9F, 0x9A, 0x97},
                                    v5);
  EXPECT_EQ(p.properties.content_type(), "");
  EXPECT_EQ(p.properties.response_topic(), "\xF0\x9F\x9A\x97");  // U+1F697
}

TEST(DecoderProperties, BinaryDataIsNotValidatedAsText) {
  const auto p = decode_as<Publish>(
      {0x30, 0x0A, 0x00, 0x01, 't', 0x06, 0x09, 0x00, 0x03, 0x00, 0xC0, 0xFF}, v5);
  EXPECT_EQ(p.properties.correlation_data(), "\x00\xC0\xFF"s);
}

TEST(DecoderProperties, StringPairKeepsOrderAndDuplicates) {
  const Bytes bytes = {
      0x30, 0x18, 0x00, 0x01, 't',  0x14, 0x26, 0x00, 0x01, 'a',
      0x00, 0x02, '1',  '2',  0x26, 0x00, 0x00, 0x00, 0x00,  // empty name and value are allowed
      0x26, 0x00, 0x01, 'a',  0x00, 0x01, '3',
  };
  const auto p = decode_as<Publish>(bytes, v5);
  EXPECT_EQ(p.properties.user_properties(), (Pairs{{"a", "12"}, {"", ""}, {"a", "3"}}));
}

TEST(DecoderProperties, TwoByteFormPropertyLength) {
  // 130 bytes of User Property behind a two-byte Property Length.
  Bytes bytes = {0x30, 0x87, 0x01, 0x00, 0x01, 't', 0x82, 0x01, 0x26, 0x00, 0x7B};
  bytes.insert(bytes.end(), 123, 'n');
  bytes.insert(bytes.end(), {0x00, 0x02, 'v', 'v'});
  const auto p = decode_as<Publish>(bytes, v5);
  const auto props = p.properties.user_properties();
  ASSERT_EQ(props.size(), 1u);
  EXPECT_EQ(props[0].first, std::string(123, 'n'));
  EXPECT_EQ(props[0].second, "vv");
}

}  // namespace
}  // namespace roadmq::mqtt
