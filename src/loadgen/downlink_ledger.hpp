// DownlinkLedger: which of the platform's commands (numbered 0, 1, 2, ...
// across all vehicles) have reached their vehicle. Each worker keeps one for
// its vehicles; merged at the end, `sent - unique()` commands are missing.
// One bit per command number: cheap at command rates.
//
// Thread safety: owned by one worker; merge() reads a ledger the caller has
// synchronised with.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace roadmq::loadgen {

class DownlinkLedger {
 public:
  // True the first time `seq` is recorded.
  bool record(std::uint64_t seq) {
    const std::size_t w = seq / 64;
    if (w >= bits_.size()) bits_.resize(std::max(w + 1, bits_.size() * 2), 0);
    const std::uint64_t mask = std::uint64_t{1} << (seq % 64);
    if (bits_[w] & mask) {
      ++duplicates_;
      return false;
    }
    bits_[w] |= mask;
    ++unique_;
    return true;
  }

  void merge(const DownlinkLedger& o) {
    if (o.bits_.size() > bits_.size()) bits_.resize(o.bits_.size(), 0);
    unique_ = 0;
    for (std::size_t i = 0; i < bits_.size(); ++i) {
      const std::uint64_t theirs = i < o.bits_.size() ? o.bits_[i] : 0;
      duplicates_ += static_cast<std::uint64_t>(std::popcount(bits_[i] & theirs));
      bits_[i] |= theirs;
      unique_ += static_cast<std::uint64_t>(std::popcount(bits_[i]));
    }
    duplicates_ += o.duplicates_;
  }

  std::uint64_t unique() const noexcept { return unique_; }
  std::uint64_t duplicates() const noexcept { return duplicates_; }
  // Commands numbered below `sent` that never arrived.
  std::uint64_t missing(std::uint64_t sent) const noexcept {
    std::uint64_t have = 0;
    for (std::size_t i = 0; i < bits_.size() && i * 64 < sent; ++i) {
      std::uint64_t w = bits_[i];
      const std::uint64_t upto = sent - i * 64;
      if (upto < 64) w &= (std::uint64_t{1} << upto) - 1;
      have += static_cast<std::uint64_t>(std::popcount(w));
    }
    return sent - have;
  }

 private:
  std::vector<std::uint64_t> bits_;
  std::uint64_t unique_ = 0;
  std::uint64_t duplicates_ = 0;
};

}  // namespace roadmq::loadgen
