"""A validation result as a terminal table, a JSON file and one self-contained HTML page."""

from __future__ import annotations

import io
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from rich.console import Console
from rich.markup import escape as literal
from rich.table import Table

from speaker.validation.suite import ValidationResult

_PLOT_STYLE: dict[Any, Any] = {
    # Text stays text: smaller files, and case ids remain searchable in the page.
    "svg.fonttype": "none",
    # A fixed salt for the SVG ids makes reports of equal results byte-identical.
    "svg.hashsalt": "speaker-validate",
}


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _delta(first: float | None, second: float | None) -> str:
    if first is None or second is None:
        return "-"
    return f"{second - first:+.3f}"


def print_report(result: ValidationResult, console: Console) -> None:
    """Per-case table (one WER column per variant, with B − A for two), summary and verdict."""
    labels = [v.label for v in result.variants]
    cases = result.by_case()
    # Case ids, transcripts and labels are shown as written, never read as rich markup.
    table = Table(title=literal(f"corpus {result.corpus} on {result.target}"), title_justify="left")
    table.add_column("case")
    table.add_column("category")
    for label in labels:
        table.add_column(literal(f"WER {label}") if len(labels) > 1 else "WER", justify="right")
    if len(labels) == 2:
        table.add_column("Δ WER", justify="right")
    table.add_column("RTF", justify="right")
    if len(labels) == 1:
        table.add_column("heard", overflow="fold")
    for case_id in result.case_ids():
        row = cases[case_id]
        wers = [row[label].wer if label in row else None for label in labels]
        cells = [literal(case_id), literal(next(iter(row.values())).category)]
        cells += map(_number, wers)
        if len(labels) == 2:
            cells.append(_delta(wers[0], wers[1]))
        cells.append(" / ".join(_number(row[label].rtf) for label in labels if label in row))
        if len(labels) == 1:
            only = row[labels[0]]
            cells.append(literal(only.heard) if only.errors else "[dim]as expected[/dim]")
        table.add_row(*cells)
    console.print(table)

    summary = Table("variant", "model", "cases", "words", "WER", "worst case", "RTF", "similarity")
    for v in result.variants:
        similarity = (
            "-"
            if v.similarity_min is None
            else f"min {v.similarity_min:.3f}, mean {_number(v.similarity_mean)}"
        )
        summary.add_row(
            literal(v.label),
            literal(v.model),
            str(v.cases),
            str(v.words),
            _number(v.wer),
            literal(f"{v.worst_case} ({v.worst_case_wer:.3f})"),
            _number(v.rtf),
            similarity,
        )
    console.print(summary)
    console.print(
        literal(f"overall WER {result.wer:.3f} ({result.whisper_model}, beam {result.beam_size})")
    )
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {literal(note)}")
    for failure in result.failures:
        console.print(f"[red]FAIL[/red] {literal(failure)}")
    if result.passed:
        console.print("[green]PASS[/green] every threshold holds")


def write_json(result: ValidationResult, path: Path) -> None:
    """The whole result as JSON, for CI artifacts and comparisons between runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    # No creation date either: two reports of the same result are the same file.
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    # The XML prolog and DOCTYPE are for standalone files; inline SVG starts at the element.
    return text[text.index("<svg") :]


def _grouped_bars(
    axes: Axes, result: ValidationResult, field: str, limit: float | None, limit_label: str
) -> None:
    ids = result.case_ids()
    cases = result.by_case()
    labels = [v.label for v in result.variants]
    height = 0.8 / len(labels)
    positions = np.arange(len(ids))
    for index, label in enumerate(labels):
        values = [float(getattr(cases[i][label], field)) if label in cases[i] else 0.0 for i in ids]
        axes.barh(positions + index * height, values, height=height, label=label)
    axes.set_yticks(positions + height * (len(labels) - 1) / 2, labels=ids)
    axes.invert_yaxis()
    if limit is not None:
        axes.axvline(limit, color="crimson", linestyle="--", label=limit_label)
    if len(labels) > 1 or limit is not None:
        axes.legend(loc="lower right")


def _figure(rows: int) -> Figure:
    return Figure(figsize=(8, 1.2 + 0.28 * rows), layout="constrained")


def _case_bars(
    result: ValidationResult, field: str, title: str, xlabel: str, limit: float | None
) -> str:
    figure = _figure(len(result.case_ids()) * len(result.variants))
    axes = figure.add_subplot()
    _grouped_bars(axes, result, field, limit, "limit")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    return _svg(figure)


def _similarity_plot(result: ValidationResult) -> str | None:
    scored = [c for c in result.cases if c.similarity is not None]
    if not scored:
        return None
    figure = Figure(figsize=(8, 3.2), layout="constrained")
    axes = figure.add_subplot()
    for variant in result.variants:
        values = [
            c.similarity for c in scored if c.variant == variant.label and c.similarity is not None
        ]
        if values:
            axes.hist(values, bins=20, range=(0.0, 1.0), alpha=0.6, label=variant.label)
    if result.thresholds.min_similarity is not None:
        axes.axvline(result.thresholds.min_similarity, color="crimson", linestyle="--")
    axes.set_title("Speaker similarity to the reference (cases per bin)")
    axes.set_xlabel("cosine similarity")
    axes.legend(loc="upper left")
    return _svg(figure)


def _plots(result: ValidationResult) -> list[tuple[str, str | None]]:
    with rc_context(_PLOT_STYLE):
        return [
            (
                "Word error rate per case",
                _case_bars(
                    result, "wer", "WER per case", "word error rate", result.thresholds.max_case_wer
                ),
            ),
            (
                "Real-time factor per case",
                _case_bars(
                    result, "rtf", "RTF per case", "synthesis seconds / audio seconds", None
                ),
            ),
            ("Speaker similarity", _similarity_plot(result)),
        ]


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; } .fail { color: #c62828; }
.small { color: #666; font-size: 12px; }
figure { margin: 1.5em 0; } svg { max-width: 100%; height: auto; }
"""


