"""Drives the reference C++ client (PyPI rocketmq==0.4.4, librocketmq 1.2.3) for interop tests.

Runs with the reference virtualenv's python (never ours: both packages are named `rocketmq`).
Usage: ``python cpp_driver.py SUBCOMMAND 'JSON-ARGS'``. Output lines on stdout, each one JSON
value after a keyword, so log noise cannot be mistaken for results:

* ``producer {"namesrv", "group"}``: then reads one JSON request per stdin line,
  ``{"mode": "sync"|"oneway"|"orderly"|"async"|"batch", "messages": [...], "batch_size": n}``,
  and answers each with ``RESULT {"results": [{"status", "msg_id", "offset"} | {"error"}]}``.
  A message is ``{"topic", "tags", "keys", "properties": {..}, "body_hex", "order_arg",
  "delay_level"}``. Exits at end of input.
* ``push {"namesrv", "group", "topic", "expression", "orderly", "broadcasting", "properties":
  [names], "fail_first": bool, "timeout": s}``: prints ``READY {}`` after start, then
  ``MSG {...}`` for every delivery, until stdin reaches end of input or the timeout; then
  shuts down and prints ``DONE {"deliveries": n}``. With ``fail_first`` the callback fails
  the first delivery of each message (identified by its ``seq`` property), so the client sends
  it back for a later retry; ``"fail_always": [seq, ...]`` fails every delivery of those.
* ``pull {"namesrv", "group", "topic", "expression", "properties": [names]}``: one pass of
  ``PullConsumer.pull`` over every queue; prints ``RESULT {"messages": [...]}``.

A delivered message is reported with id, topic, tags, keys, the requested properties, body as
hex, queue id, queue offset, reconsume times and store size.
"""

import ctypes
import json
import os
import sys
import threading
import time
from pathlib import Path

# The helpers shared with the scenario driver (stdlib only): result lines on a descriptor of
# their own, result and error records.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
from driverlib import emit, error_of, flush, result_of, text, wait_for_end_of_input  # noqa: E402

from rocketmq import ffi
from rocketmq.client import (
    Message,
    Producer,
    PullConsumer,
    PushConsumer,
    RecvMessage,
)
from rocketmq.exceptions import ffi_check
from rocketmq.ffi import MessageModel, _CConsumeStatus

# A second handle on the same library, so GetMessageBody can return a raw pointer instead of a
# NUL-terminated bytes object (the wheel's RecvMessage.body stops at the first NUL byte).
_RAW = ctypes.CDLL(ffi.dll._name)
_RAW.GetMessageBody.argtypes = [ctypes.c_void_p]
_RAW.GetMessageBody.restype = ctypes.c_void_p


def message_body(handle):
    """The full body of a received message, NUL bytes included.

    librocketmq 1.2.3 is built with the pre-C++11 libstdc++ ABI: a std::string is a pointer to
    its characters, preceded by a header {size_t length; size_t capacity; int refcount}.
    GetMessageBody returns getBody().c_str(), so the length sits 24 bytes before it. The
    checks below make a wrong guess fail loudly instead of returning garbage."""
    pointer = _RAW.GetMessageBody(handle)
    if not pointer:
        return b""
    length = ctypes.c_size_t.from_address(pointer - 24).value
    capacity = ctypes.c_size_t.from_address(pointer - 16).value
    if not (length <= capacity < (1 << 31)):
        raise RuntimeError(
            "unexpected std::string layout: length %d capacity %d" % (length, capacity)
        )
    body = ctypes.string_at(pointer, length + 1)
    if body[-1:] != b"\0" or len(ctypes.string_at(pointer)) > length:
        raise RuntimeError("unexpected std::string layout: body is not NUL-terminated at length")
    return body[:-1]


def describe(msg, property_names):
    properties = {}
    for name in property_names:
        value = msg.get_property(name)
        if value:
            properties[name] = text(value)
    return {
        "id": msg.id,
        "topic": msg.topic,
        "tags": text(msg.tags),
        "keys": text(msg.keys),
        "properties": properties,
        "body_hex": message_body(msg._handle).hex(),
        "queue_id": msg.queue_id,
        "queue_offset": msg.queue_offset,
        "reconsume_times": msg.reconsume_times,
        "store_size": msg.store_size,
        "born_timestamp": msg.born_timestamp,
        "store_timestamp": msg.store_timestamp,
    }


def build_message(spec):
    msg = Message(spec["topic"])
    if spec.get("keys"):
        msg.set_keys(spec["keys"])
    if spec.get("tags"):
        msg.set_tags(spec["tags"])
    body = bytes.fromhex(spec.get("body_hex", ""))
    # Message.set_body passes a C string and would cut the body at its first NUL byte.
    status = ffi.dll.SetByteMessageBody(msg._handle, body, len(body))
    if int(status) != 0:
        raise RuntimeError("SetByteMessageBody failed with status %d" % int(status))
    for key, value in (spec.get("properties") or {}).items():
        msg.set_property(key, value)
    if spec.get("delay_level"):
        msg.set_delay_time_level(spec["delay_level"])
    return msg


def queue_by_arg(mq_size, msg, arg):
    """Queue selector: the integer argument modulo the number of queues."""
    value = ctypes.cast(arg, ctypes.POINTER(ctypes.c_int))[0]
    return value % mq_size


