"""web_fetch edge cases found by a defect hunt: decompression bombs through stacked or unbounded encodings,
UTF-8 bodies cut mid-character by the size cap, pages whose declared charset is wrong, untyped PDFs."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import pytest

from agentkit.toolkits.web import UnsupportedContentError
from agentkit.toolkits.web._extract import decode, sniff

from ._web_server import LocalServer, serve
from .test_web_fetch import fetcher_for

pytestmark = pytest.mark.server


def _stacked_gzip_bomb(size: int) -> bytes:
    """`size` zero bytes gzipped twice: a couple of kB on the wire, `size` bytes once both layers are undone."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    layer = b"".join(inner.compress(b"\0" * 1_000_000) for _ in range(size // 1_000_000)) + inner.flush()
    return gzip.compress(layer, 9)


DOUBLE_BOMB = _stacked_gzip_bomb(50_000_000)
CJK = "日本語のテキストです。" * 400  # 3 bytes per character in UTF-8
FRENCH = "Le café crème coûte très cher à Paris, où l'hôtel est près de la forêt. " * 3

ROUTES = {
    "/gzip-twice": lambda h: h.reply(DOUBLE_BOMB, "text/plain", headers={"Content-Encoding": "gzip, gzip"}),
    "/brotli": lambda h: h.reply(b"\x1b\xff\xff\x0f" * 64, "text/plain", headers={"Content-Encoding": "br"}),
    "/zstd": lambda h: h.reply(b"\x28\xb5\x2f\xfd" + bytes(60), "text/plain", headers={"Content-Encoding": "zstd"}),
    "/gzip-once": lambda h: h.reply(gzip.compress(b"hello " * 100), "text/plain", headers={"Content-Encoding": "gzip"}),
    "/cjk": lambda h: h.reply(CJK.encode("utf-8"), "text/plain"),
    "/utf8-says-latin1": lambda h: h.reply("Café crème brûlée".encode(), "text/plain; charset=iso-8859-1"),
    "/latin1-says-utf8": lambda h: h.reply("Café crème brûlée".encode("latin-1"), "text/plain; charset=utf-8"),
    "/latin1-untyped-charset": lambda h: h.reply(FRENCH.encode("latin-1"), "text/plain"),
    "/meta-latin1-utf8-body": lambda h: h.reply(
        "<html><head><meta charset='iso-8859-1'><title>Crème</title></head><body><p>"
        + "Un café crème, s'il vous plaît. " * 8 + "</p></body></html>", "text/html"),
    "/rot13": lambda h: h.reply(b"hello", "text/plain; charset=rot13"),
    "/meta-base64": lambda h: h.reply(b"<html><head><meta charset=base64></head><body><p>Hi there.</p></body></html>",
                                      "text/html"),
    "/pdf-untyped": lambda h: h.reply(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 20, None),
}


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with serve(ROUTES) as server:
        yield server


@pytest.mark.parametrize("path", ["/gzip-twice", "/brotli", "/zstd"])
async def test_encodings_whose_expansion_is_unbounded_are_refused_before_decoding(site: LocalServer, path: str) -> None:
    # "gzip, gzip" turns ~2 kB into 50 MB (a few kB into GBs): the size cap only applies after a whole network
    # chunk is inflated, so only one layer of gzip/deflate (at most ~1000x) keeps memory bounded.
    with pytest.raises(UnsupportedContentError, match="compressed with"):
        await fetcher_for(site, max_bytes=65536).fetch(site.url(path))
    assert site.requests[-1].headers["accept-encoding"] == "gzip, deflate"


async def test_one_layer_of_gzip_still_reads(site: LocalServer) -> None:
    page = await fetcher_for(site).fetch(site.url("/gzip-once"))
    assert page.text == "hello " * 100


async def test_utf8_body_cut_mid_character_by_the_cap_stays_utf8(site: LocalServer) -> None:
    page = await fetcher_for(site, max_bytes=1024).fetch(site.url("/cjk"))  # 1024 = 3 * 341 + 1: mid-character
    assert page.truncated
    assert page.encoding == "utf-8"
    assert CJK.startswith(page.text)
    assert len(page.text) == 341


def test_decode_keeps_utf8_when_only_the_last_character_is_incomplete() -> None:
    for cut in range(1000, 1012):
        text, encoding = decode(CJK.encode("utf-8")[:cut], charset=None, kind="text", truncated=True)
        assert (encoding, CJK.startswith(text)) == ("utf-8", True), cut


async def test_declared_charset_that_does_not_match_the_bytes(site: LocalServer) -> None:
    fetcher = fetcher_for(site)
    assert (await fetcher.fetch(site.url("/utf8-says-latin1"))).text == "Café crème brûlée"  # not "CafÃ© crÃ¨me"
    assert (await fetcher.fetch(site.url("/latin1-says-utf8"))).text == "Café crème brûlée"  # not "Caf� cr�me"
    undeclared = await fetcher.fetch(site.url("/latin1-untyped-charset"))
    assert (undeclared.text, undeclared.encoding) == (FRENCH, "cp1252")  # not cp1250's "crčme"
    page = await fetcher.fetch(site.url("/meta-latin1-utf8-body"))
    assert page.title == "Crème"
    assert "Un café crème, s'il vous plaît." in page.text


async def test_declared_codec_that_is_not_a_text_encoding_is_ignored(site: LocalServer) -> None:
    # "rot13", "base64", "zlib"... are codecs Python knows, but not charsets: decoding with them raised LookupError
    fetcher = fetcher_for(site)
    assert (await fetcher.fetch(site.url("/rot13"))).text == "hello"
    assert (await fetcher.fetch(site.url("/meta-base64"))).text == "Hi there."


def test_declared_charset_still_wins_when_the_bytes_agree() -> None:
    assert decode("Café".encode("cp1252"), charset="windows-1252", kind="text") == ("Café", "cp1252")
    assert decode("Ελληνικά".encode("iso-8859-7"), charset="iso-8859-7", kind="text") == ("Ελληνικά", "iso8859-7")
    assert decode("plain ascii".encode("utf-16-le"), charset="utf-16-le", kind="text")[0] == "plain ascii"


async def test_untyped_pdf_is_refused_not_read_as_text(site: LocalServer) -> None:
    assert sniff(b"%PDF-1.4\n1 0 obj\n") is None
    with pytest.raises(UnsupportedContentError, match="binary data"):
        await fetcher_for(site).fetch(site.url("/pdf-untyped"))
