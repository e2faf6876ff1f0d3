"""Will messages: when they are published, when not, delay, retain, QoS,
properties."""

import time

import pytest

import mqtt_wire as w
from daemon import module_broker
from helpers import assert_no_message, sync_barrier
from paho_sync import will_props

restricted = module_broker(env={
    "ROADMQ_MQTT__MAX_QOS_ALLOWED": "1",
    "ROADMQ_MQTT__RETAIN_AVAILABLE": "false",
})


def watch(broker, clients, uid, will_topic, client_id, qos=2):
    """A subscriber to the will topic and to the client's $SYS disconnected
    event, which the broker publishes when it handles the disconnect (and so
    when it decides about the will)."""
    sub = clients.paho(broker, f"{uid}-watch")
    sub.subscribe(will_topic, qos=qos)
    sub.subscribe(f"$SYS/brokers/+/clients/{client_id}/disconnected", qos=0)
    return sub


def wait_disconnect_handled(sub, client_id, timeout=10.0):
    """Messages up to the disconnected event. If the broker publishes no such
    event (test_sys checks that), fall back to whatever arrived in time."""
    try:
        got = sub.get_until(lambda m: m.topic.endswith(f"/clients/{client_id}/disconnected"), timeout)
        return got[:-1]
    except TimeoutError:
        return sub.drain()


def assert_no_will(broker, clients, uid, sub, will_topic, client_id):
    before = [m for m in wait_disconnect_handled(sub, client_id) if m.topic == will_topic]
    assert before == [], f"will published: {before}"
    pub = clients.paho(broker, f"{uid}-marker")
    sync_barrier(pub, sub, will_topic)
    leftover = [m for m in sub.drain() if m.topic == will_topic and not m.payload.startswith(b"barrier-")]
    assert leftover == [], f"will published: {leftover}"
    assert_no_message(sub, 0.3)


# ---------------------------------------------------------------- when

@pytest.mark.parametrize("version", [pytest.param(w.MQTT311, id="v311"), pytest.param(w.MQTT5, id="v5")])
def test_will_on_abnormal_close(broker, clients, uid, version):
    """The connection closes without DISCONNECT: the will is published
    [MQTT-3.1.2-8] as a non-retained message [MQTT-3.1.2-14]."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    c = clients.raw(broker, version)
    c.connect(f"{uid}-c", will=w.Will(topic, b"lost", qos=1))
    c.abort()
    m = sub.get_until(lambda m: m.topic == topic)[-1]
    assert (m.payload, m.qos, m.retain) == (b"lost", 1, False)


@pytest.mark.parametrize("version", [pytest.param(w.MQTT311, id="v311"), pytest.param(w.MQTT5, id="v5")])
def test_no_will_on_normal_disconnect(broker, clients, uid, version):
    """DISCONNECT (reason 0x00) discards the will [MQTT-3.14.4-3,
    MQTT-3.1.2-10]."""
    topic = f"will/{uid}"
    cid = f"{uid}-c"
    sub = watch(broker, clients, uid, topic, cid)
    c = clients.raw(broker, version)
    c.connect(cid, will=w.Will(topic, b"must not appear", qos=1))
    c.disconnect(0)
    assert_no_will(broker, clients, uid, sub, topic, cid)


def test_will_on_disconnect_with_will_message(broker, clients, uid):
    """DISCONNECT with reason 0x04 (Disconnect with Will Message): the will
    is published (§3.14.2.1)."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    c = clients.raw(broker)
    c.connect(f"{uid}-c", will=w.Will(topic, b"asked for", qos=1))
    c.disconnect(0x04)
    m = sub.get_until(lambda m: m.topic == topic)[-1]
    assert m.payload == b"asked for"


