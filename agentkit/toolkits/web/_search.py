"""web_search backends: ddgs (default), a SearxNG instance's JSON API, and a static list for tests and demos.

Every backend returns `SearchResult`s (title, URL, snippet) so the model can cite what it read.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ..._errors import AgentkitError, UserError

SafeSearch = Literal["on", "moderate", "off"]


class SearchError(AgentkitError):
    """The search backend failed (unreachable, timed out, or answered something unusable)."""


class SearchResult(BaseModel):
    """One hit: enough to cite (title and URL) and to decide whether to fetch it (snippet)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    url: str
    snippet: str = ""
    source: str = ""


@runtime_checkable
class SearchBackend(Protocol):
    """Anything that turns a query into ranked results."""

    name: str

    async def search(self, query: str, *, max_results: int) -> list[SearchResult]: ...


def render_results(query: str, results: Sequence[SearchResult]) -> str:
    """The tool output: numbered hits with their URLs, for citation."""
    if not results:
        return f"No results for {query!r}."
    lines = [f"Results for {query!r} (untrusted web data; cite by URL):"]
    for index, result in enumerate(results, 1):
        lines.append(f"{index}. {result.title or '(untitled)'}\n   URL: {result.url}")
        if result.snippet:
            lines.append(f"   {' '.join(result.snippet.split())}")
    return "\n".join(lines)


class DdgsBackend:
    """DuckDuckGo and friends through the `ddgs` package (needs the internet).

    `client` replaces the `ddgs.DDGS` instance (tests inject an object with a `text()` method).
    """

    name = "ddgs"

    def __init__(
        self, *, region: str = "us-en", safesearch: SafeSearch = "moderate", timeout: float = 10.0,
        backend: str = "auto", client: Any = None,
    ) -> None:
        self.region = region
        self.safesearch = safesearch
        self.timeout = timeout
        self.backend = backend
        self._client = client

    def _ddgs(self) -> Any:
        if self._client is None:
            from ddgs import DDGS

            self._client = DDGS(timeout=max(1, math.ceil(self.timeout)))
        return self._client

    async def search(self, query: str, *, max_results: int) -> list[SearchResult]:
        client = self._ddgs()

        def run() -> list[dict[str, Any]]:
            raw: list[dict[str, Any]] = client.text(
                query, region=self.region, safesearch=self.safesearch, max_results=max_results, backend=self.backend
            )
            return raw

        try:
            raw = await asyncio.to_thread(run)
        except Exception as exc:  # ddgs raises its own DDGSException family, timeouts and network errors
            raise SearchError(f"ddgs search failed: {type(exc).__name__}: {exc}") from None
        return _map(raw, title="title", url="href", snippet="body", source=self.name)[:max_results]


class SearxngBackend:
    """A SearxNG instance's JSON API (`/search?format=json`; the instance must enable the json format)."""

    name = "searxng"

    def __init__(
        self, base_url: str, *, timeout: float = 10.0, language: str | None = None,
        safesearch: SafeSearch = "moderate", categories: str = "general", transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise UserError(f"SearxNG base_url must be an http(s) URL, e.g. http://127.0.0.1:8888; got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.language = language
        self.safesearch = safesearch
        self.categories = categories
        self._transport = transport

    async def search(self, query: str, *, max_results: int) -> list[SearchResult]:
        params = {
            "q": query, "format": "json", "pageno": "1", "categories": self.categories,
            "safesearch": {"off": "0", "moderate": "1", "on": "2"}[self.safesearch],
        }
        if self.language:
            params["language"] = self.language
        url = f"{self.base_url}/search"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport, trust_env=False) as client:
                response = await client.get(url, params=params, headers={"Accept": "application/json"})
        except httpx.TimeoutException:
            raise SearchError(f"SearxNG at {self.base_url} did not answer within {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise SearchError(f"SearxNG at {self.base_url} is unreachable: {type(exc).__name__}: {exc}") from None
        if response.status_code == 403:
            raise SearchError(
                f"SearxNG at {self.base_url} refused format=json (HTTP 403); enable 'json' under search.formats "
                "in its settings.yml"
            )
        if response.status_code != 200:
            raise SearchError(f"SearxNG at {self.base_url} answered HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            raise SearchError(f"SearxNG at {self.base_url} did not answer JSON (is base_url the instance root?)") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("results"), list):
            raise SearchError(f"SearxNG at {self.base_url} answered JSON without a 'results' list")
        return _map(payload["results"], title="title", url="url", snippet="content", source=self.name)[:max_results]


_WORD = re.compile(r"\w+", re.UNICODE)


def _terms(text: str) -> list[str]:
    """Lower-cased words, with a plural 's' dropped so 'llamas' matches 'llama'."""
    words = (w.lower() for w in _WORD.findall(text))
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


class StaticBackend:
    """Results from a fixed list (or a JSON/YAML file), ranked by query-term overlap. Offline, deterministic.

    A result scores 3 per query term in its title, 1 per term in its snippet and 1 per term in its URL
    (words compared lower-cased, plural 's' dropped); results that match no term are left out; ties keep
    the list order.
    """

    name = "static"

    def __init__(self, results: Iterable[SearchResult | Mapping[str, Any]]) -> None:
        self.results: list[SearchResult] = []
        for index, item in enumerate(results):
            try:
                self.results.append(item if isinstance(item, SearchResult) else SearchResult.model_validate(item))
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
                raise UserError(f"static search result #{index + 1} is invalid ({problems})") from None

    @classmethod
    def from_file(cls, path: str | Path) -> StaticBackend:
        """Load a list of {title, url, snippet} from a .json, .yaml or .yml file."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot read static search results from {file}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise UserError(f"{file} is not valid {'JSON' if file.suffix.lower() == '.json' else 'YAML'}: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("results"), list):
            data = data["results"]
        if not isinstance(data, list):
            raise UserError(f"{file} must hold a list of results (title, url, snippet), or {{results: [...]}}")
        return cls(data)

    async def search(self, query: str, *, max_results: int) -> list[SearchResult]:
        terms = set(_terms(query))
        scored: list[tuple[int, int, SearchResult]] = []
        for index, result in enumerate(self.results):
            title, snippet, url = set(_terms(result.title)), set(_terms(result.snippet)), set(_terms(result.url))
            score = sum(3 * (t in title) + (t in snippet) + (t in url) for t in terms)
            if score:
                scored.append((-score, index, result))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [r.model_copy(update={"source": r.source or self.name}) for _, _, r in scored[:max_results]]


def _map(raw: Iterable[Any], *, title: str, url: str, snippet: str, source: str) -> list[SearchResult]:
    results: list[SearchResult] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        link = str(item.get(url) or "").strip()
        if not link.startswith(("http://", "https://")):
            continue  # a hit without a citable URL is useless to the model
        results.append(SearchResult(
            title=str(item.get(title) or "").strip(), url=link, snippet=str(item.get(snippet) or "").strip(),
            source=source,
        ))
    return results
