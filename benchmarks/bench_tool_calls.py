"""Tool-call validity on the default model: with a call required, every turn must be a schema-valid call of an
offered tool. Also reports how often the *right* tool was chosen (the grammar guarantees form, not judgement).

60 prompts over 12 tool sets (2 to 6 tools each; nested models, enums, optional fields, arrays, anyOf).
Each turn is generated once at temperature 0, through agentkit's real llama.cpp path.

    .venv/bin/python benchmarks/bench_tool_calls.py [--model PATH] [--limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Literal

import jsonschema
from pydantic import BaseModel

from agentkit import DecodingSettings, Tool, tool
from agentkit._messages import SystemMessage, UserMessage
from agentkit.models import LlamaCppModel, ModelRequest, ToolCallChunk, default_model


class Address(BaseModel):
    street: str
    city: str
    country: str


@tool(effect="read")
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather for a city."""
    return ""


@tool(effect="read")
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression exactly."""
    return ""


@tool(effect="read")
def web_search(query: str, max_results: int = 5) -> str:
    """Search the web for fresh information."""
    return ""


@tool(effect="send")
def send_email(to: list[str], subject: str, body: str, cc: list[str] | None = None) -> str:
    """Send an email."""
    return ""


@tool(effect="write")
def create_event(title: str, start: str, end: str, attendees: list[str] | None = None) -> str:
    """Create a calendar event (ISO 8601 times)."""
    return ""


@tool(effect="read")
def read_file(path: str, start_line: int | None = None, end_line: int | None = None) -> str:
    """Read a text file from the workspace."""
    return ""


@tool(effect="read")
def list_events(day: str) -> str:
    """List calendar events on a day (YYYY-MM-DD)."""
    return ""


@tool(effect="read")
def convert_units(value: float, from_unit: str, to_unit: str) -> str:
    """Convert a value between units."""
    return ""


@tool(effect="write")
def ship_order(address: Address, items: list[str], express: bool = False) -> str:
    """Ship items to a postal address."""
    return ""


@tool(effect="read")
def lookup_order(order_id: str | int) -> str:
    """Look up an order by id."""
    return ""


@tool(effect="read")
def translate(text: str, target: Literal["en", "fr", "de", "es"]) -> str:
    """Translate text."""
    return ""


@tool(effect="read")
def search_mail(query: str, limit: int = 10) -> str:
    """Search the mailbox."""
    return ""


SETS: dict[str, list[Tool]] = {
    "weather+calc": [get_weather, calculate],
    "web+weather+calc": [web_search, get_weather, calculate],
    "mail": [send_email, search_mail],
    "calendar": [create_event, list_events],
    "files+web": [read_file, web_search],
    "units+calc": [convert_units, calculate],
    "orders": [ship_order, lookup_order],
    "translate+web": [translate, web_search],
    "office": [send_email, create_event, list_events, search_mail],
    "all-read": [get_weather, calculate, web_search, read_file, list_events, translate],
    "shop+mail": [ship_order, lookup_order, send_email],
    "wide": [get_weather, calculate, web_search, send_email, create_event, read_file],
}

# (tool set, prompt, expected tool)
CASES: list[tuple[str, str, str]] = [
    ("weather+calc", "What's the weather in Paris?", "get_weather"),
    ("weather+calc", "What is 17 * 23?", "calculate"),
    ("weather+calc", "Is it cold in Oslo right now, in fahrenheit?", "get_weather"),
    ("weather+calc", "Compute (2.5 + 4) / 3.", "calculate"),
    ("weather+calc", "Quel temps fait-il à Lyon ?", "get_weather"),
    ("web+weather+calc", "Who won the latest Tour de France?", "web_search"),
    ("web+weather+calc", "How much is 15% of 240?", "calculate"),
    ("web+weather+calc", "Weather forecast for Tokyo please.", "get_weather"),
    ("web+weather+calc", "Find recent news about the James Webb telescope.", "web_search"),
    ("web+weather+calc", "Cherche le prix actuel du bitcoin.", "web_search"),
    ("mail", "Email alice@example.com that the meeting moved to 3pm.", "send_email"),
    ("mail", "Find the emails from Bob about the invoice.", "search_mail"),
    ("mail", "Send a thank-you note to team@example.org with subject Thanks.", "send_email"),
    ("mail", "Do I have any mail about the conference?", "search_mail"),
    ("mail", "Écris à paul@example.fr pour confirmer le rendez-vous.", "send_email"),
    ("calendar", "Schedule a meeting called Sync tomorrow 10:00 to 11:00.", "create_event"),
    ("calendar", "What do I have on 2026-12-01?", "list_events"),
    ("calendar", "Book 'Dentist' on 2026-12-03 from 09:00 to 09:30.", "create_event"),
    ("calendar", "Show my agenda for 2026-11-30.", "list_events"),
    ("calendar", "Ajoute un déjeuner avec Marie le 2026-12-05 à midi.", "create_event"),
    ("files+web", "Open README.md and show me the first 20 lines.", "read_file"),
    ("files+web", "Read src/app.py lines 10 to 40.", "read_file"),
    ("files+web", "Search the web for the Python 3.13 release notes.", "web_search"),
    ("files+web", "What does config/settings.toml contain?", "read_file"),
    ("files+web", "Look up the latest version of numpy online.", "web_search"),
    ("units+calc", "Convert 10 miles to kilometers.", "convert_units"),
    ("units+calc", "How many pounds is 3 kg?", "convert_units"),
    ("units+calc", "What is 2 to the power 20?", "calculate"),
    ("units+calc", "Convert 100 fahrenheit to celsius.", "convert_units"),
    ("units+calc", "Calcule 1234 divisé par 7.", "calculate"),
    ("orders", "Ship two books to 5 Main St, Berlin, Germany.", "ship_order"),
    ("orders", "Where is order 4521?", "lookup_order"),
    ("orders", "Send a lamp by express to 10 Rue Victor Hugo, Lyon, France.", "ship_order"),
    ("orders", "Check the status of order A-77.", "lookup_order"),
    ("orders", "Expédie un livre au 3 place Bellecour, Lyon, France.", "ship_order"),
    ("translate+web", "Translate 'good morning' into French.", "translate"),
    ("translate+web", "Translate 'merci beaucoup' to English.", "translate"),
    ("translate+web", "Search for the population of Canada in 2026.", "web_search"),
    ("translate+web", "Traduis 'where is the station' en allemand.", "translate"),
    ("translate+web", "Find the current CEO of OpenAI.", "web_search"),
    ("office", "Email carol@example.com the agenda for Monday.", "send_email"),
    ("office", "Create an event 'Review' on 2026-12-02 14:00-15:00.", "create_event"),
    ("office", "What's on my calendar on 2026-12-04?", "list_events"),
    ("office", "Search my inbox for 'quarterly report'.", "search_mail"),
    ("office", "Invite dan@example.com to a call on 2026-12-07 at 16:00.", "create_event"),
    ("all-read", "Weather in Madrid?", "get_weather"),
    ("all-read", "What is 99 squared?", "calculate"),
    ("all-read", "Read the file notes.txt.", "read_file"),
    ("all-read", "Translate 'hello' to Spanish.", "translate"),
    ("all-read", "List my events for 2026-12-10.", "list_events"),
    ("all-read", "Search online for today's exchange rate EUR to USD.", "web_search"),
    ("shop+mail", "Ship a keyboard to 1 Infinite Loop, Cupertino, USA.", "ship_order"),
    ("shop+mail", "Look up order 1001 for me.", "lookup_order"),
    ("shop+mail", "Email support@example.com asking about my refund.", "send_email"),
    ("shop+mail", "Où en est la commande 889 ?", "lookup_order"),
    ("wide", "What's 45 + 55?", "calculate"),
    ("wide", "Weather in Nairobi today?", "get_weather"),
    ("wide", "Read docs/index.md.", "read_file"),
    ("wide", "Send a memo to ops@example.com: server maintenance at 9pm.", "send_email"),
    ("wide", "Put 'Standup' in my calendar on 2026-12-08 from 09:00 to 09:15.", "create_event"),
]


async def one_turn(model: LlamaCppModel, tools: list[Tool], prompt: str) -> tuple[str, str, str, float]:
    """Return (finish reason, tool name, raw arguments, seconds) for one constrained turn."""
    request = ModelRequest(
        messages=[SystemMessage(content="You are a helpful assistant."), UserMessage(content=prompt)],
        tools=tools, tool_choice="required",
        settings=DecodingSettings(temperature=0.0, max_tokens=512, parallel_tool_calls=False),
    )
    name, raw, reason = "", "", ""
    t0 = time.perf_counter()
    async for chunk in model.stream(request):
        if isinstance(chunk, ToolCallChunk):
            if chunk.index == 0:
                name = chunk.name or name
                raw += chunk.arguments
        elif chunk.kind == "finish":
            reason = chunk.reason
    return reason, name, raw, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a .gguf path (default: the embedded default model)")
    parser.add_argument("--limit", type=int, default=len(CASES))
    args = parser.parse_args()
    model = LlamaCppModel(args.model) if args.model else default_model()
    import json

    valid = right = 0
    failures: list[str] = []
    chosen: Counter[str] = Counter()
    seconds = 0.0
    cases = CASES[: args.limit]
    for set_name, prompt, expected in cases:
        tools = SETS[set_name]
        reason, name, raw, took = asyncio.run(one_turn(model, tools, prompt))
        seconds += took
        by_name = {t.name: t for t in tools}
        ok = False
        if reason == "tool_calls" and name in by_name:
            try:
                jsonschema.validate(json.loads(raw), by_name[name].parameters_schema)
                ok = True
            except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
                failures.append(f"{prompt!r}: {name} {raw!r}: {str(exc).splitlines()[0]}")
        else:
            failures.append(f"{prompt!r}: finish={reason} name={name!r} raw={raw[:80]!r}")
        valid += ok
        right += ok and name == expected
        chosen[f"{expected} -> {name}"] += 1
    total = len(cases)
    print(f"model                      : {model.name}")
    print(f"turns (tool_choice=required): {total} prompts over {len({c[0] for c in cases})} tool sets")
    print(f"schema-valid calls         : {valid}/{total} = {valid / total:.1%}  (target 100%)")
    print(f"right tool chosen          : {right}/{total} = {right / total:.1%}")
    print(f"mean seconds per turn      : {seconds / total:.2f}")
    wrong = {k: v for k, v in chosen.items() if k.split(' -> ')[0] != k.split(' -> ')[1]}
    if wrong:
        print("wrong choices (expected -> chosen):", ", ".join(f"{k} x{v}" for k, v in sorted(wrong.items())))
    for failure in failures:
        print("INVALID:", failure)


if __name__ == "__main__":
    main()
