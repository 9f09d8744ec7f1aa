"""Metric names in a Grafana dashboard's PromQL, and whether a /metrics page exposes them.

PromQL has no parser on PyPI that we depend on, and the dashboard's expressions use a small part
of the language, so names are found by removing everything that is not one: string literals,
label matchers, range selectors, grouping clauses, durations, Grafana variables, and function
or aggregation names (an identifier followed by `(`). What is left is a metric name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# A metric may also be chosen by a matcher on its name: {__name__="speaker_ready"}.
_NAME_MATCHER = re.compile(r"""__name__\s*=\s*["']([a-zA-Z_:][\w:]*)["']""")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_OFFSET = re.compile(r"\boffset\s+-?[\w.]+", re.IGNORECASE)
_AT = re.compile(r"@\s*(?:start\(\)|end\(\)|[\d.]+)")
# Whole identifiers only (not the `m` of `5m` or the `e3` of `1e3`), and not function calls.
_IDENTIFIER = re.compile(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "inf", "nan"})
# Grafana's Prometheus variable query: label_values(metric{...}, label) or label_values(label).
_LABEL_VALUES = re.compile(
    r"label_values\(\s*(?:([a-zA-Z_:][\w:]*)\s*(?:\{[^}]*\})?\s*,)?\s*\w+\s*\)"
)

# The sample names Prometheus stores for one family of each type, from the family's name as
# prometheus_client's parser reports it (counters without `_total`, histograms without their
# suffixes). A bare histogram name is not queryable: it has to be one of its series' names.
_SERIES_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
}


def metric_names(expression: str) -> set[str]:
    """The metric names one PromQL expression reads."""
    text = _GRAFANA_VARIABLE.sub("", expression)
    names = set(_NAME_MATCHER.findall(text))
    text = _STRING.sub('""', text)
    for pattern in (_MATCHERS, _RANGE, _GROUPING, _OFFSET, _AT):
        text = pattern.sub(" ", text)
    names.update(name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS)
    return names


def variable_metric_names(query: str) -> set[str]:
    """The metric names a Grafana template variable query reads."""
    found = _LABEL_VALUES.fullmatch(query.strip())
    if found is not None:
        return {found.group(1)} if found.group(1) else set()
    # query_result(...), metrics(...) and plain expressions: PromQL inside.
    inner = re.fullmatch(r"\s*query_result\((.*)\)\s*", query, re.DOTALL)
    return metric_names(inner.group(1) if inner else query)


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included; rows themselves are not panels."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield f"panel {panel['title']!r} target {target['refId']}", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            yield f"variable {variable['name']!r}", text


def dashboard_metric_names(dashboard: dict[str, Any]) -> dict[str, set[str]]:
    """Each metric name the dashboard reads, with where it is read."""
    used: dict[str, set[str]] = {}
    for where, expression in expressions(dashboard):
        reader = variable_metric_names if where.startswith("variable") else metric_names
        for name in reader(expression):
            used.setdefault(name, set()).add(where)
    return used


def exposed_series_names(exposition: str) -> set[str]:
    """Every name a query may use against this /metrics page.

    A family declared with no samples yet (a labelled counter nothing has incremented, such as
    engine failures on a healthy server) still counts: its series appear with the first event.
    """
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SERIES_SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def missing_names(used: Iterable[str], exposed: set[str], exempt: Iterable[str] = ()) -> set[str]:
    """The names used that the page does not expose, less the exempt ones."""
    return set(used) - exposed - set(exempt)
