"""Sentence splitting."""

from __future__ import annotations

import pytest

from speaker.text import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three? Four…", ["One.", "Two!", "Three?", "Four…"]),
        ("Dr. Rivera arrived. He sat.", ["Dr. Rivera arrived.", "He sat."]),
        ("Mr. and Mrs. Smith came. Ms. Lee left.", ["Mr. and Mrs. Smith came.", "Ms. Lee left."]),
        ("Meet at 10 a.m. tomorrow. Bring food.", ["Meet at 10 a.m. tomorrow.", "Bring food."]),
        ("The U.S. Army came. They left.", ["The U.S. Army came.", "They left."]),
        ("Use tools, e.g. Hammers. Done.", ["Use tools, e.g. Hammers.", "Done."]),
        ("Pi is 3.14 exactly. Yes.", ["Pi is 3.14 exactly.", "Yes."]),
        ("J. R. R. Tolkien wrote. Then he slept.", ["J. R. R. Tolkien wrote.", "Then he slept."]),
        ("John F. Kennedy spoke. We listened.", ["John F. Kennedy spoke.", "We listened."]),
        ("Wait... what? He paused… Then spoke.", ["Wait... what?", "He paused…", "Then spoke."]),
        ('He said "hi." Then he left.', ['He said "hi."', "Then he left."]),
        ("(It was late.) We slept.", ["(It was late.)", "We slept."]),
        (
            "Visit example.com/docs. Then email a.b@c.org now.",
            ["Visit example.com/docs.", "Then email a.b@c.org now."],
        ),
        ("He was No. 5 in line. It is p. 12 now.", ["He was No. 5 in line.", "It is p. 12 now."]),
        ("It cost $5. 10 people came.", ["It cost $5.", "10 people came."]),
        ("Title\nFirst line. Second line.", ["Title", "First line.", "Second line."]),
        ("Para one\n\nPara two", ["Para one", "Para two"]),
        ("wrapped by\nan editor. Done.", ["wrapped by an editor.", "Done."]),
        ('"Hi!" she said. "Bye!"', ['"Hi!" she said.', '"Bye!"']),
        ("Really?! Yes!!", ["Really?!", "Yes!!"]),
        ("plan B. Then we go.", ["plan B.", "Then we go."]),
        ("   \n\n  ", []),
        ("", []),
        ("no terminal punctuation", ["no terminal punctuation"]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_whitespace_inside_sentences_is_collapsed() -> None:
    assert split_sentences("Hello   there,\t friend.  Bye.") == ["Hello there, friend.", "Bye."]
