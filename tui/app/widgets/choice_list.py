"""Single choice: a numbered option list (also pictures and cards, shown as links)."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.app.widgets.answer_keys import SEND_KEYS, AnswerKeys, plain_text
from tui.steps import Choice, InputSpec

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


class ChoiceList(AnswerKeys, OptionList):
    """Single choice: arrows + Enter; a digit picks at once when every option has a one-digit number,
    otherwise typed digits build the number and Enter picks it."""

    typed = ""

    def show(self, spec: InputSpec) -> None:
        """Show `spec`'s choices, numbered, the first one highlighted."""
        self.clear_options()
        self.add_options([Option(choice_prompt(i, c), id=f"choice-{i}") for i, c in enumerate(spec.choices, 1)])
        self.typed = ""
        self.highlighted = 0

    def answer_key(self, event: events.Key) -> bool:
        area = self.area
        if area is None:
            return False
        if event.key in SEND_KEYS:
            if self.highlighted is not None:
                area.send_choice(self, self.highlighted)
            return True
        if event.character and event.character.isdigit():
            one_key = self.option_count <= 9
            typed = event.character if one_key else (self.typed + event.character).lstrip("0")
            if typed and not 1 <= int(typed) <= self.option_count:
                typed = event.character.lstrip("0")
            self.typed = typed
            if typed and 1 <= int(typed) <= self.option_count:
                self.highlighted = int(typed) - 1
                if one_key:
                    area.send_choice(self, self.highlighted)
            return True
        self.typed = ""
        return False
