"""Durable sessions: what the broker acknowledged survives a restart, a
SIGTERM and a kill -9 (durability promise). Persistent sessions keep their
subscriptions, queued messages, inflight messages and inbound QoS 2 state;
retained messages come back too."""

import random
import signal
import socket
import threading
import time

import pytest

import mqtt_wire as w
from daemon import Daemon
from paho_sync import MQTTv5, MQTTv311


QUEUE_LEN = 2_000_000


@pytest.fixture
def restartable(request):
    """A daemon whose data dir outlives restarts; stopped and removed at the end."""
    daemons = []

    def make(env=None):
        # Queues long enough for every message these tests publish (a full
        # queue drops its oldest message, which would look like loss).
        d = Daemon(env={"ROADMQ_MQTT__MAX_MQUEUE_LEN": str(QUEUE_LEN), "ROADMQ_MQTT__MAX_MQUEUE_BYTES": "1GB",
                        **(env or {})})
        daemons.append(d)
        return d

    yield make
    for d in daemons:
        try:
            d.stop(check=False)
        finally:
            d.cleanup()


def restart(d: Daemon, how: int) -> None:
    """Stops the daemon with `how` (SIGTERM or SIGKILL) and starts it again on
    the same data dir; SIGTERM must be a clean exit."""
    d.signal(how)
    rc = d.wait()
    if how == signal.SIGTERM:
        assert rc == 0, d.stderr()[-4000:]
    d.start()


def payload(publisher: str, seq: int) -> bytes:
    return f"{publisher}:{seq:06d}".encode()


def seqs_of(messages, publisher: str) -> list:
    out = []
    for p in messages:
        text = p.decode() if isinstance(p, (bytes, bytearray)) else p
        who, _, n = text.partition(":")
        if who == publisher:
            out.append(int(n))
    return out


def check_order_and_count(seqs: list, expected: list, exactly_once: bool):
    """Every expected sequence number arrives; in order, apart from the
    redelivery of a message that was inflight (QoS 1 may repeat)."""
    assert set(expected) <= set(seqs), f"missing {sorted(set(expected) - set(seqs))[:20]}"
    dups = len(seqs) - len(set(seqs))
    if exactly_once:
        assert dups == 0, f"{dups} duplicates"
    firsts = []
    seen = set()
    for s in seqs:
        if s not in seen:
            seen.add(s)
            firsts.append(s)
    assert firsts == sorted(firsts), "out of order"
    return dups


def drain_raw(c: w.RawClient, idle: float = 3.0) -> list:
    """Receives and acknowledges PUBLISH packets until none comes for `idle` s."""
    got = []
    while True:
        try:
            p = c.recv(timeout=idle)
        except TimeoutError:
            return got
        if p is None:
            return got
        if p.name == "PUBLISH":
            got.append(p.payload)
            c.ack(p)


def publish_until_broken(c: w.RawClient, topic: str, first_seq: int, acked: list,
                         stop: threading.Event = None) -> int:
    """Streams QoS 1 publishes in windows of 20 until the broker goes away
    (or `stop` is set); appends each PUBACKed sequence number to `acked`.
    Returns the next sequence number."""
    seq = first_seq
    try:
        while stop is None or not stop.is_set():
            window = []
            for _ in range(20):
                pid = c.new_id()
                c.send(w.publish_packet(topic, payload("p", seq), qos=1, packet_id=pid))
                window.append((pid, seq))
                seq += 1
            for pid, s in window:
                c.expect(w.PUBACK, packet_id=pid)
                acked.append(s)
    except (OSError, ConnectionError, TimeoutError, AssertionError):
        pass  # the broker died under it
    return seq


