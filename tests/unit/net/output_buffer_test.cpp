#include "net/output_buffer.hpp"
#include "net/output_spares.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

namespace roadmq::net {
namespace {

std::string drain_all(OutputBuffer& b, std::size_t chunk) {
  std::string out;
  std::array<std::span<const std::uint8_t>, 4> slices;  // small on purpose: several gathers
  while (!b.empty()) {
    const std::size_t n = b.gather(slices);
    std::size_t budget = chunk;
    std::size_t taken = 0;
    for (std::size_t i = 0; i < n && budget > 0; ++i) {
      const std::size_t k = std::min(budget, slices[i].size());
      out.append(reinterpret_cast<const char*>(slices[i].data()), k);
      budget -= k;
      taken += k;
    }
    b.consume(taken);
  }
  return out;
}

std::shared_ptr<const std::string> block(char c, std::size_t n) {
  return std::make_shared<const std::string>(n, c);
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(NetOutputBuffer, InterleavesCopiedAndSharedBytesInOrder) {
  for (std::size_t chunk : {1u, 7u, 1000u, 5000u, 1u << 20}) {
    OutputBuffer b;
    auto big1 = block('X', 3000);
    auto big2 = block('Y', 2000);
    b.append(std::string_view("head1"));
    b.append_shared(big1, bytes_of(*big1));
    b.append_shared(big2, bytes_of(*big2));  // two segments at the same position
    b.bytes().push_back('-');                // direct encoder-style append
    b.append(std::string_view("tail"));
    auto small = block('s', 10);
    b.append_shared(small, bytes_of(*small));  // small: copied
    EXPECT_EQ(b.size(), 5u + 3000 + 2000 + 1 + 4 + 10);
    const std::string expect =
        "head1" + std::string(3000, 'X') + std::string(2000, 'Y') + "-tail" + std::string(10, 's');
    EXPECT_EQ(drain_all(b, chunk), expect) << chunk;
    EXPECT_TRUE(b.empty());
  }
}

TEST(NetOutputBuffer, SharedBlocksAreReleasedOnceWritten) {
  OutputBuffer b;
  auto big = block('Z', 4096);
  b.append_shared(big, bytes_of(*big));
  EXPECT_EQ(big.use_count(), 2);
  b.consume(4000);
  EXPECT_EQ(big.use_count(), 2);
  b.consume(96);
  EXPECT_EQ(big.use_count(), 1);
}

TEST(NetOutputBuffer, SlowReaderCompactsAndAppendsKeepOrder) {
  OutputBuffer b;
  std::string expect;
  std::string got;
  std::array<std::span<const std::uint8_t>, 8> slices;
  for (int round = 0; round < 2000; ++round) {
    const std::string piece(100, static_cast<char>('a' + round % 26));
    b.append(piece);
    expect += piece;
    if (round % 50 == 0) {
      auto big = block(static_cast<char>('A' + round % 26), 1500);
      b.append_shared(big, bytes_of(*big));
      expect += *big;
    }
    // The "kernel" takes 97 bytes per round: the backlog grows.
    const std::size_t n = b.gather(slices);
    std::size_t take = 97;
    for (std::size_t i = 0; i < n && take > 0; ++i) {
      const std::size_t k = std::min(take, slices[i].size());
      got.append(reinterpret_cast<const char*>(slices[i].data()), k);
      take -= k;
    }
    b.consume(97 - take);
    // Compaction bounds the storage to about twice the backlog.
    ASSERT_LE(b.bytes().size(), 2 * b.size() + 4096 + 100);
  }
  got += drain_all(b, 1 << 20);
  EXPECT_EQ(got, expect);
}

TEST(NetOutputBuffer, TrimReleasesABurstOnlyWhenDrained) {
  OutputBuffer b;
  b.append(std::string(100000, 'q'));
  b.trim(512);
  EXPECT_GE(b.capacity_bytes(), 100000u);  // not drained: kept
  b.consume(100000);
  b.trim(512);
  EXPECT_EQ(b.capacity_bytes(), 0u);
  b.append(std::string(100, 'q'));
  b.consume(100);
  b.trim(512);
  EXPECT_GT(b.capacity_bytes(), 0u);  // small buffers stay for reuse
}

class NetOutputSpares : public ::testing::Test {
 protected:
  NetCounters counters;
  OutputSpares spares{counters};
};

TEST_F(NetOutputSpares, AConnectionsDrainedBurstIsLentToTheNextBurst) {
  OutputBuffer a;
  a.append(std::string(100000, 'q'));
  a.consume(100000);
  a.trim(0, spares);
  EXPECT_EQ(a.capacity_bytes(), 0u);  // the connection keeps nothing
  EXPECT_EQ(spares.count(), 1u);
  EXPECT_GE(counters.output_spare_bytes.get(), 100000u);

  OutputBuffer b;
  ASSERT_TRUE(spares.lend(b.bytes()));
  EXPECT_GE(b.capacity_bytes(), 100000u);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(spares.count(), 0u);
  EXPECT_EQ(counters.output_spare_bytes.get(), 0u);
  EXPECT_EQ(counters.output_spares_lent.get(), 1u);
  EXPECT_FALSE(spares.lend(b.bytes()));  // none left
}

TEST_F(NetOutputSpares, KeepsABoundedNumberOfBoundedBuffers) {
  for (std::size_t i = 0; i < OutputSpares::kMaxSpares + 3; ++i) {
    std::vector<std::uint8_t> v;
    v.reserve(4096);
    spares.give(v);
    EXPECT_EQ(v.capacity(), 0u);  // kept or freed, never left with the giver
  }
  EXPECT_EQ(spares.count(), OutputSpares::kMaxSpares);
  EXPECT_EQ(counters.output_spare_bytes.get(), OutputSpares::kMaxSpares * 4096);

  OutputSpares one(counters);
  std::vector<std::uint8_t> huge;
  huge.reserve(OutputSpares::kMaxSpareBytes + 1);
  one.give(huge);
  EXPECT_EQ(one.count(), 0u);  // too large to keep: freed
  EXPECT_EQ(huge.capacity(), 0u);
}

TEST_F(NetOutputSpares, UnwrittenOutputIsNeverGivenAway) {
  OutputBuffer b;
  b.append(std::string(5000, 'x'));
  b.consume(1000);
  b.trim(0, spares);
  EXPECT_EQ(spares.count(), 0u);
  EXPECT_EQ(drain_all(b, 700), std::string(4000, 'x'));
}

}  // namespace
}  // namespace roadmq::net
