"""Apache RocketMQ 5.x's proxy (``rocketmq-proxy``, cluster mode) in front of a running
ApacheCluster, as a Java process for tests.

The proxy takes two free ports: remoting (``proxy_remoting_addr``) and gRPC
(``proxy_grpc_endpoint``). For remoting clients it is name server and broker in one: a client
whose name server address is the proxy's remoting address gets routes whose broker address is
the proxy's own (``localServeAddr`` = 127.0.0.1 and ``remotingListenPort``), and sends, pulls,
heartbeats and offset commits go to the proxy, which forwards them to the cluster's broker.
The proxy does not create topics: create them on the cluster first
(``ApacheCluster.create_topic``).

What must stay true: the proxy advertises 127.0.0.1 only; it is waited for, bounded, until its
remoting port answers a route request and its gRPC port accepts a connection; it stops with
the fixture (SIGKILL with ``graceful_stop=False``). Apache 5.5.0's proxy has no bind-address
option for either listener: both bind the wildcard address in Java, on ports checked free
there, and get 127.0.0.1 from the harness's loopback preload (loopback.py).
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Optional

from apache_artifacts import is_4x
from apache_cluster import ApacheCluster, JavaProcess, _free_port, _tail, classpath, route_known

from remoting import split_address

PROXY_MAIN = "org.apache.rocketmq.proxy.ProxyStartup"
#: A topic every 5.x broker with auto-create on has: answering its route means the proxy is up
#: and reaches the name server.
DEFAULT_TOPIC = "TBW102"
#: The first bytes of every HTTP/2 connection (RFC 9113, 3.4).
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#: An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
HTTP2_EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def http2_settings_answer(endpoint: str, timeout: float = 5) -> Optional[bytes]:
    """Opens a cleartext HTTP/2 connection to `endpoint` (host:port) and returns the header of
    the server's first frame (9 bytes), or None when the server does not answer with one."""
    try:
        with socket.create_connection(split_address(endpoint), timeout=timeout) as sock:
            sock.sendall(HTTP2_PREFACE + HTTP2_EMPTY_SETTINGS)
            header = b""
            deadline = time.monotonic() + timeout
            while len(header) < 9 and time.monotonic() < deadline:
                chunk = sock.recv(9 - len(header))
                if not chunk:
                    return None
                header += chunk
            return header if len(header) == 9 else None
    except OSError:
        return None


class ApacheProxy:
    """Apache's proxy in cluster mode in front of `cluster` (a started 5.x ApacheCluster)."""

    def __init__(
        self,
        cluster: ApacheCluster,
        workdir: Optional[Path] = None,
        start_timeout: float = 120,
        graceful_stop: bool = True,
    ) -> None:
        if is_4x(cluster.version):
            raise ValueError(
                f"Apache RocketMQ {cluster.version} has no proxy: use a 5.x ApacheCluster"
            )
        self.cluster = cluster
        self.workdir = Path(workdir) if workdir is not None else cluster.workdir / "proxy"
        self.start_timeout = start_timeout
        self.graceful_stop = graceful_stop
        self.process: Optional[JavaProcess] = None
        self.proxy_remoting_addr = ""
        self.proxy_grpc_endpoint = ""

    @property
    def log_dir(self) -> Path:
        return self.workdir / "home" / "logs" / "rocketmqlogs"

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in (self.workdir / "proxy.out", self.log_dir / "proxy.log"):
            if path.exists():
                parts.append(f"--- {path.name} (last {lines} lines) ---\n{_tail(path, lines)}")
        return "\n".join(parts) or f"(no output or logs under {self.workdir})"

    def _fail(self, what: str) -> None:
        message = f"Apache RocketMQ proxy {self.cluster.version}: {what}\n{self.log_tail()}"
        self.stop()
        raise RuntimeError(message)

    def start(self) -> "ApacheProxy":
        self.workdir.mkdir(parents=True, exist_ok=True)
        remoting_port = _free_port("0.0.0.0")
        grpc_port = _free_port("0.0.0.0")
        while grpc_port == remoting_port:
            grpc_port = _free_port("0.0.0.0")
        self.proxy_remoting_addr = f"127.0.0.1:{remoting_port}"
        self.proxy_grpc_endpoint = f"127.0.0.1:{grpc_port}"
        config = {
            "rocketMQClusterName": self.cluster.cluster_name,
            "namesrvAddr": self.cluster.namesrv_addr,
            "proxyMode": "cluster",
            "localServeAddr": "127.0.0.1",
            "remotingListenPort": remoting_port,
            "grpcServerPort": grpc_port,
            # Routes are cached for 20 s by default: a group's retry topic, created by the
            # broker at the first heartbeat, would reach the consumer that late.
            "topicRouteServiceCacheRefreshSeconds": 1,
            # The proxy registers its transaction producers' groups with the broker every 20 s
            # by default; until then the broker's check-backs find no channel, and it gives up
            # on a half message after 15 checks (one a second here): check-backs to a gRPC
            # producer would never arrive.
            "transactionHeartbeatPeriodSecond": 1,
            # Routes name the host and port the client asked with (else this proxy's own gRPC
            # port), as our broker's do: a client behind a TLS terminator stays on it.
            "useEndpointPortFromRequest": True,
        }
        config_path = self.workdir / "rmq-proxy.json"
        config_path.write_text(json.dumps(config, indent=2) + "\n")
        self.process = JavaProcess(
            "proxy",
            self.workdir,
            PROXY_MAIN,
            ["-pc", str(config_path), "-pm", "cluster"],
            classpath(self.cluster.version),
        )
        deadline = time.monotonic() + self.start_timeout

        def ready() -> bool:
            return route_known(self.proxy_remoting_addr, DEFAULT_TOPIC) and (
                http2_settings_answer(self.proxy_grpc_endpoint, timeout=2) is not None
            )

        while not ready():
            if not self.process.alive():
                self._fail(f"the proxy exited ({self.process.proc.returncode}) before answering")
            if time.monotonic() > deadline:
                self._fail(f"timed out after {self.start_timeout:.0f}s waiting for the proxy")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.process is not None:
            if self.graceful_stop:
                self.process.stop()
            else:
                self.process.kill()

    def __enter__(self) -> "ApacheProxy":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