def _cell(value: object, numeric: bool = False) -> str:
    text = _number(value) if isinstance(value, float) or value is None else str(value)
    return f'<td class="num">{escape(text)}</td>' if numeric else f"<td>{escape(text)}</td>"


def _summary_html(result: ValidationResult) -> str:
    head = ["variant", "model", "cases", "words", "WER", "worst case", "RTF"]
    head += ["min similarity", "mean similarity"]
    rows = [
        "<tr>"
        + _cell(v.label)
        + _cell(v.model)
        + _cell(v.cases, True)
        + _cell(v.words, True)
        + _cell(v.wer, True)
        + _cell(f"{v.worst_case} ({v.worst_case_wer:.3f})")
        + _cell(v.rtf, True)
        + _cell(v.similarity_min, True)
        + _cell(v.similarity_mean, True)
        + "</tr>"
        for v in result.variants
    ]
    header = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _cases_html(result: ValidationResult) -> str:
    labels = [v.label for v in result.variants]
    two = len(labels) == 2
    header = "<th>case</th><th>category</th><th>expected</th>"
    header += "".join(f"<th>WER {escape(label)}</th>" for label in labels)
    header += "<th>Δ WER</th>" if two else ""
    header += "".join(f"<th>heard: {escape(label)}</th>" for label in labels)
    header += "".join(f"<th>RTF {escape(label)}</th>" for label in labels)
    header += "".join(f"<th>similarity {escape(label)}</th>" for label in labels)
    rows = []
    for case_id, row in result.by_case().items():
        first = next(iter(row.values()))
        found = [row.get(label) for label in labels]
        cells = _cell(case_id) + _cell(first.category)
        cells += f"<td>{escape(first.text)}"
        if first.expected != first.text:
            cells += f'<br><span class="small">heard as: {escape(first.expected)}</span>'
        cells += f'<br><span class="small">{escape(first.reference)}</span></td>'
        cells += "".join(_cell(c.wer if c else None, True) for c in found)
        if two:
            a, b = found
            cells += _cell(_delta(a.wer if a else None, b.wer if b else None), True)
        for c in found:
            cells += (
                "<td>-</td>"
                if c is None
                else f'<td>{escape(c.heard)}<br><span class="small">{escape(c.hypothesis)}'
                "</span></td>"
            )
        cells += "".join(_cell(c.rtf if c else None, True) for c in found)
        cells += "".join(_cell(c.similarity if c else None, True) for c in found)
        rows.append(f'<tr id="case-{escape(case_id)}">{cells}</tr>')
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def render_html(result: ValidationResult) -> str:
    """One HTML page with everything inline (styles and SVG plots): no network needed to view."""
    verdict = (
        '<p class="pass"><strong>PASS</strong>: every threshold holds</p>'
        if result.passed
        else '<p class="fail"><strong>FAIL</strong></p><ul>'
        + "".join(f'<li class="fail">{escape(f)}</li>' for f in result.failures)
        + "</ul>"
    )
    notes = "".join(f"<p>note: {escape(n)}</p>" for n in result.notes)
    limits = result.thresholds
    figures = "".join(
        f"<figure><figcaption>{escape(title)}</figcaption>{svg}</figure>"
        if svg is not None
        else f"<p>{escape(title)}: not measured (no cloned voice).</p>"
        for title, svg in _plots(result)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Speaker validation: {escape(result.corpus)}</title><style>{_CSS}</style></head>
<body>
<h1>Speaker validation: corpus {escape(result.corpus)}</h1>
<p>Target {escape(result.target)}; listener {escape(result.whisper_model)}, beam
{result.beam_size}; {escape(result.created_at.isoformat(timespec="seconds"))}.</p>
<p>Overall WER <strong>{result.wer:.3f}</strong>. Limits: WER {_number(limits.max_wer)},
case WER {_number(limits.max_case_wer)}, similarity {_number(limits.min_similarity)}.</p>
{verdict}{notes}
<h2>Variants</h2>{_summary_html(result)}
<h2>Plots</h2>{figures}
<h2>Cases</h2>{_cases_html(result)}
</body></html>
"""


def write_html(result: ValidationResult, path: Path) -> None:
    """Write the HTML report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result), encoding="utf-8")
