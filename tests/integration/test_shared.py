"""Shared subscriptions: $share/<group>/<filter> and EMQX's $queue/<filter>,
the distribution strategies (local, the default, prefers members on the
publisher's shard), redispatch of a departed member's unacknowledged
messages."""

import collections
import threading
import time

import pytest

import mqtt_wire as w
from helpers import assert_no_message
from daemon import module_broker
from paho_sync import MQTTv5, MQTTv311

# Most tests here count turns: they run with strict round_robin. The local
# strategy has tests of its own below.
broker = module_broker(env={"ROADMQ_MQTT__SHARED_SUBSCRIPTION_STRATEGY": "round_robin"})


def home_shard(client_id: str, shards: int) -> int:
    """The shard a client's session lives on: FNV-1a of its client id, as
    the broker computes it (stable across runs and builds)."""
    h = 1469598103934665603
    for byte in client_id.encode():
        h = ((h ^ byte) * 1099511628211) % (1 << 64)
    return h % shards


def ids_on_shard(prefix: str, shard: int, shards: int, n: int) -> list:
    """n client ids starting with `prefix` whose home is `shard`."""
    out, i = [], 0
    while len(out) < n:
        cid = f"{prefix}{i}"
        if home_shard(cid, shards) == shard:
            out.append(cid)
        i += 1
    return out


def members(broker, clients, uid, filt, n, qos=1, version=MQTTv5):
    """n group members sharing one condition variable, so a test can wait
    for "a message arrived at any member" without polling."""
    cv = threading.Condition()
    out = []
    for i in range(n):
        c = clients.paho(broker, f"{uid}-m{i}", version, connect=False)
        c.cv = cv
        c.connect()
        c.subscribe(filt, qos=qos)
        out.append(c)
    return out


def collect(subs, total, timeout=20.0):
    """Messages per member, once `total` arrived over all members."""
    cv = subs[0].cv
    deadline = time.monotonic() + timeout
    with cv:
        while True:
            count = sum(len(s.messages) for s in subs)
            if count >= total:
                return {i: list(s.messages) for i, s in enumerate(subs)}
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"got {count} of {total}: "
                                   f"{ {i: [m.payload for m in s.messages] for i, s in enumerate(subs)} }")
            cv.wait(left)


