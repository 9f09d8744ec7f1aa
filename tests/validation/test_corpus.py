"""Corpora: the built-in ones and the user's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from speaker.validation.corpus import BUILTIN, CorpusError, load_corpus


def test_builtin_corpora_cover_the_front_end() -> None:
    full = load_corpus("full")
    categories = {case.category for case in full.cases}
    expected = {"numbers", "currency", "dates", "abbreviations", "punctuation", "long"}
    assert expected <= categories
    assert len({case.id for case in full.cases}) == len(full.cases)
    smoke = load_corpus("smoke")
    assert 3 <= len(smoke.cases) <= 8
    assert {case.id for case in smoke.cases} <= {case.id for case in full.cases}
    assert set(BUILTIN) == {"smoke", "full"}


def test_a_text_file_is_one_case_per_line(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_text("# my sentences\nFirst sentence.\n\n  Second one, $5.  \n", encoding="utf-8")
    corpus = load_corpus(str(path))
    assert corpus.name == "lines.txt"
    assert [(c.id, c.text, c.spoken) for c in corpus.cases] == [
        ("line-2", "First sentence.", "First sentence."),
        ("line-4", "Second one, $5.", "Second one, $5."),
    ]


def test_a_jsonl_file_has_ids_expected_text_and_categories(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    rows = [
        {"id": "abbr", "text": "Dr. Who", "expected": "Doctor Who", "category": "titles"},
        {"text": "No id here."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    first, second = load_corpus(str(path)).cases
    assert (first.id, first.spoken, first.category) == ("abbr", "Doctor Who", "titles")
    assert (second.id, second.spoken, second.category) == ("line-2", "No id here.", "general")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"id": "a", "text": "ok"}\n{"id": "b", "text": ', "bad.jsonl:2"),
        ("extra.jsonl", '{"id": "a", "text": "ok", "voice": "x"}', "extra.jsonl:1"),
        ("twice.jsonl", '{"id": "a", "text": "one"}\n{"id": "a", "text": "two"}', "appears twice"),
        ("empty.txt", "# nothing\n\n", "no cases"),
        ("mute.txt", "...\n", "no words"),
    ],
)
def test_bad_files_are_refused_with_where(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        load_corpus(str(path))


def test_an_unknown_corpus_names_the_choices() -> None:
    with pytest.raises(CorpusError, match="smoke, full"):
        load_corpus("nope")
