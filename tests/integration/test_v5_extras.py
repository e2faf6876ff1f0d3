"""MQTT 5.0 features: message expiry, forwarded properties, maximum packet
size in both directions, request/response and problem information,
enhanced authentication, outbound topic aliases, inbound flow control."""

import time

import pytest

import mqtt_wire as w
from daemon import module_broker
from helpers import assert_no_message
from paho_sync import publish_props

small_packets = module_broker(env={
    "ROADMQ_MQTT__MAX_PACKET_SIZE": "1KB",
    "ROADMQ_MQTT__MAX_AWAITING_REL": "2",
})


# ---------------------------------------------------------------- message expiry

def test_message_expiry_forwarded(broker, clients, uid):
    """An online subscriber gets the Message Expiry Interval, reduced by the
    time the message waited (at most the original) [MQTT-3.3.2-6]."""
    topic = f"exp/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"x", qos=1, props=publish_props(MessageExpiryInterval=120))
    m = sub.get()
    assert 0 < m.props.get("MessageExpiryInterval", 0) <= 120, m.props
    pub.publish(topic, b"no expiry", qos=1)
    assert "MessageExpiryInterval" not in sub.get().props


def test_message_expiry_decremented_while_queued(broker, clients, uid):
    """A message queued for an offline session is sent with the interval
    minus the time it waited [MQTT-3.3.2-6]. (The wait is the point.)"""
    topic = f"exp/{uid}"
    c = clients.paho(broker, uid, clean=False, session_expiry=60)
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"aging", qos=1, props=publish_props(MessageExpiryInterval=30))
    time.sleep(2.5)
    c2 = clients.paho(broker, uid, clean=False, session_expiry=0)
    m = c2.get()
    assert m.payload == b"aging"
    assert 1 <= m.props.get("MessageExpiryInterval", 0) <= 28, m.props


def test_expired_message_not_delivered(broker, clients, uid):
    """A queued message whose expiry passed before delivery started is
    dropped for that subscriber [MQTT-3.3.2-5]; unexpired ones still come,
    in order."""
    topic = f"exp/{uid}"
    c = clients.paho(broker, uid, clean=False, session_expiry=60)
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"short", qos=1, props=publish_props(MessageExpiryInterval=1))
    pub.publish(topic, b"long", qos=1, props=publish_props(MessageExpiryInterval=600))
    pub.publish(topic, b"forever", qos=1)
    time.sleep(2.5)
    c2 = clients.paho(broker, uid, clean=False, session_expiry=0)
    got = c2.get_n(2)
    assert [m.payload for m in got] == [b"long", b"forever"]
    pub.publish(topic, b"marker", qos=1)
    assert c2.get().payload == b"marker"


# ---------------------------------------------------------------- properties forwarded

def test_publish_properties_forwarded_unchanged(broker, clients, uid):
    """Payload Format Indicator [MQTT-3.3.2-4], Content Type [MQTT-3.3.2-20],
    Response Topic [MQTT-3.3.2-15], Correlation Data [MQTT-3.3.2-16] and User
    Properties, order and duplicates kept [MQTT-3.3.2-17, MQTT-3.3.2-18],
    reach the subscriber unaltered; the publisher's Topic Alias does not."""
    topic = f"props/{uid}"
    sub = clients.raw(broker)
    sub.connect(f"{uid}-s")
    sub.subscribe(topic, qos=2)
    props = {
        "payload_format_indicator": 1,
        "content_type": "application/json; charset=utf-8",
        "response_topic": f"vehicle/{uid}/reply",
        "correlation_data": bytes(range(256)),
        "user_property": [("z", "1"), ("a", "2"), ("z", "3"), ("ключ", "значение"), ("", "")],
        "topic_alias": 1,
    }
    pub = clients.raw(broker)
    pub.connect(f"{uid}-p")
    pub.publish(topic, b'{"speed": 42}', qos=2, props=props)
    p = sub.recv_publish()
    expected = dict(props)
    del expected["topic_alias"]
    assert p.topic == topic and p.payload == b'{"speed": 42}'
    assert p.props == expected, p.props


