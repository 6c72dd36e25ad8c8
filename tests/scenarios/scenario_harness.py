"""Test-side helpers: start scenario_driver.py under one implementation's interpreter and collect
what it reports.

Implementations: "ours" is this pytest interpreter (our package installed by maturin);
"reference" is the interpreter of the virtualenv holding PyPI rocketmq==0.4.4, given by env
ROCKETMQ_CPP_PYTHON (scripts/test.sh creates it). Each client runs in its own subprocess with
HOME set to a temporary directory, because librocketmq writes ~/logs and broadcasting offsets
under HOME.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
from driverprocess import DriverProcess

DRIVER = Path(__file__).resolve().parent / "scenario_driver.py"
KEYWORDS = ("READY", "RESULT", "MSG", "ACK", "FAIL", "DONE", "ERROR")
IMPLEMENTATIONS = ("ours", "reference")
QUEUES = 4  # topics auto-created by a first send get 4 queues

# Against Apache's broker (ROCKETMQ_TEST_BROKER=apache, see tests/conftest.py) the reference
# client's batches are not batches: librocketmq 1.2.3 marks one only by its request code (320),
# Apache 5 only by the header's batch field (V2 "m"), which it does not write, so Apache stores
# each batch as one message whose body is the encoded batch. Our broker, like Apache 4.x, takes
# the request code.
REFERENCE_BATCHES_ON_APACHE = (
    "Apache 5 stores a batch of the reference client (code 320 without the header's batch "
    "field) as one message"
)


def with_reference_batches(*values: str):
    """A parameter set whose producer is the reference client sending a batch: ours only."""
    return pytest.param(*values, marks=pytest.mark.ours_broker_only(REFERENCE_BATCHES_ON_APACHE))


def interpreter(impl: str) -> str:
    if impl == "ours":
        return sys.executable
    path = os.environ.get("ROCKETMQ_CPP_PYTHON")
    if not path:
        pytest.fail(
            "ROCKETMQ_CPP_PYTHON is not set: the scenario suite also runs every scenario with "
            "the reference client (PyPI rocketmq==0.4.4) in its own virtualenv; run "
            "`bash scripts/test.sh`, which creates .venv-cpp and sets it"
        )
    if not Path(path).exists():
        pytest.fail(f"ROCKETMQ_CPP_PYTHON={path} does not exist; run `bash scripts/test.sh`")
    return path


def message(topic: str, seq: int, tags: str = "TagA", **properties: str) -> Dict[str, object]:
    """A message spec whose body, keys and properties are derived from seq."""
    return {
        "topic": topic,
        "tags": tags,
        "keys": f"key-{seq} other-{seq}",
        "body": f"body {seq} h\u00e9llo \u4e16\u754c " + "x" * (seq % 50),
        "properties": {"seq": str(seq), "note": f"n={seq};a,b", **properties},
    }


def assert_same_content(received: Dict[str, object], sent: Dict[str, object]) -> None:
    seq = sent["properties"]["seq"]  # type: ignore[index]
    assert received["topic"] == sent["topic"], f"topic of seq {seq}"
    assert received["body"] == sent["body"], f"body of seq {seq}"
    assert received["keys"] == sent["keys"], f"keys of seq {seq}"
    assert received["tags"] == sent["tags"], f"tags of seq {seq}"
    for name, value in sent["properties"].items():  # type: ignore[union-attr]
        assert received["properties"].get(name) == value, f"property {name} of seq {seq}"


class Client(DriverProcess):
    """One scenario_driver.py subprocess under one implementation's interpreter."""

    def __init__(self, impl: str, command: str, args: Dict[str, object], home: Path) -> None:
        self.impl = impl
        argv = [interpreter(impl), str(DRIVER), command, json.dumps(args)]
        super().__init__(argv, KEYWORDS, home, f"{impl} {command}")

    def ready(self, timeout: float = 60) -> None:
        info = self.wait_for("READY", timeout=timeout)[0]
        assert info["impl"] == self.impl, f"{self.name} runs {info['impl']}"

    def finish(self, timeout: float = 60) -> int:
        """Closes stdin (the driver's signal to shut down); the driver must exit 0 in time."""
        status = super().finish(timeout)
        assert status == 0, f"{self.name} exited {status}\n{self.diagnostics()}"
        return status


class ProducerClient(Client):
    def __init__(self, impl: str, namesrv: str, home: Path, group: str = "PG_scenario") -> None:
        super().__init__(impl, "producer", {"namesrv": namesrv, "group": group}, home)
        self.ready()

    def send(
        self, messages: List[Dict[str, object]], mode: str = "sync", batch_size: int = 10
    ) -> List[dict]:
        line = {"mode": mode, "messages": messages, "batch_size": batch_size}
        return self.request(line, 120)["results"]

    def send_ok(self, messages: List[Dict[str, object]], mode: str = "sync") -> List[dict]:
        results = self.send(messages, mode)
        assert all(r.get("status") == 0 for r in results), [r for r in results if "error" in r]
        return results


