#include "loadgen/payload.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace roadmq::loadgen {
namespace {

TEST(LoadgenPayload, HeaderRoundTrip) {
  PayloadHeader h;
  h.stream = {0x0102030405060708ull, 0xA1B2C3D4u};
  h.sequence = 0x1122334455667788ull;
  h.sent_ns = 987654321012345ull;
  h.flags = kFlagFinal;
  std::array<std::uint8_t, kHeaderSize> buf{};
  encode_header(h, buf);
  auto back = decode_header(std::span<const std::uint8_t>(buf));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, h);
  EXPECT_TRUE(back->is_final());
}

TEST(LoadgenPayload, GoldenBytesAreBigEndian) {
  PayloadHeader h;
  h.stream = {0x0000000000000102ull, 7};
  h.sequence = 0x0304;
  h.sent_ns = 0x05;
  std::array<std::uint8_t, kHeaderSize> buf{};
  encode_header(h, buf);
  const std::array<std::uint8_t, kHeaderSize> want = {
      'R', 'B', 1, 0,                     // magic, version, flags
      0,   0,   0, 7,                     // publisher
      0,   0,   0, 0, 0, 0, 0x01, 0x02,   // run id
      0,   0,   0, 0, 0, 0, 0x03, 0x04,   // sequence
      0,   0,   0, 0, 0, 0, 0,    0x05};  // send time
  EXPECT_EQ(buf, want);
}

TEST(LoadgenPayload, RejectsForeignPayloads) {
  EXPECT_EQ(decode_header(std::string_view("short")).error(), HeaderError::too_short);
  std::string s(kHeaderSize, 'x');
  EXPECT_EQ(decode_header(s).error(), HeaderError::bad_magic);
  s[0] = 'R';
  s[1] = 'B';
  s[2] = 9;
  EXPECT_EQ(decode_header(s).error(), HeaderError::bad_version);
  s[2] = 1;
  EXPECT_TRUE(decode_header(s));
}

TEST(LoadgenPayload, ReservedFlagBitsAreIgnored) {
  PayloadHeader h;
  h.flags = 0xF0;
  std::array<std::uint8_t, kHeaderSize> buf{};
  encode_header(h, buf);
  auto back = decode_header(std::span<const std::uint8_t>(buf));
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->is_final());
}

TEST(LoadgenPayload, ScratchRewritesOnlyTheHeader) {
  PayloadScratch scratch(100);
  PayloadHeader h;
  h.sequence = 1;
  const std::string first(scratch.build(h, 100));
  h.sequence = 2;
  const std::string_view second = scratch.build(h, 40);
  EXPECT_EQ(first.size(), 100u);
  EXPECT_EQ(second.size(), 40u);
  EXPECT_EQ(first.substr(kHeaderSize, 8), second.substr(kHeaderSize, 8));
  EXPECT_EQ(decode_header(second)->sequence, 2u);
  EXPECT_EQ(first[kHeaderSize], 'a');
}

TEST(LoadgenPayload, MonotonicClockMovesForward) {
  const auto a = monotonic_ns();
  const auto b = monotonic_ns();
  EXPECT_GT(a, 0u);
  EXPECT_GE(b, a);
}

}  // namespace
}  // namespace roadmq::loadgen
