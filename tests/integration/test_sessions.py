"""Sessions: clean start vs persistent, offline queues, expiry, resend on
reconnect, takeover, queue bounds, flow control."""

import time

import pytest

import mqtt_wire as w
from daemon import module_broker
from paho_sync import MQTTv5, MQTTv311

# One shard makes "all PUBACKs received" imply "all messages routed to the
# subscriber's session", so counting what a session sent is exact.
small_queue = module_broker(env={
    "ROADMQ_MQTT__MAX_MQUEUE_LEN": "3",
    "ROADMQ_NODE__SHARDS": "1",
})
one_shard = module_broker(env={"ROADMQ_NODE__SHARDS": "1"})


# ---------------------------------------------------------------- clean start / persistent

def test_v5_persistent_session_resumed(broker, clients, uid):
    """Clean Start 0 with a stored session: Session Present 1 [MQTT-3.2.2-3]
    and the subscriptions are still there [MQTT-3.1.2-5, MQTT-3.1.2-23]."""
    topic = f"sess/{uid}"
    c = clients.paho(broker, uid, clean=False, session_expiry=60)
    assert c.connack.session_present is False  # no session yet [MQTT-3.1.2-6]
    c.subscribe(topic, qos=1)
    c.disconnect()
    c2 = clients.paho(broker, uid, clean=False, session_expiry=60)
    assert c2.connack.session_present is True
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"still subscribed", qos=1)
    assert c2.get().payload == b"still subscribed"


def test_v5_clean_start_discards_session(broker, clients, uid):
    """Clean Start 1 discards the stored session [MQTT-3.1.2-4]: Session
    Present 0 [MQTT-3.2.2-2] and no old subscriptions."""
    topic = f"sess/{uid}"
    c = clients.paho(broker, uid, clean=False, session_expiry=60)
    c.subscribe(topic, qos=1)
    c.disconnect()
    c2 = clients.paho(broker, uid, clean=True, session_expiry=60)
    assert c2.connack.session_present is False
    c2.subscribe(f"{topic}/marker", qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"old subscription", qos=1)
    pub.publish(f"{topic}/marker", b"marker", qos=1)
    assert [m.payload for m in c2.get_until(lambda m: m.payload == b"marker")] == [b"marker"]


def test_v311_persistent_session(broker, clients, uid):
    """3.1.1 CleanSession 0: Session Present 1 on return [MQTT-3.2.2-2
    (3.1.1)], subscriptions and QoS 1 messages kept [MQTT-3.1.2-4 (3.1.1)];
    CleanSession 1 then discards it [MQTT-3.1.2-6 (3.1.1)]."""
    topic = f"sess311/{uid}"
    c = clients.paho(broker, uid, MQTTv311, clean_session=False)
    assert c.connack.session_present is False
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = clients.paho(broker, f"{uid}-p", MQTTv311)
    pub.publish(topic, b"queued", qos=1)
    c2 = clients.paho(broker, uid, MQTTv311, clean_session=False)
    assert c2.connack.session_present is True
    assert c2.get().payload == b"queued"
    c2.disconnect()
    c3 = clients.paho(broker, uid, MQTTv311, clean_session=True)
    assert c3.connack.session_present is False


def test_v5_session_expiry_zero_ends_at_disconnect(broker, clients, uid):
    """Session Expiry Interval 0 (absent): the session ends with the network
    connection [MQTT-3.1.2-23 a contrario, MQTT-4.1.0-2]."""
    c = clients.paho(broker, uid, clean=False)
    c.subscribe(f"exp0/{uid}", qos=1)
    c.disconnect()
    c2 = clients.paho(broker, uid, clean=False)
    assert c2.connack.session_present is False


def test_v5_session_expires(broker, clients, uid):
    """A session is discarded once its expiry interval has passed after the
    disconnect [MQTT-4.1.0-2]. (The expiry raises no event a client can
    observe, so the test waits past it.)"""
    c = clients.paho(broker, uid, clean=False, session_expiry=1)
    c.subscribe(f"exp/{uid}", qos=1)
    c.disconnect()
    time.sleep(3.0)
    c2 = clients.paho(broker, uid, clean=False, session_expiry=1)
    assert c2.connack.session_present is False


def test_v5_session_kept_within_expiry(broker, clients, uid):
    """Within the expiry interval the session is still there
    [MQTT-3.1.2-23]."""
    c = clients.paho(broker, uid, clean=False, session_expiry=30)
    c.disconnect()
    time.sleep(1.0)
    c2 = clients.paho(broker, uid, clean=False, session_expiry=0)
    assert c2.connack.session_present is True


