"""A small MQTT 3.1/3.1.1/5.0 codec and a raw-socket client for black-box tests.

Why not only paho: paho hides the exact bytes (it drops DISCONNECT reason
codes shorter than 3 bytes, auto-acks, resolves nothing about DUP flags or
packet ids) and refuses to send malformed packets. The tests that check a
spec rule byte for byte, or that must misbehave on purpose, use this instead.

Everything here is synchronous and every wait is bounded by a timeout.
"""

from __future__ import annotations

import collections
import dataclasses
import socket
import struct
import time
from typing import Callable, Iterable, Optional

# Packet types (fixed header, high nibble).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP = 8, 9, 10, 11, 12, 13
DISCONNECT, AUTH = 14, 15

PACKET_NAMES = {
    CONNECT: "CONNECT", CONNACK: "CONNACK", PUBLISH: "PUBLISH", PUBACK: "PUBACK",
    PUBREC: "PUBREC", PUBREL: "PUBREL", PUBCOMP: "PUBCOMP", SUBSCRIBE: "SUBSCRIBE",
    SUBACK: "SUBACK", UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBACK: "UNSUBACK", PINGREQ: "PINGREQ",
    PINGRESP: "PINGRESP", DISCONNECT: "DISCONNECT", AUTH: "AUTH",
}

MQTT31, MQTT311, MQTT5 = 3, 4, 5

# v5 properties: id -> (name, kind). Kinds: byte, u16, u32, varint, str, bin, pair.
PROPERTIES = {
    0x01: ("payload_format_indicator", "byte"),
    0x02: ("message_expiry_interval", "u32"),
    0x03: ("content_type", "str"),
    0x08: ("response_topic", "str"),
    0x09: ("correlation_data", "bin"),
    0x0B: ("subscription_identifier", "varint"),
    0x11: ("session_expiry_interval", "u32"),
    0x12: ("assigned_client_identifier", "str"),
    0x13: ("server_keep_alive", "u16"),
    0x15: ("authentication_method", "str"),
    0x16: ("authentication_data", "bin"),
    0x17: ("request_problem_information", "byte"),
    0x18: ("will_delay_interval", "u32"),
    0x19: ("request_response_information", "byte"),
    0x1A: ("response_information", "str"),
    0x1C: ("server_reference", "str"),
    0x1F: ("reason_string", "str"),
    0x21: ("receive_maximum", "u16"),
    0x22: ("topic_alias_maximum", "u16"),
    0x23: ("topic_alias", "u16"),
    0x24: ("maximum_qos", "byte"),
    0x25: ("retain_available", "byte"),
    0x26: ("user_property", "pair"),
    0x27: ("maximum_packet_size", "u32"),
    0x28: ("wildcard_subscription_available", "byte"),
    0x29: ("subscription_identifier_available", "byte"),
    0x2A: ("shared_subscription_available", "byte"),
}
PROPERTY_IDS = {name: (pid, kind) for pid, (name, kind) in PROPERTIES.items()}
# Properties that may appear more than once; decoded as lists.
MULTI = {"user_property", "subscription_identifier"}


class ProtocolError(Exception):
    """The broker sent bytes this codec cannot decode (a broker bug)."""


# ---------------------------------------------------------------- encoding

def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def utf8(s) -> bytes:
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


def binary(b) -> bytes:
    b = b.encode("utf-8") if isinstance(b, str) else bytes(b)
    return struct.pack("!H", len(b)) + b


def encode_properties(props: Optional[dict]) -> bytes:
    """props: {name: value}; user_property is a list of (key, value);
    subscription_identifier may be an int or a list of ints. Raw extra
    bytes can be appended with the key '_raw' (for malformed tests)."""
    body = bytearray()
    for name, value in (props or {}).items():
        if name == "_raw":
            continue
        pid, kind = PROPERTY_IDS[name]
        values = value if (name in MULTI and isinstance(value, (list, tuple))) else [value]
        for v in values:
            body.append(pid)
            if kind == "byte":
                body.append(v)
            elif kind == "u16":
                body += struct.pack("!H", v)
            elif kind == "u32":
                body += struct.pack("!I", v)
            elif kind == "varint":
                body += varint(v)
            elif kind == "str":
                body += utf8(v)
            elif kind == "bin":
                body += binary(v)
            elif kind == "pair":
                body += utf8(v[0]) + utf8(v[1])
    if props and "_raw" in props:
        body += props["_raw"]
    return varint(len(body)) + bytes(body)


