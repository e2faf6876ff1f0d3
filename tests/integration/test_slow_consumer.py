"""A subscriber that reads slower than messages arrive: once its socket
backlog passes the high watermark the broker drops its QoS 0 messages
(counted) and holds its QoS 1/2 messages in the session queue, instead of
buffering without bound or disconnecting it. Other clients do not notice."""

import socket
import time
import uuid

import mqtt_wire as w
from daemon import module_broker

NODE = f"slow{uuid.uuid4().hex[:6]}@127.0.0.1"
slow_broker = module_broker(env={
    "ROADMQ_NODE__NAME": NODE,
    "ROADMQ_SYS_TOPICS__SYS_MSG_INTERVAL": "1s",
    # A wide window, so QoS 1 backlog is bounded by the socket, not by
    # Receive Maximum; and a queue long enough to hold every message.
    "ROADMQ_MQTT__MAX_INFLIGHT": "65535",
    "ROADMQ_MQTT__MAX_MQUEUE_LEN": "10000",
    "ROADMQ_MQTT__MAX_MQUEUE_BYTES": "1GB",
})

PAYLOAD = bytes(range(256)) * 256  # 64 KiB
# Well past the 16 MiB output limit that would close the connection, plus
# what the kernel's socket buffers absorb on loopback.
FLOOD = 700


def small_window_subscriber(broker, clients, client_id, topic, qos, **connect_kwargs):
    sub = clients.raw(broker)
    sub.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sub.connect(client_id, **connect_kwargs)
    sub.subscribe(topic, qos=qos)
    return sub


def publish_and_sync(pub, topic, count, qos):
    """Publishes `count` messages, then one QoS 1 publish whose PUBACK proves
    the broker has routed everything before it."""
    data = b"".join(w.publish_packet(topic, PAYLOAD, qos=qos, packet_id=(i % 65535) + 1 if qos else None)
                    for i in range(count))
    pub.send(data)
    pub.publish(f"{topic}/fence", b"", qos=1)


def current_sys(clients, broker, suffix, uid):
    sub = clients.paho(broker, f"{uid}-sys")
    topic = f"$SYS/brokers/{NODE}/{suffix}"
    sub.subscribe(topic, qos=0)
    m = sub.get_until(lambda m: m.topic == topic, 15.0)[-1]
    return int(m.text)


def test_slow_qos0_subscriber_loses_messages_not_its_connection(slow_broker, clients, uid):
    topic = f"{uid}/t"
    sub = small_window_subscriber(slow_broker, clients, f"{uid}-sub", topic, 0)
    bystander = clients.paho(slow_broker, f"{uid}-by")
    bystander.subscribe(f"{uid}/other", qos=1)
    pub = clients.raw(slow_broker)
    pub.connect(f"{uid}-pub")
    publish_and_sync(pub, topic, FLOOD, 0)

    # The bystander is served while the slow subscriber is stuck.
    bystander_pub = clients.paho(slow_broker, f"{uid}-bp")
    bystander_pub.publish(f"{uid}/other", b"hello", qos=1)
    assert bystander.get(10.0).payload == b"hello"

    # Reading now, the subscriber gets part of the flood and stays connected.
    received = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            p = sub.recv(timeout=2.0)
        except TimeoutError:
            break
        assert p is not None, "the broker closed the slow subscriber"
        if p.name == "PUBLISH":
            assert p.payload == PAYLOAD
            received += 1
    assert 0 < received < FLOOD
    assert sub.is_open_after_ping()
    pub.publish(topic, b"after", qos=0)
    assert sub.recv_publish().payload == b"after"
    assert current_sys(clients, slow_broker, "metrics/messages/dropped", uid) >= FLOOD - received


def test_slow_qos1_subscriber_gets_everything_in_order(slow_broker, clients, uid):
    topic = f"{uid}/t"
    sub = small_window_subscriber(slow_broker, clients, f"{uid}-sub", topic, 1,
                                  props={"receive_maximum": 65535})
    pub = clients.raw(slow_broker)
    pub.connect(f"{uid}-pub")
    count = 400
    for i in range(count):
        pub.send(w.publish_packet(topic, i.to_bytes(4, "big") + PAYLOAD, qos=1, packet_id=i + 1))
    # Every PUBACK comes back although the subscriber reads nothing yet.
    acked = 0
    while acked < count:
        p = pub.recv(timeout=30.0)
        assert p is not None, f"only {acked} PUBACKs"
        if p.name == "PUBACK":
            acked += 1

    seen = []
    while len(seen) < count:
        p = sub.recv_publish(timeout=30.0)
        seen.append(int.from_bytes(p.payload[:4], "big"))
    assert seen == list(range(count))
    assert sub.is_open_after_ping()
