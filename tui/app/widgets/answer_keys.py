"""What every answer widget shares: keys handled in arrival order, and the area they answer to.

The answer widgets (`AnswerInput`, `ChoiceList`, `RatingRow`, ...) each live in a file of their
own; they reach the `AnswerArea` that holds them only through `AnswerSink`, so no widget module
imports the area (and the area imports them all).

Two private Textual APIs are relied on here, on purpose (see `AnswerKeys`): `_forward_event`,
the one call through which the app hands a key to the focused widget, counts the keys in
flight; and `_bindings` lets a widget run its own binding in the key's turn.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any, Protocol

from textual import events
from textual.widget import Widget

SEND_KEYS = ("enter", "ctrl+j")
"""Enter sends a one-line answer; so does ctrl+j (what Enter becomes when typed before the
terminal left line mode, and the send key of long text and multiple choice)."""

HTML_TAG_RE = re.compile(r"<[^>]*>")


def plain_text(text: str) -> str:
    """Typebot labels may hold HTML (`<strong>Click to upload</strong><br>`): tags out, one line."""
    return " ".join(HTML_TAG_RE.sub(" ", text).split())


class AnswerSink(Protocol):
    """What an answer widget needs of the area that holds it (`AnswerArea`)."""

    handled: deque[int]

    def is_live(self, widget: object) -> bool: ...
    def pass_on(self, retired: Widget, event: events.Key | events.Paste) -> None: ...
    def key_typed(self) -> None: ...
    def send_from(self, widget: Widget, text: str) -> None: ...
    def send_choice(self, widget: Widget, index: int) -> None: ...
    def show_error(self, message: str) -> None: ...
    def action_send(self) -> None: ...


class AnswerKeys:
    """Mixin for the answer widgets: keys handled in arrival order, stale keys passed on.

    `answer_key` handles the kind's own keys (Enter, digits); the widget's bindings run here too,
    in order with its typed characters, instead of after the key bubbled to the app.
    """

    area: AnswerSink | None = None
    keys_queued = 0
    """Keys and pastes posted to this widget and not handled yet (see `AnswerArea._hand_over`)."""

    def answer_key(self, event: events.Key) -> bool:
        """Handle a key of this kind of input; True when handled."""
        return False

    def _forward_event(self, event: events.Event) -> None:
        # The one way the app hands a key to the focused widget: count what is in flight.
        if isinstance(event, (events.Key, events.Paste)):
            self.keys_queued += 1
        super()._forward_event(event)  # type: ignore[misc]

    def _settle(self) -> None:
        self.keys_queued = max(0, self.keys_queued - 1)

    async def _on_key(self, event: events.Key) -> None:
        widget: Any = self
        area = self.area
        self._settle()
        if area is not None:
            area.handled.append(id(event))
        if area is None:
            await super()._on_key(event)  # type: ignore[misc]
            return
        if not area.is_live(self):  # a key queued before the input switched: it is the next one's
            event.stop()
            event.prevent_default()
            area.pass_on(widget, events.Key(event.key, event.character))
            return
        area.key_typed()
        if self.answer_key(event):
            event.stop()
            event.prevent_default()
            return
        # Private API: the widget's own bindings, run here in the key's turn (not after it bubbled).
        bindings = widget._bindings.key_to_bindings.get(event.key)
        if bindings:
            event.stop()
            event.prevent_default()
            await widget.run_action(bindings[0].action)
            return
        await super()._on_key(event)  # type: ignore[misc]

    async def _on_paste(self, event: events.Paste) -> None:
        widget: Any = self
        area = self.area
        self._settle()
        if area is not None and not area.is_live(self):
            event.stop()
            event.prevent_default()
            area.pass_on(widget, events.Paste(event.text))
            return
        if area is not None:
            area.key_typed()
        own = getattr(self, "_paste", None)
        handler = own if own is not None else getattr(super(), "_on_paste", None)
        if handler is not None:
            result = handler(event)
            if result is not None:
                await result
