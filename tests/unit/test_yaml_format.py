"""Our YAML flow format: every form compiles to Typebot's shapes; every error names its line."""

from __future__ import annotations

import json
import textwrap

import pytest

from tui.errors import FlowError
from tui.flow.model import Block, Flow
from tui.flow.yaml_format import compile_flow, flow_from_text, parse_json, slugify

PATH = "flows/t.yaml"


def compile_yaml(text: str) -> Flow:
    return flow_from_text(textwrap.dedent(text), path=PATH)


def one_group(body: str) -> list[Block]:
    """Compile blocks written under a single group `A` (body indented by 4)."""
    flow = compile_yaml("name: T\ngroups:\n  A:\n" + textwrap.indent(textwrap.dedent(body), "    "))
    return flow.groups[0].blocks


def error_of(text: str) -> FlowError:
    with pytest.raises(FlowError) as info:
        compile_yaml(text)
    return info.value


def edge_target(flow: Flow, edge_id: str | None) -> str:
    assert edge_id is not None
    edge = flow.edge(edge_id)
    assert edge is not None
    return edge.to.group_id


# --- top level, ids, start ------------------------------------------------------------------


def test_minimal_flow_defaults() -> None:
    flow = compile_yaml(
        """\
        name: Demo
        groups:
          Welcome:
            - say: Hi
        """
    )
    assert (flow.id, flow.name, flow.source_format, flow.version) == ("t", "Demo", "steadychat", "6.1")
    assert flow.invalid_message == "Invalid message. Please, try again."
    assert [(e.id, e.type) for e in flow.events] == [("start", "start")]
    assert edge_target(flow, flow.events[0].outgoing_edge_id) == "welcome"
    start_edge = flow.edge("edge.start")
    assert start_edge is not None and start_edge.from_.event_id == "start"
    group = flow.groups[0]
    assert (group.id, group.title, group.line) == ("welcome", "Welcome", 3)
    assert group.blocks[0].id == "welcome.0" and group.blocks[0].line == 4


def test_explicit_id_start_and_invalid_message() -> None:
    flow = compile_yaml(
        """\
        name: Demo
        id: my-demo
        start: Second
        invalid_message: Try again please.
        groups:
          First: [say: one]
          Second: [say: two]
        """
    )
    assert flow.id == "my-demo"
    assert flow.invalid_message == "Try again please."
    assert edge_target(flow, flow.events[0].outgoing_edge_id) == "second"


def test_group_ids_are_slugs_deduplicated() -> None:
    assert slugify("About you!") == "about-you"
    assert slugify("Café crème") == "cafe-creme"
    assert slugify("😀") == "group"
    flow = compile_yaml(
        """\
        name: T
        groups:
          Hello World: [end: true]
          hello-world: [end: true]
          "😀": [end: true]
        """
    )
    assert [g.id for g in flow.groups] == ["hello-world", "hello-world-2", "group"]


def test_hash_is_stable_and_ignores_lines() -> None:
    text = "name: T\ngroups:\n  A:\n    - ask: name\n    - say: Hi {{name}}\n"
    assert flow_from_text(text, path=PATH).content_hash() == flow_from_text(text, path=PATH).content_hash()
    shifted = "# a comment\n\n" + text
    assert flow_from_text(shifted, path=PATH).content_hash() == flow_from_text(text, path=PATH).content_hash()


# --- bubbles --------------------------------------------------------------------------------


def test_say_one_paragraph_per_line_inline_markdown_as_marks() -> None:
    blocks = one_group(
        """\
        - say: |
            Hi **{{name}}**!

            Second line
        - Bare text is a say
        """
    )
    assert blocks[0].type == "text"
    assert blocks[0].content == {
        "richText": [
            {"type": "p", "children": [{"text": "Hi "}, {"text": "{{name}}", "bold": True}, {"text": "!"}]},
            {"type": "p", "children": [{"text": ""}]},
            {"type": "p", "children": [{"text": "Second line"}]},
        ]
    }
    assert blocks[1].content == {"richText": [{"type": "p", "children": [{"text": "Bare text is a say"}]}]}


