#include "net/timer_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "net/net_test_util.hpp"
#include "net/shard.hpp"

namespace roadmq::net {
namespace {

using namespace std::chrono_literals;
using TP = TimerQueue::TimePoint;

const TP kT0 = TP{} + 1000h;  // a fake clock: tests pass `now` explicitly

struct Fired {
  int id;
  TP deadline;
};

TEST(NetTimerQueue, FiresInDeadlineOrderWithTiesInScheduleOrder) {
  TimerQueue q;
  std::vector<Fired> fired;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> ms(0, 500);
  std::vector<TP> deadline(5000);
  for (int i = 0; i < 5000; ++i) {
    deadline[i] = kT0 + std::chrono::milliseconds(ms(rng));  // many equal deadlines
    (void)q.schedule(deadline[i], [&fired, &deadline, i] { fired.push_back({i, deadline[i]}); });
  }
  EXPECT_EQ(q.size(), 5000u);
  EXPECT_EQ(q.run_expired(kT0 - 1ms), 0u);
  // Fire in several steps of the fake clock.
  for (int step = 0; step <= 500; step += 37) q.run_expired(kT0 + std::chrono::milliseconds(step));
  q.run_expired(kT0 + 1s);
  ASSERT_EQ(fired.size(), 5000u);
  EXPECT_TRUE(q.empty());
  for (std::size_t i = 1; i < fired.size(); ++i) {
    ASSERT_LE(fired[i - 1].deadline, fired[i].deadline) << i;
    if (fired[i - 1].deadline == fired[i].deadline) {
      ASSERT_LT(fired[i - 1].id, fired[i].id) << i;
    }
  }
}

TEST(NetTimerQueue, CancelAndRescheduleThousandsMatchAModel) {
  TimerQueue q;
  std::mt19937 rng(7);
  constexpr int kN = 4000;
  std::vector<TimerQueue::Handle> h(kN);
  std::map<int, TP> model;  // id -> deadline of live timers
  std::vector<int> fired;
  for (int i = 0; i < kN; ++i) {
    const TP d = kT0 + std::chrono::milliseconds(rng() % 1000);
    h[i] = q.schedule(d, [&fired, i] { fired.push_back(i); });
    model[i] = d;
  }
  for (int round = 0; round < 3 * kN; ++round) {
    const int i = static_cast<int>(rng() % kN);
    switch (rng() % 3) {
      case 0: {
        const bool was = model.erase(i) == 1;
        EXPECT_EQ(q.cancel(h[i]), was);
        EXPECT_FALSE(h[i].valid());
        break;
      }
      case 1:
      case 2: {
        const TP d = kT0 + std::chrono::milliseconds(rng() % 2000);  // earlier or later
        const bool live = model.count(i) == 1;
        EXPECT_EQ(q.reschedule(h[i], d), live);
        if (live) {
          model[i] = d;
          EXPECT_EQ(q.deadline(h[i]), d);
        }
        break;
      }
    }
  }
  EXPECT_EQ(q.size(), model.size());
  q.run_expired(kT0 + 1h);
  EXPECT_TRUE(q.empty());
  ASSERT_EQ(fired.size(), model.size());
  for (std::size_t k = 1; k < fired.size(); ++k)
    ASSERT_LE(model[fired[k - 1]], model[fired[k]]) << "out of order at " << k;
  for (int i : fired) EXPECT_FALSE(q.pending(h[i]));
}

TEST(NetTimerQueue, LaterRescheduleIsLazyButExact) {
  TimerQueue q;
  std::vector<int> fired;
  auto a = q.schedule(kT0 + 10ms, [&] { fired.push_back(1); });
  (void)q.schedule(kT0 + 20ms, [&] { fired.push_back(2); });
  ASSERT_TRUE(q.reschedule(a, kT0 + 30ms));  // a keep-alive refresh
  EXPECT_EQ(q.run_expired(kT0 + 15ms), 0u);  // its old deadline fires nothing
  EXPECT_EQ(q.run_expired(kT0 + 25ms), 1u);
  EXPECT_EQ(q.run_expired(kT0 + 35ms), 1u);
  EXPECT_EQ(fired, (std::vector<int>{2, 1}));
}

TEST(NetTimerQueue, TimersScheduledByACallbackWaitForTheNextRun) {
  TimerQueue q;
  int runs = 0;
  std::function<void()> again = [&] {
    ++runs;
    (void)q.schedule(kT0, again);  // already due
  };
  (void)q.schedule(kT0, again);
  EXPECT_EQ(q.run_expired(kT0), 1u);
  EXPECT_EQ(q.run_expired(kT0), 1u);
  EXPECT_EQ(runs, 2);
  q.clear();
}

TEST(NetTimerQueue, StaleHandlesAreHarmless) {
  TimerQueue q;
  int fired = 0;
  auto a = q.schedule(kT0, [&] { ++fired; });
  q.run_expired(kT0);
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(q.pending(a));
  auto b = q.schedule(kT0 + 1ms, [&] { fired += 10; });  // reuses a's slot
  TimerQueue::Handle stale = a;
  EXPECT_FALSE(q.cancel(stale));
  EXPECT_FALSE(q.reschedule(a, kT0));
  EXPECT_TRUE(q.pending(b));
  q.clear();
  EXPECT_FALSE(q.pending(b));
  auto c = q.schedule(kT0, [&] { fired += 100; });
  EXPECT_FALSE(q.pending(b));
  EXPECT_TRUE(q.pending(c));
  q.run_expired(kT0 + 1s);
  EXPECT_EQ(fired, 101);
}

TEST(NetTimerQueue, CancelFromInsideACallback) {
  TimerQueue q;
  std::vector<int> fired;
  TimerQueue::Handle b;
  (void)q.schedule(kT0, [&] {
    fired.push_back(1);
    EXPECT_TRUE(q.cancel(b));
  });
  b = q.schedule(kT0 + 1ms, [&] { fired.push_back(2); });
  q.run_expired(kT0 + 1s);
  EXPECT_EQ(fired, std::vector<int>{1});
}

struct RecordingWaker {
  std::vector<TP> armed;
  TimerQueue::Waker waker() {
    return {[](void* self, TP t) { static_cast<RecordingWaker*>(self)->armed.push_back(t); }, this};
  }
};

TEST(NetTimerQueue, WakerIsAskedOnlyWhenTheFirstDeadlineMovesEarlier) {
  RecordingWaker w;
  TimerQueue q(w.waker());
  auto a = q.schedule(kT0 + 50ms, [] {});
  (void)q.schedule(kT0 + 80ms, [] {});
  (void)q.schedule(kT0 + 20ms, [] {});
  ASSERT_EQ(w.armed.size(), 2u);
  EXPECT_EQ(w.armed.back(), kT0 + 20ms);
  q.reschedule(a, kT0 + 10ms);
  EXPECT_EQ(w.armed.back(), kT0 + 10ms);
  q.reschedule(a, kT0 + 90ms);  // later: no new wake-up
  EXPECT_EQ(w.armed.size(), 3u);
  q.run_expired(kT0 + 10ms);  // nothing due (a was extended): re-arms for the top
  EXPECT_EQ(w.armed.back(), kT0 + 20ms);
  q.clear();
}

// The same queue on a real shard, driven by the shard's one steady timer.
TEST(NetTimerQueue, OnAShardTimersFireInOrder) {
  ShardPool pool;
  pool.start(1);
  struct Log {
    std::vector<TP> deadlines;
    std::vector<TP> fired_at;
  };
  auto log = std::make_shared<Log>();
  std::atomic<int> fired{0};
  constexpr int kN = 2000;
  test::run_on(pool, ShardId(0), [&] {
    TimerQueue& q = pool.shard(ShardId(0)).timers();
    const TP base = TimerQueue::Clock::now();
    std::mt19937 rng(3);
    std::vector<TimerQueue::Handle> cancel_me;
    for (int i = 0; i < kN; ++i) {
      const TP d = base + std::chrono::microseconds(rng() % 50'000);
      auto h = q.schedule(d, [log, d, &fired] {
        log->deadlines.push_back(d);
        log->fired_at.push_back(TimerQueue::Clock::now());
        fired.fetch_add(1);
      });
      if (i % 4 == 0) cancel_me.push_back(h);
    }
    for (auto& h : cancel_me) EXPECT_TRUE(q.cancel(h));
  });
  const int expected = kN - kN / 4;
  ASSERT_TRUE(test::wait_until([&] { return fired.load() >= expected; }));
  test::run_on(pool, ShardId(0), [&] {
    EXPECT_EQ(fired.load(), expected);
    for (std::size_t i = 0; i < log->deadlines.size(); ++i) {
      EXPECT_GE(log->fired_at[i], log->deadlines[i]) << "fired early";
      if (i > 0) {
        EXPECT_LE(log->deadlines[i - 1], log->deadlines[i]);
      }
    }
    EXPECT_TRUE(pool.shard(ShardId(0)).timers().empty());
  });
  pool.stop();
}

}  // namespace
}  // namespace roadmq::net
