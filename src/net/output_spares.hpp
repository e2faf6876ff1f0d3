// OutputSpares: a shard's drained output storage, kept for the next burst.
//
// A connection frees its output storage once everything is written, so an
// idle connection holds none. A busy one (a subscriber taking a stream of
// deliveries) would then allocate again for the next burst and grow it by
// doubling, copying what it holds at every step, and hand the large block
// back to malloc each time. The shard keeps a few drained buffers instead and
// lends one to the next connection that starts a burst.
//
// Bounded: at most kMaxSpares buffers of at most kMaxSpareBytes each per
// shard; a buffer that does not fit is freed. Counters: output_spares_lent,
// output_spare_bytes (gauge).
//
// Thread safety: owned by one shard; its thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/counters.hpp"

namespace roadmq::net {

class OutputSpares {
 public:
  static constexpr std::size_t kMaxSpares = 8;
  static constexpr std::size_t kMaxSpareBytes = 1u << 20;

  explicit OutputSpares(NetCounters& counters) noexcept : counters_(counters) {}
  OutputSpares(const OutputSpares&) = delete;
  OutputSpares& operator=(const OutputSpares&) = delete;
  ~OutputSpares() = default;

  // Keeps `storage`'s capacity if there is room for it, frees it otherwise.
  // `storage` is left empty without capacity either way.
  void give(std::vector<std::uint8_t>& storage) noexcept;
  // Moves the most recently given spare into `storage` (which must hold no
  // bytes) and returns true, or returns false when none is kept.
  bool lend(std::vector<std::uint8_t>& storage) noexcept;

  std::size_t count() const noexcept { return count_; }

 private:
  NetCounters& counters_;
  std::array<std::vector<std::uint8_t>, kMaxSpares> spares_;
  std::size_t count_ = 0;
};

}  // namespace roadmq::net