def test_media_bubbles() -> None:
    blocks = one_group(
        """\
        - image: https://x.test/cat.png
          alt: A cat
          link: https://x.test
        - video: https://youtu.be/abc
        - audio: https://x.test/a.mp3
          autoplay: false
        - embed: https://x.test/page
          height: 300
        """
    )
    assert [(b.type, b.content) for b in blocks] == [
        ("image", {"url": "https://x.test/cat.png", "clickLink": {"alt": "A cat", "url": "https://x.test"}}),
        ("video", {"url": "https://youtu.be/abc"}),
        ("audio", {"url": "https://x.test/a.mp3", "isAutoplayEnabled": False}),
        ("embed", {"url": "https://x.test/page", "height": 300}),
    ]


# --- inputs ---------------------------------------------------------------------------------


def test_ask_forms() -> None:
    blocks = one_group(
        """\
        - ask: name
          placeholder: Your first name
          button: Go
          long: true
        - ask: email
        - ask: email
          into: work_email
          retry: Not an email.
        - ask: age
          type: number
          min: 1
          max: "120"
          step: "{{step}}"
        - ask: phone
          country: FR
        - ask: when
          type: date
          time: true
          range: false
          format: dd/MM/yyyy HH:mm
          min: 2024-01-01
        - ask: time
          format: HH:mm
        - ask: url
        - ask: doc
          type: file
          required: false
          multiple: true
        """
    )
    assert [(b.type, b.options) for b in blocks] == [
        (
            "text input",
            {"variableId": "name", "labels": {"placeholder": "Your first name", "button": "Go"}, "isLong": True},
        ),
        ("email input", {"variableId": "email"}),
        ("email input", {"variableId": "work_email", "retryMessageContent": "Not an email."}),
        ("number input", {"variableId": "age", "min": 1, "max": 120, "step": "{{step}}"}),
        ("phone number input", {"variableId": "phone", "defaultCountryCode": "FR"}),
        (
            "date input",
            {
                "variableId": "when",
                "hasTime": True,
                "isRange": False,
                "format": "dd/MM/yyyy HH:mm",
                "min": "2024-01-01",
            },
        ),
        ("time input", {"variableId": "time", "format": "HH:mm"}),
        ("url input", {"variableId": "url"}),
        ("file input", {"variableId": "doc", "isRequired": False, "isMultipleAllowed": True}),
    ]
    assert all(b.is_input for b in blocks)


def test_ask_type_overrides_type_name() -> None:
    (block,) = one_group("- ask: email\n  type: text\n")
    assert (block.type, block.options) == ("text input", {"variableId": "email"})


def test_rating_forms() -> None:
    blocks = one_group(
        """\
        - rating: nps
        - rating: stars
          from: 1
          length: 5
          left: bad
          right: good
        - ask: score
          type: rating
          length: 3
        """
    )
    assert [(b.type, b.options) for b in blocks] == [
        ("rating input", {"variableId": "nps"}),
        (
            "rating input",
            {"variableId": "stars", "length": 5, "startsAt": 1, "labels": {"left": "bad", "right": "good"}},
        ),
        ("rating input", {"variableId": "score", "length": 3}),
    ]


def test_choice_forms() -> None:
    flow = compile_yaml(
        """\
        name: T
        groups:
          A:
            - choice: [Yes, No, 3, on]
              into: answer
            - choice:
                - Sales: B
                - label: Other
                  value: other
                - label: Support
                  goto: B
              button: OK
              searchable: true
            - choice: [x, y]
              multiple: true
          B: [end: true]
        """
    )
    yes_no, routed, multi = flow.groups[0].blocks
    assert yes_no.type == "choice input"
    assert yes_no.options == {"variableId": "answer"}
    assert [(i.id, i.data, i.outgoing_edge_id) for i in yes_no.items] == [
        ("a.0.item0", {"content": "Yes"}, None),
        ("a.0.item1", {"content": "No"}, None),
        ("a.0.item2", {"content": "3"}, None),
        ("a.0.item3", {"content": "on"}, None),
    ]
    assert routed.options == {"buttonLabel": "OK", "isSearchable": True}
    assert [i.data for i in routed.items] == [
        {"content": "Sales"},
        {"content": "Other", "value": "other"},
        {"content": "Support"},
    ]
    assert [edge_target(flow, i.outgoing_edge_id) for i in (routed.items[0], routed.items[2])] == ["b", "b"]
    item_edge = flow.edge("edge.a.1.item0")
    assert item_edge is not None and (item_edge.from_.block_id, item_edge.from_.item_id) == ("a.1", "a.1.item0")
    assert routed.items[1].outgoing_edge_id is None
    assert multi.options == {"isMultipleChoice": True}