def test_will_on_protocol_error(broker, clients, uid):
    """The server closing the connection for a protocol violation is not a
    normal disconnect: the will is published [MQTT-3.1.2-8]."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    c = clients.raw(broker)
    c.connect(f"{uid}-c", will=w.Will(topic, b"broken client", qos=1))
    c.send(bytes([0x36, 0x00]))  # PUBLISH with QoS 3 [MQTT-3.3.1-4]
    c.wait_closed()
    m = sub.get_until(lambda m: m.topic == topic)[-1]
    assert m.payload == b"broken client"


def test_v5_no_will_without_will_flag(broker, clients, uid):
    """A client without a will leaves nothing behind on abnormal close
    [MQTT-3.1.2-7 a contrario]."""
    topic = f"will/{uid}"
    cid = f"{uid}-c"
    sub = watch(broker, clients, uid, topic, cid)
    c = clients.raw(broker)
    c.connect(cid)
    c.abort()
    assert_no_will(broker, clients, uid, sub, topic, cid)


# ---------------------------------------------------------------- delay

def test_will_delay_then_published(broker, clients, uid):
    """Will Delay Interval: the will is published once the delay has passed
    [MQTT-3.1.2-8], not at the close (§3.1.3.2.2)."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    c = clients.raw(broker)
    c.connect(f"{uid}-c", clean=True, props={"session_expiry_interval": 60},
              will=w.Will(topic, b"delayed", qos=1, props={"will_delay_interval": 2}))
    c.abort()
    t0 = time.monotonic()
    m = sub.get_until(lambda m: m.topic == topic, timeout=15)[-1]
    elapsed = time.monotonic() - t0
    assert m.payload == b"delayed"
    assert elapsed >= 1.5, f"will published {elapsed:.2f}s after the close, delay was 2s"
    cleanup = clients.raw(broker)
    cleanup.connect(f"{uid}-c", clean=True)


def test_will_delay_cancelled_by_reconnect(broker, clients, uid):
    """A new connection for the client id before the Will Delay Interval
    ends cancels the will [MQTT-3.1.3-9]. (Waits past the delay: a will that
    is not sent raises no event.)"""
    topic = f"will/{uid}"
    cid = f"{uid}-c"
    sub = clients.paho(broker, f"{uid}-watch")
    sub.subscribe(topic, qos=1)
    c = clients.raw(broker)
    c.connect(cid, clean=True, props={"session_expiry_interval": 60},
              will=w.Will(topic, b"must not appear", qos=1, props={"will_delay_interval": 2}))
    c.abort()
    c2 = clients.raw(broker)
    assert c2.connect(cid, clean=False, props={"session_expiry_interval": 60}).session_present
    time.sleep(3.0)
    pub = clients.paho(broker, f"{uid}-p")
    sync_barrier(pub, sub, topic)
    assert [m for m in sub.drain() if m.payload == b"must not appear"] == []
    c2.disconnect(0, props={"session_expiry_interval": 0})


def test_will_sent_when_session_ends_before_delay(broker, clients, uid):
    """The will is published when the session ends even if the Will Delay
    Interval is longer (§3.1.3.2.2, [MQTT-3.1.2-8])."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    c = clients.raw(broker)
    c.connect(f"{uid}-c", clean=True, props={"session_expiry_interval": 1},
              will=w.Will(topic, b"session over", qos=1, props={"will_delay_interval": 600}))
    c.abort()
    m = sub.get_until(lambda m: m.topic == topic, timeout=15)[-1]
    assert m.payload == b"session over"


# ---------------------------------------------------------------- retain, QoS, properties

def test_will_retain(broker, clients, uid):
    """Will Retain 1: the will is published as a retained message
    [MQTT-3.1.2-15]; a later subscriber gets it with RETAIN 1."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    c = clients.raw(broker)
    c.connect(f"{uid}-c", will=w.Will(topic, b"offline", qos=1, retain=True))
    c.abort()
    sub.get_until(lambda m: m.topic == topic)
    late = clients.paho(broker, f"{uid}-late")
    late.subscribe(topic, qos=1)
    m = late.get()
    assert (m.payload, m.retain) == (b"offline", True)
    late.publish(topic, b"", qos=1, retain=True)