def test_properties_forwarded_to_paho(broker, clients, uid):
    """The same through paho on both ends (a real client library's view)."""
    topic = f"props/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"data", qos=1, props=publish_props(
        ContentType="text/plain", ResponseTopic=f"r/{uid}", CorrelationData=b"id-7",
        UserProperty=[("k", "v"), ("k", "v2")]))
    m = sub.get()
    assert m.props.get("ContentType") == "text/plain"
    assert m.props.get("ResponseTopic") == f"r/{uid}"
    assert m.props.get("CorrelationData") == b"id-7"
    assert m.props.get("UserProperty") == [("k", "v"), ("k", "v2")]


def test_properties_kept_for_offline_and_retained(broker, clients, uid):
    """Properties survive queueing for an offline session and the retained
    store [MQTT-3.3.2-17, MQTT-3.3.2-20]."""
    topic = f"props/{uid}"
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60})
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = clients.raw(broker)
    pub.connect(f"{uid}-p")
    props = {"content_type": "ct", "user_property": [("a", "b")], "correlation_data": b"c"}
    pub.publish(topic, b"p", qos=1, retain=True, props=props)
    c2 = clients.raw(broker)
    c2.connect(uid, clean=False, props={"session_expiry_interval": 0})
    assert c2.recv_publish().props == props
    fresh = clients.raw(broker)
    fresh.connect(f"{uid}-f")
    fresh.subscribe(topic, qos=1)
    r = fresh.recv_publish()
    assert r.retain and r.props == props, r
    pub.publish(topic, b"", qos=1, retain=True)


# ---------------------------------------------------------------- maximum packet size

def test_max_packet_size_inbound(small_packets, clients, uid):
    """CONNACK announces Maximum Packet Size (mqtt.max_packet_size = 1KB);
    a bigger PUBLISH is a violation [MQTT-3.2.2-15]: DISCONNECT 0x95 (Packet
    too large) and close [MQTT-4.13.2-1]. One that fits is fine."""
    topic = f"big/{uid}"
    sub = clients.paho(small_packets, f"{uid}-s")
    sub.subscribe(topic, qos=1)
    c = clients.raw(small_packets)
    ack = c.connect(f"{uid}-p")
    assert ack.props.get("maximum_packet_size") == 1024, ack
    fits = w.publish_packet(topic, b"a" * 900, qos=1, packet_id=1)
    assert len(fits) <= 1024
    c.send(fits)
    c.expect(w.PUBACK)
    c.send(w.publish_packet(topic, b"b" * 2000, qos=1, packet_id=2))
    got = c.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x95)], got
    assert sub.get().payload == b"a" * 900
    assert_no_message(sub, 0.3)


def test_max_packet_size_outbound(broker, clients, uid):
    """A client's Maximum Packet Size is respected: a message that would not
    fit is not sent to it [MQTT-3.1.2-24] but dropped as if delivered
    [MQTT-3.1.2-25]; smaller ones still arrive, and other subscribers get
    the big one."""
    topic = f"big/{uid}"
    small = clients.raw(broker)
    small.connect(f"{uid}-small", props={"maximum_packet_size": 200})
    small.subscribe(topic, qos=1)
    big = clients.paho(broker, f"{uid}-big")
    big.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"x" * 500, qos=1)
    pub.publish(topic, b"small", qos=1)
    p = small.recv_publish()
    assert p.payload == b"small", p
    assert len(p.raw) <= 200
    assert [m.payload for m in big.get_n(2)] == [b"x" * 500, b"small"]


def test_max_packet_size_outbound_queued(broker, clients, uid):
    """The limit also applies to messages queued while offline: the big one
    is dropped, the next one delivered [MQTT-3.1.2-25]."""
    topic = f"big/{uid}"
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60, "maximum_packet_size": 200})
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"y" * 500, qos=1)
    pub.publish(topic, b"fits", qos=1)
    c2 = clients.raw(broker)
    c2.connect(uid, clean=False, props={"session_expiry_interval": 0, "maximum_packet_size": 200})
    assert c2.recv_publish().payload == b"fits"


