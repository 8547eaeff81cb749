"""The pure engine against small hand-built flows and a few corpus exports.

Expected transcripts follow ../shared/typebot-format.md (§5-§10) and Typebot's bot-engine.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from tests.corpus import corpus_dir
from tui import engine
from tui.flow.model import Block, Edge, Event, Flow, Group, Item, Variable
from tui.steps import Emitted, EngineState, as_json_data

NOW = datetime(2024, 5, 6, 14, 30, 15, 123000, tzinfo=UTC)
CORPUS = corpus_dir()


# ---------------------------------------------------------------------------------------------
# A tiny flow builder
# ---------------------------------------------------------------------------------------------

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def text(t: str, *, edge: str | None = None, id: str | None = None) -> Block:
    """A text bubble with one paragraph."""
    return Block(
        id=id or _id("b"),
        type="text",
        outgoing_edge_id=edge,
        content={"richText": [{"type": "p", "children": [{"text": t}]}]},
    )


def block(
    type_: str,
    *,
    edge: str | None = None,
    id: str | None = None,
    items: list[Item] | None = None,
    content: dict | None = None,
    **options: Any,
) -> Block:
    return Block(
        id=id or _id("b"), type=type_, outgoing_edge_id=edge, items=items or [], content=content, options=options
    )


def item(*, edge: str | None = None, id: str | None = None, **data: Any) -> Item:
    return Item(id=id or _id("i"), outgoing_edge_id=edge, data=data)


def cond(var_id: str, op: str, value: str | None = None) -> dict:
    comparison = {"id": _id("c"), "variableId": var_id, "comparisonOperator": op}
    if value is not None:
        comparison["value"] = value
    return {"logicalOperator": "AND", "comparisons": [comparison]}


class FB:
    """Flow builder: groups by title (id "g:<title>"), edges created on demand by `to()`."""

    def __init__(self, *, version: str = "6.1", id: str = "flow") -> None:
        self.version, self.id = version, id
        self.groups: list[Group] = []
        self.edges: list[Edge] = []
        self.variables: list[Variable] = []
        self.events: list[Event] = []
        self.linked: dict[str, Flow] = {}

    def var(self, name: str, value: Any = None, id: str | None = None) -> str:
        vid = id or f"v:{name}"
        self.variables.append(Variable(id=vid, name=name, value=value))
        return vid

    def to(self, title: str, block_id: str | None = None) -> str:
        eid = _id("e")
        self.edges.append(
            msgspec.convert(
                {"id": eid, "from": {"block_id": "x"}, "to": {"group_id": f"g:{title}", "block_id": block_id}}, Edge
            )
        )
        return eid

    def group(self, title: str, *blocks: Block) -> str:
        self.groups.append(Group(id=f"g:{title}", title=title, blocks=list(blocks)))
        return f"g:{title}"

    def start(self, title: str) -> None:
        self.events.insert(0, Event(id="start", type="start", outgoing_edge_id=self.to(title)))

    def event(self, type_: str, title: str, **options: Any) -> None:
        self.events.append(Event(id=_id("ev"), type=type_, outgoing_edge_id=self.to(title), options=options))

    def build(self) -> Flow:
        return Flow(
            id=self.id,
            name=self.id,
            version=self.version,
            source_format="typebot",
            events=self.events,
            groups=self.groups,
            edges=self.edges,
            variables=self.variables,
            linked=self.linked,
        )


def lines(events: list[Emitted]) -> list[str]:
    """A readable transcript of a step's events."""
    out = []
    for e in events:
        d = e.data
        if e.type == "message":
            out.append(
                ("retry: " if d.get("retry") else f"{d['kind']}: " if d["kind"] != "text" else "bot: ") + d["text"]
            )
        elif e.type == "input":
            out.append(f"input: {d['kind']}")
        elif e.type in ("note", "error"):
            out.append(f"{e.type}: {d['text']}")
        elif e.type == "answer":
            out.append(f"answer: {d['content']}")
        elif e.type == "wait":
            out.append(f"wait: {d['seconds']}")
        elif e.type == "variables":
            out.append(f"vars: {sorted(d['changes'].items(), key=str)}")
        else:
            out.append(e.type)
    return out


def bot_lines(events: list[Emitted]) -> list[str]:
    return [line for line in lines(events) if not line.startswith("vars")]


def play(flow: Flow, *answers: str, seed: int = 7) -> tuple[EngineState, list[str]]:
    result = engine.start(flow, now=NOW, seed=seed)
    out = bot_lines(result.events)
    state = result.state
    for text_ in answers:
        result = engine.answer(flow, state, text_, now=NOW)
        state = result.state
        out += bot_lines(result.events)
    return state, out


# ---------------------------------------------------------------------------------------------
# Bubbles, inputs, ends
# ---------------------------------------------------------------------------------------------


def test_bubbles_then_input_then_end() -> None:
    fb = FB()
    name = fb.var("Name")
    fb.group(
        "A",
        text("Hello"),
        block("image", content={"url": "https://x/y.png"}),
        block("video", content={}),  # no content -> skipped
        block("text input", variableId=name, edge=fb.to("B")),
    )
    fb.group("B", text("Hi {{Name}}"))
    fb.start("A")
    flow = fb.build()
    first = engine.start(flow, now=NOW, seed=1)
    assert bot_lines(first.events) == ["bot: Hello", "image: [image: https://x/y.png]", "input: text"]
    assert first.state.waiting is not None and first.state.status == "active"
    spec = engine.describe_input(flow, first.state)
    assert spec is not None and spec.placeholder == "Type your answer..." and spec.button == "Send"
    second = engine.answer(flow, first.state, "Ada", now=NOW)
    assert lines(second.events) == ["answer: Ada", "bot: Hi Ada", "vars: [('Name', 'Ada')]", "end"]
    assert second.state.status == "completed" and second.state.waiting is None
    assert second.state.variables[name] == "Ada"