# --- logic ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variable", "operator", "value"),
    [
        ("{{score}} > 5", "score", "Greater than", "5"),
        ("{{score}} >= 5", "score", "Greater or equal to", "5"),
        ("score < 5", "score", "Less than", "5"),
        ("{{score}}<=5", "score", "Less or equal to", "5"),
        ("{{plan}} == 'pro plan'", "plan", "Equal to", "pro plan"),
        ('{{plan}} != "free"', "plan", "Not equal", "free"),
        ('{{plan}} == ""', "plan", "Equal to", ""),
        ("{{First name}} contains an", "First name", "Contains", "an"),
        ("{{tags}} not contains vip", "tags", "Does not contain", "vip"),
        ("{{url}} starts with https", "url", "Starts with", "https"),
        ("{{file}} ends with .pdf", "file", "Ends with", ".pdf"),
        ("{{code}} matches /^A\\d+$/i", "code", "Matches regex", "/^A\\d+$/i"),
        ("{{code}} not matches ^B", "code", "Does not match regex", "^B"),
        ("{{a}} == {{b}}", "a", "Equal to", "{{b}}"),
    ],
)
def test_condition_string_operators(text: str, variable: str, operator: str, value: str) -> None:
    flow = compile_yaml(f"name: T\ngroups:\n  A:\n    - if: {json.dumps(text)}\n      then: A\n")
    comparison = flow.groups[0].blocks[0].items[0].data["content"]["comparisons"][0]
    assert comparison == {"id": "a.0.cmp0", "variableId": variable, "comparisonOperator": operator, "value": value}


@pytest.mark.parametrize(("text", "operator"), [("{{email}} is set", "Is set"), ("email IS EMPTY", "Is empty")])
def test_condition_unary_operators(text: str, operator: str) -> None:
    flow = compile_yaml(f"name: T\ngroups:\n  A:\n    - if: {json.dumps(text)}\n      then: A\n")
    comparison = flow.groups[0].blocks[0].items[0].data["content"]["comparisons"][0]
    assert comparison == {"id": "a.0.cmp0", "variableId": "email", "comparisonOperator": operator}


def test_if_then_else_edges() -> None:
    flow = compile_yaml(
        """\
        name: T
        groups:
          A:
            - if: "{{score}} > 5"
              then: High
              else: Low
          High: [end: true]
          Low: [end: true]
        """
    )
    block = flow.groups[0].blocks[0]
    assert block.type == "Condition"
    (item,) = block.items
    assert item.id == "a.0.then"
    assert item.data["content"]["logicalOperator"] == "AND"
    assert edge_target(flow, item.outgoing_edge_id) == "high"
    assert edge_target(flow, block.outgoing_edge_id) == "low"


def test_condition_mapping_all_any() -> None:
    blocks = one_group(
        """\
        - if: {var: score, op: Greater than, value: 5}
          then: A
        - if:
            all:
              - "{{a}} == 1"
              - {var: b, op: ">=", value: 2}
          then: A
        - if:
            any: ["{{a}} is set", "{{b}} is empty"]
          then: A
        """
    )
    conditions = [b.items[0].data["content"] for b in blocks]
    assert conditions[0] == {
        "logicalOperator": "AND",
        "comparisons": [{"id": "a.0.cmp0", "variableId": "score", "comparisonOperator": "Greater than", "value": "5"}],
    }
    assert conditions[1] == {
        "logicalOperator": "AND",
        "comparisons": [
            {"id": "a.1.cmp0", "variableId": "a", "comparisonOperator": "Equal to", "value": "1"},
            {"id": "a.1.cmp1", "variableId": "b", "comparisonOperator": "Greater or equal to", "value": "2"},
        ],
    }
    assert conditions[2]["logicalOperator"] == "OR"
    assert [c["comparisonOperator"] for c in conditions[2]["comparisons"]] == ["Is set", "Is empty"]


