// WorkerCounters: what a worker thread has done so far, readable from the
// main thread at any time (progress lines, end conditions) without a lock.
// Each worker is the only writer of its own counters; the main thread sums
// them.
//
// Thread safety: add()/set() on the owning worker's thread only (single
// writer, a relaxed load + store: a plain add, no lock prefix); get() and
// snapshot() from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace roadmq::loadgen {

// Like net::Counter, plus set() for the gauges a worker recomputes on its
// sweep (inflight, finals pending) instead of tracking every change.
class Count {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// X-macro: the live counters, the snapshot and the sum never disagree.
#define ROADMQ_LOADGEN_COUNTERS(X)                                                      \
  X(connect_attempts)   /* connection attempts started */                               \
  X(connects)           /* sessions established (CONNACK accepted, SUBACK if any) */    \
  X(connect_failures)   /* attempts that ended without a session */                     \
  X(connections_lost)   /* established connections that ended unasked */                \
  X(drops)              /* simulated outages (fleet) */                                 \
  X(reconnects)         /* sessions established after the first one of a client */      \
  X(settled)            /* clients whose first attempt has ended, either way */         \
  X(open)               /* gauge: established connections now */                        \
  X(subscribe_failures) /* SUBACKs refusing a filter */                                 \
  X(sessions_lost)      /* reconnects that found no session on the broker */            \
  X(sessions_present)   /* sessions established with CONNACK Session Present 1 */       \
  X(published)          /* PUBLISHes sent (first transmissions only) */                 \
  X(acked)              /* QoS 1/2 publishes completed with success */                  \
  X(rejected)           /* QoS 1/2 publishes completed with a failure reason code */    \
  X(retransmitted)      /* PUBLISH (DUP) and PUBREL resent after reconnecting */        \
  X(dropped_inflight)   /* unacknowledged publishes lost with a session */              \
  X(skipped)            /* paced sends that found the client offline or blocked */      \
  X(inflight)           /* gauge: QoS 1/2 publishes awaiting acks */                    \
  X(finals_pending)     /* gauge: publishers yet to send their final message */         \
  X(finals_sent)        /* messages flagged final, published */                         \
  X(finals_received)    /* messages flagged final, received (first copy) */             \
  X(publishers_done)    /* publishers that sent their --count */                        \
  X(received)           /* deliveries of our own payloads (pub/sub streams, uplinks) */ \
  X(foreign)            /* deliveries without our header, or of another run */          \
  X(clock_errors)       /* send time after receive time: not the same clock */          \
  X(downlinks_sent)                                                                     \
  X(downlinks_acked)                                                                    \
  X(downlinks_received) /* distinct commands received by vehicles */                    \
  X(downlink_duplicates)

struct CounterSnapshot {
#define ROADMQ_X(name) std::uint64_t name = 0;
  ROADMQ_LOADGEN_COUNTERS(ROADMQ_X)
#undef ROADMQ_X
  CounterSnapshot& operator+=(const CounterSnapshot& o) noexcept {
#define ROADMQ_X(name) name += o.name;
    ROADMQ_LOADGEN_COUNTERS(ROADMQ_X)
#undef ROADMQ_X
    return *this;
  }
};

struct WorkerCounters {
#define ROADMQ_X(name) Count name;
  ROADMQ_LOADGEN_COUNTERS(ROADMQ_X)
#undef ROADMQ_X
  // CLOCK_MONOTONIC ns of the first and latest delivery (0: none yet).
  Count first_receive_ns;
  Count last_receive_ns;

  CounterSnapshot snapshot() const noexcept {
    CounterSnapshot s;
#define ROADMQ_X(name) s.name = name.get();
    ROADMQ_LOADGEN_COUNTERS(ROADMQ_X)
#undef ROADMQ_X
    return s;
  }
};

}  // namespace roadmq::loadgen