def test_image_message_fields() -> None:
    fb = FB()
    fb.group("A", block("image", content={"url": "https://x/{{P}}.png"}))
    fb.var("P", "cat")
    fb.start("A")
    event = engine.start(fb.build(), now=NOW, seed=1).events[0]
    assert event.data == {
        "kind": "image",
        "text": "[image: https://x/cat.png]",
        "markdown": "[image: https://x/cat.png]",
        "url": "https://x/cat.png",
    }


def test_no_start_edge_ends_at_once() -> None:
    fb = FB()
    fb.group("A", text("never"))
    result = engine.start(fb.build(), now=NOW, seed=1)
    assert lines(result.events) == ["end"]


def test_next_block_in_group_after_input_without_edge() -> None:
    fb = FB()
    fb.group("A", block("text input"), text("same group"))
    fb.start("A")
    _, out = play(fb.build(), "x")
    assert out == ["input: text", "answer: x", "bot: same group", "end"]


def test_input_retry_on_invalid_email() -> None:
    fb = FB()
    email = fb.var("Email")
    fb.group("A", block("email input", variableId=email), text("ok {{Email}}"))
    fb.start("A")
    _, out = play(fb.build(), "nope", "ME@Example.com")
    assert out == [
        "input: email",
        "retry: This email doesn't seem to be valid. Can you type it again?",
        "input: email",
        "answer: me@example.com",
        "bot: ok me@example.com",
        "end",
    ]


def test_number_retry_uses_flow_invalid_message() -> None:
    fb = FB()
    fb.group("A", block("number input"), text("done"))
    fb.start("A")
    flow = msgspec.structs.replace(fb.build(), invalid_message="Nope!")
    _, out = play(flow, "abc", "3")
    assert out == ["input: number", "retry: Nope!", "input: number", "answer: 3", "bot: done", "end"]


def test_choice_item_edges_and_specs() -> None:
    fb = FB()
    fb.group(
        "A", block("choice input", items=[item(content="Yes", edge=fb.to("Y")), item(content="No", edge=fb.to("N"))])
    )
    fb.group("Y", text("yes!"))
    fb.group("N", text("no!"))
    fb.start("A")
    flow = fb.build()
    first = engine.start(flow, now=NOW, seed=1)
    spec = first.state.input
    assert spec is not None and spec.kind == "choice" and [c.label for c in spec.choices] == ["Yes", "No"]
    assert bot_lines(engine.answer(flow, first.state, "No", now=NOW).events) == ["answer: No", "bot: no!", "end"]


def test_answer_appends_when_variable_holds_a_list() -> None:
    fb = FB()
    tags = fb.var("Tags", ["a"])
    fb.group("A", block("text input", variableId=tags))
    fb.start("A")
    state, _ = play(fb.build(), "b")
    assert state.variables[tags] == ["a", "b"]


def test_rating_spec_defaults() -> None:
    fb = FB()
    fb.group("A", block("rating input"))
    fb.start("A")
    spec = engine.start(fb.build(), now=NOW, seed=1).state.input
    assert spec is not None and (spec.rating_from, spec.rating_to) == (0, 10)
    fb2 = FB()
    fb2.group("A", block("rating input", buttonType="Icons", length=5))
    fb2.start("A")
    spec2 = engine.start(fb2.build(), now=NOW, seed=1).state.input
    assert spec2 is not None and (spec2.rating_from, spec2.rating_to) == (1, 5)


def test_prefill_and_prefilled_variables() -> None:
    fb = FB()
    name = fb.var("Name")
    fb.group("A", block("text input", variableId=name))
    fb.start("A")
    result = engine.start(fb.build(), now=NOW, seed=1, prefilled={"Name": "Bob", "Unknown": "x"})
    assert result.state.input is not None and result.state.input.prefill == "Bob"
    assert result.state.variables == {name: "Bob"}
    assert lines(result.events) == ["vars: [('Name', 'Bob')]", "input: text"]


def test_payment_input_is_skipped_with_a_note() -> None:
    fb = FB()
    fb.group("A", block("payment input", edge=fb.to("B")))
    fb.group("B", text("after"))
    fb.start("A")
    _, out = play(fb.build())
    assert out == ["note: skipped payment input: payments are not supported in a terminal", "bot: after", "end"]


def test_take_latest_if_list_before_v6() -> None:
    for version, expected in (("5", "bot: b"), ("6.1", 'bot: ["a","b"]')):
        fb = FB(version=version)
        fb.var("L", ["a", "b"])
        fb.group("A", text("{{L}}"))
        fb.start("A")
        assert play(fb.build())[1][0] == expected


# ---------------------------------------------------------------------------------------------
# Logic
# ---------------------------------------------------------------------------------------------


