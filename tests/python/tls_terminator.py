"""A test PKI made with the ``openssl`` program (a CA and a certificate for 127.0.0.1 it
signs) and a TLS terminator: it accepts TLS (ALPN h2) on an ephemeral loopback port and
forwards every connection's bytes to a plain backend, so a client's TLS is tested against
a plain gRPC endpoint. Every thread is a daemon and ends with its connection or ``close``."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import List, Tuple


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def make_pki(folder: Path) -> Tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key) in `folder`, valid for a day."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=rocketmq test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    run(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "server.ext",
    )  # fmt: skip
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


class TlsTerminator:
    """TLS on ``endpoint`` (``127.0.0.1:port``), plain bytes to ``backend`` (``host:port``)."""

    def __init__(self, backend: str, cert: Path, key: Path) -> None:
        host, port = backend.rsplit(":", 1)
        self._backend = (host, int(port))
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(cert), str(key))
        self._context.set_alpn_protocols(["h2"])
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.5)
        self._open: List[socket.socket] = []
        self._closed = threading.Event()
        self.endpoint = "127.0.0.1:%d" % self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="tls-terminator", daemon=True).start()

    def __enter__(self) -> "TlsTerminator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for s in list(self._open):
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                raw, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            tls = self._context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        tls.settimeout(None)
        try:
            plain = socket.create_connection(self._backend, timeout=10)
        except OSError:
            tls.close()
            return
        plain.settimeout(None)
        self._open += [tls, plain]
        threading.Thread(target=self._pump, args=(plain, tls), daemon=True).start()
        self._pump(tls, plain)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass
