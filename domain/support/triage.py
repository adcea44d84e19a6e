"""Triage one ticket's text: intent (the classifier), sentiment, legal threat, priority and the
ladder's queue, from the text and what the store knows about the customer. Pure apart from the
trained model; ``domain.support.intake`` stores the result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.core.support_config import SupportConfig
from domain.support import classifier, language as languages, legal, ladder, priority, sentiment
from domain.support.customer import CustomerFacts


@dataclass(frozen=True)
class Triage:
    prediction: classifier.Prediction
    model: str
    sentiment: sentiment.Sentiment
    sentiment_label: str
    legal: legal.LegalThreat
    priority: priority.Priority
    customer: CustomerFacts
    channel: str
    language: str
    #: ``ticket`` (the source said), ``guessed`` (its common words) or ``default`` ([support]).
    language_source: str
    routing: ladder.Routing

    @property
    def needs_human(self) -> bool:
        return self.routing.step == "human"

    def triage_figures(self) -> dict[str, Any]:
        return {"intent": self.prediction.intent, "confidence": self.prediction.confidence,
                "ranked": [list(pair) for pair in self.prediction.ranked], "model": self.model,
                "sentiment": {"compound": self.sentiment.compound, "negative": self.sentiment.negative,
                              "positive": self.sentiment.positive, "label": self.sentiment_label},
                "legal_threat": [list(pair) for pair in self.legal.matches], "priority": self.priority.figures(),
                "customer": {"email": self.customer.email, "clv_tier": self.customer.clv_tier,
                             **self.customer.figures},
                "channel": self.channel, "language": self.language, "language_source": self.language_source}

    def triage_reasons(self) -> list[str]:
        ranked = ", ".join(f"{name} {p:.2f}" for name, p in self.prediction.ranked)
        reasons = [f"intent {self.prediction.intent} ({ranked}; model {self.model})",
                   f"sentiment {self.sentiment.compound:+.2f} ({self.sentiment_label})",
                   f"legal threat: {self.legal.describe()}" if self.legal.found else "no legal threat",
                   f"priority {self.priority.level} from {self.priority.points} points: "
                   + ", ".join(f"{why} +{points}" for _, points, why in self.priority.parts),
                   f"customer lifetime value {self.customer.clv_cents / 100:,.2f} over {self.customer.orders_count} "
                   f"order(s): tier {self.customer.clv_tier}"]
        if self.language != classifier.LANGUAGE:
            reasons.append(f"the classifier reads {classifier.LANGUAGE}; this ticket is {self.language} "
                           f"({self.language_source}), so its intent is not used for routing")
        if self.customer.days_late:
            reasons.append(f"{self.customer.days_late} day(s) late: {self.customer.late_because}")
        return reasons


def assess(config: SupportConfig, subject: str, body: str, customer: CustomerFacts, *, channel: str = "email",
           language: str | None = None, model: classifier.IntentModel | None = None) -> Triage:
    model = model or classifier.model()
    prediction = model.predict(subject, body)
    mood = sentiment.score(f"{subject}. {body}")
    threat = legal.detect(subject, body)
    level = priority.decide(config, priority.Inputs(prediction.intent, mood.compound, customer.money_at_stake_cents,
                                                    customer.days_late, threat.found))
    if language:
        language, source = language.lower()[:2], "ticket"
    else:
        guessed = languages.guess(f"{subject}\n{body}")
        language, source = (guessed, "guessed") if guessed else (config.default_language, "default")
    # The model learnt English: another language's intent is a guess, so the ladder gets no confidence.
    confidence = prediction.confidence if language == classifier.LANGUAGE else 0.0
    routing = ladder.route(config, ladder.Facts(
        intent=prediction.intent, confidence=confidence, priority=level.level, channel=channel,
        clv_tier=customer.clv_tier, clv_cents=customer.clv_cents, language=language, compound=mood.compound,
        legal=threat.found, legal_text=threat.describe()))
    return Triage(prediction, model.version, mood, mood.label(config.negative_sentiment), threat, level, customer,
                  channel, language, source, routing)