def test_v5_disconnect_can_shorten_expiry(broker, clients, uid):
    """Session Expiry Interval 0 in DISCONNECT ends the session at once
    (§3.14.2.2.2)."""
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60})
    c.disconnect(0, props={"session_expiry_interval": 0})
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False).session_present is False


def test_v5_disconnect_expiry_after_zero_is_protocol_error(broker, clients, uid):
    """CONNECT with expiry 0 and DISCONNECT with a non-zero expiry is a
    Protocol Error (§3.14.2.2.2): the session is not kept, and the will
    (this not being a normal disconnect) is published."""
    will_topic = f"exp-will/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(will_topic, qos=1)
    c = clients.raw(broker)
    c.connect(uid, clean=False, will=w.Will(will_topic, b"protocol error", qos=1))
    c.send(w.disconnect_packet(0, props={"session_expiry_interval": 60}))
    got = c.wait_closed()
    assert all(p.type == w.DISCONNECT and p.reason_code == 0x82 for p in got), got
    assert sub.get().payload == b"protocol error"
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False).session_present is False


# ---------------------------------------------------------------- offline queue

@pytest.mark.parametrize("version", [pytest.param(MQTTv311, id="v311"), pytest.param(MQTTv5, id="v5")])
def test_offline_messages_delivered_on_reconnect(broker, clients, uid, version):
    """Messages for an offline persistent session are queued and delivered
    in order on reconnect [MQTT-4.5.0-1, MQTT-4.6.0-5]: QoS 1 and 2 always,
    QoS 0 too (mqtt.mqueue_store_qos0 = true, as in EMQX)."""
    topic = f"offline/{uid}"
    kw = {"session_expiry": 60} if version == MQTTv5 else {}
    c = clients.paho(broker, uid, version, clean_session=False, clean=False, **kw)
    c.subscribe(topic, qos=2)
    c.disconnect()
    pub = clients.paho(broker, f"{uid}-p", version)
    sent = []
    for i in range(9):
        qos = i % 3
        payload = f"m{i}-q{qos}".encode()
        pub.publish(topic, payload, qos=qos)
        sent.append((payload, qos))
    c2 = clients.paho(broker, uid, version, clean_session=False, clean=False, **kw)
    assert c2.connack.session_present is True
    got = c2.get_n(len(sent))
    # paho reports a QoS 2 message only when PUBREL arrives, so compare the
    # order per QoS (what [MQTT-4.6.0-5] promises) and the whole set.
    assert sorted((m.payload, m.qos) for m in got) == sorted(sent)
    for qos in (0, 1, 2):
        assert [m.payload for m in got if m.qos == qos] == [p for p, q in sent if q == qos]


def test_unacked_qos1_resent_with_dup_on_reconnect(broker, clients, uid):
    """A QoS 1 PUBLISH not acknowledged before the connection dropped is
    resent on reconnect with its original packet id [MQTT-4.4.0-1] and DUP
    set [MQTT-3.3.1-1]."""
    topic = f"dup1/{uid}"
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60})
    c.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"ack me", qos=1)
    first = c.expect(w.PUBLISH)
    assert not first.dup
    c.abort()
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False, props={"session_expiry_interval": 60}).session_present
    again = c2.expect(w.PUBLISH)
    assert (again.payload, again.packet_id, again.dup, again.qos) == (b"ack me", first.packet_id, True, 1), again
    c2.ack(again)
    # Acknowledged now: a third connection gets nothing more.
    c2.disconnect()
    c3 = clients.raw(broker)
    c3.connect(uid, clean=False, props={"session_expiry_interval": 0})
    pub.publish(topic, b"marker", qos=1)
    assert c3.recv_publish().payload == b"marker"


def test_unacked_pubrel_resent_on_reconnect(broker, clients, uid):
    """QoS 2 to a client that sent PUBREC but not PUBCOMP: on reconnect the
    server resends PUBREL with the original id [MQTT-4.4.0-1] and does not
    resend the PUBLISH [MQTT-4.3.3-6]."""
    topic = f"dup2/{uid}"
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60})
    c.subscribe(topic, qos=2)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"exactly once", qos=2)
    p = c.expect(w.PUBLISH)
    c.send(w.ack_packet(w.PUBREC, p.packet_id))
    c.expect(w.PUBREL, packet_id=p.packet_id)
    c.abort()
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False, props={"session_expiry_interval": 0}).session_present
    first = c2.recv()
    assert first is not None and (first.type, first.packet_id) == (w.PUBREL, p.packet_id), first
    c2.send(w.ack_packet(w.PUBCOMP, p.packet_id))
    assert c2.is_open_after_ping()
    assert not [x for x in c2.backlog if x.type == w.PUBLISH], c2.backlog


