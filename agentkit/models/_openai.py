"""OpenAI-compatible chat servers over HTTP: llama-server, vLLM, Ollama, `llama_cpp.server`.

The server does the tool calling; this backend converts agentkit messages to the chat-completions format,
streams the answer as server-sent events (parsed here, see `_sse`), and maps every failure to a ModelError
whose message names the URL and the fix. Every wait is bounded: connect, the silence between two pieces of
the stream (`read`), and the whole request with its retries (`total`). Retries happen only before the first
token: for connection errors, HTTP 429 and 5xx, with exponential backoff, jitter and the server's Retry-After.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import email.utils
import math
import os
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from .._errors import ModelError, ModelTimeoutError, UserError
from .._net import is_loopback
from ._base import ModelChunk, ModelRequest, check_model_requests_allowed
from ._chat_wire import ChunkAssembler, convert_messages, parse_json_data, server_message, shorten
from ._sse import SSEDecoder

ResponseFormatStyle = Literal["json_schema", "json_object"]

_MAX_ERROR_BODY = 64 * 1024
_MAX_JSON_BODY = 8 * 1024 * 1024
_MAX_BACKOFF = 30.0
_HEAD_CHARS = 200
_SSE_NON_DATA = (":", "event:", "id:", "retry:")


@dataclass(frozen=True)
class HTTPTimeouts:
    """Seconds. `connect`: opening the connection; `read`: the longest silence between two pieces of the
    response (the server's prompt processing counts, so keep it generous for long prompts on CPUs);
    `total`: the whole request, retries and backoff included."""

    connect: float = 10.0
    read: float = 120.0
    total: float = 600.0

    def __post_init__(self) -> None:
        for label in ("connect", "read", "total"):
            value = getattr(self, label)
            if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
                raise UserError(f"HTTPTimeouts.{label} must be a positive number of seconds; got {value!r}")


class _Retryable(Exception):
    """A failure worth another attempt (only ever raised before the first token)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class OpenAICompatibleModel:
    """A model served over the OpenAI chat-completions API.

        model = OpenAICompatibleModel("http://127.0.0.1:8080/v1", model="qwen2.5-7b-instruct")

    `api_key` defaults to the environment variable named by `api_key_env`. `timeout` is an HTTPTimeouts or
    a number of seconds for the whole request. `response_format_style="json_object"` sends a response schema
    the way `llama_cpp.server` wants it (`{"type": "json_object", "schema": ...}`); the default is the
    OpenAI `json_schema` form. `extra_body` adds server-specific fields (e.g. vLLM's `repetition_penalty`).
    Without an injected `http_client`, each request uses its own short-lived client, so the model works from
    any event loop (`run_sync` starts a new one per call).
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str = "default",
        name: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "AGENTKIT_API_KEY",
        timeout: HTTPTimeouts | float | None = None,
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        response_format_style: ResponseFormatStyle = "json_schema",
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise UserError(f"base_url {base_url!r} is not a valid URL ({exc}); give e.g. http://127.0.0.1:8080/v1") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise UserError(f"base_url {base_url!r} must be an http(s) URL with a host, e.g. http://127.0.0.1:8080/v1")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise UserError(f"max_retries must be an integer >= 0; got {max_retries!r}")
        if retry_backoff < 0:
            raise UserError(f"retry_backoff must be >= 0 seconds; got {retry_backoff!r}")
        if response_format_style not in ("json_schema", "json_object"):
            raise UserError(f"response_format_style must be 'json_schema' or 'json_object'; got {response_format_style!r}")
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self._name = name or model
        self.api_key_env = api_key_env
        self._api_key = api_key if api_key is not None else os.environ.get(api_key_env) or None
        if timeout is None:
            self.timeout = HTTPTimeouts()
        elif isinstance(timeout, HTTPTimeouts):
            self.timeout = timeout
        else:
            total = float(timeout)
            defaults = HTTPTimeouts()
            self.timeout = HTTPTimeouts(connect=min(defaults.connect, total), read=min(defaults.read, total), total=total)
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.headers = dict(headers or {})
        self.response_format_style: ResponseFormatStyle = response_format_style
        self.extra_body = dict(extra_body or {})
        self._client = http_client
        self._loopback = is_loopback(url.host)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"OpenAICompatibleModel({self.base_url!r}, model={self.model!r})"

    # -- request ---------------------------------------------------------------------------------------------
    def request_body(self, request: ModelRequest) -> dict[str, Any]:
        """The JSON body sent for `request` (public so callers can inspect or log what goes over the wire)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": convert_messages(request.messages, has_tools=bool(request.tools)),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        settings = request.settings
        if request.tools:
            body["tools"] = [t.definition() for t in request.tools]
            choice = request.tool_choice
            body["tool_choice"] = (
                choice if choice in ("auto", "required", "none") else {"type": "function", "function": {"name": choice}}
            )
            if settings.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = settings.parallel_tool_calls
        for key in ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "stop", "seed"):
            value = getattr(settings, key)
            if value is not None:
                body[key] = value
        if settings.response_schema is not None:
            if self.response_format_style == "json_object":
                body["response_format"] = {"type": "json_object", "schema": settings.response_schema}
            else:
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": settings.response_schema, "strict": True},
                }
        body.update(self.extra_body)
        return body

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        headers.update(self.headers)
        return headers

    # -- streaming -------------------------------------------------------------------------------------------
    def stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        check_model_requests_allowed(self.name)
        return self._stream(request)

    async def _stream(self, request: ModelRequest) -> AsyncIterator[ModelChunk]:
        body = self.request_body(request)
        deadline = asyncio.get_running_loop().time() + self.timeout.total
        async with self._client_scope() as client:
            attempt = 0
            while True:
                yielded = False
                try:
                    async with self._open(client, body, deadline) as response:
                        started = time.perf_counter()
                        async for chunk in self._read(response, body, deadline, started):
                            yielded = True
                            yield chunk
                    return
                except _Retryable as failure:
                    if yielded or attempt >= self.max_retries:
                        tries = f" (after {attempt + 1} attempts)" if attempt else ""
                        raise ModelError(failure.message + tries) from failure
                    await self._backoff(attempt, failure, deadline)
                    attempt += 1

    @contextlib.asynccontextmanager
    async def _client_scope(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._client is not None:
            yield self._client
            return
        # A local server is never reached through the environment's proxy settings.
        async with httpx.AsyncClient(trust_env=not self._loopback) as client:
            yield client

    @contextlib.asynccontextmanager
    async def _open(
        self, client: httpx.AsyncClient, body: dict[str, Any], deadline: float,
    ) -> AsyncIterator[httpx.Response]:
        """Send the request; yield the response once it is a 200. Closing always closes the response."""
        t = self.timeout
        http_timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=t.connect)
        request = client.build_request("POST", self.url, json=body, headers=self._headers(), timeout=http_timeout)
        try:
            async with asyncio.timeout(self._remaining(deadline)):
                response = await client.send(request, stream=True)
        except TimeoutError:
            raise self._total_timeout() from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _Retryable(
                f"cannot connect to the model server at {self.url} ({type(exc).__name__}: {exc or 'no detail'}); "
                "start the server or fix base_url"
            ) from exc
        except httpx.TimeoutException as exc:
            raise ModelTimeoutError(
                f"the model server at {self.url} sent no response headers within {t.read:g}s; "
                "it may be overloaded, or raise HTTPTimeouts.read"
            ) from exc
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            raise _Retryable(f"the connection to {self.url} broke before a response ({exc}); is the server healthy?") from exc
        except httpx.HTTPError as exc:
            raise ModelError(f"request to {self.url} failed: {type(exc).__name__}: {exc}") from exc
        try:
            if response.status_code != 200:
                text = await self._read_capped(response, _MAX_ERROR_BODY, deadline)
                raise self._http_error(response, text, body)
            yield response
        finally:
            await response.aclose()

    def _http_error(self, response: httpx.Response, text: str, body: dict[str, Any]) -> Exception:
        status = response.status_code
        detail = server_message(text) or response.reason_phrase or "no message"
        base = f"the model server at {self.url} answered HTTP {status}: {detail}"
        if "response_format" in body and "response_format" in detail:
            base += ("; this server does not take the response_format sent: try "
                     "response_format_style='json_object' (llama_cpp.server, llama-server)")
        if status in (401, 403):
            if self._api_key:
                return ModelError(f"{base}; the server rejected the API key: check api_key or ${self.api_key_env}")
            return ModelError(f"{base}; no API key was sent: pass api_key=... or set ${self.api_key_env}")
        if status == 429 or status >= 500:
            return _Retryable(base + ("; the server is rate limiting, retry later" if status == 429 else
                                      "; the server failed, see its log"),
                              retry_after=_retry_after(response.headers.get("retry-after")))
        if status == 404:
            return ModelError(f"{base}; check base_url (requests go to {self.url}; most servers want it to end in "
                              f"/v1) and the model name {self.model!r}")
        return ModelError(f"{base}; the server refused the request")

    async def _backoff(self, attempt: int, failure: _Retryable, deadline: float) -> None:
        delay = retry_delay(attempt, base=self.retry_backoff, retry_after=failure.retry_after)
        remaining = deadline - asyncio.get_running_loop().time()
        if delay >= remaining:
            raise ModelTimeoutError(
                f"{failure.message}; the next retry (in {delay:.1f}s) would pass the {self.timeout.total:g}s "
                "total timeout, so the request was given up"
            ) from failure
        await asyncio.sleep(delay)

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise self._total_timeout()
        return remaining

    def _total_timeout(self) -> ModelTimeoutError:
        return ModelTimeoutError(
            f"the model server at {self.url} did not finish within the {self.timeout.total:g}s total timeout; "
            "ask for fewer tokens (max_tokens) or raise HTTPTimeouts.total"
        )

    async def _next_bytes(self, parts: AsyncIterator[bytes], deadline: float) -> bytes | None:
        """The next piece of the body, or None at its end; every wait is bounded by `read` and `total`."""
        remaining = self._remaining(deadline)
        wait = min(self.timeout.read, remaining)
        try:
            async with asyncio.timeout(wait):
                return await anext(parts)
        except StopAsyncIteration:
            return None
        except (TimeoutError, httpx.TimeoutException):
            if wait < self.timeout.read:
                raise self._total_timeout() from None
            raise ModelTimeoutError(
                f"the model server at {self.url} sent nothing for {self.timeout.read:g}s in the middle of a "
                "response; it may be stuck or overloaded (raise HTTPTimeouts.read for slow prompt processing)"
            ) from None
        except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
            raise _Retryable(f"the connection to {self.url} broke mid-response ({exc or type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise ModelError(f"reading the response from {self.url} failed: {type(exc).__name__}: {exc}") from exc

    async def _read_capped(self, response: httpx.Response, limit: int, deadline: float) -> str:
        parts = response.aiter_bytes()
        data = b""
        while len(data) < limit:
            piece = await self._next_bytes(parts, deadline)
            if piece is None:
                break
            data += piece
        return data[:limit].decode("utf-8", errors="replace")

    async def _read(
        self, response: httpx.Response, body: dict[str, Any], deadline: float, started: float,
    ) -> AsyncIterator[ModelChunk]:
        assembler = ChunkAssembler(self.url)
        content_type = response.headers.get("content-type", "")
        if "json" in content_type and "event-stream" not in content_type:
            # The server ignored stream=true and answered with one JSON document: replay it as one delta.
            text = await self._read_capped(response, _MAX_JSON_BODY, deadline)
            document = parse_json_data(text, self.url)
            if isinstance(document, dict):
                for choice in document.get("choices") or []:
                    if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                        choice["delta"] = choice.pop("message")
            for chunk in assembler.handle(document, time.perf_counter()):
                yield chunk
            yield assembler.finish(body, started=started, now=time.perf_counter())
            return
        decoder = SSEDecoder()
        utf8 = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")  # a leading BOM is no part of the stream
        parts = response.aiter_bytes()
        head = ""  # the start of the body, to show when it turns out not to be an event stream
        while True:
            raw = await self._next_bytes(parts, deadline)
            text = utf8.decode(raw or b"", final=raw is None)
            head += text[:_HEAD_CHARS - len(head)]
            events = decoder.feed(text) + (decoder.close() if raw is None else [])
            for event in events:
                data = event.data.strip()
                if data == "[DONE]":
                    yield assembler.finish(body, started=started, now=time.perf_counter())
                    return
                document = parse_json_data(data, self.url)
                if event.event == "error" and isinstance(document, dict) and "error" not in document:
                    document = {"error": document}
                for chunk in assembler.handle(document, time.perf_counter()):
                    yield chunk
            if raw is None:
                break
        if assembler.finish_reason is None:
            stray = [line for line in head.splitlines() if line.strip() and not line.startswith(_SSE_NON_DATA)]
            if not assembler.documents and stray:
                raise ModelError(
                    f"the model server at {self.url} answered with a body that is not an event stream (content-type "
                    f"{content_type or 'missing'}): {shorten(head)}; is base_url an OpenAI-compatible /v1 endpoint?"
                )
            if not assembler.documents:
                raise ModelError(
                    f"the stream from {self.url} ended before any data: the server accepted the request, then failed "
                    "on it (see the server's log; e.g. llama_cpp.server with --chat_format chatml-function-calling "
                    "cannot stream tool_choice auto or required)"
                )
            raise ModelError(
                f"the stream from {self.url} ended without a finish_reason or [DONE]: the server stopped mid-answer "
                "(crashed, restarted, or aborted it; llama_cpp.server aborts a stream when another request "
                "arrives unless started with --interrupt_requests False)"
            )
        yield assembler.finish(body, started=started, now=time.perf_counter())


def retry_delay(attempt: int, *, base: float, retry_after: float | None) -> float:
    """Seconds before retry number `attempt + 1`: the server's Retry-After when it gave one, else exponential
    backoff (base * 2**attempt, capped) with jitter so that many clients do not retry in step."""
    if retry_after is not None:
        return retry_after
    ceiling = min(_MAX_BACKOFF, base * 2.0**attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None
