"""Rating: a row of numbers, typed, moved through with arrows, or clicked."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Static

from tui.app.widgets.answer_keys import SEND_KEYS, AnswerKeys
from tui.steps import InputSpec

MAX_BUTTONS = 21
"""A longer scale (a flow may say `length: 1000000`) shows its range and the value picked
instead of a button per value: one line still fits, and the terminal never mounts a million."""


class RatingRow(AnswerKeys, Horizontal, can_focus=True):
    """A row of numbers: typed digits build the value (Enter sends), arrows move, a click picks.

    Where every value has one digit, a digit sends at once. Past `MAX_BUTTONS` values the row
    shows the range and the picked value instead of buttons; typing and arrows work the same.
    """

    BINDINGS = [
        Binding("left", "move(-1)", "Lower", show=False),
        Binding("right", "move(1)", "Higher", show=False),
        Binding("backspace", "erase", "Erase", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.low = 0
        self.high = 10
        self.typed = ""
        self.picked: int | None = None
        self._shape: tuple[int, int, str | None, str | None] | None = None

    @property
    def one_key(self) -> bool:
        return 0 <= self.low and self.high <= 9

    def configure(self, spec: InputSpec) -> None:
        """Show the row for `spec`; the buttons are rebuilt only when the range or labels change."""
        low = spec.rating_from if spec.rating_from is not None else 0
        high = spec.rating_to if spec.rating_to is not None else 10
        self.low, self.high = low, high
        self.typed = ""
        self._pick(None)
        shape = (low, high, spec.rating_left, spec.rating_right)
        if shape == self._shape:
            return
        self._shape = shape
        self.remove_children()
        widgets: list[Widget] = []
        if spec.rating_left:
            widgets.append(Static(spec.rating_left, classes="rating-label", markup=False))
        if high - low + 1 > MAX_BUTTONS:
            widgets.append(Static(self._range_text(), classes="rating-range", markup=False))
        else:
            for value in range(low, high + 1):
                button = Button(str(value), name=str(value), compact=True, classes="rate")
                button.can_focus = False
                widgets.append(button)
        if spec.rating_right:
            widgets.append(Static(spec.rating_right, classes="rating-label", markup=False))
        self.mount_all(widgets)

    def _pick(self, value: int | None) -> None:
        if value == self.picked:
            return
        self.picked = value
        for button in self.query(".rate"):
            button.set_class(button.name == str(value), "-picked")
        for line in self.query(".rating-range"):
            if isinstance(line, Static):
                line.update(self._range_text())

    def _range_text(self) -> str:
        """The long scale's line: its range, and the value picked so far."""
        scale = f"{self.low} … {self.high}"
        return scale if self.picked is None else f"{self.picked}   ({scale})"

    def answer_key(self, event: events.Key) -> bool:
        area = self.area
        if area is None:
            return False
        if event.key in SEND_KEYS:
            if self.picked is None:
                area.show_error(f"Type a number from {self.low} to {self.high}, or use ←→, then Enter.")
            else:
                area.send_from(self, str(self.picked))
            return True
        if event.character and event.character.isdigit():
            if self.one_key:
                value = int(event.character)
                if self.low <= value <= self.high:
                    self._pick(value)
                    area.send_from(self, event.character)
                return True
            typed = self.typed + event.character
            if int(typed) > self.high:
                typed = event.character  # start a new number rather than drop the key
            self.typed = typed
            value = int(typed)
            self._pick(value if self.low <= value <= self.high else None)
            return True
        return False

    def action_move(self, delta: int) -> None:
        self.typed = ""
        if self.picked is None:
            self._pick(self.low if delta > 0 else self.high)
        else:
            self._pick(max(self.low, min(self.high, self.picked + delta)))

    def action_erase(self) -> None:
        self.typed = self.typed[:-1]
        self._pick(int(self.typed) if self.typed and self.low <= int(self.typed) <= self.high else None)
