"""The sentences a validation run speaks: built-in corpora, or a user's text or JSONL file."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from speaker.validation.compare import normalize_for_comparison


class CorpusError(ValueError):
    """A corpus that cannot be read or has nothing to compare."""


class Case(BaseModel):
    """One sentence to speak, and what a listener should hear when that differs from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1)
    expected: str | None = None
    """What a listener should hear, when the written text says it differently."""
    category: str = "general"

    @property
    def spoken(self) -> str:
        """The reference the transcript is compared with."""
        return self.expected or self.text


class Corpus(BaseModel):
    """A named, ordered set of cases with unique ids."""

    model_config = ConfigDict(frozen=True)

    name: str
    cases: tuple[Case, ...]


def _cases(*rows: tuple[str, str, str]) -> tuple[Case, ...]:
    return tuple(Case(id=id_, category=category, text=text) for id_, category, text in rows)


# A handful of sentences across the front end's hardest parts, short enough for every CI run.
_SMOKE = _cases(
    ("plain", "plain", "The weather today is sunny with a light breeze from the west."),
    ("currency", "currency", "The ticket cost $47.50 and the poster was $12."),
    ("date-time", "dates", "The invoice is due on 10/15/2025 at 3:45 pm."),
    ("titles", "abbreviations", "Dr. Rivera met Mr. Smith on Main St. yesterday."),
    ("questions", "punctuation", "Wait, what did you say? Really? I had no idea!"),
)

_FULL = _SMOKE + _cases(
    (
        "plain-errand",
        "plain",
        "Please remember to water the plants before you leave for the weekend.",
    ),
    ("count", "numbers", "There were 1,234 people at the concert and 56 of them were singing."),
    ("decimal", "numbers", "The average score rose from 7.5 to 8.25 points."),
    ("million", "numbers", "The city has a population of about 2.4 million people."),
    ("ordinals", "numbers", "She finished 2nd in the race and he came 3rd."),
    ("fractions", "numbers", "Add 1/2 cup of sugar and 3/4 cup of flour."),
    ("percent", "numbers", "Sales grew by 45% last year, while costs fell 3.5%."),
    ("units", "numbers", "The trail is 12 km long and climbs 800 m."),
    ("euros", "currency", "Dinner for two came to €85, tip included."),
    ("pounds", "currency", "The book costs £9.99 in London."),
    ("date-written", "dates", "She was born on March 3, 1987."),
    ("date-iso", "dates", "The release is planned for 2026-01-20."),
    ("times", "dates", "The train leaves at 7:15 am and arrives at 9:40 pm."),
    ("range", "dates", "The store is open Monday–Friday from 9 to 5."),
    ("latin", "abbreviations", "Bring snacks, e.g. fruit or nuts."),
    ("acronyms", "abbreviations", "The FBI and NASA shared the data with reporters."),
    ("regnal", "abbreviations", "King Louis XIV ruled France for 72 years."),
    ("quotes", "punctuation", '"It\'s late," she said; "we should go (before it rains)."'),
    ("dashes", "punctuation", "The plan — if it works — will save us hours."),
    (
        "long-sentence",
        "long",
        "When the committee finally met on Thursday afternoon, after weeks of delays caused by "
        "the storm, the broken heating and a missing key, everyone agreed that the old library "
        "should stay open for at least another year.",
    ),
    (
        "long-paragraph",
        "long",
        "The lighthouse keeper climbed the stairs every evening. He lit the lamp, checked the "
        "lenses and wrote the weather in a small notebook. In forty years he missed only three "
        "nights, and each time a neighbor kept the light burning for him.",
    ),
)

BUILTIN: dict[str, Corpus] = {
    "smoke": Corpus(name="smoke", cases=_SMOKE),
    "full": Corpus(name="full", cases=_FULL),
}


def _from_jsonl(path: Path, lines: list[str]) -> list[Case]:
    cases = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if isinstance(row, dict):
                row.setdefault("id", f"line-{number}")
            cases.append(Case.model_validate(row))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise CorpusError(f"{path}:{number}: not a valid case: {exc}") from None
    return cases


def _from_text(lines: list[str]) -> list[Case]:
    return [
        Case(id=f"line-{number}", text=line.strip())
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _checked(name: str, cases: list[Case]) -> Corpus:
    if not cases:
        raise CorpusError(f"corpus {name!r} has no cases")
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise CorpusError(f"corpus {name!r}: case id {case.id!r} appears twice")
        seen.add(case.id)
        # A word error rate needs reference words to count errors against.
        if not normalize_for_comparison(case.spoken):
            raise CorpusError(f"corpus {name!r}: case {case.id!r} has no words to compare")
    return Corpus(name=name, cases=tuple(cases))


def load_corpus(spec: str) -> Corpus:
    """A built-in corpus by name (smoke, full), or a file: JSONL (.jsonl) or one case per line."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    path = Path(spec)
    if not path.is_file():
        raise CorpusError(f"no corpus {spec!r}: use {', '.join(BUILTIN)} or a file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from None
    jsonl = path.suffix.lower() in {".jsonl", ".ndjson"}
    return _checked(path.name, _from_jsonl(path, lines) if jsonl else _from_text(lines))
