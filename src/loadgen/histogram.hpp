// LatencyHistogram: a log-linear histogram of non-negative integers (here
// nanoseconds), in the manner of HdrHistogram. Values below 2^kSubBucketBits
// are counted exactly; above, every power-of-two range [2^e, 2^(e+1)) is cut
// into 2^(kSubBucketBits-1) equal buckets, so a reported value is within
// 1/2^(kSubBucketBits-1) (1.6 %) of the true one at any magnitude, from 1 ns
// to the full 64-bit range, in a fixed 3776 counters (30 KB).
//
//   index(v) = v                              v <  128
//            = s * 64 + (v >> s)              v >= 128, s = bit_width(v) - 7
//
// Recording is a bit_width, a shift and an increment: cheap enough for every
// message. Histograms of different threads are merged by adding counters.
//
// Thread safety: owned by one thread; merge() copies from another histogram
// the caller has synchronised with (e.g. after joining its thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace roadmq::loadgen {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBucketBits = 7;
  static constexpr std::uint64_t kSubBucketCount = 1u << kSubBucketBits;  // 128
  static constexpr std::uint64_t kSubBucketHalf = kSubBucketCount / 2;    // 64
  static constexpr std::size_t kBucketCount =
      (64 - kSubBucketBits + 1) * kSubBucketHalf + kSubBucketHalf;

  LatencyHistogram() : counts_(kBucketCount, 0) {}

  void record(std::uint64_t value) noexcept { record(value, 1); }
  void record(std::uint64_t value, std::uint64_t count) noexcept;
  void merge(const LatencyHistogram& other) noexcept;
  void reset() noexcept;

  std::uint64_t count() const noexcept { return total_; }
  bool empty() const noexcept { return total_ == 0; }
  // 0 when empty.
  std::uint64_t min() const noexcept { return total_ ? min_ : 0; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return total_ ? sum_ / static_cast<double>(total_) : 0.0; }

  // The smallest value v such that at least p % of the recorded values are
  // <= v, up to bucket resolution: the highest value of the bucket that
  // reaches the rank, capped at max() (so p = 100 gives exactly max()).
  // p <= 0 gives min(); 0 when empty.
  std::uint64_t percentile(double p) const noexcept;

  static std::size_t bucket_index(std::uint64_t value) noexcept;
  static std::uint64_t bucket_lowest(std::size_t index) noexcept;
  static std::uint64_t bucket_highest(std::size_t index) noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  double sum_ = 0;  // for the mean only; a double never overflows
};

}  // namespace roadmq::loadgen