def test_inbound_qos2_state_survives_reconnect(broker, clients, uid):
    """Inbound QoS 2 awaiting PUBREL is session state: after reconnecting,
    the client's PUBREL completes it with PUBCOMP and the message is
    delivered exactly once [MQTT-4.3.3-10, MQTT-4.4.0-1]."""
    topic = f"q2state/{uid}"
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=2)
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60})
    c.send(w.publish_packet(topic, b"one", qos=2, packet_id=9))
    c.expect(w.PUBREC, packet_id=9)
    c.abort()
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False, props={"session_expiry_interval": 0}).session_present
    # A client resending the PUBLISH (DUP) is answered with PUBREC again.
    c2.send(w.publish_packet(topic, b"one", qos=2, packet_id=9, dup=True))
    c2.expect(w.PUBREC, packet_id=9)
    c2.send(w.ack_packet(w.PUBREL, 9))
    assert c2.expect(w.PUBCOMP, packet_id=9).reason_code == 0
    c2.publish(topic, b"marker", qos=1)
    assert [m.payload for m in sub.get_until(lambda m: m.payload == b"marker")] == [b"one", b"marker"]


# ---------------------------------------------------------------- takeover

def test_v5_takeover_disconnects_old_connection(broker, clients, uid):
    """A second connection with the same client id takes over: the old 5.0
    connection gets DISCONNECT 0x8E (Session taken over) and is closed
    [MQTT-3.1.4-3]; the session (subscriptions) moves to the new one."""
    topic = f"takeover/{uid}"
    old = clients.raw(broker)
    old.connect(uid, clean=False, props={"session_expiry_interval": 60})
    old.subscribe(topic, qos=1)
    new = clients.raw(broker)
    ack = new.connect(uid, clean=False, props={"session_expiry_interval": 60})
    assert ack.reason_code == 0 and ack.session_present is True, ack
    got = old.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x8E)], got
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"to the new connection", qos=1)
    assert new.recv_publish().payload == b"to the new connection"


def test_v5_takeover_with_clean_start(broker, clients, uid):
    """Takeover with Clean Start 1: old connection gets 0x8E [MQTT-3.1.4-3],
    the new one starts a fresh session [MQTT-3.1.2-4, MQTT-3.2.2-2]."""
    topic = f"takeover-clean/{uid}"
    old = clients.raw(broker)
    old.connect(uid, clean=False, props={"session_expiry_interval": 60})
    old.subscribe(topic, qos=1)
    new = clients.paho(broker, uid, clean=True)
    assert new.connack.session_present is False
    got = old.wait_closed()
    assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x8E)], got
    new.subscribe(f"{topic}/marker", qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"old subscription", qos=1)
    pub.publish(f"{topic}/marker", b"marker", qos=1)
    assert [m.payload for m in new.get_until(lambda m: m.payload == b"marker")] == [b"marker"]


def test_v311_takeover_closes_old_connection(broker, clients, uid):
    """3.1.1: the existing client is disconnected when the same id connects
    [MQTT-3.1.4-2 (3.1.1)]; no DISCONNECT packet exists server-to-client."""
    old = clients.raw(broker, w.MQTT311)
    old.connect(uid, clean=False)
    new = clients.raw(broker, w.MQTT311)
    ack = new.connect(uid, clean=False)
    assert ack.raw == bytes([0x20, 0x02, 0x01, 0x00]), ack
    assert old.wait_closed() == []
    new.disconnect()
    # Leave no persistent session behind.
    cleanup = clients.raw(broker, w.MQTT311)
    cleanup.connect(uid, clean=True)


