"""Test-side helpers for driving Apache's Java client (tests/drivers/java) against our broker.

The driver is built (cached) by tests/drivers/java/build.sh, which needs Java 17 and Maven;
scripts/test.sh runs it before pytest, and the first test here runs it again (a no-op when
the sources did not change). Each driver is a `java` subprocess with user.home set to a test
directory: the Java client writes its logs and broadcasting offsets under user.home.

Messages are the specs of cpp_client.make_message; results and deliveries come back as the
records described in the driver's classes (ids, topic, tags, keys, properties, body as hex,
queue id and offset, reconsume times, timestamps).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
from cpp_client import PROPERTY_NAMES, QUEUES, make_message
from driverprocess import DriverProcess

DRIVER_DIR = Path(__file__).resolve().parent.parent / "drivers" / "java"
_KEYWORDS = ("READY", "RESULT", "MSG", "DONE", "CHECK", "ERROR")
# Small heaps and a quick start: several drivers run at once on a small machine.
_JVM_OPTIONS = ["-Xmx256m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]


@functools.lru_cache(maxsize=None)
def driver_classpath() -> str:
    """Builds the driver if its sources changed and returns its class path."""
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            pytest.fail(f"the Java client tests need `{tool}` (Java 17 and Maven) on PATH")
    build = subprocess.run(
        ["bash", str(DRIVER_DIR / "build.sh")],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if build.returncode != 0:
        pytest.fail(f"building the Java driver failed:\n{build.stderr[-5000:]}")
    return build.stdout.strip().splitlines()[-1]


class JavaDriver(DriverProcess):
    """One Java driver subprocess (rocketmq.javadriver.Main SUBCOMMAND JSON-ARGS)."""

    def __init__(self, command: str, args: Dict[str, object], home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        argv = ["java", *_JVM_OPTIONS, f"-Duser.home={home}", "-cp", driver_classpath()]
        argv += ["rocketmq.javadriver.Main", command, json.dumps(args)]
        super().__init__(argv, _KEYWORDS, home, f"java {command}")

    def stop(self, timeout: float = 60) -> None:
        status = self.finish(timeout)
        assert status == 0, f"{self.name} exited {status}\n{self.diagnostics()}"


class JavaProducer(JavaDriver):
    """A DefaultMQProducer; send() takes specs and returns one result per message."""

    def __init__(self, namesrv: str, home: Path, group: str = "PG_java") -> None:
        super().__init__("producer", {"namesrv": namesrv, "group": group}, home)
        self.wait_for("READY", timeout=90)

    send = DriverProcess.send_messages


class JavaTransactionProducer(JavaDriver):
    """A TransactionMQProducer answering every check-back with `check_answer`."""

    def __init__(self, namesrv: str, home: Path, group: str, check_answer: str) -> None:
        args = {
            "namesrv": namesrv,
            "group": group,
            "check_answer": check_answer,
            "properties": PROPERTY_NAMES,
        }
        super().__init__("transaction", args, home)
        self.wait_for("READY", timeout=90)

    def send(self, messages: List[Dict[str, object]], local: str) -> List[dict]:
        return self.request({"messages": messages, "local": local}, 120)["results"]


class JavaConsumer(JavaDriver):
    """A push or lite pull consumer: reports every delivery as a MSG record."""

    def messages(self, include_probes: bool = False) -> List[dict]:
        return [m for m in self.lines("MSG") if include_probes or "probe" not in m["properties"]]

    def seqs(self) -> List[int]:
        return [int(m["properties"]["seq"]) for m in self.messages() if "seq" in m["properties"]]


class JavaPushConsumer(JavaConsumer):
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
        max_reconsume_times: Optional[int] = None,
        timeout: float = 240,
    ) -> None:
        args: Dict[str, object] = {
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
        }
        if max_reconsume_times is not None:
            args["max_reconsume_times"] = max_reconsume_times
        super().__init__("push", args, home)
        self.wait_for("READY", timeout=90)


class JavaLitePullConsumer(JavaConsumer):
    def __init__(
        self,
        namesrv: str,
        home: Path,
        group: str,
        topic: str,
        assign: bool = False,
        expression: str = "*",
        timeout: float = 240,
    ) -> None:
        args = {
            "namesrv": namesrv,
            "group": group,
            "topic": topic,
            "expression": expression,
            "assign": assign,
            "properties": PROPERTY_NAMES,
            "timeout": timeout,
        }
        super().__init__("litepull", args, home)
        self.wait_for("READY", timeout=90)


class JavaAdmin(JavaDriver):
    """DefaultMQAdminExt: ask() sends one op and returns its RESULT."""

    def __init__(self, namesrv: str, home: Path) -> None:
        super().__init__("admin", {"namesrv": namesrv, "properties": PROPERTY_NAMES}, home)
        self.wait_for("READY", timeout=90)

    def ask(self, op: str, **fields: object) -> dict:
        return self.request({"op": op, **fields}, 60)


def probe_until(
    producer: JavaProducer,
    consumers: List[JavaConsumer],
    topic: str,
    ready: Callable[[Dict[int, List[int]]], bool],
    timeout: float = 90,
) -> None:
    """Sends one probe per queue per round until `ready` holds for a round's deliveries (a
    map consumer index -> queue ids whose probe it received): consumers have rebalanced and
    are pulling, known without fixed sleeps."""
    deadline = time.monotonic() + timeout
    last_round: Dict[int, List[int]] = {}
    for round_number in range(1000):
        if time.monotonic() > deadline:
            break
        specs = []
        for queue in range(QUEUES):
            spec = make_message(topic, -1, order_arg=queue)
            spec["properties"] = {"probe": f"{round_number}:{queue}"}
            specs.append(spec)
        results = producer.send(specs, mode="orderly")
        assert all(r.get("status") == 0 for r in results), results

        def received(number: int = round_number) -> Dict[int, List[int]]:
            seen: Dict[int, List[int]] = {}
            for index, consumer in enumerate(consumers):
                for m in consumer.messages(include_probes=True):
                    probe_round, _, queue = m["properties"].get("probe", "").partition(":")
                    if probe_round == str(number):
                        seen.setdefault(index, []).append(int(queue))
            return seen

        round_deadline = min(time.monotonic() + 5, deadline)
        while time.monotonic() < round_deadline:
            if len({q for queues in received().values() for q in queues}) == QUEUES:
                break
            time.sleep(0.05)
        last_round = received()
        if ready(last_round):
            return
    raise AssertionError(
        f"consumers not ready within {timeout}s; last round's probes by consumer: {last_round}\n"
        + "\n".join(consumer.diagnostics(1000) for consumer in consumers)
    )
