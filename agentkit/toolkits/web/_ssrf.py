"""SSRF guard: decide which addresses a model-chosen URL may reach, and pin the connection to them.

A URL is checked in three steps: its shape (http/https only, no userinfo, a sane port), its host (IP literals
in every notation `inet_aton` accepts are normalised first, so `0x7f.1` is seen as `127.0.0.1`), and then
every address the name resolves to. The fetcher connects to the checked address itself (never re-resolving
the name), so a DNS answer cannot change between the check and the connection (DNS rebinding).

Private, loopback, link-local, multicast, reserved, unspecified, shared (CGNAT) and cloud-metadata addresses
are refused, including IPv4 addresses carried inside IPv6 (mapped, compatible, NAT64, 6to4, Teredo). An
allowlist of host names, IPs or CIDRs (each optionally with a port) lets tests and intranets through.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from ..._errors import AgentkitError, UserError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class UnsafeUrlError(AgentkitError):
    """A URL was refused before any connection was made: bad scheme, userinfo, or a non-public address."""


# Addresses cloud providers serve instance credentials on; named in refusals so the reason is plain.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "169.254.169.253", "100.100.100.200", "192.0.0.192",
              "fd00:ec2::254", "fd00:ec2::23")
)
METADATA_NAMES: frozenset[str] = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal",
     "metadata.azure.com", "metadata.packet.net"}
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # CGNAT; not "private" in the stdlib's sense, still not public
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_HOST_CHARS = re.compile(r"^[a-z0-9.\-_]+$")


def parse_ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """Parse `host` the way inet_aton does: 1-4 dot-separated parts, each decimal, octal (0...) or hex (0x...).

    Returns None when the host is not a numeric IPv4 form at all. Raises UnsafeUrlError for hosts that look
    numeric but are malformed (`08.1`, `1.2.3.4.5`, `256.1.1.1`): resolvers disagree on those.
    """
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if not labels or not _NUMERIC_LABEL.match(labels[-1]):
        return None  # a real host name: its last label (the TLD) is never numeric
    if len(labels) > 4 or not all(_IPV4_PART.fullmatch(p) for p in labels):
        raise UnsafeUrlError(f"host {host!r} looks like a numeric IP address but is malformed; refused")
    values = []
    for part in labels:
        if part[:2].lower() == "0x":
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *leading, last = values
    if any(v > 255 for v in leading) or last >= 1 << (8 * (4 - len(leading))):
        raise UnsafeUrlError(f"host {host!r} is a numeric IP address out of range; refused")
    number = 0
    for v in leading:
        number = number << 8 | v
    number = number << (8 * (4 - len(leading))) | last
    return ipaddress.IPv4Address(number)


def parse_ip_literal(host: str) -> IPAddress | None:
    """An IP address written in `host` (brackets, IPv6 and every IPv4 notation), or None for a name."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if "%" in host:
            raise UnsafeUrlError(f"host {host!r} carries an IPv6 zone id; refused")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise UnsafeUrlError(f"host {host!r} is not a valid IPv6 address; refused") from None
    return parse_ipv4_literal(host)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if any(ip in net for net in _NAT64):
        return "NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    if ip.teredo is not None:
        return "Teredo", ip.teredo[1]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return "IPv4-compatible", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` must not be reached from a model-chosen URL, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            kind, v4 = embedded
            inner = blocked_reason(v4)
            if inner is not None:
                return f"{kind} IPv6 address carrying {v4}: {inner}"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    for hit, reason in checks:
        if hit:
            return reason
    return None


@dataclass(frozen=True)
class AllowRule:
    """One allowlist entry: a host name or a network, optionally limited to one port."""

    host: str | None
    network: IPNetwork | None
    port: int | None

    def matches_name(self, host: str, port: int) -> bool:
        return self.host is not None and self.host == host and self.port in (None, port)

    def matches_ip(self, ip: IPAddress, port: int) -> bool:
        return self.network is not None and ip in self.network and self.port in (None, port)


def parse_allow_rule(entry: str) -> AllowRule:
    """`example.test`, `example.test:8080`, `127.0.0.1`, `127.0.0.1:8080`, `10.0.0.0/8`, `[::1]:8080`, `fd00::/8`."""
    text = entry.strip().lower()
    port: int | None = None
    if text.startswith("["):
        inner, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _parse_port(entry, rest[1:])
        elif rest:
            raise UserError(f"allowlist entry {entry!r}: expected '[ipv6]' or '[ipv6]:port'")
        text = inner
    elif text.count(":") == 1:
        text, port_text = text.split(":")
        port = _parse_port(entry, port_text)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        network = None
    if network is not None:
        return AllowRule(host=None, network=network, port=port)
    host = text.rstrip(".")
    if not host or not _HOST_CHARS.match(host) or "/" in host:
        raise UserError(f"allowlist entry {entry!r} is neither a host name, an IP address nor a CIDR network")
    return AllowRule(host=host, network=None, port=port)


def _parse_port(entry: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UserError(f"allowlist entry {entry!r}: the port must be a number from 1 to 65535")
    return int(text)


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every A/AAAA address of `host` (the system resolver, /etc/hosts included). Tests replace this."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for family, *_rest, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


@dataclass(frozen=True)
class CheckedTarget:
    """A URL that passed the guard, with the addresses the connection must use (in order)."""

    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


class UrlGuard:
    """Checks URLs before any connection; see the module docstring for the rules."""

    def __init__(
        self, *, allow: Sequence[str] = (), resolver: Resolver | None = None, dns_timeout: float = 5.0,
    ) -> None:
        self.rules = [parse_allow_rule(entry) for entry in allow]
        self._resolver = resolver
        self.dns_timeout = dns_timeout

    def parse(self, raw: str | httpx.URL) -> httpx.URL:
        """Shape checks that need no DNS: scheme, userinfo, host characters, port."""
        try:
            url = raw if isinstance(raw, httpx.URL) else httpx.URL(raw.strip())
        except httpx.InvalidURL as exc:
            raise UnsafeUrlError(f"{str(raw)[:200]!r} is not a valid URL ({exc})") from None
        if url.scheme not in ("http", "https"):
            shown = url.scheme or "(none)"
            raise UnsafeUrlError(f"only http and https URLs can be fetched; got scheme {shown!r}")
        if url.userinfo:
            raise UnsafeUrlError("URLs with credentials (user:password@) are refused")
        if not url.raw_host:
            raise UnsafeUrlError(f"{str(url)[:200]!r} has no host")
        if url.port is not None and not 0 < url.port < 65536:
            raise UnsafeUrlError(f"port {url.port} is out of range")
        host = url.raw_host.decode("ascii").lower()
        if ":" not in host and not _HOST_CHARS.match(host):
            raise UnsafeUrlError(f"host {host!r} has characters no DNS name has (percent-encoding?); refused")
        return url

    async def check(self, raw: str | httpx.URL) -> CheckedTarget:
        """Return the addresses `raw` may be fetched from, or raise UnsafeUrlError saying why not."""
        url = self.parse(raw)
        host = url.raw_host.decode("ascii").lower()
        port = url.port or (443 if url.scheme == "https" else 80)
        literal = parse_ip_literal(host)
        if literal is not None:
            self._check_address(literal, port, shown=host, literal=True)
            return CheckedTarget(url=url, host=host, port=port, addresses=(literal,))
        name = host.rstrip(".")
        name_allowed = any(rule.matches_name(name, port) for rule in self.rules)
        if not name_allowed:
            if name == "localhost" or name.endswith(".localhost"):
                raise UnsafeUrlError(f"host {name!r} is a loopback name; refused")
            if name in METADATA_NAMES:
                raise UnsafeUrlError(f"host {name!r} is a cloud metadata service; refused")
        addresses = await self._resolve(name, port)
        if not name_allowed:
            for ip in addresses:
                self._check_address(ip, port, shown=name)
        return CheckedTarget(url=url, host=host, port=port, addresses=tuple(addresses))

    def _check_address(self, ip: IPAddress, port: int, *, shown: str, literal: bool = False) -> None:
        if any(rule.matches_ip(ip, port) for rule in self.rules):
            return
        reason = blocked_reason(ip)
        if reason is not None:
            if shown.strip("[]") == str(ip):
                where = str(ip)
            else:
                where = f"{shown} (that is {ip})" if literal else f"{shown} resolves to {ip}"
            raise UnsafeUrlError(f"{where}, {reason}; refused (web_fetch reaches public addresses only)")

    async def _resolve(self, name: str, port: int) -> list[IPAddress]:
        resolver = self._resolver or resolve_host
        try:
            async with asyncio.timeout(self.dns_timeout):
                addresses = await resolver(name, port)
        except TimeoutError:
            raise UnsafeUrlError(f"resolving {name!r} took longer than {self.dns_timeout:g} s") from None
        except (OSError, UnicodeError) as exc:
            raise UnsafeUrlError(f"cannot resolve {name!r}: {exc}") from None
        if not addresses:
            raise UnsafeUrlError(f"{name!r} has no IPv4 or IPv6 address")
        return addresses
