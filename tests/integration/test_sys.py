"""$SYS topics: broker statistics every sys_topics.sys_msg_interval and
client presence events, with EMQX's topic names and JSON field names."""

import json
import re
import time
import uuid

import pytest

import mqtt_wire as w
from daemon import module_broker, run_roadmq
from paho_sync import MQTTv5, MQTTv31, MQTTv311

NODE = f"itest{uuid.uuid4().hex[:6]}@127.0.0.1"
sys_broker = module_broker(env={
    "ROADMQ_NODE__NAME": NODE,
    "ROADMQ_SYS_TOPICS__SYS_MSG_INTERVAL": "1s",
})
no_connected_events = module_broker(env={
    "ROADMQ_SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_CONNECTED": "false",
})

BASE = f"$SYS/brokers/{NODE}"
# Timestamps are sanity-checked against this machine's clock with a wide
# margin: the point is "milliseconds since the epoch", not precision.
CLOCK_SLACK_MS = 10 * 60 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def next_value(sub, topic, timeout=15.0) -> str:
    m = sub.get_until(lambda m: m.topic == topic, timeout)[-1]
    return m.text


def event(sub, client_id, kind, timeout=15.0) -> dict:
    topic = f"{BASE}/clients/{client_id}/{kind}"
    m = sub.get_until(lambda m: m.topic == topic, timeout)[-1]
    return json.loads(m.payload)


# ---------------------------------------------------------------- statistics

def test_sys_version(sys_broker, clients, uid):
    """$SYS/brokers/{node}/version carries the same X.Y.Z as --version."""
    out = run_roadmq(["--version"]).stdout.strip()
    version = re.fullmatch(r"roadmq (\d+\.\d+\.\d+\S*)", out).group(1)
    sub = clients.paho(sys_broker, uid)
    sub.subscribe(f"{BASE}/version", qos=0)
    assert next_value(sub, f"{BASE}/version") == version


def test_sys_uptime_advances(sys_broker, clients, uid):
    """$SYS/brokers/{node}/uptime is published every interval; the value
    (whole seconds) never goes backwards."""
    sub = clients.paho(sys_broker, uid)
    sub.subscribe(f"{BASE}/uptime", qos=0)
    first = int(next_value(sub, f"{BASE}/uptime"))
    second = int(next_value(sub, f"{BASE}/uptime"))
    third = int(next_value(sub, f"{BASE}/uptime"))
    assert 0 <= first <= second <= third
    assert third > first, "uptime did not advance over two intervals"


def test_sys_connection_count(sys_broker, clients, uid):
    """stats/connections/count reflects connected clients."""
    sub = clients.paho(sys_broker, uid)
    sub.subscribe(f"{BASE}/stats/connections/count", qos=0)
    extra = [clients.paho(sys_broker, f"{uid}-{i}") for i in range(4)]
    deadline = time.monotonic() + 20
    while True:
        count = int(next_value(sub, f"{BASE}/stats/connections/count"))
        if count >= len(extra) + 1:
            break
        assert time.monotonic() < deadline, f"count stayed at {count}"
    for c in extra:
        c.disconnect()
    while True:
        later = int(next_value(sub, f"{BASE}/stats/connections/count"))
        if later <= count - len(extra):
            break
        assert time.monotonic() < deadline + 20, f"count stayed at {later} after disconnects"


def test_sys_messages_received(sys_broker, clients, uid):
    """metrics/messages/received counts PUBLISH packets from clients."""
    topic = f"{BASE}/metrics/messages/received"
    sub = clients.paho(sys_broker, uid)
    sub.subscribe(topic, qos=0)
    before = int(next_value(sub, topic))
    pub = clients.paho(sys_broker, f"{uid}-p")
    for i in range(5):
        pub.publish(f"count/{uid}", b"x", qos=1)
    deadline = time.monotonic() + 20
    while int(next_value(sub, topic)) < before + 5:
        assert time.monotonic() < deadline, "received counter did not grow by 5"


@pytest.mark.parametrize("suffix", [
    "uptime", "version", "stats/connections/count", "stats/connections/max",
    "stats/subscriptions/count", "stats/retained/count", "metrics/messages/received",
    "metrics/messages/sent", "metrics/messages/dropped", "metrics/bytes/received",
    "metrics/bytes/sent"])
