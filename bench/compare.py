#!/usr/bin/python3
"""RoadMQ side by side with other MQTT brokers (Mosquitto by default).

Method
------
Every scenario runs against every broker in alternation: round 1 runs each
broker once in the order given (RoadMQ first), round 2 again, and so on, so
slow drifts of the machine (thermal state, the page cache, other load) hit
all brokers alike. Each broker run starts the broker fresh, with an empty
data dir in a temporary work dir, on a TCP port of its own (18900-18999,
rotated so TIME_WAIT sockets of one run never collide with the next). The
tables show the median over rounds of each figure and, per broker, its ratio
to the first broker (RoadMQ).

Load comes from roadmq-bench (docs/roadmq-bench.md): the figures are the
ones in its JSON summaries (deliveries, loss, end-to-end latency from the
timestamp in every payload, PUBACK latency, connect latency). Publishers are
started only once the subscribers print their `ready:` line.

Broker CPU is utime + stime of the broker process from /proc/PID/stat
(process-wide, so all its threads count), sampled every 50 ms in the
background and cut to the measured window: from the moment the publishers
are connected and start sending to the last delivery (the subscribers'
idle-exit wait is left out); storm: from the reconnect until every client
is back; fleet: roadmq-bench's run phase. CPU-us per message = CPU seconds
x 1e6 / messages delivered in that window. RSS is VmRSS from
/proc/PID/status.

Above 15,000 connections a scenario's clients are split over several
roadmq-bench processes (20,000 open files per process); latency
percentiles are then those of the worst process.

Caveat: the load generator runs on the same machine and competes with the
broker for CPU, unless the two are pinned apart (--pin-broker / --pin-load).
Throughput figures are then those of the pair, not of the broker alone;
CPU-us per message is the broker's own cost either way.

Known asymmetry: RoadMQ's stock config keeps persistent sessions durable
(RocksDB, durability = sync); Mosquitto runs with `persistence false`. The
storm and fleet scenarios use persistent sessions, so RoadMQ does more work
there; --roadmq-env ROADMQ_DURABLE_SESSIONS__DURABILITY=none narrows it.
"""

import argparse
import json
import math
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
PORTS = range(18900, 19000)
MOSQUITTO = "/usr/sbin/mosquitto"
# Same limits on both brokers: Mosquitto's max_queued_messages and
# max_inflight_messages, RoadMQ's mqtt.max_mqueue_len and max_inflight (32 is
# its default).
MAX_QUEUED = 1000
MAX_INFLIGHT = 32
# Connections per roadmq-bench process: the per-process limit is 20,000 open
# files, and the tool needs a few for itself.
PER_PROCESS = 15000
# Connections per source address: ~28,000 local ports per (source, broker
# port), and the storm's two phases use them twice within TIME_WAIT.
PER_SOURCE = 5000
IDLE_EXIT_S = 3.0
STOP_GRACE_S = 10.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class ScenarioError(Exception):
    """A broker run that cannot go on; its row is marked with the message."""


# ── settings ─────────────────────────────────────────────────────────────────

@dataclass
class Settings:
    roadmq_bin: str
    bench_bin: str
    scale: float
    shards: int
    fanout_rate: float
    pin_broker: Optional[str]
    pin_load: Optional[str]
    roadmq_env: dict
    fanin_rate: float = 30000

    def n(self, count: int, minimum: int = 1) -> int:
        return max(minimum, round(count * self.scale))

    def secs(self, seconds: float) -> float:
        return max(1.0, round(seconds * self.scale, 1))


def duration(seconds: float) -> str:
    return f"{seconds:g}s"


def pinned(cpus: Optional[str]) -> list:
    return ["taskset", "-c", cpus] if cpus else []


# ── /proc ────────────────────────────────────────────────────────────────────

