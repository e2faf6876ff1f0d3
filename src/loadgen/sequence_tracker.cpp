#include "loadgen/sequence_tracker.hpp"

#include <algorithm>
#include <bit>

namespace roadmq::loadgen {

SequenceTracker::SequenceTracker(std::uint64_t max_span) noexcept
    : max_span_(std::max<std::uint64_t>(128, (max_span + 63) & ~std::uint64_t{63})) {}

bool SequenceTracker::test(std::uint64_t seq) const noexcept {
  const std::uint64_t w = (seq - base_) / 64;
  if (head_ + w >= words_.size()) return false;
  return (words_[head_ + w] >> (seq % 64)) & 1u;
}

void SequenceTracker::set(std::uint64_t seq) {
  const std::uint64_t w = (seq - base_) / 64;
  if (head_ + w >= words_.size()) words_.resize(head_ + w + 1, 0);
  words_[head_ + w] |= std::uint64_t{1} << (seq % 64);
}

// Drops leading words that are complete, so an in-order stream keeps one.
void SequenceTracker::settle_front() noexcept {
  while (head_ < words_.size() && words_[head_] == ~std::uint64_t{0}) {
    ++head_;
    base_ += 64;
  }
  if (head_ == words_.size()) {
    words_.clear();
    head_ = 0;
  } else if (head_ >= 64 && head_ * 2 >= words_.size()) {
    // Amortised compaction: each word is moved at most once per halving.
    words_.erase(words_.begin(), words_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

// Settles everything below `new_base` (a multiple of 64): holes there expire.
void SequenceTracker::expire_until(std::uint64_t new_base) {
  while (base_ < new_base) {
    if (head_ < words_.size()) {
      // Numbers at or beyond hi_ in this word were never delivered either:
      // they lie below a later delivery, so they are holes too.
      expired_ += 64 - static_cast<std::uint64_t>(std::popcount(words_[head_]));
      ++head_;
      base_ += 64;
    } else {
      expired_ += new_base - base_;
      base_ = new_base;
    }
  }
  if (head_ >= words_.size()) {
    words_.clear();
    head_ = 0;
  }
  settle_front();
}

SequenceTracker::Outcome SequenceTracker::record(std::uint64_t seq) {
  ++received_;
  if (seq < base_) {
    // Settled: surely a duplicate if nothing below base ever expired.
    if (expired_ == 0) {
      ++duplicates_;
      return Outcome::duplicate;
    }
    ++late_;
    ++unique_;
    ++reordered_;
    return Outcome::late;
  }
  Outcome outcome;
  if (seq >= hi_) {
    outcome = seq == hi_ ? Outcome::in_order : Outcome::after_gap;
    if (seq - base_ >= max_span_) expire_until(((seq - max_span_) & ~std::uint64_t{63}) + 64);
    hi_ = seq + 1;
  } else if (test(seq)) {
    ++duplicates_;
    return Outcome::duplicate;
  } else {
    outcome = Outcome::reordered;
    ++reordered_;
  }
  ++unique_;
  set(seq);
  settle_front();
  return outcome;
}

void SequenceTracker::mark_final(std::uint64_t seq) noexcept {
  has_final_ = true;
  final_seq_ = std::max(final_seq_, seq);
}

std::uint64_t SequenceTracker::expected() const noexcept {
  return has_final_ ? std::max(final_seq_ + 1, hi_) : hi_;
}

std::uint64_t SequenceTracker::lost() const noexcept {
  const std::uint64_t e = expected();
  return e > unique_ ? e - unique_ : 0;
}

std::uint64_t SequenceTracker::word_at(std::uint64_t word_base) const noexcept {
  if (word_base < base_) return ~std::uint64_t{0};
  const std::uint64_t w = (word_base - base_) / 64;
  return head_ + w < words_.size() ? words_[head_ + w] : 0;
}

void SequenceTracker::merge(const SequenceTracker& other) {
  const std::uint64_t lo = std::min(base_, other.base_);
  const std::uint64_t hi = std::max(hi_, other.hi_);
  // Numbers below both bases were received by both.
  std::uint64_t overlap = lo;
  std::vector<std::uint64_t> merged;
  merged.reserve(hi > lo ? (hi - lo + 63) / 64 : 0);
  for (std::uint64_t wb = lo; wb < hi; wb += 64) {
    const std::uint64_t a = word_at(wb);
    const std::uint64_t b = other.word_at(wb);
    overlap += static_cast<std::uint64_t>(std::popcount(a & b));
    merged.push_back(a | b);
  }
  // Words below a base are all ones, but a base never passes hi, so no
  // bit at or beyond hi is set in either: the last word needs no mask.
  received_ += other.received_;
  duplicates_ += other.duplicates_ + overlap;
  unique_ = unique_ + other.unique_ - std::min(overlap, unique_ + other.unique_);
  reordered_ += other.reordered_;
  late_ += other.late_;
  expired_ += other.expired_;
  if (other.has_final_) mark_final(other.final_seq_);
  base_ = lo;
  hi_ = hi;
  words_ = std::move(merged);
  head_ = 0;
  settle_front();
}

}  // namespace roadmq::loadgen
