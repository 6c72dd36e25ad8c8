"""The test side of a driver subprocess (tests/python/driverlib.py is the other side): starts
it with HOME set to a test directory (librocketmq writes ~/logs and broadcasting offsets
under HOME), collects its ``KEYWORD <json>`` result lines as they arrive, and waits for
conditions on them, bounded in time, with the driver's stderr in every failure report."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence


class DriverProcess:
    def __init__(self, argv: List[str], keywords: Sequence[str], home: Path, name: str) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._requests = 0
        self._keywords = tuple(keywords)
        self._stderr = open(home / f"{name.replace(' ', '-')}-{id(self)}.stderr", "w+")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=dict(os.environ, HOME=str(home)),
        )
        self._lines: Dict[str, List[dict]] = {}
        self._other: List[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            keyword, _, payload = line.partition(" ")
            try:
                value = json.loads(payload) if keyword in self._keywords else None
            except ValueError:
                value = None
            with self._changed:
                if value is None:
                    # Anything else on the result descriptor is kept for reports.
                    self._other.append(line.rstrip("\n")[:500])
                else:
                    self._lines.setdefault(keyword, []).append(value)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def lines(self, keyword: str) -> List[dict]:
        with self._changed:
            return list(self._lines.get(keyword, []))

    def diagnostics(self, limit: int = 3000) -> str:
        """The end of the driver's stderr, its ERROR lines and any unexpected stdout lines."""
        self._stderr.flush()
        self._stderr.seek(0)
        errors = self.lines("ERROR")
        other = "\n".join(self._other[-20:])
        return (
            f"[{self.name}] errors: {errors}\nstderr: {self._stderr.read()[-limit:]}\n"
            f"other stdout: {other}"
        )

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}\n{self.diagnostics()}")
                if self.proc.poll() is not None and not self._reader.is_alive():
                    if condition():
                        return
                    raise AssertionError(
                        f"{self.name} exited ({self.proc.returncode}) while waiting for {what}"
                        f"\n{self.diagnostics()}"
                    )
                self._changed.wait(min(remaining, 0.5))

    def wait_for(self, keyword: str, count: int = 1, timeout: float = 60) -> List[dict]:
        self.wait_until(
            lambda: len(self._lines.get(keyword, [])) >= count, timeout, f"{count} {keyword}"
        )
        return self.lines(keyword)

    def send_line(self, value: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(value) + "\n")
        self.proc.stdin.flush()

    def send_messages(
        self,
        messages: List[Dict[str, object]],
        mode: str = "sync",
        batch_size: int = 16,
        timeout: float = 180,
    ) -> List[dict]:
        """A producer driver's request: sends `messages` (driver message specs) in `mode`
        and returns one result per message."""
        line = {"mode": mode, "messages": messages, "batch_size": batch_size}
        return self.request(line, timeout)["results"]

    def request(self, value: object, timeout: float = 60) -> dict:
        """Sends one request line and waits for its RESULT line: a driver answers its
        requests in order, so the n-th RESULT belongs to the n-th request."""
        self._requests += 1
        self.send_line(value)
        return self.wait_for("RESULT", self._requests, timeout=timeout)[self._requests - 1]

    def finish(self, timeout: float = 60) -> int:
        """Closes stdin (the driver's signal to shut down) and returns its exit status; a
        driver that does not exit in time is killed and reported."""
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.kill()
            raise AssertionError(
                f"{self.name} did not exit in {timeout}s\n{self.diagnostics()}"
            ) from exc
        self._reader.join(timeout=10)
        return status

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
