"""The answer area: one widget per kind of input, built once and switched, never rebuilt.

Every key lands on the question the user sees, in the order it was typed:
- Each shown input carries the waiting input's ref (`InputRef`); an answer is sent with it, so
  `Session` records nothing for a question that is no longer waiting.
- Keys are handled in the answer widget's own turn, Enter and the widget's bindings included.
  Textual would otherwise run a binding only once the key has bubbled up to the app, after the
  keys typed behind it (a fast `Paris⏎` could send `Pa` and type `ris` into the next question).
- Enter answers synchronously (the screen's `answer` callback commits the step and shows the
  next input before the next key is handled), so keys typed after Enter go into the next input.
  When the next input is another widget, keys already queued for the old one are passed on to
  it in order, and focus moves only once the old widget has no key left in its queue.
- The typed text stays in place until the next input is shown, so nothing typed is lost when
  answering fails or the flow refuses the answer.

The flow has the last word on validity; the only check here is an empty answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, OptionList, SelectionList, Static, TextArea

from tui.app.widgets.answer_keys import SEND_KEYS, AnswerKeys, plain_text
from tui.app.widgets.choice_list import ChoiceList
from tui.app.widgets.multi_choice_list import MultiChoiceList
from tui.app.widgets.rating_row import RatingRow
from tui.session import InputRef
from tui.steps import InputSpec

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

    Everything else is checked by the flow's own rules in the same run that answers (`Session.submit`), so
    the TUI never refuses what the flow accepts nor words a retry differently.
    """
    if text.strip() or (spec.kind == "file" and not spec.required):
        return None
    return "Please type an answer first." if spec.kind != "file" else "Paste a URL (this file is required)."


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


AnswerHandler = Callable[[InputRef, str], None]
"""The screen's answer callback: commits (or refuses) and shows the next input, synchronously."""


class AnswerInput(AnswerKeys, Input):  # type: ignore[misc]
    """One line of text (text, number, email, url, phone, date, time, file): Enter sends."""

    def answer_key(self, event: events.Key) -> bool:
        if event.key in SEND_KEYS and self.area is not None:
            self.area.send_from(self, self.value)
            return True
        return False

    def _paste(self, event: events.Paste) -> None:
        """A paste of several lines goes in whole, lines joined by spaces (no line dropped)."""
        text = " ".join(line for line in event.text.splitlines() if line) if "\n" in event.text else event.text
        if text:
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(text)
            else:
                self.replace(text, *selection)
        event.stop()
        event.prevent_default()


class LongAnswer(AnswerKeys, TextArea):
    """Long text: Enter adds a line, ctrl+j sends."""

    def answer_key(self, event: events.Key) -> bool:
        if event.key == "ctrl+j" and self.area is not None:
            self.area.send_from(self, self.text)
            return True
        return False


class ContinueButton(AnswerKeys, Button):
    """A step with nothing to type in a terminal: Enter or Space continues."""

    def answer_key(self, event: events.Key) -> bool:
        if event.key in ("enter", "space") and self.area is not None:
            self.area.send_from(self, "")
            return True
        return False


KIND_WIDGETS = ("text", "long", "choice", "multi", "rating", "other")


def widget_kind(spec: InputSpec) -> str:
    """Which of the area's widgets answers `spec`."""
    if spec.kind in CHOICE_KINDS and spec.choices:
        return "multi" if spec.multiple else "choice"
    if spec.kind == "rating":
        return "rating"
    if spec.kind == "text" and spec.long:
        return "long"
    if spec.kind in TEXT_KINDS:
        return "text"
    return "other"  # payment, embed, pause and anything new: nothing to type in a terminal


