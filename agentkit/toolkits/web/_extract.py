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
        return codecs.lookup(name.strip().strip("'\"")).name
    except LookupError:
        return None


def decode(body: bytes, *, charset: str | None, kind: ContentKind) -> tuple[str, str]:
    """Decode with the BOM, then the declared charset, then a `<meta charset>`, then UTF-8, then detection."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, errors="replace"), encoding
    declared = _valid_codec(charset)
    if declared is None and kind == "html":
        match = _META_CHARSET.search(body[:4096])
        declared = _valid_codec(match.group(1).decode("ascii")) if match else None
    if declared is not None:
        return body.decode(declared, errors="replace"), declared
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    encoding = best.encoding if best is not None else "cp1252"
    return body.decode(encoding, errors="replace"), encoding


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