def cpu_seconds(pid: int, tid: Optional[int] = None) -> float:
    """CPU time of a process, or of one of its threads."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    # The command name may contain spaces and ')': count fields after the last ')'.
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14, 15: utime, stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Sampler:
    """CPU time and RSS of one process, sampled in the background, so that a
    window can be cut afterwards at times learnt only later (the last
    delivery is known once the subscriber has reported)."""

    PERIOD_S = 0.05

    def __init__(self, pid: int, tid: Optional[int] = None):
        self.pid, self.tid = pid, tid
        self.samples = []  # (monotonic, cpu seconds, rss bytes)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sample = (time.monotonic(), cpu_seconds(self.pid, self.tid),
                          rss_bytes(self.pid))
            except (OSError, ValueError, IndexError):
                return  # the process is gone
            with self._lock:
                self.samples.append(sample)
            self._stop.wait(self.PERIOD_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def cpu_at(self, t: float) -> Optional[float]:
        with self._lock:
            s = list(self.samples)
        if not s:
            return None
        if t <= s[0][0]:
            return s[0][1]
        for (t0, c0, _), (t1, c1, _) in zip(s, s[1:]):
            if t0 <= t <= t1:
                return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1
        return s[-1][1]

    def cpu_between(self, t0: float, t1: float) -> Optional[float]:
        a, b = self.cpu_at(t0), self.cpu_at(t1)
        return None if a is None or b is None else max(0.0, b - a)

    def rss_at(self, t: float) -> Optional[int]:
        with self._lock:
            before = [r for (ts, _, r) in self.samples if ts <= t]
        return before[-1] if before else None


# ── processes and ports ──────────────────────────────────────────────────────

def stop_process(proc: Optional[subprocess.Popen], sig: int = signal.SIGTERM) -> None:
    """Signal, then SIGKILL after STOP_GRACE_S; only ever our own child."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class PortPool:
    """Hands out the ports in turn, skipping busy ones."""

    def __init__(self):
        self._next = 0

    def take(self) -> int:
        for _ in range(len(PORTS)):
            port = PORTS[self._next % len(PORTS)]
            self._next += 1
            if port_free(port):
                return port
        raise ScenarioError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ScenarioError(f"broker exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise ScenarioError(f"broker not listening on {port} after {timeout:.0f}s")


# ── brokers ──────────────────────────────────────────────────────────────────

@dataclass
class BrokerSpec:
    name: str
    kind: str  # roadmq | mosquitto | custom
    template: str = ""  # custom: command with {port} {data} {workdir}


def raise_fd_limit() -> None:
    # Runs in the child between fork and exec: brokers holding 10,000+
    # connections need every file descriptor the hard limit allows.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def mosquitto_conf(port: int) -> str:
    return "\n".join([
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "max_connections -1",
        f"max_queued_messages {MAX_QUEUED}",
        f"max_inflight_messages {MAX_INFLIGHT}",
        "persistence false",
        "user root",
        # Warnings and errors only, as RoadMQ's log.level = warning: the
        # default also writes a line per connect and disconnect, which would
        # bill Mosquitto for log I/O in the 10,000-connection scenarios.
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "",
    ])


def broker_command(spec: BrokerSpec, settings: Settings, port: int, workdir: Path):
    """The argv and environment that start `spec` on `port`."""
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if spec.kind == "roadmq":
        env.update(ROADMQ_NODE__DATA_DIR=str(data),
                   ROADMQ_LISTENERS__TCP__DEFAULT__BIND=f"127.0.0.1:{port}",
                   ROADMQ_NODE__SHARDS=str(settings.shards),
                   ROADMQ_MQTT__MAX_MQUEUE_LEN=str(MAX_QUEUED))
        env.update(settings.roadmq_env)
        argv = [settings.roadmq_bin, "--config", str(ROOT / "config/roadmq.conf")]
    elif spec.kind == "mosquitto":
        conf = workdir / "mosquitto.conf"
        conf.write_text(mosquitto_conf(port))
        argv = [MOSQUITTO, "-c", str(conf)]
    else:
        # No shell: the PID we measure must be the broker's own.
        argv = [a.format(port=port, data=data, workdir=workdir)
                for a in shlex.split(spec.template)]
    return pinned(settings.pin_broker) + argv, env


class BrokerRun:
    """One broker process, its CPU/RSS sampler and the load generators
    started against it; `with` guarantees every one of them is stopped."""

    def __init__(self, spec: BrokerSpec, settings: Settings, port: int, workdir: Path):
        self.spec, self.settings, self.port, self.workdir = spec, settings, port, workdir
        self.proc: Optional[subprocess.Popen] = None
        self.sampler: Optional[Sampler] = None
        self.benches = []
        self.problems = []
        self.exit_codes = {}
        self.summaries = {}

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self._stop_all()
            raise
        return self

    def __exit__(self, *exc):
        self._stop_all()
        return False

    def _start(self) -> None:
        argv, env = broker_command(self.spec, self.settings, self.port, self.workdir)
        self.stderr_path = self.workdir / "broker.err"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                         preexec_fn=raise_fd_limit)
        wait_port(self.port, self.proc)
        self.sampler = Sampler(self.proc.pid)

    def _stop_all(self) -> None:
        for b in self.benches:
            b.stop()
        if self.sampler:
            self.sampler.stop()
        stop_process(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss(self) -> int:
        self.check_alive()
        return rss_bytes(self.pid)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise ScenarioError(f"broker exited with code {self.proc.returncode}"
                                f"{self.stderr_tail()}")

    def stderr_tail(self) -> str:
        try:
            lines = self.stderr_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return f" (stderr: {lines[-1][:200]})" if lines else ""

    # Load generators ---------------------------------------------------------

    def bench(self, tag: str, args: list, prefix: Optional[str] = None) -> "Bench":
        b = Bench(self.settings, tag, args, self.port, self.workdir, prefix or f"{tag}-")
        self.benches.append(b)
        return b

    def bench_parts(self, tag: str, args: list, total: int, conn_rate: float,
                    prefix: Optional[str] = None, per_part: Callable = None) -> list:
        """Starts `total` clients as one roadmq-bench, or several when one
        process would run out of file descriptors; client indices (%i, ids,
        VINs) continue across the parts through --start-index."""
        parts = max(1, math.ceil(total / PER_PROCESS))
        sources = ",".join(f"127.0.0.{i + 1}"
                           for i in range(min(16, max(2, math.ceil(total / PER_SOURCE)))))
        benches, start = [], 0
        for k in range(parts):
            n = total // parts + (1 if k < total % parts else 0)
            a = list(args) + ["-c", str(n), "--start-index", str(start),
                              "-R", f"{conn_rate / parts:g}", "--ifaddr", sources]
            if per_part and parts > 1:
                a += per_part(k, parts)
            name = tag if parts == 1 else f"{tag}{k}"
            benches.append(self.bench(name, a, prefix or f"{name}-"))
            start += n
        return benches

    def wait_ready(self, benches: list, timeout: float) -> tuple:
        """Waits for every part's ready line: (time of the last one, clients ready)."""
        deadline = time.monotonic() + timeout
        for b in benches:
            if not b.wait_ready(max(0.0, deadline - time.monotonic())):
                self.check_alive()
                why = "exited" if b.proc.poll() is not None else f"not ready after {timeout:.0f}s"
                raise ScenarioError(f"{b.tag} {why}: {b.tail()}")
        return max(b.ready_at for b in benches), sum(b.ready_count for b in benches)

    def finish(self, bench: "Bench", timeout: float) -> Optional[dict]:
        """Waits for a load generator (SIGINT if it overstays: it still
        reports) and records its exit code, failed checks and summary."""
        code = bench.wait(timeout)
        if code is None:
            self.problems.append(f"{bench.tag}: still running after {timeout:.0f}s, interrupted")
            bench.proc.send_signal(signal.SIGINT)
            code = bench.wait(30)
            if code is None:
                bench.stop()
                code = bench.proc.returncode
        summary = bench.summary()
        self.exit_codes[bench.tag] = code
        self.summaries[bench.tag] = summary
        if code != 0:
            failures = (summary or {}).get("checks", {}).get("failures") or [bench.tail()]
            self.problems.append(f"{bench.tag} exit {code}: {'; '.join(failures)}")
        return summary

    def finish_all(self, benches: list, timeout: float) -> list:
        deadline = time.monotonic() + timeout
        return [self.finish(b, max(1.0, deadline - time.monotonic())) for b in benches]


# ── roadmq-bench ─────────────────────────────────────────────────────────────

class Bench:
    """One roadmq-bench process; stderr is read in a thread to catch the
    `ready:` line the moment it is printed."""

    READY = re.compile(r"roadmq-bench: ready: (\d+)/(\d+)")

    def __init__(self, settings: Settings, tag: str, args: list, port: int, workdir: Path,
                 prefix: str):
        self.tag = tag
        self.json_path = workdir / f"{tag}.json"
        if "-V" not in args:
            args = list(args) + ["-V", "3.1.1"]
        self.cmd = (pinned(settings.pin_load) + [settings.bench_bin] + list(args) +
                    ["-p", str(port), "--quiet", "--json", str(self.json_path),
                     "--prefix", prefix])
        self.lines = []
        self.ready_at: Optional[float] = None
        self.ready_count = 0
        self._ready = threading.Event()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            m = self.READY.search(line)
            if m and self.ready_at is None:
                self.ready_at = time.monotonic()
                self.ready_count = int(m.group(1))
                self._ready.set()
            else:
                self.lines = (self.lines + [line])[-20:]
        self._ready.set()  # end of output: nobody waits for a line that cannot come

    def wait_ready(self, timeout: float) -> bool:
        self._ready.wait(timeout)
        return self.ready_at is not None

    def wait(self, timeout: float) -> Optional[int]:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM)
        self._reader.join(5)

    def tail(self) -> str:
        return " | ".join(self.lines[-3:]) or "no output"

    def summary(self) -> Optional[dict]:
        try:
            return json.loads(self.json_path.read_text())
        except (OSError, ValueError):
            return None


