#include "loadgen/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace roadmq::loadgen {
namespace {

using H = LatencyHistogram;

TEST(LoadgenHistogram, SmallValuesAreExact) {
  H h;
  for (std::uint64_t v = 0; v < 128; ++v) h.record(v);
  EXPECT_EQ(h.count(), 128u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 127u);
  EXPECT_EQ(h.percentile(50), 63u);
  EXPECT_EQ(h.percentile(100), 127u);
  EXPECT_EQ(h.percentile(0), 0u);
}

TEST(LoadgenHistogram, BucketsTileTheRangeWithoutGaps) {
  // Every bucket starts right after the previous one ends.
  for (std::size_t i = 1; i < H::kBucketCount; ++i)
    ASSERT_EQ(H::bucket_lowest(i), H::bucket_highest(i - 1) + 1) << i;
  EXPECT_EQ(H::bucket_highest(H::kBucketCount - 1), UINT64_MAX);
  EXPECT_EQ(H::bucket_index(UINT64_MAX), H::kBucketCount - 1);
  const std::uint64_t samples[] = {0,
                                   1,
                                   127,
                                   128,
                                   129,
                                   255,
                                   256,
                                   1000,
                                   123456789,
                                   (std::uint64_t{1} << 40) + 12345,
                                   UINT64_MAX - 1};
  for (std::uint64_t v : samples) {
    const auto i = H::bucket_index(v);
    EXPECT_LE(H::bucket_lowest(i), v);
    EXPECT_GE(H::bucket_highest(i), v);
  }
}

TEST(LoadgenHistogram, RelativeErrorIsBounded) {
  std::mt19937_64 rng(7);
  for (int n = 0; n < 100000; ++n) {
    const std::uint64_t v = rng() >> (rng() % 64);
    const auto i = H::bucket_index(v);
    const double width = static_cast<double>(H::bucket_highest(i) - H::bucket_lowest(i));
    ASSERT_LE(width, static_cast<double>(v) / 64.0 + 1.0) << v;
  }
}

TEST(LoadgenHistogram, PercentilesOfAUniformSpread) {
  H h;
  for (std::uint64_t v = 1; v <= 1'000'000; ++v) h.record(v * 1000);  // 1 us .. 1 s
  auto near = [](std::uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) <= want / 64.0 + 1;
  };
  EXPECT_TRUE(near(h.percentile(50), 500'000'000.0)) << h.percentile(50);
  EXPECT_TRUE(near(h.percentile(99), 990'000'000.0)) << h.percentile(99);
  EXPECT_TRUE(near(h.percentile(99.9), 999'000'000.0)) << h.percentile(99.9);
  EXPECT_EQ(h.percentile(100), 1'000'000'000u);
  EXPECT_EQ(h.max(), 1'000'000'000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_NEAR(h.mean(), 500'000'500.0, 1.0);
}

TEST(LoadgenHistogram, PercentileMatchesSortedRankWithinResolution) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> dist(11.0, 1.5);  // around 60 us, long tail
  std::vector<std::uint64_t> values;
  H h;
  for (int i = 0; i < 50000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * values.size())) - 1;
    const std::uint64_t exact = values[rank];
    const std::uint64_t got = h.percentile(p);
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + 1.0 / 64) + 1) << p;
  }
}

TEST(LoadgenHistogram, SingleValueIsReportedExactly) {
  H h;
  h.record(123456);
  EXPECT_EQ(h.percentile(50), 123456u);
  EXPECT_EQ(h.percentile(99.9), 123456u);
  EXPECT_EQ(h.min(), 123456u);
}

TEST(LoadgenHistogram, MergeAddsCountsAndExtremes) {
  H a, b;
  for (int i = 0; i < 100; ++i) a.record(10);
  for (int i = 0; i < 100; ++i) b.record(1'000'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 200u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), 1'000'000u);
  EXPECT_EQ(a.percentile(50), 10u);
  EXPECT_GE(a.percentile(51), 1'000'000u - 1'000'000u / 64);
  a.reset();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.percentile(99), 0u);
  EXPECT_EQ(a.max(), 0u);
}

TEST(LoadgenHistogram, RecordWithCount) {
  H h;
  h.record(5, 99);
  h.record(5000, 1);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.percentile(99), 5u);
  EXPECT_EQ(h.percentile(99.5), 5000u);
}

}  // namespace
}  // namespace roadmq::loadgen
