"""What a triaged helpdesk ticket gets written back: the note body (one function, room for a
draft), the tags, the channel words, and the options that map our queues to the helpdesk's groups."""
from __future__ import annotations

import tomllib

import pytest

from domain.core.business_config import ConfigError, parse_config
from domain.core.models import SupportTicket
from domain.helpdesks.tickets import channel_of
from domain.helpdesks.write_backs import tag
from domain.support.note import DRAFT_HEADING, triage_note
from tests.conftest import REPO_ROOT

FIGURES = {"sentiment": {"label": "negative", "compound": -0.71},
           "priority": {"level": "urgent", "points": 85, "parts": [
               {"part": "intent", "points": 30, "why": "intent damaged_defective"},
               {"part": "sentiment", "points": 25, "why": "sentiment -0.71 at or under -0.6"}]},
           "legal_threat": [["attorney", "my attorney"]]}


def ticket(**values: object) -> SupportTicket:
    base = {"intent": "damaged_defective", "confidence": 0.82, "sentiment": -0.71, "priority": "urgent",
            "queue": "legal", "owner": None, "legal_threat": True, "needs_human": False, "auto_answer": False}
    return SupportTicket(**{**base, **values})


def test_the_note_says_intent_confidence_sentiment_priority_with_reasons_and_queue() -> None:
    note = triage_note(ticket(), FIGURES, "legal threat")
    assert "Intent: damaged_defective (confidence 0.82)" in note
    assert "Sentiment: negative (-0.71)" in note
    assert "Priority: urgent (85 points)" in note and "intent damaged_defective +30" in note
    assert "sentiment -0.71 at or under -0.6 +25" in note
    assert "Legal threat: attorney" in note and "Queue: legal by legal threat" in note
    assert "Not to be answered automatically." in note and DRAFT_HEADING not in note


def test_a_draft_comes_last_under_its_heading_and_a_tier1_ticket_may_be_answered() -> None:
    note = triage_note(ticket(queue="support", legal_threat=False, auto_answer=True, priority="normal"),
                       {"priority": {"points": 25, "parts": []}}, draft="Hi Rui, your futon ships Friday.")
    assert note.endswith(f"{DRAFT_HEADING}\n\nHi Rui, your futon ships Friday.")
    assert "Not to be answered automatically." not in note and "Legal threat" not in note


def test_tags_are_safe_on_every_platform() -> None:
    assert tag("intent", "where_is_my_order") == "bo-intent-where_is_my_order"
    assert tag("queue", "VIP Care/West") == "bo-queue-vip-care-west"


@pytest.mark.parametrize("word,ours", [("email", "email"), ("web", "web"), ("contact_form", "web"),
                                       ("chat", "chat"), ("facebook", "social"), ("voice", "phone"),
                                       ("api", "api"), ("", "email"), ("carrier pigeon", "email")])
def test_platform_channels_map_to_ours(word: str, ours: str) -> None:
    assert channel_of(word) == ours


EXAMPLE = (REPO_ROOT / "examples" / "futon-store.toml").read_text()
ENTRY = '''
[[helpdesks]]
key = "zd"
platform = "zendesk"
base_url = "https://futon.zendesk.com"
credentials = {{ email = "ZENDESK_EMAIL", api_token = "ZENDESK_API_TOKEN" }}
options = {{ {options} }}
'''


def test_poll_interval_and_group_tables_are_read() -> None:
    config = parse_config(tomllib.loads(EXAMPLE + ENTRY.format(
        options='poll_interval_s = 120, groups = { legal = "360001" }, assignees = { vip-care = 42 }')))
    entry = config.helpdesks.helpdesk("zd")
    assert entry is not None and entry.options["poll_interval_s"] == 120
    assert entry.options["groups"] == {"legal": "360001"} and entry.options["assignees"] == {"vip-care": 42}


@pytest.mark.parametrize("options,path", [("poll_interval_s = 5", "helpdesks[0].options.poll_interval_s"),
                                          ('poll_interval_s = "often"', "helpdesks[0].options.poll_interval_s"),
                                          ('groups = "legal"', "helpdesks[0].options.groups"),
                                          ("groups = { legal = [1] }", "helpdesks[0].options.groups")])
def test_bad_options_are_reported_by_key_path(options: str, path: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(tomllib.loads(EXAMPLE + ENTRY.format(options=options)))
    assert any(problem.startswith(path) for problem in error.value.problems), error.value.problems