def get(summary: Optional[dict], path: str, default=None):
    node = summary
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def total(summaries: list, path: str) -> float:
    return sum(get(s, path, 0) or 0 for s in summaries)


def worst(summaries: list, path: str) -> Optional[float]:
    # Percentiles of split runs cannot be merged from summaries: the worst part's.
    values = [get(s, path) for s in summaries if get(s, path) is not None]
    return max(values) if values else None


def per_msg_us(cpu_s: Optional[float], messages: float) -> Optional[float]:
    return cpu_s * 1e6 / messages if cpu_s is not None and messages > 0 else None


# ── scenarios ────────────────────────────────────────────────────────────────

def run_idle(run: BrokerRun, s: Settings) -> dict:
    n = s.n(10000)
    time.sleep(1.0)
    rss_before = run.rss()
    parts = run.bench_parts("idle", ["conn", "-k", "300", "-d", "5s"], n, conn_rate=2000)
    _, ready = run.wait_ready(parts, n / 2000 + 60)
    time.sleep(2.0)  # let the broker settle its buffers after the ramp
    rss_with = run.rss()
    sums = run.finish_all(parts, 60)
    established = total(sums, "connections.established") or ready
    return {"target": n, "established": established, "rss_before": rss_before,
            "rss_with": rss_with,
            "bytes_per_conn": (rss_with - rss_before) / established if established else None}


def last_delivery(sub: Bench, summary: Optional[dict]) -> float:
    """When the subscriber received its last message: it exits IDLE_EXIT_S
    after that, and its run phase starts when it prints `ready:`."""
    run_s = get(summary, "elapsed.run_s", 0.0)
    if get(summary, "interrupted"):
        return sub.ready_at + run_s
    return sub.ready_at + max(0.0, run_s - IDLE_EXIT_S)


def pub_sub(run: BrokerRun, sub_args: list, pub_args: list, pub_d: float, subs: int,
            pubs: int, sub_rate: float = 2000) -> dict:
    """Subscribers, then (once they are ready) publishers; returns the
    summaries and the measured window."""
    sub = run.bench_parts("sub", sub_args + ["--idle-exit", duration(IDLE_EXIT_S)], subs,
                          conn_rate=sub_rate)
    run.wait_ready(sub, subs / sub_rate + 60)
    pub = run.bench_parts("pub", pub_args + ["-d", duration(pub_d)], pubs, conn_rate=2000)
    t0, _ = run.wait_ready(pub, pubs / 2000 + 60)
    pub_sums = run.finish_all(pub, pub_d + 10 + 60)  # + drain timeout
    sub_sums = run.finish_all(sub, IDLE_EXIT_S + 30)
    t1 = max(last_delivery(b, sm) for b, sm in zip(sub, sub_sums) if b.ready_at is not None)
    window = max(t1 - t0, 1e-3)
    run.check_alive()
    return {"pub": pub_sums, "sub": sub_sums, "window": window, "t0": t0, "t1": t1,
            "cpu_s": run.sampler.cpu_between(t0, t1)}


