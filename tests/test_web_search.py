"""web_search: the static backend, a SearxNG-shaped JSON server on 127.0.0.1, ddgs result mapping, the agent loop.

ddgs needs the internet, which these tests never use: its backend is tested by injecting an object with
ddgs's `text()` signature and checking what it was asked and how its answer is mapped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentkit import Agent, UserError
from agentkit.testing import ScriptedModel, call, text
from agentkit.toolkits import load_toolkit
from agentkit.toolkits.web import (
    DdgsBackend,
    SearchBackend,
    SearchError,
    SearchResult,
    SearxngBackend,
    StaticBackend,
    render_results,
    search_tool,
)

from ._web_server import Handler, LocalServer, serve

CORPUS = [
    {"title": "Llama - Wikipedia", "url": "https://en.wikipedia.org/wiki/Llama",
     "snippet": "The llama is a domesticated South American camelid."},
    {"title": "Alpaca care guide", "url": "https://alpaca.example/care", "snippet": "Alpacas and llamas need shelter."},
    {"title": "Python asyncio", "url": "https://docs.python.org/3/library/asyncio.html",
     "snippet": "asyncio is a library to write concurrent code."},
    {"title": "Camelid diets", "url": "https://vets.example/llama-diet", "snippet": "What a llama eats each day."},
]


async def test_static_backend_ranks_by_term_overlap() -> None:
    backend = StaticBackend(CORPUS)
    assert isinstance(backend, SearchBackend)
    hits = await backend.search("llama diet", max_results=5)
    assert [h.url for h in hits] == [
        "https://vets.example/llama-diet",  # 'diets' in the title (3), llama in snippet (1), llama+diet in URL (2)
        "https://en.wikipedia.org/wiki/Llama",  # llama in title (3), snippet (1), URL (1)
        "https://alpaca.example/care",  # 'llamas' in the snippet (1)
    ]
    assert all(h.source == "static" for h in hits)
    assert await backend.search("quantum chromodynamics", max_results=5) == []
    assert len(await backend.search("llama alpaca asyncio camelid", max_results=2)) == 2


async def test_static_backend_from_json_and_yaml_files(tmp_path: Path) -> None:
    json_file = tmp_path / "results.json"
    json_file.write_text(json.dumps(CORPUS))
    yaml_file = tmp_path / "results.yaml"
    yaml_file.write_text("results:\n  - title: Asyncio tips\n    url: https://tips.example/asyncio\n")
    assert (await StaticBackend.from_file(json_file).search("asyncio", max_results=3))[0].title == "Python asyncio"
    assert (await StaticBackend.from_file(yaml_file).search("asyncio", max_results=3))[0].title == "Asyncio tips"
    (tmp_path / "bad.yaml").write_text("- title: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        StaticBackend.from_file(tmp_path / "bad.yaml")
    with pytest.raises(UserError, match="cannot read"):
        StaticBackend.from_file(tmp_path / "absent.json")
    (tmp_path / "scalar.json").write_text("3")
    with pytest.raises(UserError, match="must hold a list"):
        StaticBackend.from_file(tmp_path / "scalar.json")
    with pytest.raises(UserError, match=r"result #1 is invalid \(url: Field required\)"):
        StaticBackend([{"title": "no url"}])


# -- SearxNG: a real HTTP server speaking its JSON API ----------------------------------------------------------
def _searx(handler: Handler) -> None:
    query = handler.path.split("?", 1)[1]
    from urllib.parse import parse_qs

    params = parse_qs(query)
    if params.get("format") != ["json"]:
        handler.reply("<html>HTML results page</html>", "text/html")
        return
    q = params["q"][0]
    payload = {
        "query": q, "number_of_results": 3,
        "results": [
            {"url": f"https://a.example/{q.replace(' ', '-')}", "title": f"About {q}", "content": f"All on {q}.",
             "engine": "duckduckgo", "score": 1.0},
            {"url": "https://b.example/x", "title": "Second", "content": "More.", "engine": "bing"},
            {"url": "javascript:alert(1)", "title": "not citable", "content": ""},
            {"title": "no url at all"},
        ],
        "answers": [], "suggestions": [],
    }
    handler.reply(json.dumps(payload), "application/json")


@pytest.fixture
def searx() -> Iterator[LocalServer]:
    routes = {
        "/search": _searx,
        "/forbidden/search": lambda h: h.reply("Forbidden", "text/plain", status=403),
        "/html/search": lambda h: h.reply("<html></html>", "text/html"),
        "/shape/search": lambda h: h.reply('{"results": "nope"}', "application/json"),
    }
    with serve(routes) as server:
        yield server


@pytest.mark.server
async def test_searxng_backend_queries_the_json_api(searx: LocalServer) -> None:
    backend = SearxngBackend(searx.url("/"), language="fr", safesearch="off")
    hits = await backend.search("llama wool", max_results=5)
    assert hits == [
        SearchResult(title="About llama wool", url="https://a.example/llama-wool", snippet="All on llama wool.",
                     source="searxng"),
        SearchResult(title="Second", url="https://b.example/x", snippet="More.", source="searxng"),
    ]
    sent = searx.requests[-1]
    assert sent.path == "/search"
    assert sent.query["format"] == ["json"]
    assert sent.query["language"] == ["fr"]
    assert sent.query["safesearch"] == ["0"]
    assert len(await backend.search("llama", max_results=1)) == 1


@pytest.mark.server
async def test_searxng_failures_say_what_to_fix(searx: LocalServer) -> None:
    with pytest.raises(SearchError, match="enable 'json'"):
        await SearxngBackend(searx.url("/forbidden")).search("x", max_results=3)
    with pytest.raises(SearchError, match="did not answer JSON"):
        await SearxngBackend(searx.url("/html")).search("x", max_results=3)
    with pytest.raises(SearchError, match="without a 'results' list"):
        await SearxngBackend(searx.url("/shape")).search("x", max_results=3)
    with serve({}) as gone:
        port = gone.port
    with pytest.raises(SearchError, match="unreachable"):
        await SearxngBackend(f"http://127.0.0.1:{port}").search("x", max_results=3)
    with pytest.raises(UserError, match="http"):
        SearxngBackend("127.0.0.1:8888")


# -- ddgs: mapping only (the real service needs the internet) ----------------------------------------------------
class FakeDdgs:
    def __init__(self, answer: list[dict[str, Any]] | Exception) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((query, kwargs))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def test_ddgs_backend_maps_results_and_passes_options() -> None:
    fake = FakeDdgs([
        {"title": "Llama", "href": "https://en.wikipedia.org/wiki/Llama", "body": "A camelid."},
        {"title": "broken", "href": "", "body": "no link"},
        {"title": "Alpaca", "href": "https://alpaca.example/", "body": ""},
    ])
    backend = DdgsBackend(region="fr-fr", safesearch="on", client=fake)
    hits = await backend.search("llama", max_results=4)
    assert [(h.title, h.url, h.snippet, h.source) for h in hits] == [
        ("Llama", "https://en.wikipedia.org/wiki/Llama", "A camelid.", "ddgs"),
        ("Alpaca", "https://alpaca.example/", "", "ddgs"),
    ]
    assert fake.calls == [("llama", {"region": "fr-fr", "safesearch": "on", "max_results": 4, "backend": "auto"})]
    with pytest.raises(SearchError, match="ddgs search failed: TimeoutError: slow"):
        await DdgsBackend(client=FakeDdgs(TimeoutError("slow"))).search("x", max_results=1)


def test_render_results_numbers_titles_and_urls() -> None:
    rendered = render_results("llama", [SearchResult(title="Llama", url="https://x.example/", snippet="A\n camelid.")])
    assert rendered == "Results for 'llama' (untrusted web data; cite by URL):\n1. Llama\n   URL: https://x.example/\n   A camelid."
    assert render_results("zzz", []) == "No results for 'zzz'."


# -- through the agent loop --------------------------------------------------------------------------------------
async def test_web_search_through_an_agent_with_the_static_backend() -> None:
    tool = search_tool(StaticBackend(CORPUS), max_results=3, max_results_limit=5)
    model = ScriptedModel([
        call("web_search", {"query": "llama", "max_results": 9}),  # over the limit: corrected
        call("web_search", {"query": "llama"}),
        text("See https://en.wikipedia.org/wiki/Llama"),
    ])
    result = await Agent(model, tools=[tool]).run("What is a llama?")
    assert result.output == "See https://en.wikipedia.org/wiki/Llama"
    tool_messages = [m for m in result.messages if m.role == "tool"]
    assert "max_results: Input should be less than or equal to 5" in tool_messages[0].content
    assert tool_messages[1].provenance == "untrusted"
    assert "1. Llama - Wikipedia\n   URL: https://en.wikipedia.org/wiki/Llama" in tool_messages[1].content
    assert tool_messages[1].content.count("URL: ") == 3


@pytest.mark.server
async def test_web_search_through_an_agent_with_searxng(searx: LocalServer) -> None:
    tools = load_toolkit("web", {"search": {"backend": "searxng", "base_url": searx.url("/")}})
    model = ScriptedModel([call("web_search", {"query": "alpaca fleece"}), text("done")])
    result = await Agent(model, tools=tools).run("alpaca fleece?")
    assert "1. About alpaca fleece\n   URL: https://a.example/alpaca-fleece" in result.messages[-2].content
    assert searx.requests[-1].query["q"] == ["alpaca fleece"]


def test_search_config_errors() -> None:
    with pytest.raises(UserError, match="needs base_url"):
        load_toolkit("web", {"search": {"backend": "searxng"}})
    with pytest.raises(UserError, match="needs results"):
        load_toolkit("web", {"search": {"backend": "static"}})
    with pytest.raises(UserError, match=r"search\.backend"):
        load_toolkit("web", {"search": {"backend": "google"}})