def test_condition_first_true_item_else_and_fall_through() -> None:
    fb = FB()
    age = fb.var("Age")
    fb.group("Ask", block("number input", variableId=age, edge=fb.to("C")))
    fb.group(
        "C",
        block(
            "Condition",
            edge=fb.to("Young"),
            items=[
                item(content=cond(age, "Greater than", "80"), edge=fb.to("Old")),
                item(content=cond(age, "Greater than", "20"), edge=fb.to("Mid")),
            ],
        ),
    )
    fb.group("Old", text("old"))
    fb.group("Mid", text("mid"))
    fb.group(
        "Young",
        text("young"),
        block("Condition", items=[item(content=cond(age, "Less or equal to", "20"))]),
        text("never shown"),
    )
    fb.start("Ask")
    flow = fb.build()
    assert play(flow, "90")[1][-2:] == ["bot: old", "end"]
    assert play(flow, "30")[1][-2:] == ["bot: mid", "end"]
    # item without edge: the flow ends right there
    assert play(flow, "10")[1][-2:] == ["bot: young", "end"]


def test_condition_no_match_mid_group_falls_through() -> None:
    fb = FB()
    x = fb.var("X", "1")
    fb.group(
        "A", block("Condition", items=[item(content=cond(x, "Equal to", "2"), edge=fb.to("B"))]), text("fell through")
    )
    fb.group("B", text("B"))
    fb.start("A")
    assert play(fb.build())[1] == ["bot: fell through", "end"]


def test_set_variable_custom_and_empty() -> None:
    fb = FB()
    score = fb.var("Score", "3")
    other = fb.var("Other", "x")
    fb.group(
        "A",
        block("Set variable", variableId=score, expressionToEvaluate="{{Score}} + 5"),
        block("Set variable", variableId=other, type="Empty"),
        text("{{Score}}|{{Other}}|"),
    )
    fb.start("A")
    result = engine.start(fb.build(), now=NOW, seed=1)
    assert lines(result.events) == ["bot: 8||", "vars: [('Other', None), ('Score', '8')]", "end"]


def test_set_variable_append_pop_shift() -> None:
    fb = FB()
    lst = fb.var("L")
    got = fb.var("Got")
    fb.group(
        "A",
        block("Set variable", variableId=lst, type="Append value(s)", item="a"),
        block("Set variable", variableId=lst, type="Append value(s)", item="b"),
        block("Set variable", variableId=lst, type="Append value(s)", item="c"),
        block("Set variable", variableId=lst, type="Pop", saveItemInVariableId=got),
        text("{{L}} {{Got}}"),
        block("Set variable", variableId=lst, type="Shift", saveItemInVariableId=got),
        text("{{L}} {{Got}}"),
    )
    fb.start("A")
    assert play(fb.build())[1] == ['bot: ["a","b"] c', 'bot: ["b"] a', "end"]


def test_set_variable_append_to_scalar() -> None:
    fb = FB()
    lst = fb.var("L", "x")
    fb.group("A", block("Set variable", variableId=lst, type="Append value(s)", item="{{L}}!"))
    fb.start("A")
    assert engine.start(fb.build(), now=NOW, seed=1).state.variables[lst] == ["x", "x!"]


def test_set_variable_dates_and_environment() -> None:
    fb = FB()
    ids = {k: fb.var(k) for k in ("Now", "Today", "Yesterday", "Tomorrow", "Env", "Moment", "Paris")}
    fb.group(
        "A",
        block("Set variable", variableId=ids["Now"], type="Now"),
        block("Set variable", variableId=ids["Today"], type="Today"),
        block("Set variable", variableId=ids["Yesterday"], type="Yesterday"),
        block("Set variable", variableId=ids["Tomorrow"], type="Tomorrow"),
        block("Set variable", variableId=ids["Env"], type="Environment name"),
        block("Set variable", variableId=ids["Moment"], type="Moment of the day"),
        block("Set variable", variableId=ids["Paris"], type="Now", timeZone="Europe/Paris"),
    )
    fb.start("A")
    values = engine.start(fb.build(), now=NOW, seed=1).state.variables
    assert values[ids["Now"]] == "2024-05-06T14:30:15.123Z"
    assert values[ids["Today"]] == "2024-05-06T14:30:15.123Z"
    assert values[ids["Yesterday"]] == "2024-05-05T14:30:15.123Z"
    assert values[ids["Tomorrow"]] == "2024-05-07T14:30:15.123Z"
    assert values[ids["Env"]] == "web"
    assert values[ids["Moment"]] == "afternoon"
    assert values[ids["Paris"]] == "2024-05-06T16:30:15+02:00"


def test_set_variable_ids_are_seeded() -> None:
    fb = FB()
    rid, uid, res = fb.var("R"), fb.var("U"), fb.var("Res")
    fb.group(
        "A",
        block("Set variable", variableId=rid, type="Random ID"),
        block("Set variable", variableId=uid, type="User ID"),
        block("Set variable", variableId=res, type="Result ID"),
    )
    fb.start("A")
    flow = fb.build()
    one = engine.start(flow, now=NOW, seed=5).state
    two = engine.start(flow, now=NOW, seed=5).state
    other = engine.start(flow, now=NOW, seed=6).state
    assert one.variables == two.variables
    assert one.variables[rid] != other.variables[rid]
    random_id = one.variables[rid]
    assert isinstance(random_id, str) and len(random_id) >= 24 and random_id[0].isalpha()
    assert one.variables[uid] == one.variables[res]
    assert one.rng_counter == 1


