"""Server-sent events, decoded incrementally from text of any chunking.

Follows the WHATWG event-stream rules that matter for chat servers: lines end in CRLF, LF or CR (a CR at the
end of one chunk may pair with an LF at the start of the next); `:` starts a comment (keep-alive pings);
`data:` lines accumulate, joined by newlines, until a blank line dispatches the event; one space after the
colon is dropped; unknown fields are ignored. Events are size-capped so a hostile or broken server cannot
grow memory without bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._errors import ModelError

DEFAULT_MAX_EVENT_CHARS = 4 * 1024 * 1024

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"


class SSEDecoder:
    """Feed text as it arrives; get back every event completed by it."""

    def __init__(self, *, max_event_chars: int = DEFAULT_MAX_EVENT_CHARS) -> None:
        self.max_event_chars = max_event_chars
        self._buffer = ""
        self._data: list[str] = []
        self._data_chars = 0
        self._event = ""

    def feed(self, text: str) -> list[SSEEvent]:
        self._buffer += text
        events: list[SSEEvent] = []
        # A trailing CR may be the first half of CRLF: keep it until the next feed (or close) decides.
        cut = len(self._buffer) - 1 if self._buffer.endswith("\r") else len(self._buffer)
        start = 0
        for match in _LINE_END.finditer(self._buffer, 0, cut):
            self._line(self._buffer[start:match.start()], events)
            start = match.end()
        self._buffer = self._buffer[start:]
        if len(self._buffer) + self._data_chars > self.max_event_chars:
            raise ModelError(
                f"the server sent an event stream line or event over {self.max_event_chars} characters; "
                "it is not a chat-completion stream (check base_url)"
            )
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: a last line without its newline still counts, and a last event without its blank
        line is dispatched (several servers omit it)."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(self._buffer.rstrip("\r"), events)
            self._buffer = ""
        self._line("", events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent(data="\n".join(self._data), event=self._event or "message"))
            self._data, self._data_chars, self._event = [], 0, ""
            return
        if line.startswith(":"):
            return  # comment, e.g. ": ping"
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._data_chars += len(value) + 1
        elif field == "event":
            self._event = value
