"""Retained messages: store, replace, delete, retain handling, wildcards,
expiry."""

import time

import pytest

import mqtt_wire as w
from helpers import assert_no_message
from paho_sync import MQTTv5, MQTTv311, publish_props


def collect_until_marker(sub, pub, marker_topic, timeout=10.0):
    """Retained messages are sent right after the SUBACK. A live marker
    published after the SUBACK arrives behind them, so everything before the
    marker is what the subscription brought."""
    pub.publish(marker_topic, b"marker", qos=1)
    got = sub.get_until(lambda m: m.topic == marker_topic and m.payload == b"marker", timeout)
    return got[:-1]


@pytest.mark.parametrize("version", [pytest.param(MQTTv311, id="v311"), pytest.param(MQTTv5, id="v5")])
def test_retained_stored_and_sent_to_new_subscriber(broker, clients, uid, version):
    """A retained message is stored [MQTT-3.3.1-5] and sent to a new
    subscriber with RETAIN 1 [MQTT-3.3.1-9], at min(QoS) [MQTT-3.8.4-8]."""
    topic = f"ret/{uid}"
    pub = clients.paho(broker, f"{uid}-p", version)
    pub.publish(topic, b"last known good", qos=1, retain=True)
    sub = clients.paho(broker, f"{uid}-s", version)
    sub.subscribe(topic, qos=2)
    m = sub.get()
    assert (m.topic, m.payload, m.retain, m.qos) == (topic, b"last known good", True, 1)
    sub0 = clients.paho(broker, f"{uid}-s0", version)
    sub0.subscribe(topic, qos=0)
    m0 = sub0.get()
    assert (m0.payload, m0.retain, m0.qos) == (b"last known good", True, 0)
    pub.publish(topic, b"", qos=1, retain=True)


def test_retained_replaced(broker, clients, uid):
    """A new retained message replaces the old one [MQTT-3.3.1-5]; a
    non-retained message leaves it alone [MQTT-3.3.1-8]."""
    topic = f"ret/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"v1", qos=1, retain=True)
    pub.publish(topic, b"v2", qos=1, retain=True)
    pub.publish(topic, b"not retained", qos=1, retain=False)
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1)
    got = collect_until_marker(sub, pub, topic)
    assert [(m.payload, m.retain) for m in got] == [(b"v2", True)]
    pub.publish(topic, b"", qos=1, retain=True)


def test_retained_deleted_by_empty_payload(broker, clients, uid):
    """A retained PUBLISH with an empty payload removes the retained
    message [MQTT-3.3.1-6] and is not stored itself [MQTT-3.3.1-7]; it is
    still forwarded to current subscribers as a normal message."""
    topic = f"ret/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"soon gone", qos=1, retain=True)
    live = clients.paho(broker, f"{uid}-live")
    live.subscribe(topic, qos=1, retain_handling=2)
    pub.publish(topic, b"", qos=1, retain=True)
    m = live.get()
    assert (m.payload, m.retain) == (b"", False)
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1)
    assert collect_until_marker(sub, pub, topic) == []


def test_retain_handling_0_sends_on_every_subscribe(broker, clients, uid):
    """Retain Handling 0: retained messages are sent on every SUBSCRIBE,
    re-subscriptions included [MQTT-3.3.1-9, MQTT-3.8.4-4]."""
    topic = f"rh0/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"kept", qos=1, retain=True)
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1, retain_handling=0)
    assert sub.get().payload == b"kept"
    sub.subscribe(topic, qos=1, retain_handling=0)
    m = sub.get()
    assert (m.payload, m.retain) == (b"kept", True)
    pub.publish(topic, b"", qos=1, retain=True)


def test_retain_handling_1_only_new_subscriptions(broker, clients, uid):
    """Retain Handling 1: sent only if the subscription did not exist
    [MQTT-3.3.1-10]."""
    topic = f"rh1/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"kept", qos=1, retain=True)
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1, retain_handling=1)
    assert sub.get().payload == b"kept"
    sub.subscribe(topic, qos=1, retain_handling=1)
    assert collect_until_marker(sub, pub, topic) == []
    pub.publish(topic, b"", qos=1, retain=True)


