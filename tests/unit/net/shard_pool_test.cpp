#include "net/shard.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "net/mailbox.hpp"
#include "net/net_test_util.hpp"

namespace roadmq::net {
namespace {

using test::run_on;
using test::wait_until;

TEST(NetShardPool, PostRunsOnTheTargetShardThread) {
  ShardPool pool;
  pool.start(3);
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_FALSE(current_shard().valid());
  EXPECT_EQ(Shard::current(), nullptr);
  for (std::uint32_t i = 0; i < 3; ++i) {
    const ShardId id(i);
    const auto [seen, on, exact] = run_on(pool, id, [&] {
      return std::tuple{current_shard(), on_shard(id), pool.shard(id).is_current()};
    });
    EXPECT_EQ(seen, id);
    EXPECT_TRUE(on);
    EXPECT_TRUE(exact);
  }
  EXPECT_FALSE(pool.shard(ShardId(0)).is_current());
  pool.stop();
}

TEST(NetShardPool, ABurstOfPostsCostsFewWakeups) {
  ShardPool pool;
  pool.start(1);
  Shard& shard = pool.shard(ShardId(0));
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<bool> blocked{false};
  std::atomic<int> ran{0};
  const auto before = shard.counters().snapshot();
  pool.post(ShardId(0), [&, gate] {
    blocked = true;
    gate.wait();  // hold the shard while the burst queues up
  });
  ASSERT_TRUE(wait_until([&] { return blocked.load(); }));
  constexpr int kBurst = 1000;
  for (int i = 0; i < kBurst; ++i) pool.post(ShardId(0), [&] { ran.fetch_add(1); });
  release.set_value();
  ASSERT_TRUE(wait_until([&] { return ran.load() == kBurst; }));
  run_on(pool, ShardId(0), [] {});
  // Counted when a drain returns, so wait for the last one to finish.
  ASSERT_TRUE(wait_until(
      [&] { return shard.counters().mailbox_tasks.get() - before.mailbox_tasks == kBurst + 2u; }));
  const auto after = shard.counters().snapshot();
  // One wake-up for the burst, split only by the per-drain budget (256).
  EXPECT_LE(after.mailbox_wakeups - before.mailbox_wakeups, 7u);
  pool.stop();
}

TEST(NetShardPool, OrderIsKeptPerSender) {
  ShardPool pool;
  pool.start(3);
  constexpr int kSenders = 4;
  constexpr int kPerSender = 20000;
  // Written only on shard 2 (the receiver).
  std::vector<int> next(kSenders + 2, 0);
  std::atomic<int> errors{0};
  std::atomic<int> received{0};
  auto deliver = [&](int sender, int seq) {
    if (next[sender] != seq) errors.fetch_add(1);
    next[sender] = seq + 1;
    received.fetch_add(1);
  };
  std::vector<std::thread> threads;
  for (int s = 0; s < kSenders; ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < kPerSender; ++i) pool.post(ShardId(2), [&deliver, s, i] { deliver(s, i); });
    });
  }
  // Shards 0 and 1 send too (cross-shard posts from shard threads).
  for (int s = 0; s < 2; ++s) {
    pool.post(ShardId(static_cast<std::uint32_t>(s)), [&, s] {
      for (int i = 0; i < kPerSender; ++i)
        pool.post(ShardId(2), [&deliver, s, i] { deliver(kSenders + s, i); });
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(wait_until([&] { return received.load() == (kSenders + 2) * kPerSender; }));
  EXPECT_EQ(errors.load(), 0);
  const auto c = pool.shard(ShardId(2)).counters().snapshot();
  EXPECT_LT(c.mailbox_wakeups, c.mailbox_tasks);  // batched
  pool.stop();
}

TEST(NetShardPool, StopJoinsWhileShardsAreBusy) {
  ShardPool pool;
  pool.start(4);
  std::atomic<long> spins{0};
  // Every shard keeps re-posting work to itself and to its neighbour.
  std::function<void(std::uint32_t)> spin = [&](std::uint32_t i) {
    spins.fetch_add(1);
    pool.post(ShardId(i), [&, i] { spin(i); });
    pool.post(ShardId((i + 1) % 4), [&spins] { spins.fetch_add(1); });
  };
  for (std::uint32_t i = 0; i < 4; ++i) pool.post(ShardId(i), [&, i] { spin(i); });
  ASSERT_TRUE(wait_until([&] { return spins.load() > 10000; }));
  pool.stop();
  EXPECT_FALSE(pool.running());
  const long after = spins.load();
  EXPECT_EQ(spins.load(), after);  // nothing runs after stop() returned
  pool.stop();  // idempotent
  EXPECT_GT(pool.counters().mailbox_tasks, 0u);  // counters outlive the threads
}

TEST(NetShardPool, PostsAfterStopAreDestroyedUnrun) {
  ShardPool pool;
  pool.start(1);
  pool.stop();
  auto token = std::make_shared<int>(0);
  bool ran = false;
  pool.post(ShardId(0), [token, &ran] { ran = true; });
  EXPECT_FALSE(ran);
  EXPECT_EQ(token.use_count(), 1);  // the task (and its capture) is gone
}

TEST(NetShardPool, DeferRunsAfterTheCurrentHandlerOncePerBatch) {
  struct Obj final : ShardObject {
    std::atomic<int> runs{0};
    void run_deferred() override { runs.fetch_add(1); }
    void on_shard_stop() override {}
    using ShardObject::deferred_queued;
  };
  ShardPool pool;
  pool.start(1);
  Obj a;
  Obj b;
  run_on(pool, ShardId(0), [&] {
    Shard& s = *Shard::current();
    s.defer(a);
    s.defer(a);  // idempotent while queued
    s.defer(b);
    EXPECT_TRUE(a.deferred_queued());
    EXPECT_EQ(a.runs.load(), 0);  // not run inline
  });
  // Deferred work runs once the mailbox batch that requested it is done.
  ASSERT_TRUE(wait_until([&] { return a.runs.load() == 1 && b.runs.load() == 1; }));
  run_on(pool, ShardId(0), [&] {
    EXPECT_EQ(a.runs.load(), 1);
    EXPECT_FALSE(a.deferred_queued());
  });
  pool.stop();
}

// Mailbox alone: several producers, one consumer, nothing lost or reordered.
TEST(NetMailbox, ConcurrentProducersLoseNothing) {
  Mailbox box;
  constexpr int kProducers = 4;
  constexpr int kEach = 50000;
  std::vector<int> next(kProducers, 0);
  int errors = 0;
  int total = 0;
  std::atomic<int> wakeups_requested{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        if (box.push(make_task([&, p, i] {
              if (next[p] != i) ++errors;
              next[p] = i + 1;
              ++total;
            })))
          wakeups_requested.fetch_add(1);
      }
    });
  }
  // The consumer drains only when scheduled, exactly as a shard does: once
  // per push that returned true, and again after each Drain::more. A lost
  // wake-up would leave tasks queued with nobody scheduled: a hang, caught
  // by the deadline.
  int consumed_wakeups = 0;
  bool scheduled = false;
  const auto deadline = std::chrono::steady_clock::now() + test::kTimeout;
  while (total < kProducers * kEach) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "lost wake-up";
    if (!scheduled) {
      if (wakeups_requested.load() > consumed_wakeups) {
        ++consumed_wakeups;
        scheduled = true;
      } else {
        std::this_thread::yield();
        continue;
      }
    }
    std::size_t ran = 0;
    scheduled = box.drain(128, ran) == Mailbox::Drain::more;
  }
  for (auto& t : producers) t.join();
  std::size_t ran = 0;
  (void)box.drain(128, ran);
  EXPECT_EQ(ran, 0u);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(total, kProducers * kEach);
  EXPECT_LT(wakeups_requested.load(), total);
}

}  // namespace
}  // namespace roadmq::net
