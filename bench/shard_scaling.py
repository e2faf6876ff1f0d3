#!/usr/bin/python3
"""Does RoadMQ deliver more with more shards? 1 shard against 2 (or any list).

The question needs every shard on a CPU of its own and the load generator on
yet another, so that neither takes CPU from the other: three CPUs for two
shards. Where there are enough CPUs, `compare.py --shards N --pin-broker
0,1 --pin-load 2` answers it directly.

This script answers it on a machine with fewer CPUs than shards + load (a
2-core box, say) by giving each shard a fixed CPU budget instead of a whole
CPU: each shard thread (named `shard-N` by the broker) is pinned to a CPU of
its own and put in a cgroup of its own whose CFS bandwidth limit lets it run
--shard-cpu of that CPU (0.5: 5 ms in every 10 ms period) and whose weight
puts it ahead of everything else there. The load generator runs unpinned on
what the caps leave (one CPU of two with two half-CPU shards). With one
shard, the broker has half a CPU; with two, two halves on two CPUs: the
delivered-messages ratio is the shard scaling, the cost of cross-shard
routing included.

A figure is a broker capacity only if the shards used their whole budget;
the table shows each run's shard utilisation (shard CPU time / budget over
the measured window). Below 90 % the load generator, not the broker, set
the pace: the row is marked `load-bound`.

The scenario is compare.py's fan-in (100 publishers at full speed -> a
shared group of 2 subscribers, 64 B, QoS 0 unless --qos 1), with its
measured window and its CPU accounting. Runs alternate 1 2 1 2 ... and the
table shows medians.

cgroups: v1 (`/sys/fs/cgroup/cpu`, each shard thread written to `tasks`) or
v2 (a threaded subtree: `cgroup.type` threaded, `cpu.max`, `cpu.weight`).
Needs root. The groups are removed when the run ends.
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare as cmp  # noqa: E402  (the scenario, the broker runner, /proc sampling)

CGROUP_V1_CPU = Path("/sys/fs/cgroup/cpu")
CGROUP_V2 = Path("/sys/fs/cgroup")
FULL_BUDGET = 0.90


def log(msg: str) -> None:
    cmp.log(f"[scaling] {msg}")


# ── cgroups ──────────────────────────────────────────────────────────────────

def write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise cmp.ScenarioError(f"cannot write {value.strip()!r} to {path}: {e.strerror}")


class ShardCaps:
    """One cgroup per shard thread with a CFS bandwidth cap; removed on exit."""

    def __init__(self, pid: int, tids: list, cpus: list, share: float, period_us: int):
        self.pid, self.tids, self.cpus = pid, tids, cpus
        self.quota_us = max(1000, round(share * period_us))
        self.period_us = period_us
        self.v2 = (CGROUP_V2 / "cgroup.controllers").exists()
        root = CGROUP_V2 if self.v2 else CGROUP_V1_CPU
        if not (root / ("cgroup.procs")).exists():
            raise cmp.ScenarioError(f"no cpu cgroup hierarchy at {root}")
        self.parent = root / f"roadmq-scaling-{pid}"
        self.groups = []

    def __enter__(self):
        try:
            self._apply()
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc):
        self._remove()
        return False

    def _apply(self) -> None:
        self.parent.mkdir()
        if self.v2:
            if "cpu" not in (CGROUP_V2 / "cgroup.subtree_control").read_text().split():
                write(CGROUP_V2 / "cgroup.subtree_control", "+cpu")
        for i, tid in enumerate(self.tids):
            group = self.parent / f"shard-{i}"
            group.mkdir()
            self.groups.append(group)
            if self.v2:
                write(group / "cgroup.type", "threaded")
        if self.v2:
            # A threaded subtree: its root holds the process, the children
            # hold single threads (cgroup-v2.rst, "Threads").
            write(self.parent / "cgroup.subtree_control", "+cpu")
            write(self.parent / "cgroup.procs", str(self.pid))
        for group, tid, cpu in zip(self.groups, self.tids, self.cpus):
            if self.v2:
                write(group / "cpu.max", f"{self.quota_us} {self.period_us}")
                write(group / "cpu.weight", "10000")
                write(group / "cgroup.threads", str(tid))
            else:
                write(group / "cpu.cfs_period_us", str(self.period_us))
                write(group / "cpu.cfs_quota_us", str(self.quota_us))
                write(group / "cpu.shares", "262144")
                write(group / "tasks", str(tid))
            os.sched_setaffinity(tid, {cpu})

    def _remove(self) -> None:
        # Called once the broker has exited, or to undo a half-made setup:
        # give any thread still in a group back to the root, then rmdir.
        root = CGROUP_V2 if self.v2 else CGROUP_V1_CPU
        for group in reversed(self.groups):
            members = group / ("cgroup.threads" if self.v2 else "tasks")
            try:
                for tid in members.read_text().split():
                    (root / ("cgroup.procs" if self.v2 else "tasks")).write_text(tid)
            except OSError:
                pass
            try:
                group.rmdir()
            except OSError as e:
                log(f"cannot remove {group}: {e.strerror}")
        if self.v2 and self.parent.exists():
            try:
                for pid in (self.parent / "cgroup.procs").read_text().split():
                    (root / "cgroup.procs").write_text(pid)
            except OSError:
                pass
        try:
            if self.parent.exists():
                self.parent.rmdir()
        except OSError as e:
            log(f"cannot remove {self.parent}: {e.strerror}")


def shard_threads(pid: int, shards: int, timeout: float = 10.0) -> list:
    """The TIDs of threads `shard-0` .. `shard-{shards-1}`, in shard order."""
    deadline = time.monotonic() + timeout
    while True:
        found = {}
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                name = (task / "comm").read_text().strip()
            except OSError:
                continue
            if name.startswith("shard-"):
                found[name] = int(task.name)
        wanted = [f"shard-{i}" for i in range(shards)]
        if all(w in found for w in wanted) and len(found) == shards:
            return [found[w] for w in wanted]
        if time.monotonic() > deadline:
            raise cmp.ScenarioError(f"expected threads {', '.join(wanted)}, "
                                    f"found {', '.join(sorted(found)) or 'none'}")
        time.sleep(0.05)


# ── one run ──────────────────────────────────────────────────────────────────

def settings(args, shards: int) -> cmp.Settings:
    return cmp.Settings(roadmq_bin=args.roadmq_bin, bench_bin=args.bench_bin, scale=args.scale,
                        shards=shards, fanout_rate=0, pin_broker=None, pin_load=None,
                        roadmq_env=cmp.parse_env(args.roadmq_env))


def run_once(args, shards: int, rnd: int, ports: cmp.PortPool, work: Path) -> dict:
    s = settings(args, shards)
    workdir = work / f"r{rnd}-s{shards}"
    workdir.mkdir(parents=True)
    result = {"shards": shards, "round": rnd, "metrics": {}, "problems": []}
    run = None
    try:
        port = ports.take()
        log(f"round {rnd}: {shards} shard(s), {args.shard_cpu:g} CPU each (port {port})")
        with cmp.BrokerRun(cmp.BrokerSpec("roadmq", "roadmq"), s, port, workdir) as run:
            tids = shard_threads(run.pid, shards)
            cpus = sorted(os.sched_getaffinity(0))
            cpus = [cpus[i % len(cpus)] for i in range(shards)]
            with ShardCaps(run.pid, tids, cpus, args.shard_cpu, args.period_us):
                samplers = [cmp.Sampler(run.pid, tid) for tid in tids]
                try:
                    r = cmp.pub_sub(run,
                                    ["sub", "--shared", "g", "-t", "bench/#", "-q",
                                     str(args.qos), "--allow-loss"],
                                    ["pub", "-q", str(args.qos), "-t", "bench/%i",
                                     "--size", "64"],
                                    pub_d=s.secs(10), subs=2, pubs=s.n(100))
                finally:
                    for sm in samplers:
                        sm.stop()
                m = cmp.delivery_metrics(r)
                t0, t1 = r["t0"], r["t1"]
                budget = args.shard_cpu * (t1 - t0)
                used = [sm.cpu_between(t0, t1) or 0.0 for sm in samplers]
                m.update(shard_cpu_s=used,
                         shard_utilisation=min(used) / budget if budget > 0 else None,
                         cpus=cpus)
                result["metrics"] = m
                run.check_alive()
    except cmp.ScenarioError as e:
        result["problems"].append(str(e))
    if run is not None:
        result["problems"] = run.problems + result["problems"]
    for p in result["problems"]:
        log(f"  ! {p}")
    return result


# ── report ───────────────────────────────────────────────────────────────────

def median(values: list) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(results: list, counts: list) -> dict:
    out = {}
    for n in counts:
        runs = [r for r in results if r["shards"] == n and r["metrics"]]
        out[n] = {
            "runs": len(runs),
            "failed": sum(1 for r in results if r["shards"] == n and not r["metrics"]),
            "delivered_per_s": median([r["metrics"]["delivered_per_s"] for r in runs]),
            "cpu_us_per_msg": median([r["metrics"]["cpu_us_per_msg"] for r in runs]),
            "utilisation": median([r["metrics"]["shard_utilisation"] for r in runs]),
            "lost": median([r["metrics"]["lost"] for r in runs]),
            "lat_p99_us": median([r["metrics"]["lat_p99_us"] for r in runs]),
        }
    return out


def table(summary: dict, counts: list, share: float) -> str:
    base = summary[counts[0]]["delivered_per_s"]
    head = (f"{'shards':>6}  {'CPU budget':>10}  {'delivered/s':>12}  {'x ' + str(counts[0]):>6}"
            f"  {'broker us/msg':>13}  {'shard use':>9}  {'p99 ms':>8}  note")
    lines = [head, "-" * len(head)]
    for n in counts:
        row = summary[n]
        rate = row["delivered_per_s"]
        ratio = f"{rate / base:.2f}" if rate and base else "-"
        util = row["utilisation"]
        note = ("no run" if not row["runs"] else
                "load-bound" if util is not None and util < FULL_BUDGET else "")
        if row["failed"]:
            note = (note + f" {row['failed']} failed").strip()
        lines.append(
            f"{n:>6}  {n * share:>8.2f} c  {rate or 0:>12,.0f}  {ratio:>6}"
            f"  {row['cpu_us_per_msg'] or 0:>13.2f}  {(util or 0) * 100:>8.0f}%"
            f"  {(row['lat_p99_us'] or 0) / 1000:>8,.0f}  {note}")
    return "\n".join(lines)


def parse_args(argv: list):
    ap = argparse.ArgumentParser(
        prog="shard_scaling.py",
        description="Fan-in throughput of RoadMQ with 1 shard against 2 (or --shards LIST), "
                    "each shard pinned to its own CPU and capped to --shard-cpu of it by a "
                    "cgroup, the load generator on what the caps leave. Needs root.",
        epilog="See the module docstring (or docs/performance.md) for the method.")
    ap.add_argument("--roadmq-bin", default=str(cmp.ROOT / "build/release/src/app/roadmq"))
    ap.add_argument("--bench-bin",
                    default=str(cmp.ROOT / "build/release/src/loadgen/roadmq-bench"))
    ap.add_argument("--shards", default="1,2", help="shard counts, first is the base (1,2)")
    ap.add_argument("--shard-cpu", type=float, default=0.5,
                    help="CPU budget of each shard, a fraction of one CPU (default 0.5)")
    ap.add_argument("--period-us", type=int, default=10000,
                    help="CFS bandwidth period in microseconds (default 10000)")
    ap.add_argument("--qos", type=int, choices=(0, 1), default=0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies publishers and duration (default 1: 100 publishers, 10 s)")
    ap.add_argument("--roadmq-env", action="append", metavar="ROADMQ_KEY=VALUE")
    ap.add_argument("--json", metavar="FILE", help="every run's figures as JSON")
    ap.add_argument("--markdown", metavar="FILE", help="append the table as a Markdown section")
    args = ap.parse_args(argv)
    try:
        args.counts = [int(x) for x in args.shards.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--shards: expected a list like 1,2, got {args.shards!r}")
    if not args.counts or min(args.counts) < 1:
        ap.error("--shards: counts must be 1 or more")
    if not 0.05 <= args.shard_cpu <= 1.0:
        ap.error("--shard-cpu must be between 0.05 and 1")
    if args.period_us < 1000 or args.period_us > 1000000:
        ap.error("--period-us must be between 1000 and 1000000")
    if args.rounds < 1 or args.scale <= 0:
        ap.error("--rounds must be at least 1 and --scale above 0")
    return args


def main(argv: list) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("shard_scaling.py needs root (it creates cgroups)")
    for p in (args.roadmq_bin, args.bench_bin):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"not executable: {p}")
    cmp.signal.signal(cmp.signal.SIGTERM, cmp.on_sigterm)
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    work = Path(tempfile.mkdtemp(prefix="roadmq-scaling-"))
    ports = cmp.PortPool()
    results = []
    try:
        for rnd in range(1, args.rounds + 1):
            for n in args.counts:
                results.append(run_once(args, n, rnd, ports, work))
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = summarise(results, args.counts)
    title = (f"fan-in QoS {args.qos}, {round(100 * args.scale)} publishers -> $share group of 2, "
             f"each shard capped to {args.shard_cpu:g} CPU on a CPU of its own, "
             f"medians of {args.rounds} round(s)")
    text = title + "\n" + table(summary, args.counts, args.shard_cpu)
    print(text, flush=True)
    facts = cmp.machine_facts(settings(args, args.counts[0]))
    facts["cgroup"] = "v2" if (CGROUP_V2 / "cgroup.controllers").exists() else "v1"
    command = shlex.join([sys.argv[0]] + argv)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"started": started, "command": command, "machine": facts,
             "summary": summary, "runs": results}, indent=1))
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(cmp.markdown(started, facts, command, [text], title="Shard scaling") + "\n")
    return 0 if all(summary[n]["runs"] for n in args.counts) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