def test_set_variable_map_item_with_same_index() -> None:
    fb = FB()
    names = fb.var("Names", ["a", "b", "c"])
    codes = fb.var("Codes", ["1", "2", "3"])
    pick = fb.var("Pick", "b")
    out = fb.var("Out", "old")
    fb.group(
        "A",
        block(
            "Set variable",
            variableId=out,
            type="Map item with same index",
            mapListItemParams={"baseItemVariableId": pick, "baseListVariableId": names, "targetListVariableId": codes},
        ),
    )
    fb.start("A")
    assert engine.start(fb.build(), now=NOW, seed=1).state.variables[out] == "2"


def test_set_variable_client_side_runs_here() -> None:
    # The terminal is the client: the code runs; `location` does not exist here, so Typebot's
    # error fallback (the substituted text) is stored.
    fb = FB()
    url = fb.var("URL", "keep")
    fb.var("BMI", "25.71")
    label = fb.var("Label")
    code = "if ({{BMI}} < 25) return 'Normal'\nelse if ({{BMI}} < 30) return 'Sobrepeso'\nreturn 'Obesidade'"
    fb.group(
        "A",
        block("Set variable", variableId=url, isExecutedOnClient=True, expressionToEvaluate="location.href"),
        block("Set variable", variableId=label, isExecutedOnClient=True, expressionToEvaluate=code),
        text("{{URL}} {{Label}}"),
    )
    fb.start("A")
    assert play(fb.build())[1] == [
        "note: client script failed (Set variable URL): ReferenceError: location is not defined; its text is stored",
        "bot: location.href Sobrepeso",
        "end",
    ]


def test_transcript_variable() -> None:
    fb = FB()
    answer_ = fb.var("Answer")
    tr = fb.var("T")
    fb.group(
        "A",
        text("How are you?"),
        block("text input", variableId=answer_),
        block("Set variable", variableId=tr, type="Transcript"),
        text("{{T}}"),
    )
    fb.start("A")
    _, out = play(fb.build(), "fine")
    assert out[-2] == 'bot: Assistant: "How are you?"\n\nUser: "fine"' or out[-2].startswith(
        'bot: Assistant: "How are you?"'
    )
    state = engine.start(fb.build(), now=NOW, seed=1).state
    assert state.transcript == [{"role": "bot", "text": "How are you?"}]


def test_transcript_not_kept_when_unused() -> None:
    fb = FB()
    fb.group("A", text("hi"), block("text input"))
    fb.start("A")
    assert engine.start(fb.build(), now=NOW, seed=1).state.transcript is None


def test_jump_and_return() -> None:
    fb = FB()
    fb.group("A", text("one"), block("Jump", groupId="g:B"), text("three"))
    fb.group("B", text("two"), block("Return"), text("not shown"))
    fb.start("A")
    assert play(fb.build())[1] == ["bot: one", "bot: two", "bot: three", "end"]


def test_jump_by_title_variable_and_to_block() -> None:
    fb = FB()
    fb.var("Target", "Second")
    fb.group("A", block("Jump", groupId="{{Target}}"))
    target_block = text("two", id="tb")
    fb.group("Second", text("skipped"), target_block)
    fb.group("C", block("Jump", groupId="g:Second", blockId="tb"))
    fb.start("A")
    assert play(fb.build())[1] == ["bot: skipped", "bot: two", "end"]
    fb2 = FB()
    fb2.group("A", block("Jump", groupId="g:Second", blockId="tb"))
    fb2.group("Second", text("skipped"), text("two", id="tb"))
    fb2.start("A")
    assert play(fb2.build())[1] == ["bot: two", "end"]


def test_jump_to_missing_group_ends_path() -> None:
    fb = FB()
    fb.group("A", block("Jump", groupId="nowhere"), text("after"))
    fb.start("A")
    assert play(fb.build())[1] == ["end"]


def test_return_without_mark_falls_through() -> None:
    fb = FB()
    fb.group("A", block("Return"), text("next"))
    fb.start("A")
    assert play(fb.build())[1] == ["bot: next", "end"]


def test_ab_test_is_seeded_and_respects_percent() -> None:
    fb = FB()
    fb.group(
        "A", block("AB test", aPercent=50, items=[item(path="a", edge=fb.to("PA")), item(path="b", edge=fb.to("PB"))])
    )
    fb.group("PA", text("A"))
    fb.group("PB", text("B"))
    fb.start("A")
    flow = fb.build()
    seen = {play(flow, seed=s)[1][0] for s in range(40)}
    assert seen == {"bot: A", "bot: B"}
    assert play(flow, seed=3) == play(flow, seed=3)
    fb_all_b = FB()
    fb_all_b.group(
        "A",
        block(
            "AB test",
            aPercent=0,
            items=[item(path="a", edge=fb_all_b.to("PA")), item(path="b", edge=fb_all_b.to("PB"))],
        ),
    )
    fb_all_b.group("PA", text("A"))
    fb_all_b.group("PB", text("B"))
    fb_all_b.start("A")
    assert {play(fb_all_b.build(), seed=s)[1][0] for s in range(10)} == {"bot: B"}


