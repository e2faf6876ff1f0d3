#include "net/output_buffer.hpp"

#include <algorithm>

#include "base/assert.hpp"
#include "net/output_spares.hpp"

namespace roadmq::net {

void OutputBuffer::append_shared(std::shared_ptr<const void> owner,
                                 std::span<const std::uint8_t> data) {
  if (data.size() < kShareThreshold) {
    append(data);
    return;
  }
  if (!shared_) shared_ = std::make_unique<Shared>();
  shared_->segments.push_back(Segment{bytes_.size(), std::move(owner), data.data(), data.size()});
  shared_->pending += data.size();
}

std::size_t OutputBuffer::capacity_bytes() const noexcept {
  std::size_t n = bytes_.capacity();
  if (shared_) n += sizeof(Shared) + shared_->segments.capacity() * sizeof(Segment);
  return n;
}

std::size_t OutputBuffer::gather(std::span<std::span<const std::uint8_t>> out) const noexcept {
  if (out.empty()) return 0;
  if (!shared_ || shared_->seg == shared_->segments.size()) {
    if (head_ == bytes_.size()) return 0;
    out[0] = {bytes_.data() + head_, bytes_.size() - head_};  // the common case
    return 1;
  }
  const std::vector<Segment>& segs = shared_->segments;
  std::size_t n = 0;
  std::size_t pos = head_;
  std::size_t seg = shared_->seg;
  std::size_t seg_off = shared_->seg_off;
  while (n < out.size()) {
    // Inline bytes up to the next segment (or the end).
    const std::size_t stop = seg < segs.size() ? segs[seg].at : bytes_.size();
    if (pos < stop) {
      out[n++] = {bytes_.data() + pos, stop - pos};
      pos = stop;
      continue;
    }
    if (seg >= segs.size()) break;
    const Segment& s = segs[seg];
    out[n++] = {s.data + seg_off, s.size - seg_off};
    ++seg;
    seg_off = 0;
  }
  return n;
}

void OutputBuffer::consume(std::size_t n) noexcept {
  ROADMQ_ASSERT(n <= size());
  if (!shared_) {
    head_ += n;
  } else {
    Shared& sh = *shared_;
    while (n > 0) {
      const std::size_t stop = sh.seg < sh.segments.size() ? sh.segments[sh.seg].at : bytes_.size();
      if (head_ < stop) {
        const std::size_t k = std::min(n, stop - head_);
        head_ += k;
        n -= k;
        continue;
      }
      Segment& s = sh.segments[sh.seg];
      const std::size_t k = std::min(n, s.size - sh.seg_off);
      sh.seg_off += k;
      sh.pending -= k;
      n -= k;
      if (sh.seg_off == s.size) {
        s.owner.reset();  // release the shared block as soon as it is written
        ++sh.seg;
        sh.seg_off = 0;
      }
    }
  }
  if (empty()) {
    clear();
  } else if (head_ >= 4096 && head_ >= bytes_.size() / 2) {
    compact();  // a slow reader: keep the written prefix from growing forever
  }
}

void OutputBuffer::compact() noexcept {
  // Amortised O(1) per byte: only runs once the written prefix is at least
  // half the vector, so each byte moves at most about once.
  bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(head_));
  if (shared_) {
    Shared& sh = *shared_;
    sh.segments.erase(sh.segments.begin(), sh.segments.begin() + static_cast<std::ptrdiff_t>(sh.seg));
    for (Segment& s : sh.segments) s.at -= head_;
    sh.seg = 0;
  }
  head_ = 0;
}

void OutputBuffer::clear() noexcept {
  bytes_.clear();
  head_ = 0;
  if (shared_) {
    shared_->segments.clear();
    shared_->seg = 0;
    shared_->seg_off = 0;
    shared_->pending = 0;
  }
}

void OutputBuffer::trim(std::size_t keep_bytes) noexcept {
  if (!empty()) return;
  if (bytes_.capacity() > keep_bytes) std::vector<std::uint8_t>().swap(bytes_);
  shared_.reset();
}

void OutputBuffer::trim(std::size_t keep_bytes, OutputSpares& spares) noexcept {
  if (!empty()) return;
  if (bytes_.capacity() > keep_bytes) spares.give(bytes_);
  shared_.reset();
}

}  // namespace roadmq::net
