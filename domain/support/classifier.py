"""The intent classifier: TF-IDF features (words and character n-grams) and a logistic regression,
trained here from the shipped labelled set (``domain.support.intents``); nothing is downloaded.

The model is trained once per process, on first use (under a second on the shipped set), and
named by a digest of its training rows and settings, so a stored decision says which model made
it. ``confidence`` is the winning intent's probability; the ladder sends a ticket whose
confidence is under ``[support] confidence_floor`` to people instead of acting on a guess.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.support.intents import Example, load_examples, text_of

#: Settings that name the model with the data: change one and the version changes.
SETTINGS: dict[str, Any] = {"word_ngrams": (1, 2), "char_ngrams": (3, 4), "C": 20.0, "class_weight": "balanced"}
SEED = 7
#: The labelled set is English: tickets in another language get no confidence from it.
LANGUAGE = "en"


@dataclass(frozen=True)
class Prediction:
    intent: str
    confidence: float
    #: The best intents with their probabilities, best first (three of them).
    ranked: tuple[tuple[str, float], ...]


class IntentModel:
    """A trained pipeline and its version (``tfidf-logreg@<digest>``)."""

    def __init__(self, pipeline: Any, version: str, examples: int) -> None:
        self.pipeline = pipeline
        self.version = version
        self.examples = examples

    def predict_texts(self, texts: Sequence[str]) -> list[Prediction]:
        probabilities = self.pipeline.predict_proba(list(texts))
        classes = [str(c) for c in self.pipeline.classes_]
        out = []
        for row in probabilities:
            ranked = sorted(zip(classes, (float(p) for p in row)), key=lambda pair: -pair[1])[:3]
            out.append(Prediction(ranked[0][0], round(ranked[0][1], 4),
                                  tuple((name, round(p, 4)) for name, p in ranked)))
        return out

    def predict(self, subject: str, body: str) -> Prediction:
        return self.predict_texts([text_of(subject, body)])[0]


def version_of(examples: Sequence[Example]) -> str:
    digest = hashlib.sha256(repr(sorted(SETTINGS.items())).encode())
    for example in examples:
        digest.update(f"{example.intent}\t{example.text}\n".encode())
    return f"tfidf-logreg@{digest.hexdigest()[:10]}"


def train(examples: Sequence[Example]) -> IntentModel:
    """Fit the pipeline on ``examples`` (the bench passes its training split only)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=SETTINGS["word_ngrams"], sublinear_tf=True, lowercase=True,
                                  strip_accents="unicode")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=SETTINGS["char_ngrams"], sublinear_tf=True,
                                  lowercase=True, strip_accents="unicode")),
    ])
    pipeline = Pipeline([("features", features),
                         ("model", LogisticRegression(C=SETTINGS["C"], class_weight=SETTINGS["class_weight"],
                                                      max_iter=3000, random_state=SEED))])
    pipeline.fit([e.text for e in examples], [e.intent for e in examples])
    return IntentModel(pipeline, version_of(examples), len(examples))


_lock = threading.Lock()
_model: IntentModel | None = None


def model() -> IntentModel:
    """The model trained on the shipped set, trained on first use and kept for the process."""
    global _model
    with _lock:
        if _model is None:
            _model = train(load_examples())
        return _model
