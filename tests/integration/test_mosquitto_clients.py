"""Interoperability with the mosquitto command-line clients (Debian's
mosquitto-clients): what an operator types to poke at a broker."""

import subprocess
import threading
import time
import uuid

import pytest

from paho_sync import MQTTv5

VERSIONS = ["mqttv311", "mqttv5"]
RUN_TIMEOUT = 30


class MosqSub:
    """mosquitto_sub in debug mode (-d), so the test can wait for its SUBACK
    before publishing; messages are printed as MSG|topic|qos|retain|payload."""

    def __init__(self, broker, topic, *args):
        # stdbuf: line-buffered stdout, or the debug lines sit in a pipe buffer.
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-t", topic,
             "-d", "-F", "MSG|%t|%q|%r|%p", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.cv = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def wait_line(self, needle, timeout=RUN_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not any(needle in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError(f"mosquitto_sub never printed {needle!r}: {self.lines}")
                self.cv.wait(min(left, 0.5))

    def wait_subscribed(self):
        self.wait_line("received SUBACK")

    def wait_exit(self, timeout=RUN_TIMEOUT) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"mosquitto_sub did not exit: {self.lines}")
        self.reader.join(5)
        return rc

    def messages(self):
        with self.cv:
            out = []
            for line in self.lines:
                if line.startswith("MSG|"):
                    _, topic, qos, retain, payload = line.split("|", 4)
                    out.append((topic, int(qos), int(retain), payload))
            return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def subs():
    made = []

    def make(*a, **kw):
        s = MosqSub(*a, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def mosq_pub(broker, topic, *args, stdin=None):
    r = subprocess.run(["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-t", topic, *args],
                       input=stdin, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


def tag() -> str:
    return uuid.uuid4().hex[:12]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_pub_sub_qos(broker, subs, version, qos):
    """mosquitto_pub -l sends three lines as three messages; mosquitto_sub -C 3
    prints them at the requested QoS and exits 0."""
    topic = f"mosq/{tag()}"
    s = subs(broker, topic, "-V", version, "-q", str(qos), "-C", "3")
    s.wait_subscribed()
    mosq_pub(broker, topic, "-V", version, "-q", str(qos), "-l", stdin="one\ntwo\nthree\n")
    assert s.wait_exit() == 0
    assert s.messages() == [(topic, qos, 0, "one"), (topic, qos, 0, "two"), (topic, qos, 0, "three")]


@pytest.mark.parametrize("version", VERSIONS)
def test_retained_with_mosquitto(broker, subs, version):
    """-r stores a retained message that a later mosquitto_sub receives with
    the retain flag; -r -n deletes it, so a later --retained-only subscriber
    prints nothing and exits on the first live message."""
    topic = f"mosq/{tag()}"
    mosq_pub(broker, topic, "-V", version, "-q", "1", "-r", "-m", "parked")
    s = subs(broker, topic, "-V", version, "-q", "1", "-C", "1")
    assert s.wait_exit() == 0
    assert s.messages() == [(topic, 1, 1, "parked")]
    mosq_pub(broker, topic, "-V", version, "-q", "1", "-r", "-n")
    s2 = subs(broker, topic, "-V", version, "-q", "1", "--retained-only")
    s2.wait_subscribed()
    mosq_pub(broker, topic, "-V", version, "-q", "1", "-m", "live")
    assert s2.wait_exit() == 0
    assert s2.messages() == []


def test_count_limit(broker, subs):
    """-C 2 exits after exactly two messages even when more are sent."""
    topic = f"mosq/{tag()}"
    s = subs(broker, topic, "-q", "1", "-C", "2")
    s.wait_subscribed()
    mosq_pub(broker, topic, "-q", "1", "-l", stdin="a\nb\nc\nd\ne\n")
    assert s.wait_exit() == 0
    assert [m[3] for m in s.messages()] == ["a", "b"]


@pytest.mark.parametrize("version", VERSIONS)
def test_persistent_session_with_mosquitto(broker, subs, version):
    """-c -i ID keeps the session (-x sets Session Expiry for 5.0): messages
    published while the subscriber is away arrive when it returns."""
    topic = f"mosq/{tag()}"
    cid = f"mosq-{tag()}"
    extra = ["-x", "300"] if version == "mqttv5" else []
    s = subs(broker, topic, "-V", version, "-q", "1", "-c", "-i", cid, "-E", *extra)
    assert s.wait_exit() == 0
    mosq_pub(broker, topic, "-V", version, "-q", "1", "-l", stdin="while-away-1\nwhile-away-2\n")
    s2 = subs(broker, topic, "-V", version, "-q", "1", "-c", "-i", cid, "-C", "2", *extra)
    assert s2.wait_exit() == 0
    assert [m[3] for m in s2.messages()] == ["while-away-1", "while-away-2"]


def test_wildcard_subscription_with_mosquitto(broker, subs):
    """mosquitto_sub with a '+' filter sees the matching topics only."""
    base = f"mosq/{tag()}"
    s = subs(broker, f"{base}/+/speed", "-q", "1", "-C", "2")
    s.wait_subscribed()
    for t in (f"{base}/car1/speed", f"{base}/car1/rpm", f"{base}/car2/speed"):
        mosq_pub(broker, t, "-q", "1", "-m", t)
    assert s.wait_exit() == 0
    assert [m[0] for m in s.messages()] == [f"{base}/car1/speed", f"{base}/car2/speed"]


def test_mosquitto_user_property_reaches_paho(broker, clients):
    """A 5.0 user property set with mosquitto_pub -D arrives at a paho
    subscriber unchanged [MQTT-3.3.2-17]."""
    topic = f"mosq/{tag()}"
    sub = clients.paho(broker, f"paho-{tag()}", MQTTv5)
    sub.subscribe(topic, qos=1)
    mosq_pub(broker, topic, "-V", "mqttv5", "-q", "1", "-m", "hello",
             "-D", "publish", "user-property", "vin", "LSVAU2180N2183294",
             "-D", "publish", "content-type", "text/plain")
    m = sub.get()
    assert m.payload == b"hello"
    assert m.props.get("UserProperty") == [("vin", "LSVAU2180N2183294")]
    assert m.props.get("ContentType") == "text/plain"
