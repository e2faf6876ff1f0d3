"""CONNECT / CONNACK: protocol versions, client identifiers, CONNACK
properties, keep alive. Each test names the spec rule it checks."""

import time
import uuid

import pytest

import mqtt_wire as w
from daemon import module_broker
from helpers import assert_no_message
from paho_sync import MQTTv5, MQTTv31

# Settings a vehicle fleet operator might restrict; one daemon for the tests
# that check how those restrictions are announced and enforced.
restricted = module_broker(env={
    "ROADMQ_MQTT__RETAIN_AVAILABLE": "false",
    "ROADMQ_MQTT__WILDCARD_SUBSCRIPTION": "false",
    "ROADMQ_MQTT__SHARED_SUBSCRIPTION": "false",
    "ROADMQ_MQTT__MAX_QOS_ALLOWED": "1",
    "ROADMQ_MQTT__MAX_TOPIC_ALIAS": "0",
    "ROADMQ_MQTT__MAX_PACKET_SIZE": "4KB",
    "ROADMQ_MQTT__MAX_CLIENTID_LEN": "23",
})

# keep alive checks: a short server keep alive and idle timeout.
short_timers = module_broker(env={
    "ROADMQ_MQTT__SERVER_KEEPALIVE": "2s",
    "ROADMQ_MQTT__IDLE_TIMEOUT": "1s",
})


def short_id() -> str:
    # 3.1 limits client ids to 23 bytes.
    return "c" + uuid.uuid4().hex[:20]


# ---------------------------------------------------------------- versions

def test_connect_mqtt31(broker, clients):
    """MQTT 3.1 (protocol name MQIsdp, level 3) is accepted with a 2-byte
    CONNACK return code 0, as EMQX does [MQTT-3.1.4-5]."""
    c = clients.raw(broker, w.MQTT31)
    ack = c.connect(short_id())
    assert ack.raw == bytes([0x20, 0x02, 0x00, 0x00]), ack
    assert c.is_open_after_ping()


def test_connect_mqtt31_paho_roundtrip(broker, clients, uid):
    """A paho 3.1 client can subscribe and receive its own message
    [MQTT-3.8.4-1, MQTT-4.3.2-4]."""
    topic = f"v31/{uid}"
    c = clients.paho(broker, short_id(), MQTTv31)
    c.subscribe(topic, qos=1)
    c.publish(topic, b"hello-31", qos=1)
    m = c.get()
    assert (m.topic, m.payload, m.qos) == (topic, b"hello-31", 1)


def test_connect_mqtt311(broker, clients, uid):
    """3.1.1 CONNACK is exactly 20 02 00 00: Session Present 0 for a clean
    session [MQTT-3.2.2-1 (3.1.1)], return code 0 (accepted)."""
    c = clients.raw(broker, w.MQTT311)
    ack = c.connect(uid, clean=True)
    assert ack.raw == bytes([0x20, 0x02, 0x00, 0x00]), ack


def test_connect_mqtt5(broker, clients, uid):
    """5.0 CONNACK: reason 0x00 [MQTT-3.1.4-5], Session Present 0 with
    Clean Start [MQTT-3.2.2-2]; properties decode cleanly; no Assigned Client
    Identifier when the client sent one."""
    c = clients.raw(broker, w.MQTT5)
    ack = c.connect(uid, clean=True)
    assert ack.reason_code == 0 and ack.session_present is False, ack
    assert "assigned_client_identifier" not in ack.props, \
        "a client id was assigned although the client sent one"


# ---------------------------------------------------------------- client identifiers

def test_v5_empty_client_id_is_assigned(broker, clients):
    """5.0 with a zero-length ClientID: the server assigns a unique one and
    returns it in Assigned Client Identifier [MQTT-3.1.3-6, MQTT-3.2.2-16]."""
    ids = []
    for _ in range(2):
        c = clients.raw(broker)
        ack = c.connect("")
        assert ack.reason_code == 0, ack
        assigned = ack.props.get("assigned_client_identifier")
        assert assigned, f"no Assigned Client Identifier in {ack}"
        ids.append(assigned)
    assert ids[0] != ids[1]


