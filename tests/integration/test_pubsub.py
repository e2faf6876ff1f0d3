"""PUBLISH / SUBSCRIBE / UNSUBSCRIBE: QoS flows, topic matching,
subscription options, subscription identifiers, topic aliases."""

import uuid

import pytest

import mqtt_wire as w
from helpers import assert_no_message, sync_barrier
from paho_sync import MQTTv5, MQTTv311

VERSIONS = [pytest.param(MQTTv311, id="v311"), pytest.param(MQTTv5, id="v5")]


# ---------------------------------------------------------------- QoS

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("pub_qos", [0, 1, 2])
@pytest.mark.parametrize("sub_qos", [0, 1, 2])
def test_qos_matrix(broker, clients, uid, version, pub_qos, sub_qos):
    """A message is delivered at min(published QoS, granted QoS)
    [MQTT-3.8.4-8 (5.0), MQTT-3.8.4-6 (3.1.1)], with the payload unchanged."""
    topic = f"qos/{uid}"
    sub = clients.paho(broker, f"{uid}-s", version)
    assert sub.subscribe(topic, qos=sub_qos) == [sub_qos]
    pub = clients.paho(broker, f"{uid}-p", version)
    payload = f"q{pub_qos}->{sub_qos}".encode()
    pub.publish(topic, payload, qos=pub_qos)
    m = sub.get()
    assert (m.topic, m.payload, m.qos, m.retain) == (topic, payload, min(pub_qos, sub_qos), False)


def test_qos1_publish_acknowledged(broker, clients, uid):
    """QoS 1: PUBACK with the PUBLISH's packet id [MQTT-4.3.2-4]; reason
    0x00, or 0x10 (No matching subscribers) when nobody subscribed
    [MQTT-3.4.2-1]."""
    c = clients.raw(broker)
    c.connect(uid)
    c.send(w.publish_packet(f"nobody/{uid}", b"x", qos=1, packet_id=4242))
    ack = c.expect(w.PUBACK)
    assert ack.packet_id == 4242 and ack.reason_code in (0x00, 0x10), ack


def test_qos2_inbound_flow_and_no_duplicate(broker, clients, uid):
    """QoS 2 from a client: PUBREC [MQTT-4.3.3-8]; a re-sent PUBLISH (DUP)
    before PUBREL is acknowledged with PUBREC again and not delivered twice
    [MQTT-4.3.3-10]; PUBREL gets PUBCOMP [MQTT-4.3.3-11]."""
    topic = f"q2in/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=2)
    c = clients.raw(broker)
    c.connect(f"{uid}-p")
    c.send(w.publish_packet(topic, b"once", qos=2, packet_id=77))
    assert c.expect(w.PUBREC).packet_id == 77
    c.send(w.publish_packet(topic, b"once", qos=2, packet_id=77, dup=True))
    assert c.expect(w.PUBREC).packet_id == 77
    c.send(w.ack_packet(w.PUBREL, 77))
    comp = c.expect(w.PUBCOMP)
    assert comp.packet_id == 77 and comp.reason_code == 0, comp
    # The same id after PUBCOMP is a new message [MQTT-4.3.3-12].
    c.send(w.publish_packet(topic, b"twice", qos=2, packet_id=77))
    c.expect(w.PUBREC, packet_id=77)
    c.send(w.ack_packet(w.PUBREL, 77))
    c.expect(w.PUBCOMP, packet_id=77)
    got = sub.get_n(2)
    assert [m.payload for m in got] == [b"once", b"twice"]
    assert_no_message(sub)


def test_qos2_outbound_flow(broker, clients, uid):
    """QoS 2 to a client: PUBLISH with a non-zero packet id [MQTT-2.2.1-4]
    and DUP 0; after PUBREC the server sends PUBREL with that id
    [MQTT-4.3.3-4] and completes on PUBCOMP."""
    topic = f"q2out/{uid}"
    c = clients.raw(broker)
    c.connect(f"{uid}-s")
    c.subscribe(topic, qos=2)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"exactly-once", qos=2)
    p = c.expect(w.PUBLISH)
    assert (p.qos, p.dup, p.payload) == (2, False, b"exactly-once") and p.packet_id, p
    c.send(w.ack_packet(w.PUBREC, p.packet_id))
    rel = c.expect(w.PUBREL)
    assert rel.packet_id == p.packet_id and rel.flags == 0x02, rel
    c.send(w.ack_packet(w.PUBCOMP, p.packet_id))
    # The flow is complete: the connection still works and nothing is resent.
    assert c.is_open_after_ping()
    assert not [x for x in c.backlog if x.type == w.PUBLISH]