class AnswerArea(Vertical):
    """What the user answers with, for the input the flow waits at.

    Built once: a widget per kind of input, shown one at a time and updated in place, so an
    answer restyles nothing but the widgets that change (a text answer followed by a text
    question keeps the same focused field).
    """

    BINDINGS = [
        Binding("ctrl+j", "send", "Send", id="send", tooltip="Send a long answer or a multiple choice"),
    ]

    def __init__(
        self,
        *,
        answer: AnswerHandler,
        typed: Callable[[], None] | None = None,
        cursor_blink: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._answer = answer
        self._typed = typed
        self.spec: InputSpec | None = None
        self.ref: InputRef | None = None
        self.live: Widget | None = None
        self.completed = False
        self.typing = False
        self.read_only = False
        self.error = ""
        self.cursor_blink = cursor_blink
        self._kind: str | None = None
        self._retired: Widget | None = None
        self.handled: deque[int] = deque(maxlen=64)
        """Ids of the last keys an answer widget saw (a key that bubbles on is not typed again)."""

    # ------------------------------------------------------------ layout (once)
    def compose(self) -> ComposeResult:
        field = AnswerInput(id="answer-text", select_on_focus=False)
        field.cursor_blink = self.cursor_blink
        long = LongAnswer("", id="answer-long", soft_wrap=True, show_line_numbers=False, compact=True)
        long.cursor_blink = self.cursor_blink
        kinds: list[AnswerKeys] = [
            field,
            long,
            ChoiceList(id="answer-choice"),
            MultiChoiceList(id="answer-multi"),
            RatingRow(id="answer-rating"),
            ContinueButton("Continue", id="answer-continue", compact=True, variant="primary"),
        ]
        for kind_widget in kinds:
            kind_widget.area = self
        row = Horizontal(
            Static("›", id="answer-prompt"), field, Button("Skip", id="skip-button", compact=True), id="answer-row"
        )
        hidden: list[Widget] = [
            Static("", id="answer-hint", markup=False),
            Static("✓ Conversation complete — press ctrl+n to start a new one", id="answer-done"),
            Static("", classes="hint", id="answer-how", markup=False),
            row,
            *[w for w in kinds[1:4] if isinstance(w, Widget)],
            Button("Send", id="send-button", compact=True, variant="primary"),
            *[w for w in kinds[4:] if isinstance(w, Widget)],
            Static("", id="answer-error", markup=False),
        ]
        for child in hidden:
            child.display = False
            yield child

    def on_mount(self) -> None:
        self._render_state()

    def _kind_widgets(self) -> dict[str, Widget]:
        return {
            "text": self.query_one("#answer-text"),
            "long": self.query_one("#answer-long"),
            "choice": self.query_one("#answer-choice"),
            "multi": self.query_one("#answer-multi"),
            "rating": self.query_one("#answer-rating"),
            "other": self.query_one("#answer-continue"),
        }

    def _containers(self, kind: str | None) -> list[Widget]:
        """What is displayed for a kind: the widget and what goes with it."""
        if kind is None:
            return []
        if kind == "text":
            return [self.query_one("#answer-row")]
        if kind == "multi":
            return [self.query_one("#answer-multi"), self.query_one("#send-button")]
        return [self._kind_widgets()[kind]]

    # ------------------------------------------------------------ attributes down
    def set_input(
        self,
        spec: InputSpec | None,
        ref: InputRef | None = None,
        *,
        completed: bool = False,
        read_only: bool = False,
        error: str = "",
        typing: bool = False,
        draft: str = "",
    ) -> None:
        """Show the input for `spec` (answered with `ref`), updating the kind's widget in place.

        `draft` is put back in the field: the answer the engine just refused, so the user
        corrects it rather than typing it again.
        """
        if read_only:
            spec = None
        self.spec = spec
        self.ref = ref if spec is not None else None
        self.typing = typing
        self.completed = completed
        self.read_only = read_only
        kind = widget_kind(spec) if spec is not None else None
        previous = self.live
        if spec is not None and kind is not None:
            self._fill(kind, spec, draft)
        self.live = self._kind_widgets()[kind] if kind is not None else None
        if kind != self._kind:
            self._switch(self._kind, kind, previous)
            self._kind = kind
        self.show_error(error)
        self._render_state()

    def set_typing(self, typing: bool) -> None:
        """The bot is still 'typing' the messages before this input (the input already takes keys)."""
        if typing != self.typing:
            self.typing = typing
            self._render_state()

    def _fill(self, kind: str, spec: InputSpec, draft: str) -> None:
        """Put `spec` into the kind's widget and say how to answer it."""
        how = self.query_one("#answer-how", Static)
        widget = self._kind_widgets()[kind]
        if isinstance(widget, AnswerInput):
            self._say(how, self._fill_text(widget, spec, draft))
        elif isinstance(widget, LongAnswer):
            widget.placeholder = placeholder_for(spec)
            widget.load_text(draft or spec.prefill or "")
            widget.move_cursor(widget.document.end)
            self._say(how, "ctrl+j sends · Enter adds a line")
        elif isinstance(widget, ChoiceList):
            widget.show(spec)
            self._say(how, "↑↓ and Enter, or press a number")
        elif isinstance(widget, MultiChoiceList):
            widget.show(spec)
            self.query_one("#send-button", Button).label = spec.button or "Send"
            self._say(how, "Space or a number toggles · ctrl+j or the button sends")
        elif isinstance(widget, RatingRow):
            widget.configure(spec)
            one_key = widget.one_key
            self._say(how, "press a number, or ←→ and Enter" if one_key else "type a number and Enter, or ←→ and Enter")
        else:
            self._say(how, f"This step ({spec.kind}) cannot run in a terminal.")

    def _fill_text(self, field: AnswerInput, spec: InputSpec, draft: str) -> str:
        """Fill the one-line field; returns the line saying how to answer."""
        field.placeholder = placeholder_for(spec)
        value = draft or spec.prefill or ""
        field.value = value
        field.cursor_position = len(value)
        # a prefilled value (the variable's current one) is selected, so typing replaces it; a
        # kept draft (the refused answer) is corrected in place, not lost to the next key.
        # Never select on focus: focus may arrive after type-ahead keys, which it would select.
        if value and not draft:
            field.select_all()
        skip = spec.kind == "file" and not spec.required
        self.query_one("#skip-button").display = skip
        label = KIND_LABELS.get(spec.kind, spec.kind)
        return f"{label} · Enter sends{' · or Skip' if skip else ''}"

    def _switch(self, old: str | None, new: str | None, previous: Widget | None) -> None:
        """Show the new kind's widgets; keys already queued for the old one are passed on."""
        for widget in self._containers(new):
            widget.display = True
        focused = self.screen.focused if self.is_attached else None
        if previous is not None and focused is previous and self.live is not None:
            self._retired = previous  # hidden and unfocused once its queued keys are passed on
            self._hand_over()
        else:
            for widget in self._containers(old):
                widget.display = False
            self.focus_input()

    def _hand_over(self) -> None:
        """Move focus to the live widget once the retired one has no key left in its queue.

        Until then the app keeps handing keys to the retired widget, which passes them on in
        order; a key sent straight to the live widget earlier would overtake them.
        """
        retired = self._retired
        if retired is None:
            return
        if not getattr(retired, "keys_queued", 0):
            self._retired = None
            live_kind = self._kind_of(self.live)
            for kind, widget in self._kind_widgets().items():
                if widget is retired and kind != live_kind:
                    for container in self._containers(kind):
                        container.display = False
            self.focus_input()

    def _kind_of(self, widget: Widget | None) -> str | None:
        for kind, candidate in self._kind_widgets().items():
            if candidate is widget:
                return kind
        return None

    def pass_on(self, retired: Widget, event: events.Key | events.Paste) -> None:
        """A key or paste that reached a widget after it stopped being the input: the next input's."""
        live = self.live
        if live is not None and live is not retired:
            if isinstance(live, AnswerKeys):
                live.keys_queued += 1
            live.post_message(event)
        if retired is self._retired:
            self._hand_over()

    def is_live(self, widget: object) -> bool:
        """Whether `widget` is the input shown now (the one keys belong to)."""
        return self.live is widget

    def key_typed(self) -> None:
        if self.typing and self._typed is not None:
            self._typed()

    def _say(self, label: Static, text: str) -> None:
        """Update a label only when its text changes (an update costs a layout pass)."""
        if getattr(label, "_said", None) != text:
            label._said = text  # type: ignore[attr-defined]
            label.update(text)

    def _render_state(self) -> None:
        if not self.is_mounted:
            return
        hint = self.query_one("#answer-hint", Static)
        done = self.query_one("#answer-done", Static)
        how = self.query_one("#answer-how", Static)
        closed = self.spec is None
        self.set_class(closed, "-closed")
        done.display = closed and self.completed and not self.read_only
        how.display = not closed
        if self.read_only:
            self._say(
                hint,
                "Read-only: another SteadyChat process drives this session. "
                "ctrl+n starts a new one, ctrl+s picks another.",
            )
        elif closed and not self.completed:
            self._say(hint, "… typing" if self.typing else "Nothing to answer.")
        elif not closed and self.typing:
            self._say(hint, "… typing")
        hint.display = self.read_only or (closed and not self.completed) or (not closed and self.typing)

    def show_error(self, message: str) -> None:
        """Show a message under the input without touching what was typed."""
        if message == self.error:
            return
        self.error = message
        label = self.query_one("#answer-error", Static)
        label.update(f"⚠ {message}" if message else "")
        label.display = bool(message)

    def focus_input(self) -> None:
        if self.live is not None and self.is_attached:
            self.screen.set_focus(self.live)

    @property
    def answer_widget(self) -> Widget | None:
        return self.live

    # ------------------------------------------------------------ sending
    def send_from(self, widget: Widget, text: str) -> None:
        """Send `text` from `widget` if it is the input shown now (a retired widget sends nothing)."""
        if widget is not self.live or self.spec is None or self.ref is None:
            return
        problem = check_answer(self.spec, text)
        if problem:
            self.show_error(problem)
            return
        self._answer(self.ref, text)

    def send_choice(self, widget: Widget, index: int) -> None:
        if self.spec is not None and 0 <= index < len(self.spec.choices):
            self.send_from(widget, self.spec.choices[index].label)

    @on(OptionList.OptionSelected, "#answer-choice")
    def _choice_clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.send_choice(event.option_list, event.option_index)

    @on(Button.Pressed)
    def _button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button_id = event.button.id or ""
        if event.button.has_class("rate") and event.button.name:
            self.send_from(self.query_one(RatingRow), event.button.name)
        elif button_id == "send-button":
            self.action_send()
        elif button_id == "skip-button":
            if self.live is not None and self.ref is not None and self.spec is not None:
                self._answer(self.ref, "")
        elif button_id == "answer-continue":
            self.send_from(event.button, "")

    def action_send(self) -> None:
        widget = self.live
        if isinstance(widget, SelectionList):
            chosen = set(widget.selected)
            labels = [c.label for c in self.spec.choices if c.label in chosen] if self.spec else []
            if not labels:
                self.show_error("Pick at least one option (space toggles).")
                return
            if self.ref is not None:
                self._answer(self.ref, ", ".join(labels))
        elif isinstance(widget, TextArea):
            self.send_from(widget, widget.text)
        elif isinstance(widget, Input):
            self.send_from(widget, widget.value)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "send":
            return isinstance(self.live, (SelectionList, TextArea))
        return True
