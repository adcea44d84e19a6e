"""What the web app's ``/metrics`` counted during the demo, read as Prometheus would read it.

The demo ends by scraping ``/metrics`` with Flower's credentials and telling the three counters
the story moved — webhooks accepted (counted by the web processes), channel pushes and sends
(counted by the worker's pool children) — so a reader sees every process adds up in one scrape.
"""
from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

#: Sample name → what the demo calls it; the label each total is broken down by.
SHOWN = {
    "backorders_webhooks_accepted_total": ("webhooks accepted", "outcome"),
    "backorders_channel_pushes_total": ("channel pushes", "outcome"),
    "backorders_sends_total": ("sends", "outcome"),
}


def scrape(web_url: str, auth: tuple[str, str]) -> dict[str, dict[str, float]]:
    """Each shown counter's values summed by its breakdown label (absent counters: empty)."""
    answer = requests.get(f"{web_url}/metrics", auth=auth, timeout=10)
    answer.raise_for_status()
    counted: dict[str, dict[str, float]] = {name: {} for name in SHOWN}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name in SHOWN:
                by = sample.labels.get(SHOWN[sample.name][1], "-")
                counted[sample.name][by] = counted[sample.name].get(by, 0.0) + float(sample.value)
    return counted


def all_counted(counted: dict[str, dict[str, float]]) -> bool:
    """Every shown counter is above zero."""
    return all(sum(values.values()) > 0 for values in counted.values())


def describe(counted: dict[str, dict[str, float]]) -> str:
    """``webhooks accepted 9 (accepted 8, pong 1); channel pushes 14 (ok 14); sends 12 (sent 12)``."""
    parts = []
    for name, values in counted.items():
        detail = ", ".join(f"{by} {value:g}" for by, value in sorted(values.items()) if value)
        parts.append(f"{SHOWN[name][0]} {sum(values.values()):g}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts)
