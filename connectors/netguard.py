"""Outbound safety: the SIS URL is typed by users, so refuse internal destinations (SSRF).

Each connection resolves the host once, checks every address, and connects only to the
checked addresses; the hostname stays on the connection, so Host, SNI and certificate checks
are unchanged. A pre-check in the adapter also covers each redirect hop and proxied requests.
"""
import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as u3connection

from .errors import ConnectorError

ALLOWLIST_SETTING = "PORTAL_OUTBOUND_ALLOWLIST"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedDestination(ConnectorError):
    """The SIS URL (or a redirect) points at an address the portal must not call."""


@dataclass(frozen=True)
class OutboundPolicy:
    """Which destinations may be called; the default refuses everything but the public internet."""

    allow_private: bool = False   # every non-public address (private, link-local, reserved, ...)
    allow_loopback: bool = False  # 127.0.0.0/8 and ::1 (the sandbox SIS in development and tests)
    allowlist: tuple[str, ...] = ()  # host names (exact, or ".example.org" for sub-domains) or CIDRs

    def __post_init__(self):
        object.__setattr__(self, "allowlist", tuple(self.allowlist))
        parse_allowlist(self.allowlist)  # refuse a typo at start-up, not at the first sync

    @property
    def is_permissive(self) -> bool:
        return self.allow_private and self.allow_loopback


def parse_allowlist(entries) -> tuple[tuple[str, ...], tuple[Network, ...]]:
    """(host names, networks) from entries; ValueError names an entry that is neither."""
    hosts, networks = [], []
    for raw in entries:
        entry = str(raw).strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        name = entry.lstrip(".")
        if not name or any(not part or not all(c.isalnum() or c in "-_" for c in part)
                           for part in name.split(".")):
            raise ValueError(f"{ALLOWLIST_SETTING} entry {raw!r} is neither a host name nor an "
                             "address range such as 10.20.0.0/16.")
        hosts.append(entry)
    return tuple(hosts), tuple(networks)


PERMISSIVE = OutboundPolicy(allow_private=True, allow_loopback=True)


def split_setting(value: str) -> tuple[str, ...]:
    """The comma-separated setting as a tuple of entries."""
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


def _host_allowed(host: str, hosts: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts)


def classify(address: str) -> str:
    """What kind of internal address this is, or "" for a public one."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.is_loopback:
        return "loopback address"
    if ip.is_unspecified:
        return "unspecified address"
    if ip.is_link_local:
        return "link-local address (such as the cloud metadata service)"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_reserved:
        return "reserved address"
    if ip.is_private:
        return "private network address"
    if not ip.is_global:
        return "reserved address"
    return ""


def check_address(policy: OutboundPolicy, host: str, address: str) -> None:
    """Raise BlockedDestination unless the policy lets us connect to `address` for `host`."""
    kind = classify(address)
    if not kind:
        return
    hosts, networks = parse_allowlist(policy.allowlist)
    ip = ipaddress.ip_address(address.split("%")[0])
    if _host_allowed(host, hosts) or any(ip.version == n.version and ip in n for n in networks):
        return
    if kind == "loopback address" and policy.allow_loopback:
        return
    if kind != "loopback address" and policy.allow_private:
        return
    named = "" if host == address else f" {host}"
    raise BlockedDestination(
        f"The SIS URL{named} points to a {kind} ({address}). The portal only connects to SIS servers "
        f"on the public internet; if your SIS is on-premises, ask the portal operator to add it to "
        f"{ALLOWLIST_SETTING}.", url=host)


def resolve(host: str, port: int) -> list[tuple]:
    """getaddrinfo for TCP (a seam for tests); the answers are what we check and connect to."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def checked_addresses(policy: OutboundPolicy, host: str, port: int) -> list[str]:
    """Resolve once and check every answer; one bad answer refuses the host (DNS tricks)."""
    host = host.strip("[]")
    addresses = []
    for _family, _type, _proto, _name, sockaddr in resolve(host, port):
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    for address in addresses:
        check_address(policy, host, address)
    return addresses


def check_url(policy: OutboundPolicy, url: str) -> None:
    """Pre-check a URL's host (each request and redirect hop); DNS failures are left to the connect."""
    parts = urlsplit(url)
    if not parts.hostname or policy.is_permissive:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        checked_addresses(policy, parts.hostname, port)
    except (socket.gaierror, UnicodeError):
        return


class _GuardedConnectionMixin:
    policy: OutboundPolicy = PERMISSIVE

    def _new_conn(self):
        """Connect only to addresses checked just now: no second DNS lookup can swap them."""
        try:
            addresses = checked_addresses(self.policy, self._dns_host, self.port)
        except (socket.gaierror, UnicodeError) as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error = None
        for address in addresses:
            try:
                return u3connection.create_connection((address, self.port), self.timeout,
                                                      source_address=self.source_address,
                                                      socket_options=self.socket_options)
            except TimeoutError as exc:
                error = ConnectTimeoutError(self, f"Connection to {self.host} timed out. "
                                                  f"(connect timeout={self.timeout})")
                error.__cause__ = exc
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
        raise error or NewConnectionError(self, "Failed to establish a new connection: no address")


@lru_cache(maxsize=32)
def _pool_classes(policy: OutboundPolicy) -> dict:
    http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), {"policy": policy})
    https_conn = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection), {"policy": policy})
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections obey an OutboundPolicy."""

    def __init__(self, policy: OutboundPolicy, **kwargs):
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.policy)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = _pool_classes(self.policy)  # the proxy must be allowed too
        return manager

    def send(self, request, *args, **kwargs):
        check_url(self.policy, request.url)  # every hop, redirects included, before any connection
        return super().send(request, *args, **kwargs)


def guard_session(session, policy: OutboundPolicy | None) -> None:
    """Mount the guard on a requests Session; None or a permissive policy leaves it as it is."""
    if policy is None or policy.is_permissive:
        return
    for prefix in ("http://", "https://"):
        session.mount(prefix, GuardedAdapter(policy))
