"""Several shards (I/O threads): clients land on different shards and
sessions live on their client id's home shard, so every path below crosses
shard mailboxes. Nothing may be lost, duplicated or reordered."""

import collections
import threading
import time
from pathlib import Path

import pytest

import mqtt_wire as w
from paho_sync import MQTTv5

N_PUB = 20
N_SUB = 20
PER_PUB = 10

SHARDS = [pytest.param(2, id="shards2"), pytest.param(4, id="shards4")]


def start(broker_factory, shards):
    return broker_factory(env={"ROADMQ_NODE__SHARDS": str(shards)})


def shared_cv_clients(clients, broker, ids, **kw):
    cv = threading.Condition()
    out = []
    for cid in ids:
        c = clients.paho(broker, cid, MQTTv5, connect=False)
        c.cv = cv
        c.connect(**kw)
        out.append(c)
    return cv, out


def wait_counts(cv, subs, want, timeout):
    deadline = time.monotonic() + timeout
    with cv:
        while True:
            counts = [len(s.messages) for s in subs]
            if all(n >= want for n in counts):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"per-subscriber counts {counts}, wanted {want} each")
            cv.wait(left)


@pytest.mark.parametrize("shards", SHARDS)
def test_fan_in_fan_out_exactly_once_in_order(broker_factory, clients, uid, shards):
    """20 publishers x 10 QoS 1 messages to 20 subscribers of a wildcard
    filter: each subscriber gets each message exactly once, and each
    publisher's messages in order [MQTT-4.6.0-5]."""
    b = start(broker_factory, shards)
    base = f"ms/{uid}"
    cv, subs = shared_cv_clients(clients, b, [f"{uid}-sub{j}" for j in range(N_SUB)])
    for s in subs:
        s.subscribe(f"{base}/+", qos=1)
    pubs = [clients.paho(b, f"{uid}-pub{i}") for i in range(N_PUB)]
    # Publishers run concurrently so their messages interleave in the broker.
    errors = []

    def run(i, p):
        try:
            for k in range(PER_PUB):
                p.publish(f"{base}/p{i}", f"{i}:{k}".encode(), qos=1, wait=False)
            p.publish(f"{base}/p{i}", f"{i}:{PER_PUB}".encode(), qos=1)  # waits: all sent
        except Exception as e:  # reported below, on the test thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(pubs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    total = N_PUB * (PER_PUB + 1)
    wait_counts(cv, subs, total, timeout=90)
    for s in subs:
        with cv:
            msgs = list(s.messages)
        assert len(msgs) == total, (s.client_id, len(msgs))
        per_pub = collections.defaultdict(list)
        for m in msgs:
            i, k = m.text.split(":")
            assert m.topic == f"{base}/p{i}"
            per_pub[int(i)].append(int(k))
        for i in range(N_PUB):
            assert per_pub[i] == list(range(PER_PUB + 1)), (s.client_id, i, per_pub[i])


@pytest.mark.parametrize("shards", SHARDS)
def test_persistent_sessions_across_shards(broker_factory, clients, uid, shards):
    """Persistent sessions resumed by connections that may land on other
    shards: every queued QoS 1 message arrives once, in order
    [MQTT-3.1.2-5, MQTT-4.6.0-5]."""
    b = start(broker_factory, shards)
    base = f"ms/{uid}"
    ids = [f"{uid}-car{j}" for j in range(10)]
    for cid in ids:
        c = clients.paho(b, cid, clean=False, session_expiry=300)
        c.subscribe(f"{base}/{cid}/down", qos=1)
        c.subscribe(f"{base}/all/down", qos=1)
        c.disconnect()
    pub = clients.paho(b, f"{uid}-cloud")
    for k in range(5):
        for cid in ids:
            pub.publish(f"{base}/{cid}/down", f"{cid}:{k}".encode(), qos=1, wait=False)
        pub.publish(f"{base}/all/down", f"all:{k}".encode(), qos=1)
    cv, cars = shared_cv_clients(clients, b, ids, clean=False, session_expiry=0)
    assert all(c.connack.session_present for c in cars)
    wait_counts(cv, cars, 10, timeout=60)
    for c in cars:
        with cv:
            got = [m.text for m in c.messages]
        assert len(got) == 10, (c.client_id, got)
        assert [t for t in got if t.startswith(c.client_id)] == [f"{c.client_id}:{k}" for k in range(5)]
        assert [t for t in got if t.startswith("all:")] == [f"all:{k}" for k in range(5)]