def test_wait_and_pausing_wait() -> None:
    fb = FB()
    fb.group(
        "A",
        block("Wait", secondsToWaitFor="2"),
        text("a"),
        block("Wait", secondsToWaitFor="1", shouldPause=True),
        text("b"),
    )
    fb.start("A")
    flow = fb.build()
    first = engine.start(flow, now=NOW, seed=1)
    assert lines(first.events) == ["wait: 2.0", "bot: a", "wait: 1.0", "input: pause"]
    assert lines(engine.answer(flow, first.state, "", now=NOW).events) == ["answer: ", "bot: b", "end"]


def test_redirect_code_and_integrations() -> None:
    fb = FB()
    fb.var("Site", "example.org")
    fb.group(
        "A",
        block("Redirect", url="https://{{Site}}"),
        Block(id=_id("b"), type="Code", options={"name": "Script", "content": "window.alert('hi')"}),
        Block(
            id=_id("b"),
            type="Code",
            options={"name": "Server", "isExecutedOnClient": False, "content": "setVariable('Site', 'x.org')"},
        ),
        block("Code", name="Empty"),
        text("{{Site}}"),
        block("OpenAI", edge=fb.to("B")),
    )
    fb.group("B", block("openai"), block("qr-code"), block("webhook"), block("Google Sheets"), text("done"))
    fb.start("A")
    assert play(fb.build())[1] == [
        "link: Open: https://example.org",
        "note: script Script failed: ReferenceError: window is not defined",
        "bot: x.org",
        "note: skipped integration: OpenAI",
        "note: skipped integration: openai",
        "note: skipped integration: qr-code",
        "note: skipped integration: webhook",
        "note: skipped integration: Google Sheets",
        "bot: done",
        "end",
    ]


def test_embed_waiting_for_event_stores_reply() -> None:
    fb = FB()
    data = fb.var("Data")
    fb.group(
        "A",
        block(
            "embed",
            content={
                "url": "https://e",
                "waitForEvent": {"isEnabled": True, "name": "ev", "saveDataInVariableId": data},
            },
        ),
        text("{{Data}}"),
    )
    fb.start("A")
    flow = fb.build()
    first = engine.start(flow, now=NOW, seed=1)
    assert bot_lines(first.events) == ["embed: [embed: https://e]", "input: embed"]
    second = engine.answer(flow, first.state, '{"a": 1}', now=NOW)
    assert second.state.variables[data] == '{"a":1}'


# ---------------------------------------------------------------------------------------------
# Typebot links
# ---------------------------------------------------------------------------------------------


def _child(merge_version: str = "6.1") -> Flow:
    fb = FB(id="child", version=merge_version)
    name = fb.var("Name", id="child-name")
    fb.group("C1", text("child sees {{Name}}"), block("Set variable", variableId=name, expressionToEvaluate="Zed"))
    fb.start("C1")
    return fb.build()


def test_link_to_other_flow_and_back() -> None:
    for merge, expected in ((True, "Zed"), (None, "Ann")):
        fb = FB()
        fb.var("Name", "Ann")
        opts: dict[str, Any] = {"typebotId": "child"} | ({"mergeResults": merge} if merge is not None else {})
        fb.group("A", text("parent"), block("Typebot link", **opts), text("back {{Name}}"))
        fb.start("A")
        fb.linked["child"] = _child()
        _, out = play(fb.build())
        assert out == ["bot: parent", "bot: child sees Ann", f"bot: back {expected}", "end"], merge


def test_link_merge_defaults_true_before_v6() -> None:
    fb = FB(version="5")
    fb.var("Name", "Ann")
    fb.group("A", block("Typebot link", typebotId="child"), text("back {{Name}}"))
    fb.start("A")
    fb.linked["child"] = _child()
    assert play(fb.build())[1][-2] == "bot: back Zed"


def test_link_input_inside_linked_flow() -> None:
    child = FB(id="child")
    cname = child.var("Name", id="cn")
    child.group("C", block("text input", variableId=cname), text("child got {{Name}}"))
    child.start("C")
    fb = FB()
    fb.var("Name")
    fb.group("A", block("Typebot link", typebotId="child", mergeResults=True), text("parent {{Name}}"))
    fb.start("A")
    fb.linked["child"] = child.build()
    _state, out = play(fb.build(), "Kim")
    assert out == ["input: text", "answer: Kim", "bot: child got Kim", "bot: parent Kim", "end"]


def test_link_current_group_resumes_after_link() -> None:
    fb = FB()
    fb.group("A", block("Typebot link", typebotId="current", groupId="g:B"), text("after"))
    fb.group("B", text("in B"))
    fb.start("A")
    assert play(fb.build())[1] == ["bot: in B", "bot: after", "end"]


def test_link_unknown_flow_is_noted() -> None:
    fb = FB()
    fb.group("A", block("Typebot link", typebotId="ghost"), text("after"))
    fb.start("A")
    assert play(fb.build())[1] == [
        "note: skipped Typebot link: linked flow ghost is not available",
        "bot: after",
        "end",
    ]


# ---------------------------------------------------------------------------------------------
# Events: command, reply, invalidReply
# ---------------------------------------------------------------------------------------------


