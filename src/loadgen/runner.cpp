#include "loadgen/runner.hpp"

#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "loadgen/plan.hpp"
#include "loadgen/summary.hpp"
#include "loadgen/worker.hpp"
#include "net/shard.hpp"

namespace roadmq::loadgen {
namespace {

using namespace std::chrono_literals;

// Signals only count; the main loop looks at the count between its waits.
std::atomic<int> g_signals{0};

extern "C" void on_signal(int) { g_signals.fetch_add(1, std::memory_order_relaxed); }

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

// Every connection is a descriptor: take all the kernel allows us.
std::uint64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);  // best effort: the old limit still works
    (void)::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return static_cast<std::uint64_t>(rl.rlim_cur);
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

class Runner {
 public:
  explicit Runner(RunPlan plan)
      : plan_(std::move(plan)),
        opt_(plan_.options),
        shared_(std::max<std::uint32_t>(1, plan_.vehicles)) {}

  int go();

 private:
  CounterSnapshot totals() const {
    CounterSnapshot s;
    for (const auto& w : workers_) s += w->counters().snapshot();
    return s;
  }
  std::uint64_t last_receive_ns() const {
    std::uint64_t t = 0;
    for (const auto& w : workers_) t = std::max(t, w->counters().last_receive_ns.get());
    return t;
  }
  template <class F>
  void each_worker(F f) {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      Worker* w = workers_[i].get();
      pool_.post(net::ShardId(static_cast<std::uint32_t>(i)), [w, f] { f(*w); });
    }
  }
  bool stop_requested(int level = 1) const {
    return g_signals.load(std::memory_order_relaxed) >= level;
  }
  // Waits (printing progress) until `done` or `limit` passes or a signal
  // reaches `level`; true when `done` became true.
  template <class Done>
  bool wait_until(Done done, Clock::duration limit, int level);
  void progress(bool force = false);
  LatencyHistogram interval_latency();
  RunTotals collect();

  RunPlan plan_;
  const Options& opt_;
  RunShared shared_;
  net::ShardPool pool_;
  std::vector<std::unique_ptr<Worker>> workers_;
  Clock::time_point started_;
  Clock::time_point traffic_at_{};
  Clock::time_point last_progress_{};
  CounterSnapshot last_snapshot_{};
  const char* phase_ = "connect";
};

template <class Done>
bool Runner::wait_until(Done done, Clock::duration limit, int level) {
  const auto deadline =
      limit == Clock::duration::max() ? Clock::time_point::max() : Clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (stop_requested(level) || Clock::now() >= deadline) return false;
    progress();
    // The loop only watches counters; 20 ms keeps end conditions prompt
    // without costing the workers anything.
    std::this_thread::sleep_for(20ms);
  }
}

LatencyHistogram Runner::interval_latency() {
  LatencyHistogram merged;
  std::vector<std::future<LatencyHistogram>> parts;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    auto p = std::make_shared<std::promise<LatencyHistogram>>();
    parts.push_back(p->get_future());
    Worker* w = workers_[i].get();
    pool_.post(net::ShardId(static_cast<std::uint32_t>(i)),
               [w, p] { p->set_value(w->take_interval()); });
  }
  for (auto& f : parts)
    if (f.wait_for(500ms) == std::future_status::ready) merged.merge(f.get());
  return merged;
}

