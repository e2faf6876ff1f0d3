"""The daemon as a process: --version, configuration errors, environment
overrides, orderly shutdown on SIGTERM / SIGINT."""

import re
import signal
import tempfile
from pathlib import Path

import pytest

import mqtt_wire as w
from daemon import DEFAULT_CONFIG, REPO_ROOT, run_roadmq

# Settings that make a start attempt harmless even if it unexpectedly works.
SAFE_ENV = {"ROADMQ_LISTENERS__TCP__DEFAULT__BIND": "127.0.0.1:0"}


def project_version() -> str:
    text = (REPO_ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(roadmq\s+VERSION\s+(\d+\.\d+\.\d+)", text).group(1)


def run_with_config(extra: str, env=None, timeout=30):
    """Start with the shipped config plus `extra`; return the finished
    process (config errors must stop it quickly), the config path and the
    line `extra` starts on."""
    with tempfile.TemporaryDirectory(prefix="roadmq-cfg-") as d:
        cfg = Path(d) / "roadmq.conf"
        text = DEFAULT_CONFIG.read_text() + "\n" + extra + "\n"
        cfg.write_text(text)
        line = text[:len(text) - len(extra) - 1].count("\n") + 1
        full_env = dict(SAFE_ENV, ROADMQ_NODE__DATA_DIR=str(Path(d) / "data"))
        full_env.update(env or {})
        return run_roadmq(["--config", str(cfg)], env=full_env, timeout=timeout), cfg, line


# ---------------------------------------------------------------- command line

def test_version():
    """`roadmq --version` prints `roadmq X.Y.Z` (the CMake project version)
    and exits 0."""
    r = run_roadmq(["--version"])
    assert r.returncode == 0, r
    assert r.stdout.strip() == f"roadmq {project_version()}", r.stdout


def test_missing_config_file():
    """A config file that does not exist: non-zero exit, the path named."""
    missing = "/nonexistent/roadmq-it.conf"
    r = run_roadmq(["--config", missing], env=SAFE_ENV)
    assert r.returncode != 0
    assert missing in r.stderr, r.stderr


# ---------------------------------------------------------------- configuration errors

def test_unknown_config_key():
    """An unknown key stops startup; the message names the key and where it
    is (file:line)."""
    (r, cfg, line) = run_with_config("mqtt.no_such_setting = 5")
    assert r.returncode != 0, r
    assert "mqtt.no_such_setting" in r.stderr, r.stderr
    assert f"{cfg.name}:{line}" in r.stderr, r.stderr


@pytest.mark.parametrize("extra,key", [
    ("mqtt.max_inflight = 0", "mqtt.max_inflight"),
    ("mqtt.max_qos_allowed = 3", "mqtt.max_qos_allowed"),
    ('mqtt.shared_subscription_strategy = "fastest"', "mqtt.shared_subscription_strategy"),
    # Not "default": the tests' environment overrides that listener's bind.
    ('listeners.tcp.extra.bind = "not an address"', "listeners.tcp.extra.bind"),
    ("mqtt.session_expiry_interval = soon", "mqtt.session_expiry_interval"),
    ('node.name = "nameless"', "node.name"),
])
def test_bad_config_value(extra, key):
    """A value of the wrong type or range stops startup, naming the key."""
    (r, _, _) = run_with_config(extra)
    assert r.returncode != 0, r
    assert key in r.stderr, r.stderr


def test_config_syntax_error():
    """A syntax error stops startup with file:line:col."""
    (r, cfg, _) = run_with_config("mqtt {\n  max_inflight = \n")
    assert r.returncode != 0, r
    assert re.search(re.escape(cfg.name) + r":\d+:\d+", r.stderr), r.stderr


def test_unknown_env_key():
    """An unknown ROADMQ_ variable stops startup and names it."""
    (r, _, _) = run_with_config("", env={"ROADMQ_MQTT__NO_SUCH_SETTING": "1"})
    assert r.returncode != 0, r
    assert "ROADMQ_MQTT__NO_SUCH_SETTING" in r.stderr or "mqtt.no_such_setting" in r.stderr, r.stderr


def test_bad_env_value():
    """A bad value from the environment stops startup and names the
    variable or key."""
    (r, _, _) = run_with_config("", env={"ROADMQ_MQTT__MAX_QOS_ALLOWED": "5"})
    assert r.returncode != 0, r
    assert "ROADMQ_MQTT__MAX_QOS_ALLOWED" in r.stderr or "mqtt.max_qos_allowed" in r.stderr, r.stderr


# ---------------------------------------------------------------- environment overrides

def test_env_overrides_file(broker_factory, clients):
    """ROADMQ_<PATH> beats the file: the file says max_topic_alias = 11, the
    environment 7, CONNACK says 7."""
    b = broker_factory(env={"ROADMQ_MQTT__MAX_TOPIC_ALIAS": "7"},
                       extra_config="mqtt.max_topic_alias = 11")
    c = clients.raw(b)
    assert c.connect("envtest").props.get("topic_alias_maximum") == 7


def test_config_file_setting_applies(broker_factory, clients):
    """A setting in the file (no environment override) is used."""
    b = broker_factory(extra_config="mqtt { max_topic_alias = 11 }")
    c = clients.raw(b)
    assert c.connect("filetest").props.get("topic_alias_maximum") == 11


def test_env_override_limits(broker_factory, clients):
    """ROADMQ_MQTT__MAX_CLIENTID_LEN=30 takes effect: 30 bytes accepted, 31
    refused with 0x85."""
    b = broker_factory(env={"ROADMQ_MQTT__MAX_CLIENTID_LEN": "30"})
    ok = clients.raw(b)
    assert ok.connect("a" * 30).reason_code == 0
    bad = clients.raw(b)
    assert bad.connect("b" * 31).reason_code == 0x85


def test_listener_line_and_two_listeners(broker_factory, clients):
    """Each listener is announced on stderr as `roadmq: listener tcp:NAME on
    HOST:PORT`, and each one serves MQTT."""
    b = broker_factory(env={"ROADMQ_LISTENERS__TCP__SECOND__BIND": "127.0.0.1:0"})
    assert set(b.listeners) == {"default", "second"}, b.listeners
    for name, (host, port) in b.listeners.items():
        c = w.RawClient(host, port)
        try:
            assert c.connect(f"listener-{name}").reason_code == 0
        finally:
            c.close()


def test_disabled_listener_not_started(broker_factory):
    """listeners.tcp.<name>.enable = false: that listener is not announced."""
    b = broker_factory(env={"ROADMQ_LISTENERS__TCP__OFF__BIND": "127.0.0.1:0",
                            "ROADMQ_LISTENERS__TCP__OFF__ENABLE": "false"})
    assert "off" not in b.listeners


# ---------------------------------------------------------------- shutdown

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_shutdown_disconnects_v5_clients(broker_factory, clients, sig):
    """On SIGTERM / SIGINT, 5.0 clients get DISCONNECT 0x8B (Server shutting
    down) and are closed; 3.1.1 clients are just closed; the process exits 0
    with no sanitizer report."""
    b = broker_factory()
    v5 = clients.raw(b)
    v5.connect("shutdown-v5")
    v311 = clients.raw(b, w.MQTT311)
    v311.connect("shutdown-v311")
    b.signal(sig)
    got = v5.wait_closed(timeout=20)
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x8B)], got
    assert v311.wait_closed(timeout=20) == []
    assert b.wait() == 0, b.stderr()[-4000:]
    assert b.problems() == [], b.stderr()[-8000:]


def test_shutdown_with_busy_clients(broker_factory, clients):
    """SIGTERM while messages are in flight and sessions are persistent:
    still a clean exit 0 (the factory checks stderr for sanitizer
    reports)."""
    b = broker_factory()
    sub = clients.paho(b, "busy-sub", clean=False, session_expiry=300)
    sub.subscribe("busy/#", qos=1)
    pub = clients.paho(b, "busy-pub")
    for i in range(200):
        pub.publish(f"busy/{i % 7}", b"x" * 100, qos=1, wait=False)
    pub.publish("busy/last", b"last", qos=1)
    b.signal(signal.SIGTERM)
    assert b.wait() == 0, b.stderr()[-4000:]


def test_restart_same_data_dir(broker_factory, clients):
    """A daemon stopped with SIGTERM can start again on the same data dir."""
    first = broker_factory()
    c = clients.raw(first)
    c.connect("restart", clean=False, props={"session_expiry_interval": 300})
    c.subscribe("restart/t", qos=1)
    c.disconnect()
    assert first.stop() == 0
    second = broker_factory(workdir=first.workdir)
    c2 = clients.raw(second)
    assert c2.connect("restart-2").reason_code == 0