def test_command_event_and_return_reasks_input() -> None:
    fb = FB()
    fb.group("A", text("hello"), block("text input"), text("thanks"))
    fb.group("Help", text("help text"), block("Return"))
    fb.group("Bye", text("bye"))
    fb.start("A")
    fb.event("command", "Help", command="help")
    fb.event("command", "Bye", command="leave")
    flow = fb.build()
    first = engine.start(flow, now=NOW, seed=1)
    helped = engine.command(flow, first.state, "/help", now=NOW)
    assert lines(helped.events) == ["bot: help text", "input: text"]
    assert lines(engine.answer(flow, helped.state, "x", now=NOW).events) == ["answer: x", "bot: thanks", "end"]
    assert lines(engine.command(flow, first.state, "leave", now=NOW).events) == ["bot: bye", "end"]
    unknown = engine.command(flow, first.state, "nope", now=NOW)
    assert lines(unknown.events) == ["note: unknown command: /nope", "input: text"]


def test_invalid_reply_event() -> None:
    fb = FB()
    content = fb.var("Content")
    fb.group("A", block("email input"), text("ok"))
    fb.group("Bad", text("bad: {{Content}}"), block("Return"))
    fb.start("A")
    fb.event("invalidReply", "Bad", contentVariableId=content)
    _, out = play(fb.build(), "nope", "a@b.co")
    assert out == ["input: email", "bot: bad: nope", "input: email", "answer: a@b.co", "bot: ok", "end"]


# ---------------------------------------------------------------------------------------------
# Engine guarantees
# ---------------------------------------------------------------------------------------------


def test_step_limit_stops_a_loop_without_input() -> None:
    fb = FB()
    fb.group("A", text("spin"), block("Jump", groupId="g:A"))
    fb.start("A")
    result = engine.start(fb.build(), now=NOW, seed=1)
    assert result.events[-1].type == "error"
    assert result.events[-1].data["text"].startswith("stopped in group 'A': the flow ran 1000 blocks")
    assert result.state.status == "completed" and result.state.waiting is None
    assert sum(1 for e in result.events if e.type == "message") == engine.MAX_BLOCKS_PER_STEP // 2


def test_determinism_and_immutability() -> None:
    fb = FB()
    r = fb.var("R")
    fb.group(
        "A",
        block("Set variable", variableId=r, type="Random ID"),
        text("{{R}}"),
        block("text input", variableId=fb.var("In")),
        text("bye"),
    )
    fb.start("A")
    flow = fb.build()
    one, two = engine.start(flow, now=NOW, seed=9), engine.start(flow, now=NOW, seed=9)
    assert one.events == two.events and one.state == two.state
    before = as_json_data(one.state)
    after = engine.answer(flow, one.state, "hey", now=NOW)
    assert as_json_data(one.state) == before
    assert after.state is not one.state
    assert engine.answer(flow, after.state, "again", now=NOW).events == []


# ---------------------------------------------------------------------------------------------
# Corpus exports
# ---------------------------------------------------------------------------------------------


def _load(name: str) -> Flow:
    typebot = pytest.importorskip("tui.flow.typebot")
    if CORPUS is None or not (CORPUS / name).exists():
        pytest.skip("corpus not available (set STEADYCHAT_CORPUS)")
    path = CORPUS / name
    return typebot.load_typebot_file(path)


def test_corpus_condition() -> None:
    flow = _load("condition.json")
    assert play(flow, "90")[1] == [
        "bot: How old are you?",
        "input: number",
        "answer: 90",
        "bot: You are older than 80",
        "end",
    ]
    assert play(flow, "10")[1][-2:] == ["bot: You are younger than 20", "end"]


def test_corpus_return() -> None:
    flow = _load("return.json")
    assert play(flow, "Hi!", "Bob")[1] == [
        "bot: Hey!",
        "input: choice",
        "answer: Hi!",
        "bot: What's your name?",
        "input: text",
        "answer: Bob",
        "end",
    ]


def test_corpus_link_typebots() -> None:
    flow = _load("linkTypebots-1.json")
    if "cl0ibhv8d0130n21aw8doxhj5" not in flow.linked:
        pytest.skip("importer does not resolve linked exports")
    assert play(flow, "hi", "there")[1] == [
        "bot: Hey!",
        "input: text",
        "answer: hi",
        "bot: First test message",
        "note: client script failed (Set variable URL): ReferenceError: location is not defined; its text is stored",
        "input: text",
        "answer: there",
        "bot: Cheers!",
        "bot: test 3",
        "bot: end 3",
        "bot: End",
        "end",
    ]


def test_corpus_command_event() -> None:
    flow = _load("commandEvent.json")
    first = engine.start(flow, now=NOW, seed=1)
    assert bot_lines(first.events)[-1] == "input: choice"
    wizz = engine.command(flow, first.state, "wizz", now=NOW)
    assert bot_lines(wizz.events) == ["bot: Wizzzzz", "input: choice"]
    assert bot_lines(engine.command(flow, wizz.state, "leave", now=NOW).events) == ["bot: Leaving!", "end"]


def test_corpus_reply_event() -> None:
    flow = _load("replyEvent.json")
    _state, out = play(flow, "Hi!", "Baptiste", "baptiste@typebot.io")
    assert out[3:] == [
        "answer: Hi!",
        "bot: Hi!",
        "bot: buttons",
        "bot: Welcome",
        "bot: What's your name?",
        "input: text",
        "answer: Baptiste",
        "bot: Baptiste",
        "bot: text",
        "bot: Name",
        "bot: Great! Nice to meet you Baptiste",
        "bot: What's the best email we can reach you at?",
        "input: email",
        "answer: baptiste@typebot.io",
        "bot: What services are you interested in?",
        "input: choice",
    ]
    _, left = play(flow, "Hi!", "leave")
    assert left[-1] == "end"