def delivery_metrics(r: dict, receivers_per_msg: int = 1) -> dict:
    received = total(r["sub"], "receive.received")
    sent = total(r["pub"], "publish.sent")
    unique = total(r["sub"], "receive.unique")
    return {
        "delivered_per_s": received / r["window"],
        "sub_rate_per_s": total(r["sub"], "receive.rate_per_s"),
        "published_per_s": total(r["pub"], "publish.rate_per_s"),
        "sent": sent,
        "received": received,
        # From what was sent: the subscriber's own count (receive.lost) cannot
        # see a stream's tail once the broker dropped its final message.
        "lost": max(0, sent * receivers_per_msg - unique),
        "lost_seen_by_sub": total(r["sub"], "receive.lost"),
        "duplicates": total(r["sub"], "receive.duplicates"),
        "window_s": r["window"],
        "cpu_s": r["cpu_s"],
        "cpu_us_per_msg": per_msg_us(r["cpu_s"], received),
        "lat_p50_us": worst(r["sub"], "receive.latency_us.p50"),
        "lat_p99_us": worst(r["sub"], "receive.latency_us.p99"),
        "lat_p999_us": worst(r["sub"], "receive.latency_us.p999"),
        "lat_max_us": worst(r["sub"], "receive.latency_us.max"),
    }


def run_fanin(run: BrokerRun, s: Settings, qos: int, rate: Optional[float] = None) -> dict:
    # The shared group's two members are the scenario's shape, not its size.
    # With a rate, the publishers are paced (roadmq-bench spreads it over
    # them), so batch sizes do not depend on how fast the load generator is.
    pace = ["--rate", f"{rate:g}"] if rate else []
    r = pub_sub(run,
                ["sub", "--shared", "g", "-t", "bench/#", "-q", str(qos), "--allow-loss"],
                ["pub", "-q", str(qos), "-t", "bench/%i", "--size", "64"] + pace,
                pub_d=s.secs(10), subs=2, pubs=s.n(100))
    m = delivery_metrics(r)
    if qos:
        m.update(acked=total(r["pub"], "publish.acked"),
                 ack_p50_us=worst(r["pub"], "publish.ack_latency_us.p50"),
                 ack_p99_us=worst(r["pub"], "publish.ack_latency_us.p99"))
    return m


def run_fanout(run: BrokerRun, s: Settings) -> dict:
    subs = s.n(1000)
    r = pub_sub(run,
                ["sub", "-t", "bench/fanout", "-q", "0", "--allow-loss"],
                ["pub", "-t", "bench/fanout", "-q", "0", "--size", "64",
                 "--rate", f"{s.fanout_rate:g}"],
                pub_d=s.secs(10), subs=subs, pubs=1)
    m = delivery_metrics(r, receivers_per_msg=subs)
    m.update(subscribers=subs, expected=m["sent"] * subs)
    return m


def run_pairs(run: BrokerRun, s: Settings) -> dict:
    n = s.n(1000)
    # %i in a sub filter is the subscriber's index (plan.cpp expands the
    # filter per client), so subscriber i listens to publisher i only.
    r = pub_sub(run,
                ["sub", "-t", "pair/%i", "-q", "1"],
                ["pub", "-t", "pair/%i", "-q", "1", "--interval", "100ms"],
                pub_d=s.secs(20), subs=n, pubs=n)
    m = delivery_metrics(r)
    m.update(pairs=n,
             acked=total(r["pub"], "publish.acked"),
             ack_p99_us=worst(r["pub"], "publish.ack_latency_us.p99"))
    return m


def run_storm(run: BrokerRun, s: Settings) -> dict:
    n = s.n(10000)
    session = ["-C", "false", "-x", "3600", "-V", "5"]
    # Phase 1: persistent sessions, each with one QoS 1 subscription.
    make = run.bench_parts("make", ["sub", "-q", "1", "-t", "storm/%i", "-d", "1s"] + session,
                           n, conn_rate=3000, prefix="storm-")
    run.wait_ready(make, n / 3000 + 60)
    run.finish_all(make, 60)
    if any(code != 0 for code in run.exit_codes.values()):
        raise ScenarioError("creating the sessions failed: " + "; ".join(run.problems))
    time.sleep(1.0)  # let the broker finish the disconnects before the storm
    rss_sessions = run.rss()
    # Phase 2 (measured): every client back at once, same client ids. The
    # longer connect timeout measures how long the slowest takes instead of
    # failing it after the default 10 s.
    t0 = time.monotonic()
    back = run.bench_parts("storm", ["conn", "-d", "1s", "--connect-timeout", "30s"] + session,
                           n, conn_rate=0, prefix="storm-")
    t_ready, _ = run.wait_ready(back, 120)
    sums = run.finish_all(back, 90)
    t_end = time.monotonic()
    run.check_alive()
    return {
        "clients": n,
        "established": total(sums, "connections.established"),
        "failed": total(sums, "connections.failed") + total(sums, "connections.lost"),
        "connect_s": worst(sums, "elapsed.connect_s"),
        "conn_p50_us": worst(sums, "connections.connect_latency_us.p50"),
        "conn_p99_us": worst(sums, "connections.connect_latency_us.p99"),
        "conn_max_us": worst(sums, "connections.connect_latency_us.max"),
        "cpu_s": run.sampler.cpu_between(t0, t_ready),
        "cpu_total_s": run.sampler.cpu_between(t0, t_end),
        "rss_sessions": rss_sessions,
        "resumed": total(sums, "connections.sessions_present"),
    }


