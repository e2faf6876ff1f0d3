"""Bad input on raw sockets. Each case must close only the offending
connection (with a DISCONNECT reason code where 5.0 gives one, never before
CONNACK [MQTT-3.14.0-1]) while a bystander pair keeps publishing and
receiving, and the daemon keeps running (ASan watches it)."""

import socket
import struct
import uuid

import pytest

import mqtt_wire as w


class Bystander:
    """A subscriber and a publisher that must not notice anything."""

    def __init__(self, broker, clients):
        tag = uuid.uuid4().hex[:10]
        self.topic = f"bystander/{tag}"
        self.sub = clients.paho(broker, f"by-sub-{tag}")
        self.sub.subscribe(self.topic, qos=1)
        self.pub = clients.paho(broker, f"by-pub-{tag}")
        self.n = 0

    def check(self):
        self.n += 1
        payload = f"alive-{self.n}".encode()
        self.pub.publish(self.topic, payload, qos=1)
        m = self.sub.get()
        assert m.payload == payload, m
        assert self.sub.is_connected() and self.pub.is_connected()


@pytest.fixture
def bystander(broker, clients):
    b = Bystander(broker, clients)
    b.check()
    yield b
    b.check()


def connected(broker, clients, version=w.MQTT5):
    c = clients.raw(broker, version)
    assert c.connect("bad-" + uuid.uuid4().hex[:12]).reason_code == 0
    return c


def expect_closed(c, allowed_codes=None):
    """The broker closes the connection; a 5.0 DISCONNECT before it must
    carry one of allowed_codes (any code >= 0x80 if None)."""
    got = c.wait_closed(timeout=15)
    for p in got:
        assert p.type == w.DISCONNECT, f"unexpected {p} before close"
        if allowed_codes is None:
            assert p.reason_code >= 0x80, p
        else:
            assert p.reason_code in allowed_codes, p
    return got


# ---------------------------------------------------------------- before CONNECT

@pytest.mark.parametrize("garbage", [
    b"\x00\x00\x00\x00",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    bytes(range(256)),
    b"\xff" * 64,
], ids=["zeros", "http", "bytes", "ff"])
def test_garbage_before_connect(broker, clients, bystander, garbage):
    """Bytes that are not a CONNECT: closed with nothing sent back
    [MQTT-3.1.0-1, MQTT-3.1.4-1, MQTT-3.14.0-1]."""
    c = clients.raw(broker)
    c.send(garbage)
    assert c.wait_closed(timeout=15) == []


@pytest.mark.parametrize("first", [
    w.PINGREQ_BYTES,
    w.publish_packet("t", b"x", version=w.MQTT311),
    w.subscribe_packet(1, [("t", 0)], w.MQTT311),
], ids=["pingreq", "publish", "subscribe"])
def test_first_packet_not_connect(broker, clients, bystander, first):
    """A valid packet other than CONNECT first: closed, no answer
    [MQTT-3.1.0-1]."""
    c = clients.raw(broker)
    c.send(first)
    assert c.wait_closed(timeout=15) == []


def test_connect_reserved_flag(broker, clients, bystander):
    """CONNECT with the reserved flag bit set: closed [MQTT-3.1.2-3]
    (a CONNACK refusal at most)."""
    c = clients.raw(broker)
    c.send(w.connect_packet("rsv" + uuid.uuid4().hex[:8], w.MQTT311, flags_override=0x03))
    got = c.wait_closed(timeout=15)
    assert all(p.type == w.CONNACK and p.reason_code != 0 for p in got), got


@pytest.mark.parametrize("flags", [0x02 | 0x08, 0x02 | 0x20, 0x02 | 0x04 | 0x18],
                         ids=["qos-without-will", "retain-without-will", "will-qos3"])