def test_retain_handling_2_never(broker, clients, uid):
    """Retain Handling 2: retained messages are not sent [MQTT-3.3.1-11]."""
    topic = f"rh2/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"kept", qos=1, retain=True)
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1, retain_handling=2)
    assert collect_until_marker(sub, pub, topic) == []
    pub.publish(topic, b"", qos=1, retain=True)


def test_retained_through_wildcards(broker, clients, uid):
    """Retained messages are found through '+' and '#' filters: one per
    matching topic, each with RETAIN 1 [MQTT-3.3.1-9, MQTT-4.7.1-1/2]."""
    base = f"retwc/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    topics = [f"{base}/a/x", f"{base}/b/x", f"{base}/b/y", f"{base}/c/d/x", base]
    for t in topics:
        pub.publish(t, t.encode(), qos=1, retain=True)
    cases = {
        f"{base}/+/x": {f"{base}/a/x", f"{base}/b/x"},
        f"{base}/#": set(topics),
        f"{base}/b/+": {f"{base}/b/x", f"{base}/b/y"},
        f"{base}/+/+/x": {f"{base}/c/d/x"},
    }
    for i, (filt, expected) in enumerate(cases.items()):
        sub = clients.paho(broker, f"{uid}-s{i}")
        sub.subscribe(filt, qos=1)
        got = sub.get_n(len(expected))
        assert {m.topic for m in got} == expected, filt
        assert all(m.retain and m.payload == m.topic.encode() for m in got), got
        sub.disconnect()
    # Nothing else was sent: a marker on a matching topic comes next.
    sub = clients.paho(broker, f"{uid}-last")
    sub.subscribe(f"{base}/+/x", qos=1)
    got = collect_until_marker(sub, pub, f"{base}/a/x")
    assert sorted(m.topic for m in got) == [f"{base}/a/x", f"{base}/b/x"]
    for t in topics:
        pub.publish(t, b"", qos=1, retain=True)


def test_retained_message_expiry(broker, clients, uid):
    """A retained message with a Message Expiry Interval is not sent once it
    has expired [MQTT-3.3.2-5]; before that it is sent with the remaining
    interval [MQTT-3.3.2-6]."""
    topic = f"retexp/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"short lived", qos=1, retain=True,
                props=publish_props(MessageExpiryInterval=2))
    early = clients.paho(broker, f"{uid}-early")
    early.subscribe(topic, qos=1)
    m = early.get()
    assert m.payload == b"short lived" and 0 < m.props.get("MessageExpiryInterval", 0) <= 2, m
    time.sleep(3.5)  # let the interval pass; expiry raises no event
    late = clients.paho(broker, f"{uid}-late")
    late.subscribe(topic, qos=1)
    assert collect_until_marker(late, pub, topic) == []


def test_retained_qos2_from_raw_client(broker, clients, uid):
    """A QoS 2 retained message is stored once the QoS 2 flow completed and
    sent with RETAIN 1 and QoS 2 to a QoS 2 subscriber [MQTT-3.3.1-5]."""
    topic = f"ret2/{uid}"
    c = clients.raw(broker)
    c.connect(f"{uid}-p")
    assert c.publish(topic, b"two", qos=2, retain=True).type == w.PUBCOMP
    s = clients.raw(broker)
    s.connect(f"{uid}-s")
    s.subscribe(topic, qos=2)
    p = s.recv_publish()
    assert (p.payload, p.retain, p.qos) == (b"two", True, 2), p
    c.publish(topic, b"", qos=1, retain=True)


def test_retained_on_persistent_resubscribe_after_reconnect(broker, clients, uid):
    """A retained message published while a persistent subscriber is
    offline reaches it as a queued live message on reconnect (RETAIN 0
    without Retain As Published [MQTT-3.3.1-12])."""
    topic = f"retoff/{uid}"
    sub = clients.paho(broker, uid, clean=False, session_expiry=60)
    sub.subscribe(topic, qos=1)
    sub.disconnect()
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"while away", qos=1, retain=True)
    sub2 = clients.paho(broker, uid, clean=False, session_expiry=0)
    m = sub2.get()
    assert (m.payload, m.retain) == (b"while away", False)
    pub.publish(topic, b"", qos=1, retain=True)
    assert sub2.get().payload == b""
    assert_no_message(sub2, 0.2)


