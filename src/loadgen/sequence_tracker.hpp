// SequenceTracker: what one receiver saw of one publisher's stream of
// sequence numbers (0, 1, 2, ...): how many arrived, how many were new,
// duplicated or out of order, and, once the stream's final message is seen,
// how many never came.
//
// Storage: a bitmap of the sequence numbers received, kept only from `base`,
// the first word that still has a hole. An in-order stream keeps one word; a
// hole keeps the bitmap from its word on, up to `max_span` numbers, beyond
// which the oldest words are settled: their holes count as expired (lost
// unless they arrive later; such a late arrival is counted as `late`).
//
//   settled (all received or expired) | bitmap words from base ... | beyond hi
//   0 ............................ base ............................ hi
//
// Definitions:
//   received    every delivery, duplicates included
//   unique      distinct sequence numbers delivered
//   duplicates  deliveries of a number already delivered
//   reordered   deliveries of a number lower than one delivered before
//               (a hole filled later)
//   expected    final sequence + 1 once the final message was seen, else the
//               highest sequence + 1 (a tail lost after the last delivery is
//               then invisible)
//   lost        expected - unique (never negative)
//
// Thread safety: owned by one thread; merge() reads another tracker the
// caller has synchronised with.
#pragma once

#include <cstdint>
#include <vector>

namespace roadmq::loadgen {

class SequenceTracker {
 public:
  static constexpr std::uint64_t kDefaultMaxSpan = 1u << 20;  // 128 KB of bitmap at most

  explicit SequenceTracker(std::uint64_t max_span = kDefaultMaxSpan) noexcept;

  enum class Outcome : std::uint8_t { in_order, after_gap, reordered, duplicate, late };
  Outcome record(std::uint64_t seq);
  // The publisher said `seq` is its last; record() it as well.
  void mark_final(std::uint64_t seq) noexcept;

  std::uint64_t received() const noexcept { return received_; }
  std::uint64_t unique() const noexcept { return unique_; }
  std::uint64_t duplicates() const noexcept { return duplicates_; }
  std::uint64_t reordered() const noexcept { return reordered_; }
  std::uint64_t late() const noexcept { return late_; }
  std::uint64_t expired() const noexcept { return expired_; }
  bool has_final() const noexcept { return has_final_; }
  std::uint64_t expected() const noexcept;
  std::uint64_t lost() const noexcept;
  // Highest sequence + 1 (0 before the first delivery).
  std::uint64_t next_expected() const noexcept { return hi_; }

  // Folds in what another receiver of the same stream saw, as if one
  // receiver had seen both (members of one shared-subscription group): a
  // number both saw counts once in unique and once more as a duplicate.
  // Exact while neither tracker has expired holes; with expired holes the
  // settled range is taken as received.
  void merge(const SequenceTracker& other);

  // Bitmap words held (tests, memory accounting).
  std::size_t words() const noexcept { return words_.size() - head_; }

 private:
  bool test(std::uint64_t seq) const noexcept;
  void set(std::uint64_t seq);
  void settle_front() noexcept;
  void expire_until(std::uint64_t new_base);
  std::uint64_t word_at(std::uint64_t word_base) const noexcept;  // ~0 below base, 0 beyond

  std::uint64_t max_span_;
  std::uint64_t base_ = 0;  // multiple of 64; every number below is settled
  std::uint64_t hi_ = 0;    // highest delivered + 1
  std::vector<std::uint64_t> words_;
  std::size_t head_ = 0;  // words_[head_] covers [base_, base_ + 64)
  std::uint64_t received_ = 0;
  std::uint64_t unique_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t reordered_ = 0;
  std::uint64_t late_ = 0;
  std::uint64_t expired_ = 0;
  std::uint64_t final_seq_ = 0;
  bool has_final_ = false;
};

}  // namespace roadmq::loadgen
