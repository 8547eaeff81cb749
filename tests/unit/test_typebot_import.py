"""The Typebot importer: version migration, tolerance of real exports, clear one-line errors, links."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.corpus import corpus_dir
from tui.errors import FlowError, UnsupportedFlowError
from tui.flow.model import Edge, Flow
from tui.flow.typebot import import_typebot, load_typebot_file, looks_like_typebot

CORPUS = corpus_dir()
needs_corpus = pytest.mark.skipif(CORPUS is None, reason="Typebot corpus not available")


def corpus_file(name: str) -> Path:
    """A corpus export (only in tests marked `needs_corpus`)."""
    assert CORPUS is not None
    return CORPUS / name


def edge(flow: Flow, edge_id: str | None) -> Edge:
    """The flow's edge with this id, which the test expects to exist."""
    found = flow.edge(edge_id or "")
    assert found is not None, edge_id
    return found


def _corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.json")) if CORPUS is not None else []


def _minimal_v6() -> dict[str, Any]:
    """A hand-written v6.1 export: start → greeting group with a choice → end group."""
    return {
        "version": "6.1",
        "id": "mini",
        "name": "Mini bot",
        "events": [
            {"id": "ev-cmd", "type": "command", "options": {"command": "help"}, "graphCoordinates": {"x": 0, "y": 0}},
            {"id": "ev-start", "type": "start", "outgoingEdgeId": "e1", "graphCoordinates": {"x": 0, "y": 0}},
        ],
        "groups": [
            {
                "id": "g1",
                "title": "Hello",
                "graphCoordinates": {"x": 1, "y": 1},
                "blocks": [
                    {
                        "id": "b1",
                        "type": "text",
                        "content": {"richText": [{"type": "p", "children": [{"text": "Hi {{Name}}"}]}]},
                    },
                    {
                        "id": "b2",
                        "type": "choice input",
                        "options": {"variableId": "v1"},
                        "items": [
                            {"id": "i1", "content": "Yes", "outgoingEdgeId": "e2"},
                            {"id": "i2", "content": "No"},
                        ],
                    },
                ],
            },
            {"id": "g2", "title": "End", "blocks": [{"id": "b3", "type": "Jump", "options": {"groupId": "g1"}}]},
        ],
        "edges": [
            {"id": "e1", "from": {"eventId": "ev-start"}, "to": {"groupId": "g1"}},
            {"id": "e2", "from": {"blockId": "b2", "itemId": "i1"}, "to": {"groupId": "g2", "blockId": "b3"}},
        ],
        "variables": [
            {"id": "v1", "name": "Name", "isSessionVariable": True},
            {"id": "v2", "name": "Score", "value": 3},
            {"id": "v3", "name": "Tags", "value": ["a", 2, None]},
            {"id": "v4", "name": "Obj", "value": {"k": 1.0}},
        ],
        "settings": {"general": {"systemMessages": {"invalidMessage": "Nope, again."}}},
    }


# --- hand-written exports ---------------------------------------------------------------------


def test_minimal_v6_export() -> None:
    flow = import_typebot(_minimal_v6(), path="mini.json")
    assert (flow.id, flow.name, flow.version, flow.source_format) == ("mini", "Mini bot", "6.1", "typebot")
    assert [e.id for e in flow.events] == ["ev-start", "ev-cmd"]  # start moved first
    assert flow.events[1].options == {"command": "help"}
    choice = flow.groups[0].blocks[1]
    assert choice.options == {"variableId": "v1"}
    assert [(i.id, i.outgoing_edge_id, i.data) for i in choice.items] == [
        ("i1", "e2", {"content": "Yes"}),
        ("i2", None, {"content": "No"}),
    ]
    choice_edge = edge(flow, "e2")
    assert choice_edge.from_.item_id == "i1" and choice_edge.to.block_id == "b3"
    assert edge(flow, "e1").from_.event_id == "ev-start"
    values = {v.name: v.value for v in flow.variables}
    assert values == {"Name": None, "Score": "3", "Tags": ["a", "2", None], "Obj": '{"k":1}'}
    name = flow.variable_by_name("Name")
    assert name is not None and name.is_session_variable
    assert flow.invalid_message == "Nope, again."


