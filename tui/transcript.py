"""How events read as text: headless lines, Markdown transcripts and JSON exports.

One place decides the wording of a transcript, so `play`, `export --format md` and the TUI's
plain-text fallbacks agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from tui.errors import StoreError
from tui.events import InputData, data_of
from tui.steps import StoredEvent, as_json_data
from tui.store import Store, session_meta

EXPORT_PAGE = 1000


def input_hint(data: InputData) -> str | None:
    """A one-line hint for an input with options (choices, rating), else None."""
    kind = data.get("kind")
    choices = data.get("choices") or []
    if choices:
        labels = " | ".join(str(c.get("label", "")) for c in choices)
        return (
            f"[choices: {labels}]" if not data.get("multiple") else f"[choose one or more, comma-separated: {labels}]"
        )
    if kind == "rating":
        return f"[rating {data.get('rating_from', 0)}-{data.get('rating_to', 10)}]"
    return None


def shown_answer(data: Mapping[str, Any]) -> str:
    """An accepted answer shows as saved (Typebot relabels the bubble: email lowercased, phone in
    E.164, a choice's value); a refused one as typed. `data` is an `answer` event's (AnswerData)."""
    content = data.get("content")
    if data.get("valid", True) and isinstance(content, str) and content:
        return content
    return str(data.get("text", ""))


def headless_lines(event: StoredEvent) -> list[str]:
    """The stdout lines of an event in `play`'s text mode (bot text as is, answers as `> text`)."""
    if event.type == "message":
        text = str(data_of(event, "message").get("text", ""))
        return text.split("\n") if text else []
    if event.type == "answer":
        return [f"> {shown_answer(data_of(event, 'answer'))}"]
    if event.type == "note":
        return [f"[note: {data_of(event, 'note').get('text', '')}]"]
    if event.type == "input":
        hint = input_hint(data_of(event, "input"))
        return [hint] if hint else []
    return []


def markdown_lines(event: StoredEvent) -> list[str]:
    """A readable Markdown rendering of one event."""
    if event.type == "start":
        start = data_of(event, "start")
        return [
            f"# {start.get('flow_name', start.get('flow_id', 'Conversation'))}",
            "",
            f"_Started {start.get('created_at', event.ts)}_",
            "",
        ]
    if event.type == "message":
        message = data_of(event, "message")
        body = str(message.get("markdown") or message.get("text") or "")
        prefix = "**Bot:** " if not message.get("retry") else "**Bot (retry):** "
        return [prefix + body.replace("\n", "  \n"), ""]
    if event.type == "answer":
        answer = data_of(event, "answer")
        mark = "" if answer.get("valid", True) else " _(refused)_"
        return [f"**You:** {shown_answer(answer)}{mark}", ""]
    if event.type == "note":
        return [f"> {data_of(event, 'note').get('text', '')}", ""]
    if event.type == "command":
        return [f"**You:** /{data_of(event, 'command').get('name', '')}", ""]
    if event.type == "end":
        return ["_Conversation complete._", ""]
    if event.type == "error":
        return [f"_Stopped: {data_of(event, 'error').get('text', '')}_", ""]
    return []


def _pages(store: Store, session_id: str) -> Iterator[list[StoredEvent]]:
    after = 0
    while True:
        page = store.events(session_id, after=after, limit=EXPORT_PAGE)
        if not page:
            return
        yield page
        after = page[-1].seq


def _record_or_fail(store: Store, session_id: str) -> Any:
    record = store.get_session(session_id)
    if record is None:
        raise StoreError(f"{store.path}: no session {session_id}; see `steadychat sessions`")
    return record


def _check_events(store: Store, session_id: str) -> None:
    """Read (decode) every event once, keeping none: an event the store refuses raises here,
    before an export's first byte, so a file or pipe never gets a cut-off export (with the
    error only on stderr). Memory stays bounded; the events are read twice."""
    for _page in _pages(store, session_id):
        pass


def export_json(store: Store, session_id: str) -> Iterator[str]:
    """`{"session": {...}, "events": [...]}`, streamed page by page so memory stays bounded.
    Nothing is yielded unless every event reads (a StoreError otherwise)."""
    record = _record_or_fail(store, session_id)
    _check_events(store, session_id)
    meta = session_meta(record)
    meta["last_seq"] = max(record.last_seq, store.last_seq(session_id))
    meta["acked_seq"] = store.acked_seq(session_id)
    yield '{"session": ' + json.dumps(meta, ensure_ascii=False) + ', "events": ['
    first = True
    for page in _pages(store, session_id):
        for event in page:
            yield ("" if first else ", ") + json.dumps(as_json_data(event), ensure_ascii=False)
            first = False
    yield "]}\n"


def export_markdown(store: Store, session_id: str) -> Iterator[str]:
    """A readable transcript of the session; nothing is yielded unless every event reads."""
    _record_or_fail(store, session_id)
    _check_events(store, session_id)
    for page in _pages(store, session_id):
        lines = [line for event in page for line in markdown_lines(event)]
        if lines:
            yield "\n".join(lines) + "\n"