@pytest.mark.parametrize("shards", SHARDS)
def test_takeover_across_shards(broker_factory, clients, uid, shards):
    """Repeated takeovers of the same client ids (new connections land on
    any shard): each old 5.0 connection gets DISCONNECT 0x8E [MQTT-3.1.4-3]
    and the session survives every move."""
    b = start(broker_factory, shards)
    ids = [f"{uid}-t{j}" for j in range(6)]
    current = {}
    for cid in ids:
        c = clients.raw(b)
        c.connect(cid, clean=False, props={"session_expiry_interval": 300})
        c.subscribe(f"ms/{uid}/{cid}", qos=1)
        current[cid] = c
    for _round in range(3):
        for cid in ids:
            new = clients.raw(b)
            ack = new.connect(cid, clean=False, props={"session_expiry_interval": 300})
            assert ack.session_present, ack
            got = current[cid].wait_closed()
            assert [(p.type, p.reason_code) for p in got] == [(w.DISCONNECT, 0x8E)], (cid, got)
            current[cid] = new
    pub = clients.paho(b, f"{uid}-p")
    for cid in ids:
        pub.publish(f"ms/{uid}/{cid}", cid.encode(), qos=1)
    for cid in ids:
        assert current[cid].recv_publish().payload == cid.encode()


@pytest.mark.parametrize("shards", SHARDS)
def test_shared_group_across_shards(broker_factory, clients, uid, shards):
    """A shared group whose members sit on different shards: each message
    goes to exactly one member; round_robin keeps the split even."""
    b = broker_factory(env={"ROADMQ_NODE__SHARDS": str(shards),
                            "ROADMQ_MQTT__SHARED_SUBSCRIPTION_STRATEGY": "round_robin"})
    topic = f"ms/{uid}/jobs"
    cv, members = shared_cv_clients(clients, b, [f"{uid}-w{j}" for j in range(4)])
    for m in members:
        m.subscribe(f"$share/workers/{topic}", qos=1)
    pub = clients.paho(b, f"{uid}-p")
    for k in range(40):
        pub.publish(topic, f"{k}".encode(), qos=1, wait=False)
    pub.publish(topic, b"40", qos=1)
    deadline = time.monotonic() + 60
    with cv:
        while sum(len(m.messages) for m in members) < 41:
            left = deadline - time.monotonic()
            assert left > 0, [len(m.messages) for m in members]
            cv.wait(left)
        got = [int(x.payload) for m in members for x in m.messages]
        counts = sorted(len(m.messages) for m in members)
    assert sorted(got) == list(range(41))
    assert counts[-1] - counts[0] <= 1, counts


@pytest.mark.parametrize("shards", SHARDS)
def test_burst_larger_than_a_cross_shard_batch(broker_factory, clients, uid, shards):
    """One client writes 3,000 QoS 1 PUBLISH packets at once, so single reads
    hold more messages than one cross-shard batch takes (1,024): the batches
    are sent part-way through a read. Subscribers on the other shards, and a
    shared group spread over them, still get every message once and in
    order, and every PUBLISH is acknowledged."""
    n = 3000
    # Queues long enough for the whole burst: nothing may be dropped here.
    b = broker_factory(env={"ROADMQ_NODE__SHARDS": str(shards), "ROADMQ_MQTT__MAX_MQUEUE_LEN": "10000"})
    topic = f"ms/{uid}/burst"
    cv, subs = shared_cv_clients(clients, b, [f"{uid}-s{j}" for j in range(4)])
    for s in subs:
        s.subscribe(topic, qos=1)
    members = []
    for j in range(2):
        m = clients.paho(b, f"{uid}-m{j}", MQTTv5, connect=False)
        m.cv = cv
        m.connect()
        m.subscribe(f"$share/burst/{topic}", qos=1)
        members.append(m)
    # 3.1.1: no Receive Maximum limits how many QoS 1 messages it may send
    # before their PUBACKs.
    pub = clients.raw(b, w.MQTT311)
    pub.send(w.connect_packet(f"{uid}-pub", version=w.MQTT311))
    assert pub.recv().name == "CONNACK"
    pub.send(b"".join(w.publish_packet(topic, str(k).encode(), qos=1, packet_id=k + 1,
                                       version=w.MQTT311) for k in range(n)))
    acked = set()
    while len(acked) < n:
        p = pub.recv()
        assert p is not None and p.name == "PUBACK", (len(acked), p)
        acked.add(p.packet_id)
    assert acked == set(range(1, n + 1))
    wait_counts(cv, subs, n, timeout=90)
    deadline = time.monotonic() + 60
    with cv:
        while sum(len(m.messages) for m in members) < n:
            left = deadline - time.monotonic()
            assert left > 0, [len(m.messages) for m in members]
            cv.wait(left)
        got = {s.client_id: [int(x.payload) for x in s.messages] for s in subs}
        shared = [[int(x.payload) for x in m.messages] for m in members]
    for cid, payloads in got.items():
        assert payloads == list(range(n)), cid
    for part in shared:
        assert part == sorted(part)  # each member's share keeps the order
    assert sorted(shared[0] + shared[1]) == list(range(n))


