// Per-shard transport counters. Each shard owns one NetCounters and is its
// only writer; a scrape from any thread reads them and sums over shards.
//
// Thread safety: Counter::add/sub only on the owning shard's thread (single
// writer); Counter::get and snapshot() from any thread. The writer does a
// relaxed load + store, which compiles to a plain add (no lock prefix) yet
// keeps a concurrent scrape free of data races.
#pragma once

#include <atomic>
#include <cstdint>

namespace roadmq::net {

class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// X-macro so the live struct, the snapshot and the summing never disagree.
#define ROADMQ_NET_COUNTERS(X)                                                        \
  X(connections_accepted) /* admitted by a listener */                                \
  X(connections_refused)  /* accepted then closed: over max_connections */            \
  X(connections_closed)   /* socket closed (not counting migrations away) */          \
  X(connections_open)     /* gauge: open sockets owned by the shard */                \
  X(bytes_in)                                                                         \
  X(bytes_out)                                                                        \
  X(reads)                /* read syscalls that returned data */                      \
  X(writes)               /* write syscalls that sent data */                         \
  X(backpressure_pauses)  /* reads paused: output above the high watermark */         \
  X(output_overflows)     /* connections closed: output above the hard limit */       \
  X(close_timeouts)       /* graceful closes that had to abort */                     \
  X(accept_errors)        /* accept() failures of any kind */                         \
  X(accept_pauses)        /* accepting paused after EMFILE/ENFILE/ENOBUFS/ENOMEM */   \
  X(migrations_out)                                                                   \
  X(migrations_in)                                                                    \
  X(mailbox_tasks)        /* cross-shard tasks run */                                 \
  X(mailbox_wakeups)      /* mailbox drains: tasks/wakeups is the batching factor */ \
  X(output_spares_lent)   /* drained output buffers reused by a connection */         \
  X(output_spare_bytes)   /* gauge: capacity of the drained buffers a shard keeps */

struct NetCountersSnapshot {
#define ROADMQ_X(name) std::uint64_t name = 0;
  ROADMQ_NET_COUNTERS(ROADMQ_X)
#undef ROADMQ_X

  NetCountersSnapshot& operator+=(const NetCountersSnapshot& o) noexcept {
#define ROADMQ_X(name) name += o.name;
    ROADMQ_NET_COUNTERS(ROADMQ_X)
#undef ROADMQ_X
    return *this;
  }
};

struct NetCounters {
#define ROADMQ_X(name) Counter name;
  ROADMQ_NET_COUNTERS(ROADMQ_X)
#undef ROADMQ_X

  NetCountersSnapshot snapshot() const noexcept {
    NetCountersSnapshot s;
#define ROADMQ_X(name) s.name = name.get();
    ROADMQ_NET_COUNTERS(ROADMQ_X)
#undef ROADMQ_X
    return s;
  }
};

}  // namespace roadmq::net
