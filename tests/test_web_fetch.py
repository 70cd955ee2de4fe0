"""web_fetch against real HTTP(S) servers on 127.0.0.1: content types, charsets, caps, redirects, timeouts, TLS."""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentkit import Agent, UserError
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.web import (
    FetchConfig,
    Fetcher,
    FetchError,
    UnsafeUrlError,
    UnsupportedContentError,
    _ssrf,
    fetch_tool,
)
from agentkit.toolkits.web._ssrf import IPAddress

from ._web_server import Handler, LocalServer, serve

pytestmark = pytest.mark.server

ARTICLE = """<!doctype html><html><head><title>Llama facts &amp; figures</title>
<meta charset="utf-8"></head><body>
<nav><a href="/">Home</a> <a href="/shop">Shop</a> <a href="/login">Login</a></nav>
<article><h1>All about llamas</h1>
<p>Llamas are domesticated South American camelids, widely used as meat and pack animals by Andean cultures.
Read the <a href="https://example.org/llama-study">2019 llama study</a> for details on their diet and habits.</p>
<h2>Sizes</h2>
<p>An adult llama stands between 1.7 and 1.8 metres tall at the top of the head and can weigh up to 200 kg.</p>
<table><tr><th>Animal</th><th>Weight (kg)</th></tr><tr><td>Llama</td><td>200</td></tr>
<tr><td>Alpaca</td><td>65</td></tr></table>
</article><footer>Copyright 2024 Llama Corp. All rights reserved.</footer></body></html>"""


def _slow(handler: Handler) -> None:
    handler.server.owner.release.wait(10)  # answers only when the test is over
    handler.reply("too late", "text/plain")


