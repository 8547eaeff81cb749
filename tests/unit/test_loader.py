"""The loader's dispatch and checks, the JSON Schema file, and the bundled sample flows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from pydantic import ValidationError

from tests.corpus import corpus_dir
from tui.errors import FlowError
from tui.flow.loader import check_flow, load_flow
from tui.flow.model import Block, Edge, EdgeFrom, EdgeTo, Flow, Group
from tui.flow.schema import ENTRY_MODELS, FlowFile, schema_text
from tui.flow.yaml_format import ENTRY_OPTIONS, flow_from_text, parse_yaml

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"
SAMPLES = sorted(p for p in FLOWS.glob("*.yaml") if not p.name.endswith(".chat.yaml"))  # not flow tests
OURS = "name: T\ngroups:\n  A:\n    - ask: email\n"
TYPEBOT = {
    "version": "6",
    "id": "tb",
    "name": "Tiny",
    "events": [{"id": "ev", "type": "start", "outgoingEdgeId": "e1"}],
    "groups": [{"id": "g1", "title": "G", "blocks": [{"id": "b1", "type": "email input", "options": {}}]}],
    "edges": [{"id": "e1", "from": {"eventId": "ev"}, "to": {"groupId": "g1"}}],
    "variables": [],
}


# --- dispatch -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["f.yaml", "f.yml", "f.YAML", "f.flow", "f"])
def test_yaml_and_unknown_extensions_are_ours(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(OURS, encoding="utf-8")
    flow = load_flow(path)
    assert flow.source_format == "steadychat"
    assert flow.groups[0].blocks[0].type == "email input"


def test_json_in_our_structure_is_ours(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "T", "groups": {"A": [{"say": "hi"}, {"ask": "email"}]}}), encoding="utf-8")
    flow = load_flow(path)
    assert (flow.source_format, flow.id) == ("steadychat", "mine")


@pytest.mark.parametrize("name", ["export.json", "export.txt"])
def test_typebot_exports_go_to_the_importer(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(json.dumps(TYPEBOT), encoding="utf-8")
    flow = load_flow(path)
    assert (flow.source_format, flow.id, flow.name) == ("typebot", "tb", "Tiny")


def test_corpus_exports_load_and_check() -> None:
    folder = corpus_dir()
    if folder is None:
        pytest.skip("Typebot corpus not present")
    for path in sorted(folder.glob("*.json")):
        flow = load_flow(path)
        assert flow.source_format == "typebot"
        check_flow(flow, path=str(path))


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(FlowError) as info:
        load_flow(path)
    assert str(info.value) == f"{path}: cannot read: No such file or directory"


def test_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match=r": cannot read: "):
        load_flow(tmp_path)


def test_binary_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(FlowError) as info:
        load_flow(path)
    assert str(info.value) == f"{path}: cannot read: not UTF-8 text"


def test_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_text("\ufeff" + OURS, encoding="utf-8")
    assert load_flow(path).name == "T"


def test_invalid_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "name": "T",\n  "groups": {,}\n}\n', encoding="utf-8")
    with pytest.raises(FlowError) as info:
        load_flow(path)
    assert info.value.line == 3 and info.value.reason.startswith("invalid JSON:")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(FlowError) as info:
        load_flow(path)
    assert str(info.value) == f"{path}:1: expected a mapping with name: and groups: (got nothing)"


# --- check_flow -----------------------------------------------------------------------------


def _flow(*, edges: list[Edge], blocks: list[Block]) -> Flow:
    return Flow(id="f", name="F", groups=[Group(id="g", title="G", blocks=blocks)], edges=edges)


# The hashes sessions recorded: a change to the model or its canonical JSON must keep them, or
# every existing session would see its flow as edited (they were taken with the pydantic model).
PINNED_HASHES = {
    "flows/demo.yaml": "80cd42183207c34a8ebdc0582252163774c8487ea58c8a9c541c32058f1bb925",
    "flows/typebot/colors.json": "9bf5b9bf04fc40885242113d9e811c6b11326abede5afadbce1deafab4b03c3d",
}


@pytest.mark.parametrize("name", sorted(PINNED_HASHES))
def test_bundled_flow_hashes_are_pinned(name: str) -> None:
    flow = load_flow(ROOT / name)
    assert flow.content_hash() == PINNED_HASHES[name]
    again = msgspec.json.decode(flow.canonical_json(), type=Flow)  # what a session reads back
    assert again.content_hash() == PINNED_HASHES[name]


def test_flow_equality_and_copies_ignore_the_lookup_cache() -> None:
    one, two = load_flow(ROOT / "flows/demo.yaml"), load_flow(ROOT / "flows/demo.yaml")
    assert one.group(one.groups[0].id) is one.groups[0]  # builds one's cache, not two's
    assert "_index" in one.__dict__ and "_index" not in two.__dict__
    assert one == two
    assert msgspec.structs.replace(one, name="other") != two
    copy = msgspec.structs.replace(one, linked={})
    assert copy == one and "_index" not in copy.__dict__
    assert msgspec.to_builtins(one) == msgspec.to_builtins(two)


def test_an_edge_reads_and_writes_from_as_json_says() -> None:
    edge = Edge(id="e", from_=EdgeFrom(block_id="b"), to=EdgeTo(group_id="g"))
    data = msgspec.to_builtins(edge)
    assert list(data) == ["id", "from", "to"]
    assert msgspec.convert(data, Edge) == edge
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({**data, "from_": data["from"]}, Edge)


def test_check_flow_accepts_compiled_flows() -> None:
    check_flow(flow_from_text(OURS, path="t.yaml"))


def test_check_flow_edge_to_missing_group() -> None:
    edge = Edge(id="e", from_=EdgeFrom(block_id="b"), to=EdgeTo(group_id="gone"))
    flow = _flow(edges=[edge], blocks=[Block(id="b", type="text", outgoing_edge_id="e")])
    with pytest.raises(FlowError) as info:
        check_flow(flow, path="x.json")
    assert str(info.value) == "x.json: edge 'e' points to a missing group 'gone'"


def test_check_flow_edge_to_missing_block() -> None:
    edge = Edge(id="e", from_=EdgeFrom(block_id="b"), to=EdgeTo(group_id="g", block_id="zz"))
    flow = _flow(edges=[edge], blocks=[Block(id="b", type="text", outgoing_edge_id="e")])
    with pytest.raises(FlowError, match="edge 'e' points to a missing block 'zz' of group 'G'"):
        check_flow(flow)


def test_check_flow_jump_to_missing_group_is_a_warning_naming_line() -> None:
    # Typebot imports such exports (10 of 88 templates) and only stops when the Jump is reached.
    flow = _flow(
        edges=[],
        blocks=[
            Block(id="b", type="Jump", options={"groupId": "gone"}, line=7),
            Block(id="c", type="Jump", options={"groupId": "g", "blockId": "nope"}, line=9),
        ],
    )
    assert check_flow(flow, path="x.yaml") == [
        "x.yaml:7: warning: block b in group 'G': jumps to a missing group 'gone'"
        " (Typebot imports this; the flow stops there)",
        "x.yaml:9: warning: block c in group 'G': jumps to a missing block 'nope'"
        " (Typebot imports this; the flow stops there)",
    ]


def test_check_flow_tolerates_runtime_choices_and_dangling_edge_ids() -> None:
    flow = _flow(
        edges=[],
        blocks=[
            Block(id="a", type="Jump", options={"groupId": "{{target}}"}),
            Block(id="b", type="Jump", options={}),
            Block(id="c", type="text", outgoing_edge_id="no-such-edge"),  # Typebot ends the flow there
        ],
    )
    assert check_flow(flow) == []


def test_check_flow_checks_linked_flows() -> None:
    broken = _flow(edges=[Edge(id="e", from_=EdgeFrom(block_id="b"), to=EdgeTo(group_id="gone"))], blocks=[])
    flow = _flow(edges=[], blocks=[])
    flow.linked = {"other": broken}
    with pytest.raises(FlowError, match="missing group 'gone'"):
        check_flow(flow)


# --- the JSON Schema ------------------------------------------------------------------------


def test_committed_schema_is_up_to_date() -> None:
    committed = (FLOWS / "steadychat-flow.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "flows/steadychat-flow.schema.json is stale; regenerate it with: "
        "python -m tui.flow.schema > flows/steadychat-flow.schema.json"
    )


def test_schema_options_match_the_compiler() -> None:
    assert set(ENTRY_MODELS) == set(ENTRY_OPTIONS)
    for key, model in ENTRY_MODELS.items():
        names = {info.alias or name for name, info in model.model_fields.items()}
        assert names == {key, *ENTRY_OPTIONS[key]}, key


def test_schema_rejects_typos() -> None:
    with pytest.raises(ValidationError):
        FlowFile.model_validate({"name": "T", "groups": {"A": [{"sya": "hi"}]}})
    with pytest.raises(ValidationError):
        FlowFile.model_validate({"name": "T", "groups": {"A": [{"ask": "x", "palceholder": "y"}]}})


# --- the sample flows -----------------------------------------------------------------------


def test_sample_flows_exist() -> None:
    assert {p.stem for p in SAMPLES} >= {"demo", "onboarding", "support", "survey"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_sample_flow_is_valid(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=steadychat-flow.schema.json\n")
    FlowFile.model_validate(parse_yaml(text, path=str(path)))
    flow = load_flow(path)
    check_flow(flow, path=str(path))
    assert flow.id == path.stem
    _assert_edges_resolve(flow)
    assert _reachable(flow) == {g.id for g in flow.groups}, "every group is reachable from the start"


def _assert_edges_resolve(flow: Flow) -> None:
    refs = [e.outgoing_edge_id for e in flow.events]
    for group in flow.groups:
        for block in group.blocks:
            refs += [block.outgoing_edge_id, *(i.outgoing_edge_id for i in block.items)]
            if block.type == "Jump":
                assert flow.group(block.options["groupId"]) is not None
    assert all(flow.edge(r) is not None for r in refs if r is not None)


def _reachable(flow: Flow) -> set[str]:
    """Groups reachable from the start through edges and jumps."""
    todo = [flow.edge(flow.events[0].outgoing_edge_id or "")]
    seen: set[str] = set()
    while todo:
        edge = todo.pop()
        if edge is None or edge.to.group_id in seen:
            continue
        seen.add(edge.to.group_id)
        group = flow.group(edge.to.group_id)
        assert group is not None
        for block in group.blocks:
            for edge_id in [block.outgoing_edge_id, *(i.outgoing_edge_id for i in block.items)]:
                todo.append(flow.edge(edge_id) if edge_id else None)
            if block.type == "Jump":
                todo.append(
                    Edge(id="jump", from_=EdgeFrom(block_id=block.id), to=EdgeTo(group_id=block.options["groupId"]))
                )
    return seen


def test_demo_flow_covers_the_tour() -> None:
    flow = load_flow(FLOWS / "demo.yaml")
    blocks = [b for g in flow.groups for b in g.blocks]
    types = {b.type for b in blocks}
    assert {
        "text input", "email input", "number input", "url input", "phone number input", "date input",
        "rating input", "choice input", "Condition", "Set variable", "Jump",
    } <= types  # fmt: skip
    choices = [b for b in blocks if b.type == "choice input"]
    assert any(b.options.get("isMultipleChoice") for b in choices)
    assert any(i.outgoing_edge_id for b in choices for i in b.items)
    assert sum(b.is_input for b in blocks) <= 15
    last = flow.groups[-1].blocks[-1]
    assert last.type == "text" and re.search(r"\{\{\w+\}\}", json.dumps(last.content))


def test_docs_example_compiles() -> None:
    doc = (ROOT / "docs" / "flow-format.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(# yaml-language-server[^\n]*\nname:.*?)```", doc, re.DOTALL)
    assert example is not None
    flow = flow_from_text(example.group(1), path="example.yaml")
    check_flow(flow)
    FlowFile.model_validate(parse_yaml(example.group(1), path="example.yaml"))


# --- the engine runs them (skipped until tui/engine.py exists) ------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_engine_starts_sample_flow_at_an_input(path: Path) -> None:
    engine = pytest.importorskip("tui.engine")
    result = engine.start(load_flow(path), now=datetime(2026, 1, 1, tzinfo=UTC), seed=1)
    assert "input" in [event.type for event in result.events]