def test_connect_bad_will_flags(broker, clients, bystander, flags):
    """Will QoS/Retain without the Will Flag [MQTT-3.1.2-11, MQTT-3.1.2-13],
    or Will QoS 3 [MQTT-3.1.2-12]: malformed CONNECT, closed
    [MQTT-3.1.4-1]."""
    c = clients.raw(broker)
    cid = "wf" + uuid.uuid4().hex[:8]
    body = w.utf8("MQTT") + bytes([5, flags]) + b"\x00\x3c" + b"\x00" + w.utf8(cid)
    if flags & 0x04:
        body += b"\x00" + w.utf8("will/t") + w.binary(b"x")
    c.send(w.packet(w.CONNECT, 0, body))
    got = c.wait_closed(timeout=15)
    assert all(p.type == w.CONNACK and p.reason_code >= 0x80 for p in got), got


def test_v311_password_without_username(broker, clients, bystander):
    """3.1.1: Password Flag without User Name Flag is malformed
    [MQTT-3.1.2-22 (3.1.1)]: closed."""
    c = clients.raw(broker, w.MQTT311)
    c.send(w.connect_packet("pw" + uuid.uuid4().hex[:8], w.MQTT311, password=b"secret"))
    got = c.wait_closed(timeout=15)
    assert all(p.type == w.CONNACK and p.reason_code != 0 for p in got), got


def test_truncated_connect_then_close(broker, clients, bystander):
    """Half a CONNECT and then the client goes away: nothing to clean up but
    the socket."""
    c = clients.raw(broker)
    c.send(w.connect_packet("half" + uuid.uuid4().hex[:8])[:7])
    c.abort()


def test_connect_client_id_invalid_utf8(broker, clients, bystander):
    """A client id that is not UTF-8 [MQTT-1.5.4-1, MQTT-3.1.3-4]: closed,
    with at most a refusing CONNACK."""
    c = clients.raw(broker)
    body = w.utf8("MQTT") + bytes([5, 0x02]) + b"\x00\x3c" + b"\x00" + b"\x00\x02\xc3\x28"
    c.send(w.packet(w.CONNECT, 0, body))
    got = c.wait_closed(timeout=15)
    assert all(p.type == w.CONNACK and p.reason_code >= 0x80 for p in got), got


# ---------------------------------------------------------------- after CONNECT

def test_garbage_after_connect(broker, clients, bystander):
    """Packet type 0 (reserved) after CONNACK: malformed, DISCONNECT 0x81 or
    0x82 and close [MQTT-4.13.1-1]."""
    c = connected(broker, clients)
    c.send(b"\x00\x00")
    expect_closed(c, {0x81, 0x82})


def test_publish_qos3(broker, clients, bystander):
    """PUBLISH with both QoS bits set [MQTT-3.3.1-4]: malformed, closed
    (DISCONNECT 0x81)."""
    c = connected(broker, clients)
    c.send(bytes([0x36]) + w.varint(5) + w.utf8("t") + b"\x00\x01")
    expect_closed(c, {0x81})


@pytest.mark.parametrize("pkt", [
    b"\x80" + w.subscribe_packet(1, [("t", 0)])[1:],    # SUBSCRIBE flags 0 (must be 2)
    b"\xa0" + w.unsubscribe_packet(1, ["t"])[1:],       # UNSUBSCRIBE flags 0 (must be 2)
    bytes([0x60, 0x02, 0x00, 0x01]),                   # PUBREL flags 0 (must be 2)
    bytes([0xC1, 0x00]),                               # PINGREQ flags 1
    bytes([0xE2, 0x00]),                               # DISCONNECT flags 2
], ids=["subscribe", "unsubscribe", "pubrel", "pingreq", "disconnect"])
def test_reserved_fixed_header_flags(broker, clients, bystander, pkt):
    """Wrong reserved bits in the fixed header [MQTT-2.1.3-1, MQTT-3.8.1-1,
    MQTT-3.10.1-1, MQTT-3.6.1-1]: malformed, closed (DISCONNECT 0x81)."""
    c = connected(broker, clients)
    c.send(pkt)
    expect_closed(c, {0x81})


def test_remaining_length_five_bytes(broker, clients, bystander):
    """A Remaining Length longer than 4 bytes (§1.5.5, §2.1.4): malformed,
    closed (DISCONNECT 0x81)."""
    c = connected(broker, clients)
    c.send(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]) + b"\x00" * 16)
    expect_closed(c, {0x81})


