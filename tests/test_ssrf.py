"""SSRF corpus for web_fetch: IP literals in every notation, names resolving to private addresses, redirects.

Cases that point at this machine's loopback go through the real fetcher with a canary HTTP server listening
on 127.0.0.1: a case passes only if the fetch is refused *and* the canary saw no request. Cases naming other
private addresses (10/8, metadata...) are checked by the guard alone, so a broken guard would never make the
tests connect outside loopback. Names resolving to private addresses use /etc/hosts (localhost, runsc, vm:
read, never modified) or a fake resolver patched into the guard's module (no DNS is reachable here).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from agentkit import UserError
from agentkit.toolkits.web import FetchConfig, Fetcher, UnsafeUrlError, UrlGuard, _ssrf, blocked_reason
from agentkit.toolkits.web._ssrf import IPAddress, parse_allow_rule, parse_ip_literal

from ._web_server import Handler, LocalServer, serve

pytestmark = pytest.mark.server

FAKE_DNS: dict[str, list[str]] = {
    "rebind.example": ["127.0.0.1"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
    "v6loop.example": ["::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "internal.example": ["10.1.2.3"],
    "meta.example": ["169.254.169.254"],
    "v6meta.example": ["fd00:ec2::254"],
    "cgnat.example": ["100.64.1.1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "public.example": ["93.184.216.34"],
}
resolved: list[str] = []


async def fake_resolve(host: str, port: int) -> list[IPAddress]:
    resolved.append(host)
    if host in FAKE_DNS:
        return [ipaddress.ip_address(a) for a in FAKE_DNS[host]]
    return await REAL_RESOLVE(host, port)  # localhost, runsc, vm: /etc/hosts


REAL_RESOLVE = _ssrf.resolve_host


@pytest.fixture(autouse=True)
def _fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    resolved.clear()
    monkeypatch.setattr(_ssrf, "resolve_host", fake_resolve)


def _secret(handler: Handler) -> None:
    handler.reply("the canary's secret", "text/plain")


@pytest.fixture(scope="module")
def canary() -> Iterator[LocalServer]:
    with serve({"/": _secret, "/secret": _secret, "/latest/meta-data/": _secret}) as server:
        yield server


def _go(handler: Handler) -> None:
    target = handler.path.split("to=", 1)[1]
    from urllib.parse import unquote

    handler.redirect(unquote(target))


@pytest.fixture(scope="module")
def allowed() -> Iterator[LocalServer]:
    with serve({"/go": _go, "/ok": lambda h: h.reply("allowed page", "text/plain")}) as server:
        yield server


# -- 1. URLs that reach this machine: refused, and the canary never sees a request -----------------------
LOOPBACK_CASES = [
    ("plain", "http://127.0.0.1:{port}/secret"),
    ("localhost", "http://localhost:{port}/secret"),
    ("localhost-upper-dot", "http://LOCALHOST.:{port}/secret"),
    ("sub.localhost", "http://foo.localhost:{port}/secret"),
    ("decimal", "http://2130706433:{port}/secret"),
    ("octal-dotted", "http://0177.0.0.1:{port}/secret"),
    ("octal-full", "http://017700000001:{port}/secret"),
    ("hex-full", "http://0x7f000001:{port}/secret"),
    ("hex-short", "http://0x7f.1:{port}/secret"),
    ("hex-dotted", "http://0x7f.0x0.0x0.0x1:{port}/secret"),
    ("short-2", "http://127.1:{port}/secret"),
    ("short-3", "http://127.0.1:{port}/secret"),
    ("octal-short", "http://0177.1:{port}/secret"),
    ("trailing-dot", "http://127.0.0.1.:{port}/secret"),
    ("other-loopback", "http://127.0.0.2:{port}/secret"),
    ("zero", "http://0:{port}/secret"),
    ("zeros", "http://0.0.0.0:{port}/secret"),
    ("ipv6-loopback", "http://[::1]:{port}/secret"),
    ("ipv6-unspecified", "http://[::]:{port}/secret"),
    ("ipv6-mapped", "http://[::ffff:127.0.0.1]:{port}/secret"),
    ("ipv6-mapped-hex", "http://[::ffff:7f00:1]:{port}/secret"),
    ("ipv6-mapped-long", "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/secret"),
    ("ipv6-compatible", "http://[::127.0.0.1]:{port}/secret"),
    ("nat64", "http://[64:ff9b::127.0.0.1]:{port}/secret"),
    ("nat64-hex", "http://[64:ff9b::7f00:1]:{port}/secret"),
    ("6to4", "http://[2002:7f00:1::]:{port}/secret"),
    ("zone-id", "http://[fe80::1%25lo]:{port}/secret"),
    ("zone-id-loopback", "http://[::1%25eth0]:{port}/secret"),
    ("https", "https://127.0.0.1:{port}/secret"),
    ("etc-hosts-runsc", "http://runsc:{port}/secret"),
    ("etc-hosts-vm", "http://vm:{port}/secret"),
    ("dns-rebind-name", "http://rebind.example:{port}/secret"),
    ("dns-mixed-answers", "http://mixed.example:{port}/secret"),
    ("dns-v6-loopback", "http://v6loop.example:{port}/secret"),
    ("dns-v6-mapped", "http://mapped.example:{port}/secret"),
    ("userinfo-at-loopback", "http://evil.example@127.0.0.1:{port}/secret"),
    ("userinfo-hides-host", "http://127.0.0.1:{port}@evil.example/secret"),
    ("userinfo-backslash", "http://evil.example\\@127.0.0.1:{port}/secret"),
    ("percent-encoded-host", "http://%31%32%37.0.0.1:{port}/secret"),
    ("malformed-numeric", "http://127.0.0.1.1:{port}/secret"),
    ("bad-octal", "http://0189.0.0.1:{port}/secret"),
    ("scheme-file", "file:///etc/passwd"),
    ("scheme-gopher", "gopher://127.0.0.1:{port}/_secret"),
    ("scheme-ftp", "ftp://127.0.0.1:{port}/secret"),
    ("scheme-dict", "dict://127.0.0.1:{port}/secret"),
    ("scheme-data", "data:text/plain,secret"),
    ("no-host", "http:///secret"),
]


@pytest.mark.parametrize(("case", "template"), LOOPBACK_CASES, ids=[c for c, _ in LOOPBACK_CASES])
async def test_loopback_corpus_refused_and_canary_untouched(canary: LocalServer, case: str, template: str) -> None:
    fetcher = Fetcher(FetchConfig(timeout=2, total_timeout=5))
    with pytest.raises(UnsafeUrlError):
        await fetcher.fetch(template.format(port=canary.port))
    assert canary.requests == [], f"{case}: the canary was reached"


# -- 2. Other private/metadata targets: the guard refuses them before any connection -----------------------
GUARD_CASES = [
    ("rfc1918-10", "http://10.0.0.1/"),
    ("rfc1918-172", "http://172.16.0.1/"),
    ("rfc1918-192", "http://192.168.1.1/"),
    ("metadata", "http://169.254.169.254/latest/meta-data/"),
    ("metadata-decimal", "http://2852039166/latest/meta-data/"),
    ("metadata-hex", "http://0xa9fea9fe/"),
    ("metadata-octal", "http://0251.0376.0251.0376/"),
    ("metadata-mapped", "http://[::ffff:169.254.169.254]/"),
    ("metadata-nat64", "http://[64:ff9b::a9fe:a9fe]/"),
    ("metadata-aws-v6", "http://[fd00:ec2::254]/"),
    ("metadata-google-name", "http://metadata.google.internal/computeMetadata/v1/"),
    ("metadata-alibaba", "http://100.100.100.200/"),
    ("ecs-credentials", "http://169.254.170.2/v2/credentials"),
    ("cgnat", "http://100.64.0.1/"),
    ("link-local", "http://169.254.1.1/"),
    ("multicast", "http://224.0.0.1/"),
    ("broadcast", "http://255.255.255.255/"),
    ("reserved", "http://240.0.0.1/"),
    ("benchmarking", "http://198.18.0.1/"),
    ("ipv6-ula", "http://[fc00::1]/"),
    ("ipv6-link-local", "http://[fe80::1]/"),
    ("ipv6-multicast", "http://[ff02::1]/"),
    ("teredo-loopback", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/"),
    ("dns-private", "http://internal.example/"),
    ("dns-metadata", "http://meta.example/"),
    ("dns-metadata-v6", "http://v6meta.example/"),
    ("dns-cgnat", "http://cgnat.example/"),
    ("dns-nat64-metadata", "http://nat64.example/"),
    ("unresolvable", "http://no-such-host.invalid/"),
    ("port-out-of-range", "http://93.184.216.34:99999/"),
]


@pytest.mark.parametrize(("case", "url"), GUARD_CASES, ids=[c for c, _ in GUARD_CASES])
async def test_private_corpus_refused_by_guard(case: str, url: str) -> None:
    with pytest.raises(UnsafeUrlError):
        await UrlGuard().check(url)


# -- 3. Redirects from an allowlisted server: every hop is checked again ------------------------------------
REDIRECT_CASES = [
    ("to-loopback-other-port", "http://127.0.0.1:{port}/secret"),
    ("to-localhost", "http://localhost:{port}/secret"),
    ("to-hex", "http://0x7f.1:{port}/secret"),
    ("to-decimal", "http://2130706433:{port}/secret"),
    ("to-ipv6-loopback", "http://[::1]:{port}/secret"),
    ("to-ipv6-mapped", "http://[::ffff:127.0.0.1]:{port}/secret"),
    ("to-dns-rebind", "http://rebind.example:{port}/secret"),
    ("to-etc-hosts", "http://runsc:{port}/secret"),
    ("scheme-relative", "//127.0.0.1:{port}/secret"),
    ("to-metadata", "http://169.254.169.254/latest/meta-data/"),
    ("to-private", "http://10.0.0.1/"),
    ("to-file", "file:///etc/passwd"),
    ("to-gopher", "gopher://127.0.0.1:{port}/_secret"),
    ("to-userinfo", "http://user:pw@127.0.0.1:{port}/secret"),
]


@pytest.mark.parametrize(("case", "template"), REDIRECT_CASES, ids=[c for c, _ in REDIRECT_CASES])
async def test_redirect_corpus_refused_even_from_allowlisted_host(
    canary: LocalServer, allowed: LocalServer, case: str, template: str,
) -> None:
    fetcher = Fetcher(FetchConfig(allow=[f"127.0.0.1:{allowed.port}"], timeout=2, total_timeout=5))
    before = allowed.hits("/go")
    target = template.format(port=canary.port)
    with pytest.raises(UnsafeUrlError):
        await fetcher.fetch(allowed.url("/go?to=" + quote(target, safe="")))
    assert allowed.hits("/go") == before + 1  # the first, allowlisted hop really ran
    assert canary.requests == [], f"{case}: the redirect reached the canary"


# -- controls: the guard is not simply refusing everything ---------------------------------------------------
async def test_public_addresses_pass_the_guard() -> None:
    guard = UrlGuard()
    literal = await guard.check("http://93.184.216.34/page")
    assert literal.addresses == (ipaddress.ip_address("93.184.216.34"),)
    named = await guard.check("https://Public.Example/a?b=c")
    assert named.host == "public.example"
    assert named.port == 443
    assert [str(a) for a in named.addresses] == ["93.184.216.34"]
    assert (await guard.check("http://[2606:4700::1111]/")).addresses == (ipaddress.ip_address("2606:4700::1111"),)


async def test_allowlisted_server_and_same_host_redirect_work(allowed: LocalServer) -> None:
    fetcher = Fetcher(FetchConfig(allow=[f"127.0.0.1:{allowed.port}"]))
    page = await fetcher.fetch(allowed.url("/go?to=" + quote("/ok", safe="")))
    assert page.text == "allowed page"
    assert page.redirects == [allowed.url("/go?to=%2Fok")]


async def test_allowlist_by_port_cidr_and_name(allowed: LocalServer) -> None:
    assert (await UrlGuard(allow=["127.0.0.0/8"]).check("http://127.0.0.5:9/")).addresses
    with pytest.raises(UnsafeUrlError):
        await UrlGuard(allow=["127.0.0.1:1234"]).check("http://127.0.0.1:1235/")
    target = await UrlGuard(allow=["localhost"]).check(f"http://localhost:{allowed.port}/ok")
    assert str(target.addresses[0]) == "127.0.0.1"
    assert (await UrlGuard(allow=["[::1]:80"]).check("http://[::1]/")).port == 80
    for bad in ("300.1.1.1/8", "host:99999", "a b", "[::1]x", ""):
        with pytest.raises(UserError):
            parse_allow_rule(bad)


async def test_connection_is_pinned_to_the_checked_address(
    monkeypatch: pytest.MonkeyPatch, allowed: LocalServer,
) -> None:
    """The name is resolved once per hop, by the guard; the connection goes to that IP with the original Host."""
    answers = iter([["127.0.0.1"], ["10.66.66.66"]])  # a second lookup would get another answer (rebinding)
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(_ssrf, "resolve_host", rebinding)
    fetcher = Fetcher(FetchConfig(allow=["pinned.test"]))
    page = await fetcher.fetch(f"http://pinned.test:{allowed.port}/ok")
    assert page.text == "allowed page"
    assert calls == ["pinned.test"]
    assert allowed.requests[-1].headers["host"] == f"pinned.test:{allowed.port}"


async def test_proxy_environment_is_ignored(
    monkeypatch: pytest.MonkeyPatch, canary: LocalServer, allowed: LocalServer,
) -> None:
    """A proxy would resolve names itself, defeating the pinning: web_fetch never uses one."""
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(variable, canary.url("/"))
    page = await Fetcher(FetchConfig(allow=[f"127.0.0.1:{allowed.port}"])).fetch(allowed.url("/ok"))
    assert page.text == "allowed page"
    assert canary.requests == []


def test_ip_literal_notations_normalise() -> None:
    expected = ipaddress.ip_address("127.0.0.1")
    for spelling in ("2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001", "017700000001", "127.0.0.1."):
        assert parse_ip_literal(spelling) == expected, spelling
    assert parse_ip_literal("1.2.3") == ipaddress.ip_address("1.2.0.3")
    assert parse_ip_literal("example.com") is None
    assert parse_ip_literal("[::1]") == ipaddress.ip_address("::1")
    assert "IPv4-mapped" in (blocked_reason(ipaddress.ip_address("::ffff:10.0.0.1")) or "")
    assert blocked_reason(ipaddress.ip_address("169.254.169.254")) == "a cloud metadata address"
    assert blocked_reason(ipaddress.ip_address("8.8.8.8")) is None


def test_corpus_size() -> None:
    """The issue asks for at least 40 cases; print the counts for the report."""
    total = len(LOOPBACK_CASES) + len(GUARD_CASES) + len(REDIRECT_CASES)
    print(f"SSRF corpus: {len(LOOPBACK_CASES)} loopback (canary), {len(GUARD_CASES)} guard-only, "
          f"{len(REDIRECT_CASES)} redirect = {total} cases")
    assert total >= 40
