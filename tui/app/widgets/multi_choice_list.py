"""Multiple choice: a numbered selection list, sent with ctrl+j or the area's Send button."""

from __future__ import annotations

from textual import events
from textual.widgets import SelectionList

from tui.app.widgets.answer_keys import AnswerKeys
from tui.app.widgets.choice_list import choice_prompt
from tui.steps import InputSpec


class MultiChoiceList(AnswerKeys, SelectionList[str]):
    """Multiple choice: Space toggles the highlighted option, a digit 1-9 toggles that option."""

    def show(self, spec: InputSpec) -> None:
        """Show `spec`'s choices, numbered, none selected, the first one highlighted."""
        self.clear_options()
        self.add_options([(choice_prompt(i, c), c.label) for i, c in enumerate(spec.choices, 1)])
        self.highlighted = 0

    def answer_key(self, event: events.Key) -> bool:
        if event.key == "ctrl+j" and self.area is not None:
            self.area.action_send()
            return True
        if event.character and event.character in "123456789":
            index = int(event.character) - 1
            if index < self.option_count:
                self.highlighted = index
                self.toggle(self.get_option_at_index(index))
            return True
        return False