@pytest.mark.parametrize("shards", SHARDS)
def test_simultaneous_connects_same_id(broker_factory, clients, uid, shards):
    """Five connections with one client id at the same moment, ten times:
    every CONNECT is answered, exactly one connection survives each round
    (the others get DISCONNECT 0x8E or are closed) [MQTT-3.1.4-3], and the
    session keeps working."""
    b = start(broker_factory, shards)
    cid = f"{uid}-race"
    topic = f"ms/{uid}/race"
    for rnd in range(10):
        conns = [clients.raw(b) for _ in range(5)]
        for c in conns:  # all CONNECTs on the wire before reading any answer
            c.send(w.connect_packet(cid, clean=False, props={"session_expiry_interval": 300}))
        for c in conns:
            p = c.recv(timeout=20)
            assert p is None or p.type in (w.CONNACK, w.DISCONNECT), p
        survivors = []
        for c in conns:
            if c.eof:
                continue
            try:
                if c.is_open_after_ping(timeout=10):
                    survivors.append(c)
            except TimeoutError:
                pass
        assert len(survivors) == 1, f"round {rnd}: {len(survivors)} connections alive"
        last = survivors[0]
        for c in conns:
            if c is not last:
                c.close()
    last.subscribe(topic, qos=1)
    pub = clients.paho(b, f"{uid}-p")
    pub.publish(topic, b"winner", qos=1)
    assert last.recv_publish().payload == b"winner"


@pytest.mark.parametrize("shards", SHARDS)
def test_churn_with_traffic(broker_factory, clients, uid, shards):
    """Clients with wills and persistent sessions connecting, subscribing,
    receiving and dropping (some abruptly) while a publisher streams QoS 0/1/2:
    the daemon stays healthy (ASan watches) and a steady subscriber gets
    every QoS 1/2 message once."""
    b = start(broker_factory, shards)
    topic = f"ms/{uid}/stream"
    steady = clients.paho(b, f"{uid}-steady")
    steady.subscribe(topic, qos=2)
    pub = clients.paho(b, f"{uid}-pub")
    sent = []
    for rnd in range(15):
        churners = []
        for j in range(4):
            c = clients.raw(b)
            c.connect(f"{uid}-churn{j}", clean=(j % 2 == 0),
                      props={"session_expiry_interval": 0 if j % 2 == 0 else 30},
                      will=w.Will(f"ms/{uid}/will", b"bye", qos=1))
            c.subscribe(topic, qos=j % 3)
            churners.append(c)
        for k in range(5):
            payload = f"{rnd}:{k}".encode()
            qos = 1 + (k % 2)
            pub.publish(topic, payload, qos=qos, wait=False)
            sent.append(payload)
        pub.publish(topic, b"q0", qos=0, wait=False)
        for j, c in enumerate(churners):
            if j % 2:
                c.abort()
            else:
                c.disconnect()
    got = [m.payload for m in steady.get_n(len(sent) + 15, timeout=60)]
    assert sorted(p for p in got if p != b"q0") == sorted(sent)


@pytest.mark.parametrize("shards", SHARDS)
def test_pipelined_packets_survive_shard_move(broker_factory, clients, uid, shards):
    """Packets sent right behind CONNECT (same TCP write) reach the session
    even though the connection moves to its client id's home shard after
    CONNECT: every one of 16 clients gets CONNACK, SUBACK, its own message
    and PINGRESP."""
    b = start(broker_factory, shards)
    conns = []
    for i in range(16):
        c = clients.raw(b)
        topic = f"ms/{uid}/pipe{i}"
        c.send(w.connect_packet(f"{uid}-pipe{i}")
               + w.subscribe_packet(1, [(topic, 1)])
               + w.publish_packet(topic, f"own{i}".encode(), qos=1, packet_id=2)
               + w.PINGREQ_BYTES)
        conns.append(c)
    for i, c in enumerate(conns):
        kinds = []
        while len(kinds) < 5:
            p = c.recv()
            assert p is not None, (i, kinds)
            kinds.append(p.name)
            if p.type == w.PUBLISH:
                assert p.payload == f"own{i}".encode()
                c.ack(p)
        assert kinds[:2] == ["CONNACK", "SUBACK"] and \
            sorted(kinds[2:]) == ["PINGRESP", "PUBACK", "PUBLISH"], (i, kinds)


@pytest.mark.parametrize("shards", SHARDS)
def test_threads_are_named_for_operators(broker_factory, shards):
    """`top -H`, `ps -L` and bench/shard_scaling.py tell the threads apart:
    one `shard-N` per shard and the storage `committer`."""
    b = start(broker_factory, shards)
    names = []
    for task in Path(f"/proc/{b.proc.pid}/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except OSError:
            pass  # a thread that ended meanwhile
    assert sorted(n for n in names if n.startswith("shard-")) == \
        sorted(f"shard-{i}" for i in range(shards)), names
    assert names.count("committer") == 1, names