def test_v5_assigned_client_id_is_usable(broker, clients, uid):
    """The server processes the CONNECT as if the client had sent the
    assigned id: subscribing and receiving work [MQTT-3.1.3-7]."""
    c = clients.paho(broker, "", MQTTv5)
    assert c.connack.props.get("AssignedClientIdentifier")
    c.subscribe(f"assigned/{uid}", qos=1)
    c.publish(f"assigned/{uid}", b"x", qos=1)
    assert c.get().payload == b"x"


def test_v311_empty_client_id_clean_session_accepted(broker, clients, uid):
    """3.1.1 zero-byte ClientId with CleanSession=1 is accepted and treated
    as a unique client [MQTT-3.1.3-6 (3.1.1)]."""
    c = clients.raw(broker, w.MQTT311)
    ack = c.connect("", clean=True)
    assert ack.reason_code == 0, ack
    c.subscribe(f"anon/{uid}", qos=1)
    c.publish(f"anon/{uid}", b"ok", qos=1)
    assert c.recv_publish().payload == b"ok"


def test_v311_empty_client_id_persistent_refused(broker, clients):
    """3.1.1 zero-byte ClientId with CleanSession=0: CONNACK 0x02 (identifier
    rejected) and the connection is closed [MQTT-3.1.3-8 (3.1.1)]."""
    c = clients.raw(broker, w.MQTT311)
    ack = c.connect("", clean=False)
    assert ack.raw == bytes([0x20, 0x02, 0x00, 0x02]), ack
    assert c.wait_closed() == []


def test_client_id_at_limit_accepted(restricted, clients):
    """mqtt.max_clientid_len = 23: a 23-byte id is accepted [MQTT-3.1.3-5]."""
    c = clients.raw(restricted)
    assert c.connect("x" * 23).reason_code == 0


def test_v5_client_id_too_long_refused(restricted, clients):
    """A client id longer than mqtt.max_clientid_len: 5.0 CONNACK 0x85
    (Client Identifier not valid), then close [MQTT-3.1.3-8, MQTT-3.2.2-7]."""
    c = clients.raw(restricted)
    ack = c.connect("y" * 24)
    assert ack.reason_code == 0x85, ack
    assert c.wait_closed() == []


def test_v311_client_id_too_long_refused(restricted, clients):
    """Same limit for 3.1.1: CONNACK 0x02 (identifier rejected) and close
    [MQTT-3.1.3-9 (3.1.1)]."""
    c = clients.raw(restricted, w.MQTT311)
    ack = c.connect("z" * 24)
    assert ack.raw == bytes([0x20, 0x02, 0x00, 0x02]), ack
    assert c.wait_closed() == []


# ---------------------------------------------------------------- protocol level / name

@pytest.mark.parametrize("level", [0, 2, 6, 255])
def test_unsupported_protocol_level(broker, clients, level):
    """An unsupported protocol level gets CONNACK 0x01 (3.1.1 form) or 0x84
    (5.0 form) and the connection is closed [MQTT-3.1.2-2 (3.1.1 and 5.0)]."""
    c = clients.raw(broker)
    body = w.utf8("MQTT") + bytes([level, 0x02]) + b"\x00\x3c" + w.utf8("lvl" + uuid.uuid4().hex[:8])
    c.send(w.packet(w.CONNECT, 0, body))
    got = c.wait_closed()
    assert got, "connection closed without a CONNACK"
    assert got[0].type == w.CONNACK and got[0].reason_code in (0x01, 0x84), got
    assert len(got) == 1, got


def test_wrong_protocol_name(broker, clients):
    """A protocol name other than MQTT/MQIsdp: the server closes the
    connection, with at most a refusing CONNACK first [MQTT-3.1.2-1]."""
    c = clients.raw(broker)
    c.send(w.connect_packet("badname" + uuid.uuid4().hex[:6], w.MQTT311, protocol_name="MQTX"))
    got = c.wait_closed()
    assert all(p.type == w.CONNACK and p.reason_code in (0x01, 0x84) for p in got), got


def test_username_password_accepted_without_authn(broker, clients, uid):
    """No authentication configured: any username/password is accepted (EMQX
    allows anonymous access unless an authenticator is set) [MQTT-3.1.2-17,
    MQTT-3.1.2-19]."""
    c = clients.raw(broker)
    assert c.connect(uid, username="vehicle", password=b"secret").reason_code == 0
    c311 = clients.raw(broker, w.MQTT311)
    assert c311.connect(uid + "-311", username="vehicle", password=b"secret").reason_code == 0


