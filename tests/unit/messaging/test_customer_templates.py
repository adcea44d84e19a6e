"""Customer backorder messages: the facts the FTC rule and a customer need, escaped, and short SMS."""
from __future__ import annotations

from typing import Any

import pytest

from domain.messaging.rendering import render_email, render_sms, sms_segments

BASE = "https://shop.example.com/b/"
EVIL = "<script>alert(1)</script>"
DEADLINE = "2026-07-14T18:00:00+00:00"
EXTRAS: dict[str, dict[str, Any]] = {
    "backorder_notice": {},
    "backorder_reminder": {},
    "backorder_renewed_notice": {"old_eta": "2026-07-20"},
    "backorder_eta_change": {"old_eta": "2026-07-20"},
    "backorder_confirmed": {"choice": "wait", "substitute": None},
    "backorder_cancelled": {"resolution": "refund", "amount_cents": 64900, "reference": "re_3Pq81"},
    "backorder_ships": {},
}
TEMPLATES = sorted(EXTRAS)
WITH_CHOICES = ("backorder_notice", "backorder_reminder", "backorder_renewed_notice", "backorder_eta_change")


def context(template: str, **changes: Any) -> dict[str, Any]:
    """What ``journey.message_context`` builds, by hand, plus the template's extras."""
    ctx: dict[str, Any] = {
        "store_name": "Futon Loft", "order_number": "#1001", "customer_name": "Ada Lovelace",
        "item_title": "Oak Mission futon frame, full", "sku": "FUT-FRM-OAK-FULL", "quantity": 1,
        "eta": "2026-08-01", "consent_required": False, "deadline": DEADLINE,
        "links": {"wait": BASE + "w.sig", "cancel": BASE + "c.sig", "credit": BASE + "k.sig"},
        "substitutes": [{"sku": "FUT-FRM-WAL-FULL", "title": "Walnut Lounger futon frame, full",
                         "price_cents": 129900, "link": BASE + "s.sig"}],
        "sms_keywords": ["WAIT", "REFUND", "CREDIT"], "auto_cancel_action": "refund", **EXTRAS[template],
    }
    ctx.update(changes)
    return ctx


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_email_names_the_order_and_the_item(template: str) -> None:
    email = render_email(template, context(template))
    assert "#1001" in email.subject
    for body in (email.text, email.html):
        assert "#1001" in body and "Oak Mission futon frame, full" in body and "Futon Loft" in body
    assert email.html.lstrip().startswith("<!doctype html>")
    assert "alert list" not in email.html, "customer emails carry their own footer"


@pytest.mark.parametrize("template", WITH_CHOICES)
def test_delay_emails_give_the_date_and_every_choice_with_its_link(template: str) -> None:
    email = render_email(template, context(template))
    for body in (email.text, email.html):
        assert "August 1, 2026" in body
        for url in (BASE + "w.sig", BASE + "c.sig", BASE + "k.sig", BASE + "s.sig"):
            assert url in body
        assert "full refund" in body and "store credit" in body
        assert "Walnut Lounger futon frame, full" in body and "$1,299.00" in body
    assert f'href="{BASE}w.sig"' in email.html


@pytest.mark.parametrize("template", WITH_CHOICES)
def test_an_unknown_date_is_said_plainly(template: str) -> None:
    email = render_email(template, context(template, eta=None, old_eta=None))
    assert "not known yet" in email.text and "not known yet" in email.html
    assert "None" not in email.text and "None" not in email.subject


@pytest.mark.parametrize("template", ["backorder_notice", "backorder_reminder"])
def test_silence_means_waiting_without_consent_and_a_refund_with_it(template: str) -> None:
    plain = render_email(template, context(template, consent_required=False))
    assert "you do not need to do anything" in plain.text
    assert "cancel at any time before it ships" in plain.text
    assert "refund you in full" not in plain.text
    needed = render_email(template, context(template, consent_required=True))
    for body in (needed.text, needed.html):
        assert "We need your answer" in body
        assert ("if we do not hear from you by July 14, 2026 at 18:00 UTC, "
                "we will cancel this item and refund you in full") in body
        assert "you do not need to do anything" not in body


def test_first_notice_without_consent_is_not_marked_action_needed() -> None:
    assert not render_email("backorder_notice", context("backorder_notice")).subject.startswith("Action")
    subject = render_email("backorder_notice", context("backorder_notice", consent_required=True)).subject
    assert subject == ("Action needed: Order #1001: Oak Mission futon frame, full "
                       "is delayed until August 1, 2026")


def test_renewed_notice_states_both_dates_and_that_a_yes_is_needed() -> None:
    ctx = context("backorder_renewed_notice", consent_required=True)
    email = render_email("backorder_renewed_notice", ctx)
    for body in (email.text, email.html):
        assert "July 20, 2026" in body and "August 1, 2026" in body
        assert "we need your yes" in body
        assert "we will cancel this item and refund you in full" in body
    sms = render_sms("backorder_renewed_notice", ctx)
    assert "July 20, 2026" in sms and "August 1, 2026" in sms and "Reply WAIT by" in sms


def test_eta_change_states_the_old_and_new_dates() -> None:
    email = render_email("backorder_eta_change", context("backorder_eta_change"))
    assert "Date we gave you before: July 20, 2026" in email.text
    assert "New expected ship date:  August 1, 2026" in email.text


