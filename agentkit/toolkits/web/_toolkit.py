"""The "web" toolkit: `web_search` and `web_fetch`, both read-only, both returning untrusted text."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..._tools import Tool
from ._fetch import FetchConfig, Fetcher
from ._search import (
    DdgsBackend,
    SafeSearch,
    SearchBackend,
    SearchResult,
    SearxngBackend,
    StaticBackend,
    render_results,
)


class SearchConfig(BaseModel):
    """Which search backend web_search uses, and its options."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["ddgs", "searxng", "static"] = "ddgs"
    base_url: str | None = Field(default=None, description="SearxNG instance root, e.g. http://127.0.0.1:8888")
    results: list[SearchResult] | None = Field(default=None, description="static backend: the results to search")
    file: Path | None = Field(default=None, description="static backend: a JSON/YAML file of results")
    region: str = Field(default="us-en", description="ddgs region, e.g. us-en, fr-fr, wt-wt")
    language: str | None = Field(default=None, description="SearxNG language, e.g. en, fr")
    safesearch: SafeSearch = "moderate"
    timeout: float = Field(default=10.0, gt=0)
    max_results: int = Field(default=5, ge=1, le=20, description="default number of results")
    max_results_limit: int = Field(default=10, ge=1, le=50, description="the most results the model may ask for")

    @model_validator(mode="after")
    def _backend_options(self) -> SearchConfig:
        if self.backend == "searxng" and not self.base_url:
            raise ValueError("the searxng backend needs base_url (the instance root, e.g. http://127.0.0.1:8888)")
        if self.backend == "static" and self.results is None and self.file is None:
            raise ValueError("the static backend needs results (a list) or file (a JSON/YAML file)")
        if self.max_results > self.max_results_limit:
            raise ValueError("max_results cannot exceed max_results_limit")
        return self

    def build_backend(self) -> SearchBackend:
        if self.backend == "searxng":
            assert self.base_url is not None
            return SearxngBackend(self.base_url, timeout=self.timeout, language=self.language, safesearch=self.safesearch)
        if self.backend == "static":
            if self.file is not None:
                return StaticBackend.from_file(self.file)
            return StaticBackend(self.results or [])
        return DdgsBackend(region=self.region, safesearch=self.safesearch, timeout=self.timeout)


class Config(BaseModel):
    """Options of the "web" toolkit."""

    model_config = ConfigDict(extra="forbid")

    search: SearchConfig = Field(default_factory=SearchConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)


def search_tool(backend: SearchBackend, *, max_results: int = 5, max_results_limit: int = 10) -> Tool:
    """A `web_search` tool over any backend."""

    async def web_search(
        query: str = Field(min_length=1, max_length=200, description="What to search for, as keywords."),
        max_results: int = Field(
            default=max_results, ge=1, le=max_results_limit, description="How many results to return."
        ),
    ) -> str:
        """Search the web. Returns numbered results with title, URL and snippet; cite the URLs you use."""
        results = await backend.search(query.strip(), max_results=max_results)
        return render_results(query, results)

    return Tool(web_search, effect="read")


def fetch_tool(fetcher: Fetcher) -> Tool:
    """A `web_fetch` tool: one public http(s) page as readable text."""
    default_chars = fetcher.config.max_chars

    async def web_fetch(
        url: str = Field(min_length=1, max_length=2000, description="The http or https URL to read."),
        max_chars: int = Field(
            default=default_chars, ge=200, le=max(default_chars, 100_000),
            description="How many characters of the page text to return.",
        ),
    ) -> str:
        """Fetch a web page and return its title, URL and main text as markdown (HTML, plain text or JSON)."""
        page = await fetcher.fetch(url.strip())
        return page.render(max_chars=max_chars)

    return Tool(web_fetch, effect="read")


def toolkit(config: Config) -> list[Tool]:
    search = config.search
    return [
        search_tool(search.build_backend(), max_results=search.max_results, max_results_limit=search.max_results_limit),
        fetch_tool(Fetcher(config.fetch)),
    ]