# ---------------------------------------------------------------- request / response, problem info

def test_request_response_information(broker, clients, uid):
    """Request Response Information 0 (default): no Response Information in
    CONNACK [MQTT-3.1.2-28]. With 1 the server MAY return it; if it does it
    is a UTF-8 string a client can build response topics from."""
    c = clients.raw(broker)
    ack = c.connect(uid)
    assert "response_information" not in ack.props, ack
    c2 = clients.raw(broker)
    ack2 = c2.connect(f"{uid}-2", props={"request_response_information": 1})
    assert ack2.reason_code == 0, ack2
    if "response_information" in ack2.props:
        assert isinstance(ack2.props["response_information"], str)


def test_request_response_pattern(broker, clients, uid):
    """Request/response through the broker: the responder answers on the
    Response Topic with the Correlation Data (§4.10)."""
    req_topic, resp_topic = f"req/{uid}", f"resp/{uid}"
    responder = clients.paho(broker, f"{uid}-responder")
    responder.subscribe(req_topic, qos=1)
    requester = clients.paho(broker, f"{uid}-requester")
    requester.subscribe(resp_topic, qos=1)
    requester.publish(req_topic, b"unlock", qos=1,
                      props=publish_props(ResponseTopic=resp_topic, CorrelationData=b"r-1"))
    req = responder.get()
    responder.publish(req.props["ResponseTopic"], b"unlocked", qos=1,
                      props=publish_props(CorrelationData=req.props["CorrelationData"]))
    resp = requester.get()
    assert (resp.payload, resp.props.get("CorrelationData")) == (b"unlocked", b"r-1")


def test_request_problem_information_zero(broker, clients, uid):
    """Request Problem Information 0: no Reason String or User Property on
    packets other than PUBLISH, CONNACK, DISCONNECT [MQTT-3.1.2-29], even
    on failure codes (UNSUBACK 0x11, PUBACK 0x10)."""
    c = clients.raw(broker)
    c.connect(uid, props={"request_problem_information": 0})
    sub = c.subscribe(f"ok/{uid}", qos=1)
    unsub = c.unsubscribe(f"never/{uid}")
    puback = c.publish(f"nobody/{uid}", b"x", qos=1)
    for p in (sub, unsub, puback):
        assert "reason_string" not in p.props and "user_property" not in p.props, p


# ---------------------------------------------------------------- enhanced authentication

def test_unknown_authentication_method_refused(broker, clients, uid):
    """An Authentication Method the server does not support: CONNACK 0x8C
    (Bad authentication method) and close [MQTT-4.12.0-1]; no AUTH is sent."""
    c = clients.raw(broker)
    ack = c.connect(uid, props={"authentication_method": "SCRAM-SHA-256",
                                "authentication_data": b"client-first"})
    assert ack.type == w.CONNACK and ack.reason_code == 0x8C, ack
    assert c.wait_closed() == []


def test_auth_packet_without_method_is_protocol_error(broker, clients, uid):
    """AUTH from a client that gave no Authentication Method in CONNECT
    [MQTT-4.12.0-7]: the server closes the connection, with DISCONNECT 0x82
    (Protocol Error) or 0x8C (Bad authentication method)."""
    c = clients.raw(broker)
    c.connect(uid)
    c.send(w.auth_packet(0x19, {"authentication_method": "SCRAM-SHA-256"}))
    got = c.wait_closed()
    assert [(p.type, p.reason_code in (0x82, 0x8C)) for p in got] == [(w.DISCONNECT, True)], got


# ---------------------------------------------------------------- topic alias (outbound)

