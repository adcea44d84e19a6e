"""An auto-cancel reaches purchasing through a listener the journey holds, not through an import.

The journey may not import purchasing (an import-linter contract says so); purchasing registers
its escalation with ``customer_journey.on_auto_cancel``, and ``flows.spine`` — which every process
that moves a backorder imports — and ``tasks.timers`` — which fires the deadline — import it, so
no process auto-cancels without telling merchandising.
"""
from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_the_timer_task_module_registers_the_merchandising_escalation() -> None:
    check = ("import tasks.timers\n"
             "from domain.journey import customer_journey\n"
             "from domain.purchasing import merchandising\n"
             "assert customer_journey.AUTO_CANCEL_LISTENERS == [merchandising.auto_cancelled], "
             "customer_journey.AUTO_CANCEL_LISTENERS\n")
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_spine_registers_the_merchandising_escalation() -> None:
    check = ("import flows.spine\n"
             "from domain.journey import customer_journey\n"
             "from domain.purchasing import merchandising\n"
             "assert customer_journey.AUTO_CANCEL_LISTENERS == [merchandising.auto_cancelled], "
             "customer_journey.AUTO_CANCEL_LISTENERS\n")
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_journey_alone_registers_no_listener() -> None:
    check = ("import domain.journey.customer_journey as journey, sys\n"
             "assert journey.AUTO_CANCEL_LISTENERS == [] and 'domain.purchasing' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_registering_twice_keeps_one() -> None:
    from domain.journey import customer_journey
    from domain.purchasing import merchandising

    before = list(customer_journey.AUTO_CANCEL_LISTENERS)
    customer_journey.on_auto_cancel(merchandising.auto_cancelled)
    assert customer_journey.AUTO_CANCEL_LISTENERS == before and merchandising.auto_cancelled in before
