"""The "web" toolkit: `web_search` (ddgs, SearxNG or static results) and `web_fetch` (SSRF-guarded httpx).

    from agentkit.toolkits.web import Config, toolkit
    tools = toolkit(Config.model_validate({"search": {"backend": "searxng", "base_url": "http://127.0.0.1:8888"}}))

Errors:

    AgentkitError
    ├── UnsafeUrlError            the URL was refused before connecting (scheme, userinfo, non-public address)
    ├── FetchError                the page could not be fetched or read
    │   └── UnsupportedContentError   images, PDFs, archives, binaries
    └── SearchError               the search backend failed
"""

from __future__ import annotations

from ._fetch import FetchConfig, FetchedPage, Fetcher, FetchError, UnsupportedContentError
from ._search import (
    DdgsBackend,
    SearchBackend,
    SearchError,
    SearchResult,
    SearxngBackend,
    StaticBackend,
    render_results,
)
from ._ssrf import CheckedTarget, UnsafeUrlError, UrlGuard, blocked_reason, parse_ip_literal
from ._toolkit import Config, SearchConfig, fetch_tool, search_tool, toolkit

__all__ = [
    "CheckedTarget",
    "Config",
    "DdgsBackend",
    "FetchConfig",
    "FetchError",
    "FetchedPage",
    "Fetcher",
    "SearchBackend",
    "SearchConfig",
    "SearchError",
    "SearchResult",
    "SearxngBackend",
    "StaticBackend",
    "UnsafeUrlError",
    "UnsupportedContentError",
    "UrlGuard",
    "blocked_reason",
    "fetch_tool",
    "parse_ip_literal",
    "render_results",
    "search_tool",
    "toolkit",
]