def test_outbound_topic_aliases_within_client_maximum(broker, clients, uid):
    """With Topic Alias Maximum 2 in CONNECT, any alias the server uses is
    1..2 [MQTT-3.1.2-26, MQTT-3.3.2-11] and resolves to the right topic
    (the raw client resolves aliases and fails on unknown ones)."""
    base = f"oalias/{uid}"
    c = clients.raw(broker)
    c.connect(uid, props={"topic_alias_maximum": 2})
    c.subscribe(f"{base}/#", qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    topics = [f"{base}/{k}" for k in "abcabcaab"]
    for i, t in enumerate(topics):
        pub.publish(t, f"{i}".encode(), qos=1)
    got = [c.recv_publish() for _ in topics]
    assert [(p.topic, p.payload) for p in got] == [(t, f"{i}".encode()) for i, t in enumerate(topics)]
    for p in got:
        alias = p.props.get("topic_alias")
        assert alias is None or 1 <= alias <= 2, p


def test_no_outbound_topic_alias_without_client_maximum(broker, clients, uid):
    """No Topic Alias Maximum in CONNECT: the server sends no aliases
    [MQTT-3.1.2-27]."""
    topic = f"oalias/{uid}"
    c = clients.raw(broker)
    c.connect(uid)
    c.subscribe(topic, qos=0)
    pub = clients.paho(broker, f"{uid}-p")
    for i in range(3):
        pub.publish(topic, b"x", qos=0)
    for _ in range(3):
        p = c.recv_publish()
        assert "topic_alias" not in p.props and p.topic == topic, p


# ---------------------------------------------------------------- inbound flow control

def test_max_awaiting_rel(small_packets, clients, uid):
    """mqtt.max_awaiting_rel = 2: a third QoS 2 PUBLISH awaiting PUBREL is
    refused with 0x93 (Receive Maximum exceeded), in a PUBREC as EMQX does or
    as a DISCONNECT (§3.3.4); it is not delivered."""
    topic = f"awrel/{uid}"
    sub = clients.paho(small_packets, f"{uid}-s")
    sub.subscribe(topic, qos=2)
    c = clients.raw(small_packets)
    c.connect(f"{uid}-p")
    for pid in (1, 2):
        c.send(w.publish_packet(topic, f"m{pid}".encode(), qos=2, packet_id=pid))
        assert c.expect(w.PUBREC, packet_id=pid).reason_code == 0
    c.send(w.publish_packet(topic, b"m3", qos=2, packet_id=3))
    p = c.recv()
    assert p is not None and p.type in (w.PUBREC, w.DISCONNECT) and p.reason_code == 0x93, p
    if p.type == w.PUBREC:
        for pid in (1, 2):
            c.send(w.ack_packet(w.PUBREL, pid))
            c.expect(w.PUBCOMP, packet_id=pid)
        got = [m.payload for m in sub.get_n(2)]
        assert got == [b"m1", b"m2"]
        c.publish(topic, b"marker", qos=1)
        assert sub.get().payload == b"marker"


@pytest.mark.parametrize("reason", [0x00, 0x04, 0x80, 0x81])
def test_client_disconnect_reason_codes_accepted(broker, clients, uid, reason):
    """A client may close with any DISCONNECT reason code in the table
    (§3.14.2.1); the server just closes, and only 0x00 suppresses the will
    [MQTT-3.14.4-3]."""
    topic = f"dr/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1)
    c = clients.raw(broker)
    c.connect(f"{uid}-c", will=w.Will(topic, b"will", qos=1))
    c.send(w.disconnect_packet(reason))
    assert c.wait_closed() == []
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"marker", qos=1)
    got = [m.payload for m in sub.get_until(lambda m: m.payload == b"marker")]
    if reason == 0x00:
        assert got == [b"marker"]
    else:
        # The will is sent when the server handles the close, which may come
        # after the marker: only check it shows up.
        assert b"will" in got or sub.get(10).payload == b"will"