def run_fleet(run: BrokerRun, s: Settings) -> dict:
    n, d, downlink_rate = s.n(10000), s.secs(30), 100
    args = ["fleet", "--idle-ratio", "0.7", "--interval", "1s", "--size", "100", "-q", "1",
            "--downlink-rate", f"{downlink_rate:g}", "--disconnect-rate", "0", "-d", duration(d),
            "-T", "1", "-V", "5"]

    def own_share(k: int, parts: int) -> list:
        # Split runs: each part's platform sees only its own vehicles and
        # sends its share of the downlinks (a later option overrides).
        return ["--uplink-topic", f"p{k}/vehicle/{{vin}}/up",
                "--downlink-topic", f"p{k}/vehicle/{{vin}}/down",
                "--downlink-rate", f"{downlink_rate / parts:g}"]

    parts = run.bench_parts("fleet", args, n, conn_rate=1000, per_part=own_share)
    t0, _ = run.wait_ready(parts, n / 1000 + 60)
    sums = run.finish_all(parts, d + 5 + 60)
    run_s = worst(sums, "elapsed.run_s") or d
    t1 = t0 + run_s
    run.check_alive()
    uplinks = total(sums, "receive.received")
    # Each publishing vehicle's final message leaves after the run phase.
    finals = total(sums, "receive.streams") - total(sums, "receive.streams_without_final")
    downlinks = total(sums, "downlink.received")
    cpu = run.sampler.cpu_between(t0, t1)
    return {
        "vehicles": n,
        "uplink_per_s": (uplinks - finals) / run_s,
        "uplink_sent": total(sums, "publish.sent"),
        "uplink_received": uplinks,
        "uplink_lost": total(sums, "receive.lost"),
        "up_p50_us": worst(sums, "receive.latency_us.p50"),
        "up_p99_us": worst(sums, "receive.latency_us.p99"),
        "down_sent": total(sums, "downlink.sent"),
        "down_received": downlinks,
        "down_missing": total(sums, "downlink.missing"),
        "down_p99_us": worst(sums, "downlink.latency_us.p99"),
        "cpu_s": cpu,
        "cpu_us_per_msg": per_msg_us(cpu, uplinks - finals + downlinks),
        "rss_end": run.sampler.rss_at(t1),
        "conn_failures": total(sums, "connections.failed") + total(sums, "connections.lost"),
        "exit_code": max(run.exit_codes.values()),
    }


# ── scenario table ───────────────────────────────────────────────────────────

@dataclass
class Col:
    key: str
    header: str
    fmt: str  # int | f2 | f3 | ms | mb


@dataclass
class Scenario:
    name: str
    title: Callable[[Settings], str]
    run: Callable[[BrokerRun, Settings], dict]
    columns: list
    higher_better: list = field(default_factory=list)  # column keys
    lower_better: list = field(default_factory=list)
    note: str = ""