def test_takeover_moves_inflight_messages(broker, clients, uid):
    """Unacknowledged QoS 1 messages go with the session to the new
    connection and are resent with DUP [MQTT-4.4.0-1]."""
    topic = f"takeover-inflight/{uid}"
    old = clients.raw(broker)
    old.connect(uid, clean=False, props={"session_expiry_interval": 60})
    old.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"in flight", qos=1)
    first = old.expect(w.PUBLISH)
    new = clients.raw(broker)
    assert new.connect(uid, clean=False, props={"session_expiry_interval": 0}).session_present
    again = new.expect(w.PUBLISH)
    assert (again.payload, again.dup, again.packet_id) == (b"in flight", True, first.packet_id), again
    new.ack(again)


# ---------------------------------------------------------------- bounds and flow control

def test_queue_overflow_drops_oldest(small_queue, clients, uid):
    """mqtt.max_mqueue_len = 3: an offline session keeps the newest 3
    messages; older ones are dropped (EMQX's mqueue policy)."""
    topic = f"overflow/{uid}"
    c = clients.paho(small_queue, uid, clean=False, session_expiry=60)
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = clients.paho(small_queue, f"{uid}-p")
    for i in range(6):
        pub.publish(topic, f"m{i}".encode(), qos=1)
    c2 = clients.paho(small_queue, uid, clean=False, session_expiry=0)
    assert c2.connack.session_present
    got = c2.get_n(3)
    assert [m.payload for m in got] == [b"m3", b"m4", b"m5"]
    pub.publish(topic, b"marker", qos=1)
    assert c2.get().payload == b"marker"


def test_receive_maximum_respected(one_shard, clients, uid):
    """The server sends no more unacknowledged QoS 1/2 PUBLISH packets than
    the client's Receive Maximum [MQTT-3.3.4-9]; the rest follow as acks
    free the window, in order; other packets are not held back
    [MQTT-3.3.4-10]."""
    topic = f"recvmax/{uid}"
    c = clients.raw(one_shard)
    c.connect(uid, props={"receive_maximum": 2})
    c.subscribe(topic, qos=1)
    pub = clients.paho(one_shard, f"{uid}-p")
    for i in range(5):
        pub.publish(topic, f"m{i}".encode(), qos=1)
    # All five are routed (one shard, PUBACKs received). A PINGRESP, sent
    # after whatever the session already wrote, proves the window held.
    assert c.is_open_after_ping()
    window = [p for p in c.backlog if p.type == w.PUBLISH]
    assert [p.payload for p in window] == [b"m0", b"m1"], window
    c.backlog.clear()
    received = [p.payload for p in window]
    for p in window:
        c.ack(p)
    while len(received) < 5:
        p = c.expect(w.PUBLISH)
        received.append(p.payload)
        c.ack(p)
    assert received == [b"m0", b"m1", b"m2", b"m3", b"m4"]


def test_session_messages_not_lost_when_subscriber_slow(broker, clients, uid):
    """A subscriber that acknowledges late still gets every QoS 1 message
    once, in order (inflight window + queue) [MQTT-4.6.0-5]."""
    topic = f"slow/{uid}"
    c = clients.raw(broker)
    c.connect(uid, props={"receive_maximum": 3})
    c.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    n = 40
    for i in range(n):
        pub.publish(topic, f"{i}".encode(), qos=1, wait=False)
    got = []
    while len(got) < n:
        p = c.expect(w.PUBLISH, timeout=20)
        got.append(int(p.payload))
        c.ack(p)
    assert got == list(range(n))
    # Nothing is delivered twice: the next message is the one sent next.
    pub.publish(topic, b"end", qos=1)
    assert c.recv_publish().payload == b"end"


def test_max_inflight_window(broker_factory, clients, uid):
    """mqtt.max_inflight = 2 bounds unacknowledged QoS 1 messages per session
    even when the client allows more (Receive Maximum 100): the rest wait in
    the queue and follow, in order, as acks arrive."""
    b = broker_factory(env={"ROADMQ_MQTT__MAX_INFLIGHT": "2", "ROADMQ_NODE__SHARDS": "1"})
    topic = f"inflight/{uid}"
    c = clients.raw(b)
    c.connect(uid, props={"receive_maximum": 100})
    c.subscribe(topic, qos=1)
    pub = clients.paho(b, f"{uid}-p")
    for i in range(5):
        pub.publish(topic, f"m{i}".encode(), qos=1)
    assert c.is_open_after_ping()
    window = [p for p in c.backlog if p.type == w.PUBLISH]
    assert [p.payload for p in window] == [b"m0", b"m1"], window
    c.backlog.clear()
    received = [p.payload for p in window]
    for p in window:
        c.ack(p)
    while len(received) < 5:
        p = c.expect(w.PUBLISH)
        received.append(p.payload)
        c.ack(p)
    assert received == [b"m0", b"m1", b"m2", b"m3", b"m4"]