@pytest.mark.parametrize(("resolution", "words"), [
    ("refund", "We have refunded $649.00"), ("store_credit", "We have issued $649.00 in store credit")])
def test_cancelled_formats_money_from_integer_cents(resolution: str, words: str) -> None:
    ctx = context("backorder_cancelled", resolution=resolution)
    email = render_email("backorder_cancelled", ctx)
    assert words in email.text and "re_3Pq81" in email.text
    assert "$649.00" in email.subject and "$649.00" in render_sms("backorder_cancelled", ctx)
    odd = render_email("backorder_cancelled", context("backorder_cancelled", amount_cents=123456705)).text
    assert "$1,234,567.05" in odd
    assert "$0.07" in render_email("backorder_cancelled", context("backorder_cancelled", amount_cents=7)).text


def test_cancelled_reference_is_optional() -> None:
    ctx = context("backorder_cancelled")
    del ctx["reference"]
    assert "Reference" not in render_email("backorder_cancelled", ctx).text


@pytest.mark.parametrize(("choice", "words"), [
    ("wait", "ships as soon as it arrives"), ("cancel", "refund its full price"),
    ("credit", "as store credit"), ("substitute", "item FUT-FRM-WAL-FULL")])
def test_confirmation_says_what_was_chosen(choice: str, words: str) -> None:
    substitute = "FUT-FRM-WAL-FULL" if choice == "substitute" else None
    ctx = context("backorder_confirmed", choice=choice, substitute=substitute)
    email = render_email("backorder_confirmed", ctx)
    assert words in email.text and words in email.html
    assert (BASE + "c.sig" in email.text) == (choice == "wait"), "a waiting customer can still cancel"
    assert render_sms("backorder_confirmed", ctx)


@pytest.mark.parametrize("template", TEMPLATES)
def test_customer_supplied_strings_are_escaped_in_html(template: str) -> None:
    ctx = context(template, customer_name=EVIL, item_title=f"Futon {EVIL}",
                  substitutes=[{"sku": "X", "title": EVIL, "price_cents": 100, "link": BASE + 's.sig"><b>'}])
    email = render_email(template, ctx)
    assert "<script>" not in email.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert '"><b>' not in email.html
    assert EVIL in email.text, "plain text is not HTML-escaped"


def test_substitute_code_and_order_number_are_escaped_in_html_too() -> None:
    ctx = context("backorder_confirmed", choice="substitute", substitute=EVIL, order_number=EVIL,
                  store_name=EVIL)
    html = render_email("backorder_confirmed", ctx).html
    assert "<script>" not in html and html.count("&lt;script&gt;") >= 4


def test_sms_keywords_avoid_twilio_opt_out_words() -> None:
    """CANCEL unsubscribes a number at Twilio, so no text may ask for it."""
    for template in TEMPLATES:
        for consent in (False, True):
            sms = render_sms(template, context(template, consent_required=consent))
            assert "CANCEL" not in sms
    notice = render_sms("backorder_notice", context("backorder_notice", consent_required=True))
    assert "Reply WAIT by July 14, 2026 at 18:00 UTC" in notice and "REFUND" in notice and "CREDIT" in notice
    assert "STOP to opt out" in notice


def test_sms_first_notice_says_whether_silence_is_waiting_or_a_refund() -> None:
    plain = render_sms("backorder_notice", context("backorder_notice"))
    assert "No reply needed to wait" in plain and "#1001" in plain and "August 1, 2026" in plain
    needed = render_sms("backorder_notice", context("backorder_notice", consent_required=True, eta=None))
    assert "not known yet" in needed and "or we cancel and refund it" in needed


WORST = {"store_name": "S" * 60, "item_title": "T" * 300, "order_number": "#" + "9" * 60,
         "eta": "2026-09-30", "deadline": "2026-09-30T23:59:59.999999-04:00", "quantity": 12}


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("consent", [False, True])
@pytest.mark.parametrize("title", ["Oak futon", "T" * 300, "Futon – oak “deluxe” 🛋", "Futon [oak] {x}"])
def test_every_sms_fits_two_segments(template: str, consent: bool, title: str) -> None:
    extremes: dict[str, Any] = {**WORST, "item_title": title, "consent_required": consent}
    if "old_eta" in EXTRAS[template]:
        extremes["old_eta"] = "2026-09-28"
    if template == "backorder_cancelled":
        extremes.update(amount_cents=987654321099, reference="R" * 64)
    choices = ["wait", "cancel", "credit", "substitute"] if template == "backorder_confirmed" else [None]
    for choice in choices:
        if choice:
            extremes.update(choice=choice, substitute="X" * 128)
        sms = render_sms(template, context(template, **extremes))
        assert sms_segments(sms) <= 2
        assert "\n" not in sms


def test_store_credit_policy_is_stated_in_the_consent_sentence() -> None:
    from domain.messaging.rendering import render_email

    rendered = render_email("backorder_notice", context("backorder_notice", consent_required=True,
                                                        auto_cancel_action="store_credit"))
    assert "store credit for the full amount" in rendered.text
    assert "refund you in full" not in rendered.text