def test_sys_topic_names(sys_broker, clients, uid, suffix):
    """The EMQX statistics topics exist under $SYS/brokers/{node}/ and the
    numeric ones hold non-negative integers."""
    sub = clients.paho(sys_broker, uid)
    sub.subscribe(f"{BASE}/{suffix}", qos=0)
    value = next_value(sub, f"{BASE}/{suffix}")
    if suffix != "version":
        assert int(value) >= 0, value


# ---------------------------------------------------------------- presence

def test_presence_connected_event(sys_broker, clients, uid):
    """$SYS/brokers/{node}/clients/{clientid}/connected: JSON with EMQX's
    fields clientid, username, ipaddress, proto_ver, keepalive,
    connected_at (ms)."""
    watcher = clients.paho(sys_broker, f"{uid}-w")
    watcher.subscribe(f"{BASE}/clients/+/connected", qos=0)
    cid = f"{uid}-car"
    t0 = now_ms()
    c = clients.paho(sys_broker, cid, MQTTv5, connect=False)
    c.connect(keepalive=42, username="vehicle-1", password="pw")
    e = event(watcher, cid, "connected")
    assert e["clientid"] == cid
    assert e["username"] == "vehicle-1"
    assert e["ipaddress"] == "127.0.0.1"
    assert e["proto_ver"] == 5
    assert e["keepalive"] == 42
    assert isinstance(e["connected_at"], int)
    assert abs(e["connected_at"] - t0) < CLOCK_SLACK_MS, (e["connected_at"], t0)
    if "proto_name" in e:
        assert e["proto_name"] == "MQTT"
    if "clean_start" in e:
        assert e["clean_start"] is True


@pytest.mark.parametrize("version,proto_ver,proto_name", [
    (MQTTv311, 4, "MQTT"), (MQTTv31, 3, "MQIsdp")], ids=["v311", "v31"])
def test_presence_protocol_versions(sys_broker, clients, uid, version, proto_ver, proto_name):
    """proto_ver (and proto_name, if present) follow the client's protocol;
    username is null when none was given."""
    watcher = clients.paho(sys_broker, f"{uid}-w")
    watcher.subscribe(f"{BASE}/clients/+/connected", qos=0)
    cid = "p" + uuid.uuid4().hex[:20]
    clients.paho(sys_broker, cid, version)
    e = event(watcher, cid, "connected")
    assert e["proto_ver"] == proto_ver
    assert e["username"] is None
    if "proto_name" in e:
        assert e["proto_name"] == proto_name


def disconnected_after(sys_broker, clients, uid, close):
    watcher = clients.paho(sys_broker, f"{uid}-w")
    watcher.subscribe(f"{BASE}/clients/+/disconnected", qos=0)
    cid = f"{uid}-car"
    c = clients.raw(sys_broker)
    t0 = now_ms()
    c.connect(cid, keepalive=30, username="u")
    close(c, cid)
    e = event(watcher, cid, "disconnected")
    assert e["clientid"] == cid and e["username"] == "u" and e["ipaddress"] == "127.0.0.1"
    assert e["proto_ver"] == 5
    assert isinstance(e["disconnected_at"], int)
    assert abs(e["disconnected_at"] - t0) < CLOCK_SLACK_MS
    if "connected_at" in e:
        assert e["connected_at"] <= e["disconnected_at"]
    return e


def test_presence_disconnected_normal(sys_broker, clients, uid):
    """A DISCONNECT 0x00 is reported with reason "normal" (EMQX)."""
    e = disconnected_after(sys_broker, clients, uid, lambda c, cid: c.disconnect(0))
    assert e["reason"] == "normal"


def test_presence_disconnected_socket_closed(sys_broker, clients, uid):
    """A connection lost without DISCONNECT is reported with reason
    "tcp_closed" (EMQX)."""
    e = disconnected_after(sys_broker, clients, uid, lambda c, cid: c.abort())
    assert e["reason"] == "tcp_closed"


def test_presence_disconnected_takeover(sys_broker, clients, uid):
    """A connection replaced by a new one with the same id (Clean Start 0)
    is reported with reason "takenover" (EMQX)."""
    def take_over(c, cid):
        new = clients.raw(sys_broker)
        new.connect(cid, clean=False)
        c.wait_closed()
    e = disconnected_after(sys_broker, clients, uid, take_over)
    assert e["reason"] == "takenover"


