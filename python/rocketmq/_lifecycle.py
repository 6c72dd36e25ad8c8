"""The lifecycle every client shares (private): start/shutdown, the registry that keeps
started clients alive, and the name-server, instance and credential settings.

What must stay true: a started client stays referenced (in ``live_clients``) until its
``shutdown()``, so dropping the last user reference never stops it; at interpreter exit
every client still started is shut down, so exit neither hangs nor crashes.
"""

import abc
import atexit
import logging
import os
import threading
from typing import Any, Dict, Optional, Set, Tuple, TypeVar

from ._arguments import StrOrBytes, as_text
from .exceptions import NullPointerException

log = logging.getLogger("rocketmq")

# Started clients stay alive until shutdown() even if the user drops every reference, and
# are shut down at interpreter exit so that it neither hangs nor crashes.
live_clients: Set[Any] = set()
_live_lock = threading.Lock()


def keep_alive(client: Any) -> None:
    """Registers a started client."""
    with _live_lock:
        live_clients.add(client)


def release(client: Any) -> None:
    """Forgets a client that shut down."""
    with _live_lock:
        live_clients.discard(client)


@atexit.register
def _shutdown_all() -> None:
    with _live_lock:
        clients = list(live_clients)
    for c in clients:
        try:
            c.shutdown()
        except Exception:  # noqa: BLE001 - exit must go on
            log.exception("shutting down %r at exit failed", c)


def _name_servers_from_env() -> str:
    return os.environ.get("NAMESRV_ADDR", "")


_ClientT = TypeVar("_ClientT", bound="ClientLifecycle")

# Python log levels of the originals' ``_CLogLevel`` values; anything else is DEBUG.
_LOG_LEVELS = {1: logging.CRITICAL, 2: logging.ERROR, 3: logging.WARNING, 4: logging.INFO}


class ClientLifecycle(abc.ABC):
    """The base of every client: start/shutdown (also as a context manager), and the
    settings every client has (group, name servers, instance name, ACL credentials)."""

    @abc.abstractmethod
    def start(self) -> None:
        """Starts the client."""

    @abc.abstractmethod
    def shutdown(self) -> None:
        """Stops the client; idempotent."""

    def destroy(self) -> None:
        """Same as shutdown() (rocketmq-client-python 0.5 spelling)."""
        self.shutdown()

    def __enter__(self: _ClientT) -> _ClientT:
        """Starts the client and returns it."""
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        """Shuts the client down."""
        self.shutdown()

    def _shut_down_quietly(self) -> None:
        """Shuts down if still running; never raises (used as ``__del__``)."""
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - never raise from __del__
            pass

    def _init_config(self, group_id: Any) -> None:
        if group_id is None:
            raise NullPointerException("group_id must not be None")
        self._group = as_text(group_id, "group_id")
        self._namesrv = _name_servers_from_env()
        self._instance_name = "DEFAULT"
        self._credentials: Optional[Tuple[str, str, str]] = None
        self._namesrv_domain: Optional[str] = None

    def _native_client_options(self) -> Dict[str, Any]:
        """Keyword arguments every native client takes: group, name servers, instance name,
        credentials and name-server domain."""
        return {
            "group": self._group,
            "name_servers_list": self._namesrv,
            "instance_name": self._instance_name,
            "credentials": self._credentials,
            "namesrv_domain": self._namesrv_domain,
        }

    def set_group(self, group_name: StrOrBytes) -> None:
        """Changes the group; takes effect at the next ``start()``."""
        self._group = as_text(group_name, "group_name")

    def set_namesrv_addr(self, addr: StrOrBytes) -> None:
        """Name servers as ``"host:port;host2:port2"``."""
        self._namesrv = as_text(addr, "addr")
        native = getattr(self, "_native", None)
        if native is not None and hasattr(native, "set_name_servers"):
            native.set_name_servers(self._namesrv)

    set_name_server_address = set_namesrv_addr

    def set_namesrv_domain(self, domain: StrOrBytes) -> None:
        """An ``http://`` URL answering the name-server list (``"host:port;host2:port2"``).

        The list is fetched at ``start()`` and every 2 minutes after; a failed fetch keeps
        the current list. ``https`` URLs are refused at ``start()``. A plain ``host:port``
        is taken as the address itself (a frequent mix-up)."""
        domain = as_text(domain, "domain")
        if "://" not in domain and ":" in domain and "/" not in domain:
            log.warning("set_namesrv_domain(%r) looks like an address; using it as one", domain)
            self._namesrv = domain
            self._namesrv_domain = None
            return
        self._namesrv_domain = domain

    set_name_server_domain = set_namesrv_domain

    def set_session_credentials(
        self, access_key: StrOrBytes, access_secret: StrOrBytes, channel: StrOrBytes
    ) -> None:
        """ACL credentials: every request then carries ``AccessKey``, ``OnsChannel`` (the
        channel, usually ``"ALIYUN"``) and an HMAC-SHA1 ``Signature``."""
        self._credentials = (
            as_text(access_key, "access_key"),
            as_text(access_secret, "access_secret"),
            as_text(channel, "channel"),
        )

    def set_instance_name(self, name: StrOrBytes) -> None:
        """Instance name used in the client id; clients with different names are separate
        members of their group."""
        self._instance_name = as_text(name, "name")

    def set_message_trace(self, enabled: Any) -> None:
        """Accepted for compatibility; message trace is not sent."""
        self._message_trace = bool(enabled)

    def set_log_path(self, path: Any) -> None:
        """Accepted for compatibility; logs go to the ``rocketmq`` logger."""
        log.debug("set_log_path(%r) ignored: logs go to the 'rocketmq' logger", path)

    def set_log_level(self, level: int) -> None:
        """Sets the level of the ``rocketmq`` logger from a ``_CLogLevel`` or int."""
        log.setLevel(_LOG_LEVELS.get(int(level), logging.DEBUG))

    def set_log_file_num_and_size(self, num: int, size: int) -> None:
        """Accepted for compatibility; no log files are written."""
        log.debug("set_log_file_num_and_size(%r, %r) ignored: no log files", num, size)
