"""The answer area: one input widget per InputSpec kind, light validation, the retry inline.

It never talks to the session: it posts `AnswerArea.Submitted(text)` and the screen answers.
The typed text stays in place until the screen shows the next input, so nothing typed is lost
when answering fails. The engine has the last word on validity; the checks here only spare a
round trip for obvious slips (empty, not a number, no @).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList, SelectionList, Static, TextArea
from textual.widgets.option_list import Option

from tui.steps import Choice, InputSpec

CHOICE_KINDS = ("choice", "picture choice", "cards")
TEXT_KINDS = ("text", "number", "email", "url", "phone", "date", "time", "file")


PLACEHOLDERS = {
    "text": "Type your answer…",
    "number": "Type a number…",
    "email": "Type your email…",
    "url": "Type a URL…",
    "phone": "Type your phone number…",
    "date": "YYYY-MM-DD",
    "time": "HH:MM",
    "file": "Paste a file URL…",
}


KIND_LABELS = {
    "text": "Text",
    "number": "Number",
    "email": "Email",
    "url": "URL",
    "phone": "Phone number",
    "date": "Date",
    "time": "Time",
    "file": "File URL",
}


def check_answer(spec: InputSpec, text: str) -> str | None:
    """Only what no flow accepts: an empty answer (a file that is not required may be skipped).

    Everything else is checked by the flow's own rules before sending (`Session.refusal`), so
    the TUI never refuses what the flow accepts nor words a retry differently.
    """
    if text.strip() or (spec.kind == "file" and not spec.required):
        return None
    return "Please type an answer first." if spec.kind != "file" else "Paste a URL (this file is required)."


HTML_TAG_RE = re.compile(r"<[^>]*>")


def plain_text(text: str) -> str:
    """Typebot labels may hold HTML (`<strong>Click to upload</strong><br>`): tags out, one line."""
    return " ".join(HTML_TAG_RE.sub(" ", text).split())


def placeholder_for(spec: InputSpec) -> str:
    raw = spec.placeholder or ""
    # A file is answered with a URL here: Typebot's HTML "click to upload or drag and drop" would mislead.
    if spec.kind == "file" and "<" in raw:
        return PLACEHOLDERS["file"]
    placeholder = plain_text(raw)
    if placeholder:
        return placeholder
    if spec.kind == "date":
        base = "YYYY-MM-DD HH:MM" if spec.has_time else "YYYY-MM-DD"
        return f"{base} to {base}" if spec.is_range else base
    return PLACEHOLDERS.get(spec.kind, "Type your answer…")


SHORT_URL = 60
"""A picture's URL in a choice is cut to this many characters (the whole URL stays a link)."""


def short_url(url: str, limit: int = SHORT_URL) -> str:
    """`https://images.example.com/photo-1?crop=…` → `images.example.com/photo-1…`, one line."""
    bare = url.split("://", 1)[-1].split("?", 1)[0].rstrip("/")
    return bare if len(bare) <= limit else bare[: limit - 1] + "…"


def choice_prompt(index: int, choice: Choice) -> Text:
    """A choice's label, numbered 1-9; a card's description and picture on short dim lines."""
    prompt = Text(f"{index}. " if index <= 9 else "   ")
    prompt.append(choice.label)
    if choice.description:
        prompt.append("\n     ")
        prompt.append(plain_text(choice.description), style="dim")
    if choice.picture:
        prompt.append("\n     ")
        prompt.append(f"↗ {short_url(choice.picture)}", style=f"dim link {choice.picture}")
    return prompt


class ChoiceList(OptionList):
    """Single choice: arrows + Enter, or a digit 1-9 picks at once."""

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character in "123456789":
            index = int(event.character) - 1
            if index < self.option_count:
                event.stop()
                event.prevent_default()
                self.highlighted = index
                self.action_select()


class MultiChoiceList(SelectionList[str]):
    """Multiple choice: Space toggles the highlighted option, a digit 1-9 toggles that option."""

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character in "123456789":
            index = int(event.character) - 1
            if index < self.option_count:
                event.stop()
                event.prevent_default()
                self.highlighted = index
                self.toggle(self.get_option_at_index(index))


