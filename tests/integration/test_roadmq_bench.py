"""roadmq-bench, the load generator shipped with RoadMQ, run black-box against
the real broker (and once against Debian's mosquitto): its JSON summary
must account for every message, and its exit code must say whether the
run's checks held (docs/roadmq-bench.md)."""

import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from daemon import binary_path

RUN_TIMEOUT = 90  # debug builds run under ASan; every run below is a few seconds
MOSQUITTO = "/usr/sbin/mosquitto"


def bench_path() -> Path:
    """roadmq-bench sits next to roadmq in the same build tree:
    <build>/src/app/roadmq -> <build>/src/loadgen/roadmq-bench.
    ROADMQ_BENCH_BIN overrides."""
    env = os.environ.get("ROADMQ_BENCH_BIN")
    if env:
        return Path(env)
    return binary_path().parent.parent / "loadgen" / "roadmq-bench"


def bench_env() -> dict:
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def check_clean(stderr: str):
    found = [m for m in SANITIZER_MARKERS if m in stderr]
    assert not found, f"sanitizer report from roadmq-bench:\n{stderr[-8000:]}"


def bench(*args, timeout=RUN_TIMEOUT) -> subprocess.CompletedProcess:
    exe = bench_path()
    assert exe.exists(), (f"roadmq-bench not found at {exe}: build it (it is part of the default "
                          f"build) or set ROADMQ_BENCH_BIN")
    r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, env=bench_env())
    check_clean(r.stderr)
    return r


def summary(r: subprocess.CompletedProcess) -> dict:
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON summary (exit {r.returncode}):\nstdout:\n{r.stdout}\n"
                             f"stderr:\n{r.stderr[-4000:]}")


