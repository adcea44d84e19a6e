"""The ``[notifications]`` senders and scorecard schedule are read, checked, and decide (``domain.messaging.senders``)."""
from __future__ import annotations

from datetime import time
from typing import Any

import pytest

from domain.core.business_config import ConfigError, NotificationConfig, ScorecardSchedule, parse_config
from domain.messaging import senders


def _config(**notifications: Any) -> NotificationConfig:
    return parse_config({"business": {"name": "x"}, "locations": [{"key": "main"}],
                         "notifications": notifications}).notifications


def test_schedule_and_senders_are_read() -> None:
    config = _config(scorecard_schedule="monthly 3 07:30", from_email="shop@x.example", sms_from="+15005550006")
    assert config.scorecard_schedule == ScorecardSchedule("monthly", 3, time(7, 30))
    assert _config().scorecard_schedule == ScorecardSchedule("weekly", 0, time(8, 0))
    assert _config(scorecard_schedule="weekly fri 17:00").scorecard_schedule == ScorecardSchedule("weekly", 4,
                                                                                                  time(17, 0))
    assert _config(scorecard_schedule="off").scorecard_schedule.every == "off"
    assert (config.from_email, config.staff_from_email, config.sms_from) == ("shop@x.example", None, "+15005550006")


def test_bad_values_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        _config(scorecard_schedule="monthly 31 08:00", sms_from="555-1234", staff_from_email="nope")
    problems = "\n".join(caught.value.problems)
    assert "notifications.scorecard_schedule" in problems and "notifications.sms_from" in problems
    assert "notifications.staff_from_email" in problems


def test_the_file_decides_and_the_environment_fills_in() -> None:
    env = {"EMAIL_FROM": "env@x.example", "TWILIO_FROM": "+15005550001",
           "TWILIO_MESSAGING_SERVICE_SID": "MG" + "1" * 32}
    toml = NotificationConfig(from_email="shop@x.example", staff_from_email="alerts@x.example", sms_from="+15005550006")
    assert senders.email_from("backorder_notice", toml, env) == "shop@x.example"
    assert senders.email_from("po_to_vendor", toml, env) == "shop@x.example"
    assert senders.email_from("stock_alert", toml, env) == "alerts@x.example"
    assert senders.email_from("vendor_scorecard", toml, env) == "alerts@x.example"
    assert senders.sms_from(toml, env) == senders.SmsSender("+15005550006")
    bare = NotificationConfig()
    assert senders.email_from("backorder_notice", bare, env) == "env@x.example"
    assert senders.email_from("stock_alert", NotificationConfig(from_email="shop@x.example"), {}) == "shop@x.example"
    assert senders.sms_from(bare, env) == senders.SmsSender("+15005550001")
    assert senders.sms_from(bare, {"TWILIO_MESSAGING_SERVICE_SID": "MGabc"}) == senders.SmsSender(
        messaging_service_sid="MGabc")
    assert senders.sms_from(NotificationConfig(sms_from="MG" + "2" * 32), env).messaging_service_sid == "MG" + "2" * 32
    with pytest.raises(senders.NoSenderError, match=r"from_email \(or EMAIL_FROM\)"):
        senders.email_from("backorder_notice", bare, {})
    with pytest.raises(senders.NoSenderError, match="sms_from"):
        senders.sms_from(bare, {})
