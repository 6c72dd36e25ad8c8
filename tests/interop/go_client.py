"""Test-side helpers for driving Apache's Go client (github.com/apache/rocketmq-client-go/v2)
through the driver program in tests/drivers/go.

The driver binary comes from env ROCKETMQ_GO_DRIVER (scripts/test.sh builds it and sets it);
without it, tests/drivers/go/build.sh is run once per session (it skips the build when the
binary matches its sources). Each client runs in a subprocess with HOME set to a test
directory (the Go client keeps broadcasting offsets under HOME). Messages are described as in
cpp_client.py (make_message), so the same content checks apply to both clients.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from driverprocess import DriverProcess

BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "drivers" / "go" / "build.sh"
_KEYWORDS = ("READY", "RESULT", "MSG", "DONE", "ERROR", "LOCAL", "CHECK")

_built: List[str] = []


def go_driver() -> str:
    """The driver binary's path, built on first use when the environment names none."""
    path = os.environ.get("ROCKETMQ_GO_DRIVER")
    if path:
        if not Path(path).is_file():
            pytest.fail(f"ROCKETMQ_GO_DRIVER={path} does not exist; run `bash scripts/test.sh`")
        return path
    if not _built:
        try:
            built = subprocess.run(
                ["bash", str(BUILD_SCRIPT)],
                check=True,
                capture_output=True,
                text=True,
                timeout=900,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            pytest.fail(f"building the Go driver failed: {exc}\n{getattr(exc, 'stderr', '')}")
        _built.append(built.stdout.strip().splitlines()[-1])
    return _built[0]


class GoDriver(DriverProcess):
    """One rocketmq-go-driver subprocess."""

    def __init__(self, command: str, args: Dict[str, object], home: Path) -> None:
        argv = [go_driver(), command, json.dumps(args)]
        super().__init__(argv, _KEYWORDS, home, f"go {command}")

    def wait_ready(self, timeout: float = 60) -> None:
        self.wait_until(
            lambda: bool(self.lines("READY")) or bool(self.lines("ERROR")), timeout, "READY"
        )
        assert not self.lines("ERROR"), self.diagnostics()

    def stop(self, timeout: float = 60) -> None:
        status = self.finish(timeout)
        assert status == 0, f"{self.name} exited {status}\n{self.diagnostics()}"


class GoProducer(GoDriver):
    """A DefaultProducer (command "producer") or a TransactionProducer ("transaction"; it
    answers a check-back of a transaction another process sent from `check_by_seq`)."""

    def __init__(
        self,
        namesrv: str,
        home: Path,
        group: str = "PG_go",
        command: str = "producer",
        check_by_seq: Optional[Dict[int, str]] = None,
    ) -> None:
        args: Dict[str, object] = {"namesrv": namesrv, "group": group}
        if check_by_seq:
            args["check_by_seq"] = {str(seq): answer for seq, answer in check_by_seq.items()}
        super().__init__(command, args, home)
        self.wait_ready()

    send = DriverProcess.send_messages


class GoPushConsumer(GoDriver):
    def __init__(
        self,
        namesrv: str,
        home: Path,
        group: str,
        topic: str,
        expression: str = "*",
        orderly: bool = False,
        broadcasting: bool = False,
        from_last: bool = False,
        fail_times: int = 0,
        fail_always: Optional[List[int]] = None,
        max_reconsume_times: int = 0,
        timeout: float = 240,
    ) -> None:
        super().__init__(
            "push",
            {
                "namesrv": namesrv,
                "group": group,
                "topic": topic,
                "expression": expression,
                "orderly": orderly,
                "broadcasting": broadcasting,
                "from_last": from_last,
                "fail_times": fail_times,
                "fail_always": [str(seq) for seq in (fail_always or [])],
                "max_reconsume_times": max_reconsume_times,
                "timeout": timeout,
            },
            home,
        )
        self.wait_ready()

    def messages(self, include_probes: bool = False) -> List[dict]:
        return [m for m in self.lines("MSG") if include_probes or "probe" not in m["properties"]]

    def seqs(self) -> List[int]:
        return [int(m["properties"]["seq"]) for m in self.messages() if "seq" in m["properties"]]


def go_pull(namesrv: str, home: Path, group: str, topic: str, **options: object) -> dict:
    """One run of the Go pull consumer (see tests/drivers/go/pull.go for the options); its
    RESULT, with the MSG lines of a poll run under "polled"."""
    args: Dict[str, object] = {"namesrv": namesrv, "group": group, "topic": topic}
    args.update(options)
    driver = GoDriver("pull", args, home)
    try:
        result = driver.wait_for("RESULT", timeout=float(args.get("timeout", 60)) + 60)[0]
        assert driver.finish() == 0, driver.diagnostics()
        return dict(result, polled=driver.lines("MSG"))
    finally:
        driver.kill()