def test_qos1_outbound_needs_puback(broker, clients, uid):
    """QoS 1 to a client carries a packet id and DUP 0 [MQTT-4.3.2-2 on the
    server's side]; two messages in a row get different ids
    [MQTT-2.2.1-4]."""
    topic = f"q1out/{uid}"
    c = clients.raw(broker)
    c.connect(f"{uid}-s")
    c.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"a", qos=1)
    pub.publish(topic, b"b", qos=1)
    p1 = c.expect(w.PUBLISH)
    p2 = c.expect(w.PUBLISH)
    assert (p1.payload, p2.payload) == (b"a", b"b")
    assert p1.packet_id and p2.packet_id and p1.packet_id != p2.packet_id
    assert not p1.dup and not p2.dup
    c.ack(p1)
    c.ack(p2)


def test_order_per_publisher_kept(broker, clients, uid):
    """Messages from one client on one topic arrive in publish order, per QoS
    [MQTT-4.6.0-5, MQTT-4.6.0-6]."""
    topic = f"order/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=2)
    pub = clients.paho(broker, f"{uid}-p")
    for qos in (0, 1, 2):
        for i in range(20):
            pub.publish(topic, f"{qos}:{i}".encode(), qos=qos, wait=False)
    got = sub.get_n(60, timeout=30)
    for qos in (0, 1, 2):
        seq = [int(m.text.split(":")[1]) for m in got if m.text.startswith(f"{qos}:")]
        assert seq == list(range(20)), (qos, seq)


# ---------------------------------------------------------------- topic matching

WILDCARD_CASES = [
    # filter, topics that match, topics that do not
    ("{p}/+/c", ["{p}/x/c", "{p}//c"], ["{p}/x/y/c", "{p}/c", "{p}/x/c/d"]),
    ("{p}/#", ["{p}", "{p}/a", "{p}/a/b/c", "{p}/"], ["{p}x", "other/{p}"]),
    ("{p}/a/#", ["{p}/a", "{p}/a/b"], ["{p}/b", "{p}/ab"]),
    ("{p}/+", ["{p}/a", "{p}/"], ["{p}", "{p}/a/b"]),
    ("+/{p}/+", ["x/{p}/y"], ["{p}/y", "x/{p}/y/z"]),
    ("{p}/+/+/d", ["{p}/b/c/d"], ["{p}/b/d", "{p}/b/c/d/e"]),
    ("{p}/+/+", ["{p}//", "{p}/a/", "{p}//b"], ["{p}/", "{p}/a", "{p}///"]),
]


