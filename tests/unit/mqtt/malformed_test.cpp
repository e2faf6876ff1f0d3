// Malformed packets and protocol errors: one table row per rule the decoder
// enforces, each naming the reason code the broker answers with and the spec
// rule tag the error must cite. Then the robustness half: every prefix of a
// valid packet, every truncated body and every single-bit corruption must end
// in need_more, a packet or an error, never a crash or an out-of-bounds read
// (this file is meant to run under ASan/UBSan).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "mqtt/decoder.hpp"

namespace roadmq::mqtt {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr auto v31 = ProtocolVersion::v3_1;
constexpr auto v311 = ProtocolVersion::v3_1_1;
constexpr auto v5 = ProtocolVersion::v5;

constexpr auto kMalformed = ReasonCode::malformed_packet;
constexpr auto kProtocol = ReasonCode::protocol_error;
constexpr auto kBadVersion = ReasonCode::unsupported_protocol_version;
constexpr auto kBadTopic = ReasonCode::topic_name_invalid;
constexpr auto kBadFilter = ReasonCode::topic_filter_invalid;
constexpr auto kTooLarge = ReasonCode::packet_too_large;

// --- byte builders, following the layouts of [MQTT-1.5] ---------------------

Bytes varint(std::size_t v) {
  Bytes out;
  do {
    auto b = static_cast<std::uint8_t>(v % 128);
    v /= 128;
    if (v != 0) b |= 0x80;
    out.push_back(b);
  } while (v != 0);
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A UTF-8 string or binary data: two-byte length, then the bytes.
Bytes s(std::string_view text) {
  Bytes out = {static_cast<std::uint8_t>(text.size() >> 8), static_cast<std::uint8_t>(text.size())};
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

Bytes raw(std::string_view text) { return Bytes(text.begin(), text.end()); }

// Fixed header with a correct Remaining Length, then the body.
Bytes pkt(std::uint8_t first, const Bytes& body) {
  return cat({{first}, varint(body.size()), body});
}

// A property block: Property Length, then the properties.
Bytes props(const Bytes& p) { return cat({varint(p.size()), p}); }

Bytes connect3(const Bytes& name, std::uint8_t level, std::uint8_t flags, const Bytes& payload) {
  return pkt(0x10, cat({name, {level, flags, 0x00, 0x3C}, payload}));
}
Bytes connect311(std::uint8_t flags, const Bytes& payload) {
  return connect3(s("MQTT"), 4, flags, payload);
}
Bytes connect5(std::uint8_t flags, const Bytes& properties, const Bytes& payload) {
  return pkt(0x10, cat({s("MQTT"), {0x05, flags, 0x00, 0x3C}, props(properties), payload}));
}
Bytes connack5(std::uint8_t ack_flags, std::uint8_t reason, const Bytes& properties) {
  return pkt(0x20, cat({{ack_flags, reason}, props(properties)}));
}
// PUBLISH QoS 0 under 5.0 with topic "t".
Bytes publish5(const Bytes& properties) { return pkt(0x30, cat({s("t"), props(properties)})); }
Bytes subscribe5(const Bytes& properties, const Bytes& payload) {
  return pkt(0x82, cat({{0x00, 0x01}, props(properties), payload}));
}

// --- the table ----------------------------------------------------------------

struct Row {
  const char* name;
  ProtocolVersion version;
  Bytes bytes;
  ReasonCode reason;
  std::string_view rule;  // the tag the error must cite
  std::uint32_t max_packet_size = kMaxPacketSize;
};

std::ostream& operator<<(std::ostream& os, const Row& row) { return os << row.name; }

// What a connection would do with `bytes`: frame, then decode.
CodecError first_error(const Bytes& bytes, ProtocolVersion v, std::uint32_t max_size,
                       bool& failed) {
  failed = true;
  const FrameResult fr = parse_frame(bytes, max_size, v);
  if (fr.status == FrameStatus::error) return fr.error;
  if (fr.status == FrameStatus::need_more) {
    failed = false;
    return {};
  }
  auto decoded = decode_packet(fr.frame, v);
  if (!decoded) return decoded.error();
  failed = false;
  return {};
}

class MalformedTable : public ::testing::TestWithParam<Row> {};

TEST_P(MalformedTable, IsRefusedWithTheRightReasonAndRule) {
  const Row& row = GetParam();
  bool failed = false;
  const CodecError err = first_error(row.bytes, row.version, row.max_packet_size, failed);
  ASSERT_TRUE(failed) << "accepted";
  EXPECT_EQ(err.reason, row.reason) << err.rule;
  EXPECT_NE(err.rule.find(row.rule), std::string_view::npos) << err.rule;
  EXPECT_TRUE(err.rule.starts_with("[MQTT-")) << err.rule;

  // A connection sees the same error, and stays failed.
  StreamDecoder stream(row.max_packet_size, row.version);
  stream.feed(row.bytes);
  Packet p;
  ASSERT_EQ(stream.next(p), StreamDecoder::Status::error);
  EXPECT_EQ(stream.error(), err);
  EXPECT_EQ(stream.next(p), StreamDecoder::Status::error);
}

const Bytes kAuthMethod = cat({{0x15}, s("M")});
const Bytes kUser = cat({{0x26}, s("k"), s("v")});

// Rows are laid out by hand, one rule per entry.
// clang-format off
const Row kRows[] = {
    // ---- fixed header [MQTT-2.2] ----
    {"Type0", v311, {0x00, 0x00}, kMalformed, "[MQTT-2.2.1]"},
    {"Type15Before5", v311, {0xF0, 0x00}, kMalformed, "[MQTT-2.2.1]"},
    {"Type15In31", v31, {0xF0, 0x00}, kMalformed, "[MQTT-2.2.1]"},
    {"ConnectFlags", v311, {0x11, 0x00}, kMalformed, "[MQTT-2.2.2-1]"},
    {"ConnackFlags", v311, {0x28, 0x02, 0x00, 0x00}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PubackFlags", v311, {0x41, 0x02, 0x00, 0x01}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PubrecFlags", v5, {0x52, 0x02, 0x00, 0x01}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PubrelFlags0000", v311, {0x60, 0x02, 0x00, 0x01}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PubrelDup311", v311, {0x6A, 0x02, 0x00, 0x01}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PubrelFlagsIn31", v31, {0x63, 0x02, 0x00, 0x01}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PubcompFlags", v5, {0x78, 0x02, 0x00, 0x01}, kMalformed, "[MQTT-2.2.2-1]"},
    {"SubscribeFlags0000", v311, pkt(0x80, cat({{0x00, 0x01}, s("a"), {0x00}})), kMalformed,
     "[MQTT-2.2.2-1]"},
    {"SubscribeFlags0011", v5, pkt(0x83, cat({{0x00, 0x01, 0x00}, s("a"), {0x00}})), kMalformed,
     "[MQTT-2.2.2-1]"},
    {"SubackFlags", v311, {0x91, 0x03, 0x00, 0x01, 0x00}, kMalformed, "[MQTT-2.2.2-1]"},
    {"UnsubscribeFlags", v311, pkt(0xA0, cat({{0x00, 0x01}, s("a")})), kMalformed,
     "[MQTT-2.2.2-1]"},
    {"UnsubackFlags", v311, {0xB4, 0x02, 0x00, 0x01}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PingreqFlags", v311, {0xC1, 0x00}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PingrespFlags", v5, {0xD8, 0x00}, kMalformed, "[MQTT-2.2.2-1]"},
    {"DisconnectFlags", v311, {0xE2, 0x00}, kMalformed, "[MQTT-2.2.2-1]"},
    {"AuthFlags", v5, {0xF1, 0x00}, kMalformed, "[MQTT-2.2.2-1]"},
    {"PublishQos3", v311, {0x36, 0x03, 0x00, 0x01, 't'}, kMalformed, "[MQTT-3.3.1-4]"},
    {"PublishQos3Retain", v5, {0x37, 0x00}, kMalformed, "[MQTT-3.3.1-4]"},
    {"PublishDupQos0", v311, {0x38, 0x03, 0x00, 0x01, 't'}, kMalformed, "[MQTT-3.3.1-2]"},
    {"RemainingLengthFiveBytes", v311, {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, kMalformed,
     "[MQTT-1.5.5]"},
    {"RemainingLengthNotMinimal", v311, {0x30, 0x80, 0x00}, kMalformed, "[MQTT-1.5.5-1]"},
    {"RemainingLengthNotMinimal4", v5, {0xC0, 0x80, 0x80, 0x80, 0x00}, kMalformed,
     "[MQTT-1.5.5-1]"},
    {"PacketTooLarge", v5, {0x30, 0xE8, 0x07}, kTooLarge, "[MQTT-3.2.2.3.6]", 100},
    {"PacketTooLargeByOne", v311, {0x30, 0x63}, kTooLarge, "[MQTT-3.2.2.3.6]", 100},

    // ---- lengths and leftovers ----
    {"PingreqWithBody", v311, {0xC0, 0x01, 0x00}, kMalformed, "[MQTT-3.12.1]"},
    {"PingrespWithBody", v5, {0xD0, 0x01, 0x00}, kMalformed, "[MQTT-3.13.1]"},
    {"DisconnectWithBodyBefore5", v311, {0xE0, 0x01, 0x00}, kMalformed, "[MQTT-3.14.1]"},
    {"ConnackLength3Before5", v311, {0x20, 0x03, 0x00, 0x00, 0x00}, kMalformed, "[MQTT-3.2.1]"},
    {"PubackLength3Before5", v311, {0x40, 0x03, 0x00, 0x01, 0x00}, kMalformed, "[MQTT-2.2.3]"},
    {"PubcompLength1Before5", v31, {0x70, 0x01, 0x00}, kMalformed, "[MQTT-2.2.3]"},
    {"TopicOverrunsPacket", v311, {0x30, 0x03, 0x00, 0x05, 'a'}, kMalformed, "[MQTT-2.2.3]"},
    {"PacketIdMissing", v311, {0x32, 0x03, 0x00, 0x01, 't'}, kMalformed, "[MQTT-2.2.3]"},
    {"SubscribeOptionsMissing", v311, pkt(0x82, cat({{0x00, 0x01}, s("a")})), kMalformed,
     "[MQTT-2.2.3]"},
    {"ConnectTrailingByte", v311, connect311(0x02, cat({s("c"), {0x00}})), kMalformed,
     "[MQTT-2.2.3]"},
    {"PubackTrailingByte5", v5, {0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}, kMalformed,
     "[MQTT-2.2.3]"},
    {"DisconnectTrailingByte5", v5, {0xE0, 0x03, 0x00, 0x00, 0x00}, kMalformed, "[MQTT-2.2.3]"},
    {"ConnackMissingPropertyLength5", v5, {0x20, 0x02, 0x00, 0x00}, kMalformed, "[MQTT-2.2.3]"},

    // ---- UTF-8 [MQTT-1.5.4] ----
    {"TopicIllFormed", v311, pkt(0x30, s("\xC0\x80")), kMalformed, "[MQTT-1.5.4-1]"},
    {"TopicSurrogate", v5, pkt(0x30, cat({s("\xED\xA0\x80"), {0x00}})), kMalformed,
     "[MQTT-1.5.4-1]"},
    {"TopicNullCharacter", v311, pkt(0x30, s(std::string_view("a\0b", 3))), kMalformed,
     "[MQTT-1.5.4-2]"},
    {"ClientIdIllFormed", v311, connect311(0x02, s("\xFF")), kMalformed, "[MQTT-1.5.4-1]"},
    {"UserNameIllFormed", v311, connect311(0x82, cat({s("c"), s("\xE0\x80\x80")})), kMalformed,
     "[MQTT-1.5.4-1]"},
    {"FilterIllFormed", v311, pkt(0x82, cat({{0x00, 0x01}, s("a\x80"), {0x00}})), kMalformed,
     "[MQTT-1.5.4-1]"},
    {"UnsubscribeFilterNull", v311, pkt(0xA2, cat({{0x00, 0x01}, s(std::string_view("\0", 1))})),
     kMalformed, "[MQTT-1.5.4-2]"},
    {"ReasonStringIllFormed", v5,
     pkt(0x40, cat({{0x00, 0x01, 0x00}, props(cat({{0x1F}, s("\xF5")}))})), kMalformed,
     "[MQTT-1.5.4-1]"},
    {"UserPropertyValueNull", v5,
     publish5(cat({{0x26}, s("k"), s(std::string_view("\0", 1))})), kMalformed, "[MQTT-1.5.4-2]"},

    // ---- CONNECT [MQTT-3.1] ----
    {"ProtocolNameUnknown", v5, connect3(s("MQTX"), 4, 0x02, s("c")), kBadVersion,
     "[MQTT-3.1.2-1]"},
    {"ProtocolNameLowercase", v311, connect3(s("mqtt"), 4, 0x02, s("c")), kBadVersion,
     "[MQTT-3.1.2-1]"},
    {"MqttWithLevel3", v311, connect3(s("MQTT"), 3, 0x02, s("c")), kBadVersion, "[MQTT-3.1.2-2]"},
    {"MqisdpWithLevel4", v311, connect3(s("MQIsdp"), 4, 0x02, s("c")), kBadVersion,
     "[MQTT-3.1.2-2]"},
    {"MqttWithLevel6", v5, connect3(s("MQTT"), 6, 0x02, s("c")), kBadVersion, "[MQTT-3.1.2-2]"},
    {"ConnectMissingLevel", v311, pkt(0x10, s("MQTT")), kMalformed, "[MQTT-2.2.3]"},
    {"ConnectReservedFlag", v311, connect311(0x03, s("c")), kMalformed, "[MQTT-3.1.2-3]"},
    {"ConnectReservedFlag5", v5, connect5(0x01, {}, s("c")), kMalformed, "[MQTT-3.1.2-3]"},
    {"WillQosWithoutWill", v311, connect311(0x08, s("c")), kMalformed, "[MQTT-3.1.2-13]"},
    {"WillRetainWithoutWill", v5, connect5(0x20, {}, s("c")), kMalformed, "[MQTT-3.1.2-15]"},
    {"WillQos3", v311, connect311(0x1C, cat({s("c"), s("w"), s("m")})), kMalformed,
     "[MQTT-3.1.2-14]"},
    {"PasswordWithoutUserName311", v311, connect311(0x40, cat({s("c"), s("p")})), kMalformed,
     "[MQTT-3.1.2-22]"},
    {"PasswordWithoutUserName31", v31, connect3(s("MQIsdp"), 3, 0x40, cat({s("c"), s("p")})),
     kMalformed, "[MQTT-3.1.2-22]"},
    {"WillTopicWildcard", v311, connect311(0x04, cat({s("c"), s("a/#"), s("m")})), kBadTopic,
     "[MQTT-3.3.2-2]"},
    {"WillTopicEmpty", v5, connect5(0x04, {}, cat({s("c"), props({}), s(""), s("m")})), kBadTopic,
     "[MQTT-4.7.3-1]"},
    {"WillMissing", v311, connect311(0x04, s("c")), kMalformed, "[MQTT-2.2.3]"},
    {"UserNameMissing", v311, connect311(0x80, s("c")), kMalformed, "[MQTT-2.2.3]"},
    {"ConnectPropertyNotAllowed", v5, connect5(0x02, {0x23, 0x00, 0x01}, s("c")), kMalformed,
     "[MQTT-2.2.2.2]"},
    {"WillPropertyNotAllowed", v5,
     connect5(0x04, {}, cat({s("c"), props({0x11, 0, 0, 0, 1}), s("w"), s("m")})), kMalformed,
     "[MQTT-2.2.2.2]"},
    {"WillDelayOutsideWill", v5, connect5(0x02, {0x18, 0, 0, 0, 1}, s("c")), kMalformed,
     "[MQTT-2.2.2.2]"},
    {"AuthDataWithoutMethod", v5, connect5(0x02, cat({{0x16}, s("x")}), s("c")), kProtocol,
     "[MQTT-3.1.2.11.10]"},
    {"ReceiveMaximum0", v5, connect5(0x02, {0x21, 0x00, 0x00}, s("c")), kProtocol,
     "[MQTT-3.1.2.11.3]"},
    {"MaximumPacketSize0", v5, connect5(0x02, {0x27, 0, 0, 0, 0}, s("c")), kProtocol,
     "[MQTT-3.1.2.11.4]"},
    {"RequestProblemInformation2", v5, connect5(0x02, {0x17, 0x02}, s("c")), kProtocol,
     "[MQTT-3.1.2.11.7]"},
    {"RequestResponseInformation2", v5, connect5(0x02, {0x19, 0x02}, s("c")), kProtocol,
     "[MQTT-3.1.2.11.6]"},
    {"SessionExpiryTwice", v5, connect5(0x02, {0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2}, s("c")),
     kProtocol, "[MQTT-2.2.2.2]"},
    {"AuthMethodTwice", v5, connect5(0x02, cat({kAuthMethod, kAuthMethod}), s("c")), kProtocol,
     "[MQTT-2.2.2.2]"},
    {"PropertyLengthOverrunsPacket", v5,
     pkt(0x10, cat({s("MQTT"), {0x05, 0x02, 0x00, 0x00, 0x09, 0x11, 0, 0, 0, 0}})), kMalformed,
     "[MQTT-2.2.2.1]"},
    {"PropertyValueOverrunsPropertyLength", v5, connect5(0x02, {0x11, 0x00, 0x00}, s("c")),
     kMalformed, "[MQTT-2.2.2.2]"},
    {"StringPropertyOverrunsPropertyLength", v5, connect5(0x02, {0x15, 0x00, 0x05, 'a'}, s("c")),
     kMalformed, "[MQTT-2.2.2.2]"},
    {"UnknownPropertyId", v5, connect5(0x02, {0x05, 0x00}, s("c")), kMalformed, "[MQTT-2.2.2.2]"},
    {"PropertyIdAsLongVarInt", v5, connect5(0x02, {0x91, 0x00}, s("c")), kMalformed,
     "[MQTT-2.2.2.2]"},
    {"WillResponseTopicWildcard", v5,
     connect5(0x04, {}, cat({s("c"), props(cat({{0x08}, s("r/+")})), s("w"), s("m")})), kProtocol,
     "[MQTT-3.3.2-14]"},
    {"WillPayloadFormat2", v5,
     connect5(0x04, {}, cat({s("c"), props({0x01, 0x02}), s("w"), s("m")})), kProtocol,
     "[MQTT-3.3.2.3.2]"},

    // ---- CONNACK [MQTT-3.2] ----
    {"ConnackReservedAckFlags", v311, {0x20, 0x02, 0x02, 0x00}, kMalformed, "[MQTT-3.2.2-1]"},
    {"ConnackReservedAckFlags5", v5, connack5(0x80, 0x00, {}), kMalformed, "[MQTT-3.2.2-1]"},
    {"SessionPresentWithRefusal", v311, {0x20, 0x02, 0x01, 0x05}, kProtocol, "[MQTT-3.2.2-4]"},
    {"ConnackReturnCodeAbove5", v311, {0x20, 0x02, 0x00, 0x06}, kMalformed, "[MQTT-3.2.2.3]"},
    {"SessionPresentWithRefusal5", v5, connack5(0x01, 0x80, {}), kProtocol, "[MQTT-3.2.2-4]"},
    {"ConnackReasonNotAllowed", v5, connack5(0x00, 0x04, {}), kMalformed, "[MQTT-2.4]"},
    {"ConnackMaximumQos2", v5, connack5(0x00, 0x00, {0x24, 0x02}), kProtocol, "[MQTT-3.2.2.3.4]"},
    {"ConnackRetainAvailable2", v5, connack5(0x00, 0x00, {0x25, 0x02}), kProtocol,
     "[MQTT-3.2.2.3.5]"},
    {"ConnackWildcardAvailable2", v5, connack5(0x00, 0x00, {0x28, 0x02}), kProtocol,
     "[MQTT-3.2.2.3.11]"},
    {"ConnackSubscriptionIdsAvailable2", v5, connack5(0x00, 0x00, {0x29, 0xFF}), kProtocol,
     "[MQTT-3.2.2.3.12]"},
    {"ConnackSharedAvailable2", v5, connack5(0x00, 0x00, {0x2A, 0x02}), kProtocol,
     "[MQTT-3.2.2.3.13]"},
    {"ConnackReceiveMaximum0", v5, connack5(0x00, 0x00, {0x21, 0x00, 0x00}), kProtocol,
     "[MQTT-3.1.2.11.3]"},
    {"ConnackAuthDataWithoutMethod", v5, connack5(0x00, 0x00, cat({{0x16}, s("d")})), kProtocol,
     "[MQTT-3.1.2.11.10]"},
    {"ConnackWillDelayNotAllowed", v5, connack5(0x00, 0x00, {0x18, 0, 0, 0, 0}), kMalformed,
     "[MQTT-2.2.2.2]"},

    // ---- PUBLISH [MQTT-3.3] ----
    {"PublishEmptyTopic311", v311, pkt(0x30, cat({s(""), raw("x")})), kBadTopic,
     "[MQTT-4.7.3-1]"},
    {"PublishEmptyTopicNoAlias5", v5, pkt(0x30, cat({s(""), props({})})),
     kProtocol, "[MQTT-3.3.2.3.4]"},
    {"PublishTopicPlus", v311, pkt(0x30, s("a/+")), kBadTopic, "[MQTT-3.3.2-2]"},
    {"PublishTopicHash5", v5, pkt(0x30, cat({s("#"), props({})})), kBadTopic, "[MQTT-3.3.2-2]"},
    {"PublishPacketId0", v311, pkt(0x32, cat({s("t"), {0x00, 0x00}})), kProtocol,
     "[MQTT-2.2.1-3]"},
    {"PublishPacketId0Qos2", v5, pkt(0x34, cat({s("t"), {0x00, 0x00}, props({})})), kProtocol,
     "[MQTT-2.2.1-3]"},
    {"TopicAlias0", v5, publish5({0x23, 0x00, 0x00}), kProtocol, "[MQTT-3.3.2.3.4]"},
    {"SubscriptionId0InPublish", v5, publish5({0x0B, 0x00}), kProtocol, "[MQTT-3.3.2.3.8]"},
    {"PayloadFormat2", v5, publish5({0x01, 0x02}), kProtocol, "[MQTT-3.3.2.3.2]"},
    {"TopicAliasTwice", v5, publish5({0x23, 0x00, 0x01, 0x23, 0x00, 0x02}), kProtocol,
     "[MQTT-2.2.2.2]"},
    {"ReasonStringInPublish", v5, publish5(cat({{0x1F}, s("r")})), kMalformed, "[MQTT-2.2.2.2]"},
    {"SubscriptionIdNotMinimal", v5, publish5({0x0B, 0x81, 0x00}), kMalformed, "[MQTT-1.5.5-1]"},
    {"SubscriptionIdOverrunsProperties", v5, publish5({0x0B, 0x81}), kMalformed,
     "[MQTT-2.2.2.2]"},
    {"SubscriptionIdFiveBytes", v5, publish5({0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), kMalformed,
     "[MQTT-1.5.5-1]"},
    {"PropertyLengthNotMinimal", v5, pkt(0x30, cat({s("t"), {0x80, 0x00}})), kMalformed,
     "[MQTT-1.5.5-1]"},
    {"PropertyLengthMissing", v5, pkt(0x30, s("t")), kMalformed, "[MQTT-2.2.3]"},

    // ---- PUBACK, PUBREC, PUBREL, PUBCOMP [MQTT-3.4..3.7] ----
    {"PubackPacketId0", v311, {0x40, 0x02, 0x00, 0x00}, kProtocol, "[MQTT-2.2.1-3]"},
    {"PubrecPacketId0", v5, {0x50, 0x02, 0x00, 0x00}, kProtocol, "[MQTT-2.2.1-3]"},
    {"PubrelPacketId0", v31, {0x62, 0x02, 0x00, 0x00}, kProtocol, "[MQTT-2.2.1-3]"},
    {"PubcompPacketId0", v5, {0x70, 0x03, 0x00, 0x00, 0x00}, kProtocol, "[MQTT-2.2.1-3]"},
    {"PubackReason92", v5, {0x40, 0x03, 0x00, 0x01, 0x92}, kMalformed, "[MQTT-2.4]"},
    {"PubrecReason04", v5, {0x50, 0x03, 0x00, 0x01, 0x04}, kMalformed, "[MQTT-2.4]"},
    {"PubrelReason10", v5, {0x62, 0x03, 0x00, 0x01, 0x10}, kMalformed, "[MQTT-2.4]"},
    {"PubcompReason80", v5, {0x70, 0x03, 0x00, 0x01, 0x80}, kMalformed, "[MQTT-2.4]"},
    {"PubackUnknownReason", v5, {0x40, 0x03, 0x00, 0x01, 0x7F}, kMalformed, "[MQTT-2.4]"},
    {"PubackTopicAlias", v5, pkt(0x40, cat({{0x00, 0x01, 0x00}, props({0x23, 0x00, 0x01})})),
     kMalformed, "[MQTT-2.2.2.2]"},
    {"PubackReasonStringTwice", v5,
     pkt(0x40, cat({{0x00, 0x01, 0x00}, props(cat({{0x1F}, s("a"), {0x1F}, s("b")}))})), kProtocol,
     "[MQTT-2.2.2.2]"},
    {"PubackPropertyLengthOverrun", v5, {0x40, 0x05, 0x00, 0x01, 0x00, 0x05, 0x1F}, kMalformed,
     "[MQTT-2.2.2.1]"},

    // ---- SUBSCRIBE [MQTT-3.8] ----
    {"SubscribePacketId0", v311, pkt(0x82, cat({{0x00, 0x00}, s("a"), {0x00}})), kProtocol,
     "[MQTT-2.2.1-3]"},
    {"SubscribeNoFilter", v311, {0x82, 0x02, 0x00, 0x01}, kProtocol, "[MQTT-3.8.3-3]"},
    {"SubscribeNoFilter5", v5, subscribe5(kUser, {}), kProtocol, "[MQTT-3.8.3-3]"},
    {"SubscribeHashNotLast", v311, pkt(0x82, cat({{0x00, 0x01}, s("a/#/b"), {0x00}})), kBadFilter,
     "[MQTT-4.7.1-2]"},
    {"SubscribePlusNotWholeLevel", v5, subscribe5({}, cat({s("a+"), {0x00}})), kBadFilter,
     "[MQTT-4.7.1-3]"},
    {"SubscribeEmptyFilter", v311, pkt(0x82, cat({{0x00, 0x01}, s(""), {0x00}})), kBadFilter,
     "[MQTT-4.7.3-1]"},
    {"SubscribeSecondFilterBad", v311,
     pkt(0x82, cat({{0x00, 0x01}, s("ok"), {0x01}, s("#/x"), {0x00}})), kBadFilter,
     "[MQTT-4.7.1-2]"},
    {"SubscribeShareNameEmpty", v5, subscribe5({}, cat({s("$share//x"), {0x00}})), kBadFilter,
     "[MQTT-4.8.2-1]"},
    {"RequestedQosReservedBits", v311, pkt(0x82, cat({{0x00, 0x01}, s("a"), {0x04}})), kMalformed,
     "[MQTT-3.8.3-4]"},
    {"RequestedQosHighBit31", v31, pkt(0x82, cat({{0x00, 0x01}, s("a"), {0x80}})), kMalformed,
     "[MQTT-3.8.3-4]"},
    {"RequestedQos3", v311, pkt(0x82, cat({{0x00, 0x01}, s("a"), {0x03}})), kMalformed,
     "[MQTT-3.8.3-4]"},
    {"OptionsBit6", v5, subscribe5({}, cat({s("a"), {0x40}})), kMalformed, "[MQTT-3.8.3-5]"},
    {"OptionsBit7", v5, subscribe5({}, cat({s("a"), {0x81}})), kMalformed, "[MQTT-3.8.3-5]"},
    {"OptionsQos3", v5, subscribe5({}, cat({s("a"), {0x03}})), kMalformed, "[MQTT-3.8.3.1]"},
    {"RetainHandling3", v5, subscribe5({}, cat({s("a"), {0x30}})), kProtocol, "[MQTT-3.8.3.1]"},
    {"NoLocalOnSharedSubscription", v5, subscribe5({}, cat({s("$share/g/a"), {0x04}})), kProtocol,
     "[MQTT-3.8.3-4]"},
    {"TwoSubscriptionIdentifiers", v5, subscribe5({0x0B, 0x01, 0x0B, 0x02}, cat({s("a"), {0x00}})),
     kProtocol, "[MQTT-2.2.2.2]"},
    {"SubscriptionIdentifier0", v5, subscribe5({0x0B, 0x00}, cat({s("a"), {0x00}})), kProtocol,
     "[MQTT-3.3.2.3.8]"},
    {"SubscribeReasonStringNotAllowed", v5,
     subscribe5(cat({{0x1F}, s("r")}), cat({s("a"), {0x00}})), kMalformed, "[MQTT-2.2.2.2]"},

    // ---- SUBACK [MQTT-3.9] ----
    {"SubackPacketId0", v311, {0x90, 0x03, 0x00, 0x00, 0x00}, kProtocol, "[MQTT-2.2.1-3]"},
    {"SubackReturnCode3", v311, {0x90, 0x03, 0x00, 0x01, 0x03}, kMalformed, "[MQTT-3.9.3-2]"},
    {"SubackReturnCode81", v311, {0x90, 0x03, 0x00, 0x01, 0x81}, kMalformed, "[MQTT-3.9.3-2]"},
    {"SubackReason81", v5, {0x90, 0x04, 0x00, 0x01, 0x00, 0x81}, kMalformed, "[MQTT-2.4]"},
    {"SubackNoCodes", v311, {0x90, 0x02, 0x00, 0x01}, kProtocol, "[MQTT-3.9.3-1]"},
    {"SubackNoCodes5", v5, {0x90, 0x03, 0x00, 0x01, 0x00}, kProtocol, "[MQTT-3.9.3-1]"},

    // ---- UNSUBSCRIBE / UNSUBACK [MQTT-3.10, 3.11] ----
    {"UnsubscribePacketId0", v311, pkt(0xA2, cat({{0x00, 0x00}, s("a")})), kProtocol,
     "[MQTT-2.2.1-3]"},
    {"UnsubscribeNoFilter", v311, {0xA2, 0x02, 0x00, 0x01}, kProtocol, "[MQTT-3.10.3-2]"},
    {"UnsubscribeNoFilter5", v5, {0xA2, 0x03, 0x00, 0x01, 0x00}, kProtocol, "[MQTT-3.10.3-2]"},
    {"UnsubscribeBadFilter", v5, pkt(0xA2, cat({{0x00, 0x01, 0x00}, s("a/#/")})), kBadFilter,
     "[MQTT-4.7.1-2]"},
    {"UnsubscribeSubscriptionId", v5, pkt(0xA2, cat({{0x00, 0x01}, props({0x0B, 0x01}), s("a")})),
     kMalformed, "[MQTT-2.2.2.2]"},
    {"UnsubscribeFilterOverrun", v311, pkt(0xA2, cat({{0x00, 0x01, 0x00, 0x09}, raw("a")})),
     kMalformed, "[MQTT-2.2.3]"},
    {"UnsubackPacketId0", v5, {0xB0, 0x04, 0x00, 0x00, 0x00, 0x00}, kProtocol, "[MQTT-2.2.1-3]"},
    {"UnsubackLength3Before5", v311, {0xB0, 0x03, 0x00, 0x01, 0x00}, kMalformed, "[MQTT-2.2.3]"},
    {"UnsubackReason10", v5, {0xB0, 0x04, 0x00, 0x01, 0x00, 0x10}, kMalformed, "[MQTT-2.4]"},
    {"UnsubackNoCodes5", v5, {0xB0, 0x03, 0x00, 0x01, 0x00}, kProtocol, "[MQTT-3.11.3-1]"},

    // ---- DISCONNECT / AUTH [MQTT-3.14, 3.15] ----
    {"DisconnectReason01", v5, {0xE0, 0x01, 0x01}, kMalformed, "[MQTT-2.4]"},
    {"DisconnectReceiveMaximum", v5, {0xE0, 0x05, 0x00, 0x03, 0x21, 0x00, 0x01}, kMalformed,
     "[MQTT-2.2.2.2]"},
    {"DisconnectSessionExpiryTwice", v5,
     {0xE0, 0x0C, 0x00, 0x0A, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 1}, kProtocol, "[MQTT-2.2.2.2]"},
    {"DisconnectPropertyOverrun", v5, {0xE0, 0x03, 0x00, 0x01, 0x11}, kMalformed,
     "[MQTT-2.2.2.2]"},
    {"AuthReason01", v5, {0xF0, 0x01, 0x01}, kMalformed, "[MQTT-2.4]"},
    {"AuthPacketDataWithoutMethod", v5, pkt(0xF0, cat({{0x18}, props(cat({{0x16}, s("d")}))})),
     kProtocol, "[MQTT-3.1.2.11.10]"},
    {"AuthSessionExpiryNotAllowed", v5, pkt(0xF0, cat({{0x18}, props({0x11, 0, 0, 0, 0})})),
     kMalformed, "[MQTT-2.2.2.2]"},
    {"AuthIn311", v311, pkt(0xF0, {0x18, 0x00}), kMalformed, "[MQTT-2.2.1]"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Rules, MalformedTable, ::testing::ValuesIn(kRows),
                         [](const ::testing::TestParamInfo<Row>& row_info) {
                           return std::string(row_info.param.name);
                         });

TEST(MalformedTableCoverage, HasAtLeastSixtyRows) { EXPECT_GE(std::size(kRows), 60u); }

// ---------------------------------------------------------------------------
// Robustness: valid packets cut short or corrupted.

struct Valid {
  const char* name;
  ProtocolVersion version;
  Bytes bytes;
};

std::vector<Valid> valid_packets() {
  const Bytes will_props = {0x18, 0, 0, 0, 5, 0x01, 0x01, 0x26, 0, 1, 'a', 0, 1, 'b'};
  // clang-format off
  return {
      {"connect311", v311,
       connect311(0xEE, cat({s("c1"), s("w/t"), s("msg"), s("user"), s("pw")}))},
      {"connect31", v31, connect3(s("MQIsdp"), 3, 0xC2, cat({s("id"), s("u"), s("p")}))},
      {"connect5", v5,
       connect5(0xD6, cat({{0x11, 0, 0, 0, 9, 0x21, 0, 5}, kAuthMethod, {0x16}, s("d"), kUser}),
                cat({s("cid"), props(will_props), s("w/t"), s("bye"), s("me"), s("pw")}))},
      {"connack311", v311, {0x20, 0x02, 0x01, 0x00}},
      {"connack5", v5,
       connack5(0x01, 0x00, cat({{0x24, 0x01, 0x27, 0, 0, 1, 0}, {0x12}, s("id"), kUser}))},
      {"publish311", v311, pkt(0x3B, cat({s("a/b"), {0x12, 0x34}, raw("payload")}))},
      {"publish5", v5,
       pkt(0x35, cat({s("a/b"), {0x00, 0x07},
                      props(cat({{0x01, 0x01, 0x02, 0, 0, 0, 9, 0x23, 0, 2}, {0x08}, s("r/t"),
                                 {0x09}, s("cd"), kUser, {0x0B, 0x80, 0x01}, {0x03}, s("ct")})),
                      raw("payload")}))},
      {"publish5alias", v5, pkt(0x30, cat({s(""), props({0x23, 0, 1}), raw("x")}))},
      {"puback311", v311, {0x40, 0x02, 0x00, 0x01}},
      {"pubrec5", v5, pkt(0x50, cat({{0x00, 0x02, 0x10}, props(cat({{0x1F}, s("why"), kUser}))}))},
      {"pubrel5", v5, {0x62, 0x03, 0x00, 0x03, 0x92}},
      {"pubcomp5", v5, {0x70, 0x04, 0x00, 0x04, 0x00, 0x00}},
      {"subscribe311", v311, pkt(0x82, cat({{0x00, 0x05}, s("a/+"), {0x01}, s("#"), {0x02}}))},
      {"subscribe5", v5,
       subscribe5(cat({{0x0B, 0x07}, kUser}), cat({s("a/b"), {0x2D}, s("$share/g/x"), {0x12}}))},
      {"suback311", v311, {0x90, 0x05, 0x00, 0x05, 0x01, 0x02, 0x80}},
      {"suback5", v5, pkt(0x90, cat({{0x00, 0x05}, props(cat({{0x1F}, s("r")})), {0x00, 0x97}}))},
      {"unsubscribe311", v311, pkt(0xA2, cat({{0x00, 0x06}, s("a/b"), s("c/#")}))},
      {"unsubscribe5", v5, pkt(0xA2, cat({{0x00, 0x06}, props(kUser), s("a/b")}))},
      {"unsuback311", v311, {0xB0, 0x02, 0x00, 0x06}},
      {"unsuback5", v5, pkt(0xB0, cat({{0x00, 0x06}, props(kUser), {0x00, 0x11}}))},
      {"pingreq", v311, {0xC0, 0x00}},
      {"pingresp", v5, {0xD0, 0x00}},
      {"disconnect311", v311, {0xE0, 0x00}},
      {"disconnect5", v5,
       pkt(0xE0, cat({{0x04}, props(cat({{0x11, 0, 0, 0, 0, 0x1F}, s("bye")}))}))},
      {"auth5", v5, pkt(0xF0, cat({{0x18}, props(cat({kAuthMethod, {0x16}, s("data")}))}))},
  };
  // clang-format on
}

TEST(MalformedRobustness, ValidPacketsDecode) {
  for (const auto& v : valid_packets()) {
    bool failed = false;
    const CodecError err = first_error(v.bytes, v.version, kMaxPacketSize, failed);
    EXPECT_FALSE(failed) << v.name << ": " << err.rule;
    const FrameResult fr = parse_frame(v.bytes, kMaxPacketSize, v.version);
    EXPECT_EQ(fr.status, FrameStatus::complete) << v.name;
  }
}

TEST(MalformedRobustness, EveryPrefixNeedsMoreOrFails) {
  for (const auto& v : valid_packets()) {
    for (std::size_t n = 0; n < v.bytes.size(); ++n) {
      const std::span<const std::uint8_t> prefix(v.bytes.data(), n);
      const FrameResult fr = parse_frame(prefix, kMaxPacketSize, v.version);
      EXPECT_NE(fr.status, FrameStatus::complete) << v.name << " prefix " << n;
      if (fr.status == FrameStatus::need_more && fr.needed != 0) {
        EXPECT_EQ(fr.needed, v.bytes.size()) << v.name << " prefix " << n;
      }

      StreamDecoder stream(kMaxPacketSize, v.version);
      stream.feed(prefix);
      Packet p;
      EXPECT_NE(stream.next(p), StreamDecoder::Status::packet) << v.name << " prefix " << n;
    }
  }
}

// The body cut short but the Remaining Length rewritten to match: what the
// decoder sees when a peer miscounts. Optional tails (5.0 acks, DISCONNECT)
// may legitimately still decode; everything else must fail cleanly.
TEST(MalformedRobustness, EveryTruncatedBodyDecodesOrFailsCleanly) {
  for (const auto& v : valid_packets()) {
    const FrameResult whole = parse_frame(v.bytes, kMaxPacketSize, v.version);
    ASSERT_EQ(whole.status, FrameStatus::complete) << v.name;
    const Bytes body(whole.frame.body.begin(), whole.frame.body.end());
    for (std::size_t n = 0; n < body.size(); ++n) {
      const auto end = body.begin() + static_cast<std::ptrdiff_t>(n);
      const Bytes cut = pkt(v.bytes[0], Bytes(body.begin(), end));
      bool failed = false;
      const CodecError err = first_error(cut, v.version, kMaxPacketSize, failed);
      if (failed) {
        EXPECT_TRUE(err.rule.starts_with("[MQTT-")) << v.name << " cut to " << n;
        EXPECT_TRUE(is_error(err.reason)) << v.name;
      }
    }
  }
}

TEST(MalformedRobustness, EverySingleBitFlipDecodesOrFailsCleanly) {
  for (const auto& v : valid_packets()) {
    for (std::size_t i = 0; i < v.bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes corrupt = v.bytes;
        corrupt[i] = static_cast<std::uint8_t>(corrupt[i] ^ (1u << bit));
        for (const auto version : {v31, v311, v5}) {
          StreamDecoder stream(kMaxPacketSize, version);
          stream.feed(corrupt);
          Packet p;
          StreamDecoder::Status st;
          int guard = 0;
          while ((st = stream.next(p)) == StreamDecoder::Status::packet) ASSERT_LT(++guard, 8);
          if (st == StreamDecoder::Status::error) {
            EXPECT_TRUE(stream.error().rule.starts_with("[MQTT-")) << v.name;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace roadmq::mqtt