def test_subscription_identifier_from_publisher_not_forwarded(broker, clients, uid):
    """A client must not put a Subscription Identifier in PUBLISH
    [MQTT-3.3.4-6]. Whether the server refuses the PUBLISH or ignores the
    property, subscribers never see the publisher's value as theirs."""
    topic = f"sidpub/{uid}"
    sub = clients.raw(broker)
    sub.connect(f"{uid}-s")
    sub.subscribe(topic, qos=1)
    pub = clients.raw(broker)
    pub.connect(f"{uid}-p")
    pub.send(w.publish_packet(topic, b"x", qos=1, packet_id=1, props={"subscription_identifier": 99}))
    p = pub.recv()
    if p is not None and p.type == w.PUBACK and p.reason_code < 0x80:
        got = sub.recv_publish()
        assert "subscription_identifier" not in got.props, got
    marker = clients.paho(broker, f"{uid}-m")
    marker.publish(topic, b"marker", qos=1)
    while True:
        got = sub.recv_publish()
        assert "subscription_identifier" not in got.props, got
        if got.payload == b"marker":
            break


def test_retained_too_big_for_client_skipped(broker, clients, uid):
    """Retained messages bigger than the client's Maximum Packet Size are
    not sent on subscribe [MQTT-3.1.2-24, MQTT-3.1.2-25]; smaller ones are."""
    base = f"retbig/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(f"{base}/big", b"B" * 1000, qos=1, retain=True)
    pub.publish(f"{base}/small", b"s", qos=1, retain=True)
    c = clients.raw(broker)
    c.connect(f"{uid}-s", props={"maximum_packet_size": 200})
    c.subscribe(f"{base}/#", qos=1)
    pub.publish(f"{base}/marker", b"m", qos=1)
    got = []
    while True:
        p = c.recv_publish()
        if p.topic == f"{base}/marker":
            break
        got.append(p.topic)
    assert got == [f"{base}/small"], got
    pub.publish(f"{base}/big", b"", qos=1, retain=True)
    pub.publish(f"{base}/small", b"", qos=1, retain=True)


def test_outbound_alias_not_reused_after_reconnect(broker, clients, uid):
    """Topic aliases die with the connection [MQTT-3.3.2-7]: a PUBLISH resent
    on a new connection must carry its topic (or set up an alias anew), even
    if the old connection had learned an alias for it."""
    topic = f"oalias-resume/{uid}"
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60, "topic_alias_maximum": 5})
    c.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"one", qos=1)
    pub.publish(topic, b"two", qos=1)
    first = c.recv_publish()            # acked
    second = c.expect(w.PUBLISH)        # left unacknowledged
    assert (first.topic, second.topic) == (topic, topic)
    c.abort()
    c2 = clients.raw(broker)            # a fresh alias table on the client side
    assert c2.connect(uid, clean=False, props={"session_expiry_interval": 0,
                                                "topic_alias_maximum": 5}).session_present
    again = c2.recv_publish()           # ProtocolError here if an old alias is used
    if again.payload == b"one":
        # abort() sends an RST, which may discard the PUBACK for "one" before
        # the broker reads it; then "one" is resent too, equally with its topic.
        assert (again.topic, again.dup) == (topic, True), again
        again = c2.recv_publish()
    assert (again.topic, again.payload, again.dup) == (topic, b"two", True), again


def test_outbound_alias_not_committed_for_dropped_message(broker, clients, uid):
    """A message dropped for the client's Maximum Packet Size must not leave
    an alias behind that the client never learned [MQTT-3.1.2-25,
    MQTT-3.3.2-7]: the next message on that topic still resolves."""
    topic = f"oalias-drop/{uid}"
    c = clients.raw(broker)
    c.connect(uid, props={"maximum_packet_size": 300, "topic_alias_maximum": 5})
    c.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"L" * 1000, qos=1)   # dropped for this client
    pub.publish(topic, b"fits", qos=1)
    pub.publish(topic, b"fits too", qos=1)
    got = [c.recv_publish() for _ in range(2)]
    assert [(p.topic, p.payload) for p in got] == [(topic, b"fits"), (topic, b"fits too")]
