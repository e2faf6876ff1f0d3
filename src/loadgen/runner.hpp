// The main thread of a run: builds the plan, starts one worker per thread
// on a ShardPool, walks the phases (ramp, traffic, finish, close), prints a
// progress line every second on stderr, and finally the JSON summary on
// stdout (and to --json FILE). Workers are driven only by posted messages
// and observed only through their atomic counters until the pool has
// stopped; then their results are merged here.
//
//   ramp ─every client tried once─▶ traffic ─duration, --count, --idle-exit
//     or a signal─▶ finish (finals, acks, downlinks; bounded) ─▶ close ─▶ summary
//
// A first SIGINT/SIGTERM ends the current phase early and still produces
// the summary; a second one skips the waiting.
//
// Thread safety: run() is called once, from the main thread.
#pragma once

#include "loadgen/options.hpp"

namespace roadmq::loadgen {

// Returns the process exit code: 0 checks passed, 1 a check failed, 2 the
// run could not start (unresolvable host, unwritable --json file).
int run(const Options& options);

}  // namespace roadmq::loadgen
