"""Reading a live /metrics page into numbers a test can compare."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """The samples of one /metrics page, looked up by sample name and labels."""

    def __init__(self, text: str) -> None:
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    @classmethod
    def of(cls, url: str, headers: Mapping[str, str] | None = None) -> Scrape:
        """Scrape a server now."""
        response = httpx.get(f"{url}/metrics", headers=headers, timeout=30)
        response.raise_for_status()
        return cls(response.text)

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when the series does not exist yet."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def names(self) -> set[str]:
        """Every sample name on the page."""
        return {name for name, _ in self.samples}