SCENARIOS = [
    Scenario("idle", lambda s: f"idle ({s.n(10000):,} idle connections, keep alive 300 s)",
             run_idle,
             [Col("established", "conns", "int"), Col("rss_before", "rss-before-MB", "mb"),
              Col("rss_with", "rss-with-MB", "mb"), Col("bytes_per_conn", "B/conn", "int")],
             lower_better=["bytes_per_conn"]),
    Scenario("fanin-q0",
             lambda s: f"fanin-q0 ({s.n(100)} pub -> $share group of 2, QoS 0, 64 B, "
                       f"{s.secs(10):g} s full speed)",
             lambda r, s: run_fanin(r, s, 0),
             [Col("delivered_per_s", "delivered/s", "int"),
              Col("published_per_s", "published/s", "int"),
              Col("cpu_us_per_msg", "cpu-us/msg", "f2"), Col("lat_p50_us", "p50-ms", "ms"),
              Col("lat_p99_us", "p99-ms", "ms"), Col("lost", "lost", "int")],
             higher_better=["delivered_per_s"], lower_better=["cpu_us_per_msg", "lat_p99_us"]),
    Scenario("fanin-q1",
             lambda s: f"fanin-q1 ({s.n(100)} pub -> $share group of 2, QoS 1, 64 B, "
                       f"{s.secs(10):g} s full speed)",
             lambda r, s: run_fanin(r, s, 1),
             [Col("delivered_per_s", "delivered/s", "int"),
              Col("published_per_s", "published/s", "int"), Col("acked", "acked", "int"),
              Col("cpu_us_per_msg", "cpu-us/msg", "f2"), Col("lat_p50_us", "p50-ms", "ms"),
              Col("lat_p99_us", "p99-ms", "ms"), Col("ack_p50_us", "ack-p50-ms", "ms"),
              Col("ack_p99_us", "ack-p99-ms", "ms"), Col("lost", "lost", "int")],
             higher_better=["delivered_per_s"],
             lower_better=["cpu_us_per_msg", "lat_p99_us", "ack_p99_us"]),
    Scenario("fanin-rate",
             lambda s: f"fanin-rate ({s.n(100)} pub -> $share group of 2, QoS 0, 64 B, "
                       f"{s.fanin_rate:g} msg/s in all, {s.secs(10):g} s)",
             lambda r, s: run_fanin(r, s, 0, rate=s.fanin_rate),
             [Col("delivered_per_s", "delivered/s", "int"),
              Col("published_per_s", "published/s", "int"),
              Col("cpu_us_per_msg", "cpu-us/msg", "f2"), Col("lat_p50_us", "p50-ms", "ms"),
              Col("lat_p99_us", "p99-ms", "ms"), Col("lost", "lost", "int")],
             lower_better=["cpu_us_per_msg", "lat_p99_us"]),
    Scenario("fanout",
             lambda s: f"fanout (1 pub -> {s.n(1000):,} subs, QoS 0, 64 B, "
                       f"{s.fanout_rate:g} msg/s, {s.secs(10):g} s)",
             run_fanout,
             [Col("delivered_per_s", "delivered/s", "int"),
              Col("expected", "expected", "int"), Col("received", "received", "int"),
              Col("lost", "lost", "int"), Col("cpu_us_per_msg", "cpu-us/msg", "f2"),
              Col("lat_p50_us", "p50-ms", "ms"), Col("lat_p99_us", "p99-ms", "ms")],
             higher_better=["delivered_per_s"], lower_better=["cpu_us_per_msg", "lat_p99_us"]),
    Scenario("pairs",
             lambda s: f"pairs ({s.n(1000):,} pub/sub pairs, QoS 1, 10 msg/s each, "
                       f"{s.secs(20):g} s)",
             run_pairs,
             [Col("delivered_per_s", "delivered/s", "int"),
              Col("cpu_us_per_msg", "cpu-us/msg", "f2"), Col("lat_p50_us", "p50-ms", "ms"),
              Col("lat_p99_us", "p99-ms", "ms"), Col("lat_p999_us", "p999-ms", "ms"),
              Col("lat_max_us", "max-ms", "ms"), Col("ack_p99_us", "ack-p99-ms", "ms"),
              Col("lost", "lost", "int")],
             lower_better=["cpu_us_per_msg", "lat_p99_us", "lat_p999_us"]),
    Scenario("storm",
             lambda s: f"storm ({s.n(10000):,} persistent MQTT 5 sessions reconnect at once)",
             run_storm,
             [Col("established", "back", "int"), Col("resumed", "resumed", "int"),
              Col("failed", "failed", "int"),
              Col("connect_s", "all-back-s", "f3"), Col("conn_p50_us", "conn-p50-ms", "ms"),
              Col("conn_p99_us", "conn-p99-ms", "ms"), Col("conn_max_us", "conn-max-ms", "ms"),
              Col("cpu_s", "cpu-s", "f3"), Col("rss_sessions", "rss-MB", "mb")],
             lower_better=["connect_s", "cpu_s"],
             note="resumed = CONNACK Session Present 1; "
                  "rss-MB = broker RSS holding the offline sessions"),
    Scenario("fleet",
             lambda s: f"fleet ({s.n(10000):,} vehicles, 70% idle, 100 B/s QoS 1 uplink, "
                       f"100 downlinks/s, MQTT 5, {s.secs(30):g} s)",
             run_fleet,
             [Col("uplink_per_s", "uplink/s", "int"), Col("up_p50_us", "up-p50-ms", "ms"),
              Col("up_p99_us", "up-p99-ms", "ms"), Col("down_sent", "down-sent", "int"),
              Col("down_received", "down-recv", "int"), Col("down_missing", "missing", "int"),
              Col("down_p99_us", "down-p99-ms", "ms"), Col("cpu_us_per_msg", "cpu-us/msg", "f2"),
              Col("rss_end", "rss-MB", "mb"), Col("conn_failures", "conn-fail", "int"),
              Col("exit_code", "exit", "int")],
             lower_better=["cpu_us_per_msg", "up_p99_us", "rss_end"]),
]


def fmt(value, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "int":
        return f"{value:,.0f}"
    if kind == "ms":
        return f"{value / 1000:.2f}"
    if kind == "mb":
        return f"{value / 2**20:.1f}"
    if kind == "f3":
        return f"{value:.3f}"
    return f"{value:.2f}"


# ── results ──────────────────────────────────────────────────────────────────

def medians(rounds: list) -> dict:
    """Median of every figure over the rounds that produced it."""
    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    keys = sorted({k for r in rounds for k, v in r["metrics"].items() if number(v)})
    out = {}
    for k in keys:
        values = [r["metrics"][k] for r in rounds if number(r["metrics"].get(k))]
        out[k] = statistics.median(values)
    return out


def ratios(sc: Scenario, med: dict, ref: dict) -> dict:
    out = {}
    for k in sc.higher_better + sc.lower_better:
        a, b = med.get(k), ref.get(k)
        out[k] = a / b if a is not None and b else None
    return out


def status(rounds: list) -> str:
    failed = [r for r in rounds if r["problems"]]
    if not failed:
        return "ok"
    return f"FAIL {len(failed)}/{len(rounds)}"


def render(sc: Scenario, s: Settings, brokers: list, results: dict, n_rounds: int) -> str:
    ref = brokers[0].name
    lines = [f"{sc.title(s)}   medians of {n_rounds} round{'s' if n_rounds > 1 else ''} "
             f"(n={n_rounds})"]
    cells = [["broker"] + [c.header for c in sc.columns] + ["status"]]
    for b in brokers:
        res = results[b.name]
        row = [b.name] + [fmt(res["median"].get(c.key), c.fmt) for c in sc.columns]
        row.append(status(res["rounds"]))
        if b.name != ref:
            parts = [f"x{res['ratio'][c.key]:.2f} {c.header}" for c in sc.columns
                     if res["ratio"].get(c.key) is not None]
            if parts:
                row[-1] += "   (" + ", ".join(parts) + ")"
        cells.append(row)
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]) - 1)]
    for r in cells:
        first = r[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(r[1:-1], widths[1:])]
        lines.append("  ".join([first] + rest + [r[-1]]).rstrip())
    lines.append(ratio_legend(sc, ref))
    if sc.note:
        lines.append(f"note: {sc.note}")
    for b in brokers:
        for i, r in enumerate(results[b.name]["rounds"]):
            for p in r["problems"]:
                lines.append(f"  ! {b.name} round {i + 1}: {p}")
    return "\n".join(lines)


