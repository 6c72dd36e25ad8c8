"""Test-side helpers for driving the reference C++ client through cpp_driver.py.

The C++ client lives in its own virtualenv (env ROCKETMQ_CPP_PYTHON, set up by
scripts/test.sh). Each client runs in a subprocess with HOME set to a temporary directory,
because librocketmq writes ~/logs and broadcasting offsets under HOME.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
from driverprocess import DriverProcess

DRIVER = Path(__file__).resolve().parent / "cpp_driver.py"
_KEYWORDS = ("READY", "RESULT", "MSG", "DONE")

# Every user property the tests set; the consumers report these.
PROPERTY_NAMES = ["seq", "probe", "p1", "p2", "unicode"]


def cpp_python() -> str:
    path = os.environ.get("ROCKETMQ_CPP_PYTHON")
    if not path:
        pytest.fail(
            "ROCKETMQ_CPP_PYTHON is not set: the interop tests need the reference C++ client "
            "(PyPI rocketmq==0.4.4) in its own virtualenv; run `bash scripts/test.sh`, which "
            "creates .venv-cpp and sets it"
        )
    if not Path(path).exists():
        pytest.fail(f"ROCKETMQ_CPP_PYTHON={path} does not exist; run `bash scripts/test.sh`")
    return path


def make_body(seq: int, size: Optional[int] = None) -> bytes:
    """A binary body with NUL bytes and every byte value, different for every seq."""
    rng = random.Random(seq)
    if size is None:
        size = rng.randint(1, 300)
    body = bytes([0, seq % 256, 0xFF, 0]) + bytes(rng.getrandbits(8) for _ in range(size))
    return body[: max(size, 1)]


def make_message(
    topic: str,
    seq: int,
    tags: str = "TagA",
    body: Optional[bytes] = None,
    order_arg: Optional[int] = None,
) -> Dict[str, object]:
    spec: Dict[str, object] = {
        "topic": topic,
        "tags": tags,
        "keys": f"key-{seq} other-{seq}",
        "properties": {
            "seq": str(seq),
            "p1": f"value {seq}",
            "p2": "with=equals,comma;semi",
            "unicode": "h\u00e9llo \u4e16\u754c",
        },
        "body_hex": (body if body is not None else make_body(seq)).hex(),
    }
    if order_arg is not None:
        spec["order_arg"] = order_arg
    return spec


def assert_same_content(received: Dict[str, object], sent: Dict[str, object]) -> None:
    """Body, keys, tags and user properties must come back byte for byte."""
    seq = sent["properties"]["seq"]  # type: ignore[index]
    assert received["body_hex"] == sent["body_hex"], f"body of seq {seq} differs"
    assert received["keys"] == sent["keys"], f"keys of seq {seq}"
    assert received["tags"] == sent["tags"], f"tags of seq {seq}"
    for name, value in sent["properties"].items():  # type: ignore[union-attr]
        assert received["properties"].get(name) == value, f"property {name} of seq {seq}"


class CppDriver(DriverProcess):
    """One cpp_driver.py subprocess under the reference client's interpreter."""

    def __init__(self, command: str, args: Dict[str, object], home: Path) -> None:
        argv = [cpp_python(), str(DRIVER), command, json.dumps(args)]
        super().__init__(argv, _KEYWORDS, home, f"cpp {command}")


class CppProducer(CppDriver):
    def __init__(self, namesrv: str, home: Path, group: str = "PG_interop") -> None:
        super().__init__("producer", {"namesrv": namesrv, "group": group}, home)
        self.wait_for("READY", timeout=60)

    send = DriverProcess.send_messages


class CppPushConsumer(CppDriver):
    def __init__(
        self,
        namesrv: str,
        home: Path,
        group: str,
        topic: str,
        expression: str = "*",
        orderly: bool = False,
        broadcasting: bool = False,
        fail_first: bool = False,
        fail_always: Optional[List[int]] = None,
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
                "fail_first": fail_first,
                "fail_always": [str(seq) for seq in (fail_always or [])],
                "properties": PROPERTY_NAMES,
                "timeout": timeout,
            },
            home,
        )
        self.wait_for("READY", timeout=60)

    def messages(self, include_probes: bool = False) -> List[dict]:
        return [m for m in self.lines("MSG") if include_probes or "probe" not in m["properties"]]

    def seqs(self) -> List[int]:
        return [int(m["properties"]["seq"]) for m in self.messages() if "seq" in m["properties"]]

    def stop(self, timeout: float = 60) -> None:
        status = self.finish(timeout)
        assert status == 0, f"push consumer exited {status}\n{self.diagnostics()}"


def pull_all(namesrv: str, home: Path, group: str, topic: str, expression: str = "*") -> List[dict]:
    driver = CppDriver(
        "pull",
        {
            "namesrv": namesrv,
            "group": group,
            "topic": topic,
            "expression": expression,
            "properties": PROPERTY_NAMES,
        },
        home,
    )
    try:
        result = driver.wait_for("RESULT", timeout=120)[0]
        assert driver.finish() == 0, driver.diagnostics()
        return result["messages"]
    finally:
        driver.kill()


QUEUES = 4


def probe_until(
    producer: CppProducer,
    consumers: List[CppPushConsumer],
    topic: str,
    ready: Callable[[Dict[int, List[int]]], bool],
    tags: str = "TagA",
    timeout: float = 90,
) -> None:
    """Sends one probe message to each queue per round until `ready` holds for a round.

    `ready` gets, for the round, a map consumer index -> queue ids whose probe it received,
    once every probe of the round arrived somewhere (or the round's wait ran out). Used to
    know that consumers finished rebalancing and are pulling, without fixed sleeps."""
    deadline = time.monotonic() + timeout
    for round_number in range(1000):
        if time.monotonic() > deadline:
            break
        specs = []
        for queue in range(QUEUES):
            spec = make_message(topic, -1, tags=tags, order_arg=queue)
            spec["properties"] = {"probe": f"{round_number}:{queue}"}
            specs.append(spec)
        results = producer.send(specs, mode="orderly")
        assert all(r.get("status") == 0 for r in results), results

        def received(round_number: int = round_number) -> Dict[int, List[int]]:
            seen: Dict[int, List[int]] = {}
            for index, consumer in enumerate(consumers):
                for m in consumer.messages(include_probes=True):
                    probe = m["properties"].get("probe", "")
                    number, _, queue = probe.partition(":")
                    if number == str(round_number):
                        seen.setdefault(index, []).append(int(queue))
            return seen

        round_deadline = min(time.monotonic() + 5, deadline)
        while time.monotonic() < round_deadline:
            seen = received()
            if len({q for queues in seen.values() for q in queues}) == QUEUES:
                break
            time.sleep(0.05)
        if ready(received()):
            return
    raise AssertionError(f"consumers not ready within {timeout}s")