def test_defaults_when_metadata_missing() -> None:
    data = _minimal_v6()
    del data["id"], data["name"], data["settings"]
    flow = import_typebot(data, path="some/dir/my-bot.json")
    assert (flow.id, flow.name) == ("my-bot", "my-bot")
    assert flow.invalid_message == "Invalid message. Please, try again."


def test_unknown_keys_tolerated_and_dropped() -> None:
    data = _minimal_v6()
    data["workspaceId"] = "w"
    data["groups"][0]["blocks"][1]["groupId"] = "g1"
    data["groups"][0]["blocks"][1]["isAdvancedConfig"] = True
    data["groups"][0]["blocks"][1]["items"][0].update(blockId="b2", type=0)
    data["edges"][1]["from"]["groupId"] = "g1"
    data["edges"].append({"id": "bad", "from": {}, "to": {"groupId": "g1"}})  # fails edge schema
    data["events"][1]["extra"] = 1
    flow = import_typebot(data, path="x.json")
    assert flow.groups[0].blocks[1].items[0].data == {"content": "Yes"}
    assert edge(flow, "e2").from_.block_id == "b2"
    assert flow.edge("bad") is None


def test_cards_paths_keep_their_edges() -> None:
    data = _minimal_v6()
    data["groups"][1]["blocks"].insert(
        0,
        {
            "id": "c1",
            "type": "cards",
            "items": [{"id": "ci", "title": "T", "paths": [{"id": "p1", "text": "Go", "outgoingEdgeId": "e3"}]}],
        },
    )
    data["edges"].append(
        {"id": "e3", "from": {"blockId": "c1", "itemId": "ci", "pathId": "p1"}, "to": {"groupId": "g1"}}
    )
    flow = import_typebot(data, path="x.json")
    assert flow.groups[1].blocks[0].items[0].data["paths"][0]["outgoingEdgeId"] == "e3"
    assert edge(flow, "e3").from_.path_id == "p1"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["groups"][1]["blocks"][0].pop("type"), "x.json: groups[1].blocks[0]: block has no type"),
        (
            lambda d: d["groups"][0]["blocks"][1]["items"][0].pop("id"),
            "x.json: groups[0].blocks[1].items[0]: item has no id",
        ),
        (lambda d: d.update(events=[]), "x.json: Invalid typebot file: start event is missing"),
        (lambda d: d.update(groups={}), "x.json: groups must be a list"),
    ],
)
def test_structural_errors_are_one_line(mutate: Any, message: str) -> None:
    data = _minimal_v6()
    mutate(data)
    with pytest.raises(FlowError) as info:
        import_typebot(data, path="x.json")
    assert str(info.value) == message


def test_pre_v6_without_start_block_rejected() -> None:
    data = _minimal_v6()
    data["version"] = "5"
    with pytest.raises(FlowError, match=r"^x\.json: Invalid typebot file: start event is missing$"):
        import_typebot(data, path="x.json")


def test_missing_version_is_v3_and_migrated() -> None:
    data = {
        "groups": [
            {
                "id": "sg",
                "title": "Start",
                "blocks": [{"id": "s", "type": "start", "label": "Start", "outgoingEdgeId": "e"}],
            },
            {
                "id": "g",
                "title": "G",
                "blocks": [{"id": "t", "groupId": "g", "type": "text", "content": {"richText": []}}],
            },
        ],
        "edges": [{"id": "e", "from": {"blockId": "s", "groupId": "sg"}, "to": {"groupId": "g"}}],
    }
    flow = import_typebot(data, path="old.json")
    assert flow.version == "3"
    assert [(e.id, e.type, e.outgoing_edge_id) for e in flow.events] == [("sg", "start", "e")]
    assert [g.id for g in flow.groups] == ["g"]
    assert edge(flow, "e").from_.event_id == "sg"


