#!/usr/bin/python3
"""Durable sessions, side by side with Mosquitto (persistence on).

1. Persistent QoS 1 throughput: one persistent subscriber (session expiry
   1 h) on `pb/#`, 4 publishers at full speed for DURATION seconds, QoS 1,
   100-byte payloads, 64 messages in flight per subscriber on both brokers.
   Reports messages stored and delivered per second (the slower of the
   publishers' acknowledged rate and the subscriber's received rate, both
   shown too), broker CPU-us per delivered message (utime+stime from /proc/PID/stat over
   the run) and PUBACK latency, for each RoadMQ durability mode and for
   Mosquitto. Rounds alternate the brokers (A B C D, A B C D, ...); medians.
2. Restart: SESSIONS persistent sessions each holding QUEUED distinct queued
   QoS 1 messages; the broker is stopped (SIGTERM) and started again.
   Reports data dir size, time until the listener is up, and RSS after
   the restart.

Mosquitto's persistence writes a snapshot on shutdown and every
autosave_interval: it acknowledges messages that a crash loses, so its
figures are an upper bound for "no durability".

Usage: bench/durability_bench.py [--build build/release] [--rounds 3]
       [--duration 10] [--sessions 100000] [--queued 10] [--skip-restart]
"""

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT = 18850
TICK = os.sysconf("SC_CLK_TCK")
# Messages in flight per subscriber, the same on both brokers (Mosquitto's
# max_inflight_messages, RoadMQ's mqtt.max_inflight). With fewer than the
# publishers keep in flight, the subscriber's queue grows for the whole run,
# and each message is then stored twice: queued, then sent.
INFLIGHT = 64


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def wait_port(port: int, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return time.monotonic() - start
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


class Broker:
    def __init__(self, kind: str, mode: str, build: Path, workdir: Path):
        self.kind, self.mode, self.build, self.workdir = kind, mode, build, workdir
        self.data = workdir / "data"
        self.proc = None

    @property
    def name(self) -> str:
        return f"roadmq {self.mode}" if self.kind == "roadmq" else "mosquitto"

    def start(self) -> float:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", PORT)) == 0:
                raise RuntimeError(f"port {PORT} is taken by another process")
        self.data.mkdir(parents=True, exist_ok=True)
        err = open(self.workdir / "broker.err", "ab")
        t0 = time.monotonic()
        if self.kind == "roadmq":
            env = dict(os.environ,
                       ROADMQ_NODE__DATA_DIR=str(self.data),
                       ROADMQ_LISTENERS__TCP__DEFAULT__BIND=f"127.0.0.1:{PORT}",
                       ROADMQ_DURABLE_SESSIONS__DURABILITY=self.mode,
                       ROADMQ_MQTT__MAX_MQUEUE_LEN="10000000",
                       ROADMQ_MQTT__MAX_INFLIGHT=str(INFLIGHT),
                       ROADMQ_MQTT__MAX_MQUEUE_BYTES="4GB")
            self.proc = subprocess.Popen(
                [str(self.build / "src/app/roadmq"), "--config", str(ROOT / "config/roadmq.conf")],
                env=env, stdout=subprocess.DEVNULL, stderr=err)
        else:
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(f"listener {PORT} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                            f"persistence_location {self.data}/\nmax_queued_messages 10000000\n"
                            f"max_inflight_messages {INFLIGHT}\nuser root\n")
            self.proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)],
                                         stdout=subprocess.DEVNULL, stderr=err)
        wait_port(PORT)
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(120)
        self.proc = None


