"""Answer validation for every input type, following Typebot's validateAndParseInputMessage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tui.flow.model import Block, Item, Variable
from tui.rules.answers import (
    EMAIL_RETRY_MESSAGE,
    PAYMENT_RETRY_MESSAGE,
    AnswerResult,
    Fail,
    Skip,
    Success,
    validate_answer,
    visible_items,
)
from tui.rules.variables import Scope

NOW = datetime(2025, 3, 10, 9, 0)
NAMES = ["Name", "Max", "Colors", "Pics", "Titles", "Descs", "Picked", "Button", "Internal", "Show", "Zero"]


def make_scope(**values: Any) -> Scope:
    variables = [Variable(id=n.lower(), name=n) for n in NAMES]
    return Scope(variables, {k.lower(): v for k, v in values.items()})


def answer(
    block_type: str, text: str, options: dict | None = None, items: list[Item] | None = None, scope: Scope | None = None
) -> AnswerResult:
    block = Block(id="b", type=block_type, options=options or {}, items=items or [])
    return validate_answer(block, text, scope or make_scope(), now=NOW, default_invalid_message="Nope.")


def content(result: AnswerResult) -> str:
    assert isinstance(result, Success), result
    return result.content


# --- text, email, url, phone -----------------------------------------------------------------


def test_text_always_succeeds_as_typed() -> None:
    assert answer("text input", "  Anything goes ") == Success("  Anything goes ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("John.Doe@Example.COM", "john.doe@example.com"),
        ("a@b.io", "a@b.io"),
        ('"odd name"@ex.com', '"odd name"@ex.com'),
        ("x@[10.0.0.1]", "x@[10.0.0.1]"),
        ("a+tag@sub.domain.org", "a+tag@sub.domain.org"),
        ("plain", None),
        ("a@b", None),
        ("a@b.c", None),
        ("a b@c.com", None),
        ("a@b.com\n", None),
        ("", None),
    ],
)
def test_email(text: str, expected: str | None) -> None:
    result = answer("email input", text)
    assert result == (Success(expected) if expected else Fail(EMAIL_RETRY_MESSAGE))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", "https://example.com"),
        ("www.example.com/path?q=1#top", "https://www.example.com/path?q=1#top"),
        ("http://example.com", "http://example.com"),
        ("https://sub.example.co.uk:8080/x", "https://sub.example.co.uk:8080/x"),
        ("https://1.2.3.4/x", "https://1.2.3.4/x"),
        ("https://user:pw@example.com", "https://user:pw@example.com"),
        ("not a url", None),
        ("localhost:3000", None),
        ("ftp://example.com", None),
        ("https://exa_mple.com", None),
        ("https://example.c0m", None),
        ("https://example.com:99999", None),
        ("", None),
    ],
)
def test_url(text: str, expected: str | None) -> None:
    assert answer("url input", text) == (Success(expected) if expected else Fail("Nope."))


def test_url_custom_retry_message_is_substituted() -> None:
    result = answer("url input", "nope", {"retryMessageContent": "Bad URL, {{Name}}"}, scope=make_scope(Name="Ada"))
    assert result == Fail("Bad URL, Ada")


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("06 12 34 56 78", None, None),
        ("06 12 34 56 78", "XX", None),
        ("call me on (650) 253-0000 please", "US", "+16502530000"),
        ("hello", "US", None),
    ],
)
def test_phone(text: str, country: str | None, expected: str | None) -> None:
    options = {"defaultCountryCode": country} if country else {}
    assert answer("phone number input", text, options) == (Success(expected) if expected else Fail("Nope."))


# --- number, rating, payment, file ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("12", {}, "12"),
        ("12.0", {}, "12"),
        ("12,5", {}, "12.5"),
        ("12abc", {}, "12"),
        (" 7", {}, "7"),
        ("-3.25", {}, "-3.25"),
        ("007", {}, "007"),
        ("0", {}, "0"),
        ("0,5", {}, "0,5"),
        ("1e3", {}, "1000"),
        ("abc", {}, None),
        ("", {}, None),
        ("3", {"min": 5}, None),
        ("5", {"min": 5}, "5"),
        ("-5", {"min": 0}, "-5"),  # a min of 0 is falsy, so ignored
        ("-5", {"min": "0"}, "-5"),
        ("11", {"max": "{{Max}}"}, None),
        ("10", {"max": "{{Max}}"}, "10"),
        ("11", {"max": "{{Zero}}"}, "11"),
        ("2", {"min": "1,5"}, "2"),
        ("1", {"min": "1,5"}, None),
        ("2", {"step": 5}, "2"),  # step is not checked
    ],
)
def test_number(text: str, options: dict, expected: str | None) -> None:
    result = answer("number input", text, options, scope=make_scope(Max="10", Zero="0"))
    assert result == (Success(expected) if expected is not None else Fail("Nope."))


@pytest.mark.parametrize(
    ("text", "length", "ok"),
    [
        ("5", None, True),
        ("10", None, True),
        ("11", None, False),
        ("6", 5, False),
        ("5", 5, True),
        ("-3", None, True),
        ("abc", None, False),
        ("", None, True),
        (" 4 ", None, True),
    ],
)
def test_rating(text: str, length: int | None, ok: bool) -> None:
    result = answer("rating input", text, {"length": length} if length else {})
    assert result == (Success(text) if ok else Fail("Nope."))


def test_payment() -> None:
    assert answer("payment input", "fail") == Fail(PAYMENT_RETRY_MESSAGE)
    assert answer("payment input", "Success") == Success("Success")


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("", {"isRequired": False}, Skip()),
        ("skip", {"isRequired": False}, Skip()),
        ("", {}, Fail("Nope.")),
        ("skip", {"isRequired": True}, Fail("Nope.")),
        ("https://x.com/a.pdf", {}, Success("https://x.com/a.pdf")),
        ("https://x.com/a.pdf, https://x.com/b.pdf", {}, Success("https://x.com/a.pdf")),
        (
            "https://x.com/a.pdf,https://x.com/b.pdf",
            {"isMultipleAllowed": True},
            Success("https://x.com/a.pdf, https://x.com/b.pdf"),
        ),
        ("x.com/a.pdf", {}, Fail("Nope.")),  # protocol required for files
        ("http://localhost/a.pdf", {}, Success("http://localhost/a.pdf")),
        ("not a url", {}, Fail("Nope.")),
        ("https://x.com/a.png", {"allowedFileTypes": {"isEnabled": True, "types": [".pdf"]}}, Fail("Nope.")),
        (
            "https://x.com/a.PDF",
            {"allowedFileTypes": {"isEnabled": True, "types": ["application/pdf"]}},
            Success("https://x.com/a.PDF"),
        ),
        (
            "https://x.com/a.png",
            {"allowedFileTypes": {"isEnabled": True, "types": ["image/*"]}},
            Success("https://x.com/a.png"),
        ),
    ],
)
def test_file(text: str, options: dict, expected: AnswerResult) -> None:
    assert answer("file input", text, options) == expected


# --- date and time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("15/03/2025", {}, "15/03/2025"),
        ("2025-03-15", {}, "15/03/2025"),  # ISO is never read day-first
        ("03/04/2025", {}, "03/04/2025"),  # day-first: 3 April
        ("03/04/2025", {"format": "yyyy-MM-dd"}, "2025-03-04"),  # month-first otherwise
        ("March 15, 2025", {}, "15/03/2025"),
        ("15 march", {}, "15/03/2025"),  # year from now
        ("tomorrow", {}, "11/03/2025"),
        ("today", {"format": "d MMMM yyyy"}, "10 March 2025"),
        ("15/03/2025", {"format": "EEEE dd/MM/yy"}, "Saturday 15/03/25"),
        ("15/03/2025", {"format": "EEE, MMM d 'at' yyyy"}, "Sat, Mar 15 at 2025"),
        ("15/03/2025 14:30", {"hasTime": True}, "15/03/2025 14:30"),
        ("15/03/2025", {"hasTime": True}, "15/03/2025 12:00"),  # chrono implies noon
        ("01/03/2025 to 05/03/2025", {"isRange": True}, "01/03/2025 to 05/03/2025"),
        ("01/03/2025 - 05/03/2025", {"isRange": True}, "01/03/2025 to 05/03/2025"),
        (
            "01/03/2025 until 05/03/2025",
            {"isRange": True, "labels": {"separator": "until"}},
            "01/03/2025 to 05/03/2025",
        ),
        ("20/03/2025", {"max": "2025-03-20"}, "20/03/2025"),
        ("20/03/2025 18:00", {"hasTime": True, "max": "2025-03-20 17:00"}, None),
        ("20/03/2025 16:00", {"hasTime": True, "max": "2025-03-20 17:00"}, "20/03/2025 16:00"),
        ("01/03/2025", {"isRange": True}, None),
        ("hello", {}, None),
        ("12", {}, None),
        ("", {}, None),
        ("25/03/2025", {"max": "2025-03-20"}, None),
        ("15/03/2025", {"max": "2025-03-20"}, "15/03/2025"),
        ("2025-02-01", {"min": "2025-03-01"}, None),
        ("01/03/2025 to 25/03/2025", {"isRange": True, "max": "2025-03-20"}, None),
        ("15/03/2025", {"min": "{{Max}}"}, None),
    ],
)
def test_date(text: str, options: dict, expected: str | None) -> None:
    result = answer("date input", text, options, scope=make_scope(Max="2025-04-01"))
    assert result == (Success(expected) if expected else Fail("Nope."))


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("14:30", {}, "14:30"),
        ("3pm", {}, "15:00"),
        ("9:05 am", {}, "09:05"),
        ("3pm", {"format": "hh:mm a"}, "03:00 PM"),
        ("15:45", {"format": "h:mm aaa"}, "3:45 pm"),
        ("nonsense", {}, None),
        ("", {}, None),
    ],
)
def test_time(text: str, options: dict, expected: str | None) -> None:
    result = answer("time input", text, options)
    assert result == (Success(expected) if expected else Fail("Nope."))


# --- choice ----------------------------------------------------------------------------------


def buttons() -> list[Item]:
    return [
        Item(id="i1", outgoing_edge_id="e1", data={"content": "Yes"}),
        Item(id="i2", outgoing_edge_id="e2", data={"content": "No", "value": "n"}),
        Item(id="i3", data={"content": "Yes please"}),
        Item(id="i4", outgoing_edge_id="e4", data={"content": "Hi {{Name}}"}),
        Item(
            id="i5",
            data={
                "content": "Hidden",
                "displayCondition": {
                    "isEnabled": True,
                    "condition": {"comparisons": [{"variableId": "show", "comparisonOperator": "Is set"}]},
                },
            },
        ),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", Success("Yes", "e1")),
        ("  Yes ", Success("Yes", "e1")),
        ("yes", None),  # content match is case-sensitive
        ("Yes please", Success("Yes please", None)),
        ("i2", Success("n", "e2")),
        ("n", Success("n", "e2")),
        ("No", Success("n", "e2")),
        ("Hi Ada", Success("Hi Ada", "e4")),
        ("1", None),  # no index numbers for a single choice
        ("Hidden", None),  # filtered out by its display condition
        ("Maybe", None),
    ],
)
def test_single_choice(text: str, expected: AnswerResult | None) -> None:
    result = answer("choice input", text, items=buttons(), scope=make_scope(Name="Ada"))
    assert result == (expected or Fail("Nope."))


def test_display_condition_shows_item_when_true() -> None:
    result = answer("choice input", "Hidden", items=buttons(), scope=make_scope(Show="yes"))
    assert result == Success("Hidden", None)


def colors() -> list[Item]:
    return [
        Item(id="c1", outgoing_edge_id="e", data={"content": "Red"}),
        Item(id="c2", data={"content": "Green", "value": "g"}),
        Item(id="c3", data={"content": "Blue"}),
        Item(id="c4", data={"content": "Light blue"}),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("red and blue", "Red, Blue"),
        ("Blue, red", "Red, Blue"),  # item order, not reply order
        ("1, 3", "Red, Blue"),
        ("2", "g"),
        ("green", "g"),
        ("G", "g"),
        ("c3", "Blue"),
        ("Light blue", "Light blue"),
        ("light blue", "Blue, Light blue"),  # Typebot cuts matches out case-sensitively
        ("light blue and blue", "Blue, Light blue"),
        ("reddish", None),
        ("5", None),
        ("", None),
    ],
)
def test_multiple_choice(text: str, expected: str | None) -> None:
    result = answer("choice input", text, {"isMultipleChoice": True}, items=colors())
    assert result == (Success(expected) if expected else Fail("Nope."))


def test_multiple_choice_typebot_examples() -> None:
    items = [
        Item(id="id1", data={"content": "item"}),
        Item(id="id2", data={"content": "second item"}),
        Item(id="id3", data={"content": "third item"}),
    ]
    opts = {"isMultipleChoice": True}
    assert content(answer("choice input", "1 and second item, id3", opts, items)) == "item, second item, third item"
    assert content(answer("choice input", "2 and item", opts, items[:2])) == "item, second item"
    assert content(answer("choice input", "item and second item", opts, items[:2])) == "item, second item"
    dirty = [Item(id="a", data={"content": "item\n"}), Item(id="b", data={"content": " second item "})]
    assert content(answer("choice input", "item and second item", opts, dirty)) == "item, second item"
    assert answer("choice input", "tests", opts, [Item(id="x", data={"content": "Just a few tests"})]) == Fail("Nope.")
    assert content(answer("choice input", "아이템", opts, [Item(id="k", data={"content": "아이템"})])) == "아이템"


def test_dynamic_choice_items_from_list_variable() -> None:
    block = Block(id="b", type="choice input", options={"dynamicVariableId": "colors"})
    scope = make_scope(Colors=["A", "B", "A", "", None])
    items = visible_items(block, scope)
    assert [(i.id, i.data["content"]) for i in items] == [("choice0", "A"), ("choice1", "B")]
    assert validate_answer(block, "B", scope, now=NOW, default_invalid_message="x") == Success("B", None)
    single = visible_items(block, make_scope(Colors="Only"))
    assert [(i.id, i.data["content"]) for i in single] == [("choice0", "Only")]


def test_picture_choice() -> None:
    items = [
        Item(id="p1", outgoing_edge_id="pe1", data={"title": "Cat", "pictureSrc": "https://x/cat.png"}),
        Item(id="p2", outgoing_edge_id="pe2", data={"pictureSrc": "https://x/dog.png", "value": "dog"}),
        Item(id="p3", data={"title": "Bird", "pictureSrc": "https://x/bird.png"}),
    ]
    assert answer("picture choice input", "Cat", items=items) == Success("Cat", "pe1")
    assert answer("picture choice input", "https://x/dog.png", items=items) == Success("dog", "pe2")
    assert answer("picture choice input", "cat", items=items) == Fail("Nope.")
    assert answer("picture choice input", "cat and 3", {"isMultipleChoice": True}, items) == Success("Cat, Bird")


def test_dynamic_picture_items() -> None:
    block = Block(
        id="b",
        type="picture choice input",
        options={"dynamicItems": {"isEnabled": True, "pictureSrcsVariableId": "pics", "titlesVariableId": "titles"}},
    )
    scope = make_scope(Pics=["https://x/1.png", "https://x/2.png"], Titles=["One"])
    items = visible_items(block, scope)
    assert [(i.id, i.data["title"], i.data["pictureSrc"]) for i in items] == [
        ("0", "One", "https://x/1.png"),
        ("1", "", "https://x/2.png"),
    ]
    assert validate_answer(block, "https://x/2.png", scope, now=NOW, default_invalid_message="x") == Success(
        "https://x/2.png", None
    )


# --- cards -----------------------------------------------------------------------------------


def cards_block(**options: Any) -> Block:
    paris = {
        "title": "Paris",
        "description": "Nice",
        "imageUrl": "https://x/p.jpg",
        "options": {"internalValue": "PAR"},
        "paths": [{"id": "pc", "text": "Continue"}, {"id": "pm", "text": "More info", "outgoingEdgeId": "edge-more"}],
    }
    london = {
        "title": "London",
        "description": "Foggy",
        "imageUrl": "https://x/l.jpg",
        "paths": [{"id": "lc", "text": "Continue", "outgoingEdgeId": "edge-l"}],
    }
    return Block(
        id="cards", type="cards", options=options, items=[Item(id="c1", data=paris), Item(id="c2", data=london)]
    )


def test_cards_by_path_id_title_and_button_text() -> None:
    scope = make_scope()
    block = cards_block()
    assert validate_answer(block, "pm", scope, now=NOW, default_invalid_message="x") == Success("Paris", "edge-more")
    assert validate_answer(block, "london", scope, now=NOW, default_invalid_message="x") == Success("London", "edge-l")
    assert validate_answer(block, "Paris", scope, now=NOW, default_invalid_message="x") == Success(
        "Paris", None
    )  # first path
    assert validate_answer(block, "More info", scope, now=NOW, default_invalid_message="x") == Success(
        "Paris", "edge-more"
    )
    assert validate_answer(block, "Rome", scope, now=NOW, default_invalid_message="x") == Fail("x")


def test_cards_save_response_mapping() -> None:
    mapping = [
        {"field": "Title", "variableId": "picked"},
        {"field": "Button", "variableId": "button"},
        {"field": "Internal Value", "variableId": "internal"},
        {"field": "Description", "variableId": "unknown-var"},
        {"field": "Image URL"},
    ]
    block = cards_block(saveResponseMapping=mapping)
    result = validate_answer(block, "pm", make_scope(), now=NOW, default_invalid_message="x")
    assert result == Success("Paris", "edge-more", {"picked": "Paris", "button": "More info", "internal": "PAR"})
    london = validate_answer(block, "lc", make_scope(), now=NOW, default_invalid_message="x")
    assert isinstance(london, Success) and london.variables_to_update == {
        "picked": "London",
        "button": "Continue",
        "internal": None,
    }


def test_dynamic_cards_from_list_variables() -> None:
    item = Item(
        id="d",
        data={
            "imageUrl": "{{Pics}}",
            "title": "{{Titles}}",
            "description": "{{Descs}}",
            "paths": [{"id": "go", "text": "Continue", "outgoingEdgeId": "edge-go"}],
        },
    )
    block = Block(
        id="cards",
        type="cards",
        options={"saveResponseMapping": [{"field": "Title", "variableId": "picked"}]},
        items=[item],
    )
    scope = make_scope(
        Pics=["https://x/1.jpg", "https://x/2.jpg"], Titles=["Title 1", "Title 2"], Descs=["Desc 1", "Desc 2"]
    )
    cards = visible_items(block, scope)
    assert [(c.data["title"], c.data["description"], c.data["imageUrl"]) for c in cards] == [
        ("Title 1", "Desc 1", "https://x/1.jpg"),
        ("Title 2", "Desc 2", "https://x/2.jpg"),
    ]
    result = validate_answer(block, "title 2", scope, now=NOW, default_invalid_message="x")
    assert result == Success("Title 2", "edge-go", {"picked": "Title 2"})


def test_cards_display_condition_lives_in_item_options() -> None:
    hidden = {
        "displayCondition": {
            "isEnabled": True,
            "condition": {"comparisons": [{"variableId": "show", "comparisonOperator": "Is set"}]},
        }
    }
    block = Block(
        id="c",
        type="cards",
        items=[
            Item(id="a", data={"title": "A", "options": hidden, "paths": [{"id": "p"}]}),
            Item(id="b", data={"title": "B"}),
        ],
    )
    assert [i.id for i in visible_items(block, make_scope())] == ["b"]
    assert [i.id for i in visible_items(block, make_scope(Show="1"))] == ["a", "b"]


# --- retry messages --------------------------------------------------------------------------


def test_retry_message_precedence() -> None:
    assert answer(
        "email input", "bad", {"retryMessageContent": "Try again {{Name}}"}, scope=make_scope(Name="Ada")
    ) == Fail("Try again Ada")
    assert answer("email input", "bad", {"retryMessageContent": ""}) == Fail(EMAIL_RETRY_MESSAGE)
    assert answer("number input", "x") == Fail("Nope.")
    block = Block(id="b", type="number input")
    assert validate_answer(block, "x", make_scope(), now=NOW) == Fail("Invalid message. Please, try again.")


# --- Typebot details found by the hand-written conformance flows -----------------------------


def test_default_invalid_message_is_variable_substituted() -> None:
    block = Block(id="b", type="number input", options={})
    result = validate_answer(
        block, "abc", make_scope(Name="Ada"), now=NOW, default_invalid_message="Sorry {{Name}}, again?"
    )
    assert result == Fail("Sorry Ada, again?")


def test_dynamic_choice_items_from_json_text() -> None:
    block = Block(id="b", type="choice input", options={"dynamicVariableId": "colors"}, items=[])
    shown = visible_items(block, make_scope(Colors='["Red", "", "Red", 3]'))
    assert [item.data["content"] for item in shown] == ["Red", "3"]
