#include "loadgen/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace roadmq::loadgen {

std::size_t LatencyHistogram::bucket_index(std::uint64_t value) noexcept {
  if (value < kSubBucketCount) return static_cast<std::size_t>(value);
  const unsigned shift = static_cast<unsigned>(std::bit_width(value)) - kSubBucketBits;
  // value >> shift lies in [64, 128): the upper half of a sub-bucket range,
  // so consecutive shifts tile the index space without gaps.
  return static_cast<std::size_t>(shift) * kSubBucketHalf +
         static_cast<std::size_t>(value >> shift);
}

std::uint64_t LatencyHistogram::bucket_lowest(std::size_t index) noexcept {
  if (index < kSubBucketCount) return index;
  const std::size_t shift = index / kSubBucketHalf - 1;
  const std::uint64_t sub = index - shift * kSubBucketHalf;
  return sub << shift;
}

std::uint64_t LatencyHistogram::bucket_highest(std::size_t index) noexcept {
  if (index < kSubBucketCount) return index;
  const std::size_t shift = index / kSubBucketHalf - 1;
  const std::uint64_t sub = index - shift * kSubBucketHalf;
  // The last bucket ends at UINT64_MAX: (128 << 57) - 1 wraps to exactly that.
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::record(std::uint64_t value, std::uint64_t count) noexcept {
  if (count == 0) return;
  counts_[bucket_index(value)] += count;
  total_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value) * static_cast<double>(count);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  if (other.total_ == 0) return;
  for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

std::uint64_t LatencyHistogram::percentile(double p) const noexcept {
  if (total_ == 0) return 0;
  if (p <= 0) return min_;
  if (p >= 100) return max_;
  // Rank of the value sought, 1-based; ceil so p50 of {1,2} is 1, not 2.
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
  rank = std::clamp<std::uint64_t>(rank, 1, total_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::max(min_, std::min(bucket_highest(i), max_));
  }
  return max_;
}

}  // namespace roadmq::loadgen