def test_set_forms() -> None:
    blocks = one_group(
        """\
        - set: {score: "{{score}} + 5", plan: pro, n: 3, gone: null, list: [a, b]}
        - set: total
          value: "{{a}} * 2"
        - set: items
          op: append
          value: "{{item}}"
        - set: items
          op: pop
          into: last
        - set: at
          op: now
          timezone: Europe/Paris
        - set: id
          op: random id
        - set: log
          op: transcript
        - set: x
          op: empty
        """
    )
    assert [(b.id, b.type, b.options) for b in blocks] == [
        ("a.0", "Set variable", {"variableId": "score", "expressionToEvaluate": "{{score}} + 5"}),
        ("a.0-1", "Set variable", {"variableId": "plan", "expressionToEvaluate": "pro"}),
        ("a.0-2", "Set variable", {"variableId": "n", "expressionToEvaluate": "3"}),
        ("a.0-3", "Set variable", {"variableId": "gone", "type": "Empty"}),
        ("a.0-4", "Set variable", {"variableId": "list", "expressionToEvaluate": '["a", "b"]'}),
        ("a.1", "Set variable", {"variableId": "total", "expressionToEvaluate": "{{a}} * 2"}),
        ("a.2", "Set variable", {"variableId": "items", "type": "Append value(s)", "item": "{{item}}"}),
        ("a.3", "Set variable", {"variableId": "items", "type": "Pop", "saveItemInVariableId": "last"}),
        ("a.4", "Set variable", {"variableId": "at", "type": "Now", "timeZone": "Europe/Paris"}),
        ("a.5", "Set variable", {"variableId": "id", "type": "Random ID"}),
        ("a.6", "Set variable", {"variableId": "log", "type": "Transcript"}),
        ("a.7", "Set variable", {"variableId": "x", "type": "Empty"}),
    ]
    assert all(b.line == 1 + 3 for b in blocks[:5])


def test_goto_wait_redirect_return() -> None:
    flow = compile_yaml(
        """\
        name: T
        groups:
          A:
            - goto: B
            - goto: "{{target}}"
            - wait: 2
            - wait: 0.5
              pause: true
            - redirect: https://x.test
              new_tab: true
            - return: true
          B: [end: true]
        """
    )
    assert [(b.type, b.options) for b in flow.groups[0].blocks] == [
        ("Jump", {"groupId": "b"}),
        ("Jump", {"groupId": "{{target}}"}),
        ("Wait", {"secondsToWaitFor": "2"}),
        ("Wait", {"secondsToWaitFor": "0.5", "shouldPause": True}),
        ("Redirect", {"url": "https://x.test", "isNewTab": True}),
        ("Return", {}),
    ]
    assert "target" in [v.name for v in flow.variables]


# --- implicit continuation -------------------------------------------------------------------


def test_groups_continue_into_the_next_unless_they_end() -> None:
    flow = compile_yaml(
        """\
        name: T
        groups:
          Plain: [say: a]
          If then only:
            - if: "{{x}} == 1"
              then: Plain
          Goto:
            - goto: Plain
          If else:
            - if: "{{x}} == 1"
              then: Plain
              else: Plain
          Returns: [return: true]
          Input: [ask: name]
          Ends:
            - say: bye
            - end: true
          Only end: [end: true]
          Last: [say: z]
        """
    )
    last = {g.title: g.blocks[-1].outgoing_edge_id if g.blocks else "(no blocks)" for g in flow.groups}
    assert edge_target(flow, last["Plain"]) == "if-then-only"
    assert edge_target(flow, last["If then only"]) == "goto"  # the "else" is the next group
    assert last["Goto"] is None
    assert edge_target(flow, last["If else"]) == "plain"
    assert last["Returns"] is None
    assert edge_target(flow, last["Input"]) == "ends"
    assert last["Ends"] is None
    assert last["Only end"] == "(no blocks)"
    assert last["Last"] is None


