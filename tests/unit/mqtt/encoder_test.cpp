// Encoder against the golden vectors, plus what the table cannot show:
// appending to a used buffer, the PUBLISH packet-id offset used for shared
// fan-out encodings, the CONNECT version rule, and varint boundaries.
#include "mqtt/encoder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "golden_vectors.hpp"
#include "mqtt/wire_writer.hpp"

namespace roadmq::mqtt {
namespace {

using golden::Direction;
using golden::golden_vectors;
using golden::GoldenVector;

// Reports the first differing byte with context instead of dumping two
// buffers that may be megabytes long.
::testing::AssertionResult same_bytes(const ByteBuffer& expected, const ByteBuffer& actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  std::size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  auto hex = [](const ByteBuffer& b, std::size_t from) {
    std::string s;
    const std::size_t begin = from > 8 ? from - 8 : 0;
    for (std::size_t k = begin; k < b.size() && k < from + 16; ++k) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%02X", b[k]);
      if (k == from) s += '[';
      s += buf;
      s += k == from ? "] " : " ";
    }
    return s;
  };
  return ::testing::AssertionFailure()
         << "sizes " << expected.size() << " (expected) vs " << actual.size()
         << " (actual), first difference at byte " << i << "\n  expected: " << hex(expected, i)
         << "\n  actual:   " << hex(actual, i);
}

class GoldenEncode : public ::testing::TestWithParam<std::size_t> {
 protected:
  const GoldenVector& vec() const { return golden_vectors()[GetParam()]; }
};

TEST_P(GoldenEncode, ProducesExpectedBytes) {
  ByteBuffer out;
  const std::size_t n = encode(vec().packet, vec().version, out);
  EXPECT_EQ(n, vec().bytes.size());
  EXPECT_TRUE(same_bytes(vec().bytes, out));
}

TEST_P(GoldenEncode, EncodedSizeMatchesEncode) {
  EXPECT_EQ(encoded_size(vec().packet, vec().version), vec().bytes.size());
}

TEST_P(GoldenEncode, AppendsWithoutTouchingEarlierBytes) {
  const ByteBuffer prefix{0xDE, 0xAD, 0xBE, 0xEF};
  ByteBuffer out = prefix;
  const std::size_t n = encode(vec().packet, vec().version, out);
  ASSERT_EQ(n, vec().bytes.size());
  ASSERT_EQ(out.size(), prefix.size() + n);
  EXPECT_TRUE(same_bytes(prefix, ByteBuffer(out.begin(), out.begin() + 4)));
  EXPECT_TRUE(same_bytes(vec().bytes, ByteBuffer(out.begin() + 4, out.end())));
}

TEST_P(GoldenEncode, GrowsAFreshBufferToExactlyThePacket) {
  ByteBuffer out;
  (void)encode(vec().packet, vec().version, out);  // size checked above
  EXPECT_EQ(out.capacity(), vec().bytes.size());
}

std::string vector_name(const ::testing::TestParamInfo<std::size_t>& info) {
  return golden_vectors()[info.param].name;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenEncode,
                         ::testing::Range<std::size_t>(0, golden_vectors().size()), vector_name);

TEST(GoldenTable, CoversEveryPacketTypeInEveryVersion) {
  for (const auto version : {ProtocolVersion::v3_1, ProtocolVersion::v3_1_1, ProtocolVersion::v5}) {
    for (unsigned t = 1; t <= 15; ++t) {
      bool found = false;
      for (const auto& v : golden_vectors())
        found |= v.version == version && static_cast<unsigned>(type_of(v.packet)) == t;
      EXPECT_TRUE(found) << to_string(static_cast<PacketType>(t)) << " missing for "
                         << to_string(version);
    }
  }
}

TEST(GoldenTable, CoversEveryPropertyInSomeVector) {
  for (unsigned id = 0; id < 256; ++id) {
    if (find_property(static_cast<std::uint8_t>(id)) == nullptr) continue;
    bool found = false;
    for (const auto& v : golden_vectors()) {
      if (v.version != ProtocolVersion::v5) continue;
      std::visit(
          [&](const auto& p) {
            using T = std::decay_t<decltype(p)>;
            if constexpr (requires { p.properties; }) {
              found |= p.properties.has(static_cast<PropertyId>(id));
            }
            if constexpr (std::is_same_v<T, Connect>) {
              if (p.will) found |= p.will->properties.has(static_cast<PropertyId>(id));
            }
          },
          v.packet);
    }
    EXPECT_TRUE(found) << "no vector carries property 0x" << std::hex << id;
  }
}

TEST(GoldenTable, NamesAreUnique) {
  std::vector<std::string> names;
  for (const auto& v : golden_vectors()) names.push_back(v.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

// ---------------------------------------------------------------- PUBLISH

Publish sample_publish(QoS qos) {
  Publish p;
  p.topic = "a/b";
  p.payload = "hello";
  p.qos = qos;
  if (qos != QoS::at_most_once) p.packet_id = PacketId{0x1234};
  return p;
}

TEST(EncoderPublish, PacketIdOffsetForQos1AndQos2) {
  for (const auto version : {ProtocolVersion::v3_1_1, ProtocolVersion::v5}) {
    for (const auto qos : {QoS::at_least_once, QoS::exactly_once}) {
      const Publish p = sample_publish(qos);
      ByteBuffer out{0x01, 0x02, 0x03};  // bytes already queued
      std::size_t offset = 0;
      const std::size_t n = encode_publish(p, version, out, offset);
      ASSERT_EQ(n + 3, out.size());
      // 3 queued + fixed header (2) + topic (2 + 3).
      ASSERT_EQ(offset, 3u + 2u + 5u);
      EXPECT_EQ(out[offset], 0x12);
      EXPECT_EQ(out[offset + 1], 0x34);
    }
  }
}

TEST(EncoderPublish, PatchingTheIdGivesTheEncodingOfThatId) {
  Publish p = sample_publish(QoS::exactly_once);
  p.properties.set_message_expiry_interval(30);
  ByteBuffer shared;
  std::size_t offset = 0;
  (void)encode_publish(p, ProtocolVersion::v5, shared, offset);  // size checked elsewhere
  ASSERT_NE(offset, SIZE_MAX);

  ByteBuffer patched = shared;
  patched[offset] = 0xAB;
  patched[offset + 1] = 0xCD;
  p.packet_id = PacketId{0xABCD};
  ByteBuffer direct;
  (void)encode(p, ProtocolVersion::v5, direct);
  EXPECT_TRUE(same_bytes(direct, patched));
}

TEST(EncoderPublish, Qos0HasNoPacketIdOffset) {
  for (const auto version : {ProtocolVersion::v3_1, ProtocolVersion::v3_1_1, ProtocolVersion::v5}) {
    ByteBuffer out;
    std::size_t offset = 0;
    const std::size_t n = encode_publish(sample_publish(QoS::at_most_once), version, out, offset);
    EXPECT_EQ(n, out.size());
    EXPECT_EQ(offset, SIZE_MAX);
  }
}

TEST(EncoderPublish, EncodePublishMatchesEncode) {
  for (const auto& v : golden_vectors()) {
    const auto* p = std::get_if<Publish>(&v.packet);
    if (p == nullptr) continue;
    ByteBuffer out;
    std::size_t offset = 0;
    EXPECT_EQ(encode_publish(*p, v.version, out, offset), v.bytes.size()) << v.name;
    EXPECT_TRUE(same_bytes(v.bytes, out)) << v.name;
    if (p->qos == QoS::at_most_once) {
      EXPECT_EQ(offset, SIZE_MAX) << v.name;
    } else {
      ASSERT_LT(offset + 1, out.size()) << v.name;
      EXPECT_EQ(out[offset], p->packet_id.value >> 8) << v.name;
      EXPECT_EQ(out[offset + 1], p->packet_id.value & 0xFF) << v.name;
    }
  }
}

// ---------------------------------------------------------------- version edge

TEST(EncoderConnect, UsesItsOwnVersionNotTheArgument) {
  Connect c;
  c.version = ProtocolVersion::v3_1_1;
  c.keep_alive = 60;
  c.client_id = "c1";
  ByteBuffer as_v311;
  ByteBuffer as_v5;
  ByteBuffer as_v31;
  (void)encode(c, ProtocolVersion::v3_1_1, as_v311);
  (void)encode(c, ProtocolVersion::v5, as_v5);
  (void)encode(c, ProtocolVersion::v3_1, as_v31);
  EXPECT_TRUE(same_bytes(as_v311, as_v5));
  EXPECT_TRUE(same_bytes(as_v311, as_v31));
  EXPECT_EQ(encoded_size(c, ProtocolVersion::v5), as_v311.size());
}

TEST(EncoderAuth, NotEncodableBefore5LeavesBufferUntouched) {
  Auth a;
  a.reason = ReasonCode::continue_authentication;
  for (const auto version : {ProtocolVersion::v3_1, ProtocolVersion::v3_1_1}) {
    ByteBuffer out{0x42};
    EXPECT_EQ(encode(a, version, out), 0u);
    EXPECT_EQ(out, ByteBuffer{0x42});
    EXPECT_EQ(encoded_size(a, version), 0u);
  }
}

TEST(EncoderConnack, EveryV5ReasonMapsToAV3Code) {
  // A 3.1.1 client understands only return codes 0..5 (3.1.1 table 3.1).
  for (unsigned rc = 0; rc < 256; ++rc) {
    if (!is_allowed_in(static_cast<ReasonCode>(rc), PacketType::connack)) continue;
    Connack c;
    c.reason = static_cast<ReasonCode>(rc);
    ByteBuffer out;
    ASSERT_EQ(encode(c, ProtocolVersion::v3_1_1, out), 4u);
    EXPECT_LE(out[3], 5) << "reason 0x" << std::hex << rc;
    EXPECT_EQ(out[3] == 0, rc == 0) << "reason 0x" << std::hex << rc;
  }
}

TEST(EncoderSuback, EveryV5FailureIs0x80InV3) {
  for (unsigned rc = 0x80; rc < 256; ++rc) {
    if (!is_allowed_in(static_cast<ReasonCode>(rc), PacketType::suback)) continue;
    Suback s;
    s.packet_id = PacketId{1};
    s.reasons = {static_cast<ReasonCode>(rc)};
    ByteBuffer out;
    (void)encode(s, ProtocolVersion::v3_1_1, out);
    EXPECT_EQ(out, (ByteBuffer{0x90, 0x03, 0x00, 0x01, 0x80})) << "reason 0x" << std::hex << rc;
  }
}

TEST(EncoderProperties, WrittenInStoredOrder) {
  // The same two properties in either order must keep that order, so that
  // decode -> encode reproduces a peer's bytes exactly.
  Disconnect d;
  d.reason = ReasonCode::server_shutting_down;
  d.properties.add_user_property("k", "v");
  d.properties.set_reason_string("r");
  ByteBuffer out;
  (void)encode(d, ProtocolVersion::v5, out);
  EXPECT_EQ(out, (ByteBuffer{0xE0, 0x0D, 0x8B, 0x0B, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', 0x1F,
                             0x00, 0x01, 'r'}));
}

TEST(EncoderProperties, InlinedWireTypesAgreeWithFindProperty) {
  for (unsigned id = 0; id < 256; ++id) {
    const PropertyInfo* info = find_property(static_cast<std::uint8_t>(id));
    const std::uint8_t type = wire::kPropertyTypes.by_id[id];
    if (info == nullptr) {
      EXPECT_EQ(type, wire::PropertyTypes::kUndefined) << id;
    } else {
      EXPECT_EQ(type, static_cast<std::uint8_t>(info->type)) << id;
    }
  }
}

// ---------------------------------------------------------------- varint

struct VarintCase {
  std::uint32_t value;
  ByteBuffer bytes;
};

TEST(EncoderVarint, EveryBoundary) {
  const VarintCase cases[] = {
      {0, {0x00}},
      {1, {0x01}},
      {127, {0x7F}},
      {128, {0x80, 0x01}},
      {16'383, {0xFF, 0x7F}},
      {16'384, {0x80, 0x80, 0x01}},
      {2'097'151, {0xFF, 0xFF, 0x7F}},
      {2'097'152, {0x80, 0x80, 0x80, 0x01}},
      {268'435'455, {0xFF, 0xFF, 0xFF, 0x7F}},
  };
  for (const auto& c : cases) {
    ByteBuffer out{0xAA};
    write_varint(c.value, out);
    ByteBuffer expected{0xAA};
    expected.insert(expected.end(), c.bytes.begin(), c.bytes.end());
    EXPECT_EQ(out, expected) << c.value;
    EXPECT_EQ(varint_size(c.value), c.bytes.size()) << c.value;
  }
}

}  // namespace
}  // namespace roadmq::mqtt