def run_request(producer, request):
    mode = request["mode"]
    specs = request["messages"]
    results = []
    if mode == "batch":
        size = int(request.get("batch_size", 16))
        for start in range(0, len(specs), size):
            chunk = [build_message(spec) for spec in specs[start : start + size]]
            try:
                outcome = result_of(producer.send_batch(chunk))
            except Exception as exc:
                outcome = error_of(exc)
            results.extend([outcome] * len(chunk))
        return results
    if mode == "async":
        done = threading.Event()
        outcomes = [None] * len(specs)
        remaining = [len(specs)]
        lock = threading.Lock()

        def finish(index, outcome):
            with lock:
                outcomes[index] = outcome
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

        messages = []
        for index, spec in enumerate(specs):
            msg = build_message(spec)
            messages.append(msg)  # keep alive until the callback ran
            try:
                producer.send_async(
                    msg,
                    lambda res, i=index: finish(i, result_of(res)),
                    lambda exc, i=index: finish(i, error_of(exc)),
                )
            except Exception as exc:
                finish(index, error_of(exc))
        if specs and not done.wait(float(request.get("timeout", 60))):
            for index, outcome in enumerate(outcomes):
                if outcome is None:
                    outcomes[index] = {"error": "no async callback before the timeout"}
        return outcomes
    for spec in specs:
        msg = build_message(spec)
        try:
            if mode == "sync":
                results.append(result_of(producer.send_sync(msg)))
            elif mode == "oneway":
                producer.send_oneway(msg)
                results.append({"status": 0, "msg_id": "", "offset": -1})
            elif mode == "orderly":
                sent = producer.send_orderly(
                    msg, int(spec["order_arg"]), queue_selector=queue_by_arg
                )
                results.append(result_of(sent))
            else:
                raise ValueError("unknown send mode %r" % mode)
        except Exception as exc:
            results.append(error_of(exc))
    return results


def run_producer(args):
    # librocketmq's own limit defaults to 128 KiB; raise it to the broker's 4 MiB default.
    producer = Producer(
        args["group"],
        timeout=int(args.get("send_timeout_ms", 10000)),
        max_message_size=int(args.get("max_message_size", 4 * 1024 * 1024)),
    )
    producer.set_namesrv_addr(args["namesrv"])
    producer.start()
    try:
        emit("READY", {})
        for line in sys.stdin:
            if not line.strip():
                continue
            emit("RESULT", {"results": run_request(producer, json.loads(line))})
    finally:
        producer.shutdown()


def run_push(args):
    model = MessageModel.BROADCASTING if args.get("broadcasting") else MessageModel.CLUSTERING
    consumer = PushConsumer(args["group"], orderly=bool(args.get("orderly")), message_model=model)
    consumer.set_namesrv_addr(args["namesrv"])
    if args.get("thread_count"):
        consumer.set_thread_count(int(args["thread_count"]))
    property_names = args.get("properties", [])
    fail_first = bool(args.get("fail_first"))
    fail_always = set(args.get("fail_always", []))
    failed_once = set()
    deliveries = [0]

    failed_lock = threading.Lock()

    def on_message(msg):
        try:
            record = describe(msg, property_names)
        except Exception as exc:  # noqa: BLE001 - reported with the delivery, not swallowed
            # Reading the body through the std::string layout guess failed: still record the
            # delivery (its seq and reconsume times come through the C API), so that the
            # retry bookkeeping below sees every delivery the client made.
            seq_value = msg.get_property("seq")
            record = {
                "properties": {"seq": text(seq_value)} if seq_value else {},
                "reconsume_times": msg.reconsume_times,
                "topic": msg.topic,
                "describe_error": repr(exc),
            }
        seq = record["properties"].get("seq")
        with failed_lock:
            deliveries[0] += 1
            failing = fail_first and seq is not None and seq not in failed_once
            failing = failing or seq in fail_always
            if failing:
                failed_once.add(seq)
        record["failed"] = failing
        emit("MSG", record)
        return _CConsumeStatus.RECONSUME_LATER if failing else _CConsumeStatus.CONSUME_SUCCESS

    def native_callback(_consumer_handle, msg_handle):
        # Return the status explicitly: the wheel's own wrapper re-raises the exception out of
        # the ctypes callback, and what C then sees as the status is not defined.
        try:
            return int(on_message(RecvMessage(msg_handle)))
        except BaseException as exc:  # never let an exception cross into C
            sys.stderr.write("consumer callback failed: %r\n" % (exc,))
            return int(_CConsumeStatus.RECONSUME_LATER)

    ffi_check(
        ffi.dll.Subscribe(
            consumer._handle,
            args["topic"].encode("utf-8"),
            args.get("expression", "*").encode("utf-8"),
        )
    )
    consumer._register_callback(native_callback)
    consumer.start()
    emit("READY", {})
    wait_for_end_of_input(float(args.get("timeout", 120)))
    consumer.shutdown()
    emit("DONE", {"deliveries": deliveries[0]})


def run_pull(args):
    consumer = PullConsumer(args["group"])
    consumer.set_namesrv_addr(args["namesrv"])
    consumer.start()
    try:
        property_names = args.get("properties", [])
        messages = [
            describe(msg, property_names)
            for msg in consumer.pull(
                args["topic"], args.get("expression", "*"), int(args.get("max_num", 32))
            )
        ]
    finally:
        consumer.shutdown()
    emit("RESULT", {"messages": messages})


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: cpp_driver.py producer|push|pull JSON-ARGS")
    command, args = sys.argv[1], json.loads(sys.argv[2])
    started = time.monotonic()
    {"producer": run_producer, "push": run_push, "pull": run_pull}[command](args)
    sys.stderr.write("cpp_driver %s finished in %.1fs\n" % (command, time.monotonic() - started))
    flush()
    sys.stdout.flush()
    sys.stderr.flush()
    # The clients were shut down explicitly above (offsets committed, connections closed).
    # Skip interpreter teardown: the wheel's __del__ methods would shut them down a second
    # time, and librocketmq's static destructors are known to hang at exit.
    os._exit(0)


if __name__ == "__main__":
    main()