void Runner::progress(bool force) {
  const auto now = Clock::now();
  if (opt_.quiet || (!force && now - last_progress_ < 1s)) return;
  const double dt = last_progress_ == Clock::time_point{} ? 1.0 : seconds(now - last_progress_);
  last_progress_ = now;
  const CounterSnapshot s = totals();
  const CounterSnapshot& p = last_snapshot_;
  std::string line;
  char buf[256];
  std::snprintf(buf, sizeof buf, "[%7.1fs %-7s] conn %llu/%zu", seconds(now - started_), phase_,
                static_cast<unsigned long long>(s.open), plan_.clients.size());
  line += buf;
  if (s.connect_failures + s.connections_lost > 0) {
    std::snprintf(buf, sizeof buf, " (%llu failed, %llu lost)",
                  static_cast<unsigned long long>(s.connect_failures),
                  static_cast<unsigned long long>(s.connections_lost));
    line += buf;
  }
  if (opt_.command == Command::fleet) {
    std::snprintf(buf, sizeof buf, " drops %llu", static_cast<unsigned long long>(s.drops));
    line += buf;
  }
  if (opt_.command == Command::pub || opt_.command == Command::fleet) {
    std::snprintf(buf, sizeof buf, " | sent %llu (%.0f/s)",
                  static_cast<unsigned long long>(s.published),
                  static_cast<double>(s.published - p.published) / dt);
    line += buf;
    if (opt_.qos > 0) {
      std::snprintf(buf, sizeof buf, " inflight %llu", static_cast<unsigned long long>(s.inflight));
      line += buf;
    }
  }
  if (opt_.command == Command::sub || opt_.command == Command::fleet) {
    std::snprintf(buf, sizeof buf, " | recv %llu (%.0f/s)",
                  static_cast<unsigned long long>(s.received),
                  static_cast<double>(s.received - p.received) / dt);
    line += buf;
    const LatencyHistogram h = interval_latency();
    if (!h.empty()) {
      std::snprintf(buf, sizeof buf, " lat p50 %.2fms p99 %.2fms max %.2fms",
                    static_cast<double>(h.percentile(50)) / 1e6,
                    static_cast<double>(h.percentile(99)) / 1e6,
                    static_cast<double>(h.max()) / 1e6);
      line += buf;
    }
  }
  if (opt_.command == Command::fleet) {
    std::snprintf(buf, sizeof buf, " | down %llu/%llu",
                  static_cast<unsigned long long>(s.downlinks_received),
                  static_cast<unsigned long long>(s.downlinks_sent));
    line += buf;
  }
  line += '\n';
  std::fputs(line.c_str(), stderr);
  last_snapshot_ = s;
}

int Runner::go() {
  started_ = Clock::now();
  const std::uint64_t fd_limit = raise_fd_limit();
  if (fd_limit != 0 && plan_.clients.size() + 64 > fd_limit)
    std::fprintf(stderr,
                 "roadmq-bench: warning: %zu clients but only %llu file descriptors allowed\n",
                 plan_.clients.size(), static_cast<unsigned long long>(fd_limit));

  pool_.start(opt_.threads);
  for (std::uint32_t i = 0; i < opt_.threads; ++i)
    workers_.push_back(std::make_unique<Worker>(plan_, shared_, i, pool_.shard(net::ShardId(i))));
  each_worker([](Worker& w) { w.start(); });

  // Ramp: every client tried once (established or failed).
  const std::uint64_t total = plan_.clients.size();
  wait_until([&] { return totals().settled >= total; }, Clock::duration::max(), 1);
  const auto ramp_done = Clock::now();
  {
    const CounterSnapshot s = totals();
    const char* what = opt_.command == Command::sub ? "subscribed" : "connected";
    // A line scripts can wait for (the sub side of a pub/sub test).
    std::fprintf(stderr, "roadmq-bench: ready: %llu/%llu %s\n",
                 static_cast<unsigned long long>(s.connects),
                 static_cast<unsigned long long>(total), what);
  }

  // Traffic.
  phase_ = "run";
  traffic_at_ = Clock::now();
  const auto at = traffic_at_;
  each_worker([at](Worker& w) { w.start_traffic(at); });
  const Clock::duration duration = opt_.duration
                                       ? std::chrono::duration_cast<Clock::duration>(*opt_.duration)
                                       : Clock::duration::max();
  std::uint64_t publishers = 0;
  for (const auto& c : plan_.clients)
    if (c.publishes && c.role != Role::platform) ++publishers;
  wait_until(
      [&] {
        const CounterSnapshot s = totals();
        switch (opt_.command) {
          case Command::pub:
            // Each publisher has one connection: one that failed or was
            // lost will not finish either.
            return opt_.count > 0 &&
                   s.publishers_done + s.connect_failures + s.connections_lost >= publishers;
          case Command::sub: {
            if (opt_.count > 0 && s.received >= opt_.count) return true;
            if (!opt_.idle_exit) return false;
            const std::uint64_t last = last_receive_ns();
            const auto idle = std::chrono::duration_cast<std::chrono::nanoseconds>(*opt_.idle_exit);
            return last != 0 && monotonic_ns() - last >= static_cast<std::uint64_t>(idle.count());
          }
          case Command::conn:
          case Command::fleet:
            return false;
        }
        return false;
      },
      duration, 1);
  const auto traffic_end = Clock::now();
  const std::uint64_t open_at_end = totals().open;

  // Finish: finals, outstanding acks, downlinks still on their way.
  phase_ = "finish";
  each_worker([](Worker& w) { w.finish_traffic(); });
  Clock::duration grace = 0s;
  if (opt_.command == Command::pub) grace = opt_.drain_timeout;
  if (opt_.command == Command::fleet) grace = opt_.fleet.grace;
  // Give the workers one sweep to publish their gauges before judging them.
  std::this_thread::sleep_for(300ms);
  wait_until(
      [&] {
        const CounterSnapshot s = totals();
        if (s.finals_pending > 0 || s.inflight > 0) return false;
        // The platform is in this process: a final acknowledged to its
        // vehicle may still be on its way to the platform.
        if (opt_.command == Command::fleet)
          return (s.downlinks_received >= s.downlinks_sent && s.finals_received >= s.finals_sent) ||
                 opt_.allow_loss;
        return true;
      },
      grace, 2);
  const std::uint64_t inflight_at_end = totals().inflight;

  // Close: DISCONNECT everyone.
  phase_ = "close";
  each_worker([](Worker& w) { w.close_all(); });
  wait_until([&] { return totals().open == 0; }, 5s, 2);
  progress(true);
  pool_.stop();

  RunTotals t = collect();
  t.open_at_end = open_at_end;
  t.inflight_at_end = inflight_at_end;
  t.connect_seconds = seconds(ramp_done - started_);
  t.run_seconds = seconds(traffic_end - traffic_at_);
  t.total_seconds = seconds(Clock::now() - started_);
  t.interrupted = stop_requested(1);
  const Verdict v = judge(plan_, t);
  const std::string json = summary_json(plan_, t, v);
  std::fputs(json.c_str(), stdout);
  std::fflush(stdout);
  if (opt_.json_path) {
    std::FILE* f = std::fopen(opt_.json_path->c_str(), "w");
    if (f == nullptr || std::fputs(json.c_str(), f) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "roadmq-bench: cannot write %s\n", opt_.json_path->c_str());
      return 2;
    }
  }
  for (const auto& f : v.failures)
    std::fprintf(stderr, "roadmq-bench: check failed: %s\n", f.c_str());
  return v.exit_code();
}