class Background:
    """A roadmq-bench run in the background (the sub side of a test); stderr
    goes to a file so the test can wait for the 'ready:' line."""

    def __init__(self, tmp_path: Path, *args):
        exe = bench_path()
        assert exe.exists(), f"roadmq-bench not found at {exe}"
        self.err_path = tmp_path / f"bench-{uuid.uuid4().hex[:6]}.err"
        self.out_path = self.err_path.with_suffix(".out")
        with open(self.err_path, "wb") as err, open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen([str(exe), *map(str, args)], stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, env=bench_env())

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while "roadmq-bench: ready:" not in self.stderr():
            if self.proc.poll() is not None:
                raise AssertionError(f"roadmq-bench exited {self.proc.returncode} before ready:\n"
                                     f"{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"roadmq-bench not ready in {timeout}s:\n{self.stderr()}")
            time.sleep(0.02)  # polling a log file: there is no event to wait on

    def finish(self, timeout=RUN_TIMEOUT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"roadmq-bench did not exit:\n{self.stderr()}")
        check_clean(self.stderr())
        out = self.out_path.read_text()
        try:
            return rc, json.loads(out)
        except json.JSONDecodeError:
            raise AssertionError(f"no JSON summary (exit {rc}):\n{out}\n{self.stderr()}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def background(tmp_path):
    made = []

    def start(*args):
        b = Background(tmp_path, *args)
        made.append(b)
        return b

    yield start
    for b in made:
        b.kill()


def target(broker):
    return ["-h", broker.host, "-p", broker.port]


def pub_sub(broker, background, root, qos, version, *, subs=1, pubs=2, count=150, shared=None):
    sub_args = [*target(broker), "-V", version, "-q", qos, "-c", subs, "-t", f"{root}/#",
                "--idle-exit", "1500ms", "-d", "60s", "--quiet", "--prefix", f"{root.replace('/', '-')}-s"]
    if shared:
        sub_args += ["--shared", shared]
    s = background("sub", *sub_args)
    s.wait_ready()
    p = bench("pub", *target(broker), "-V", version, "-q", qos, "-c", pubs, "-t", f"{root}/%i",
              "--count", count, "--rate", 1000, "--quiet", "--prefix", f"{root.replace('/', '-')}-p")
    pj = summary(p)
    assert p.returncode == 0, (pj["checks"], p.stderr[-3000:])
    rc, sj = s.finish()
    return pj, rc, sj


@pytest.mark.parametrize("qos,version", [(0, "5"), (1, "3.1.1"), (1, "5"), (2, "5"), (2, "3.1.1")])
def test_pub_sub_accounts_for_every_message(broker, background, uid, qos, version):
    """pub sends --count messages per publisher, each ending with a message
    flagged final; sub receives exactly what was sent, with nothing lost,
    duplicated or reordered (one connection each, so QoS 0 loses nothing on
    loopback either), and latency was measured for each message."""
    pj, rc, sj = pub_sub(broker, background, f"rb/{uid}", qos, version)
    sent = pj["publish"]["sent"]
    assert sent == 2 * 150
    if qos > 0:
        assert pj["publish"]["acked"] == sent and pj["publish"]["unacked"] == 0
        assert pj["publish"]["ack_latency_us"]["count"] == sent
    rx = sj["receive"]
    assert rc == 0, sj["checks"]
    assert rx["received"] == sent
    assert rx["unique"] == sent and rx["expected"] == sent
    assert rx["lost"] == 0 and rx["duplicates"] == 0 and rx["reordered"] == 0
    assert rx["streams"] == 2 and rx["streams_without_final"] == 0
    assert rx["latency_us"]["count"] == sent
    assert 0 < rx["latency_us"]["p50"] <= rx["latency_us"]["p99"] <= rx["latency_us"]["max"]
    assert sj["checks"]["passed"] and sj["exit_code"] == 0


def test_shared_subscription_group_sees_each_message_once(broker, background, uid):
    """Three subscribers in one $share group: the group as a whole receives
    every message exactly once (the summary merges the members' views)."""
    pj, rc, sj = pub_sub(broker, background, f"rb/{uid}", 1, "5", subs=3, shared=f"g{uid[-6:]}")
    sent = pj["publish"]["sent"]
    rx = sj["receive"]
    assert rc == 0, sj["checks"]
    assert rx["received"] == sent and rx["unique"] == sent
    assert rx["lost"] == 0 and rx["duplicates"] == 0


def test_conn_holds_connections(broker, uid):
    """conn opens N connections at the given rate and holds them for the
    duration: all established, all still open when the hold ends."""
    r = bench("conn", *target(broker), "-c", 60, "--conn-rate", 300, "-d", "1s", "-T", 2,
              "--prefix", f"{uid}-")
    j = summary(r)
    assert r.returncode == 0, (j["checks"], r.stderr[-3000:])
    c = j["connections"]
    assert c["target"] == 60 and c["attempts"] == 60
    assert c["established"] == 60 and c["failed"] == 0 and c["lost"] == 0
    assert c["open_at_end_of_run"] == 60
    assert c["connect_latency_us"]["count"] == 60
    # At 300/s the ramp takes about 0.2 s; the hold follows it.
    assert j["elapsed"]["run_s"] >= 1.0


def test_conn_counts_resumed_sessions(broker, uid):
    """A reconnect storm's check: clients coming back to persistent sessions
    are counted from CONNACK Session Present."""
    args = [*target(broker), "-c", 20, "-d", "200ms", "-C", "false", "-x", 600, "--prefix", f"{uid}-"]
    first = summary(bench("conn", *args))
    assert first["connections"]["established"] == 20
    assert first["connections"]["sessions_present"] == 0
    again = summary(bench("conn", *args))
    assert again["connections"]["established"] == 20
    assert again["connections"]["sessions_present"] == 20


def test_conn_from_several_source_addresses(broker, uid):
    """--ifaddr binds each connection to one of the given local addresses
    before connecting (127.0.0.0/8 is all loopback on Linux)."""
    r = bench("conn", *target(broker), "-c", 30, "-d", "200ms",
              "--ifaddr", "127.0.0.1,127.0.0.2,127.0.0.3", "--prefix", f"{uid}-")
    j = summary(r)
    assert r.returncode == 0, (j["checks"], r.stderr[-3000:])
    assert j["connections"]["established"] == 30
    assert j["config"]["source_addresses"] == 3


@pytest.mark.parametrize("version", ["5", "3.1.1"])
def test_fleet_with_tunnels_delivers_every_downlink(broker, uid, version):
    """A few dozen vehicles publish telemetry at QoS 1 while random outages
    drop and reconnect them; the platform sends QoS 1 commands to random
    vehicles. Persistent sessions keep every command for a vehicle in a
    tunnel, and every uplink is resent or delivered: nothing is missing."""
    tag = uid.replace("-", "")[-10:]
    r = bench("fleet", *target(broker), "-V", version, "--vehicles", 30, "-q", 1,
              "--interval", "200ms", "-d", "3s", "--idle-ratio", 0.2,
              "--disconnect-rate", 0.3, "--outage-min", "100ms", "--outage-max", "500ms",
              "--downlink-rate", 25, "--grace", "15s", "--vin-prefix", f"T{tag}"[:12],
              "--uplink-topic", f"fleet/{uid}/{{vin}}/up", "--downlink-topic", f"fleet/{uid}/{{vin}}/down",
              "--prefix", f"{uid}-", "-T", 2)
    j = summary(r)
    assert r.returncode == 0, (j["checks"], j.get("connections"), r.stderr[-4000:])
    c, d, rx = j["connections"], j["downlink"], j["receive"]
    assert c["target"] == 31  # 30 vehicles + the platform
    assert c["failed"] == 0 and c["lost"] == 0
    assert c["dropped"] > 0, "no outage was simulated; the test proves nothing"
    # A vehicle dropped just before the end may still be away at the close.
    assert 0 < c["reconnects"] <= c["dropped"]
    assert d["sent"] > 0
    assert d["received"] == d["sent"] and d["missing"] == 0 and d["acked"] == d["sent"]
    # 24 of the 30 vehicles publish; the platform checks their streams.
    assert rx["streams"] == 24 and rx["streams_without_final"] == 0
    assert rx["lost"] == 0 and rx["unique"] == rx["expected"] == j["publish"]["sent"]
    assert j["publish"]["unacked"] == 0


@pytest.mark.parametrize("args,message", [
    (["pub", "--qos", "3"], "--qos"),
    (["pub", "--frobnicate"], "unknown option --frobnicate"),
    (["sub", "--rate", "10"], "does not apply to sub"),
    (["pub", "--size", "8"], "--size"),
    (["fleet", "--idle-ratio", "2"], "--idle-ratio"),
    (["pub", "-t", "a/#"], "not a valid topic name"),
    (["pub", "--tls"], "TLS is not implemented"),
    (["launch"], "unknown command"),
    ([], "no command"),
])
def test_bad_options_exit_2(args, message):
    """A bad command line is refused before anything connects: exit code 2
    and a one-line reason on stderr."""
    r = bench(*args, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "roadmq-bench: error:" in r.stderr and message in r.stderr, r.stderr
    assert r.stdout == ""


def test_help_and_version():
    r = bench("--help", timeout=30)
    assert r.returncode == 0 and "fleet" in r.stdout and "TLS is not implemented" in r.stdout
    r = bench("pub", "--help", timeout=30)
    assert r.returncode == 0 and "--rate" in r.stdout and "--inflight" in r.stdout
    r = bench("--version", timeout=30)
    assert r.returncode == 0 and r.stdout.startswith("roadmq-bench ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_broker_fails_with_exit_1():
    """Connections that cannot be made are failures beyond the default
    threshold (0): exit code 1, and the summary says why."""
    port = free_port()  # nothing listens there any more
    r = bench("conn", "-p", port, "-c", 3, "-d", "100ms", "--connect-timeout", "5s")
    j = summary(r)
    assert r.returncode == 1
    assert j["connections"]["failed"] == 3 and j["connections"]["established"] == 0
    assert any("refused" in k.lower() for k in j["connections"]["errors"]), j["connections"]
    assert not j["checks"]["passed"]
    r = bench("conn", "-p", port, "-c", 3, "-d", "100ms", "--max-connect-failures", 3)
    assert r.returncode == 0, summary(r)["checks"]


def test_sub_count_not_reached_fails(broker, uid):
    """sub --count N is an expectation: fewer messages by the end of the
    duration is a failed check (exit 1)."""
    r = bench("sub", *target(broker), "-t", f"rb/{uid}/#", "--count", 5, "-d", "300ms", "--quiet")
    j = summary(r)
    assert r.returncode == 1
    assert any("--count" in f for f in j["checks"]["failures"]), j["checks"]


@pytest.fixture
def mosquitto(tmp_path):
    """Debian's mosquitto on an ephemeral loopback port (no config file:
    2.x then listens on loopback only), stopped by PID at the end."""
    assert Path(MOSQUITTO).exists(), f"{MOSQUITTO} is missing (apt-get install mosquitto)"
    port = free_port()
    log = open(tmp_path / "mosquitto.log", "wb")
    proc = subprocess.Popen([MOSQUITTO, "-p", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError((tmp_path / "mosquitto.log").read_text(errors="replace"))
            time.sleep(0.05)  # waiting for a port to open: no event to wait on

    class Broker:
        host = "127.0.0.1"

    b = Broker()
    b.port = port
    try:
        yield b
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def test_against_mosquitto(mosquitto, background, uid):
    """Nothing in roadmq-bench is specific to RoadMQ: the same QoS 1 pub/sub
    run and a short fleet run against mosquitto account for every message."""
    pj, rc, sj = pub_sub(mosquitto, background, f"rb/{uid}", 1, "5")
    assert rc == 0, sj["checks"]
    assert sj["receive"]["received"] == pj["publish"]["sent"] == 300
    assert sj["receive"]["lost"] == 0 and sj["receive"]["duplicates"] == 0
    r = bench("fleet", *target(mosquitto), "--vehicles", 12, "-q", 1, "--interval", "200ms",
              "-d", "2s", "--disconnect-rate", 0.3, "--outage-min", "100ms", "--outage-max", "300ms",
              "--downlink-rate", 20, "--grace", "10s", "--vin-prefix", "MOSQ")
    j = summary(r)
    assert r.returncode == 0, (j["checks"], r.stderr[-3000:])
    assert j["downlink"]["sent"] > 0 and j["downlink"]["missing"] == 0
