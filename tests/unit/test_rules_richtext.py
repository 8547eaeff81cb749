"""Rich text: Slate paragraphs to Markdown and plain text, with variables in the leaves."""

from __future__ import annotations

from tui.flow.model import Variable
from tui.rules.richtext import rich_text_to_markdown, rich_text_to_markdown_and_plain, rich_text_to_plain
from tui.rules.variables import Scope


def scope() -> Scope:
    variables = [Variable(id="n", name="Name"), Variable(id="l", name="List"), Variable(id="u", name="Url")]
    return Scope(variables, {"n": "Ada", "l": ["x", "y"], "u": "https://ex.com"})


def p(*children: dict) -> dict:
    return {"type": "p", "children": list(children)}


def test_paragraphs_are_lines_and_empty_paragraphs_blank_lines() -> None:
    rich = [p({"text": "Hello"}), p({"text": ""}), p({"text": "World"})]
    assert rich_text_to_markdown(rich, scope()) == "Hello\n\nWorld"
    assert rich_text_to_plain(rich, scope()) == "Hello\n\nWorld"


def test_marks() -> None:
    rich = [
        p(
            {"text": "Hi "},
            {"text": "bold", "bold": True},
            {"text": " "},
            {"text": "it", "italic": True},
            {"text": " "},
            {"text": "gone", "strikethrough": True},
            {"text": " "},
            {"text": "x=1", "code": True},
            {"text": " "},
            {"text": "under", "underline": True},
        )
    ]
    assert rich_text_to_markdown(rich, scope()) == "Hi **bold** _it_ ~~gone~~ `x=1` under"
    assert rich_text_to_plain(rich, scope()) == "Hi bold it gone x=1 under"


def test_mark_keeps_surrounding_spaces_outside() -> None:
    rich = [p({"text": "Hello "}, {"text": "dear ", "bold": True}, {"text": "friend"})]
    assert rich_text_to_markdown(rich, scope()) == "Hello **dear** friend"


def test_variables_in_leaves_and_bold() -> None:
    rich = [p({"text": "Hello "}, {"text": "{{Name}}", "bold": True}, {"text": "!"})]
    assert rich_text_to_markdown(rich, scope()) == "Hello **Ada**!"
    assert rich_text_to_plain(rich, scope()) == "Hello Ada!"


def test_list_variable_whole_or_latest() -> None:
    rich = [p({"text": "Items: {{List}}"})]
    assert rich_text_to_plain(rich, scope()) == 'Items: ["x","y"]'
    assert rich_text_to_plain(rich, scope(), take_latest_if_list=True) == "Items: y"
    assert rich_text_to_markdown(rich, scope(), take_latest_if_list=True) == "Items: y"


def test_links_with_substituted_url() -> None:
    rich = [p({"text": "See "}, {"type": "a", "url": "{{Url}}/a", "children": [{"text": "this"}]}, {"text": "."})]
    assert rich_text_to_markdown(rich, scope()) == "See [this](https://ex.com/a)."
    assert rich_text_to_plain(rich, scope()) == "See this."


def test_lists() -> None:
    rich = [
        {
            "type": "ul",
            "children": [
                {"type": "li", "children": [{"type": "lic", "children": [{"text": "one"}]}]},
                {"type": "li", "children": [{"text": "two"}]},
            ],
        },
        {
            "type": "ol",
            "children": [
                {"type": "li", "children": [{"text": "first {{Name}}"}]},
                {"type": "li", "children": [{"text": "second"}]},
            ],
        },
    ]
    assert rich_text_to_markdown(rich, scope()) == "- one\n- two\n1. first Ada\n2. second"
    assert rich_text_to_plain(rich, scope()) == "one\ntwo\nfirst Ada\nsecond"


def test_empty_and_missing() -> None:
    assert rich_text_to_markdown([], scope()) == ""
    assert rich_text_to_plain(None, scope()) == ""


def test_inline_variable_line_breaks_become_spaces_but_standalone_ones_stay() -> None:
    values = Scope([Variable(id="m", name="Multi")], {"m": "one\n\ntwo"})
    rich = [p({"text": "Got {{Multi}}."}), p({"text": "{{Multi}}"})]
    assert rich_text_to_plain(rich, values) == "Got one two.\none\n\ntwo"


def test_both_forms_at_once_match_each_form_alone() -> None:
    rich = [
        p({"text": "Hi "}, {"text": "{{Name}}", "bold": True}, {"text": " and {{List}}"}),
        {"type": "ul", "children": [{"type": "li", "children": [{"text": "one {{Url}}"}]}]},
        p({"type": "a", "url": "{{Url}}/a", "children": [{"text": "link"}]}),
    ]
    for latest in (False, True):
        both = rich_text_to_markdown_and_plain(rich, scope(), take_latest_if_list=latest)
        assert both == (
            rich_text_to_markdown(rich, scope(), take_latest_if_list=latest),
            rich_text_to_plain(rich, scope(), take_latest_if_list=latest),
        )
    assert both == (
        "Hi **Ada** and y\n- one https://ex.com\n[link](https://ex.com/a)",
        "Hi Ada and y\none https://ex.com\nlink",
    )
