"""`agentkit serve` (the server) and `agentkit serve-keys` (API keys in a keys file)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._errors import UserError
from .._net import is_loopback
from ..models._base import Model


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="serve models and agents over HTTP (OpenAI-compatible + agent runs)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--model", action="append", default=[], metavar="NAME=SPEC",
                       help="serve a model: SPEC is 'default', a .gguf path or an http(s) base URL (repeatable)")
    serve.add_argument("--pool", action="append", default=[], metavar="NAME=URL,URL[#MODEL]",
                       help="one model name over several OpenAI-compatible endpoints, with failover (repeatable)")
    serve.add_argument("--agent", action="append", default=[], metavar="NAME=AGENT.yaml",
                       help="serve an agent file at /v1/agents/NAME/runs (repeatable)")
    serve.add_argument("--keys", type=Path, help="API keys file (see `agentkit serve-keys`); without it, no auth")
    serve.add_argument("--no-auth", action="store_true", help="allow serving without keys on a non-loopback address")
    serve.add_argument("--max-queue", type=int, default=64, help="waiting requests per model before 429")
    serve.add_argument("--max-body", type=int, default=1024 * 1024, help="largest request body in bytes")
    serve.add_argument("--max-tokens", type=int, help="cap on max_tokens per request")
    serve.set_defaults(func=cmd_serve)

    keys = subparsers.add_parser("serve-keys", help="add, list or revoke API keys of `agentkit serve`")
    keys.add_argument("action", choices=["add", "list", "revoke"])
    keys.add_argument("name", nargs="?", help="key name (add, revoke)")
    keys.add_argument("--keys", type=Path, required=True, help="the keys file")
    keys.add_argument("--rpm", type=float, help="requests per minute (add)")
    keys.add_argument("--burst", type=int, help="requests allowed at once (add)")
    keys.add_argument("--tokens-per-day", type=int, help="token quota per day (add)")
    keys.add_argument("--priority", choices=["interactive", "batch"], default="interactive")
    keys.set_defaults(func=cmd_keys)


def _pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        name, sep, spec = value.partition("=")
        if not sep or not name or not spec:
            raise UserError(f"{flag} takes NAME=VALUE; got {value!r}")
        out.append((name, spec))
    return out


def build_models(args: argparse.Namespace) -> dict[str, Model]:
    from ..models import resolve_model
    from ..models._pool import EndpointPool

    models: dict[str, Model] = {name: resolve_model(spec) for name, spec in _pairs(args.model, "--model")}
    for name, spec in _pairs(args.pool, "--pool"):
        urls, _, model = spec.partition("#")
        models[name] = EndpointPool.from_urls([u for u in urls.split(",") if u], model=model or name, name=name)
    return models


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ._app import ServeConfig, create_app
    from ._keys import KeyStore

    agents: dict[str, Any] = {}
    if args.agent:
        from ..spec import load_agent

        agents = {name: load_agent(path) for name, path in _pairs(args.agent, "--agent")}
    models = build_models(args)
    if not models and not agents:
        models = {"default": _default()}
    keys = KeyStore.load(args.keys) if args.keys else KeyStore()
    if not len(keys) and not is_loopback(args.host) and not args.no_auth:
        raise UserError(f"serving on {args.host} without API keys would open the models to the network; "
                        "pass --keys FILE (see `agentkit serve-keys add`) or --no-auth")
    config = ServeConfig(max_body_bytes=args.max_body, max_queue=args.max_queue, max_tokens_cap=args.max_tokens)
    app = create_app(models=models, agents=agents, keys=keys, config=config)
    # Ctrl-C waits this long for open streams, then cancels them (their runs end 'cancelled', the model is freed);
    # uvicorn alone would wait for an endless stream forever.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=10)
    return 0


def _default() -> Model:
    """The embedded model with a session KV cache: a server interleaves conversations, so the one-prefix
    reuse llama.cpp does by itself is not enough."""
    from ..models import DEFAULT_MODEL_NAME, LlamaCppModel, default_model_path
    from ..models._kvcache import DEFAULT_KV_CACHE_BYTES

    return LlamaCppModel(default_model_path(), name=DEFAULT_MODEL_NAME, kv_cache_bytes=DEFAULT_KV_CACHE_BYTES,
                         parallel_calls=False)


def cmd_keys(args: argparse.Namespace) -> int:
    from ._keys import KeyStore

    store = KeyStore.load(args.keys) if args.keys.exists() else KeyStore()
    if args.action == "list":
        for key in store.keys:
            print(f"{key.id}  {key.name:<20} rpm={key.requests_per_minute} tokens/day={key.tokens_per_day} "
                  f"priority={key.priority}")
        return 0
    if not args.name:
        raise UserError(f"`agentkit serve-keys {args.action}` needs a key name")
    if args.action == "revoke":
        key = store.revoke(args.name)
        store.save(args.keys)
        print(f"revoked {key.name} ({key.id})")
        return 0
    secret, key = store.create(args.name, requests_per_minute=args.rpm, burst=args.burst,
                               tokens_per_day=args.tokens_per_day, priority=args.priority)
    store.save(args.keys)
    print(secret)
    print(f"(key {key.name} / {key.id}: shown once, only its hash is stored in {args.keys})")
    return 0
