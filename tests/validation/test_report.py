"""Reports of a validation result: terminal table, JSON and a self-contained HTML page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from rich.console import Console

from speaker.validation.report import print_report, render_html, write_html, write_json
from speaker.validation.suite import CaseResult, Thresholds, ValidationResult, VariantSummary


def _case(case: str, variant: str, wer: float, similarity: float | None = None) -> CaseResult:
    return CaseResult(
        case=case,
        category="numbers",
        variant=variant,
        text=f"Text of {case} for $5.",
        expected=f"Text of {case} for $5.",
        heard=f"heard {case}",
        reference=f"text of {case} for five dollars",
        hypothesis=f"heard {case}",
        words=6,
        errors=round(wer * 6),
        wer=wer,
        audio_seconds=2.0,
        synthesis_seconds=0.1,
        rtf=0.05,
        similarity=similarity,
    )


def _summary(label: str, cases: list[CaseResult]) -> VariantSummary:
    scores = [c.similarity for c in cases if c.similarity is not None]
    return VariantSummary(
        label=label,
        voice=label,
        model="tts-1",
        cases=len(cases),
        words=6 * len(cases),
        errors=sum(c.errors for c in cases),
        wer=sum(c.errors for c in cases) / (6 * len(cases)),
        worst_case=max(cases, key=lambda c: c.wer).case,
        worst_case_wer=max(c.wer for c in cases),
        audio_seconds=2.0 * len(cases),
        rtf=0.05,
        similarity_min=min(scores) if scores else None,
        similarity_mean=sum(scores) / len(scores) if scores else None,
    )


def _result(similarity: bool = False) -> ValidationResult:
    a = [_case("alpha", "A", 0.0, 0.9 if similarity else None), _case("beta<1>", "A", 1 / 6)]
    b = [_case("alpha", "B", 0.5, 0.4 if similarity else None), _case("beta<1>", "B", 0.0)]
    return ValidationResult(
        corpus="unit",
        target="in-process",
        whisper_model="tiny.en",
        beam_size=5,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        thresholds=Thresholds(max_wer=0.2, max_case_wer=0.4, min_similarity=0.5),
        variants=[_summary("A", a), _summary("B", b)],
        cases=a + b,
        wer=4 / 24,
        passed=False,
        failures=["B / alpha: WER 0.500 is above the case limit 0.400"],
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        self.sources += [str(v) for k, v in attrs if k in {"src", "href"} and v]


def test_json_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out" / "result.json"
    write_json(_result(), path)
    data = json.loads(path.read_text())
    assert data["passed"] is False
    assert [v["label"] for v in data["variants"]] == ["A", "B"]
    assert ValidationResult.model_validate(data) == _result()


def test_html_is_one_page_with_plots_and_every_case(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html(_result(similarity=True), path)
    page = path.read_text()
    parser = _Tags()
    parser.feed(page)
    # WER per case, RTF per case and the similarity distribution.
    assert parser.tags.count("svg") == 3
    assert {"case-alpha", "case-beta<1>"} <= parser.ids
    assert "beta&lt;1&gt;" in page
    assert "beta<1>" not in page
    # Nothing to fetch: no scripts, stylesheets or images from elsewhere.
    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert not [s for s in parser.sources if not s.startswith("#")]
    assert "WER A" in page
    assert "WER B" in page
    assert "Δ WER" in page
    assert "B / alpha: WER 0.500" in page


def test_html_without_similarity_says_so_and_is_stable() -> None:
    page = render_html(_result())
    assert page.count("<svg") == 2
    assert "Speaker similarity: not measured" in page
    assert render_html(_result()) == page


def test_terminal_table_puts_variants_side_by_side() -> None:
    console = Console(record=True, width=200)
    print_report(_result(), console)
    text = console.export_text()
    assert "WER A" in text
    assert "WER B" in text
    assert "Δ WER" in text
    # alpha: A 0.000, B 0.500, so B − A is +0.500.
    assert "+0.500" in text
    assert "-0.167" in text
    assert "FAIL B / alpha" in text
    assert "PASS" not in text