@pytest.mark.parametrize("filt,match,nomatch", WILDCARD_CASES, ids=[c[0] for c in WILDCARD_CASES])
def test_wildcards(broker, clients, uid, filt, match, nomatch):
    """'+' matches exactly one level, empty levels included [MQTT-4.7.1-2];
    '#' matches any number of levels including the parent [MQTT-4.7.1-1];
    matching is exact, with no normalisation [MQTT-4.7.3-4]."""
    p = f"wc{uuid.uuid4().hex[:10]}"
    f = filt.format(p=p)
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(f, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    topics = [t.format(p=p) for t in nomatch + match]
    for t in topics:
        pub.publish(t, t.encode(), qos=1)
    got = sub.get_n(len(match))
    assert sorted(m.topic for m in got) == sorted(t.format(p=p) for t in match)
    # Barrier on the last matching topic: non-matching messages published
    # earlier would have arrived by now.
    sync_barrier(pub, sub, match[-1].format(p=p))
    assert_no_message(sub, 0.2)


def test_dollar_topics_not_matched_by_leading_wildcards(broker_factory, clients, uid):
    """'#' and '+/...' do not match topics starting with '$'
    [MQTT-4.7.2-1]; '$SYS/#' does. Uses $SYS statistics published every
    second by a broker of the test's own (so '#' sees only this test)."""
    b = broker_factory(env={"ROADMQ_SYS_TOPICS__SYS_MSG_INTERVAL": "1s"})
    hash_sub = clients.paho(b, f"{uid}-hash")
    hash_sub.subscribe(["#", "+/brokers/#", "+/+/+/uptime"], qos=0)
    sys_sub = clients.paho(b, f"{uid}-sys")
    sys_sub.subscribe("$SYS/#", qos=0)
    # Two rounds of $SYS after both subscriptions exist.
    sys_sub.get_until(lambda m: m.topic.endswith("/uptime"), timeout=15)
    sys_sub.get_until(lambda m: m.topic.endswith("/uptime"), timeout=15)
    pub = clients.paho(b, f"{uid}-p")
    sync_barrier(pub, hash_sub, f"plain/{uid}")
    leaked = [m.topic for m in hash_sub.drain() if m.topic.startswith("$")]
    assert leaked == [], f"wildcard filters matched $ topics: {leaked}"


def test_overlapping_subscriptions(broker, clients, uid):
    """Overlapping subscriptions: the server delivers at the maximum QoS of
    the matching subscriptions [MQTT-3.3.4-2], either as one copy carrying
    every Subscription Identifier [MQTT-3.3.4-3, MQTT-3.3.4-4] or as one copy
    per subscription (EMQX's way), each with its own identifier."""
    base = f"ovl/{uid}"
    c = clients.raw(broker)
    c.connect(f"{uid}-s")
    assert c.subscribe((f"{base}/#", 1), props={"subscription_identifier": 11}).reason_codes == [1]
    assert c.subscribe((f"{base}/a", 2), props={"subscription_identifier": 22}).reason_codes == [2]
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(f"{base}/a", b"both", qos=2)
    pub.publish(f"{base}/z", b"marker", qos=1)
    got = []
    while True:
        p = c.recv_publish()
        if p.payload == b"marker":
            break
        got.append(p)
    assert got and all(p.payload == b"both" for p in got), got
    assert max(p.qos for p in got) == 2, got
    ids = sorted(i for p in got for i in p.props.get("subscription_identifier", []))
    if len(got) == 1:
        assert ids == [11, 22], got
    else:
        assert len(got) == 2 and ids == [11, 22], got
        assert sorted((p.qos, p.props["subscription_identifier"][0]) for p in got) == [(1, 11), (2, 22)]


def test_overlapping_subscriptions_v311(broker, clients, uid):
    """3.1.1 overlapping subscriptions: at least one copy at the maximum
    granted QoS [MQTT-3.3.5-1 (3.1.1)]; further copies allowed. (A raw
    client, so copies are seen in wire order; paho reports QoS 2 late.)"""
    base = f"ovl311/{uid}"
    c = clients.raw(broker, w.MQTT311)
    c.connect(f"{uid}-s")
    assert c.subscribe((f"{base}/#", 0)).reason_codes == [0]
    assert c.subscribe((f"{base}/+", 2)).reason_codes == [2]
    pub = clients.paho(broker, f"{uid}-p", MQTTv311)
    pub.publish(f"{base}/a", b"both", qos=2)
    pub.publish(f"{base}/z", b"marker", qos=1)
    got = []
    while True:
        p = c.recv_publish()
        if p.payload == b"marker":
            break
        got.append(p)
    assert 1 <= len(got) <= 2 and all(p.payload == b"both" for p in got), got
    assert max(p.qos for p in got) == 2, got


def test_subscribe_replaces_existing(broker, clients, uid):
    """Subscribing again to the same filter replaces the subscription (new
    QoS, one delivery) [MQTT-3.8.4-3]."""
    topic = f"repl/{uid}"
    c = clients.raw(broker)
    c.connect(f"{uid}-s")
    assert c.subscribe(topic, qos=2).reason_codes == [2]
    assert c.subscribe(topic, qos=1).reason_codes == [1]
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"m", qos=2)
    pub.publish(topic, b"marker", qos=2)
    p = c.recv_publish()
    assert (p.payload, p.qos) == (b"m", 1), p
    assert c.recv_publish().payload == b"marker"


def test_subscribe_multiple_filters_one_suback(broker, clients, uid):
    """One SUBSCRIBE with several filters: one SUBACK with a code per filter
    in the same order [MQTT-3.8.4-5, MQTT-3.8.4-6, MQTT-3.9.3-1]."""
    c = clients.raw(broker)
    c.connect(uid)
    ack = c.subscribe((f"m/{uid}/a", 2), (f"m/{uid}/b", 0), (f"m/{uid}/+", 1), (f"m/{uid}/#", 2))
    assert ack.reason_codes == [2, 0, 1, 2], ack