def packet(ptype: int, flags: int, body: bytes) -> bytes:
    return bytes([(ptype << 4) | flags]) + varint(len(body)) + body


@dataclasses.dataclass
class Will:
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    props: Optional[dict] = None


def connect_packet(client_id: str = "", version: int = MQTT5, clean: bool = True,
                   keepalive: int = 60, props: Optional[dict] = None,
                   will: Optional[Will] = None, username: Optional[str] = None,
                   password: Optional[bytes] = None, flags_override: Optional[int] = None,
                   protocol_name: Optional[str] = None) -> bytes:
    name = protocol_name if protocol_name is not None else ("MQIsdp" if version == MQTT31 else "MQTT")
    flags = 0
    if clean:
        flags |= 0x02
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    if flags_override is not None:
        flags = flags_override
    body = utf8(name) + bytes([version, flags]) + struct.pack("!H", keepalive)
    if version == MQTT5:
        body += encode_properties(props)
    body += utf8(client_id)
    if will is not None:
        if version == MQTT5:
            body += encode_properties(will.props)
        body += utf8(will.topic) + binary(will.payload)
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += binary(password)
    return packet(CONNECT, 0, body)


def publish_packet(topic: str, payload=b"", qos: int = 0, retain: bool = False,
                   dup: bool = False, packet_id: Optional[int] = None,
                   version: int = MQTT5, props: Optional[dict] = None) -> bytes:
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = utf8(topic)
    if qos > 0:
        body += struct.pack("!H", packet_id if packet_id is not None else 1)
    if version == MQTT5:
        body += encode_properties(props)
    return packet(PUBLISH, flags, body + payload)


def ack_packet(ptype: int, packet_id: int, reason: int = 0, version: int = MQTT5,
               props: Optional[dict] = None) -> bytes:
    """PUBACK / PUBREC / PUBREL / PUBCOMP."""
    flags = 0x02 if ptype == PUBREL else 0
    body = struct.pack("!H", packet_id)
    if version == MQTT5 and (reason != 0 or props):
        body += bytes([reason]) + encode_properties(props)
    return packet(ptype, flags, body)


def sub_options(qos: int = 0, no_local: bool = False, retain_as_published: bool = False,
                retain_handling: int = 0) -> int:
    return qos | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0) | (retain_handling << 4)


def subscribe_packet(packet_id: int, filters: Iterable, version: int = MQTT5,
                     props: Optional[dict] = None) -> bytes:
    """filters: iterable of (filter, options_byte)."""
    body = struct.pack("!H", packet_id)
    if version == MQTT5:
        body += encode_properties(props)
    for f, opts in filters:
        body += utf8(f) + bytes([opts])
    return packet(SUBSCRIBE, 0x02, body)


def unsubscribe_packet(packet_id: int, filters: Iterable[str], version: int = MQTT5,
                       props: Optional[dict] = None) -> bytes:
    body = struct.pack("!H", packet_id)
    if version == MQTT5:
        body += encode_properties(props)
    for f in filters:
        body += utf8(f)
    return packet(UNSUBSCRIBE, 0x02, body)


def disconnect_packet(reason: int = 0, props: Optional[dict] = None, version: int = MQTT5) -> bytes:
    if version != MQTT5 or (reason == 0 and not props):
        return packet(DISCONNECT, 0, b"")
    return packet(DISCONNECT, 0, bytes([reason]) + encode_properties(props))


def auth_packet(reason: int = 0x18, props: Optional[dict] = None) -> bytes:
    return packet(AUTH, 0, bytes([reason]) + encode_properties(props))


PINGREQ_BYTES = bytes([0xC0, 0x00])


# ---------------------------------------------------------------- decoding