class PushClient(Client):
    def __init__(
        self,
        impl: str,
        namesrv: str,
        home: Path,
        group: str,
        topic: str,
        orderly: bool = False,
        broadcasting: bool = False,
        fail: Optional[str] = None,
    ) -> None:
        args = {
            "namesrv": namesrv,
            "group": group,
            "topic": topic,
            "orderly": orderly,
            "broadcasting": broadcasting,
            "fail": fail,
            "timeout": 200,
        }
        super().__init__(impl, "push", args, home)
        self.ready()

    def diagnostics(self) -> str:
        deliveries = [
            (
                m["properties"].get("seq"),
                m["properties"].get("probe"),
                m.get("failed"),
                m["reconsume_times"],
                m["queue_id"],
                m["queue_offset"],
            )
            for m in self.lines("MSG")
        ]
        return (
            f"{super().diagnostics()}\ndeliveries (seq, probe, failed, reconsume_times, queue, "
            f"offset): {deliveries[-200:]}"
        )

    def messages(self, probes: bool = False) -> List[dict]:
        """Deliveries of scenario messages (probes and the warm-up message left out)."""
        return [
            m
            for m in self.lines("MSG")
            if ("probe" in m["properties"]) == probes and int(m["properties"]["seq"]) >= 0
        ]

    def seqs(self) -> List[int]:
        return [int(m["properties"]["seq"]) for m in self.messages()]


def pull(
    impl: str,
    namesrv: str,
    home: Path,
    group: str,
    topic: str,
    offset_file: Optional[Path] = None,
    max_num: int = 32,
) -> dict:
    args: Dict[str, object] = {"namesrv": namesrv, "group": group, "topic": topic}
    args["max_num"] = max_num
    if offset_file is not None:
        args["offset_file"] = str(offset_file)
    client = Client(impl, "pull", args, home)
    try:
        result = client.wait_for("RESULT", timeout=90)[0]
        client.finish()
    finally:
        client.kill()
    assert result["impl"] == impl
    return result


def create_topic(producer: ProducerClient, topic: str) -> None:
    """The first send auto-creates the topic (4 queues); consumers need its route."""
    producer.send_ok([message(topic, -1, tags="Warmup")])


def probe_until(
    producer: ProducerClient,
    consumers: List[PushClient],
    topic: str,
    ready: Callable[[Dict[int, List[int]]], bool],
    timeout: float = 90,
) -> None:
    """Sends one probe to each queue per round until `ready` holds for a round.

    `ready` gets, per consumer index, the queue ids whose probe of the round it received, once
    every probe of the round arrived somewhere (or the round's 5 s ran out). This is how a test
    knows the consumers finished rebalancing and are pulling, without fixed sleeps."""
    deadline = time.monotonic() + timeout
    for round_number in range(1000):
        if time.monotonic() > deadline:
            break
        probes = []
        for queue in range(QUEUES):
            spec = message(topic, -2, tags="Probe", probe=f"{round_number}:{queue}")
            spec["arg"] = queue
            probes.append(spec)
        producer.send_ok(probes, mode="orderly")

        def received(round_number: int = round_number) -> Dict[int, List[int]]:
            seen: Dict[int, List[int]] = {}
            for index, consumer in enumerate(consumers):
                for m in consumer.lines("MSG"):
                    number, _, queue = m["properties"].get("probe", "").partition(":")
                    if number == str(round_number):
                        seen.setdefault(index, []).append(int(queue))
            return seen

        round_deadline = min(time.monotonic() + 5, deadline)
        while time.monotonic() < round_deadline:
            if len({q for queues in received().values() for q in queues}) == QUEUES:
                break
            time.sleep(0.05)
        if ready(received()):
            return
    raise AssertionError(
        f"consumers not ready within {timeout}s\n"
        + "\n".join(consumer.diagnostics() for consumer in consumers)
    )


def disjoint_cover(count: int) -> Callable[[Dict[int, List[int]]], bool]:
    """Ready when each of `count` consumers owns at least one queue, no queue is served twice
    and every queue is served: a stable clustering allocation."""

    def check(seen: Dict[int, List[int]]) -> bool:
        owned = [seen.get(index, []) for index in range(count)]
        flat = [q for queues in owned for q in queues]
        return all(owned) and len(flat) == len(set(flat)) == QUEUES

    return check