def test_remaining_length_non_minimal(broker, clients, bystander):
    """A Remaining Length not in its shortest form [MQTT-1.5.5-1]: closed
    (DISCONNECT 0x81), or accepted by a lenient decoder; the daemon lives."""
    c = connected(broker, clients)
    c.send(bytes([0xC0, 0x80, 0x00]))  # PINGREQ with length 0 encoded in 2 bytes
    try:
        p = c.recv(timeout=10)
    except TimeoutError:
        pytest.fail("no answer and no close after a non-minimal remaining length")
    if p is not None and p.type != w.PINGRESP:
        assert (p.type, p.reason_code) == (w.DISCONNECT, 0x81), p


def test_oversized_packet_refused_from_header(broker, clients, bystander):
    """A PUBLISH announcing more than mqtt.max_packet_size (1MB): DISCONNECT
    0x95 (Packet too large) and close, decided from the header alone
    [MQTT-3.2.2-15, MQTT-4.13.2-1]."""
    c = connected(broker, clients)
    c.send(bytes([0x30]) + w.varint(2 * 1024 * 1024) + w.utf8("big") + b"x" * 1000)
    expect_closed(c, {0x95})


def test_v311_oversized_packet_closed(broker, clients, bystander):
    """3.1.1 has no DISCONNECT from the server: just closed."""
    c = connected(broker, clients, w.MQTT311)
    c.send(bytes([0x30]) + w.varint(3 * 1024 * 1024) + w.utf8("big") + b"x" * 1000)
    assert c.wait_closed(timeout=15) == []


def test_second_connect(broker, clients, bystander):
    """A second CONNECT is a Protocol Error [MQTT-3.1.0-2]: DISCONNECT 0x82
    and close; no second CONNACK [MQTT-3.2.0-2]."""
    c = connected(broker, clients)
    c.send(w.connect_packet("again" + uuid.uuid4().hex[:8]))
    expect_closed(c, {0x82})


def test_v311_second_connect(broker, clients, bystander):
    """3.1.1: a second CONNECT closes the connection [MQTT-3.1.0-2 (3.1.1)]."""
    c = connected(broker, clients, w.MQTT311)
    c.send(w.connect_packet("again" + uuid.uuid4().hex[:8], w.MQTT311))
    assert c.wait_closed(timeout=15) == []


@pytest.mark.parametrize("topic_bytes", [b"\xc3\x28", b"a\x00b", b"\xed\xa0\x80"],
                         ids=["bad-utf8", "nul", "surrogate"])
def test_publish_topic_invalid_utf8(broker, clients, bystander, topic_bytes):
    """A topic that is not well-formed UTF-8, holds U+0000 or a surrogate
    [MQTT-1.5.4-1, MQTT-1.5.4-2]: closed (DISCONNECT 0x81 or 0x82... any
    error code)."""
    c = connected(broker, clients)
    body = struct.pack("!H", len(topic_bytes)) + topic_bytes + b"\x00" + b"payload"
    c.send(w.packet(w.PUBLISH, 0, body))
    expect_closed(c)


@pytest.mark.parametrize("topic", ["a/+/b", "a/#", "#", "+"])
def test_publish_topic_with_wildcard(broker, clients, bystander, topic):
    """A topic name with a wildcard [MQTT-3.3.2-2, MQTT-4.7.0-1]: refused
    with 0x90 (Topic Name invalid) in a PUBACK, or the connection closed with
    an error code (EMQX: DISCONNECT 0x90)."""
    c = connected(broker, clients)
    c.send(w.publish_packet(topic, b"x", qos=1, packet_id=1))
    p = c.recv(timeout=15)
    if p is not None and p.type == w.PUBACK:
        assert p.reason_code == 0x90, p  # refused, connection may stay
    else:
        assert p is None or (p.type == w.DISCONNECT and p.reason_code >= 0x80), p
        c.wait_closed()


def test_publish_packet_id_zero(broker, clients, bystander):
    """QoS 1 PUBLISH with packet id 0 [MQTT-2.2.1-3 (5.0), MQTT-2.3.1-1
    (3.1.1)]: closed."""
    c = connected(broker, clients)
    c.send(w.publish_packet("t/zero", b"x", qos=1, packet_id=0))
    expect_closed(c)