def refused_filter(c, topic_filter):
    """SUBSCRIBE one bad filter; return what the broker did. Accepted forms:
    SUBACK 0x8F for the filter (connection stays), or DISCONNECT 0x8F / 0x81 /
    0x82 and close (EMQX rejects the whole packet with DISCONNECT 0x8F)."""
    c.send(w.subscribe_packet(9, [(topic_filter, 0)]))
    p = c.recv()
    if p is not None and p.type == w.SUBACK:
        assert p.reason_codes == [0x8F], p
        assert c.is_open_after_ping()
        return "suback"
    assert p is None or (p.type == w.DISCONNECT and p.reason_code in (0x8F, 0x81, 0x82)), p
    c.wait_closed()
    return "closed"


@pytest.mark.parametrize("bad", ["a/#/b", "a#", "a/b+", "+a/b", "$share/g", "$share//t",
                                 "$share/g+/t", "$share/g/a/#/b"])
def test_invalid_filters_refused(broker, clients, uid, bad):
    """Malformed filters [MQTT-4.7.1-1, MQTT-4.7.1-2, MQTT-4.8.2-1,
    MQTT-4.8.2-2] are never granted: SUBACK 0x8F, or DISCONNECT 0x8F and
    close (EMQX); other clients are unaffected."""
    c = clients.raw(broker)
    c.connect(uid)
    refused_filter(c, bad)
    other = clients.raw(broker)
    other.connect(f"{uid}-other")
    assert other.subscribe(f"fine/{uid}", qos=1).reason_codes == [1]


def test_v311_invalid_filter_refused(broker, clients, uid):
    """3.1.1: an invalid filter gets SUBACK 0x80 (failure) or the connection
    is closed [MQTT-4.7.1-1 / 4.8 of 3.1.1]; other clients are unaffected."""
    c = clients.raw(broker, w.MQTT311)
    c.connect(uid)
    c.send(w.subscribe_packet(3, [("a/#/b", 0)], w.MQTT311))
    p = c.recv()
    if p is not None:
        assert p.type == w.SUBACK and p.reason_codes == [0x80], p


# ---------------------------------------------------------------- subscription options

def test_no_local(broker, clients, uid):
    """No Local = 1: the client's own messages are not sent back to it
    [MQTT-3.8.3-3]; other subscribers still get them."""
    topic = f"nl/{uid}"
    me = clients.paho(broker, f"{uid}-me")
    me.subscribe(topic, qos=1, no_local=True)
    other = clients.paho(broker, f"{uid}-other")
    other.subscribe(topic, qos=1)
    me.publish(topic, b"mine", qos=1)
    assert other.get().payload == b"mine"
    other.publish(topic, b"theirs", qos=1)
    assert me.get().payload == b"theirs"
    assert_no_message(me, 0.3)


def test_retain_as_published(broker, clients, uid):
    """Live retained messages: Retain As Published = 0 clears RETAIN
    [MQTT-3.3.1-12]; = 1 keeps it [MQTT-3.3.1-13]."""
    topic = f"rap/{uid}"
    keep = clients.paho(broker, f"{uid}-keep")
    keep.subscribe(topic, qos=1, retain_as_published=True, retain_handling=2)
    clear = clients.paho(broker, f"{uid}-clear")
    clear.subscribe(topic, qos=1, retain_as_published=False, retain_handling=2)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"r", qos=1, retain=True)
    pub.publish(topic, b"n", qos=1, retain=False)
    assert [(m.payload, m.retain) for m in keep.get_n(2)] == [(b"r", True), (b"n", False)]
    assert [(m.payload, m.retain) for m in clear.get_n(2)] == [(b"r", False), (b"n", False)]
    pub.publish(topic, b"", qos=1, retain=True)  # clean up the retained message


def test_v311_live_retained_flag_cleared(broker, clients, uid):
    """3.1.1: a message matching an established subscription is sent with
    RETAIN 0 whatever the publisher set [MQTT-3.3.1-9 (3.1.1)]."""
    topic = f"rap311/{uid}"
    sub = clients.paho(broker, f"{uid}-s", MQTTv311)
    sub.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p", MQTTv311)
    pub.publish(topic, b"r", qos=1, retain=True)
    m = sub.get()
    assert (m.payload, m.retain) == (b"r", False)
    pub.publish(topic, b"", qos=1, retain=True)