class RatingRow(Horizontal):
    """A row of numbers; arrows move, Enter or a digit picks."""

    BINDINGS = [
        Binding("left", "move(-1)", "Lower", show=False),
        Binding("right", "move(1)", "Higher", show=False),
    ]

    def action_move(self, delta: int) -> None:
        buttons = list(self.query(Button))
        focused = self.screen.focused
        index = buttons.index(focused) if focused in buttons else 0
        buttons[max(0, min(len(buttons) - 1, index + delta))].focus()

    @dataclass
    class Rated(Message):
        """A value was picked with a digit key."""

        value: str

    def on_key(self, event: events.Key) -> None:
        if event.character and event.character.isdigit() and self.query(f"#rate-{event.character}"):
            event.stop()
            self.post_message(self.Rated(event.character))


class AnswerArea(Vertical):
    """What the user answers with, for the input the flow waits at."""

    BINDINGS = [
        Binding("ctrl+j", "send", "Send", id="send", tooltip="Send a long answer or a multiple choice"),
    ]

    @dataclass
    class Submitted(Message):
        """The user sends an answer (already checked client-side)."""

        area: AnswerArea
        text: str

    def __init__(self, *, cursor_blink: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.spec: InputSpec | None = None
        self.completed = False
        self.typing = False
        self.read_only = False
        self.error = ""
        self.draft = ""
        self.cursor_blink = cursor_blink

    # ------------------------------------------------------------ attributes down
    def set_input(
        self,
        spec: InputSpec | None,
        *,
        completed: bool = False,
        read_only: bool = False,
        error: str = "",
        typing: bool = False,
        draft: str = "",
    ) -> None:
        """Show the input for `spec` (a fresh widget), with an optional retry message.

        `draft` is put back in the field: the answer the engine just refused, so the user
        corrects it rather than typing it again.
        """
        self.spec = spec
        self.draft = draft
        self.typing = typing
        self.completed = completed
        self.read_only = read_only
        self.error = error
        self.call_later(self._rebuild)

    async def _rebuild(self) -> None:
        await self.recompose()
        self.focus_input()

    def show_error(self, message: str) -> None:
        """Show a message under the input without touching what was typed."""
        self.error = message
        label = self.query("#answer-error")
        if label:
            label.first(Static).update(f"⚠ {message}" if message else "")
            label.first(Static).display = bool(message)

    def focus_input(self) -> None:
        target = self.query("#answer")
        if not target:
            return
        widget = target.first()
        if isinstance(widget, RatingRow):
            buttons = widget.query(Button)
            if buttons:
                buttons.first().focus()
            return
        widget.focus()

    @property
    def answer_widget(self) -> Widget | None:
        found = self.query("#answer")
        return found.first() if found else None

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        spec = self.spec
        if self.read_only:
            self.set_class(True, "-closed")
            yield Static(
                "Read-only: another SteadyChat process drives this session. "
                "ctrl+n starts a new one, ctrl+s picks another.",
                id="answer-hint",
            )
            return
        if spec is None:
            self.set_class(True, "-closed")
            if self.typing:
                yield Static("… typing", id="answer-hint")
            elif self.completed:
                yield Static("✓ Conversation complete — press ctrl+n to start a new one", id="answer-done")
            else:
                yield Static("Nothing to answer.", id="answer-hint")
            return
        self.set_class(False, "-closed")
        yield from self._compose_input(spec)
        error = Static(f"⚠ {self.error}" if self.error else "", id="answer-error", markup=False)
        error.display = bool(self.error)
        yield error

    def _compose_input(self, spec: InputSpec) -> ComposeResult:
        kind = spec.kind
        if kind in CHOICE_KINDS and spec.choices:
            if spec.multiple:
                yield Static("Space or a number toggles · ctrl+j or the button sends", classes="hint")
                yield MultiChoiceList(
                    *[(choice_prompt(i, c), c.label) for i, c in enumerate(spec.choices, 1)], id="answer"
                )
                yield Button(spec.button or "Send", id="send-button", compact=True, variant="primary")
            else:
                yield Static("↑↓ and Enter, or press a number", classes="hint")
                yield ChoiceList(
                    *[Option(choice_prompt(i, c), id=f"choice-{i}") for i, c in enumerate(spec.choices, 1)],
                    id="answer",
                )
            return
        if kind == "rating":
            low = spec.rating_from if spec.rating_from is not None else 0
            high = spec.rating_to if spec.rating_to is not None else 10
            yield Static("←→ and Enter, or press a number", classes="hint")
            with RatingRow(id="answer"):
                if spec.rating_left:
                    yield Static(spec.rating_left, classes="rating-label", markup=False)
                for value in range(low, high + 1):
                    yield Button(str(value), id=f"rate-{value}", compact=True, classes="rate")
                if spec.rating_right:
                    yield Static(spec.rating_right, classes="rating-label", markup=False)
            return
        if kind == "text" and spec.long:
            yield Static("ctrl+j sends · Enter adds a line", classes="hint")
            area = TextArea(
                self.draft or spec.prefill or "",
                id="answer",
                soft_wrap=True,
                show_line_numbers=False,
                compact=True,
                placeholder=placeholder_for(spec),
            )
            area.cursor_blink = self.cursor_blink
            if self.draft:
                area.move_cursor(area.document.end)
            yield area
            return
        if kind in TEXT_KINDS:
            skip = " · or Skip" if kind == "file" and not spec.required else ""
            yield Static(f"{KIND_LABELS.get(kind, kind)} · Enter sends{skip}", classes="hint", markup=False)
            with Horizontal(id="answer-row"):
                yield Static("›", id="answer-prompt")
                field = Input(
                    value=self.draft or spec.prefill or "",
                    placeholder=placeholder_for(spec),
                    id="answer",
                    # a prefilled value (the variable's current one) is replaced by typing; a kept
                    # draft (the refused answer) is corrected in place, not lost to the next key
                    select_on_focus=not self.draft,
                )
                field.cursor_blink = self.cursor_blink
                yield field
                if kind == "file" and not spec.required:
                    yield Button("Skip", id="skip-button", compact=True)
            return
        # payment, embed, pause and anything new: nothing to type in a terminal.
        yield Static(f"This step ({kind}) cannot run in a terminal.", classes="hint", markup=False)
        yield Button("Continue", id="answer", compact=True, variant="primary")

    # ------------------------------------------------------------ sending
    def _send(self, text: str) -> None:
        if self.spec is None:
            return
        problem = check_answer(self.spec, text)
        if problem:
            self.show_error(problem)
            return
        self.post_message(self.Submitted(self, text))

    @on(Input.Submitted, "#answer")
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._send(event.value)

    @on(OptionList.OptionSelected, "#answer")
    def _choice_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.spec is None or isinstance(event.option_list, SelectionList):
            return
        self._send(self.spec.choices[event.option_index].label)

    def on_rating_row_rated(self, event: RatingRow.Rated) -> None:
        event.stop()
        self._send(event.value)

    @on(Button.Pressed)
    def _button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button_id = event.button.id or ""
        if button_id.startswith("rate-"):
            self._send(button_id.removeprefix("rate-"))
        elif button_id == "send-button":
            self.action_send()
        elif button_id == "skip-button":
            self.post_message(self.Submitted(self, ""))
        elif button_id == "answer":
            self.post_message(self.Submitted(self, ""))

    def action_send(self) -> None:
        widget = self.answer_widget
        if isinstance(widget, SelectionList):
            chosen = set(widget.selected)
            labels = [c.label for c in self.spec.choices if c.label in chosen] if self.spec else []
            if not labels:
                self.show_error("Pick at least one option (space toggles).")
                return
            self.post_message(self.Submitted(self, ", ".join(labels)))
        elif isinstance(widget, TextArea):
            self._send(widget.text)
        elif isinstance(widget, Input):
            self._send(widget.value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "send":
            return isinstance(self.answer_widget, (SelectionList, TextArea))
        return True