def test_subscribe_without_filters(broker, clients, bystander):
    """SUBSCRIBE with no filter [MQTT-3.8.3-2]: Protocol Error, closed."""
    c = connected(broker, clients)
    c.send(w.packet(w.SUBSCRIBE, 0x02, b"\x00\x01\x00"))
    expect_closed(c)


def test_unsubscribe_without_filters(broker, clients, bystander):
    """UNSUBSCRIBE with no filter [MQTT-3.10.3-2]: Protocol Error, closed."""
    c = connected(broker, clients)
    c.send(w.packet(w.UNSUBSCRIBE, 0x02, b"\x00\x01\x00"))
    expect_closed(c)


def test_subscribe_reserved_option_bits(broker, clients, bystander):
    """Subscription options with reserved bits 6-7 set [MQTT-3.8.3-5]:
    malformed, closed."""
    c = connected(broker, clients)
    c.send(w.subscribe_packet(1, [("t/rsv", 0xC1)]))
    expect_closed(c)


def test_subscribe_retain_handling_3(broker, clients, bystander):
    """Retain Handling 3 is reserved (§3.8.3.1): Protocol Error, closed."""
    c = connected(broker, clients)
    c.send(w.subscribe_packet(1, [("t/rh3", 0x30)]))
    expect_closed(c)


def test_subscribe_qos3(broker, clients, bystander):
    """Requested QoS 3 in SUBSCRIBE (§3.8.3.1): malformed, closed."""
    c = connected(broker, clients)
    c.send(w.subscribe_packet(1, [("t/q3", 0x03)]))
    expect_closed(c)


def test_unknown_property(broker, clients, bystander):
    """A property id that does not exist (0x7F) in a PUBLISH: malformed,
    closed (DISCONNECT 0x81)."""
    c = connected(broker, clients)
    c.send(w.publish_packet("t/prop", b"x", props={"_raw": b"\x7f\x00"}))
    expect_closed(c, {0x81, 0x82})


def test_property_not_allowed_in_packet(broker, clients, bystander):
    """A property valid elsewhere but not in PUBLISH (Session Expiry
    Interval, 0x11): malformed/protocol error, closed."""
    c = connected(broker, clients)
    c.send(w.publish_packet("t/prop", b"x", props={"_raw": b"\x11\x00\x00\x00\x01"}))
    expect_closed(c, {0x81, 0x82})


def test_duplicate_single_property(broker, clients, bystander):
    """A property that may appear once appears twice (Content Type): Protocol
    Error (§2.2.2.2), closed."""
    c = connected(broker, clients)
    raw = b"\x03" + w.utf8("a") + b"\x03" + w.utf8("b")
    c.send(w.publish_packet("t/prop", b"x", props={"_raw": raw}))
    expect_closed(c, {0x81, 0x82})


def test_property_length_beyond_packet(broker, clients, bystander):
    """A property length that runs past the end of the packet: malformed,
    closed (DISCONNECT 0x81)."""
    c = connected(broker, clients)
    body = w.utf8("t/prop") + w.varint(50) + b"\x01\x01"
    c.send(w.packet(w.PUBLISH, 0, body))
    expect_closed(c, {0x81})


def test_string_length_beyond_packet(broker, clients, bystander):
    """A topic length larger than the packet: malformed, closed."""
    c = connected(broker, clients)
    c.send(w.packet(w.PUBLISH, 0, b"\x00\x40abc"))
    expect_closed(c, {0x81})


def test_pubrel_for_unknown_id_answered(broker, clients, bystander):
    """PUBREL for an id the server does not know: PUBCOMP with 0x92 (Packet
    Identifier not found) in 5.0 (§3.7.2.1) — not a reason to close."""
    c = connected(broker, clients)
    c.send(w.ack_packet(w.PUBREL, 4711))
    comp = c.expect(w.PUBCOMP)
    assert comp.packet_id == 4711 and comp.reason_code in (0x00, 0x92), comp
    assert c.is_open_after_ping()


