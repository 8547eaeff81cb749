"""Hand-written Typebot exports played through `steadychat play --answers`, line by line.

Each fixture in tests/fixtures/typebot/ exercises one topic. The expected stdout was derived
from Typebot's own source (packages/bot-engine, packages/variables, packages/conditions; see
../shared/typebot-format.md), not from our output. Answer lines are `> ` + the answer as saved (the text as typed when refused).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tui.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "typebot"

CASES: list[tuple[str, list[str], str]] = [
    # Paragraphs one per line, an empty paragraph is a blank line, marks dropped in plain text,
    # link text kept, unknown variable -> "", list -> JSON text (v6), a variable sharing its
    # text leaf has its line breaks turned into spaces; each bubble is its own message.
    (
        "text_bubbles",
        [],
        """\
Hello Ada!

Bold and a link.
Unknown: []
Fruits: ["apple","pear"]
Got one two.
End of first bubble
Second bubble
""",
    ),
    # v5: the start block becomes the start event; a list renders its last item.
    (
        "v5_list_last_item",
        ["Bob"],
        """\
Last: pear
> Bob
Thanks Bob
""",
    ),
    # v4 with leftovers (item blockId / numeric type, explicit default options).
    (
        "v4_basic",
        ["Zoe", "Blue"],
        """\
Welcome
> Zoe
Hi Zoe
[choices: Red | Blue]
> Blue
You like Blue, Zoe
""",
    ),
    # Retry messages (email default, custom url retry with an unset variable, the generic
    # invalid message elsewhere) and canonical contents (lowercased email, https:// prefix,
    # E.164 phone, "1,5" -> 1.5, min 0 ignored, leading zero kept, date formats, rating <= length).
    (
        "inputs_validation",
        [
            "not-an-email",
            "ADA@Example.COM",
            "not a url",
            "example.com",
            "abc",
            "06 12 34 56 78",
            "abc",
            "11",
            "1,5",
            "-3",
            "007",
            "someday",
            "25/12/2024",
            "2024-12-25",
            "6",
            "4",
        ],
        """\
> not-an-email
This email doesn't seem to be valid. Can you type it again?
> ada@example.com
Email: ada@example.com
> not a url
Bad URL, ?
> https://example.com
Site: https://example.com
> abc
Invalid message. Please, try again.
> +33612345678
Phone: +33612345678
> abc
Invalid message. Please, try again.
> 11
Invalid message. Please, try again.
> 1.5
N=1.5
> -3
Z=-3
> 007
Z2=007
> someday
Invalid message. Please, try again.
> 25/12/2024
D=25/12/2024
> 2024-12-25
D2=2024-12-25
[rating 0-5]
> 6
Invalid message. Please, try again.
[rating 0-5]
> 4
R=4
""",
    ),
    # Dates: with time, a range always written "<start> to <end>", a date-only max covers
    # its whole day, custom TR35 format.
    (
        "date_inputs",
        [
            "25/12/2024 14:30",
            "01/01/2024 until 05/01/2024",
            "26/12/2024",
            "30/11/2024",
            "25/12/2024",
            "2024-03-05",
        ],
        """\
> 25/12/2024 14:30
D1=25/12/2024 14:30
> 01/01/2024 to 05/01/2024
D2=01/01/2024 to 05/01/2024
> 26/12/2024
Invalid message. Please, try again.
> 30/11/2024
Invalid message. Please, try again.
> 25/12/2024
D3=25/12/2024
> March 5, 2024
D4=March 5, 2024
""",
    ),
    # Single choice: content is case-sensitive, value matches (trimmed) and is saved, item id
    # matches, an item without edge follows the block's edge.
    (
        "choice_single",
        ["yes", " Y ", "item-no2", "Maybe later"],
        """\
Pick one
[choices: Yes | No | Maybe later]
> yes
Invalid message. Please, try again.
[choices: Yes | No | Maybe later]
> Y
Yes path Y
[choices: Yes | No]
> No
No path: No
[choices: Yes | No | Maybe later]
> Maybe later
Default path Maybe later
""",
    ),
    # Multiple choice: case-insensitive contents, 1-based indexes, `value ?? content` joined
    # with ", " in item order, item edges ignored.
    (
        "choice_multiple",
        ["coffee and 3", "nothing", "2"],
        """\
Drinks?
[choose one or more, comma-separated: Coffee | Tea | Hot chocolate]
> Coffee, choc
You chose: Coffee, choc
[choose one or more, comma-separated: Coffee | Tea | Hot chocolate]
> nothing
Invalid message. Please, try again.
[choose one or more, comma-separated: Coffee | Tea | Hot chocolate]
> Tea
More: Tea
""",
    ),
    # Dynamic items from a list variable (and from JSON text), displayCondition filtering,
    # substituted item labels, and the content-based edge fallback of getOutgoingEdgeId.
    (
        "choice_dynamic",
        ["Green", "Gold", "Silver Green", "Gold", "Blue", "A"],
        """\
