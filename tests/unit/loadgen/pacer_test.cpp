#include "loadgen/pacer.hpp"

#include <gtest/gtest.h>

namespace roadmq::loadgen {
namespace {

using namespace std::chrono_literals;
using C = Pacer::Clock;

TEST(LoadgenPacer, ReleasesExactlyTheRateOverTime) {
  const C::time_point t0{};
  Pacer p(1000.0, t0);            // one unit per millisecond
  EXPECT_EQ(p.take_due(t0), 1u);  // the first is due at the start
  EXPECT_EQ(p.take_due(t0 + 500us), 0u);
  EXPECT_EQ(p.take_due(t0 + 1ms), 1u);
  // A late wake-up gets everything that fell due meanwhile, at once.
  EXPECT_EQ(p.take_due(t0 + 100ms), 99u);
  EXPECT_EQ(p.released(), 101u);
  // Over a long stretch polled irregularly the total is exact.
  std::uint64_t total = p.released();
  for (auto t = 100ms; t <= 10s; t += 7ms) total += p.take_due(t0 + t);
  total += p.take_due(t0 + 10s);
  EXPECT_EQ(total, 10001u);
}

TEST(LoadgenPacer, NextDueTracksTheSchedule) {
  const C::time_point t0{};
  Pacer p(10.0, t0);
  EXPECT_EQ(p.next_due(), t0);
  p.take_due(t0);
  EXPECT_EQ(p.next_due(), t0 + 100ms);
  EXPECT_EQ(p.take_due(t0 + 99ms), 0u);
  EXPECT_EQ(p.take_due(t0 + 100ms), 1u);
}

TEST(LoadgenPacer, ZeroRateAndBeforeStart) {
  const C::time_point t0 = C::time_point{} + 1s;
  Pacer idle;
  EXPECT_EQ(idle.take_due(t0), 0u);
  EXPECT_EQ(idle.next_due(), C::time_point::max());
  Pacer p(100.0, t0);
  EXPECT_EQ(p.take_due(t0 - 1ms), 0u);
}

}  // namespace
}  // namespace roadmq::loadgen