def test_pre_2022_export_rejected() -> None:
    data = {"id": "x", "blocks": [{"id": "b", "title": "Start", "steps": [{"id": "s", "type": "start"}]}], "edges": []}
    assert looks_like_typebot(data)
    with pytest.raises(UnsupportedFlowError) as info:
        import_typebot(data, path="legacy.json")
    assert str(info.value) == (
        "legacy.json: unsupported Typebot export from before June 2022 (steps instead of blocks); "
        "re-export it from a current Typebot"
    )


def test_looks_like_typebot() -> None:
    assert looks_like_typebot(_minimal_v6())
    assert looks_like_typebot({"publicId": "p"})
    assert not looks_like_typebot({"flow": "x", "groups": {"Start": []}})
    assert not looks_like_typebot(["groups"])


# --- files ------------------------------------------------------------------------------------


def test_invalid_json_gives_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "groups": [],\n  "edges": [,]\n}\n', encoding="utf-8")
    with pytest.raises(FlowError) as info:
        load_typebot_file(bad)
    assert str(info.value).startswith(f"{bad}:3: invalid JSON: ")
    assert info.value.line == 3


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="cannot read: "):
        load_typebot_file(tmp_path / "missing.json")


def _write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _linking(bot_id: str, *targets: str) -> dict[str, Any]:
    data = copy.deepcopy(_minimal_v6())
    data["id"] = bot_id
    blocks = [{"id": f"l{i}", "type": "Typebot link", "options": {"typebotId": t}} for i, t in enumerate(targets)]
    data["groups"][1]["blocks"] = blocks
    return data


def test_link_cycle_terminates(tmp_path: Path) -> None:
    root = _write(tmp_path, "a.json", _linking("A", "B", "nowhere", "current"))
    _write(tmp_path, "b.json", _linking("B", "A"))
    (tmp_path / "junk.json").write_text("{oops", encoding="utf-8")
    flow = load_typebot_file(root)
    assert sorted(flow.linked) == ["A", "B"]
    assert flow.linked["A"].linked == {}  # a link-free copy: no object cycle
    assert flow.content_hash()  # canonical JSON terminates


@needs_corpus
def test_corpus_link_chain_resolved() -> None:
    flow = load_typebot_file(corpus_file("linkTypebots-1.json"))
    two, three = "cl0ibhv8d0130n21aw8doxhj5", "cmb59sp8b00017f8m3ni5vsqm"
    assert set(flow.linked) == {two, three}
    assert flow.linked[two].name and flow.linked[two].linked == {}  # only the root keeps the flat map


# --- corpus -----------------------------------------------------------------------------------


@needs_corpus
def test_v5_migration_matches_v6_file() -> None:
    old = load_typebot_file(corpus_file("v5-startingWithInput.json"))
    new = load_typebot_file(corpus_file("startingWithInput.json"))
    assert old.version == "5" and new.version == "6.1"
    assert [e.type for e in old.events] == ["start"]
    assert old.events[0].id == new.events[0].id
    assert [g.id for g in old.groups] == [g.id for g in new.groups]
    assert old.groups[0].blocks == new.groups[0].blocks
    old_edge, new_edge = edge(old, old.events[0].outgoing_edge_id), edge(new, new.events[0].outgoing_edge_id)
    assert old_edge.from_ == new_edge.from_ and old_edge.to == new_edge.to
    assert all(b.type != "start" for g in old.groups for b in g.blocks)


@pytest.mark.parametrize("path", _corpus_files() or [None], ids=lambda p: p.name if p else "no-corpus")
def test_every_corpus_file_imports(path: Path | None) -> None:
    if path is None:
        pytest.skip("Typebot corpus not available")
    flow = load_typebot_file(path)
    assert flow.events and flow.events[0].type == "start"
    assert all(b.type != "start" for g in flow.groups for b in g.blocks)
    flow.canonical_json()
