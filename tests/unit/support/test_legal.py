"""Legal threats are found by explicit rules and always go to the legal queue; a chargeback threat is
billing, not legal."""
from __future__ import annotations

import pytest

from domain.core.support_config import SupportConfig
from domain.support import customer, legal, triage

#: Threats naming an order, each way of saying it once politely and once in anger.
THREATS: list[tuple[str, str]] = [
    ("Order #4471", "Hello, I'm sorry to bother you again, but my lawyer has advised me to ask for a full refund "
                    "on order #4471. Thank you for your help."),
    ("REFUND", "Refund order #4471 NOW or my lawyer hears about it. I am done being polite!!!"),
    ("Order #5520", "If we can't settle this kindly, I will file in small claims court over order #5520. "
                    "Thank you for understanding."),
    ("", "Order #5520 never came. See you in small claims court, you thieves."),
    ("Order #6602", "With respect, I have now written to the attorney general about order #6602 and its missing "
                    "refund."),
    ("Crooks", "Reporting you crooks to the Attorney General today. Order #6602. Disgusting."),
    ("Order #7713", "I really don't want to, but I am prepared to sue over order #7713 if it isn't resolved "
                    "this week. Kind regards."),
    ("", "You people are a joke. I'm suing. Order #7713, remember it."),
    ("Order #7714", "I will have no choice but to sue if order #7714 is not refunded."),
    ("Backorders", "Many of us waiting on backorders like my order #8824 are joining a class action. Regards."),
    ("SCAMMERS", "CLASS ACTION is coming for you scammers, order #8824 is proof."),
    ("Order #9935", "Please treat this letter as a cease and desist: stop charging my card for order #9935. "
                    "Kind regards."),
    ("", "CEASE AND DESIST charging me for order #9935 or else!"),
    ("Order #3301", "My legal team will be in touch about order #3301. Best wishes."),
    ("Order #3302", "I am considering legal proceedings regarding order #3302, which never arrived. Furious."),
]

#: (subject, body, legal?) — threats in many shapes, and near misses that are not threats.
CASES: list[tuple[str, str, bool]] = [
    ("Refund", "If I don't get my refund by Friday I'm calling my lawyer.", True),
    ("Broken frame", "My attorney will be contacting you about the broken frame that injured my son.", True),
    ("Small claims", "I will take you to small claims court for the cost of the mattress.", True),
    ("", "I've already filed a complaint with the Attorney General's office.", True),

    ("Still nothing", "I am going to sue you if this isn't fixed.", True),
    ("", "Expect a lawsuit. This is the third wrong item.", True),
    ("Legal", "We will be pursuing legal action over the damaged delivery.", True),
    ("", "I've contacted consumer protection about your delivery times.", True),

    ("", "see you in court", True),
    *((subject, body, True) for subject, body in THREATS),
    # A BBB complaint is an unhappy customer for the ladder's other steps, not a matter for counsel.
    ("Scam", "You are scammers. I'm reporting you to the BBB today.", False),
    ("Complaint", "Filed a complaint with the Better Business Bureau about order #1100.", False),
    ("Order #1101", "I spoke to Sue yesterday about order #1101 and she was lovely.", False),
    ("Thanks", "Please pass my thanks to Sue for sorting order #1103.", False),
    ("Charged twice", "Fix the double charge or I will file a chargeback with my bank.", False),
    ("Dispute", "I'm going to dispute this charge with my credit card company.", False),
    ("", "I'll ask Visa to reverse the charge if I don't hear back.", False),
    ("Thanks Sue", "Sue on your team was great, thanks for the quick refund!", False),
    ("Where is my order", "Tracking hasn't moved in a week, where is it?", False),
    ("Suede cover", "Is the suede-look futon cover easy to clean?", False),
]


@pytest.mark.parametrize(("subject", "body", "expected"), CASES)
def test_the_rules(subject: str, body: str, expected: bool) -> None:
    assert legal.detect(subject, body).found is expected


@pytest.mark.parametrize(("subject", "body", "expected"), CASES)
def test_a_legal_threat_always_goes_to_the_legal_queue(subject: str, body: str, expected: bool) -> None:
    """Whatever the intent, its confidence, the customer's value or a route: legal first, never a macro."""
    config = SupportConfig(confidence_floor=0.99)  # even where the classifier is unsure
    vip = customer.CustomerFacts(email="v@example.com", clv_cents=900_000, clv_tier="vip")
    for facts in (customer.CustomerFacts(email=None), vip):
        result = triage.assess(config, subject, body, facts)
        if expected:
            assert (result.routing.queue, result.routing.step) == ("legal", "legal")
            assert result.routing.auto_answer is False and result.priority.level == "urgent"
            assert any("legal threat" in reason for reason in result.routing.reasons)
        else:
            assert result.routing.queue != "legal"


def test_a_chargeback_threat_is_a_billing_matter() -> None:
    result = triage.assess(SupportConfig(), "Charged twice", "You charged my card twice for the futon. Refund the "
                           "duplicate or I will file a chargeback with my bank.", customer.CustomerFacts(email=None))
    assert not result.legal.found
    assert result.prediction.intent == "billing_payment"
    assert result.routing.queue != "legal"