def ratio_legend(sc: Scenario, ref: str) -> str:
    head = {c.key: c.header for c in sc.columns}
    parts = []
    if sc.higher_better:
        parts.append("higher is better: " + ", ".join(head[k] for k in sc.higher_better))
    if sc.lower_better:
        parts.append("lower is better: " + ", ".join(head[k] for k in sc.lower_better))
    return f"ratios x = broker / {ref}; " + "; ".join(parts)


# ── machine facts ────────────────────────────────────────────────────────────

def first_line(argv: list) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"
    out = (p.stdout or p.stderr).strip().splitlines()
    return out[0] if out else "unavailable"


def read_first(path: str, prefix: str = "") -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if prefix else line.strip()
    except OSError:
        pass
    return "unknown"


def machine_facts(s: Settings) -> dict:
    return {
        "cpu": read_first("/proc/cpuinfo", "model name"),
        "nproc": os.cpu_count(),
        "memory": read_first("/proc/meminfo", "MemTotal"),
        "kernel": os.uname().release,
        "debian": read_first("/etc/debian_version"),
        "mosquitto": first_line([MOSQUITTO, "-h"]),
        "roadmq": first_line([s.roadmq_bin, "--version"]),
        "roadmq_bench": first_line([s.bench_bin, "--version"]),
    }


def markdown(started: str, facts: dict, command: str, tables: list,
             title: str = "Broker comparison") -> str:
    out = [f"## {title}, {started}", ""]
    out += [f"- {k}: {v}" for k, v in facts.items()]
    out += ["", "```sh", command, "```", ""]
    for t in tables:
        out += ["```", t, "```", ""]
    return "\n".join(out)


# ── driver ───────────────────────────────────────────────────────────────────

def run_once(sc: Scenario, spec: BrokerSpec, s: Settings, ports: PortPool, work: Path,
             rnd: int) -> dict:
    workdir = work / f"{sc.name}-r{rnd}-{spec.name}"
    workdir.mkdir(parents=True)
    result = {"metrics": {}, "problems": [], "exit_codes": {}, "summaries": {}}
    run = None
    try:
        port = ports.take()
        log(f"[compare] {sc.name} round {rnd} {spec.name} (port {port})")
        with BrokerRun(spec, s, port, workdir) as run:
            result["metrics"] = sc.run(run, s)
            run.check_alive()
    except ScenarioError as e:
        result["problems"].append(str(e))
    except Exception as e:  # a bug here must not cost the other brokers' results
        log(traceback.format_exc())
        result["problems"].append(f"error: {e!r}")
    if run is not None:
        result["problems"] = run.problems + result["problems"]
        result["exit_codes"], result["summaries"] = run.exit_codes, run.summaries
    for p in result["problems"]:
        log(f"[compare]   ! {p}")
    return result


def parse_brokers(args) -> list:
    specs = [BrokerSpec("roadmq", "roadmq"), BrokerSpec("mosquitto", "mosquitto")]
    for item in args.broker or []:
        name, sep, command = item.partition("=")
        if not sep or not name or not command.strip():
            raise SystemExit(f"--broker: expected NAME='COMMAND', got {item!r}")
        specs.append(BrokerSpec(name, "custom", command))
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        unknown = set(wanted) - {b.name for b in specs}
        if unknown:
            raise SystemExit(f"--only: unknown broker(s) {', '.join(sorted(unknown))}")
        specs = [b for b in specs if b.name in wanted]  # RoadMQ stays first
    return specs


