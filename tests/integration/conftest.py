"""Fixtures for the black-box tests of the roadmq daemon.

- `broker`: a daemon shared by the tests of one module (default config on an
  ephemeral port); `daemon.module_broker(env=..., extra_config=...)` makes
  more such module fixtures with other settings. Tests keep apart by unique
  client ids and topics (`uid`). After each test the daemon must still be
  alive with no sanitizer report, so a crash is charged to the test that
  caused it.
- `broker_factory(env={...}, extra_config="...")`: a daemon of the test's
  own, for settings that differ from the defaults; stopped with SIGTERM at
  teardown, which fails the test on a crash, a non-zero exit or an ASan/UBSan
  report.
- `clients`: makes paho clients (paho_sync.Client) and raw-socket clients
  (mqtt_wire.RawClient) and closes them all at teardown.

Run with Debian's interpreter (/usr/bin/python3), which sees python3-paho-mqtt.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mqtt_wire  # noqa: E402
import paho_sync  # noqa: E402
from daemon import Daemon, module_broker  # noqa: E402

# A test that hangs is a bug somewhere; fail it instead of hanging ctest.
TEST_TIMEOUT = float(os.environ.get("ROADMQ_TEST_TIMEOUT", "120"))


@pytest.fixture(autouse=True)
def _per_test_timeout(request):
    def on_alarm(signum, frame):
        pytest.fail(f"{request.node.name} exceeded {TEST_TIMEOUT}s", pytrace=True)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def uid(request) -> str:
    """Unique per test: a readable prefix plus randomness, usable in client ids
    (<= 23 bytes is not required: the default max_clientid_len is 65535) and
    as a topic level."""
    name = re.sub(r"[^A-Za-z0-9]", "", request.node.name)[-16:]
    return f"{name}-{uuid.uuid4().hex[:8]}"


# The module's default daemon: built-in settings on an ephemeral port.
broker = module_broker()


@pytest.fixture(autouse=True)
def _daemon_health(request):
    """After each test, every module-scoped daemon it used must still be up
    with no sanitizer report, so a crash is charged to the test that caused
    it (and not only noticed when the module ends)."""
    yield
    for value in list(request.node.funcargs.values()):
        if isinstance(value, Daemon):
            problems = value.problems()
            if not value.alive():
                problems.append(f"roadmq exited with {value.proc.returncode} during the test")
            if problems:
                pytest.fail("; ".join(problems) + "\nstderr (tail):\n" + value.stderr()[-12000:])


@pytest.fixture
def broker_factory():
    started = []

    def start(env=None, extra_config: str = "", config_text=None, workdir=None) -> Daemon:
        d = Daemon(env=env, extra_config=extra_config, config_text=config_text, workdir=workdir)
        started.append(d)
        return d.start()

    yield start
    errors = []
    for d in started:
        try:
            d.stop(check=True)
        except AssertionError as e:
            errors.append(str(e))
        finally:
            d.cleanup()
    if errors:
        pytest.fail("\n\n".join(errors))


class Clients:
    def __init__(self):
        self.made = []

    def paho(self, broker, client_id: str = "", version: int = paho_sync.MQTTv5,
             clean_session: bool = True, connect: bool = True, **connect_kwargs) -> paho_sync.Client:
        c = paho_sync.Client(broker.port, client_id, version, host=broker.host,
                             clean_session=clean_session)
        self.made.append(c)
        if connect:
            c.connect(**connect_kwargs)
        return c

    def raw(self, broker, version: int = mqtt_wire.MQTT5) -> mqtt_wire.RawClient:
        c = mqtt_wire.RawClient(broker.host, broker.port, version)
        self.made.append(c)
        return c

    def close_all(self):
        for c in self.made:
            try:
                if isinstance(c, paho_sync.Client):
                    c.disconnect()
                else:
                    c.close()
            except Exception:  # teardown must reach every client
                pass


@pytest.fixture
def clients():
    cs = Clients()
    yield cs
    cs.close_all()
