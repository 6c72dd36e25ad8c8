"""``ClientConfiguration`` and ``Credentials``: what every 5.x client is built with, as in the
official client (``rocketmq.v5.client``).

What must stay true: the constructors take the official arguments and defaults
(``ClientConfiguration(endpoints, credentials, namespace="", request_timeout=3)``,
``Credentials(ak="", sk="")``); ``endpoints`` is ``"host:port[;host:port]"`` (an
``http://``/``https://`` prefix is accepted and dropped) and is checked when a client is
created, with a message saying what to pass.

Beyond the official client: ``protocol="remoting"`` (or endpoints written
``remoting://host:9876[;host:9876]``) makes ``endpoints`` the cluster's name servers, and the
clients speak RocketMQ's remoting protocol to the brokers, with no proxy
(``rocketmq.v5.remoting``). ``protocol="grpc"`` (the default) is the official behaviour.
"""

from __future__ import annotations

from typing import Optional

from rocketmq.v5.exception import IllegalArgumentException

__all__ = ["ClientConfiguration", "Credentials"]

#: ``ClientConfiguration.protocol`` values.
GRPC = "grpc"
REMOTING = "remoting"
#: An endpoint prefix that selects the remoting protocol.
REMOTING_SCHEME = "remoting://"


class Credentials:
    """Access key and secret key the requests are signed with (empty: no signature)."""

    def __init__(self, ak: Optional[str] = "", sk: Optional[str] = "") -> None:
        self.__ak = ak if ak is not None else ""
        self.__sk = sk if sk is not None else ""

    @property
    def ak(self) -> str:
        return self.__ak

    @property
    def sk(self) -> str:
        return self.__sk


class ClientConfiguration:
    """Where the 5.x endpoint is (a proxy, a managed service, or the bundled broker's
    ``grpc_endpoint``), the credentials, the namespace and the request timeout (seconds)."""

    def __init__(
        self,
        endpoints: str,
        credentials: Optional[Credentials] = None,
        namespace: str = "",
        request_timeout: float = 3,
        *,
        protocol: str = GRPC,
    ) -> None:
        if not isinstance(endpoints, str):
            raise TypeError(
                f"endpoints must be a str like '127.0.0.1:8081', not {type(endpoints).__name__}"
            )
        if protocol not in (GRPC, REMOTING):
            raise ValueError(
                f"protocol={protocol!r}: pass 'grpc' (a 5.x endpoint: proxy or broker) or "
                "'remoting' (the cluster's name servers, no proxy)"
            )
        if endpoints.startswith(REMOTING_SCHEME):
            endpoints = endpoints[len(REMOTING_SCHEME) :]
            protocol = REMOTING
        self.__protocol = protocol
        self.__endpoints = endpoints
        self.__credentials = credentials if credentials is not None else Credentials()
        self.__namespace = namespace or ""
        self.__request_timeout = request_timeout

    @property
    def endpoints(self) -> str:
        return self.__endpoints

    @property
    def protocol(self) -> str:
        """``"grpc"`` (a 5.x endpoint) or ``"remoting"`` (name servers, no proxy)."""
        return self.__protocol

    @property
    def namespace(self) -> str:
        return self.__namespace

    @property
    def credentials(self) -> Credentials:
        return self.__credentials

    @property
    def request_timeout(self) -> float:
        return self.__request_timeout

    def _remoting_args(self, tls_enable: bool) -> tuple:
        """(name_servers, ak, sk, request_timeout) of the remoting clients (the namespace is
        ``namespace``); what they cannot do is refused here, saying what to change."""
        if tls_enable:
            raise IllegalArgumentException(
                "tls_enable=True is not available with protocol='remoting': use a 5.x "
                "endpoint (protocol='grpc') for TLS"
            )
        name_servers = self.__endpoints.strip()
        if not name_servers:
            raise IllegalArgumentException(
                "endpoints is blank: pass the name servers, e.g. '127.0.0.1:9876'"
            )
        return (
            name_servers,
            self.__credentials.ak,
            self.__credentials.sk,
            float(self.__request_timeout),
        )

    def _native_args(self, tls_enable: bool) -> tuple:
        """(endpoints, ak, sk, namespace, request_timeout, tls) as the native clients take them."""
        return (
            self.__endpoints,
            self.__credentials.ak,
            self.__credentials.sk,
            self.__namespace,
            float(self.__request_timeout),
            bool(tls_enable),
        )