# ---------------------------------------------------------------- CONNACK properties

def test_v5_connack_properties_default(broker, clients, uid):
    """CONNACK announces the broker's limits (§3.2.2.3): Topic Alias Maximum =
    mqtt.max_topic_alias (65535; absent would forbid aliases [MQTT-3.2.2-18]),
    Maximum Packet Size = mqtt.max_packet_size (1MB); no Maximum QoS (absent
    means 2, and 2 is not a legal value); retain / wildcard / subscription
    identifier / shared subscription availability absent or 1."""
    c = clients.raw(broker)
    ack = c.connect(uid)
    p = ack.props
    assert p.get("topic_alias_maximum") == 65535, p
    assert p.get("maximum_packet_size") == 1024 * 1024, p
    assert "maximum_qos" not in p, p
    for flag in ("retain_available", "wildcard_subscription_available",
                 "subscription_identifier_available", "shared_subscription_available"):
        assert p.get(flag, 1) == 1, (flag, p)
    if "receive_maximum" in p:
        assert p["receive_maximum"] >= 1, p


def test_v5_connack_properties_restricted(restricted, clients):
    """With features switched off, CONNACK says so: Retain Available 0,
    Wildcard / Shared Subscription Available 0, Maximum QoS 1 [MQTT-3.2.2-9],
    Maximum Packet Size 4096, Topic Alias Maximum absent or 0 (no aliases,
    [MQTT-3.2.2-18])."""
    c = clients.raw(restricted)
    ack = c.connect("r" + uuid.uuid4().hex[:12])
    p = ack.props
    assert p.get("retain_available") == 0, p
    assert p.get("wildcard_subscription_available") == 0, p
    assert p.get("shared_subscription_available") == 0, p
    assert p.get("maximum_qos") == 1, p
    assert p.get("maximum_packet_size") == 4096, p
    assert p.get("topic_alias_maximum", 0) == 0, p


def test_v5_session_expiry_capped_in_connack(broker, clients, uid):
    """A requested Session Expiry Interval above mqtt.session_expiry_interval
    (2h) is capped (RoadMQ's documented 5.0 behaviour), and the server tells
    the client the value it uses in CONNACK (§3.2.2.3.2)."""
    c = clients.raw(broker)
    ack = c.connect(uid, props={"session_expiry_interval": 0xFFFFFFFF})
    assert ack.reason_code == 0, ack
    assert ack.props.get("session_expiry_interval") == 7200, ack


@pytest.mark.parametrize("topic_filter,code", [
    ("a/+/b", 0xA2), ("a/#", 0xA2), ("$share/g/a/b", 0x9E)])
def test_restricted_wildcard_and_shared_refused(restricted, clients, topic_filter, code):
    """Wildcards off: the subscription is refused with 0xA2 (Wildcard
    Subscriptions not supported); shared off: 0x9E (Shared Subscriptions not
    supported) (§3.2.2.3.11, §3.2.2.3.13). EMQX answers in the SUBACK; a
    DISCONNECT with the same code is the other form the spec allows."""
    c = clients.raw(restricted)
    c.connect("w" + uuid.uuid4().hex[:12])
    c.send(w.subscribe_packet(7, [(topic_filter, 0), ("plain/" + uuid.uuid4().hex, 0)]))
    p = c.recv()
    assert p is not None, "closed without SUBACK or DISCONNECT"
    if p.type == w.SUBACK:
        assert p.reason_codes == [code, 0x00], p
    else:
        assert (p.type, p.reason_code) == (w.DISCONNECT, code), p
        assert c.wait_closed() == []


def test_restricted_qos_downgraded_on_subscribe(restricted, clients):
    """max_qos_allowed = 1: a QoS 2 subscription is still accepted
    [MQTT-3.2.2-10] and granted QoS 1 [MQTT-3.8.4-7]; 3.1.1 too."""
    c = clients.raw(restricted)
    c.connect("q" + uuid.uuid4().hex[:12])
    assert c.subscribe("qd/x", qos=2).reason_codes == [1]
    c3 = clients.raw(restricted, w.MQTT311)
    c3.connect("q" + uuid.uuid4().hex[:12])
    assert c3.subscribe("qd/x", qos=2).reason_codes == [1]


def test_restricted_publish_qos2_disconnects(restricted, clients):
    """A PUBLISH above the announced Maximum QoS [MQTT-3.2.2-11]: the server
    answers with DISCONNECT 0x9B (QoS not supported) and closes (§3.2.2.3.4,
    [MQTT-4.13.2-1])."""
    c = clients.raw(restricted)
    c.connect("p" + uuid.uuid4().hex[:12])
    c.send(w.publish_packet("qd/y", b"too high", qos=2, packet_id=1))
    got = c.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x9B)], got


def test_restricted_publish_retain_disconnects(restricted, clients):
    """RETAIN=1 while Retain Available is 0 [MQTT-3.2.2-14]: DISCONNECT 0x9A
    (Retain not supported) and close (§3.2.2.3.5)."""
    c = clients.raw(restricted)
    c.connect("t" + uuid.uuid4().hex[:12])
    c.send(w.publish_packet("ret/y", b"keep me", qos=0, retain=True))
    got = c.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x9A)], got


def test_restricted_topic_alias_refused(restricted, clients):
    """Topic Alias Maximum 0: any Topic Alias is invalid [MQTT-3.2.2-18],
    DISCONNECT 0x94 Topic Alias invalid (§3.3.2.3.4)."""
    c = clients.raw(restricted)
    c.connect("a" + uuid.uuid4().hex[:12])
    c.send(w.publish_packet("ta/y", b"x", props={"topic_alias": 1}))
    got = c.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x94)], got


# ---------------------------------------------------------------- keep alive

@pytest.mark.parametrize("version", [w.MQTT311, w.MQTT5])
def test_keepalive_timeout_closes_and_sends_will(broker, clients, uid, version):
    """No packet within 1.5 x Keep Alive: the server closes the connection
    [MQTT-3.1.2-24 (3.1.1), MQTT-3.1.2-22 (5.0)] and publishes the will, this
    being an abnormal close [MQTT-3.1.2-8]. A 5.0 client may first get
    DISCONNECT 0x8D (Keep Alive timeout)."""
    will_topic = f"ka/{uid}/will"
    sub = clients.paho(broker, f"{uid}-sub")
    sub.subscribe(will_topic, qos=1)
    c = clients.raw(broker, version)
    t0 = time.monotonic()
    ack = c.connect(f"{uid}-ka", keepalive=1, will=w.Will(will_topic, b"gone", qos=1))
    assert ack.reason_code == 0
    got = c.wait_closed(timeout=15)
    elapsed = time.monotonic() - t0
    # Not before one full keep alive period: a client sending PINGREQ every
    # Keep Alive seconds must never be cut off.
    assert elapsed >= 1.0, f"closed after {elapsed:.2f}s with keep alive 1s"
    assert all(p.type == w.DISCONNECT and p.reason_code == 0x8D for p in got), got
    m = sub.get(timeout=10)
    assert (m.topic, m.payload, m.qos) == (will_topic, b"gone", 1)


def test_keepalive_held_by_pingreq(broker, clients, uid):
    """PINGREQ is answered with PINGRESP [MQTT-3.12.4-1] and counts as
    activity: a client pinging every 0.5 s with Keep Alive 1 s stays
    connected [MQTT-3.1.2-20, MQTT-3.1.2-22]."""
    c = clients.raw(broker)
    c.connect(uid, keepalive=1)
    for _ in range(8):
        time.sleep(0.5)  # the client's own pace; the test is that this suffices
        assert c.is_open_after_ping(timeout=5), "connection dropped although the client pinged"


def test_server_keepalive_override(short_timers, clients, uid):
    """mqtt.server_keepalive = 2s: CONNACK carries Server Keep Alive 2 and
    the client must use it [MQTT-3.2.2-21]; the server enforces 1.5 x 2 s
    whatever the client asked for [MQTT-3.1.2-22]."""
    c = clients.raw(short_timers)
    t0 = time.monotonic()
    ack = c.connect(uid, keepalive=60)
    assert ack.props.get("server_keep_alive") == 2, ack
    got = c.wait_closed(timeout=20)
    elapsed = time.monotonic() - t0
    assert elapsed >= 2.0, f"closed after {elapsed:.2f}s with server keep alive 2s"
    assert all(p.type == w.DISCONNECT and p.reason_code == 0x8D for p in got), got