@dataclasses.dataclass
class Packet:
    type: int
    flags: int
    raw: bytes
    reason_code: Optional[int] = None      # CONNACK (return code in 3.1.1), acks, DISCONNECT, AUTH
    session_present: Optional[bool] = None  # CONNACK
    props: dict = dataclasses.field(default_factory=dict)
    packet_id: Optional[int] = None
    topic: Optional[str] = None             # PUBLISH, as on the wire (may be "" with an alias)
    payload: Optional[bytes] = None
    qos: Optional[int] = None
    retain: Optional[bool] = None
    dup: Optional[bool] = None
    reason_codes: list = dataclasses.field(default_factory=list)  # SUBACK / UNSUBACK

    @property
    def name(self) -> str:
        return PACKET_NAMES.get(self.type, f"type{self.type}")

    def __repr__(self) -> str:
        bits = [self.name]
        for f in ("reason_code", "session_present", "packet_id", "topic", "payload", "qos",
                  "retain", "dup"):
            v = getattr(self, f)
            if v is not None:
                bits.append(f"{f}={v!r}")
        if self.reason_codes:
            bits.append(f"reason_codes={[hex(c) for c in self.reason_codes]}")
        if self.props:
            bits.append(f"props={self.props}")
        return "<" + " ".join(bits) + ">"


class _Reader:
    def __init__(self, data: bytes):
        self.d = data
        self.i = 0

    def left(self) -> int:
        return len(self.d) - self.i

    def byte(self) -> int:
        if self.i >= len(self.d):
            raise ProtocolError("truncated")
        v = self.d[self.i]
        self.i += 1
        return v

    def u16(self) -> int:
        if self.left() < 2:
            raise ProtocolError("truncated u16")
        v = struct.unpack_from("!H", self.d, self.i)[0]
        self.i += 2
        return v

    def u32(self) -> int:
        if self.left() < 4:
            raise ProtocolError("truncated u32")
        v = struct.unpack_from("!I", self.d, self.i)[0]
        self.i += 4
        return v

    def varint(self) -> int:
        mult, value = 1, 0
        for _ in range(4):
            b = self.byte()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise ProtocolError("variable byte integer longer than 4 bytes")

    def bin(self) -> bytes:
        n = self.u16()
        if self.left() < n:
            raise ProtocolError("truncated string")
        v = self.d[self.i:self.i + n]
        self.i += n
        return bytes(v)

    def str(self) -> str:
        try:
            return self.bin().decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError(f"invalid UTF-8 from broker: {e}") from e

    def rest(self) -> bytes:
        v = self.d[self.i:]
        self.i = len(self.d)
        return bytes(v)


def decode_properties(r: _Reader) -> dict:
    length = r.varint()
    end = r.i + length
    if end > len(r.d):
        raise ProtocolError("property length beyond packet")
    props: dict = {}
    while r.i < end:
        pid = r.varint()
        if pid not in PROPERTIES:
            raise ProtocolError(f"unknown property id 0x{pid:02x}")
        name, kind = PROPERTIES[pid]
        if kind == "byte":
            v = r.byte()
        elif kind == "u16":
            v = r.u16()
        elif kind == "u32":
            v = r.u32()
        elif kind == "varint":
            v = r.varint()
        elif kind == "str":
            v = r.str()
        elif kind == "bin":
            v = r.bin()
        else:
            v = (r.str(), r.str())
        if name in MULTI:
            props.setdefault(name, []).append(v)
        elif name in props:
            raise ProtocolError(f"property {name} appears twice")
        else:
            props[name] = v
    if r.i != end:
        raise ProtocolError("property overran its length")
    return props


def decode(first: int, body: bytes, version: int) -> Packet:
    ptype, flags = first >> 4, first & 0x0F
    p = Packet(type=ptype, flags=flags, raw=bytes([first]) + varint(len(body)) + body)
    r = _Reader(body)
    v5 = version == MQTT5
    if ptype == CONNACK:
        p.session_present = bool(r.byte() & 0x01)
        p.reason_code = r.byte()
        if r.left():  # v5 CONNACK (also what a v5-style refusal to an unknown level looks like)
            p.props = decode_properties(r)
    elif ptype == PUBLISH:
        p.qos = (flags >> 1) & 0x03
        p.retain = bool(flags & 0x01)
        p.dup = bool(flags & 0x08)
        p.topic = r.str()
        if p.qos:
            p.packet_id = r.u16()
        if v5:
            p.props = decode_properties(r)
        p.payload = r.rest()
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.packet_id = r.u16()
        p.reason_code = 0
        if v5 and r.left():
            p.reason_code = r.byte()
            if r.left():
                p.props = decode_properties(r)
    elif ptype in (SUBACK, UNSUBACK):
        p.packet_id = r.u16()
        if v5:
            p.props = decode_properties(r)
        p.reason_codes = list(r.rest())
    elif ptype in (DISCONNECT, AUTH):
        p.reason_code = 0
        if r.left():
            p.reason_code = r.byte()
            if r.left():
                p.props = decode_properties(r)
    elif ptype == PINGRESP:
        pass
    else:
        raise ProtocolError(f"broker sent a packet a server must not send: type {ptype}")
    if r.left():
        raise ProtocolError(f"{p.name} has {r.left()} trailing bytes")
    return p


