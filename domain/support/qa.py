"""The post-resolution QA sample: a share of resolved tickets picked for review, the same way every
time for the same ticket (a hash of its id, not a random draw), so the choice can be explained and
re-checked. Tickets resolved in a ``qa_always`` queue (the legal queue by default) are always picked.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from domain.core.support_config import SupportConfig


@dataclass(frozen=True)
class Sample:
    sampled: bool
    draw: float  # 0 ≤ draw < 100
    reason: str


def draw_for(ticket_id: int) -> float:
    digest = hashlib.sha256(f"support-qa:{ticket_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def sample(config: SupportConfig, ticket_id: int, queue: str) -> Sample:
    draw = round(draw_for(ticket_id), 3)
    if queue in config.qa_always:
        return Sample(True, draw, f"queue {queue} is always sampled (qa_always)")
    if draw < config.qa_sample_percent:
        return Sample(True, draw, f"draw {draw:.3f} < qa_sample_percent {config.qa_sample_percent}")
    return Sample(False, draw, f"draw {draw:.3f} ≥ qa_sample_percent {config.qa_sample_percent}")
