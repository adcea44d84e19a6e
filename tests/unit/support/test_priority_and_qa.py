"""Priority from intent × sentiment × money × lateness, and the post-resolution QA sample."""
from __future__ import annotations

from domain.core.support_config import SupportConfig
from domain.support import qa
from domain.support.priority import Inputs, decide

CONFIG = SupportConfig()


def test_priority_adds_each_part_and_names_it() -> None:
    calm = decide(CONFIG, Inputs("product_question", 0.5, 0, 0, False))
    assert (calm.level, calm.points) == ("low", 5)
    angry_big_late = decide(CONFIG, Inputs("damaged_defective", -0.8, 120_000, 3, False))
    assert angry_big_late.points == 30 + 25 + 25 + 18
    assert angry_big_late.level == "urgent"
    assert [part for part, _, _ in angry_big_late.parts] == ["intent", "sentiment", "money", "lateness"]
    assert "3 day(s) late" in [why for _, _, why in angry_big_late.parts]
    assert decide(CONFIG, Inputs("where_is_my_order", 0.0, 0, 100, False)).points == 20 + 30  # lateness capped
    assert decide(CONFIG, Inputs("where_is_my_order", -0.55, 20_000, 0, False)).level == "high"  # 20 + 15 + 10
    assert decide(CONFIG, Inputs("where_is_my_order", -0.45, 20_000, 0, False)).level == "normal"  # 20 + 0 + 10
    assert decide(CONFIG, Inputs("other", 0.9, 0, 0, True)).level == "urgent"  # legal: always


def test_the_file_can_reweigh_intents_and_thresholds() -> None:
    config = SupportConfig(intent_weights={**CONFIG.intent_weights, "product_question": 50},
                           priority_at={"urgent": 90, "high": 60, "normal": 10})
    assert decide(config, Inputs("product_question", 0.5, 0, 0, False)).level == "normal"


def test_qa_samples_the_configured_share_the_same_way_every_time() -> None:
    config = SupportConfig(qa_sample_percent=10)
    picked = [qa.sample(config, ticket_id, "support").sampled for ticket_id in range(1, 5001)]
    assert 0.08 < sum(picked) / len(picked) < 0.12
    assert picked == [qa.sample(config, ticket_id, "support").sampled for ticket_id in range(1, 5001)]
    assert not any(qa.sample(SupportConfig(qa_sample_percent=0), t, "support").sampled for t in range(1, 500))
    assert all(qa.sample(config, t, "legal").sampled for t in range(1, 500))  # qa_always
    assert "draw" in qa.sample(config, 7, "support").reason
