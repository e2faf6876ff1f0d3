// Shard runtime: one io_context per thread, created by ShardPool.
//
// A Shard owns everything that lives on its thread (connections, acceptors,
// the TimerQueue, its NetCounters). Code running on the shard touches them
// without locks; work for another shard travels through that shard's
// Mailbox via post(), batched so a burst costs one wake-up. Shard-owned
// objects assert their owner in debug builds (ROADMQ_ASSERT(is_current())).
//
// Lifecycle: ShardPool::start(n) creates n shards and their threads;
// ShardPool::stop() stops them and joins. On its way out each shard thread
// closes every registered ShardObject (connections see on_closed(shutdown)),
// drops unrun mailbox tasks and timers, then shuts its io_context down, so
// every handler and object of the shard is destroyed on the shard's thread.
// A post racing stop() may land in a stopped shard's mailbox: such a task is
// destroyed unrun when the pool is destroyed, on that thread.
//
//   created ──start()──▶ running ──stop()──▶ stopped (counters still readable)
//
// Thread safety: post(), id(), counters() reads and ShardPool::counters()
// from any thread; everything else on the shard's own thread. io() may be
// used from any thread where Asio allows it (e.g. constructing objects).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "base/assert.hpp"
#include "net/counters.hpp"
#include "net/mailbox.hpp"
#include "net/output_spares.hpp"
#include "net/shard_id.hpp"
#include "net/timer_queue.hpp"

namespace boost::asio {
class io_context;
}

namespace roadmq::net {

class Poller;
class Shard;
class ShardPool;

// Base for objects a shard keeps track of: it can run their deferred work
// once the current handler returns (defer()), and close them when it stops
// (registry). Shard calls these on its own thread only.
class ShardObject {
 public:
  virtual ~ShardObject() = default;

 protected:
  ShardObject() = default;
  ShardObject(const ShardObject&) = delete;
  ShardObject& operator=(const ShardObject&) = delete;

  // Work requested through Shard::defer(), run from a fresh handler.
  virtual void run_deferred() {}
  // The shard is stopping: close now and call Shard::unregister_object().
  virtual void on_shard_stop() = 0;

  bool deferred_queued() const noexcept { return deferred_queued_; }

 private:
  friend class Shard;
  ShardObject* deferred_next_ = nullptr;
  ShardObject* reg_prev_ = nullptr;
  ShardObject* reg_next_ = nullptr;
  bool deferred_queued_ = false;
  bool registered_ = false;
};

class Shard {
 public:
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  ShardId id() const noexcept { return id_; }
  ShardPool& pool() const noexcept { return pool_; }
  boost::asio::io_context& io() noexcept;
  // The epoll set of this shard's sockets (shard thread only).
  Poller& poller() noexcept;

  // True on this shard's thread. Exact even with several pools.
  bool is_current() const noexcept;
  // The shard of the calling thread, or nullptr.
  static Shard* current() noexcept;

  // Any thread. Runs `fn` on this shard, in order with the caller's other
  // posts to it. Once the shard stops accepting (stop() began) the task is
  // destroyed unrun, on the caller's thread.
  template <class F>
  void post(F&& fn) {
    post_task(make_task(std::forward<F>(fn)));
  }
  void post_task(Task* task);

  // Shard thread only: queue `obj`'s run_deferred() to run from a fresh
  // handler after the current one returns. One asio post per batch of
  // deferrals across all objects. Idempotent while queued.
  void defer(ShardObject& obj);

  // Shard thread only: the registry of live objects closed at stop.
  void register_object(ShardObject& obj) noexcept;
  void unregister_object(ShardObject& obj) noexcept;
  std::size_t registered_count() const noexcept { return registered_count_; }

  TimerQueue& timers() noexcept {
    ROADMQ_ASSERT(is_current());
    return timers_;
  }

  // Written only by this shard; readable anywhere (see counters.hpp).
  NetCounters& counters() noexcept { return counters_; }
  const NetCounters& counters() const noexcept { return counters_; }

  // Drained connection output buffers kept for the next burst (shard thread only).
  OutputSpares& output_spares() noexcept {
    ROADMQ_ASSERT(is_current());
    return output_spares_;
  }

  bool accepting() const noexcept { return accepting_.load(std::memory_order_acquire); }

 private:
  friend class ShardPool;
  struct Runtime;

  Shard(ShardPool& pool, ShardId id);
  void start_thread();
  void request_stop() noexcept;
  void join();
  void thread_main();
  void teardown();
  void schedule_mailbox_drain();
  void drain_mailbox();
  void drain_deferred();
  void arm_timer(TimerQueue::TimePoint at);
  void on_timer();

  ShardPool& pool_;
  const ShardId id_;
  std::unique_ptr<Runtime> rt_;  // io_context + steady timer (Asio kept out of this header)
  Mailbox mailbox_;
  std::atomic<bool> accepting_{true};
  std::atomic<bool> io_open_{true};   // false once teardown may shut Asio down
  std::atomic<int> wakers_{0};        // threads inside schedule_mailbox_drain()
  TimerQueue timers_;
  ShardObject* deferred_head_ = nullptr;
  ShardObject* deferred_tail_ = nullptr;
  bool deferred_posted_ = false;
  ShardObject* reg_head_ = nullptr;
  std::size_t registered_count_ = 0;
  NetCounters counters_;
  OutputSpares output_spares_{counters_};
  std::thread thread_;
};

class ShardPool {
 public:
  ShardPool() = default;
  ShardPool(const ShardPool&) = delete;
  ShardPool& operator=(const ShardPool&) = delete;
  ~ShardPool();  // stop()

  // Creates `count` (>= 1) shards and starts one thread each. Once per pool.
  void start(std::size_t count);
  // Stops every shard and joins the threads. Call from outside the pool
  // (never from a shard thread). Stop listeners first (TcpListener::stop()).
  // Idempotent.
  void stop();

  bool running() const noexcept { return running_.load(std::memory_order_acquire); }
  std::size_t size() const noexcept { return shards_.size(); }
  Shard& shard(ShardId id) noexcept {
    ROADMQ_ASSERT(id.value() < shards_.size());
    return *shards_[id.value()];
  }

  // Any thread: run `fn` on shard `target` (see Shard::post).
  template <class F>
  void post(ShardId target, F&& fn) {
    shard(target).post(std::forward<F>(fn));
  }

  // Sum over shards; any thread.
  NetCountersSnapshot counters() const noexcept;

 private:
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> running_{false};
  bool started_ = false;
};

}  // namespace roadmq::net