def test_subscription_identifiers(broker, clients, uid):
    """A Subscription Identifier is returned in every PUBLISH matching that
    subscription [MQTT-3.3.4-3]; none for a subscription without one;
    re-subscribing replaces it [MQTT-3.8.4-3]."""
    base = f"sid/{uid}"
    c = clients.raw(broker)
    ack = c.connect(uid)
    assert ack.props.get("subscription_identifier_available", 1) == 1
    c.subscribe((f"{base}/a/+", 1), props={"subscription_identifier": 7})
    c.subscribe((f"{base}/b", 1))
    c.subscribe((f"{base}/big", 1), props={"subscription_identifier": 268435455})
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(f"{base}/a/x", b"1", qos=1)
    pub.publish(f"{base}/b", b"2", qos=1)
    pub.publish(f"{base}/big", b"3", qos=1)
    p1, p2, p3 = c.recv_publish(), c.recv_publish(), c.recv_publish()
    assert p1.props.get("subscription_identifier") == [7], p1
    assert "subscription_identifier" not in p2.props, p2
    assert p3.props.get("subscription_identifier") == [268435455], p3
    c.subscribe((f"{base}/a/+", 1), props={"subscription_identifier": 9})
    pub.publish(f"{base}/a/y", b"4", qos=1)
    assert c.recv_publish().props.get("subscription_identifier") == [9]


def test_subscription_identifier_zero_is_protocol_error(broker, clients, uid):
    """Subscription Identifier 0 is a Protocol Error (§3.8.2.1.2): DISCONNECT
    0x82 (0x81, or EMQX's 0xA1) and close [MQTT-4.13.1-1]."""
    c = clients.raw(broker)
    c.connect(uid)
    c.send(w.subscribe_packet(1, [(f"sid0/{uid}", 0)], props={"subscription_identifier": 0}))
    got = c.wait_closed()
    # EMQX answers 0xA1 (Subscription Identifiers not supported).
    assert [(p.type, p.reason_code in (0x81, 0x82, 0xA1)) for p in got] == [(w.DISCONNECT, True)], got


# ---------------------------------------------------------------- unsubscribe

def test_unsubscribe_reason_codes(broker, clients, uid):
    """UNSUBACK has a code per filter in order [MQTT-3.11.3-1]: 0x00 for a
    removed subscription, 0x11 (No subscription existed) otherwise
    [MQTT-3.11.3-2]; matching is exact, wildcards included [MQTT-3.10.4-1]."""
    base = f"unsub/{uid}"
    c = clients.raw(broker)
    c.connect(uid)
    c.subscribe(f"{base}/a", f"{base}/+", qos=1)
    ack = c.unsubscribe(f"{base}/a", f"{base}/nope", f"{base}/+", f"{base}/#")
    assert ack.reason_codes == [0x00, 0x11, 0x00, 0x11], ack
    assert c.unsubscribe(f"{base}/a").reason_codes == [0x11]


def test_unsubscribe_stops_delivery(broker, clients, uid):
    """After UNSUBACK no new messages for the filter are delivered
    [MQTT-3.10.4-2]; other subscriptions of the session keep working."""
    base = f"unsub2/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe([f"{base}/gone", f"{base}/kept"], qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(f"{base}/gone", b"before", qos=1)
    assert sub.get().payload == b"before"
    assert sub.unsubscribe(f"{base}/gone") == [0]
    pub.publish(f"{base}/gone", b"after", qos=1)
    pub.publish(f"{base}/kept", b"marker", qos=1)
    assert [m.payload for m in sub.get_until(lambda m: m.payload == b"marker")] == [b"marker"]


def test_v311_unsuback(broker, clients, uid):
    """3.1.1 UNSUBACK is just the packet id, sent even if nothing was
    subscribed [MQTT-3.10.4-4, MQTT-3.10.4-5 (3.1.1)]."""
    c = clients.raw(broker, w.MQTT311)
    c.connect(uid)
    ack = c.unsubscribe(f"never/{uid}")
    assert ack.raw == bytes([0xB0, 0x02]) + ack.packet_id.to_bytes(2, "big"), ack


# ---------------------------------------------------------------- topic alias (inbound)

