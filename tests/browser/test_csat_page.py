"""The satisfaction survey page in a real browser at 390×844 (as the email's buttons open it), and
the console's satisfaction page behind the console's login."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.core.clock import utcnow
from domain.core.models import CsatRequest, Sku
from domain.csat import surveys
from domain.journey import customer_journey
from sandbox.server import SandboxServer
from tests.browser.conftest import PHONE
from tests.browser.test_pages import PASSWORD, USER, _order, no_sideways_scroll, settings, web  # noqa: F401

__all__ = ("settings", "web")


def _survey(session: Session, settings: customer_journey.Settings) -> tuple[CsatRequest, str]:
    sku = session.scalars(select(Sku).order_by(Sku.code)).first()
    assert sku is not None
    backorder = _order(session, 3001, sku, 0.5)
    backorder.state = "auto_cancelled"
    session.flush()
    request = CsatRequest(subject_kind="backorder", subject_id=backorder.id, queue="fulfilment",
                          intent="auto_cancelled", resolved_by="bot:journey", resolution="auto_cancelled (refund)",
                          resolved_at=utcnow() - timedelta(hours=1), recipient="ada3001@example.com",
                          expires_at=utcnow() + timedelta(days=30))
    session.add(request)
    session.commit()
    return request, surveys.link(settings.public_base_url, settings.secret_key, request)


def test_the_survey_fits_a_phone_and_a_second_answer_changes_the_first(
        browser: Any, web: SandboxServer, db_session: Session,  # noqa: F811
        settings: customer_journey.Settings, artifacts_dir: Path) -> None:  # noqa: F811
    request, link = _survey(db_session, settings)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        response = page.goto(f"{link}?score=4")  # the email's "4" button
        assert response is not None and response.status == 200
        page.screenshot(path=str(artifacts_dir / "csat-phone.png"), full_page=True)
        assert "How did we do?" in page.locator("h1").inner_text()
        assert "Your backordered item: " in page.locator("dd").last.inner_text()
        assert page.locator("script").count() == 0
        buttons = page.locator(".scores button")
        assert buttons.count() == 5
        assert page.locator(".scores button.picked").inner_text().startswith("4")
        for index in range(5):
            box = buttons.nth(index).bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] >= 44, box
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
            assert box["y"] + box["height"] <= PHONE["height"], "every score is on the first screen"
        no_sideways_scroll(page)
        db_session.expire_all()
        assert db_session.get(CsatRequest, request.id).score is None  # opening the page saved nothing

        page.locator("textarea#comment").fill("Refund came quickly")
        with page.expect_navigation() as navigation:
            buttons.nth(4).tap()
        assert navigation.value is not None and navigation.value.status == 200
        assert "Thank you" in page.locator("h1").inner_text()
        assert "We saved 5 out of 5" in page.locator("#saved").inner_text()
        page.screenshot(path=str(artifacts_dir / "csat-saved-phone.png"), full_page=True)
        no_sideways_scroll(page)

        with page.expect_navigation():
            page.locator(".scores button").nth(2).tap()  # changes the answer on the same page
        assert "We saved 3 out of 5" in page.locator("#saved").inner_text()
    finally:
        context.close()
    db_session.expire_all()
    rows = db_session.scalars(select(CsatRequest)).all()
    assert len(rows) == 1 and (rows[0].score, rows[0].comment, rows[0].answer_count) == (3, "Refund came quickly", 2)
    assert db_session.scalar(select(func.count()).select_from(CsatRequest)) == 1


def test_the_console_satisfaction_page(web: SandboxServer, db_session: Session,  # noqa: F811
                                       settings: customer_journey.Settings) -> None:  # noqa: F811
    request, _ = _survey(db_session, settings)
    request.score, request.comment, request.answered_at = 1, "never again", utcnow()
    db_session.commit()
    assert requests.get(f"{web.base_url}/console/csat", timeout=10).status_code == 401
    page = requests.get(f"{web.base_url}/console/csat", auth=(USER, PASSWORD), timeout=10)
    assert page.status_code == 200 and "<script" not in page.text
    assert 'data-group="fulfilment"' in page.text and "never again" in page.text
    assert requests.get(f"{web.base_url}/console/csat?days=30", auth=(USER, PASSWORD), timeout=10).status_code == 200
