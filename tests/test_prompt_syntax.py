"""AUTOMATIC1111's prompt syntax: the weights and per-step schedules our parser gives (cases written from
A1111's documented behaviour), then the same prompts through the tiny demo model."""

from __future__ import annotations

import pytest

from ldm.invoke.prompt_syntax import chunks_of, parse_attention, prompt_schedule, schedule

E = 1.1


def approx_pieces(pieces):
    return [(t, pytest.approx(w)) for t, w in pieces]


# -- emphasis -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, pieces",
    [
        ("a plain prompt", [("a plain prompt", 1.0)]),
        ("a (red) ball", [("a ", 1.0), ("red", E), (" ball", 1.0)]),
        ("((red)) ball", [("red", E * E), (" ball", 1.0)]),
        ("(((red)))", [("red", E ** 3)]),
        ("a [red] ball", [("a ", 1.0), ("red", 1 / E), (" ball", 1.0)]),
        ("[[red]]", [("red", 1 / E ** 2)]),
        ("(red:1.3) ball", [("red", 1.3), (" ball", 1.0)]),
        ("(red: 0.5 ) ball", [("red", 0.5), (" ball", 1.0)]),
        ("(big (red:1.5) ball)", [("big ", E), ("red", 1.5 * E), (" ball", E)]),
        ("(a [b] c:2)", [("a ", 2.0), ("b", 2.0 / E), (" c", 2.0)]),
        ("[a (b) c]", [("a ", 1 / E), ("b", 1.0), (" c", 1 / E)]),
        ("(open to the end", [("open to the end", E)]),
        ("[open (both", [("open ", 1 / E), ("both", 1.0)]),
        ("stray) closers]", [("stray) closers]", 1.0)]),
        ("", [("", 1.0)]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_emphasis_weights(prompt, pieces):
    assert parse_attention(prompt) == approx_pieces(pieces)


@pytest.mark.parametrize(
    "prompt, pieces",
    [
        (r"\(literal\) brackets", [("(literal) brackets", 1.0)]),
        (r"\[also\] literal", [("[also] literal", 1.0)]),
        (r"(a \(b\):1.2)", [("a (b)", 1.2)]),
        (r"time 10\:30", [("time 10:30", 1.0)]),
        (r"(10\:30)", [("10:30", E)]),
        (r"back\\slash", [("back\\slash", 1.0)]),
        ("a colon: here", [("a colon: here", 1.0)]),
        ("weight outside:1.2) brackets", [("weight outside:1.2) brackets", 1.0)]),
    ],
)
def test_escapes_are_literal_characters(prompt, pieces):
    assert parse_attention(prompt) == approx_pieces(pieces)


def test_break_splits_the_prompt_into_chunks():
    assert chunks_of("a castle BREAK a (dragon:1.2)") == [[("a castle", 1.0)], [("a ", 1.0), ("dragon", 1.2)]]
    assert chunks_of("BREAKING news") == [[("BREAKING news", 1.0)]]  # a whole word only
    assert chunks_of("lower break case") == [[("lower break case", 1.0)]]
    assert parse_attention("(a BREAK b)") == approx_pieces([("a", E), ("BREAK", -1.0), ("b", E)])


# -- prompt editing and alternation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, steps, expected",
    [
        ("no editing", 20, [(20, "no editing")]),
        ("a [fantasy:cyberpunk:16] landscape", 100, [(16, "a fantasy landscape"), (100, "a cyberpunk landscape")]),
        ("[cat:dog:0.5]", 10, [(5, "cat"), (10, "dog")]),
        ("[cat:dog:0.25]", 10, [(2, "cat"), (10, "dog")]),  # int(2.5): step 2
        ("a [tiger:5] cub", 10, [(5, "a  cub"), (10, "a tiger cub")]),  # added after step 5
        ("a [tiger::5] cub", 10, [(5, "a tiger cub"), (10, "a  cub")]),  # removed after step 5
        ("[cat:dog:50]", 10, [(10, "cat")]),  # past the end: never switches
        ("[cat:dog:0.01]", 10, [(10, "dog")]),  # at step 0: switched from the start
        ("[cat:dog: 3 ]", 6, [(3, "cat"), (6, "dog")]),
        ("[a|b]", 4, [(1, "a"), (2, "b"), (3, "a"), (4, "b")]),
        ("[a|b|c] x", 5, [(1, "a x"), (2, "b x"), (3, "c x"), (4, "a x"), (5, "b x")]),
        ("[a||c]", 3, [(1, "a"), (2, ""), (3, "c")]),
        ("[(big:1.5) cat:small dog:2]", 4, [(2, "(big:1.5) cat"), (4, "small dog")]),
        ("[[a|b]:c:2]", 4, [(1, "a"), (2, "b"), (4, "c")]),
        ("[a:[b:c:3]:1]", 4, [(1, "a"), (3, "b"), (4, "c")]),
        ("([a:b:2])", 3, [(2, "(a)"), (3, "(b)")]),
        ("[word] and [a:b] stay text", 3, [(3, "[word] and [a:b] stay text")]),
        (r"\[not:an:1\] edit", 3, [(3, r"\[not:an:1\] edit")]),
        ("[unbalanced:1", 3, [(3, "[unbalanced:1")]),
    ],
)
def test_per_step_schedule(prompt, steps, expected):
    assert prompt_schedule(prompt, steps) == expected


def test_the_complex_prompt_weights_and_schedule():
    prompt = "((emphasis)), (emphasis1:1.1), [to:1], [from::2], [from:to:0.3], [alt|alt1]"
    head = [("emphasis", E * E), (", ", 1.0), ("emphasis1", 1.1)]
    expected = [
        (1, [head + [(", , from, from, alt", 1.0)]]),  # step 1: [to:1] not yet, [from:to:0.3] still "from"
        (2, [head + [(", to, from, to, alt1", 1.0)]]),
        (3, [head + [(", to, , to, alt", 1.0)]]),  # [from::2] gone after step 2
        (4, [head + [(", to, , to, alt1", 1.0)]]),
        (5, [head + [(", to, , to, alt", 1.0)]]),
    ]
    got = schedule(prompt, 5)
    assert [u for u, _ in got] == [u for u, _ in expected]
    for (_, chunks), (_, want) in zip(got, expected):
        assert chunks == [approx_pieces(c) for c in want]
    # at 10 steps [from:to:0.3] switches after step 3
    assert [t for _, t in prompt_schedule(prompt, 10)][:4] == [
        "((emphasis)), (emphasis1:1.1), , from, from, alt",
        "((emphasis)), (emphasis1:1.1), to, from, from, alt1",
        "((emphasis)), (emphasis1:1.1), to, , from, alt",
        "((emphasis)), (emphasis1:1.1), to, , to, alt1",
    ]


def test_editing_inside_emphasis_keeps_the_weight():
    assert schedule("a (b [c:d:0.5]:1.5) e", 4) == [
        (2, [approx_pieces([("a ", 1.0), ("b c", 1.5), (" e", 1.0)])]),
        (4, [approx_pieces([("a ", 1.0), ("b d", 1.5), (" e", 1.0)])]),
    ]
