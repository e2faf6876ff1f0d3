"""Starting and stopping a real roadmq daemon for one test (or one module).

The daemon gets its own temporary data dir and config file, listens on an
ephemeral loopback port (learned from its stderr), and is stopped with
SIGTERM. A crash, a non-zero exit or a sanitizer report in its stderr fails
the test that owned it: black-box tests are also the ASan run of the daemon.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "debug" / "src" / "app" / "roadmq"
DEFAULT_CONFIG = REPO_ROOT / "config" / "roadmq.conf"

# Generous: the debug build runs under ASan+UBSan and two test files run at
# once on a 2-core machine.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

LISTENER_RE = re.compile(r"roadmq: listener tcp:(\S+) on (\S+):(\d+)")
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",            # UBSan
    "WARNING: ThreadSanitizer",
    "AddressSanitizer:DEADLYSIGNAL",
)


def binary_path() -> Path:
    return Path(os.environ.get("ROADMQ_BIN", str(DEFAULT_BIN)))


class DaemonError(AssertionError):
    pass


class Daemon:
    """One roadmq process. Use start(); then .host/.port; stop() checks health."""

    def __init__(self, env: Optional[dict] = None, config_text: Optional[str] = None,
                 extra_config: str = "", workdir: Optional[Path] = None, name: str = "roadmq"):
        self.env_overrides = {k: str(v) for k, v in (env or {}).items()}
        self.owns_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"{name}-it-"))
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "roadmq.conf"
        self.stderr_path = self.workdir / "stderr.log"
        self.stdout_path = self.workdir / "stdout.log"
        base = config_text if config_text is not None else DEFAULT_CONFIG.read_text()
        self.config_path.write_text(base + "\n" + extra_config + "\n")
        self.proc: Optional[subprocess.Popen] = None
        self.host = "127.0.0.1"
        self.port: Optional[int] = None
        self.listeners: dict = {}
        self.returncode: Optional[int] = None
        # Set when the test itself ended the process (signal() or stop()),
        # so teardown does not mistake that exit for a crash.
        self.ended_by_test = False
        self._stderr_offset = 0

    # -- environment

    def environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMQ_")}
        env.update({
            # Ephemeral port on loopback only; a private data dir.
            "ROADMQ_LISTENERS__TCP__DEFAULT__BIND": "127.0.0.1:0",
            "ROADMQ_NODE__DATA_DIR": str(self.data_dir),
            # Sanitizer reports go to stderr and make the exit code non-zero;
            # leak checking stays on (the default for ASan on Linux).
            "ASAN_OPTIONS": env.get("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1"),
            "UBSAN_OPTIONS": env.get("UBSAN_OPTIONS", "print_stacktrace=1"),
        })
        env.update(self.env_overrides)
        return env

    # -- lifecycle

    def start(self, timeout: float = START_TIMEOUT) -> "Daemon":
        binary = binary_path()
        if not binary.exists():
            raise DaemonError(f"roadmq binary not found at {binary} (set ROADMQ_BIN or build "
                              f"with `cmake --preset debug && cmake --build --preset debug`)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A restart in the same workdir appends to the log: only lines after
        # this point announce this process's listeners.
        self._stderr_offset = self.stderr_path.stat().st_size if self.stderr_path.exists() else 0
        self.listeners = {}
        # Files, not pipes: a chatty daemon can never block on a full pipe,
        # and the log survives for the failure message.
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            self.proc = subprocess.Popen(
                [str(binary), "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=self.environment(), cwd=str(self.workdir))
        self._wait_listening(timeout)
        return self

    def _wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            text = self.stderr()[self._stderr_offset:]
            for m in LISTENER_RE.finditer(text):
                self.listeners[m.group(1)] = (m.group(2), int(m.group(3)))
            if "default" in self.listeners:
                self.host, self.port = self.listeners["default"]
                return
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise DaemonError(f"roadmq exited with {rc} before listening; stderr:\n{text}")
            if time.monotonic() > deadline:
                self.kill()
                raise DaemonError(f"roadmq did not report a listener within {timeout}s; "
                                  f"stderr:\n{text}")
            time.sleep(0.02)  # polling a log file: there is no event to wait on

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.ended_by_test = True
            self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise DaemonError(f"roadmq did not exit within {timeout}s; stderr:\n"
                              f"{self.stderr()[-8000:]}")
        return self.returncode

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.returncode = self.proc.wait()

    def problems(self) -> list:
        """What is wrong with this daemon's run so far (sanitizer reports, crash)."""
        text = self.stderr()
        found = [m for m in SANITIZER_MARKERS if m in text]
        out = []
        if found:
            out.append(f"sanitizer report in roadmq stderr ({', '.join(found)})")
        if self.proc is not None and self.proc.poll() is not None and self.returncode is None:
            self.returncode = self.proc.returncode
        if self.returncode is not None and self.returncode < 0:
            out.append(f"roadmq died of signal {-self.returncode}")
        return out

    def stop(self, check: bool = True) -> int:
        """SIGTERM, bounded wait, then check for a clean exit (code 0, no
        sanitizer report). Raises DaemonError describing what went wrong.
        Calling it again (or after the test signalled the process) only
        repeats the checks."""
        if self.proc is None:
            return 0
        was_alive = self.alive()
        if was_alive:
            self.ended_by_test = True
            self.proc.send_signal(signal.SIGTERM)
        rc = self.wait()
        problems = self.problems()
        if not was_alive and not self.ended_by_test:
            problems.insert(0, f"roadmq had already exited with {rc} before the test ended")
        elif rc != 0:
            problems.append(f"roadmq exited with {rc} after SIGTERM/SIGINT")
        if check and problems:
            raise DaemonError("; ".join(problems) + "\nstderr (tail):\n" + self.stderr()[-12000:])
        return rc

    def cleanup(self) -> None:
        if self.alive():
            self.kill()
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def run_roadmq(args: list, env: Optional[dict] = None, timeout: float = START_TIMEOUT,
               cwd: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run the binary to completion (for --version and config errors)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ROADMQ_")}
    full_env.update({k: str(v) for k, v in (env or {}).items()})
    return subprocess.run([str(binary_path())] + list(args), env=full_env, cwd=cwd,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def module_broker(env: Optional[dict] = None, extra_config: str = ""):
    """A module-scoped pytest fixture running one daemon with these settings
    for every test of the module that names it. conftest's autouse health
    check fails the test during which it crashed; teardown stops it with
    SIGTERM and fails on an unclean exit."""

    @pytest.fixture(scope="module")
    def fixture():
        d = Daemon(env=env, extra_config=extra_config)
        try:
            d.start()
            yield d
            d.stop(check=True)
        finally:
            d.cleanup()

    return fixture