@pytest.mark.parametrize("will_qos,sub_qos", [(2, 2), (2, 1), (1, 2), (0, 2)])
def test_will_qos(broker, clients, uid, will_qos, sub_qos):
    """The will is published at its Will QoS [MQTT-3.1.2-12], delivered at
    min(Will QoS, granted QoS) [MQTT-3.8.4-8]."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c", qos=sub_qos)
    c = clients.raw(broker)
    c.connect(f"{uid}-c", will=w.Will(topic, b"q", qos=will_qos))
    c.abort()
    m = sub.get_until(lambda m: m.topic == topic)[-1]
    assert m.qos == min(will_qos, sub_qos)


def test_will_properties_forwarded(broker, clients, uid):
    """Will properties reach subscribers unaltered like a PUBLISH's:
    Payload Format Indicator [MQTT-3.3.2-4], Content Type [MQTT-3.3.2-20],
    Response Topic [MQTT-3.3.2-15], Correlation Data [MQTT-3.3.2-16], User
    Properties in order [MQTT-3.3.2-17, MQTT-3.3.2-18]; the Will Delay
    Interval is not forwarded."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    props = {
        "will_delay_interval": 0,
        "payload_format_indicator": 1,
        "content_type": "application/json",
        "response_topic": f"reply/{uid}",
        "correlation_data": b"\x00\x01corr",
        "message_expiry_interval": 300,
        "user_property": [("vin", "LSVAU2180N2183294"), ("b", "2"), ("vin", "dup")],
    }
    c = clients.raw(broker)
    c.connect(f"{uid}-c", will=w.Will(topic, b'{"state":"offline"}', qos=1, props=props))
    c.abort()
    m = sub.get_until(lambda m: m.topic == topic)[-1]
    p = m.props
    assert p.get("PayloadFormatIndicator") == 1, p
    assert p.get("ContentType") == "application/json", p
    assert p.get("ResponseTopic") == f"reply/{uid}", p
    assert p.get("CorrelationData") == b"\x00\x01corr", p
    assert p.get("UserProperty") == [("vin", "LSVAU2180N2183294"), ("b", "2"), ("vin", "dup")], p
    assert 0 < p.get("MessageExpiryInterval", 0) <= 300, p
    assert "WillDelayInterval" not in p


def test_will_qos_above_maximum_refused(restricted, clients, uid):
    """A Will QoS above the server's Maximum QoS: CONNACK 0x9B and close
    [MQTT-3.2.2-12]."""
    c = clients.raw(restricted)
    ack = c.connect(uid, will=w.Will(f"will/{uid}", b"x", qos=2))
    assert ack.reason_code == 0x9B, ack
    assert c.wait_closed() == []


def test_will_retain_unsupported_refused(restricted, clients, uid):
    """Will Retain 1 while retain is not available: CONNACK 0x9A and close
    [MQTT-3.2.2-13]."""
    c = clients.raw(restricted)
    ack = c.connect(uid, will=w.Will(f"will/{uid}", b"x", qos=0, retain=True))
    assert ack.reason_code == 0x9A, ack
    assert c.wait_closed() == []


def test_paho_will_on_socket_loss(broker, clients, uid):
    """The same through paho: a will set with will_set() is published when
    the TCP connection dies [MQTT-3.1.2-8]."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    c = clients.paho(broker, f"{uid}-c", connect=False)
    c.will_set(topic, b"paho gone", qos=1, props=will_props(ContentType="text/plain"))
    c.connect()
    c.kill()
    m = sub.get_until(lambda m: m.topic == topic)[-1]
    assert m.payload == b"paho gone"
    assert m.props.get("ContentType") == "text/plain"



def test_will_delay_with_session_expiry_zero(broker, clients, uid):
    """Session Expiry 0 ends the session at the close, so a delayed will is
    published at once rather than after its delay (§3.1.3.2.2,
    [MQTT-3.1.2-8])."""
    topic = f"will/{uid}"
    sub = watch(broker, clients, uid, topic, f"{uid}-c")
    c = clients.raw(broker)
    c.connect(f"{uid}-c", will=w.Will(topic, b"now", qos=1, props={"will_delay_interval": 3600}))
    c.abort()
    m = sub.get_until(lambda m: m.topic == topic, timeout=15)[-1]
    assert m.payload == b"now"