def bench_tool(build: Path, args: list, json_path: Path, wait: bool = True):
    cmd = [str(build / "src/loadgen/roadmq-bench")] + args + ["-p", str(PORT), "--quiet",
                                                              "--json", str(json_path)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if wait:
        p.wait()
    return p


def throughput_round(broker: Broker, build: Path, duration: int) -> dict:
    shutil.rmtree(broker.data, ignore_errors=True)
    broker.start()
    try:
        sub = bench_tool(build, ["sub", "-t", "pb/#", "-q", "1", "-C", "false", "-x", "3600",
                                 "--prefix", "durable-sub", "--idle-exit", "3s"],
                         broker.workdir / "sub.json", wait=False)
        time.sleep(1.0)
        t0 = cpu_ticks(broker.proc.pid)
        bench_tool(build, ["pub", "-c", "4", "-t", "pb/%i", "-q", "1", "-d", f"{duration}s",
                           "--size", "100"], broker.workdir / "pub.json")
        sub.wait(120)
        t1 = cpu_ticks(broker.proc.pid)
    finally:
        broker.stop()
    pub = json.loads((broker.workdir / "pub.json").read_text())
    rec = json.loads((broker.workdir / "sub.json").read_text())["receive"]
    received = rec["received"]
    run_s = pub["elapsed"]["run_s"]
    acked_per_s = pub["publish"]["acked"] / run_s
    return {
        # Stored (acknowledged to the publishers) and delivered: the slower side.
        "stored_delivered_per_s": min(acked_per_s, rec["rate_per_s"]),
        "acked_per_s": acked_per_s,
        "delivered_per_s": rec["rate_per_s"],
        "received": received,
        "lost": rec["lost"],
        "cpu_us_per_msg": (t1 - t0) / TICK * 1e6 / max(received, 1),
        "ack_p50_us": pub["publish"]["ack_latency_us"]["p50"],
        "ack_p99_us": pub["publish"]["ack_latency_us"]["p99"],
    }


# ── restart with many sessions ───────────────────────────────────────────────

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mstr(s: bytes) -> bytes:
    return struct.pack("!H", len(s)) + s


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect_v311(cid: str, clean: bool) -> bytes:
    flags = 0x02 if clean else 0x00
    return packet(0x10, mstr(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 600) + mstr(cid.encode()))


def read_packets(sock: socket.socket, want: int, kind: int) -> None:
    """Reads until `want` packets of type `kind` have arrived."""
    buf = bytearray()
    got = 0
    while got < want:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("broker closed the connection")
        buf += chunk
        pos = 0
        while len(buf) - pos >= 2:
            n, shift, i, complete = 0, 0, pos + 1, False
            while i < len(buf):
                b = buf[i]
                n |= (b & 0x7F) << shift
                shift += 7
                i += 1
                if not b & 0x80:
                    complete = True
                    break
            if not complete or len(buf) < i + n:
                break
            if buf[pos] >> 4 == kind:
                got += 1
            pos = i + n
        del buf[:pos]


def make_sessions(n: int) -> None:
    """n persistent 3.1.1 sessions, each subscribed to fleet/<i>/down at QoS 1."""
    for i in range(n):
        # Several source addresses: each closed connection holds its port in
        # TIME_WAIT, and one address has only ~28,000 of them.
        source = (f"127.0.{1 + i % 8}.1", 0)
        with socket.create_connection(("127.0.0.1", PORT), source_address=source) as s:
            topic = f"fleet/{i}/down".encode()
            s.sendall(connect_v311(f"v{i:06d}", False) +
                      packet(0x82, struct.pack("!H", 1) + mstr(topic) + b"\x01"))
            read_packets(s, 1, 9)  # SUBACK: the subscription is stored
            s.sendall(packet(0xE0, b""))


def fill_queues(n: int, queued: int) -> None:
    """`queued` distinct QoS 1 messages for every session, pipelined."""
    with socket.create_connection(("127.0.0.1", PORT)) as s:
        s.sendall(connect_v311("filler", True))
        read_packets(s, 1, 2)
        pid = 0
        batch = []
        for k in range(queued):
            for i in range(n):
                pid = pid % 65535 + 1
                topic = f"fleet/{i}/down".encode()
                batch.append(packet(0x32, mstr(topic) + struct.pack("!H", pid) + b"x" * 64))
                if len(batch) == 500:
                    s.sendall(b"".join(batch))
                    read_packets(s, len(batch), 4)
                    batch = []
        if batch:
            s.sendall(b"".join(batch))
            read_packets(s, len(batch), 4)


def restart_run(broker: Broker, sessions: int, queued: int) -> dict:
    try:
        return restart_steps(broker, sessions, queued)
    finally:
        broker.stop()


def restart_steps(broker: Broker, sessions: int, queued: int) -> dict:
    shutil.rmtree(broker.data, ignore_errors=True)
    broker.start()
    t = time.monotonic()
    make_sessions(sessions)
    made = time.monotonic() - t
    t = time.monotonic()
    fill_queues(sessions, queued)
    filled = time.monotonic() - t
    rss_before = rss_bytes(broker.proc.pid)
    t = time.monotonic()
    broker.stop()
    stop_s = time.monotonic() - t
    disk = dir_size(broker.data)
    start_s = broker.start()
    rss_after = rss_bytes(broker.proc.pid)
    broker.stop()
    return {"sessions_created_s": made, "queued_in_s": filled, "rss_before": rss_before,
            "stop_s": stop_s, "disk_bytes": disk, "restart_s": start_s, "rss_after": rss_after}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build/release"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--queued", type=int, default=10)
    ap.add_argument("--skip-restart", action="store_true")
    args = ap.parse_args()
    build = Path(args.build)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    work = Path(tempfile.mkdtemp(prefix="durability-bench-"))
    brokers = [Broker("roadmq", m, build, work / m) for m in ("sync", "periodic", "none")]
    brokers.append(Broker("mosquitto", "", build, work / "mosquitto"))
    for b in brokers:
        b.workdir.mkdir(parents=True, exist_ok=True)
    print(f"# persistent QoS 1 throughput: 4 publishers -> 1 persistent subscriber, "
          f"{args.duration}s, {args.rounds} rounds alternating, medians")
    results = {b.name: [] for b in brokers}
    for r in range(args.rounds):
        for b in brokers:
            results[b.name].append(throughput_round(b, build, args.duration))
    print(f"(subscriber inflight window {INFLIGHT} on every broker)")
    print(f"{'broker':16} {'stored+delivered/s':>18} {'acked/s':>8} {'delivered/s':>11} "
          f"{'CPU us/msg':>11} {'ack p50 us':>11} {'ack p99 us':>11} {'lost':>5}")
    for name, rounds in results.items():
        med = {k: statistics.median(x[k] for x in rounds) for k in rounds[0]}
        print(f"{name:16} {med['stored_delivered_per_s']:>18.0f} {med['acked_per_s']:>8.0f} "
              f"{med['delivered_per_s']:>11.0f} {med['cpu_us_per_msg']:>11.2f} "
              f"{med['ack_p50_us']:>11.0f} {med['ack_p99_us']:>11.0f} {int(med['lost']):>5}")

    if not args.skip_restart:
        print(f"\n# restart: {args.sessions} persistent sessions x {args.queued} queued QoS 1 "
              f"messages (64 B payloads)")
        print(f"{'broker':16} {'disk MB':>8} {'restart s':>10} {'RSS before MB':>14} "
              f"{'RSS after MB':>13} {'stop s':>7}")
        for b in (brokers[0], brokers[3]):
            res = restart_run(b, args.sessions, args.queued)
            print(f"{b.name:16} {res['disk_bytes'] / 1e6:>8.1f} {res['restart_s']:>10.2f} "
                  f"{res['rss_before'] / 1e6:>14.1f} {res['rss_after'] / 1e6:>13.1f} "
                  f"{res['stop_s']:>7.2f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