def test_topic_alias_inbound(broker, clients, uid):
    """A client maps alias 1 to a topic, then publishes with an empty topic
    and the alias: subscribers see the full topic [MQTT-3.3.2-12]; an alias
    can be remapped."""
    t1, t2 = f"alias/{uid}/one", f"alias/{uid}/two"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(f"alias/{uid}/#", qos=1)
    c = clients.raw(broker)
    ack = c.connect(f"{uid}-p")
    assert ack.props.get("topic_alias_maximum", 0) >= 2
    c.publish(t1, b"a", qos=1, props={"topic_alias": 1})
    c.publish("", b"b", qos=1, props={"topic_alias": 1})
    c.publish(t2, b"c", qos=1, props={"topic_alias": 1})  # remap
    c.publish("", b"d", qos=1, props={"topic_alias": 1})
    got = sub.get_n(4)
    assert [(m.topic, m.payload) for m in got] == [(t1, b"a"), (t1, b"b"), (t2, b"c"), (t2, b"d")]
    # The alias is the sender's business: it is not forwarded.
    assert all("TopicAlias" not in m.props for m in got)


def test_topic_alias_zero_invalid(broker, clients, uid):
    """Topic Alias 0 is not allowed [MQTT-3.3.2-8]: DISCONNECT 0x94 and
    close [MQTT-4.13.1-1]."""
    c = clients.raw(broker)
    c.connect(uid)
    c.send(w.publish_packet(f"alias0/{uid}", b"x", props={"topic_alias": 0}))
    got = c.wait_closed()
    # EMQX answers 0x94 (Topic Alias invalid); 0x82 (Protocol Error) is the
    # other reading of §3.3.2.3.4.
    assert [(p.type, p.reason_code in (0x94, 0x82)) for p in got] == [(w.DISCONNECT, True)], got


def test_topic_alias_above_maximum_invalid(broker_factory, clients, uid):
    """An alias above the Topic Alias Maximum in CONNACK: DISCONNECT 0x94
    (§3.3.2.3.4) [MQTT-3.3.2-9 violated by the client]."""
    b = broker_factory(env={"ROADMQ_MQTT__MAX_TOPIC_ALIAS": "3"})
    c = clients.raw(b)
    assert c.connect(uid).props.get("topic_alias_maximum") == 3
    c.publish(f"alias/{uid}", b"ok", qos=1, props={"topic_alias": 3})
    c.send(w.publish_packet(f"alias/{uid}", b"x", props={"topic_alias": 4}))
    got = c.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x94)], got


def test_topic_alias_unknown_is_protocol_error(broker, clients, uid):
    """An empty topic with an alias that has no mapping is a Protocol Error
    (§3.3.2.3.4): DISCONNECT 0x82."""
    c = clients.raw(broker)
    c.connect(uid)
    c.send(w.publish_packet("", b"x", props={"topic_alias": 5}))
    got = c.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x82)], got


def test_topic_alias_not_carried_across_connections(broker, clients, uid):
    """Alias mappings belong to one network connection [MQTT-3.3.2-7]: after
    reconnecting (even to the same session) the old alias is unknown."""
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 30})
    c.publish(f"alias/{uid}", b"x", qos=1, props={"topic_alias": 2})
    c.disconnect()
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False, props={"session_expiry_interval": 0}).session_present
    c2.send(w.publish_packet("", b"y", props={"topic_alias": 2}))
    got = c2.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x82)], got


def test_empty_topic_without_alias_is_protocol_error(broker, clients, uid):
    """A zero-length topic without a Topic Alias is a Protocol Error
    (§3.3.2.1, [MQTT-4.7.3-1]): the connection is closed."""
    c = clients.raw(broker)
    c.connect(uid)
    c.send(w.publish_packet("", b"x"))
    got = c.wait_closed()
    assert all(p.type == w.DISCONNECT and p.reason_code >= 0x80 for p in got), got


# ---------------------------------------------------------------- sizes and shapes

@pytest.mark.parametrize("size", [0, 1, 127, 128, 16383, 16384, 1_000_000])
def test_payload_sizes(broker, clients, uid, size):
    """Payloads across the remaining-length encoding boundaries (1, 2, 3
    bytes) up to just under mqtt.max_packet_size arrive byte for byte."""
    topic = f"size/{uid}"
    payload = bytes(i % 251 for i in range(size))
    c = clients.raw(broker)
    c.connect(f"{uid}-s")
    c.subscribe(topic, qos=1)
    pub = clients.raw(broker)
    pub.connect(f"{uid}-p")
    pub.publish(topic, payload, qos=1)
    p = c.recv_publish(timeout=30)
    assert p.topic == topic and p.payload == payload


