"""A pydantic description of the `*.chat.yaml` flow test format, and the JSON Schema editors use.

Documentation-grade, like tui/flow/schema.py: `cases.py` does the real checking with line numbers
and fixes; this model gives editors completion, hover text and red squiggles through
`flows/steadychat-chat.schema.json`. A test keeps the committed file equal to the generated one,
and the keys equal to the reader's. Regenerate with:

    python -m tui.chattest.schema > flows/steadychat-chat.schema.json
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
Scalar = str | int | float | bool


def _optional(description: str) -> Any:
    """An optional key: None stands for "not given", so the schema does not offer `null`."""
    return Field(default=None, description=description)


class ExpectedRefusal(BaseModel):
    """A refused answer and the retry message the flow answers it with."""

    model_config = ConfigDict(extra="forbid")

    answer: Scalar = Field(description="The answer, as given in answers:.")
    message: str | None = Field(default=None, description="The retry message the flow sends (any when omitted).")


class ChatCaseModel(BaseModel):
    """One conversation: the answers to give a flow, and what it must say."""

    model_config = ConfigDict(
        extra="forbid",
        title="Chat test case",
        json_schema_extra={"not": {"required": ["transcript", "golden"]}},  # one or the other
    )

    name: str = _optional("The case's name in reports (default: 'case N'); unique in the file.")
    flow: str = Field(description="The flow file (our YAML or a Typebot export), relative to this test file.")
    answers: list[Scalar] | None = Field(
        default=None,
        description="Answers, one per waiting input, in order; a refused answer counts too. Choices by label.",
    )
    transcript: str | None = Field(
        default=None,
        description="The expected transcript, exactly what `steadychat play` prints (`> ` marks your answers). "
        "Write it as a block (`transcript: |`); `steadychat test --update` records it.",
    )
    golden: str = _optional(
        "A text file holding the expected transcript instead, relative to this test file.",
    )
    variables: dict[str, Scalar | list[Scalar | None] | None] | None = Field(
        default=None,
        description="Variables that must hold these values at the end, by name (others are not checked).",
    )
    refusals: list[Scalar | ExpectedRefusal] | None = Field(
        default=None,
        description="Every answer the flow must refuse along the way, in order (none others may be refused).",
    )


class ChatFile(RootModel[list[ChatCaseModel]]):
    """A `*.chat.yaml` file: a list of cases."""

    model_config = ConfigDict(title="SteadyChat flow tests")


def chat_json_schema() -> dict[str, Any]:
    schema = ChatFile.model_json_schema()
    schema["description"] = "Flow tests for SteadyChat (docs/flow-tests.md): a list of cases."
    return {"$schema": SCHEMA_DIALECT, **schema}


def schema_text() -> str:
    """The exact text of the committed schema file."""
    return json.dumps(chat_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_text())