[choices: Red | Green | Blue]
> Green
Color: Green
[choices: Silver Green]
> Gold
Invalid message. Please, try again.
[choices: Silver Green]
> Silver Green
Tier: Silver Green
[choices: Gold | Silver]
> Gold
Tier2: Gold
[choices: Red | Green | Blue]
> Blue
Color2: Blue
[choices: A | B]
> B
B path: B
""",
    ),
    # Every operator family, AND/OR, no comparisons, "null"; a mid-group Condition falls
    # through; the Else edge; a matching item without an edge ends the conversation.
    (
        "conditions",
        [],
        "".join(
            f"{k} {'yes' if ok else 'no'}\n"
            for k, ok in enumerate(
                [
                    False,
                    True,
                    False,
                    True,
                    True,
                    True,
                    True,
                    True,
                    True,
                    True,
                    False,
                    True,
                    True,
                    False,
                    True,
                    False,
                    True,
                    True,
                    True,
                    False,
                    True,
                    False,
                    True,
                ],
                start=1,
            )
        )
        + "Else path\n",
    ),
    # Custom expressions, Append/Pop/Shift, Empty, Map item with same index, Environment name.
    (
        "set_variable",
        [],
        """\
A=10 B=15 C=Ada5 D=hello
E=["1","two","10"]
F=["1","two","10"]
G=007 H=2.5 J=3.3333333333333335 K=20
L=["x","10","z"]
after pop L=["x","10"] P=z
after shift L=["10"] S=x
S=["x","y"]
A=[]
Mapped=2 Env=web
""",
    ),
    # JavaScript, as evaluateSetVariableExpression / executeFunction / executeScript run it:
    # statements, helper functions and `return` (client-side here: the terminal is the client);
    # `return` added when absent; an unset variable is undefined (10 + undefined + 5 is NaN,
    # stored as "null"); a leading-zero number text kept; on an error the substituted text;
    # a CPF check returning true takes the condition's branch; Intl in V8; exactly {{X}} copies;
    # dates in UTC; server Code with setVariable (unknown names ignored, lists stored as text
    # items); client Code touching `window` fails with a note and the flow goes on.
    (
        "javascript",
        [],
        """\
[note: script Widget failed: ReferenceError: window is not defined]
BMI=Sobrepeso Doubled=150 Total=null Zip=0042
Fallback=Hello Ada, welcome Valid=true Price=$1,234.50 Copy=75
Dates=2024-01-15T09:30:00.000Z 9 Rand=true Inline=76
Greeting=Olá Ada Count=["1","2"] Seen=undefined
CPF confirmed
""",
    ),
    # Jump by group id, Return to the block after the Jump, Jump to a block, Return without
    # a mark goes on, Jump by title through a variable.
    (
        "jump_return",
        [],
        """\
Start
In sub
Back in main
Third second
After return
The end
""",
    ),
    # Typebot link to a group of the current bot, then back after the link block.
    (
        "link_current",
        ["hello"],
        """\
Main
Help
> hello
Leaving help
After link hello
""",
    ),
    # AB test: 100 % always takes a, 0 % always takes b (whatever the seed).
    (
        "ab_test",
        [],
        """\
Testing
Path A
Path B
""",
    ),
    # Wait is silent, Redirect shows its (substituted) URL, the flow goes on.
    (
        "wait_redirect",
        [],
        """\
Before
Open: https://example.com/
After
""",
    ),
    # An input mid-group continues with the next block; a group without an edge ends the chat
    # (later answers are not read).
    (
        "group_end",
        ["a1", "b1", "extra"],
        """\
Q1
> a1
Got a1
> b1
""",
    ),
    # Saving an answer into a variable that holds a list appends to it.
    (
        "input_list_append",
        ["y", "2"],
        """\
Say something
> y
L=["x","y"]
> 2
L=["x","y","2"]
""",
    ),
    # settings.general.systemMessages.invalidMessage is used and variable-substituted; the
    # email input keeps its own default retry message.
    (
        "invalid_message_setting",
        ["abc", "5", "bad", "x@Y.io"],
        """\
> abc
Sorry Ada, try again.
> 5
N=5
> bad
This email doesn't seem to be valid. Can you type it again?
> x@y.io
E=x@y.io
""",
    ),
]


def _play(flow: Path, answers: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`steadychat play FLOW --answers FILE` through the CLI in this process: the same command and
    output as a subprocess (tests/integration/test_cli_play.py runs `play` as one), without paying a
    process start for each of the cases."""
    answers_file = tmp_path / "answers.txt"
    answers_file.write_text("".join(f"{a}\n" for a in answers), encoding="utf-8")
    args = ["play", str(flow), "--answers", str(answers_file), "--store", str(tmp_path / "store.db")]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize(("name", "answers", "expected"), CASES, ids=[c[0] for c in CASES])
def test_play_matches_typebot(name: str, answers: list[str], expected: str, tmp_path: Path) -> None:
    result = _play(FIXTURES / f"{name}.json", answers, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected.splitlines()


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(c[0] for c in CASES)