def test_many_filters_in_one_subscribe(broker, clients, uid):
    """500 filters in one SUBSCRIBE: one SUBACK with 500 codes in order
    [MQTT-3.8.4-6, MQTT-3.9.3-1]; each filter works."""
    c = clients.raw(broker)
    c.connect(f"{uid}-s")
    filters = [(f"many/{uid}/{i}", i % 3) for i in range(500)]
    ack = c.subscribe(*filters)
    assert ack.reason_codes == [q for _, q in filters]
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(f"many/{uid}/499", b"last", qos=1)
    p = c.recv_publish()
    assert (p.topic, p.qos) == (f"many/{uid}/499", 1)


def test_unicode_topics(broker, clients, uid):
    """Topics are UTF-8 and matched without normalisation [MQTT-4.7.3-4]:
    '+' spans a multi-byte level; a different normalisation form of the
    same text is a different topic."""
    base = f"车辆/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(f"{base}/+/温度", qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(f"{base}/京A12345/温度", b"21.5", qos=1)
    pub.publish(f"{base}/cafe\u0301/温度", b"nfd", qos=1)
    got = sub.get_n(2)
    assert [(m.topic, m.payload) for m in got] == [
        (f"{base}/京A12345/温度", b"21.5"), (f"{base}/cafe\u0301/温度", b"nfd")]
    exact = clients.paho(broker, f"{uid}-x")
    exact.subscribe(f"{base}/caf\u00e9/温度", qos=1)  # NFC form: must not match the NFD topic
    pub.publish(f"{base}/cafe\u0301/温度", b"nfd-again", qos=1)
    pub.publish(f"{base}/caf\u00e9/温度", b"nfc", qos=1)
    assert exact.get().payload == b"nfc"


def test_max_topic_levels(broker_factory, clients, uid):
    """mqtt.max_topic_levels = 4: a deeper subscription is refused
    (SUBACK 0x8F, or DISCONNECT as EMQX does for invalid filters); a deeper
    PUBLISH is not routed (PUBACK 0x90 or DISCONNECT 0x90); 4 levels work."""
    b = broker_factory(env={"ROADMQ_MQTT__MAX_TOPIC_LEVELS": "4"})
    sub = clients.paho(b, f"{uid}-s")
    sub.subscribe(f"lv/{uid}/#", qos=1)
    deep_sub = clients.raw(b)
    deep_sub.connect(f"{uid}-deep")
    deep_sub.send(w.subscribe_packet(1, [(f"lv/{uid}/c/d/e", 1)]))
    p = deep_sub.recv()
    if p is not None and p.type == w.SUBACK:
        assert p.reason_codes[0] >= 0x80, p
    else:
        assert p is None or (p.type == w.DISCONNECT and p.reason_code >= 0x80), p
    pub = clients.raw(b)
    pub.connect(f"{uid}-p")
    pub.send(w.publish_packet(f"lv/{uid}/c/d/e", b"too deep", qos=1, packet_id=1))
    p = pub.recv()
    if p is not None and p.type == w.PUBACK:
        assert p.reason_code >= 0x80, p
        pub.publish(f"lv/{uid}/c/d", b"ok", qos=1)
    else:
        assert p is None or (p.type == w.DISCONNECT and p.reason_code >= 0x80), p
        ok = clients.paho(b, f"{uid}-p2")
        ok.publish(f"lv/{uid}/c/d", b"ok", qos=1)
    assert [m.payload for m in sub.get_until(lambda m: m.payload == b"ok")] == [b"ok"]


def test_longest_topic(broker, clients, uid):
    """A topic of 65535 bytes, the UTF-8 string maximum [MQTT-4.7.3-3], is
    routed like any other."""
    topic = (f"long/{uid}/" + "x" * 65535)[:65535]
    c = clients.raw(broker)
    c.connect(f"{uid}-s")
    c.subscribe(topic, qos=1)
    pub = clients.raw(broker)
    pub.connect(f"{uid}-p")
    pub.publish(topic, b"far", qos=1)
    p = c.recv_publish()
    assert p.topic == topic and p.payload == b"far"