def test_retained_carries_subscription_identifier(broker, clients, uid):
    """A retained message sent because of a new subscription carries that
    subscription's identifier [MQTT-3.3.4-3]."""
    topic = f"retsid/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"kept", qos=1, retain=True)
    c = clients.raw(broker)
    c.connect(f"{uid}-s")
    c.subscribe((topic, 1), props={"subscription_identifier": 42})
    p = c.recv_publish()
    assert (p.payload, p.retain, p.props.get("subscription_identifier")) == (b"kept", True, [42]), p
    pub.publish(topic, b"", qos=1, retain=True)


def test_retainer_limits(broker_factory, clients, uid):
    """retainer.max_retained_messages = 2: a third topic is not stored (as in
    EMQX, the new one is dropped), replacing a stored topic still works, and
    deleting one makes room; retainer.max_payload_size = 16: a bigger
    payload is forwarded live but not stored."""
    b = broker_factory(env={"ROADMQ_RETAINER__MAX_RETAINED_MESSAGES": "2",
                            "ROADMQ_RETAINER__MAX_PAYLOAD_SIZE": "16"})
    base = f"retlim/{uid}"
    live = clients.paho(b, f"{uid}-live")
    live.subscribe(f"{base}/#", qos=1)
    pub = clients.paho(b, f"{uid}-p")
    pub.publish(f"{base}/big", b"x" * 17, qos=1, retain=True)
    assert live.get().payload == b"x" * 17  # still delivered to current subscribers
    pub.publish(f"{base}/a", b"a1", qos=1, retain=True)
    pub.publish(f"{base}/b", b"b1", qos=1, retain=True)
    pub.publish(f"{base}/c", b"c1", qos=1, retain=True)  # over the limit
    pub.publish(f"{base}/a", b"a2", qos=1, retain=True)  # replaces: allowed

    def stored(i):
        s = clients.paho(b, f"{uid}-s{i}")
        s.subscribe(f"{base}/#", qos=1)
        got = collect_until_marker(s, pub, f"{base}/marker")
        s.disconnect()
        return sorted((m.topic.rsplit("/", 1)[1], m.payload) for m in got)

    assert stored(1) == [("a", b"a2"), ("b", b"b1")]
    pub.publish(f"{base}/b", b"", qos=1, retain=True)
    pub.publish(f"{base}/c", b"c2", qos=1, retain=True)
    assert stored(2) == [("a", b"a2"), ("c", b"c2")]


def test_retainer_disabled(broker_factory, clients, uid):
    """retainer.enable = false: retained publishes are still forwarded but
    nothing is stored for later subscribers."""
    b = broker_factory(env={"ROADMQ_RETAINER__ENABLE": "false"})
    topic = f"retoff/{uid}"
    live = clients.paho(b, f"{uid}-live")
    live.subscribe(topic, qos=1)
    pub = clients.paho(b, f"{uid}-p")
    pub.publish(topic, b"state", qos=1, retain=True)
    assert live.get().payload == b"state"
    late = clients.paho(b, f"{uid}-late")
    late.subscribe(topic, qos=1)
    assert collect_until_marker(late, pub, topic) == []


def test_retain_handling_1_after_unsubscribe(broker, clients, uid):
    """Retain Handling 1 after UNSUBSCRIBE: the subscription no longer
    exists, so retained messages are sent again [MQTT-3.3.1-10]."""
    topic = f"rh1u/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"kept", qos=1, retain=True)
    sub = clients.paho(broker, f"{uid}-s")
    sub.subscribe(topic, qos=1, retain_handling=1)
    assert sub.get().payload == b"kept"
    sub.unsubscribe(topic)
    sub.subscribe(topic, qos=1, retain_handling=1)
    m = sub.get()
    assert (m.payload, m.retain) == (b"kept", True)
    pub.publish(topic, b"", qos=1, retain=True)