def test_mid_group_blocks_have_no_edges() -> None:
    blocks = one_group("- say: a\n- ask: b\n- say: c\n")
    assert [b.outgoing_edge_id for b in blocks] == [None, None, None]


# --- variables ------------------------------------------------------------------------------


def test_variables_declared_then_auto_declared_in_order() -> None:
    flow = compile_yaml(
        """\
        name: T
        variables: {score: 0, name: null, tags: [a, 1, null], flag: true}
        groups:
          A:
            - say: "Hi {{first}} {{name}} {{=inline code=}}"
            - ask: email
            - choice: [a]
              into: pick
            - if: "{{score}} > {{limit}}"
              then: A
            - set: items
              op: pop
              into: popped
            - goto: "{{target}}"
        """
    )
    assert [(v.id, v.name, v.value) for v in flow.variables] == [
        ("score", "score", "0"),
        ("name", "name", None),
        ("tags", "tags", ["a", "1", None]),
        ("flag", "flag", "true"),
        ("first", "first", None),
        ("email", "email", None),
        ("pick", "pick", None),
        ("limit", "limit", None),
        ("items", "items", None),
        ("popped", "popped", None),
        ("target", "target", None),
    ]


# --- errors with their lines -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("name: T\ngroups:\n  A:\n    - say: a: b\n", 4, "invalid YAML: mapping values are not allowed here"),
        ("name: T\ngroups:\n  A:\n    - say: hi\n  A:\n    - say: x\n", 5, "duplicate key 'A'"),
        ("groups:\n  A: [say: hi]\n", 1, "missing 'name'"),
        ("name: T\n", 1, "missing 'groups'"),
        ("name: T\ngroups: {}\n", 2, "groups: expected a mapping of group titles to blocks, got an empty mapping"),
        ("name: [x]\ngroups:\n  A: [say: a]\n", 1, "name: expected text, got a list"),
        (
            "name: T\ngruops: {}\n",
            2,
            "unknown key 'gruops' (known: name, id, variables, start, invalid_message, max_answer_bytes, groups)",
        ),
        ("- a\n- b\n", 1, "expected a mapping with name: and groups: (got a list)"),
        ("name: T\ngroups:\n  A: []\n", 3, "group 'A' is empty"),
        ("name: T\ngroups:\n  A:\n  B: [say: x]\n", 3, "group 'A' is empty"),
        ("name: T\ngroups:\n  A: hello\n", 3, "group 'A': expected a list of blocks, got 'hello'"),
        (
            "name: T\ngroups:\n  A:\n    - say: ok\n    - sya: hi\n",
            5,
            "unknown block 'sya' (known: say, image, video, audio, embed, ask, choice, rating, if, set, goto, wait, "
            "redirect, return, end)",
        ),
        ("name: T\ngroups:\n  A:\n    - say: hi\n      ask: x\n", 4, "one block per entry: found say and ask"),
        ("name: T\ngroups:\n  A:\n    - [a, b]\n", 4, "expected a block such as 'say: ...' or 'ask: name', got a list"),
        (
            "name: T\ngroups:\n  A:\n    - ask: age\n      type: number\n      min: abc\n",
            6,
            "min: expected a number, got 'abc'",
        ),
        ("name: T\ngroups:\n  A:\n    - ask: x\n      long: maybe\n", 5, "long: expected true or false, got 'maybe'"),
        ("name: T\ngroups:\n  A:\n    - rating: r\n      length: 2.5\n", 5, "length: expected a whole number, got 2.5"),
        (
            "name: T\ngroups:\n  A:\n    - ask: x\n\n      type: colour\n",
            6,
            "type: unknown input type 'colour' (known: text, number, email, url, phone, date, time, rating, file)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - ask: x\n      type: [a]\n",
            5,
            "type: unknown input type a list (known: text, number, email, url, phone, date, time, rating, file)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - ask: x\n      min: 3\n",
            5,
            "min: not an option of a text input (options: placeholder, button, retry, long)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - say: x\n      color: red\n",
            5,
            "say: unknown option 'color' (it takes no options)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - goto: Foo\n  B: [say: x]\n  C: [say: y]\n",
            4,
            "goto: no group named 'Foo' (groups: A, B, C)",
        ),
        ("name: T\nstart: Nope\ngroups:\n  A: [say: x]\n", 2, "start: no group named 'Nope' (groups: A)"),
        ("name: T\ngroups:\n  A:\n    - if: x == 1\n      then: B\n", 5, "then: no group named 'B' (groups: A)"),
        (
            "name: T\ngroups:\n  A:\n    - if: x == 1\n      then: A\n      else: C\n",
            6,
            "else: no group named 'C' (groups: A)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - if: x == 1\n",
            4,
            "if: missing 'then:' (the group to go to when the condition holds)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - choice:\n        - ok\n        - Go: Nowhere\n",
            6,
            "choice: no group named 'Nowhere' (groups: A)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - choice:\n        - Go: A\n      multiple: true\n",
            5,
            "choice: an item cannot go to a group when multiple: true",
        ),
        ("name: T\ngroups:\n  A:\n    - choice: []\n", 4, "choice: expected a list of items, got an empty list"),
        (
            "name: T\ngroups:\n  A:\n    - choice:\n        - label: x\n          goto: A\n          colour: red\n",
            7,
            "choice: unknown item key 'colour' (known: label, value, goto)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - if: '{{x}} is set 3'\n      then: A\n",
            4,
            "if: 'is set' takes no value, got '3'",
        ),
        (
            "name: T\ngroups:\n  A:\n    - if: '{{x}} =='\n      then: A\n",
            4,
            "if: missing a value after '==' (use \"\" for empty text)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - if: {var: x, op: bigger, value: 1}\n      then: A\n",
            4,
            "op: unknown operator 'bigger' (known: ==, !=, >, >=, <, <=, contains, not contains, starts with, ends "
            "with, matches, not matches, is set, is empty, Equal to, Not equal, Greater than, Greater or equal to, "
            "Less than, Less or equal to, Contains, Does not contain, Starts with, Ends with, Matches regex, Does not "
            "match regex, Is set, Is empty)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - set: x\n",
            4,
            "set: missing 'value:' (or give op: one of custom, empty, append, pop, shift, now, today, yesterday, tomorrow, random id, transcript)",
        ),
        (
            "name: T\ngroups:\n  A:\n    - set: x\n      op: explode\n",
            5,
            "op: unknown operation 'explode' (known: custom, empty, append, pop, shift, now, today, yesterday, tomorrow, random id, transcript)",
        ),
        ("name: T\ngroups:\n  A:\n    - set: x\n      op: now\n      value: 3\n", 6, "value: not used by op 'now'"),
        (
            "name: T\ngroups:\n  A:\n    - set: {x: 1}\n      op: now\n",
            5,
            "op: only with 'set: VARIABLE' (not with a mapping)",
        ),
        ("name: T\ngroups:\n  A:\n    - wait: soon\n", 4, "wait: expected a number, got 'soon'"),
        ("name: T\ngroups:\n  A:\n    - return: false\n", 4, "return: expected true, got False"),
        (
            "name: T\ngroups:\n  A:\n    - end: true\n    - say: x\n",
            4,
            "end: must be the last block of its group (blocks after it never run)",
        ),
        ("name: T\ngroups:\n  A:\n    - ask: ' name'\n", 4, "ask: expected a variable name, got ' name'"),
        (
            "name: T\ngroups:\n  A:\n    - say: hi\n    - say: 'Hi {{ name }}'\n",
            5,
            "say: '{{ name }}' has spaces inside the braces; write '{{name}}'",
        ),
        (
            "name: T\nvariables: {x: {a: 1}}\ngroups:\n  A: [say: hi]\n",
            2,
            "x: expected text, a number or a list, got a mapping",
        ),
        ("name: T\ngroups:\n  1: [say: hi]\n", 3, "group titles must be text, got 1"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    error = error_of(text)
    assert (error.path, error.line, error.reason) == (PATH, line, message)
    assert str(error) == f"{PATH}:{line}: {message}"


def test_yaml_syntax_error_line_from_parser() -> None:
    error = error_of("name: T\ngroups:\n  A:\n    - say: [unclosed\n    - say: x\n")
    assert error.line is not None and error.line >= 4
    assert error.reason.startswith("invalid YAML:")


# --- JSON -----------------------------------------------------------------------------------


def test_json_same_structure_with_lines() -> None:
    text = '{\n  "name": "T",\n  "groups": {\n    "A": [\n      {"say": "hi"},\n      {"goto": "Nope"}\n    ]\n  }\n}\n'
    with pytest.raises(FlowError) as info:
        flow_from_text(text, path="t.json", is_json=True)
    assert str(info.value) == "t.json:6: goto: no group named 'Nope' (groups: A)"


def test_json_keeps_lines_where_yaml_could_not_read_it() -> None:
    """JSON is parsed as JSON: tab indentation (not YAML) still gives the line."""
    text = '{\n\t"name": "T",\n\t"groups": {"A": [{"goto": "Nope"}]}\n}\n'
    with pytest.raises(FlowError) as info:
        flow_from_text(text, path="t.json", is_json=True)
    assert str(info.value) == "t.json:3: goto: no group named 'Nope' (groups: A)"


def test_json_duplicate_key_names_its_line() -> None:
    with pytest.raises(FlowError) as info:
        parse_json('{\n  "name": "T",\n  "name": "U"\n}', path="t.json")
    assert str(info.value) == "t.json:3: duplicate key 'name'"


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2.5, -3e2, true, false, null, "x\\u00e9\\n"], "b": {}, "c": [], "d": {"e": [[{}]]}}',
        "[]",
        '"just text"',
        "  42  ",
        '{"k": "a,b:c{}[]\\"q"}',
    ],
)
def test_json_data_equals_json_loads(text: str) -> None:
    assert parse_json(text, path="t.json") == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1,}',
        '{"a" 1}',
        "[1 2]",
        '{"a": }',
        "[1,]",
        "{} {}",
        '{"a": 1',
        "tru",
        '{"a": "b',
        '{"a\\q": 1}',
        '["\t"]',
    ],
)
def test_json_invalid_is_refused_like_json_loads(text: str) -> None:
    with pytest.raises(FlowError) as info:
        parse_json(text, path="t.json")
    assert info.value.reason.startswith("invalid JSON")


