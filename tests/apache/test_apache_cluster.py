"""The Apache RocketMQ harness itself (apache_cluster.py): the cached artifacts, what the started
broker runs with, its listeners (loopback only for 5.x, bar the HA port; 4.9 has no bind
option), and a clean stop. Runs with ROCKETMQ_TEST_BROKER=apache or apache4 (scripts/test.sh's
Apache sections), against the release of that run; the client suites then run against the same
kind of cluster."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Dict, List, Tuple

import apache_cluster as harness
import pytest

from remoting import RemotingConnection, split_address

pytestmark = [pytest.mark.apache_only, pytest.mark.timeout(240)]

GET_BROKER_CONFIG = 26
SUCCESS = 0


def broker_config(broker_addr: str) -> Dict[str, str]:
    """The broker's running configuration, as GET_BROKER_CONFIG reports it."""
    with RemotingConnection(broker_addr) as conn:
        reply = conn.call(GET_BROKER_CONFIG)
    assert reply.code == SUCCESS, reply
    config = {}
    for line in reply.body.decode("utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            config[key.strip()] = value.strip()
    return config


def listening_sockets(pid: int) -> List[Tuple[str, int]]:
    """(address, port) of every TCP socket process `pid` listens on (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for row in f:
                fields = row.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:  # 0A: LISTEN
                    continue
                address_hex, port_hex = local.split(":")
                if len(address_hex) == 8:
                    address = socket.inet_ntop(socket.AF_INET, bytes.fromhex(address_hex)[::-1])
                else:
                    words = [bytes.fromhex(address_hex[i : i + 8])[::-1] for i in range(0, 32, 8)]
                    address = socket.inet_ntop(socket.AF_INET6, b"".join(words))
                found.append((address, int(port_hex, 16)))
    return found


@pytest.mark.parametrize("version", harness.SUITE_VERSIONS)
def test_the_cached_artifacts_need_no_maven(monkeypatch, version):
    lib = harness.prepare_artifacts(version)
    jars = sorted(p.name for p in lib.glob("*.jar"))
    for artifact in harness.artifacts(version):
        assert f"{artifact}-{version}.jar" in jars
    assert (lib.parent / "complete").read_text().split() == jars
    # Once cached, preparing again must not need Maven at all.
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert harness.prepare_artifacts(version) == lib


def test_a_4x_home_has_the_logback_files_4x_reads(tmp_path):
    harness.write_home_conf(harness.APACHE4_VERSION, tmp_path)
    names = sorted(p.name for p in (tmp_path / "conf").iterdir())
    assert names == ["logback_broker.xml", "logback_namesrv.xml", "logback_tools.xml"]
    assert "rocketmqlogs/broker.log" in (tmp_path / "conf" / "logback_broker.xml").read_text()
    harness.write_home_conf(harness.APACHE_VERSION, tmp_path / "five")
    assert not (tmp_path / "five").exists(), "5.x reads its logback files from its jars"


def test_the_broker_runs_with_the_test_configuration(apache_cluster):
    config = broker_config(apache_cluster.broker_addr)
    expected = {
        "brokerIP1": "127.0.0.1",
        "namesrvAddr": apache_cluster.namesrv_addr,
        "autoCreateTopicEnable": "true",
        "enablePropertyFilter": "true",
        "messageDelayLevel": harness.ONE_SECOND_LEVELS,
        "listenPort": str(split_address(apache_cluster.broker_addr)[1]),
    }
    if not harness.is_4x(apache_cluster.version):
        expected["timerWheelEnable"] = "true"  # 4.x has no timer wheel
    assert apache_cluster.version == harness.run_version()
    assert {key: config.get(key) for key in expected} == expected
    assert config["storePathRootDir"].startswith(str(apache_cluster.workdir))
    # The name server knows this broker, and only this one, at its address.
    registered = harness._registered_brokers(apache_cluster.namesrv_addr)
    assert registered == {apache_cluster.broker_name: [apache_cluster.broker_addr]}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc")
def test_listeners_are_loopback_and_stop_ends_everything(tmp_path):
    cluster = harness.ApacheCluster(tmp_path / "cluster", version=harness.run_version())
    with cluster:
        broker_port = split_address(cluster.broker_addr)[1]
        namesrv_port = split_address(cluster.namesrv_addr)[1]
        namesrv = listening_sockets(cluster.namesrv.proc.pid)
        broker = listening_sockets(cluster.broker.proc.pid)
        # Every listener on loopback: 5.x's remoting servers by configuration, the ones
        # without a bind-address option (the HA listener, all of 4.9's) by loopback.py.
        assert namesrv == [("127.0.0.1", namesrv_port)]
        ports = (broker_port - 2, broker_port, broker_port + 1)
        assert sorted(broker) == [("127.0.0.1", port) for port in ports], broker
        assert (cluster.log_dir / "broker.log").exists(), "Apache logs under the work dir"
        processes = [cluster.namesrv.proc, cluster.broker.proc]
    assert all(p.poll() is not None for p in processes), "stop() ends both processes"
    for addr in (cluster.namesrv_addr, cluster.broker_addr):
        with pytest.raises(OSError):
            socket.create_connection(split_address(addr), timeout=2).close()


def test_a_foreign_broker_in_the_new_name_server_means_new_ports(tmp_path, monkeypatch):
    """A broker of another run may keep registering to a dead name server's port that our new
    name server got: start() sees it and starts over on new ports."""
    real = harness._registered_brokers
    first_namesrv = []

    def with_a_stranger(namesrv_addr):
        brokers = real(namesrv_addr)
        if brokers is None:
            return None
        if not first_namesrv:
            first_namesrv.append(namesrv_addr)
        if namesrv_addr == first_namesrv[0]:
            return {**brokers, "stranger": ["127.0.0.1:1"]}
        return brokers

    monkeypatch.setattr(harness, "_registered_brokers", with_a_stranger)
    cluster = harness.ApacheCluster(
        tmp_path / "cluster", version=harness.run_version(), graceful_stop=False
    )
    with cluster:
        assert first_namesrv and cluster.namesrv_addr != first_namesrv[0]
        assert real(cluster.namesrv_addr) == {cluster.broker_name: [cluster.broker_addr]}
