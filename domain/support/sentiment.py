"""Sentiment of a ticket's text with VADER (``vaderSentiment``, its lexicon shipped in the wheel).

VADER's compound score runs from -1 (most negative) to +1; an angry refund demand scores around
-0.6. The ladder escalates a ticket at or under ``[support] negative_sentiment`` to tier 2 and the
priority adds points for it. See https://github.com/cjhutto/vaderSentiment for the method.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()
_analyzer: Any = None


@dataclass(frozen=True)
class Sentiment:
    compound: float
    negative: float
    positive: float

    def label(self, negative_at: float) -> str:
        if self.compound <= negative_at:
            return "negative"
        return "positive" if self.compound >= -negative_at else "neutral"


def _get() -> Any:
    global _analyzer
    with _lock:
        if _analyzer is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _analyzer = SentimentIntensityAnalyzer()
        return _analyzer


def score(text: str) -> Sentiment:
    scores = _get().polarity_scores(text)
    return Sentiment(round(float(scores["compound"]), 4), round(float(scores["neg"]), 4),
                     round(float(scores["pos"]), 4))