RunTotals Runner::collect() {
  // The pool has stopped: every worker's thread is joined, so its results
  // are ours to read.
  RunTotals t;
  t.c = totals();
  StreamTable shared_view;
  for (auto& w : workers_) {
    WorkerResults& r = w->results();
    t.latency.merge(r.latency);
    t.ack_latency.merge(r.ack_latency);
    t.connect_latency.merge(r.connect_latency);
    t.downlink_latency.merge(r.downlink_latency);
    for (auto& table : r.tables) {
      if (plan_.shared_receivers) {
        shared_view.merge(table);  // one group: members' views add up to one
      } else {
        t.streams += table.totals();
      }
    }
    for (const auto& [why, n] : r.errors) t.errors[why] += n;
    const std::uint64_t first = w->counters().first_receive_ns.get();
    if (first != 0 && (t.first_receive_ns == 0 || first < t.first_receive_ns))
      t.first_receive_ns = first;
    t.last_receive_ns = std::max(t.last_receive_ns, w->counters().last_receive_ns.get());
  }
  if (plan_.shared_receivers) t.streams = shared_view.totals();
  DownlinkLedger ledger;
  for (auto& w : workers_) ledger.merge(w->results().downlinks);
  t.downlinks_missing = ledger.missing(t.c.downlinks_sent);
  t.downlinks_duplicates = ledger.duplicates();
  return t;
}

}  // namespace

int run(const Options& options) {
  auto plan = make_plan(options);
  if (!plan) {
    std::fprintf(stderr, "roadmq-bench: %s\n", plan.error().c_str());
    return 2;
  }
  if (options.json_path) {
    // Refuse now rather than after a long run.
    std::FILE* f = std::fopen(options.json_path->c_str(), "w");
    if (f == nullptr) {
      std::fprintf(stderr, "roadmq-bench: cannot write %s\n", options.json_path->c_str());
      return 2;
    }
    std::fclose(f);
  }
  install_signals();
  Runner r(std::move(*plan));
  return r.go();
}

}  // namespace roadmq::loadgen
