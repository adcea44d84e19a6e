from datetime import UTC, datetime, timedelta

import pytest

from domain.journey.links import BadLink, ExpiredLink, LinkClaim, sign, verify

SECRET = "s" * 40
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _token(**overrides: object) -> str:
    claim = dict(backorder_id=42, choice="wait", expires_at=int((NOW + timedelta(days=3)).timestamp()))
    claim.update(overrides)
    return sign(SECRET, LinkClaim(**claim))  # type: ignore[arg-type]


def test_round_trip() -> None:
    claim = verify(SECRET, _token(choice="substitute", substitute="FUT-FRM-OAK-QUEEN"), NOW)
    assert (claim.backorder_id, claim.choice, claim.substitute) == (42, "substitute", "FUT-FRM-OAK-QUEEN")


def test_any_changed_character_fails() -> None:
    token = _token()
    for index in range(len(token)):
        if token[index] == ".":
            continue
        flipped = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1:]
        with pytest.raises(BadLink):
            verify(SECRET, flipped, NOW)


def test_expired_and_wrong_secret() -> None:
    with pytest.raises(ExpiredLink):
        verify(SECRET, _token(), NOW + timedelta(days=4))
    with pytest.raises(BadLink):
        verify("t" * 40, _token(), NOW)
    with pytest.raises(BadLink):
        verify(SECRET, "garbage", NOW)
