"""Bytes from the web -> text a model can read: charset detection, HTML -> markdown, pretty JSON.

HTML goes through trafilatura (keeps headings, links and tables, drops navigation and boilerplate);
html2text is used only when trafilatura finds no main content and html2text happens to be installed;
trafilatura's plain-text baseline is the last resort so a page is never silently empty.
"""

from __future__ import annotations

import codecs
import html as html_lib
import importlib
import json
import re
from typing import Any, Literal

ContentKind = Literal["html", "json", "text"]

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]{1,40})""", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
# Binary formats whose head may hold no NUL byte (a PDF starts with text objects): never read as text.
_BINARY_MAGIC = (b"%PDF-", b"GIF87a", b"GIF89a", b"\x89PNG", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"%!PS")
_TEXT_TYPES = ("application/xml", "application/javascript", "application/x-yaml", "application/yaml")


def classify(mime: str) -> ContentKind | None:
    """The reader for a media type, or None when web_fetch does not read it (images, PDFs, archives...)."""
    mime = mime.lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return "html"
    if mime in ("application/json", "text/json") or mime.endswith("+json"):
        return "json"
    if mime.startswith("text/") or mime in _TEXT_TYPES or mime.endswith("+xml"):
        return "text"
    return None


def sniff(body: bytes) -> ContentKind | None:
    """Guess the kind of an untyped body; None for binary (a NUL byte or undecodable head)."""
    head = body[:2048]
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if head.startswith(_BINARY_MAGIC):
        return None
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered:
        return "html"
    if lowered.startswith((b"{", b"[")):
        try:
            json.loads(body)
            return "json"
        except ValueError:
            return "text"
    return "text"


def _valid_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip().strip("'\""))
    except LookupError:
        return None
    # rot13, base64, zlib... are codecs but not charsets: bytes.decode() refuses them with LookupError
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _strict(body: bytes, encoding: str, *, truncated: bool) -> str | None:
    """`body` decoded strictly, except that an incomplete character at the end of a body cut by the size cap
    is dropped; None when the bytes are not in that encoding."""
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(body, final=not truncated)
    except UnicodeDecodeError:
        return None


def decode(body: bytes, *, charset: str | None, kind: ContentKind, truncated: bool = False) -> tuple[str, str]:
    """Decode with the BOM, then UTF-8 when the bytes are non-ASCII UTF-8 (a declared legacy charset is then
    wrong: real Latin-1 or cp1252 text is practically never valid UTF-8), then the declared charset (header,
    else `<meta charset>`) when the bytes fit it, then UTF-8, then detection."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, errors="replace"), encoding
    declared = _valid_codec(charset)
    if declared is None and kind == "html":
        match = _META_CHARSET.search(body[:4096])
        declared = _valid_codec(match.group(1).decode("ascii")) if match else None
    utf8 = _strict(body, "utf-8", truncated=truncated)
    if utf8 is not None and (declared is None or not body.isascii()):
        return utf8, "utf-8"
    if declared is not None:
        text = _strict(body, declared, truncated=truncated)
        if text is not None:
            return text, declared
    encoding = _detect(body[:200_000])
    return body.decode(encoding, errors="replace"), encoding


def _detect(sample: bytes) -> str:
    """charset_normalizer's best guess; among guesses it rates equally, cp1252 (the web's usual legacy charset):
    its tie order otherwise turns French "crème" into cp1250's "crčme"."""
    from charset_normalizer import from_bytes

    results = from_bytes(sample)
    best = results.best()
    if best is None:
        return "cp1252"
    tied = {m.encoding for m in results if (m.chaos, m.coherence) == (best.chaos, best.coherence)}
    return "cp1252" if "cp1252" in tied else best.encoding


def html_title(document: str) -> str:
    match = _TITLE.search(document[:200_000])
    if not match:
        return ""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", match.group(1))).split())[:300]


def html_to_markdown(document: str, *, url: str) -> str:
    import trafilatura

    text = trafilatura.extract(
        document, url=url, output_format="markdown", include_links=True, include_tables=True,
        include_formatting=True, include_comments=False, favor_recall=True, deduplicate=False,
    )
    if text and text.strip():
        return text.strip()
    fallback = _html2text(document)
    if fallback:
        return fallback
    return (trafilatura.html2txt(document) or "").strip()


def _html2text(document: str) -> str:
    try:
        module: Any = importlib.import_module("html2text")
    except ImportError:
        return ""
    converter = module.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    return str(converter.handle(document)).strip()


def pretty_json(text: str) -> tuple[str, bool]:
    """Indented JSON, or the text unchanged (and False) when it does not parse."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), True
    except ValueError:
        return text, False
