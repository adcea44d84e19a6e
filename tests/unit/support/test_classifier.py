"""The intent classifier on examples it never saw: a stratified held-out split of the shipped set."""
from __future__ import annotations

from collections import Counter

import pytest
from sklearn.model_selection import train_test_split

from domain.support import classifier
from domain.support.intents import INTENTS, load_examples

SEED = 11


@pytest.fixture(scope="module")
def split() -> tuple[list, list, classifier.IntentModel]:
    examples = load_examples()
    training, held_out = train_test_split(examples, test_size=0.25, random_state=SEED,
                                          stratify=[e.intent for e in examples])
    return training, held_out, classifier.train(training)


def test_the_shipped_set_covers_every_intent_with_enough_examples() -> None:
    counts = Counter(e.intent for e in load_examples())
    assert set(counts) == set(INTENTS)
    assert min(counts.values()) >= 40
    texts = [e.text.lower() for e in load_examples()]
    assert len(set(texts)) == len(texts), "duplicate examples would leak between the splits"


def test_held_out_accuracy_and_every_intent_recognised(split: tuple[list, list, classifier.IntentModel]) -> None:
    training, held_out, model = split
    assert not {e.text for e in training} & {e.text for e in held_out}
    predictions = model.predict_texts([e.text for e in held_out])
    right = [p.intent == e.intent for p, e in zip(predictions, held_out)]
    assert sum(right) / len(right) >= 0.85
    for intent in INTENTS:
        mine = [ok for ok, e in zip(right, held_out) if e.intent == intent]
        assert sum(mine) / len(mine) >= 0.6, f"{intent}: recall {sum(mine)}/{len(mine)}"


def test_confidence_separates_right_from_wrong(split: tuple[list, list, classifier.IntentModel]) -> None:
    _, held_out, model = split
    predictions = model.predict_texts([e.text for e in held_out])
    right = [p.confidence for p, e in zip(predictions, held_out) if p.intent == e.intent]
    wrong = [p.confidence for p, e in zip(predictions, held_out) if p.intent != e.intent]
    assert wrong and sum(wrong) / len(wrong) < sum(right) / len(right)
    for prediction in predictions:
        assert prediction.ranked[0] == (prediction.intent, prediction.confidence)
        assert [p for _, p in prediction.ranked] == sorted((p for _, p in prediction.ranked), reverse=True)


def test_the_version_names_the_data() -> None:
    examples = load_examples()
    assert classifier.version_of(examples) == classifier.version_of(list(examples))
    assert classifier.version_of(examples) != classifier.version_of(examples[1:])
    assert classifier.model().version == classifier.version_of(examples)