def test_qos0_not_queued_when_disabled(broker_factory, clients, uid):
    """mqtt.mqueue_store_qos0 = false: QoS 0 messages are not kept for an
    offline session; QoS 1 ones are."""
    b = broker_factory(env={"ROADMQ_MQTT__MQUEUE_STORE_QOS0": "false"})
    topic = f"noq0/{uid}"
    c = clients.paho(b, uid, clean=False, session_expiry=60)
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = clients.paho(b, f"{uid}-p")
    pub.publish(topic, b"q0", qos=0)
    pub.publish(topic, b"q1", qos=1)
    c2 = clients.paho(b, uid, clean=False, session_expiry=0)
    assert c2.get().payload == b"q1"
    pub.publish(topic, b"marker", qos=1)
    assert c2.get().payload == b"marker"


def test_resend_inflight_before_queue(broker, clients, uid):
    """On reconnect, unacknowledged messages are resent first, with DUP and
    their ids [MQTT-4.4.0-1], then the queued ones, keeping publish order
    [MQTT-4.6.0-5]."""
    topic = f"order-resume/{uid}"
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60, "receive_maximum": 1})
    c.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    for i in range(4):
        pub.publish(topic, f"m{i}".encode(), qos=1)
    first = c.expect(w.PUBLISH)
    assert first.payload == b"m0"
    c.abort()
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False, props={"session_expiry_interval": 0}).session_present
    got = [c2.recv_publish() for _ in range(4)]
    assert [(p.payload, p.dup) for p in got] == [(b"m0", True), (b"m1", False), (b"m2", False),
                                                 (b"m3", False)], got
    assert got[0].packet_id == first.packet_id


def test_puback_failure_code_ends_delivery(broker, clients, uid):
    """A PUBACK with a reason code >= 0x80 acknowledges the message: it is
    not resent on reconnect [MQTT-4.4.0-2]."""
    topic = f"puback80/{uid}"
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60})
    c.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"refused", qos=1)
    p = c.expect(w.PUBLISH)
    c.send(w.ack_packet(w.PUBACK, p.packet_id, reason=0x80))
    assert c.is_open_after_ping()
    c.abort()
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False, props={"session_expiry_interval": 0}).session_present
    pub.publish(topic, b"next", qos=1)
    assert c2.recv_publish().payload == b"next"


def test_pubrec_failure_code_ends_delivery(broker, clients, uid):
    """A PUBREC with a reason code >= 0x80 ends the QoS 2 flow: no PUBREL is
    sent [MQTT-4.3.3-4] and nothing is resent on reconnect
    [MQTT-4.4.0-2]."""
    topic = f"pubrec80/{uid}"
    c = clients.raw(broker)
    c.connect(uid, clean=False, props={"session_expiry_interval": 60})
    c.subscribe(topic, qos=2)
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"refused", qos=2)
    p = c.expect(w.PUBLISH)
    c.send(w.ack_packet(w.PUBREC, p.packet_id, reason=0x80))
    assert c.is_open_after_ping()
    assert not [x for x in c.backlog if x.type == w.PUBREL], c.backlog
    c.abort()
    c2 = clients.raw(broker)
    assert c2.connect(uid, clean=False, props={"session_expiry_interval": 0}).session_present
    pub.publish(topic, b"next", qos=1)
    first = c2.recv()
    assert first is not None and (first.type, first.payload) == (w.PUBLISH, b"next"), first


def test_v311_session_expiry_from_config(broker_factory, clients, uid):
    """3.1.1 persistent sessions expire after mqtt.session_expiry_interval
    (1s here) [MQTT-4.1.0-2]; a reconnect within it resumes the session."""
    b = broker_factory(env={"ROADMQ_MQTT__SESSION_EXPIRY_INTERVAL": "1s"})
    c = clients.paho(b, uid, MQTTv311, clean_session=False)
    c.subscribe(f"exp311/{uid}", qos=1)
    c.disconnect()
    c2 = clients.paho(b, uid, MQTTv311, clean_session=False)
    assert c2.connack.session_present is True
    c2.disconnect()
    time.sleep(3.0)  # expiry raises no event
    c3 = clients.paho(b, uid, MQTTv311, clean_session=False)
    assert c3.connack.session_present is False
