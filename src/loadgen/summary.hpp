// The end of a run: every worker's counters and results folded into one
// RunTotals, judged against the checks that decide the exit code, and
// written out as the JSON summary (docs/roadmq-bench.md lists every field).
//
// Checks (exit code 1 when any fails; 0 otherwise):
//   connections  failed attempts + lost connections + refused subscriptions
//                > --max-connect-failures (default 0)
//   publish      QoS >= 1 publishes refused by the broker (failure reason
//                code), still unacknowledged when the run ended, or dropped
//                because the broker lost the session
//   loss         (sub, fleet uplinks; unless --allow-loss) messages missing
//                from streams that arrived at QoS >= 1: every receiver keeps
//                one connection for the run or, in fleet, a persistent
//                session, so nothing may be missing
//   duplicates   (sub, fleet uplinks) any duplicate in a stream that arrived
//                at QoS 2
//   count        (sub) --count messages not reached
//   downlinks    (fleet; unless --allow-loss) platform commands that never
//                reached their vehicle, after the grace period
//
// Thread safety: pure functions over values gathered after the workers'
// threads were joined.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loadgen/counters.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/plan.hpp"
#include "loadgen/stream_table.hpp"

namespace roadmq::loadgen {

struct RunTotals {
  CounterSnapshot c;
  LatencyHistogram latency;
  LatencyHistogram ack_latency;
  LatencyHistogram connect_latency;
  LatencyHistogram downlink_latency;
  StreamTotals streams;
  std::uint64_t downlinks_missing = 0;
  std::uint64_t downlinks_duplicates = 0;
  std::map<std::string, std::uint64_t> errors;
  std::uint64_t first_receive_ns = 0;
  std::uint64_t last_receive_ns = 0;
  std::uint64_t inflight_at_end = 0;  // QoS >= 1 publishes never acknowledged
  std::uint64_t open_at_end = 0;      // established connections when the run phase ended
  double connect_seconds = 0;         // start to every client tried once
  double run_seconds = 0;             // traffic start to its end
  double total_seconds = 0;
  bool interrupted = false;  // SIGINT / SIGTERM ended the run
};

struct Verdict {
  std::vector<std::string> failures;
  int exit_code() const noexcept { return failures.empty() ? 0 : 1; }
};

Verdict judge(const RunPlan& plan, const RunTotals& t);
std::string summary_json(const RunPlan& plan, const RunTotals& t, const Verdict& v);

}  // namespace roadmq::loadgen