def test_corpus_transcript() -> None:
    flow = _load("transcript.json")
    _, out = play(flow, "hey", "hey 2", "hey 3")
    assert out[-2].startswith('bot: Assistant: "Let me think..."')
    assert out[-1] == "end"


def test_reply_event_return_resubmits_reply() -> None:
    fb = FB()
    last = fb.var("Last")
    kind = fb.var("Kind")
    name = fb.var("Name")
    fb.group("A", block("text input", variableId=name), text("hi {{Name}}"))
    fb.group("R", text("{{Last}}/{{Kind}}"), block("Return"))
    fb.start("A")
    fb.event("reply", "R", contentVariableId=last, inputTypeVariableId=kind)
    _, out = play(fb.build(), "Sam")
    assert out == ["input: text", "answer: Sam", "bot: Sam/text", "bot: hi Sam", "end"]


def test_reply_event_without_return_ends() -> None:
    fb = FB()
    fb.group("A", block("text input"), text("never"))
    fb.group("R", text("caught"))
    fb.start("A")
    fb.event("reply", "R")
    assert play(fb.build(), "x")[1] == ["input: text", "answer: x", "bot: caught", "end"]


def test_one_variables_event_per_step_before_terminal() -> None:
    fb = FB()
    a, b = fb.var("A"), fb.var("B")
    fb.group(
        "G",
        block("Set variable", variableId=a, expressionToEvaluate="1"),
        text("x"),
        block("Set variable", variableId=b, expressionToEvaluate="2"),
        block("Set variable", variableId=a, expressionToEvaluate="3"),
        block("text input"),
    )
    fb.start("G")
    events = engine.start(fb.build(), now=NOW, seed=1).events
    assert [e.type for e in events] == ["message", "variables", "input"]
    assert events[1].data == {"changes": {"A": "3", "B": "2"}}


def test_command_resume_after_returns_to_input() -> None:
    fb = FB()
    fb.group("A", block("text input"), text("thanks"))
    fb.group("Help", text("help text"))
    fb.start("A")
    fb.event("command", "Help", command="help", resumeAfter=True)
    flow = fb.build()
    first = engine.start(flow, now=NOW, seed=1)
    assert lines(engine.command(flow, first.state, "help", now=NOW).events) == ["bot: help text", "input: text"]


def test_linked_flow_variables_do_not_leak_ids() -> None:
    fb = FB()
    fb.var("Name", "Ann")
    fb.group("A", block("Typebot link", typebotId="child", mergeResults=True), block("text input"))
    fb.start("A")
    fb.linked["child"] = _child()
    state = engine.start(fb.build(), now=NOW, seed=1).state
    assert state.variables == {"v:Name": "Zed"}
    assert state.link_stack == [] and state.link_frames == []


def test_scripts_replay_identically() -> None:
    """Replay feeds the same seed and event times: scripts must compute the same values."""
    fb = FB()
    r = fb.var("R")
    d = fb.var("D")
    fb.group(
        "A",
        block("Set variable", variableId=r, expressionToEvaluate="Math.floor(Math.random() * 1e9)"),
        block("Set variable", variableId=d, expressionToEvaluate="new Date().toISOString()"),
        text("{{R}} {{D}}"),
    )
    fb.start("A")
    flow = fb.build()
    first = lines(engine.start(flow, now=NOW, seed=1).events)
    assert first == lines(engine.start(flow, now=NOW, seed=1).events)
    assert first != lines(engine.start(flow, now=NOW, seed=2).events)
    assert first[0].endswith(" 2024-05-06T14:30:15.123Z")  # the step's now, milliseconds kept


# ---------------------------------------------------------------------------------------------
# Options of the wrong type (hand-edited exports): no traceback, and a state the store reads back
# ---------------------------------------------------------------------------------------------


def _read_back(state: EngineState) -> EngineState:
    """The state as the store reads it (a Struct's constructor checks nothing; a read does)."""
    return msgspec.json.decode(msgspec.json.encode(state), type=EngineState)


def test_a_condition_block_whose_variable_id_is_an_object_reads_it_as_unknown() -> None:
    fb = FB()
    comparison = {"id": "c", "variableId": {"a": 1}, "comparisonOperator": "Is empty"}
    fb.group(
        "A",
        block("Condition", items=[item(edge=fb.to("B"), content={"comparisons": [comparison]})]),
        text("else"),
    )
    fb.group("B", text("empty"))
    fb.start("A")
    assert play(fb.build())[1] == ["bot: empty", "end"]


def test_an_input_whose_variable_id_is_an_object_saves_nothing() -> None:
    fb = FB()
    fb.var("Name")
    fb.group("A", block("text input", variableId={"a": 1}), text("bye"))
    fb.start("A")
    state, out = play(fb.build(), "Bob")
    assert out == ["input: text", "answer: Bob", "bot: bye", "end"]
    assert _read_back(state).variables == {}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"startsAt": "abc", "length": [3, 4]}, (0, 10)),
        ({"startsAt": {"a": 1}, "length": "{{X}}"}, (0, 10)),
        ({"startsAt": "2", "length": 7.9}, (2, 7)),  # as before: a numeric text, a whole part
        ({"startsAt": 1, "length": 5}, (1, 5)),
    ],
)
def test_a_rating_bound_that_is_not_a_number_takes_its_default(options: dict, expected: tuple[int, int]) -> None:
    fb = FB()
    fb.group("A", block("rating input", **options))
    fb.start("A")
    spec = _read_back(engine.start(fb.build(), now=NOW, seed=1).state).input
    assert spec is not None and (spec.rating_from, spec.rating_to) == expected