def test_server_keepalive_applies_to_zero_keepalive(short_timers, clients, uid):
    """Keep Alive 0 from the client does not escape the server's value: the
    Server Keep Alive replaces it [MQTT-3.2.2-21]."""
    c = clients.raw(short_timers)
    ack = c.connect(uid, keepalive=0)
    assert ack.props.get("server_keep_alive") == 2, ack
    c.wait_closed(timeout=20)


def test_idle_connection_without_connect_closed(short_timers, clients):
    """A TCP connection that sends no CONNECT is closed after
    mqtt.idle_timeout (1s here; EMQX's idle_timeout), with nothing sent to
    it [MQTT-3.2.0-1, MQTT-3.14.0-1]."""
    c = clients.raw(short_timers)
    assert c.wait_closed(timeout=15) == []


def test_v311_not_subject_to_server_keepalive_property(short_timers, clients, uid):
    """3.1.1 has no CONNACK properties: the CONNACK stays 4 bytes (remaining
    length 2, §3.2 of 3.1.1) even when server_keepalive is set."""
    c = clients.raw(short_timers, w.MQTT311)
    ack = c.connect(uid, keepalive=60)
    assert ack.raw == bytes([0x20, 0x02, 0x00, 0x00]), ack


def test_refused_connect_sends_no_will(restricted, clients, uid):
    """A refused CONNECT never publishes its will: the server must not
    process a rejected CONNECT further [MQTT-3.1.4-6, MQTT-3.2.2-7]."""
    will_topic = f"nowill/{uid}"
    sub = clients.paho(restricted, f"s{uuid.uuid4().hex[:12]}")
    sub.subscribe(will_topic, qos=1)
    c = clients.raw(restricted)
    ack = c.connect("v" * 30, will=w.Will(will_topic, b"must not appear", qos=1))
    assert ack.reason_code == 0x85
    c.wait_closed()
    pub = clients.paho(restricted, f"p{uuid.uuid4().hex[:12]}")
    pub.publish(will_topic, b"marker", qos=1)
    assert sub.get().payload == b"marker"
    assert_no_message(sub)


# ---------------------------------------------------------------- identifiers and limits

def test_long_client_id(broker, clients):
    """The default max_clientid_len (65535) allows a 65535-byte id
    [MQTT-3.1.3-5 allows longer than 23]; it works for pub/sub."""
    cid = ("v" * 65535)
    c = clients.raw(broker)
    assert c.connect(cid).reason_code == 0
    c.subscribe(f"long/{uuid.uuid4().hex}", qos=1)
    assert c.is_open_after_ping()


@pytest.mark.parametrize("cid", ["car/1", "car+1", "car#1", "京A·12345", "car 1", "$car", "car\"\\"],
                         ids=["slash", "plus", "hash", "unicode", "space", "dollar", "quote"])
def test_unusual_client_ids(broker, clients, cid):
    """Client ids are any UTF-8 string [MQTT-3.1.3-4]; ids with topic
    characters ('/', '+', '#') end up inside $SYS presence topics, which must
    not confuse routing: the client works and so do others."""
    cid = f"{cid}-{uuid.uuid4().hex[:6]}"
    c = clients.raw(broker)
    assert c.connect(cid).reason_code == 0
    topic = f"odd/{uuid.uuid4().hex}"
    c.subscribe(topic, qos=1)
    c.publish(topic, b"self", qos=1)
    assert c.recv_publish().payload == b"self"
    c.disconnect()
    other = clients.paho(broker, f"other-{uuid.uuid4().hex[:8]}")
    other.subscribe(topic, qos=1)
    other.publish(topic, b"fine", qos=1)
    assert other.get().payload == b"fine"