# ---------------------------------------------------------------- client

DEFAULT_TIMEOUT = 10.0


class RawClient:
    """One TCP connection speaking MQTT byte by byte.

    Packets that arrive while the test waits for something else are kept in
    order in a backlog, so a PUBLISH interleaved with a SUBACK is not lost.
    Incoming PUBLISH packets are never acknowledged automatically.
    """

    def __init__(self, host: str, port: int, version: int = MQTT5, timeout: float = DEFAULT_TIMEOUT):
        self.version = version
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.backlog: collections.deque = collections.deque()
        self.eof = False
        self.next_id = 1
        self.inbound_aliases: dict = {}  # alias -> topic, for broker-assigned aliases

    # -- plumbing

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self) -> None:
        """Close with a TCP RST, the way a lost cellular link looks to the broker."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def new_id(self) -> int:
        pid = self.next_id
        self.next_id = self.next_id % 65535 + 1
        return pid

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on EOF. Raises TimeoutError at the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from broker in time")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as e:
            raise TimeoutError("no data from broker in time") from e
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _try_parse(self) -> Optional[Packet]:
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7F) * mult
            i += 1
            if not b & 0x80:
                break
            mult *= 128
            if i > 4:
                raise ProtocolError("broker sent a remaining length longer than 4 bytes")
        if len(self.buf) < i + length:
            return None
        first = self.buf[0]
        body = bytes(self.buf[i:i + length])
        del self.buf[:i + length]
        p = decode(first, body, self.version)
        if p.type == PUBLISH and "topic_alias" in p.props:
            # Resolve broker-side aliases [MQTT-3.3.2-12]: a topic with an
            # alias sets the mapping, an empty topic uses it.
            alias = p.props["topic_alias"]
            if p.topic:
                self.inbound_aliases[alias] = p.topic
            elif alias in self.inbound_aliases:
                p.topic = self.inbound_aliases[alias]
            else:
                raise ProtocolError(f"broker used unknown topic alias {alias}")
        return p

    def _read_packet(self, deadline: float) -> Optional[Packet]:
        """Next packet from the socket, or None on EOF."""
        while True:
            p = self._try_parse()
            if p is not None:
                return p
            if self.eof or not self._fill(deadline):
                return None

    def recv(self, timeout: Optional[float] = None) -> Optional[Packet]:
        """The next packet (backlog first); None if the broker closed the
        connection; TimeoutError if nothing arrives in time."""
        if self.backlog:
            return self.backlog.popleft()
        return self._read_packet(time.monotonic() + (timeout if timeout is not None else self.timeout))

    def wait_for(self, pred: Callable[[Packet], bool], timeout: Optional[float] = None,
                 what: str = "packet") -> Packet:
        """First packet matching pred; others stay in the backlog, in order."""
        for i, p in enumerate(self.backlog):
            if pred(p):
                del self.backlog[i]
                return p
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            try:
                p = self._read_packet(deadline)
            except TimeoutError as e:
                raise TimeoutError(f"timed out waiting for {what}; backlog: {list(self.backlog)}") from e
            if p is None:
                raise ConnectionError(f"broker closed the connection while waiting for {what}; "
                                      f"backlog: {list(self.backlog)}")
            if pred(p):
                return p
            self.backlog.append(p)

    def expect(self, ptype: int, timeout: Optional[float] = None, **fields) -> Packet:
        def match(p: Packet) -> bool:
            return p.type == ptype and all(getattr(p, k) == v for k, v in fields.items())
        return self.wait_for(match, timeout, what=f"{PACKET_NAMES[ptype]} {fields or ''}".strip())

    def wait_closed(self, timeout: Optional[float] = None) -> list:
        """Wait until the broker closes the connection. Returns every packet
        received until then (backlog included). TimeoutError if it stays open."""
        got = list(self.backlog)
        self.backlog.clear()
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            try:
                p = self._read_packet(deadline)
            except TimeoutError as e:
                raise TimeoutError(f"broker kept the connection open; received {got}") from e
            if p is None:
                return got
            got.append(p)

    def is_open_after_ping(self, timeout: Optional[float] = None) -> bool:
        """A PINGREQ round trip: True if PINGRESP came back."""
        try:
            self.send(PINGREQ_BYTES)
            self.expect(PINGRESP, timeout)
            return True
        except (ConnectionError, OSError):
            return False

    # -- protocol helpers

    def connect(self, client_id: str = "", clean: bool = True, keepalive: int = 60,
                props: Optional[dict] = None, will: Optional[Will] = None,
                username: Optional[str] = None, password: Optional[bytes] = None,
                timeout: Optional[float] = None) -> Packet:
        self.send(connect_packet(client_id, self.version, clean, keepalive, props, will,
                                 username, password))
        p = self.recv(timeout)
        if p is None:
            raise ConnectionError("broker closed the connection instead of sending CONNACK")
        if p.type != CONNACK:
            raise AssertionError(f"expected CONNACK, got {p}")
        return p

    def subscribe(self, *filters, qos: int = 0, props: Optional[dict] = None,
                  options: Optional[int] = None, timeout: Optional[float] = None) -> Packet:
        """filters: strings (use qos / options) or (filter, options_byte) tuples."""
        items = []
        for f in filters:
            if isinstance(f, tuple):
                items.append(f)
            else:
                items.append((f, options if options is not None else qos))
        pid = self.new_id()
        self.send(subscribe_packet(pid, items, self.version, props))
        return self.expect(SUBACK, timeout, packet_id=pid)

    def unsubscribe(self, *filters, props: Optional[dict] = None,
                    timeout: Optional[float] = None) -> Packet:
        pid = self.new_id()
        self.send(unsubscribe_packet(pid, filters, self.version, props))
        return self.expect(UNSUBACK, timeout, packet_id=pid)

    def publish(self, topic: str, payload=b"", qos: int = 0, retain: bool = False,
                props: Optional[dict] = None, timeout: Optional[float] = None) -> Optional[Packet]:
        """Publish and complete the QoS flow; returns PUBACK / PUBCOMP (or
        PUBREC if it carried a failure code), None for QoS 0."""
        pid = self.new_id() if qos else None
        self.send(publish_packet(topic, payload, qos, retain, False, pid, self.version, props))
        if qos == 0:
            return None
        if qos == 1:
            return self.expect(PUBACK, timeout, packet_id=pid)
        rec = self.expect(PUBREC, timeout, packet_id=pid)
        if rec.reason_code >= 0x80:
            return rec
        self.send(ack_packet(PUBREL, pid, version=self.version))
        return self.expect(PUBCOMP, timeout, packet_id=pid)

    def recv_publish(self, timeout: Optional[float] = None, ack: bool = True) -> Packet:
        p = self.expect(PUBLISH, timeout)
        if ack:
            self.ack(p)
        return p

    def ack(self, p: Packet, timeout: Optional[float] = None) -> None:
        """Complete the receiver side of a QoS 1/2 PUBLISH."""
        if p.qos == 1:
            self.send(ack_packet(PUBACK, p.packet_id, version=self.version))
        elif p.qos == 2:
            self.send(ack_packet(PUBREC, p.packet_id, version=self.version))
            self.expect(PUBREL, timeout, packet_id=p.packet_id)
            self.send(ack_packet(PUBCOMP, p.packet_id, version=self.version))

    def disconnect(self, reason: int = 0, props: Optional[dict] = None) -> None:
        # Wait for the broker to close its side: everything sent before the
        # DISCONNECT (acks above all) has then been processed, so a test that
        # reconnects with the same client id cannot overtake it.
        try:
            self.send(disconnect_packet(reason, props, self.version))
            self.wait_closed()
        except OSError:
            pass  # already closed by the broker
        finally:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