@pytest.mark.parametrize("version", [MQTTv311, MQTTv5], ids=["v311", "v5"])
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill9"])
def test_queued_messages_survive_restart(restartable, clients, uid, version, how):
    """A persistent client subscribes (QoS 1 and QoS 2) and goes away; 1000
    QoS 1 and 1000 QoS 2 messages are published and acknowledged; the broker
    is stopped and restarted; the client gets every one, QoS 2 exactly once,
    QoS 1 at least once, in order per publisher."""
    d = restartable().start()
    cid = f"{uid}-car"
    sub = clients.paho(d, cid, version=version, clean_session=False, connect=False)
    if version == MQTTv5:
        sub.connect(clean=False, session_expiry=3600)
    else:
        sub.connect(clean=False)
    sub.subscribe(f"{uid}/q1", qos=1)
    sub.subscribe(f"{uid}/q2", qos=2)
    sub.disconnect()

    pub = clients.paho(d, f"{uid}-pub", version=version)
    for i in range(1000):
        pub.publish(f"{uid}/q1", payload("q1", i), qos=1, wait=False)
        pub.publish(f"{uid}/q2", payload("q2", i), qos=2, wait=False)
    # Acknowledged: PUBACK for QoS 1, PUBREC (and here the whole flow) for QoS 2.
    pub._wait(lambda: len(pub.published) >= 2000, 120, "every acknowledgement")
    pub.disconnect()

    restart(d, how)

    back = clients.paho(d, cid, version=version, clean_session=False, connect=False)
    if version == MQTTv5:
        ack = back.connect(clean=False, session_expiry=3600)
    else:
        ack = back.connect(clean=False)
    assert ack.session_present
    msgs = []
    while True:
        try:
            msgs.append(back.get(timeout=3.0))
        except TimeoutError:
            break
    q1 = seqs_of([m.payload for m in msgs if m.topic.endswith("/q1")], "q1")
    q2 = seqs_of([m.payload for m in msgs if m.topic.endswith("/q2")], "q2")
    check_order_and_count(q2, list(range(1000)), exactly_once=True)
    dups = check_order_and_count(q1, list(range(1000)), exactly_once=False)
    print(f"QoS 1 duplicates after restart: {dups}")


def test_kill9_while_publishing_loses_no_acknowledged_message(restartable, clients, uid):
    """The broker is kill -9'd while a QoS 1 publisher streams; after the
    restart the persistent subscriber gets every message that had its PUBACK."""
    d = restartable().start()
    cid = f"{uid}-car"
    sub = clients.raw(d)
    sub.connect(cid, clean=False, props={"session_expiry_interval": 3600})
    sub.subscribe(f"{uid}/t", qos=1)
    sub.disconnect()

    acked = []
    stop = threading.Event()

    def publisher(port):
        c = w.RawClient(d.host, port)
        try:
            c.connect(f"{uid}-pub")
            publish_until_broken(c, f"{uid}/t", 0, acked, stop)
        except (OSError, ConnectionError, TimeoutError, AssertionError):
            pass
        finally:
            c.close()

    t = threading.Thread(target=publisher, args=(d.port,))
    t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 500 and time.monotonic() < deadline:
        time.sleep(0.01)
    d.signal(signal.SIGKILL)
    d.wait()
    stop.set()
    t.join(30)
    assert len(acked) >= 500
    d.start()

    back = clients.raw(d)
    ack = back.connect(cid, clean=False, props={"session_expiry_interval": 3600})
    assert ack.session_present
    got = seqs_of(drain_raw(back), "p")
    dups = check_order_and_count(got, acked, exactly_once=False)
    print(f"acknowledged {len(acked)}, received {len(set(got))}, duplicates {dups}")


def test_kill9_while_publishing_qos2_is_exactly_once(restartable, clients, uid):
    """A QoS 2 publisher with a persistent session streams; the broker is
    kill -9'd mid-stream and restarted; the publisher resumes its session the
    way the spec asks (PUBLISH again with DUP where no PUBREC came, PUBREL
    where one did). The persistent subscriber gets every message once."""
    d = restartable().start()
    sub = clients.raw(d)
    sub.connect(f"{uid}-car", clean=False, props={"session_expiry_interval": 3600})
    sub.subscribe(f"{uid}/t", qos=2)
    sub.disconnect()

    topic = f"{uid}/t"
    sent = {}       # packet id -> seq, PUBLISH sent, no PUBREC yet
    received = {}   # packet id -> seq, PUBREC came, PUBCOMP not yet
    done = []       # seqs whose flow completed
    seq = 0
    pub = w.RawClient(d.host, d.port)
    pub.connect(f"{uid}-pub", clean=False, props={"session_expiry_interval": 3600})
    killer = threading.Timer(0.4, lambda: d.signal(signal.SIGKILL))
    killer.start()
    try:
        while True:
            for _ in range(20):
                pid = pub.new_id()
                pub.send(w.publish_packet(topic, payload("p", seq), qos=2, packet_id=pid))
                sent[pid] = seq
                seq += 1
            while sent or received:
                p = pub.recv(timeout=10)
                if p is None:
                    raise ConnectionError("broker gone")
                if p.type == w.PUBREC:
                    received[p.packet_id] = sent.pop(p.packet_id)
                    pub.send(w.ack_packet(w.PUBREL, p.packet_id))
                elif p.type == w.PUBCOMP:
                    done.append(received.pop(p.packet_id))
    except (OSError, ConnectionError, TimeoutError, AssertionError):
        pass
    finally:
        killer.cancel()
        pub.close()
    d.wait()
    assert done or received, "the broker died before acknowledging anything"
    d.start()

    again = clients.raw(d)
    assert again.connect(f"{uid}-pub", clean=False, props={"session_expiry_interval": 3600}).session_present
    for pid, s in sorted(sent.items(), key=lambda kv: kv[1]):
        again.send(w.publish_packet(topic, payload("p", s), qos=2, dup=True, packet_id=pid))
    for pid in received:
        again.send(w.ack_packet(w.PUBREL, pid))
    while sent or received:
        p = again.recv(timeout=15)
        assert p is not None
        if p.type == w.PUBREC:
            received[p.packet_id] = sent.pop(p.packet_id)
            again.send(w.ack_packet(w.PUBREL, p.packet_id))
        elif p.type == w.PUBCOMP:
            done.append(received.pop(p.packet_id))

    back = clients.raw(d)
    assert back.connect(f"{uid}-car", clean=False, props={"session_expiry_interval": 3600}).session_present
    got = seqs_of(drain_raw(back), "p")
    check_order_and_count(got, sorted(done), exactly_once=True)
    assert len(got) == len(done) == seq


def test_crash_loop(restartable, clients, uid):
    """A QoS 1 publisher at full speed; the broker is kill -9'd at random
    moments 20 times and restarted; every PUBACKed message reaches the
    persistent subscriber."""
    d = restartable().start()
    cid = f"{uid}-car"
    sub = clients.raw(d)
    sub.connect(cid, clean=False, props={"session_expiry_interval": 3600})
    sub.subscribe(f"{uid}/t", qos=1)
    sub.disconnect()

    rng = random.Random(20261126)
    acked = []
    seq = 0
    for round_ in range(20):
        c = w.RawClient(d.host, d.port)
        killer = threading.Timer(rng.uniform(0.05, 0.6), lambda: d.signal(signal.SIGKILL))
        try:
            c.connect(f"{uid}-pub")
            killer.start()
            seq = publish_until_broken(c, f"{uid}/t", seq, acked)
        except (OSError, ConnectionError, TimeoutError, AssertionError):
            pass
        finally:
            killer.cancel()
            c.close()
        if d.alive():
            d.signal(signal.SIGKILL)
        d.wait()
        d.start()

    assert len(acked) < QUEUE_LEN, "the session queue bound was reached: raise QUEUE_LEN"
    back = clients.raw(d)
    ack = back.connect(cid, clean=False, props={"session_expiry_interval": 3600})
    assert ack.session_present
    got = seqs_of(drain_raw(back, idle=5.0), "p")
    dups = check_order_and_count(got, acked, exactly_once=False)
    print(f"20 kills: acknowledged {len(acked)}, received {len(set(got))}, duplicates {dups}")


def test_subscriptions_wills_and_retained_survive(restartable, clients, uid):
    """Subscriptions (with their options), a pending delayed will, and
    retained messages come back after a restart; a session that had expired
    does not."""
    d = restartable(env={"ROADMQ_MQTT__SESSION_EXPIRY_INTERVAL": "1h"}).start()
    watcher = clients.raw(d)
    watcher.connect(f"{uid}-watch", clean=False, props={"session_expiry_interval": 3600})
    watcher.subscribe(f"{uid}/will", qos=1)
    watcher.subscribe(f"{uid}/data/+", qos=2)
    watcher.disconnect()

    short = clients.raw(d)
    short.connect(f"{uid}-short", clean=False, props={"session_expiry_interval": 1})
    short.subscribe(f"{uid}/data/+", qos=1)
    short.disconnect()

    car = clients.raw(d)
    car.connect(f"{uid}-car", clean=False, props={"session_expiry_interval": 3600},
                will=w.Will(f"{uid}/will", b"car lost", qos=1, props={"will_delay_interval": 2}))
    pub = clients.raw(d)
    pub.connect(f"{uid}-pub")
    pub.publish(f"{uid}/ret", b"kept", qos=1, retain=True)
    pub.publish(f"{uid}/data/1", b"d1", qos=2)
    car.abort()  # lost connection: the will waits for its delay
    time.sleep(1.5)  # the short session expires meanwhile

    restart(d, signal.SIGKILL)

    back = clients.raw(d)
    ack = back.connect(f"{uid}-watch", clean=False, props={"session_expiry_interval": 3600})
    assert ack.session_present
    got = {}
    deadline = time.monotonic() + 15
    while len(got) < 2 and time.monotonic() < deadline:
        p = back.recv_publish(timeout=15)
        got[p.topic] = p
    assert got[f"{uid}/data/1"].payload == b"d1" and got[f"{uid}/data/1"].qos == 2
    assert got[f"{uid}/will"].payload == b"car lost"

    fresh = clients.raw(d)
    fresh.connect(f"{uid}-reader")
    fresh.subscribe(f"{uid}/ret", qos=1)
    assert fresh.recv_publish().payload == b"kept"

    gone = clients.raw(d)
    assert not gone.connect(f"{uid}-short", clean=False, props={"session_expiry_interval": 60}).session_present