@pytest.mark.parametrize("prefix", ["$share/g1/", "$queue/"], ids=["share", "queue"])
def test_shared_round_robin(broker, clients, uid, prefix):
    """Each message goes to exactly one member of the group [§4.8.2]; with
    the round_robin strategy and one publisher, members take turns, so 3
    members get 4 each of 12. A non-shared subscriber gets all of them."""
    topic = f"shared/{uid}"
    subs = members(broker, clients, uid, prefix + topic, 3)
    plain = clients.paho(broker, f"{uid}-plain")
    plain.subscribe(topic, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    for i in range(12):
        pub.publish(topic, f"{i}".encode(), qos=1)
    got = collect(subs, 12)
    payloads = sorted(int(m.payload) for v in got.values() for m in v)
    assert payloads == list(range(12)), got
    assert sorted(len(v) for v in got.values()) == [4, 4, 4], \
        {i: [m.text for m in v] for i, v in got.items()}
    assert [int(m.payload) for m in plain.get_n(12)] == list(range(12))
    # Delivered topic is the real topic, not the $share filter [MQTT-3.3.2-3].
    assert all(m.topic == topic for v in got.values() for m in v)


def test_shared_groups_independent(broker, clients, uid):
    """Every group gets each message once [§4.8.2: each Shared Subscription
    is a separate session-independent subscription]."""
    topic = f"shared/{uid}"
    ga = members(broker, clients, f"{uid}-a", f"$share/ga/{topic}", 2)
    gb = members(broker, clients, f"{uid}-b", f"$share/gb/{topic}", 2)
    pub = clients.paho(broker, f"{uid}-p")
    for i in range(6):
        pub.publish(topic, f"{i}".encode(), qos=1)
    for group in (ga, gb):
        got = collect(group, 6)
        assert sorted(int(m.payload) for v in got.values() for m in v) == list(range(6))


def test_shared_wildcard_filter_and_qos(broker, clients, uid):
    """A shared subscription's filter may hold wildcards; the member's
    granted QoS is respected [MQTT-4.8.2-3]."""
    base = f"shared/{uid}"
    subs = members(broker, clients, uid, f"$share/gq/{base}/+/up", 2, qos=0)
    pub = clients.paho(broker, f"{uid}-p")
    for i in range(4):
        pub.publish(f"{base}/v{i}/up", f"{i}".encode(), qos=2)
    got = collect(subs, 4)
    ms = [m for v in got.values() for m in v]
    assert sorted(m.topic for m in ms) == sorted(f"{base}/v{i}/up" for i in range(4))
    assert all(m.qos == 0 for m in ms)


def test_shared_v311_members(broker, clients, uid):
    """3.1.1 clients can join a shared group too (EMQX extension)."""
    topic = f"shared/{uid}"
    subs = members(broker, clients, uid, f"$share/g311/{topic}", 2, version=MQTTv311)
    pub = clients.paho(broker, f"{uid}-p", MQTTv311)
    for i in range(4):
        pub.publish(topic, f"{i}".encode(), qos=1)
    got = collect(subs, 4)
    assert sorted(int(m.payload) for v in got.values() for m in v) == list(range(4))
    assert sorted(len(v) for v in got.values()) == [2, 2]


def test_shared_unsubscribe(broker, clients, uid):
    """Unsubscribing from $share/g/f removes the member [MQTT-3.10.4-1]:
    the remaining member gets everything afterwards."""
    topic = f"shared/{uid}"
    a, b = members(broker, clients, uid, f"$share/gu/{topic}", 2)
    assert a.unsubscribe(f"$share/gu/{topic}") == [0]
    pub = clients.paho(broker, f"{uid}-p")
    for i in range(4):
        pub.publish(topic, f"{i}".encode(), qos=1)
    assert [int(m.payload) for m in b.get_n(4)] == list(range(4))
    assert a.drain() == []


def test_shared_no_local_is_protocol_error(broker, clients, uid):
    """No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4]:
    the subscription is not granted (DISCONNECT 0x82, or a SUBACK failure
    code)."""
    c = clients.raw(broker)
    c.connect(uid)
    c.send(w.subscribe_packet(5, [(f"$share/g/nl/{uid}", w.sub_options(1, no_local=True))]))
    p = c.recv()
    if p is not None and p.type == w.SUBACK:
        assert p.reason_codes[0] >= 0x80, p
    else:
        assert p is None or (p.type, p.reason_code) == (w.DISCONNECT, 0x82), p
        c.wait_closed()


def test_shared_member_leaving_hands_over_unacked(broker, clients, uid):
    """A member whose session ends with QoS 1 messages unacknowledged: those
    messages go to another member of the group (§4.8.2: 'the Server SHOULD
    send the Application Message to another Client that is subscribed to the
    same Shared Subscription'; EMQX redispatches). No message is lost."""
    topic = f"shared/{uid}"
    filt = f"$share/gh/{topic}"
    # The member that never acknowledges (raw client, session expiry 0).
    lazy = clients.raw(broker)
    lazy.connect(f"{uid}-lazy")
    lazy.subscribe(filt, qos=1)
    good = clients.paho(broker, f"{uid}-good")
    good.subscribe(filt, qos=1)
    pub = clients.paho(broker, f"{uid}-p")
    n = 6
    for i in range(n):
        pub.publish(topic, f"{i}".encode(), qos=1)
    held = []
    # round_robin: lazy gets half of them; wait until it holds them all.
    while len(held) < n // 2:
        held.append(lazy.expect(w.PUBLISH).payload)
    lazy.abort()
    got = good.get_n(n, timeout=20)
    counts = collections.Counter(m.payload for m in got)
    assert sorted(int(p) for p in counts) == list(range(n)), counts
    assert all(v == 1 for v in counts.values()), f"duplicates: {counts}"


def test_shared_qos2_inflight_not_handed_over(broker, clients, uid):
    """A QoS 2 message already sent to a member whose session then ends
    MUST NOT be sent to another member [MQTT-4.8.2-5] (EMQX redispatches
    only QoS 1 inflight and queued messages). New messages keep flowing to
    the remaining member."""
    topic = f"shared/{uid}"
    filt = f"$share/gq2/{topic}"
    good = clients.paho(broker, f"{uid}-good")
    good.subscribe(filt, qos=2)
    good.subscribe(f"$SYS/brokers/+/clients/{uid}-lazy/disconnected", qos=0)
    lazy = clients.raw(broker)
    lazy.connect(f"{uid}-lazy")
    lazy.subscribe(filt, qos=2)
    pub = clients.paho(broker, f"{uid}-p")
    for i in range(4):
        pub.publish(topic, f"{i}".encode(), qos=2)
    held = [int(lazy.expect(w.PUBLISH).payload) for _ in range(2)]
    lazy.abort()  # no PUBREC for either: both were "in the process of sending"
    # The lazy session has ended once its disconnected event is out.
    before = good.get_until(lambda m: m.topic.endswith(f"/clients/{uid}-lazy/disconnected"))
    pub.publish(topic, b"after", qos=2)
    after = good.get_until(lambda m: m.payload == b"after", timeout=15)
    got = [m for m in before + after if not m.topic.startswith("$SYS")]
    others = sorted(set(range(4)) - set(held))
    assert sorted(int(m.payload) for m in got[:-1]) == others, \
        f"lazy held {held}; good got {[m.payload for m in got]}"
    assert_no_message(good, 0.5)


@pytest.mark.parametrize("strategy", ["sticky", "hash_clientid"])
def test_shared_strategy_keeps_one_member(broker_factory, clients, uid, strategy):
    """sticky and hash_clientid send one publisher's messages to one member
    (EMQX's strategies)."""
    b = broker_factory(env={"ROADMQ_MQTT__SHARED_SUBSCRIPTION_STRATEGY": strategy})
    topic = f"shared/{uid}"
    subs = members(b, clients, uid, f"$share/gs/{topic}", 3)
    pub = clients.paho(b, f"{uid}-p")
    for i in range(9):
        pub.publish(topic, f"{i}".encode(), qos=1)
    got = collect(subs, 9)
    sizes = sorted(len(v) for v in got.values())
    assert sizes == [0, 0, 9], {i: [m.text for m in v] for i, v in got.items()}
    winner = [v for v in got.values() if v][0]
    assert [int(m.payload) for m in winner] == list(range(9))


def test_shared_strategy_random(broker_factory, clients, uid):
    """random: every message still goes to exactly one member."""
    b = broker_factory(env={"ROADMQ_MQTT__SHARED_SUBSCRIPTION_STRATEGY": "random"})
    topic = f"shared/{uid}"
    subs = members(b, clients, uid, f"$share/gr/{topic}", 3)
    pub = clients.paho(b, f"{uid}-p")
    for i in range(30):
        pub.publish(topic, f"{i}".encode(), qos=1)
    got = collect(subs, 30)
    assert sorted(int(m.payload) for v in got.values() for m in v) == list(range(30))


def test_shared_local_prefers_members_on_the_publishers_shard(broker_factory, clients, uid):
    """local (the default): with 2 shards, a publisher's messages go to the
    members on its own shard, in turn, while they keep up; members on the
    other shard get none. A publisher on a shard without members reaches
    every member in turn. Each message still reaches exactly one member."""
    b = broker_factory(env={"ROADMQ_NODE__SHARDS": "2"})
    topic = f"shared/{uid}"
    near = ids_on_shard(f"{uid}-near", 0, 2, 2)
    far = ids_on_shard(f"{uid}-far", 1, 2, 1)
    cv = threading.Condition()
    subs = []
    for cid in near + far:
        c = clients.paho(b, cid, MQTTv5, connect=False)
        c.cv = cv
        c.connect()
        c.subscribe(f"$share/gl/{topic}", qos=1)
        subs.append(c)
    pub = clients.paho(b, ids_on_shard(f"{uid}-p", 0, 2, 1)[0])
    for i in range(12):
        pub.publish(topic, f"{i}".encode(), qos=1)
    got = collect(subs, 12)
    assert sorted(int(m.payload) for v in got.values() for m in v) == list(range(12))
    assert [len(got[i]) for i in range(3)] == [6, 6, 0], {i: [m.text for m in v] for i, v in got.items()}

    # Members only on shard 0, publisher on shard 1: every member in turn.
    subs[2].unsubscribe(f"$share/gl/{topic}")
    for s in subs:
        s.messages.clear()
    other = clients.paho(b, ids_on_shard(f"{uid}-q", 1, 2, 1)[0])
    for i in range(12):
        other.publish(topic, f"{i}".encode(), qos=1)
    got = collect(subs[:2], 12)
    assert sorted(int(m.payload) for v in got.values() for m in v) == list(range(12))
    assert sorted(len(v) for v in got.values()) == [6, 6], {i: [m.text for m in v] for i, v in got.items()}
    assert_no_message(subs[2], 0.3)


def test_shared_local_shares_out_when_the_local_member_falls_behind(broker_factory, clients, uid):
    """local: a member on the publisher's shard that stops acknowledging
    fills its inflight window, then has messages queued; from then on the
    members take turns, so the member on the other shard gets messages
    although the publisher's shard has a member. When the stalled member
    goes, what it held goes to the other member: each message arrives
    exactly once."""
    b = broker_factory(env={"ROADMQ_NODE__SHARDS": "2", "ROADMQ_MQTT__MAX_INFLIGHT": "4"})
    topic = f"shared/{uid}"
    stalled = clients.raw(b)
    stalled.connect(ids_on_shard(f"{uid}-stalled", 0, 2, 1)[0])
    stalled.subscribe(f"$share/gs/{topic}", qos=1)
    far = clients.paho(b, ids_on_shard(f"{uid}-far", 1, 2, 1)[0])
    far.subscribe(f"$share/gs/{topic}", qos=1)
    pub = clients.paho(b, ids_on_shard(f"{uid}-p", 0, 2, 1)[0])
    n = 40
    for i in range(n):
        pub.publish(topic, f"{i}".encode(), qos=1)
    held = [int(stalled.expect(w.PUBLISH).payload) for _ in range(4)]
    assert held == [0, 1, 2, 3], held  # its window, filled while it kept up
    # Message 4 is queued for it; from 5 on every other one goes to far.
    early = sorted(int(m.payload) for m in far.get_n(10, timeout=20))
    assert all(p >= 5 for p in early), early
    stalled.abort()
    got = early + [int(m.payload) for m in far.get_n(n - 10, timeout=20)]
    counts = collections.Counter(got)
    assert sorted(counts) == list(range(n)), counts
    assert all(v == 1 for v in counts.values()), f"duplicates: {counts}"


def test_shared_no_retained_on_subscribe(broker, clients, uid):
    """Retained messages are not sent when a shared subscription is made
    (§4.8.2: shared subscriptions get no retained messages on subscribe;
    EMQX likewise)."""
    topic = f"shared/{uid}"
    pub = clients.paho(broker, f"{uid}-p")
    pub.publish(topic, b"retained", qos=1, retain=True)
    (m0,) = members(broker, clients, uid, f"$share/gret/{topic}", 1)
    pub.publish(topic, b"live", qos=1)
    assert [m.payload for m in m0.get_until(lambda m: m.payload == b"live")] == [b"live"]
    pub.publish(topic, b"", qos=1, retain=True)
