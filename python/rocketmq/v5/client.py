"""``ClientConfiguration`` and ``Credentials``: what every 5.x client is built with, as in the
official client (``rocketmq.v5.client``).

What must stay true: the constructors take the official arguments and defaults
(``ClientConfiguration(endpoints, credentials, namespace="", request_timeout=3)``,
``Credentials(ak="", sk="")``); ``endpoints`` is ``"host:port[;host:port]"`` (an
``http://``/``https://`` prefix is accepted and dropped) and is checked when a client is
created, with a message saying what to pass.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["ClientConfiguration", "Credentials"]


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
    ) -> None:
        if not isinstance(endpoints, str):
            raise TypeError(
                f"endpoints must be a str like '127.0.0.1:8081', not {type(endpoints).__name__}"
            )
        self.__endpoints = endpoints
        self.__credentials = credentials if credentials is not None else Credentials()
        self.__namespace = namespace or ""
        self.__request_timeout = request_timeout

    @property
    def endpoints(self) -> str:
        return self.__endpoints

    @property
    def namespace(self) -> str:
        return self.__namespace

    @property
    def credentials(self) -> Credentials:
        return self.__credentials

    @property
    def request_timeout(self) -> float:
        return self.__request_timeout

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