def test_puback_for_unknown_id_ignored(broker, clients, bystander):
    """A PUBACK nobody asked for does not hurt the connection (EMQX logs and
    ignores it)."""
    c = connected(broker, clients)
    c.send(w.ack_packet(w.PUBACK, 999))
    assert c.is_open_after_ping()


def test_many_bad_connections_at_once(broker, clients, bystander):
    """Fifty connections sending garbage at the same time: every one is
    closed, the bystanders notice nothing."""
    socks = []
    for i in range(50):
        c = clients.raw(broker)
        socks.append(c)
        c.send(bytes([0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) if i % 2 else b"\xde\xad\xbe\xef" * 8)
    for c in socks:
        c.wait_closed(timeout=20)
    bystander.check()


def test_slow_drip_connect(broker, clients, bystander):
    """A CONNECT sent one byte at a time is still a CONNECT (the decoder is
    incremental)."""
    c = clients.raw(broker)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for b in w.connect_packet("drip" + uuid.uuid4().hex[:8]):
        c.send(bytes([b]))
    assert c.expect(w.CONNACK).reason_code == 0


def test_slow_consumer_does_not_block_others(broker, clients, bystander):
    """A subscriber that stops reading its socket while 20 MB of QoS 0 are
    published to it: the broker keeps serving everyone else (bounded output
    buffers; the slow client may be dropped), and stays healthy."""
    topic = f"slow/{uuid.uuid4().hex}"
    slow = clients.raw(broker)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect("slow-" + uuid.uuid4().hex[:8])
    slow.subscribe(topic, qos=0)
    pub = clients.raw(broker)
    pub.connect("flood-" + uuid.uuid4().hex[:8])
    chunk = b"z" * 10_000
    for i in range(2000):
        pub.send(w.publish_packet(topic, chunk))
        if i % 200 == 0:
            bystander.check()
    assert pub.is_open_after_ping(timeout=30)
    bystander.check()


@pytest.mark.parametrize("props", [
    {"receive_maximum": 0},
    {"maximum_packet_size": 0},
    {"request_problem_information": 2},
    {"request_response_information": 2},
    {"_raw": b"\x21\x00\x05\x21\x00\x06"},  # Receive Maximum twice
], ids=["receive-max-0", "max-packet-0", "problem-info-2", "response-info-2", "dup-receive-max"])
def test_connect_bad_properties(broker, clients, bystander, props):
    """CONNECT properties with forbidden values or repeated (§3.1.2.11):
    Protocol Error, refused (CONNACK >= 0x80, e.g. 0x82) and closed
    [MQTT-3.1.4-1, MQTT-3.2.2-7]."""
    c = clients.raw(broker)
    c.send(w.connect_packet("bp" + uuid.uuid4().hex[:8], props=props))
    got = c.wait_closed(timeout=15)
    assert all(p.type == w.CONNACK and p.reason_code >= 0x80 for p in got), got


@pytest.mark.parametrize("version", [w.MQTT311, w.MQTT5], ids=["v311", "v5"])
def test_connect_will_topic_with_wildcard(broker, clients, bystander, version):
    """A will topic is a topic name: wildcards are not allowed
    [MQTT-3.3.2-2 via 3.1.3.3]; the CONNECT is refused and closed, and no
    will can ever be published to a filter."""
    c = clients.raw(broker, version)
    c.send(w.connect_packet("wt" + uuid.uuid4().hex[:8], version,
                            will=w.Will("will/#", b"x", qos=1)))
    got = c.wait_closed(timeout=15)
    assert all(p.type == w.CONNACK and p.reason_code not in (0,) for p in got), got


def test_response_topic_with_wildcard(broker, clients, bystander):
    """A Response Topic must not contain wildcards [MQTT-3.3.2-14]: the
    PUBLISH is a Protocol Error (EMQX: DISCONNECT 0x82)."""
    c = connected(broker, clients)
    c.send(w.publish_packet("t/resp", b"x", qos=1, packet_id=1, props={"response_topic": "reply/+"}))
    p = c.recv(timeout=15)
    if p is not None and p.type == w.PUBACK:
        assert p.reason_code >= 0x80, p
    else:
        assert p is None or (p.type == w.DISCONNECT and p.reason_code >= 0x80), p
        c.wait_closed()