def test_listener_max_connections(broker_factory, clients):
    """listeners.tcp.default.max_connections = 2: a third connection is
    refused (closed, no CONNACK 0x00); once one leaves, a new one gets in."""
    b = broker_factory(env={"ROADMQ_LISTENERS__TCP__DEFAULT__MAX_CONNECTIONS": "2"})
    first = clients.raw(b)
    assert first.connect("mc-1").reason_code == 0
    second = clients.raw(b)
    assert second.connect("mc-2").reason_code == 0
    third = clients.raw(b)
    try:
        third.send(w.connect_packet("mc-3"))
        got = third.wait_closed(timeout=15)
    except (ConnectionError, OSError):
        got = []  # refused before the CONNECT could even be written
    assert all(p.type == w.CONNACK and p.reason_code >= 0x80 for p in got), got
    assert first.is_open_after_ping() and second.is_open_after_ping()
    first.disconnect()
    # The slot is freed when the broker has handled the close: retry briefly.
    deadline = time.monotonic() + 15
    while True:
        fourth = clients.raw(b)
        try:
            ack = fourth.connect("mc-4", timeout=5)
            if ack.reason_code == 0:
                break
        except (ConnectionError, OSError, TimeoutError):
            pass
        assert time.monotonic() < deadline, "no connection accepted after one left"


def test_keepalive_counts_only_client_packets(broker, clients, uid):
    """Keep Alive is about packets from the client [MQTT-3.1.2-22]: a client
    that only receives (QoS 0, nothing to acknowledge) is still dropped after
    1.5 x Keep Alive, however busy the server is sending to it."""
    topic = f"ka-recv/{uid}"
    c = clients.raw(broker)
    t0 = time.monotonic()
    c.connect(f"{uid}-c", keepalive=1)
    c.subscribe(topic, qos=0)
    pub = clients.paho(broker, f"{uid}-p")
    deadline = time.monotonic() + 15
    closed_after = None
    while time.monotonic() < deadline:
        pub.publish(topic, b"tick", qos=0)
        try:
            p = c.recv(timeout=0.2)
        except TimeoutError:
            continue
        if p is None:
            closed_after = time.monotonic() - t0
            break
        assert p.type == w.PUBLISH or (p.type == w.DISCONNECT and p.reason_code == 0x8D), p
    assert closed_after is not None, "a client that never sent anything was kept for 15 s"
    assert closed_after >= 1.0, closed_after


def test_packets_pipelined_behind_connect(broker, clients, uid):
    """A client may send packets right after CONNECT without waiting for
    CONNACK (§3.1.4): CONNECT, SUBSCRIBE, PUBLISH, PINGREQ in one write are
    all processed, in order."""
    topic = f"pipe/{uid}"
    c = clients.raw(broker)
    c.send(w.connect_packet(uid)
           + w.subscribe_packet(1, [(topic, 1)])
           + w.publish_packet(topic, b"early", qos=1, packet_id=2)
           + w.PINGREQ_BYTES)
    kinds = []
    while len(kinds) < 5:
        p = c.recv()
        assert p is not None, f"closed after {kinds}"
        kinds.append(p.name)
        if p.type == w.PUBLISH:
            assert p.payload == b"early"
            c.ack(p)
    assert kinds[0] == "CONNACK" and kinds[1] == "SUBACK", kinds
    assert sorted(kinds[2:]) == ["PINGRESP", "PUBACK", "PUBLISH"], kinds


def test_many_packets_in_one_write(broker, clients, uid):
    """100 QoS 1 PUBLISH packets in one TCP write: 100 PUBACKs, in order
    [MQTT-4.6.0-2 mirrored on the server], and 100 deliveries in order."""
    topic = f"burst/{uid}"
    sub = clients.raw(broker)
    sub.connect(f"{uid}-s")
    sub.subscribe(topic, qos=1)
    c = clients.raw(broker)
    c.connect(f"{uid}-p")
    c.send(b"".join(w.publish_packet(topic, f"{i}".encode(), qos=1, packet_id=i + 1)
                    for i in range(100)))
    acks = [c.expect(w.PUBACK).packet_id for _ in range(100)]
    assert acks == list(range(1, 101))
    assert [int(sub.recv_publish().payload) for _ in range(100)] == list(range(100))


def test_idle_timeout_with_partial_connect(short_timers, clients):
    """Half a CONNECT and then silence (a slowloris) is still closed after
    mqtt.idle_timeout, with nothing sent back [MQTT-3.14.0-1]."""
    c = clients.raw(short_timers)
    c.send(w.connect_packet("slow" + uuid.uuid4().hex[:8])[:9])
    assert c.wait_closed(timeout=15) == []
