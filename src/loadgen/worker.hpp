// Worker: the clients of one thread (one shard, one io_context) and what
// they do: the connection ramp, publishing (paced by one timer for the whole
// thread, never one per client), receiving and checking, simulated outages
// and reconnects (fleet), the end-of-run finals and disconnects.
//
// Phases, each started by the runner with a message posted to the shard:
//
//   start() ──ramp──▶ (every client tried once) start_traffic() ──▶ finish_traffic()
//      ──▶ (finals sent, acks in, downlinks home, or timeout) close_all() ──▶ pool stops
//
// Publishing modes:
//   paced      a Pacer releases the thread's share of --rate; what is due is
//              spread over the publishers round robin, each taking as many
//              as its window and output allow (work conserving)
//   unlimited  publishers with room are pumped in batches from deferred
//              runs; an ack or drained output brings one back
//   cadence    fleet: each vehicle in turn gets the next due message, so
//              every vehicle sends one per --interval; an offline vehicle's
//              turn is skipped (counted), as a parked car sends nothing
//
// Thread safety: constructed on the main thread before the pool runs; every
// member function but counters() runs on the worker's shard thread.
// counters() is read from any thread. results() is read once the pool has
// stopped (threads joined).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "loadgen/client.hpp"
#include "loadgen/counters.hpp"
#include "loadgen/downlink_ledger.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/pacer.hpp"
#include "loadgen/payload.hpp"
#include "loadgen/plan.hpp"
#include "loadgen/stream_table.hpp"
#include "net/shard.hpp"
#include "net/timer_queue.hpp"

namespace roadmq::loadgen {

// What a worker measured, beyond its counters.
struct WorkerResults {
  LatencyHistogram latency;           // end to end: pub/sub messages, fleet uplinks
  LatencyHistogram ack_latency;       // PUBLISH to PUBACK / PUBCOMP
  LatencyHistogram connect_latency;   // connect() to ready
  LatencyHistogram downlink_latency;  // platform to vehicle
  std::vector<StreamTable> tables;    // sub: one per subscriber, or one per thread when shared
  DownlinkLedger downlinks;
  std::map<std::string, std::uint64_t> errors;  // why connections failed or ended
};

class Worker final : public net::ShardObject, private ClientEvents {
 public:
  Worker(const RunPlan& plan, RunShared& shared, std::uint32_t id, net::Shard& shard);
  ~Worker() override;

  void start();
  void start_traffic(Clock::time_point at);
  void finish_traffic();
  void close_all();
  // Latency recorded since the last call (progress lines).
  LatencyHistogram take_interval();

  const WorkerCounters& counters() const noexcept { return counters_; }
  WorkerResults& results() noexcept { return results_; }
  std::size_t client_count() const noexcept { return slots_.size(); }

 private:
  struct Slot {
    std::unique_ptr<Client> client;
    const ClientSpec* spec = nullptr;
    StreamTable* table = nullptr;  // sub / platform: where its deliveries are tracked
    std::uint64_t next_seq = 0;    // next payload sequence number
    net::TimerQueue::Handle reconnect;
    Clock::time_point next_drop = Clock::time_point::max();
    std::uint32_t failures = 0;  // consecutive failed attempts (backoff)
    bool settled = false;        // first attempt over
    bool up = false;             // counted in `open`
    bool ever_up = false;        // had a session before (reconnects)
    bool alive = true;           // connected, or will be again
    bool done = false;           // sent its --count (or its final)
    bool final_pending = false;
    bool in_pump = false;
  };

  // ClientEvents
  void on_ready(Client& c, ReadyInfo info) override;
  void on_message(Client& c, const mqtt::Publish& p) override;
  void on_acked(Client& c, const OutboundEntry& e, AckOutcome outcome) override;
  void on_down(Client& c, DownCause cause, const std::string& why) override;
  void on_room(Client& c) override;

  // net::ShardObject: the unlimited-mode pump.
  void run_deferred() override;
  void on_shard_stop() override {}

  void arm_tick(Clock::time_point now);
  void on_tick();
  void arm_sweep();
  void on_sweep();

  void ramp(std::uint64_t due);
  void send_paced(std::uint64_t due);
  void send_uplinks(std::uint64_t due);
  void send_downlinks(std::uint64_t due);
  std::uint64_t send_from(Slot& s, std::uint64_t max);
  void try_final(Slot& s);
  void want_pump(Slot& s);
  void schedule_drop(Slot& s, Clock::time_point now);
  void schedule_reconnect(Slot& s, DownCause cause);
  void note_error(const std::string& why);
  void collect_client_counts(Slot& s);

  const RunPlan& plan_;
  const Options& opt_;
  RunShared& shared_;
  const std::uint32_t id_;
  net::Shard& shard_;
  WorkerCounters counters_;
  WorkerResults results_;
  LatencyHistogram interval_;
  PayloadScratch scratch_;
  std::mt19937_64 rng_;

  std::vector<Slot> slots_;
  std::vector<std::uint32_t>
      publishers_;  // slots that publish (pub: publishers; fleet: non-idle vehicles)
  Slot* platform_ = nullptr;
  std::size_t ramp_next_ = 0;  // next slot to connect for the first time
  Pacer ramp_pacer_;
  Pacer traffic_pacer_;
  Pacer downlink_pacer_;
  std::uint64_t owed_ = 0;  // paced sends due but not yet possible
  std::uint64_t owed_cap_ = 0;
  std::uint64_t downlinks_owed_ = 0;
  std::size_t rr_ = 0;
  std::uint64_t downlink_seq_ = 0;  // worker 0 only (the platform's)
  std::size_t wire_size_ = 0;       // one PUBLISH, for output budgets
  std::size_t downlink_wire_size_ = 0;
  std::vector<std::uint32_t> pump_;
  std::vector<std::uint32_t> pump_next_;
  net::TimerQueue::Handle tick_;
  net::TimerQueue::Handle sweep_;
  bool ramping_ = false;
  bool traffic_ = false;  // between start_traffic() and finish_traffic()
  bool finishing_ = false;
  bool closing_ = false;
};

}  // namespace roadmq::loadgen
