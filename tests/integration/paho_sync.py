"""A synchronous face on paho-mqtt 1.6 (Debian's python3-paho-mqtt).

paho calls back from its network thread; tests want "connect and give me the
CONNACK", "subscribe and give me the SUBACK codes", "the next message". Each
of those waits on a condition variable with a bounded timeout, never on a
fixed sleep.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Optional

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

MQTTv31, MQTTv311, MQTTv5 = mqtt.MQTTv31, mqtt.MQTTv311, mqtt.MQTTv5
DEFAULT_TIMEOUT = 10.0


@dataclasses.dataclass
class Msg:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    dup: bool
    props: dict

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


@dataclasses.dataclass
class Connack:
    rc: int
    session_present: bool
    props: dict


def props_of(p: Optional[Properties]) -> dict:
    if p is None:
        return {}
    d = p.json()
    # json() hex-encodes correlation data; tests want the bytes.
    if hasattr(p, "CorrelationData"):
        d["CorrelationData"] = bytes(p.CorrelationData)
    return d


def make_props(packet_type: int, **values) -> Properties:
    """make_props(PacketTypes.PUBLISH, MessageExpiryInterval=10, UserProperty=[("a","b")])"""
    p = Properties(packet_type)
    for k, v in values.items():
        setattr(p, k, v)
    return p


def publish_props(**values) -> Properties:
    return make_props(PacketTypes.PUBLISH, **values)


def connect_props(**values) -> Properties:
    return make_props(PacketTypes.CONNECT, **values)


def will_props(**values) -> Properties:
    return make_props(PacketTypes.WILLMESSAGE, **values)


class Client:
    """One paho client on its own loop thread.

    Received messages are kept in arrival order; get() pops the oldest.
    Automatic reconnection is off: a connection the broker closes stays
    closed, which is what the tests observe.
    """

    def __init__(self, port: int, client_id: str = "", version: int = MQTTv5,
                 host: str = "127.0.0.1", clean_session: bool = True, timeout: float = DEFAULT_TIMEOUT):
        self.host, self.port, self.version, self.timeout = host, port, version, timeout
        self.client_id = client_id
        kwargs = {}
        if version != MQTTv5:
            kwargs["clean_session"] = clean_session
        self.c = mqtt.Client(client_id=client_id, protocol=version, reconnect_on_failure=False, **kwargs)
        self.cv = threading.Condition()
        self.messages: list = []
        self.connack: Optional[Connack] = None
        self.subacks: dict = {}
        self.unsubacks: dict = {}
        self.published: set = set()
        self.disconnected = False
        self.disconnect_rc = None
        self.loop_started = False
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_disconnect = self._on_disconnect
        self.c.on_publish = self._on_publish

    # -- callbacks (paho's thread)

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        code = rc.value if hasattr(rc, "value") else int(rc)
        with self.cv:
            self.connack = Connack(code, bool(flags.get("session present")), props_of(properties))
            self.cv.notify_all()

    def _on_message(self, client, userdata, msg):
        m = Msg(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), bool(msg.dup),
                props_of(getattr(msg, "properties", None)))
        with self.cv:
            self.messages.append(m)
            self.cv.notify_all()

    def _on_subscribe(self, client, userdata, mid, codes, properties=None):
        vals = [c.value if hasattr(c, "value") else int(c) for c in codes]
        with self.cv:
            self.subacks[mid] = vals
            self.cv.notify_all()

    def _on_unsubscribe(self, client, userdata, mid, *rest):
        # v5: (properties, reasonCodes); 3.1.1: nothing.
        codes = []
        if len(rest) == 2:
            rcs = rest[1]
            rcs = rcs if isinstance(rcs, list) else [rcs]
            codes = [c.value if hasattr(c, "value") else int(c) for c in rcs]
        with self.cv:
            self.unsubacks[mid] = codes
            self.cv.notify_all()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        with self.cv:
            self.disconnected = True
            self.disconnect_rc = rc.value if hasattr(rc, "value") else rc
            self.cv.notify_all()

    def _on_publish(self, client, userdata, mid):
        with self.cv:
            self.published.add(mid)
            self.cv.notify_all()

    # -- waiting

    def _wait(self, pred, timeout: Optional[float], what: str):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        with self.cv:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"[{self.client_id}] timed out waiting for {what}")
                self.cv.wait(left)

    # -- operations

    def will_set(self, topic: str, payload=b"", qos: int = 0, retain: bool = False,
                 props: Optional[Properties] = None) -> "Client":
        self.c.will_set(topic, payload, qos, retain, props)
        return self

    def connect(self, clean: bool = True, keepalive: int = 60, session_expiry: Optional[int] = None,
                props: Optional[Properties] = None, username: Optional[str] = None,
                password: Optional[str] = None, expect_rc: Optional[int] = 0,
                timeout: Optional[float] = None) -> Connack:
        if username is not None:
            self.c.username_pw_set(username, password)
        with self.cv:
            self.connack = None
            self.disconnected = False
        if self.version == MQTTv5:
            if session_expiry is not None:
                props = props or connect_props()
                props.SessionExpiryInterval = session_expiry
            self.c.connect(self.host, self.port, keepalive, clean_start=clean, properties=props)
        else:
            self.c.connect(self.host, self.port, keepalive)
        if not self.loop_started:
            self.c.loop_start()
            self.loop_started = True
        ack = self._wait(lambda: self.connack, timeout, "CONNACK")
        if expect_rc is not None:
            assert ack.rc == expect_rc, f"[{self.client_id}] CONNACK {ack}"
        return ack

    def subscribe(self, topic, qos: int = 0, no_local: bool = False, retain_as_published: bool = False,
                  retain_handling: int = 0, props: Optional[Properties] = None,
                  sub_id: Optional[int] = None, expect_ok: bool = True,
                  timeout: Optional[float] = None) -> list:
        """topic: a filter or a list of filters (same options). Returns the
        SUBACK codes (granted QoS or reason codes)."""
        topics = topic if isinstance(topic, list) else [topic]
        if sub_id is not None:
            props = props or make_props(PacketTypes.SUBSCRIBE)
            props.SubscriptionIdentifier = sub_id
        if self.version == MQTTv5:
            opts = SubscribeOptions(qos=qos, noLocal=no_local, retainAsPublished=retain_as_published,
                                    retainHandling=retain_handling)
            rc, mid = self.c.subscribe([(t, opts) for t in topics], properties=props)
        else:
            rc, mid = self.c.subscribe([(t, qos) for t in topics])
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe not sent: {rc}"
        codes = self._wait(lambda: self.subacks.get(mid), timeout, f"SUBACK for {topics}")
        if expect_ok:
            assert all(c < 0x80 for c in codes), f"[{self.client_id}] SUBACK {topics}: {codes}"
        return codes

    def unsubscribe(self, topic, props: Optional[Properties] = None,
                    timeout: Optional[float] = None) -> list:
        topics = topic if isinstance(topic, list) else [topic]
        if self.version == MQTTv5:
            rc, mid = self.c.unsubscribe(topics, properties=props)
        else:
            rc, mid = self.c.unsubscribe(topics)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        self._wait(lambda: mid in self.unsubacks, timeout, "UNSUBACK")
        return self.unsubacks[mid]

    def publish(self, topic: str, payload=b"", qos: int = 0, retain: bool = False,
                props: Optional[Properties] = None, wait: bool = True,
                timeout: Optional[float] = None):
        """Publish; with wait, return once the QoS flow completed (PUBACK /
        PUBCOMP) or, for QoS 0, once paho handed it to the socket."""
        info = self.c.publish(topic, payload, qos, retain, props)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish not sent: rc={info.rc}"
        if wait:
            self._wait(lambda: info.mid in self.published, timeout, f"publish ack for {topic}")
        return info

    def get(self, timeout: Optional[float] = None) -> Msg:
        def first():
            return self.messages.pop(0) if self.messages else None
        return self._wait(first, timeout, "a message")

    def get_n(self, n: int, timeout: Optional[float] = None) -> list:
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        out = []
        while len(out) < n:
            try:
                out.append(self.get(max(0.0, deadline - time.monotonic())))
            except TimeoutError as e:
                raise TimeoutError(f"[{self.client_id}] got {len(out)} of {n} messages: "
                                   f"{[(m.topic, m.payload) for m in out]}") from e
        return out

    def get_until(self, pred, timeout: Optional[float] = None) -> list:
        """Messages up to and including the first one matching pred."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        out = []
        while True:
            try:
                m = self.get(max(0.0, deadline - time.monotonic()))
            except TimeoutError as e:
                raise TimeoutError(f"[{self.client_id}] sentinel never came; got "
                                   f"{[(m.topic, m.payload) for m in out]}") from e
            out.append(m)
            if pred(m):
                return out

    def drain(self) -> list:
        with self.cv:
            out, self.messages = self.messages, []
        return out

    def wait_disconnected(self, timeout: Optional[float] = None):
        self._wait(lambda: self.disconnected, timeout, "disconnection")
        return self.disconnect_rc

    def is_connected(self) -> bool:
        return self.c.is_connected()

    def disconnect(self, props: Optional[Properties] = None, reason: Optional[int] = None) -> None:
        """A normal DISCONNECT (0x00 unless reason is given), then stop the loop."""
        if self.c.is_connected():
            if self.version == MQTTv5 and reason is not None:
                from paho.mqtt.reasoncodes import ReasonCodes
                rc = ReasonCodes(PacketTypes.DISCONNECT, identifier=reason)
                self.c.disconnect(reasoncode=rc, properties=props)
            elif self.version == MQTTv5:
                self.c.disconnect(properties=props)
            else:
                self.c.disconnect()
            try:
                self.wait_disconnected(5.0)
            except TimeoutError:
                pass
        self.stop()

    def stop(self) -> None:
        if self.loop_started:
            self.c.loop_stop()
            self.loop_started = False

    def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT (abnormal close, so a
        will fires). The socket is shut down under paho's feet."""
        sock = self.c.socket()
        if sock is not None:
            import socket as _s
            import struct as _st
            try:
                sock.setsockopt(_s.SOL_SOCKET, _s.SO_LINGER, _st.pack("ii", 1, 0))
                sock.shutdown(_s.SHUT_RDWR)
            except OSError:
                pass
        try:
            self.wait_disconnected(5.0)
        except TimeoutError:
            pass
        self.stop()