def test_presence_disconnected_keepalive(sys_broker, clients, uid):
    """A keep-alive timeout is reported with reason "keepalive_timeout"
    (EMQX)."""
    watcher = clients.paho(sys_broker, f"{uid}-w")
    watcher.subscribe(f"{BASE}/clients/+/disconnected", qos=0)
    cid = f"{uid}-car"
    c = clients.raw(sys_broker)
    c.connect(cid, keepalive=1)
    e = event(watcher, cid, "disconnected", timeout=20)
    assert e["reason"] == "keepalive_timeout"


def test_presence_events_in_order(sys_broker, clients, uid):
    """connected comes before disconnected for one client id, for each
    connection."""
    watcher = clients.paho(sys_broker, f"{uid}-w")
    watcher.subscribe(f"{BASE}/clients/{uid}-car/+", qos=1)
    for _ in range(2):
        c = clients.raw(sys_broker)
        c.connect(f"{uid}-car")
        c.disconnect()
    kinds = [m.topic.rsplit("/", 1)[1] for m in watcher.get_n(4)]
    assert kinds == ["connected", "disconnected", "connected", "disconnected"]


def test_connected_events_can_be_disabled(no_connected_events, clients, uid):
    """sys_topics.sys_event_messages.client_connected = false: no connected
    event, while disconnected events still come."""
    watcher = clients.paho(no_connected_events, f"{uid}-w")
    watcher.subscribe("$SYS/brokers/+/clients/+/+", qos=0)
    cid = f"{uid}-car"
    c = clients.raw(no_connected_events)
    c.connect(cid)
    c.disconnect()
    got = watcher.get_until(lambda m: m.topic.endswith(f"/clients/{cid}/disconnected"))
    assert [m.topic for m in got if m.topic.endswith(f"/clients/{cid}/connected")] == []


def test_sys_not_delivered_to_plain_subscribers(sys_broker, clients, uid):
    """Presence events go only to $SYS subscribers: a client's own
    subscriptions without '$SYS' see none [MQTT-4.7.2-1]."""
    plain = clients.paho(sys_broker, f"{uid}-plain")
    plain.subscribe(["+/+/+/+/+/connected", "+/brokers/#"], qos=0)
    c = clients.raw(sys_broker, w.MQTT311)
    c.connect(f"{uid}-car")
    c.disconnect()
    pub = clients.paho(sys_broker, f"{uid}-p")
    pub.publish(f"x/brokers/{uid}", b"marker", qos=1)
    got = plain.get_until(lambda m: m.payload == b"marker")
    assert [m.topic for m in got if m.topic.startswith("$")] == []


def test_presence_json_escaping(sys_broker, clients, uid):
    """Client ids and user names with quotes, backslashes, control and
    non-ASCII characters still give valid JSON with the exact values."""
    watcher = clients.paho(sys_broker, f"{uid}-w")
    watcher.subscribe(f"{BASE}/clients/+/connected", qos=0)
    cid = f'q"b\\s\tn\u00e9-{uuid.uuid4().hex[:6]}'
    user = 'u"\\\n\u4e2d'
    c = clients.raw(sys_broker)
    c.connect(cid, username=user)
    e = event(watcher, cid, "connected")
    assert e["clientid"] == cid and e["username"] == user


def test_no_presence_for_refused_connect(sys_broker, clients, uid):
    """A refused CONNECT (3.1.1, empty id, CleanSession 0 -> 0x02) produces
    neither a connected nor a disconnected event: there was no client."""
    watcher = clients.paho(sys_broker, f"{uid}-w")
    watcher.subscribe(f"{BASE}/clients/+/+", qos=0)
    c = clients.raw(sys_broker, w.MQTT311)
    assert c.connect("", clean=False).reason_code == 0x02
    c.wait_closed()
    marker = f"{uid}-marker"
    clients.raw(sys_broker).connect(marker)
    got = watcher.get_until(lambda m: m.topic == f"{BASE}/clients/{marker}/connected")
    assert [m.topic for m in got[:-1]] == [], got