def parse_scenarios(text: Optional[str]) -> list:
    if not text:
        return SCENARIOS
    by_name = {sc.name: sc for sc in SCENARIOS}
    wanted = [w.strip() for w in text.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        raise SystemExit(f"--scenarios: unknown {', '.join(unknown)} "
                         f"(known: {', '.join(by_name)})")
    return [by_name[w] for w in wanted]


def parse_env(items: list) -> dict:
    env = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("ROADMQ_"):
            raise SystemExit(f"--roadmq-env: expected ROADMQ_KEY=VALUE, got {item!r}")
        env[key] = value
    return env


EPILOG = """\
scenarios (sizes at --scale 1):
  idle      10,000 idle connections: broker RSS before / with them, bytes per connection
  fanin-q0  100 publishers at full speed -> $share group of 2 subscribers, QoS 0, 64 B, 10 s
  fanin-q1  the same at QoS 1 on both sides; also PUBACK latency
  fanin-rate the same at QoS 0, paced to --fanin-rate msg/s in all: CPU per message at
            a rate every broker keeps up with, independent of the load generator's speed
  fanout    1 publisher at --fanout-rate msg/s -> 1,000 subscribers, QoS 0, 10 s
  pairs     1,000 publisher/subscriber pairs, QoS 1, 10 msg/s each, 20 s: latency
  storm     10,000 persistent MQTT 5 sessions, then all reconnect at once: time until all back
  fleet     roadmq-bench fleet: 10,000 vehicles, 70% idle, QoS 1 telemetry, 100 downlinks/s, 30 s

brokers: roadmq (--roadmq-bin, config/roadmq.conf with overrides through the
environment), mosquitto (/usr/sbin/mosquitto, persistence off, same queue and
inflight limits), and any --broker NAME='COMMAND'; COMMAND is split like a
shell would (no shell runs) and may use {port}, {data} (a fresh empty dir)
and {workdir}, e.g.  --broker emqx-like='/opt/x/bin/broker --port {port} --dir {data}'

The load generator shares the machine with the broker. With 2 cores,
--pin-broker 0 --pin-load 1 gives each its own core (taskset -c).
Progress goes to stderr; the tables to stdout.
"""


def parse_args(argv: list):
    ap = argparse.ArgumentParser(
        prog="compare.py",
        description="Runs the same MQTT scenarios against several brokers, alternating them "
                    "round by round (A B A B ...), each started fresh per scenario and round; "
                    "prints medians over rounds and each broker's ratio to RoadMQ. Broker CPU "
                    "comes from /proc/PID/stat over the measured window, RSS from "
                    "/proc/PID/status; load from roadmq-bench.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--roadmq-bin", default=str(ROOT / "build/release/src/app/roadmq"),
                    help="RoadMQ broker (default: %(default)s)")
    ap.add_argument("--bench-bin", default=str(ROOT / "build/release/src/loadgen/roadmq-bench"),
                    help="load generator (default: %(default)s)")
    ap.add_argument("--broker", action="append", metavar="NAME='COMMAND'",
                    help="another broker to compare (repeatable)")
    ap.add_argument("--only", metavar="A,B", help="brokers to run, e.g. roadmq,mosquitto")
    ap.add_argument("--scenarios", metavar="A,B",
                    help=f"scenarios to run (default all: {','.join(s.name for s in SCENARIOS)})")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per scenario (default 3)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies client counts and durations (default 1; 0.1 for a quick try)")
    ap.add_argument("--shards", type=int, default=0,
                    help="RoadMQ node.shards (default 0 = one per core)")
    ap.add_argument("--fanin-rate", type=float, default=30000,
                    help="fanin-rate: publishers' total msg/s (default 30000)")
    ap.add_argument("--fanout-rate", type=float, default=500,
                    help="fanout: publisher msg/s (default 500 = 500k deliveries/s at scale 1)")
    ap.add_argument("--roadmq-env", action="append", metavar="ROADMQ_KEY=VALUE",
                    help="extra RoadMQ config override (repeatable), e.g. "
                         "ROADMQ_DURABLE_SESSIONS__DURABILITY=none")
    ap.add_argument("--pin-broker", metavar="CPULIST", help="run brokers under taskset -c CPULIST")
    ap.add_argument("--pin-load", metavar="CPULIST",
                    help="run roadmq-bench under taskset -c CPULIST")
    ap.add_argument("--json", metavar="FILE", help="write all results, per round too, as JSON")
    ap.add_argument("--markdown", metavar="FILE",
                    help="append a Markdown section (date, machine, command, tables)")
    ap.add_argument("--keep-workdir", action="store_true",
                    help="keep broker data dirs, logs and roadmq-bench JSON files")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.scale <= 0:
        ap.error("--rounds must be at least 1 and --scale above 0")
    return args


def check_binaries(s: Settings, brokers: list) -> None:
    needed = [s.bench_bin]
    needed += [s.roadmq_bin] if any(b.kind == "roadmq" for b in brokers) else []
    needed += [MOSQUITTO] if any(b.kind == "mosquitto" for b in brokers) else []
    missing = [p for p in needed if not os.access(p, os.X_OK)]
    if missing:
        raise SystemExit(f"not executable: {', '.join(missing)}")


def on_sigterm(signum, frame):
    # Unwind through the finally blocks so every child gets stopped.
    raise KeyboardInterrupt


def main(argv: list) -> int:
    args = parse_args(argv)
    s = Settings(roadmq_bin=args.roadmq_bin, bench_bin=args.bench_bin, scale=args.scale,
                 shards=args.shards, fanout_rate=args.fanout_rate, pin_broker=args.pin_broker,
                 pin_load=args.pin_load, roadmq_env=parse_env(args.roadmq_env),
                 fanin_rate=args.fanin_rate)
    brokers = parse_brokers(args)
    scenarios = parse_scenarios(args.scenarios)
    check_binaries(s, brokers)
    signal.signal(signal.SIGTERM, on_sigterm)

    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = shlex.join([sys.argv[0]] + argv)
    facts = machine_facts(s)
    doc = {"started": started, "command": command, "machine": facts,
           "settings": {**vars(s), "rounds": args.rounds,
                        "brokers": [vars(b) for b in brokers]},
           "scenarios": {}}
    work = Path(tempfile.mkdtemp(prefix="roadmq-compare-"))
    ports = PortPool()
    tables = []
    try:
        for sc in scenarios:
            results = {b.name: {"rounds": []} for b in brokers}
            for rnd in range(1, args.rounds + 1):
                for b in brokers:
                    results[b.name]["rounds"].append(run_once(sc, b, s, ports, work, rnd))
            ref = medians(results[brokers[0].name]["rounds"])
            for b in brokers:
                res = results[b.name]
                res["median"] = medians(res["rounds"])
                res["ratio"] = ratios(sc, res["median"], ref)
                res["status"] = status(res["rounds"])
            table = render(sc, s, brokers, results, args.rounds)
            print(table + "\n", flush=True)
            tables.append(table)
            doc["scenarios"][sc.name] = {"title": sc.title(s), "brokers": results}
            if args.json:  # after every scenario: a long run interrupted keeps its results
                Path(args.json).write_text(json.dumps(doc, indent=1))
    except KeyboardInterrupt:
        log("[compare] interrupted")
        return 130
    finally:
        if args.keep_workdir:
            log(f"[compare] work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(markdown(started, facts, command, tables) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
