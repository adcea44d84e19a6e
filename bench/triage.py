"""Triage: the intent classifier's accuracy and per-intent precision and recall on a held-out split.

``python -m bench.triage`` splits the shipped labelled set (``domain/support/data/intents.jsonl``)
stratified by intent with a fixed seed (``--test-share``, default 0.25), trains the product's
pipeline (``domain.support.classifier.train``) on the training part only and predicts the held-out
part, which the model has never seen. It prints accuracy, macro F1, per-intent precision / recall /
support, how many held-out tickets fall under the confidence floor (they would go to people) and
the accuracy of those above it. Goal: accuracy ≥ 0.85. No database, no network; a few seconds.
"""
from __future__ import annotations

import argparse
import time
from datetime import datetime, timezone
from typing import Any

from bench.common import Figure, Goal, format_table, main_wrapper, write_result

GOAL_ACCURACY = 0.85
DEFAULT_FLOOR = 0.35


def split(examples: list[Any], test_share: float, seed: int) -> tuple[list[Any], list[Any]]:
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(examples, test_size=test_share, random_state=seed,
                                   stratify=[e.intent for e in examples])
    return list(train), list(test)


def evaluate(test_share: float, seed: int, floor: float) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    from domain.support.classifier import train
    from domain.support.intents import INTENTS, load_examples

    examples = load_examples()
    training, held_out = split(examples, test_share, seed)
    assert not {e.text for e in training} & {e.text for e in held_out}, "a held-out text is in the training set"
    started = time.perf_counter()
    model = train(training)
    train_s = time.perf_counter() - started
    predictions = model.predict_texts([e.text for e in held_out])
    truth = [e.intent for e in held_out]
    guessed = [p.intent for p in predictions]
    precision, recall, _, support = precision_recall_fscore_support(truth, guessed, labels=list(INTENTS),
                                                                    zero_division=0)
    confident = [(t, p.intent) for t, p in zip(truth, predictions) if p.confidence >= floor]
    return {
        "examples": len(examples), "training": len(training), "held_out": len(held_out), "model": model.version,
        "train_s": train_s, "accuracy": accuracy_score(truth, guessed),
        "macro_f1": f1_score(truth, guessed, average="macro", zero_division=0),
        "floor": floor, "under_floor": len(held_out) - len(confident),
        "accuracy_above_floor": (sum(t == g for t, g in confident) / len(confident)) if confident else 0.0,
        "per_intent": [{"intent": name, "precision": float(p), "recall": float(r), "support": int(s)}
                       for name, p, r, s in zip(INTENTS, precision, recall, support)],
        "errors": [{"intent": t, "predicted": p.intent, "confidence": p.confidence, "text": e.text}
                   for e, t, p in zip(held_out, truth, predictions) if t != p.intent],
    }


def main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--floor", type=float, default=DEFAULT_FLOOR, help="confidence floor to report against")
    parser.add_argument("--errors", action="store_true", help="print every misclassified held-out text")
    args = parser.parse_args(argv)
    result = evaluate(args.test_share, args.seed, args.floor)
    print(f"labelled set: {result['examples']} examples; trained on {result['training']}, "
          f"held out {result['held_out']} (stratified, seed {args.seed}); model {result['model']} "
          f"trained in {result['train_s']:.2f} s")
    print(f"\n{'intent':<24} {'precision':>9} {'recall':>7} {'support':>7}")
    for row in result["per_intent"]:
        print(f"{row['intent']:<24} {row['precision']:>9.2f} {row['recall']:>7.2f} {row['support']:>7}")
    if args.errors:
        print()
        for error in result["errors"]:
            print(f"  {error['intent']} → {error['predicted']} ({error['confidence']:.2f}): "
                  f"{error['text'].replace(chr(10), ' | ')}")
    table = [Figure("accuracy", result["accuracy"], "share"), Figure("macro F1", result["macro_f1"], "share"),
             Figure(f"under confidence floor {args.floor}", result["under_floor"], "tickets"),
             Figure("accuracy above the floor", result["accuracy_above_floor"], "share")]
    print()
    print(format_table(table))
    goal = Goal(f"held-out accuracy ≥ {GOAL_ACCURACY}", f"{result['accuracy']:.3f}", result["accuracy"] >= GOAL_ACCURACY)
    print(f"\ngoal: {goal.text}: {goal.figure} -> {'MET' if goal.met else 'MISSED'}")
    path = write_result("triage", {"bench": "triage", "at": datetime.now(timezone.utc).isoformat(),
                                   "parameters": vars(args), "figures": [f.as_dict() for f in table],
                                   "goal": goal.as_dict(), **{k: v for k, v in result.items() if k != "errors"}})
    print(f"written {path.name}")
    return 0 if goal.met else 1


if __name__ == "__main__":
    main_wrapper(main)