def test_batch_downlink_to_many_offline_sessions(restartable, clients, uid):
    """One QoS 1 notice to 10,000 offline persistent sessions: stored once,
    each session gets it exactly once on reconnect; disk growth is reported."""
    d = restartable().start()
    n = 10_000
    topic = f"{uid}/fleet/notice"
    ids = [f"{uid}-v{i:05d}" for i in range(n)]

    def register(chunk):
        for cid in chunk:
            c = w.RawClient(d.host, d.port)
            try:
                c.connect(cid, clean=False, props={"session_expiry_interval": 86400})
                c.subscribe(topic, qos=1)
                c.disconnect()
            finally:
                c.close()

    def run_threads(fn, parts=8):
        threads = [threading.Thread(target=fn, args=(ids[k::parts],)) for k in range(parts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)

    run_threads(register)
    before = dir_size(d.data_dir)
    notice = bytes(range(256)) * 400  # 100 KB
    pub = clients.raw(d)
    pub.connect(f"{uid}-tsp")
    assert pub.publish(topic, notice, qos=1, timeout=120).reason_code == 0
    after = dir_size(d.data_dir)
    print(f"data dir grew by {after - before} bytes for a {len(notice)} B notice to {n} offline sessions")
    # Stored once (plus per-session records of some 30 bytes), not once per session (1 GB).
    assert after - before < 10 * len(notice) + 100 * n

    counts = {}
    lock = threading.Lock()

    def reconnect(chunk):
        for cid in chunk:
            c = w.RawClient(d.host, d.port)
            try:
                ack = c.connect(cid, clean=False, props={"session_expiry_interval": 86400})
                assert ack.session_present
                # The queue is sent on reconnect, before the PINGRESP that
                # follows it: a duplicate would show up in between.
                c.send(w.packet(w.PINGREQ, 0, b""))
                got = 0
                while True:
                    p = c.recv(timeout=30)
                    assert p is not None
                    if p.type == w.PINGRESP:
                        break
                    if p.type == w.PUBLISH:
                        assert p.payload == notice
                        c.ack(p)
                        got += 1
                c.disconnect()
            finally:
                c.close()
            with lock:
                counts[cid] = got

    run_threads(reconnect)
    assert len(counts) == n
    assert set(counts.values()) == {1}


def dir_size(path) -> int:
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            total += p.stat().st_size
    return total


def test_second_broker_on_the_same_data_dir_is_refused(restartable):
    first = restartable().start()
    second = Daemon(workdir=first.workdir)
    try:
        with pytest.raises(AssertionError) as e:
            second.start(timeout=20)
        assert "is in use by another roadmq" in str(e.value)
        assert str(first.data_dir) in str(e.value)
        assert second.returncode not in (None, 0) and second.returncode > 0
    finally:
        second.kill()
    assert first.alive()


def test_damaged_data_dir_is_reported_not_crashed_on(restartable):
    d = restartable().start()
    d.stop()
    (d.data_dir / "CURRENT").write_bytes(b"\x00garbage\n")
    with pytest.raises(AssertionError) as e:
        d.start(timeout=20)
    assert str(d.data_dir) in str(e.value)
    assert d.returncode is not None and d.returncode > 0  # an error exit, not a signal
    d.ended_by_test = True