def test_a_picture_choice_or_card_title_that_is_not_text_is_answered_by_its_js_text() -> None:
    fb = FB()
    saved = fb.var("Saved")
    pictures = [item(id="p1", title=5, pictureSrc="http://a"), item(id="p2", title={"a": 1}, pictureSrc="http://b")]
    fb.group(
        "A",
        block("picture choice input", items=pictures, variableId=saved),
        block("cards", items=[item(id="c1", title=[1], imageUrl="http://c", paths=5)]),
        block("cards", items=[item(id="c2", title=2.5, paths=[{"id": "go", "text": "Go"}])]),
    )
    fb.start("A")
    state, out = play(fb.build(), "http://b", "c1", "Go")
    assert out[:4] == [
        "input: picture choice",
        "answer: http://b",
        "input: cards",
        "retry: Invalid message. Please, try again.",
    ]
    assert _read_back(state).variables == {saved: "http://b"}
    state, out = play(fb.build(), "5")
    assert out[:2] == ["input: picture choice", "answer: 5"]


def test_a_media_url_that_is_not_text_never_reaches_the_transcript_as_is() -> None:
    """A Transcript flow records each image's URL: one that was a list or object went into
    EngineState.transcript (list[dict[str, str]]) and the store refused the session; a number
    raised in `substitute`. A number now reads as its JS text, anything else as no URL."""
    fb = FB()
    tr = fb.var("T")
    fb.group(
        "A",
        block("image", content={"url": 5}),
        block("image", content={"url": ["http://a"]}),
        block("video", content={"url": {"u": 1}, "id": ["x"], "type": "youtube"}),
        block("audio", content={"url": "http://b.mp3"}),
        block("Set variable", variableId=tr, type="Transcript"),
        block("text input"),
    )
    fb.start("A")
    state, out = play(fb.build())
    assert out == ["image: [image: 5]", "audio: [audio: http://b.mp3]", "input: text"]
    assert _read_back(state).transcript == [{"role": "bot", "text": "5"}, {"role": "bot", "text": "http://b.mp3"}]


def test_an_embed_whose_wait_for_event_is_not_an_object_does_not_wait() -> None:
    fb = FB()
    fb.group("A", block("embed", content={"url": "http://e", "waitForEvent": [True]}), text("after"))
    fb.start("A")
    assert play(fb.build())[1] == ["embed: [embed: http://e]", "bot: after", "end"]


def _one_block_flow(*blocks: Block) -> tuple[Flow, str]:
    fb = FB()
    x = fb.var("X", "a", id="vx")
    fb.var("L", ["a", "b"], id="vl")
    fb.group("A", *blocks, text("after {{X}}"))
    fb.start("A")
    return fb.build(), x


@pytest.mark.parametrize(
    ("blocks", "answers", "expected"),
    [
        # Set variable: a type that is not text is the default (Custom); code, item, time zone
        # or map parameters that are not text/object count as none
        ([block("Set variable", variableId="vx", type={"a": 1}, expressionToEvaluate="1 + 1")], (), "after 2"),
        ([block("Set variable", variableId="vx", expressionToEvaluate={"a": 1})], (), "after "),
        ([block("Set variable", variableId="vl", type="Append value(s)", item=[1]), text("{{L}}")], (), "after a"),
        ([block("Set variable", variableId="vx", type="Now", timeZone=["x"])], (), "after 2024-05-06T14:30:15.123Z"),
        (
            [block("Set variable", variableId="vx", type="Map item with same index", mapListItemParams=[1])],
            (),
            "after ",
        ),
        # a rich-text element whose children are not a list has none
        ([Block(id="t", type="text", content={"richText": [{"type": "p", "children": 5}]})], (), "after a"),
        (
            [Block(id="t", type="text", content={"richText": [{"type": "ul", "children": [{"children": 5}]}]})],
            (),
            "after a",
        ),
        # a date input's format or bounds that are not text take the default, as its spec does
        ([block("date input", variableId="vx", format={"a": 1}, min=[1])], ("2020-01-02",), "after 02/01/2020"),
        # a file input's allowed types that are not a list restrict nothing
        (
            [block("file input", variableId="vx", allowedFileTypes={"isEnabled": True, "types": 5})],
            ("http://x.co/a.zip",),
            "after http://x.co/a.zip",
        ),
    ],
)
def test_a_block_option_of_another_type_neither_raises_nor_breaks_the_state(
    blocks: list[Block], answers: tuple[str, ...], expected: str
) -> None:
    flow, _ = _one_block_flow(*blocks)
    state, out = play(flow, *answers)
    _read_back(state)
    assert f"bot: {expected}" in out and out[-1] == "end", out


def test_a_redirect_url_or_code_that_is_not_text_is_none() -> None:
    """A Redirect url that was an object went into a `link` message as is (MessageData.url is
    text); Code content that is not text is no code to run."""
    code = Block(id="code", type="Code", options={"content": ["setVariable('X', 1)"]})
    flow, _ = _one_block_flow(block("Redirect", url={"u": 1}), code)
    assert play(flow)[1] == ["bot: after a", "end"]