def _trickle(handler: Handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    for _ in range(200):
        if handler.server.owner.release.wait(0.05):
            return
        handler.wfile.write(b"x")
        handler.wfile.flush()


def _huge(handler: Handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain; charset=utf-8")
    handler.send_header("Content-Length", str(64 * 131072))
    handler.end_headers()
    chunk = b"0123456789abcdef" * 8192
    for _ in range(64):
        handler.wfile.write(chunk)


BOMB = gzip.compress(b"a" * 20_000_000)

ROUTES = {
    "/article": lambda h: h.reply(ARTICLE, "text/html; charset=utf-8"),
    "/plain": lambda h: h.reply("Plain words.\nSecond line.", "text/plain"),
    "/latin1": lambda h: h.reply("Caf\xe9 cr\xe8me".encode("latin-1"), "text/plain; charset=ISO-8859-1"),
    "/meta-charset": lambda h: h.reply(
        b"<html><head><meta charset='windows-1252'><title>Caf\xe9</title></head><body><p>"
        + b"Un caf\xe9 cr\xe8me, s'il vous pla\xeet. " * 8 + b"</p></body></html>", "text/html",
    ),
    "/json": lambda h: h.reply('{"name":"llama","sizes":[1.7,1.8],"nested":{"ok":true}}', "application/json"),
    "/problem": lambda h: h.reply('{"title":"bad"}', "application/problem+json"),
    "/png": lambda h: h.reply(b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png"),
    "/pdf": lambda h: h.reply(b"%PDF-1.4 ...", "application/pdf"),
    "/untyped-binary": lambda h: h.reply(b"\x00\x01\x02\x03binary" * 10, None),
    "/untyped-html": lambda h: h.reply("<!DOCTYPE html><html><head><title>T</title></head><body><p>hi</p></body></html>", None),
    "/huge": _huge,
    "/bomb": lambda h: h.reply(BOMB, "text/plain", headers={"Content-Encoding": "gzip"}),
    "/r1": lambda h: h.redirect("/r2", status=301),
    "/r2": lambda h: h.redirect("r3", status=307),
    "/r3": lambda h: h.redirect(h.server.owner.url("/plain"), status=308),
    "/loop": lambda h: h.redirect("/loop"),
    "/no-location": lambda h: h.reply(b"", "text/plain", status=302),
    "/missing": lambda h: h.reply("gone", "text/plain", status=404),
    "/slow": _slow,
    "/trickle": _trickle,
}


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with serve(ROUTES) as server:
        yield server


def fetcher_for(site: LocalServer, **options: object) -> Fetcher:
    return Fetcher(FetchConfig.model_validate({"allow": [f"127.0.0.1:{site.port}"], **options}))


async def test_html_becomes_markdown_with_headings_links_and_tables(site: LocalServer) -> None:
    page = await fetcher_for(site).fetch(site.url("/article"))
    assert page.title == "Llama facts & figures"
    assert page.kind == "html"
    assert "# All about llamas" in page.text
    assert "## Sizes" in page.text
    assert "[2019 llama study](https://example.org/llama-study)" in page.text
    assert "| Alpaca | 65 |" in page.text
    assert "Login" not in page.text  # navigation dropped
    rendered = page.render(max_chars=10_000)
    assert rendered.startswith(f"Title: Llama facts & figures\nURL: {site.url('/article')}\n")
    assert "untrusted web data" in rendered


async def test_text_json_and_charsets(site: LocalServer) -> None:
    fetcher = fetcher_for(site)
    plain = await fetcher.fetch(site.url("/plain"))
    assert (plain.kind, plain.text) == ("text", "Plain words.\nSecond line.")
    latin = await fetcher.fetch(site.url("/latin1"))
    assert latin.text == "Café crème"
    assert latin.encoding == "iso8859-1"
    meta = await fetcher.fetch(site.url("/meta-charset"))
    assert meta.title == "Café"
    assert "Un café crème, s'il vous plaît." in meta.text
    data = await fetcher.fetch(site.url("/json"))
    assert data.kind == "json"
    assert data.text == json.dumps({"name": "llama", "sizes": [1.7, 1.8], "nested": {"ok": True}}, indent=2)
    assert (await fetcher.fetch(site.url("/problem"))).kind == "json"
    sniffed = await fetcher.fetch(site.url("/untyped-html"))
    assert (sniffed.kind, sniffed.title) == ("html", "T")


@pytest.mark.parametrize(("path", "fragment"), [
    ("/png", "serves image/png"), ("/pdf", "serves application/pdf"), ("/untyped-binary", "binary data"),
])
async def test_binary_content_is_refused(site: LocalServer, path: str, fragment: str) -> None:
    with pytest.raises(UnsupportedContentError, match=fragment):
        await fetcher_for(site).fetch(site.url(path))


async def test_huge_body_and_decompression_bomb_are_capped(site: LocalServer) -> None:
    fetcher = fetcher_for(site, max_bytes=65536)
    huge = await fetcher.fetch(site.url("/huge"))
    assert (huge.truncated, huge.bytes_read, len(huge.text)) == (True, 65536, 65536)
    assert "body cut at 65536 bytes" in huge.render(max_chars=200)
    bomb = await fetcher.fetch(site.url("/bomb"))  # 20 MB once inflated, ~20 kB on the wire
    assert (bomb.truncated, bomb.bytes_read) == (True, 65536)


async def test_render_truncates_to_max_chars(site: LocalServer) -> None:
    page = await fetcher_for(site).fetch(site.url("/article"))
    rendered = page.render(max_chars=200)
    assert "more characters not shown" in rendered
    assert len(rendered) < 200 + 600


async def test_redirect_chain_is_followed_by_hand(site: LocalServer) -> None:
    page = await fetcher_for(site).fetch(site.url("/r1"))
    assert page.final_url == site.url("/plain")
    assert page.redirects == [site.url("/r1"), site.url("/r2"), site.url("/r3")]
    assert [r.path for r in site.requests] == ["/r1", "/r2", "/r3", "/plain"]
    with pytest.raises(FetchError, match="redirected more than 2 times"):
        await fetcher_for(site, max_redirects=2).fetch(site.url("/r1"))
    with pytest.raises(FetchError, match="redirected more than 5 times"):
        await fetcher_for(site).fetch(site.url("/loop"))
    with pytest.raises(FetchError, match="without a Location header"):
        await fetcher_for(site).fetch(site.url("/no-location"))


async def test_http_errors_are_reported(site: LocalServer) -> None:
    with pytest.raises(FetchError, match="HTTP 404 Not Found"):
        await fetcher_for(site).fetch(site.url("/missing"))


async def test_slow_server_times_out(site: LocalServer) -> None:
    with pytest.raises(FetchError, match="timed out"):
        await fetcher_for(site, timeout=0.3).fetch(site.url("/slow"))


async def test_trickling_server_hits_the_total_deadline(site: LocalServer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"took longer than 0\.5 s"):
        await fetcher_for(site, timeout=5, total_timeout=0.5).fetch(site.url("/trickle"))
    assert time.monotonic() - started < 5  # not waiting for the per-read timeout (sanity, not a benchmark)


async def test_unreachable_port_is_a_clear_error(site: LocalServer) -> None:
    with serve({}) as other:
        port = other.port
    with pytest.raises(FetchError, match="cannot connect"):
        await Fetcher(FetchConfig(allow=["127.0.0.1"])).fetch(f"http://127.0.0.1:{port}/")


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv6_allowlisted_server_is_reached_with_a_bracketed_host() -> None:
    with serve({"/v6": lambda h: h.reply("over IPv6", "text/plain")}, host="::1") as server:
        page = await Fetcher(FetchConfig(allow=[f"[::1]:{server.port}"])).fetch(server.url("/v6"))
        assert page.text == "over IPv6"
        assert server.requests[-1].headers["host"] == f"[::1]:{server.port}"
    with pytest.raises(UnsafeUrlError, match="::1, a loopback address"):
        await Fetcher().fetch(server.url("/v6"))


# -- TLS: the connection is pinned to the checked IP, yet SNI and certificate checks use the name ------------
def _certificates(directory: Path, name: str) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agentkit test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_file, cert_file, key_file


async def test_https_pinned_connection_keeps_sni_and_verifies_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ca_file, cert_file, key_file = _certificates(tmp_path, "pinned.test")
    server_names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)

    def record_sni(_socket: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        server_names.append(name)

    context.sni_callback = record_sni

    async def to_loopback(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(_ssrf, "resolve_host", to_loopback)
    with serve({"/ok": lambda h: h.reply("secure llamas", "text/plain")}, tls=context) as server:
        fetcher = Fetcher(FetchConfig(allow=["pinned.test", "other.test"], ca_bundle=ca_file))
        page = await fetcher.fetch(f"https://pinned.test:{server.port}/ok")
        assert page.text == "secure llamas"
        assert server_names == ["pinned.test"]
        assert server.requests[-1].headers["host"] == f"pinned.test:{server.port}"
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            await fetcher.fetch(f"https://other.test:{server.port}/ok")  # same IP, wrong name: refused
    with pytest.raises(UserError, match="ca_bundle"):
        Fetcher(FetchConfig(ca_bundle=tmp_path / "missing.pem"))


# -- the tool, through an agent --------------------------------------------------------------------------------
async def test_web_fetch_through_an_agent_is_untrusted_and_refusals_are_errors(site: LocalServer) -> None:
    tool = fetch_tool(fetcher_for(site))
    model = ScriptedModel([
        call("web_fetch", {"url": site.url("/article"), "max_chars": 500}),
        call("web_fetch", {"url": "http://169.254.169.254/latest/meta-data/"}),
        text("Llamas weigh up to 200 kg."),
    ])
    result = await Agent(model, tools=[tool]).run("How heavy is a llama?")
    assert result.output == "Llamas weigh up to 200 kg."
    fetched, refused = [m for m in result.messages if m.role == "tool"]
    assert fetched.provenance == "untrusted"
    assert not fetched.is_error
    assert fetched.content.startswith("Title: Llama facts & figures\nURL: ")
    assert refused.is_error
    assert "UnsafeUrlError" in refused.content
    assert "cloud metadata address" in refused.content
    model.assert_all_used()


def test_toolkit_from_the_registry(site: LocalServer) -> None:
    tools = load_toolkit("web", {"search": {"backend": "static", "results": []}, "fetch": {"allow": ["127.0.0.1"]}})
    assert [(t.name, t.effect, t.output_provenance) for t in tools] == [
        ("web_search", "read", "untrusted"), ("web_fetch", "read", "untrusted"),
    ]
    assert tools[1].parameters_schema["properties"]["url"]["maxLength"] == 2000
    with pytest.raises(UserError, match=r"fetch\.allow"):
        load_toolkit("web", {"fetch": {"allow": ["not a host"]}})
    with pytest.raises(UserError, match="Extra inputs"):
        load_toolkit("web", {"fetch": {"follow": True}})


async def test_unsafe_url_error_is_raised_before_any_connection() -> None:
    with pytest.raises(UnsafeUrlError, match="only http and https"):
        await Fetcher().fetch("javascript:alert(1)")
