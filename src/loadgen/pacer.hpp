// Pacer: constant-rate release of work (messages, connection attempts). The
// n-th unit is due at start + n / rate, so a caller woken at any time asks
// how many became due since it last asked and gets exactly that many:
// late wake-ups catch up, early ones get nothing, and the long-run rate is
// exact however the timer jitters. One Pacer serves a whole worker thread;
// the worker spreads what is due over its clients.
//
// Thread safety: owned by one thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace roadmq::loadgen {

class Pacer {
 public:
  using Clock = std::chrono::steady_clock;

  Pacer() noexcept = default;
  // `rate` units per second; 0 or less: nothing is ever due.
  Pacer(double rate, Clock::time_point start) noexcept : rate_(rate), start_(start) {}

  // Units that became due since the last call (the first is due at start).
  std::uint64_t take_due(Clock::time_point now) noexcept {
    if (rate_ <= 0 || now < start_) return 0;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const auto due_total = static_cast<std::uint64_t>(elapsed * rate_) + 1;
    if (due_total <= released_) return 0;
    const std::uint64_t n = due_total - released_;
    released_ = due_total;
    return n;
  }

  // When the next unit falls due (for arming a timer).
  Clock::time_point next_due() const noexcept {
    if (rate_ <= 0) return Clock::time_point::max();
    return start_ + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(released_) / rate_));
  }

  double rate() const noexcept { return rate_; }
  std::uint64_t released() const noexcept { return released_; }

 private:
  double rate_ = 0;
  Clock::time_point start_{};
  std::uint64_t released_ = 0;
};

}  // namespace roadmq::loadgen