def test_json_numbers_keep_json_meaning() -> None:
    data = parse_json('{"a": 1e3, "b": "x"}', path="t.json")
    assert data == {"a": 1000.0, "b": "x"}


def test_invalid_json_names_line() -> None:
    with pytest.raises(FlowError) as info:
        parse_json('{\n  "name": "T",\n  oops\n}', path="t.json")
    assert (info.value.line, info.value.reason) == (
        3,
        "invalid JSON: Expecting property name enclosed in double quotes",
    )


def test_compile_plain_dicts() -> None:
    flow = compile_flow({"name": "T", "groups": {"A": [{"ask": "email"}]}}, path="x/t.json")
    assert flow.id == "t" and flow.groups[0].blocks[0].type == "email input"


def test_say_links_and_marks_become_rich_text() -> None:
    blocks = one_group(
        """\
        - say: "See [the docs](https://x.test/d), `code`, _this_ and snake_case_names"
        """
    )
    (paragraph,) = (blocks[0].content or {})["richText"]
    assert paragraph["children"] == [
        {"text": "See "},
        {"type": "a", "url": "https://x.test/d", "children": [{"text": "the docs"}]},
        {"text": ", "},
        {"text": "code", "code": True},
        {"text": ", "},
        {"text": "this", "italic": True},
        {"text": " and snake_case_names"},
    ]
