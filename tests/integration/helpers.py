"""Small waiting helpers shared by the integration tests."""

from __future__ import annotations

import uuid

import paho_sync


def assert_no_message(client: paho_sync.Client, within: float = 0.5):
    """Negative check: nothing arrives in a short window. Used only after a
    barrier (a later message on the same path already arrived), so the window
    merely guards against stragglers; it is not what makes the test pass."""
    try:
        m = client.get(within)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {m}")


def sync_barrier(pub: paho_sync.Client, sub: paho_sync.Client, topic: str, qos: int = 1) -> None:
    """Publish a marker on `topic` (which `sub` must be subscribed to) and wait
    until `sub` gets it; messages published earlier by `pub` on the same topic
    are ordered before it [MQTT-4.6.0-6], so anything that was going to arrive
    has arrived. Messages received before the marker stay queued in `sub`."""
    marker = f"barrier-{uuid.uuid4().hex}".encode()
    pub.publish(topic, marker, qos=qos)
    got = sub.get_until(lambda m: m.payload == marker)
    # Put back what came before the marker so the test still sees it.
    with sub.cv:
        sub.messages[0:0] = got[:-1]
