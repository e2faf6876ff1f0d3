// Decoder and encoder against each other through the golden vectors: for
// every vector that round trips, the spec bytes decode to exactly the packet
// and the decoded packet encodes back to exactly the bytes. A failure here
// names the vector; the golden table itself is checked by encoder_test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "golden_vectors.hpp"
#include "mqtt/decoder.hpp"
#include "mqtt/encoder.hpp"

namespace roadmq::mqtt {
namespace {

using golden::Direction;
using golden::golden_vectors;
using golden::GoldenVector;

std::vector<std::size_t> roundtrip_indices() {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < golden_vectors().size(); ++i)
    if (golden_vectors()[i].direction == Direction::both) out.push_back(i);
  return out;
}

// On a mismatch, the re-encoding of what was decoded shows which field
// differs far better than a byte dump of two variants.
std::string describe(const Packet& p, ProtocolVersion v) {
  ByteBuffer b;
  (void)encode(p, v, b);  // may be empty; then the type alone is shown
  std::string s = std::string(to_string(type_of(p))) + " re-encoded as:";
  for (std::size_t i = 0; i < b.size() && i < 96; ++i) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    s += ' ';
    s += kDigits[b[i] >> 4];
    s += kDigits[b[i] & 0x0F];
  }
  if (b.size() > 96) s += " ...";
  return s;
}

class RoundtripGolden : public ::testing::TestWithParam<std::size_t> {
 protected:
  const GoldenVector& vec() const { return golden_vectors()[GetParam()]; }
};

TEST_P(RoundtripGolden, DecodesToThePacketAndEncodesBackToTheBytes) {
  const GoldenVector& g = vec();
  const FrameResult fr = parse_frame(g.bytes, kMaxPacketSize, g.version);
  ASSERT_EQ(fr.status, FrameStatus::complete)
      << "parse_frame error: " << fr.error.rule << " (reason 0x" << std::hex
      << static_cast<unsigned>(fr.error.reason) << ")";
  EXPECT_EQ(fr.frame.header.packet_size(), g.bytes.size());
  EXPECT_EQ(fr.frame.header.type, type_of(g.packet));

  const auto decoded = decode_packet(fr.frame, g.version);
  ASSERT_TRUE(decoded.has_value())
      << "decode_packet error: " << decoded.error().rule << " (reason 0x" << std::hex
      << static_cast<unsigned>(decoded.error().reason) << ")";
  EXPECT_TRUE(*decoded == g.packet) << "decoded " << describe(*decoded, g.version) << "\nexpected "
                                    << describe(g.packet, g.version);

  ByteBuffer again;
  EXPECT_EQ(encode(*decoded, g.version, again), g.bytes.size());
  EXPECT_TRUE(again == g.bytes) << "decoded packet does not re-encode to the golden bytes";
}

std::string vector_name(const ::testing::TestParamInfo<std::size_t>& info) {
  return golden_vectors()[info.param].name;
}

INSTANTIATE_TEST_SUITE_P(Golden, RoundtripGolden, ::testing::ValuesIn(roundtrip_indices()),
                         vector_name);

// All vectors of one version back to back, fed in small reads, as a
// connection would see them: packet boundaries must fall where the table's do.
class RoundtripStream : public ::testing::TestWithParam<ProtocolVersion> {};

TEST_P(RoundtripStream, BackToBackVectorsInSmallReads) {
  const ProtocolVersion version = GetParam();
  ByteBuffer stream;
  std::vector<const GoldenVector*> expected;
  for (const auto& g : golden_vectors()) {
    if (g.direction != Direction::both || g.version != version) continue;
    if (g.bytes.size() > 100'000) continue;  // the multi-megabyte boundary vectors add nothing here
    stream.insert(stream.end(), g.bytes.begin(), g.bytes.end());
    expected.push_back(&g);
  }
  ASSERT_FALSE(expected.empty());

  StreamDecoder decoder(kMaxPacketSize, version, 16);
  std::size_t next = 0;
  std::span<const std::uint8_t> rest(stream);
  Packet packet;
  while (!rest.empty()) {
    const std::size_t n = std::min<std::size_t>(7, rest.size());
    decoder.feed(rest.first(n));
    rest = rest.subspan(n);
    for (;;) {
      const auto status = decoder.next(packet);
      if (status == StreamDecoder::Status::need_more) break;
      ASSERT_EQ(status, StreamDecoder::Status::packet)
          << "after " << next << " packets: " << decoder.error().rule;
      ASSERT_LT(next, expected.size());
      EXPECT_TRUE(packet == expected[next]->packet) << expected[next]->name;
      ++next;
    }
  }
  EXPECT_EQ(next, expected.size());
  EXPECT_EQ(decoder.buffered(), 0u);
}

std::string version_name(const ::testing::TestParamInfo<ProtocolVersion>& param) {
  switch (param.param) {
    case ProtocolVersion::v3_1:
      return "v31";
    case ProtocolVersion::v3_1_1:
      return "v311";
    case ProtocolVersion::v5:
      return "v5";
  }
  return "unknown";
}

INSTANTIATE_TEST_SUITE_P(Versions, RoundtripStream,
                         ::testing::Values(ProtocolVersion::v3_1, ProtocolVersion::v3_1_1,
                                           ProtocolVersion::v5),
                         version_name);

TEST(RoundtripVarint, WriteThenReadAtEveryBoundary) {
  for (const std::uint32_t value :
       {0u, 1u, 127u, 128u, 16'383u, 16'384u, 2'097'151u, 2'097'152u, 268'435'455u}) {
    ByteBuffer out;
    write_varint(value, out);
    VarInt v;
    ASSERT_EQ(read_varint(out, v), VarIntStatus::ok) << value;
    EXPECT_EQ(v.value, value);
    EXPECT_EQ(v.size, out.size());
    EXPECT_EQ(v.size, varint_size(value));
  }
}

}  // namespace
}  // namespace roadmq::mqtt
