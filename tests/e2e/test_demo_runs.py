"""``python -m demo`` as ``make demo`` runs it on a fresh clone (no URLs set: embedded servers under
a data directory kept between runs): it succeeds twice in a row, and however it ends — a
process dying under ``--keep``, Ctrl-C — nothing it started is left running."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.processes import group_members
from tests.conftest import REPO_ROOT
from workers import embedded

URL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "CELERY_KEY_PREFIX", "SECRET_KEY", "BACKORDERS_CONFIG",
                 "DEAD_LETTER_SPOOL_DIR")


class Demo:
    """One run of the demo in its own process, its output collected."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES}
        env.update({"BACKORDERS_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT)})
        self.data_dir = data_dir
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "demo", *args], cwd=REPO_ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def finish(self, timeout_s: float) -> int:
        code = self.proc.wait(timeout=timeout_s)
        self.reader.join(timeout=5)
        return code

    def started(self, timeout_s: float = 300) -> dict[str, object]:
        """The process record once every process has started (Flower is the last)."""
        record = self.data_dir / "demo-logs" / "processes.json"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if record.exists():
                data: dict[str, object] = json.loads(record.read_text())
                if data["demo_pid"] == self.proc.pid and "flower" in data["pids"]:  # type: ignore[operator]
                    return data
            assert self.proc.poll() is None, self.output
            time.sleep(0.2)
        raise AssertionError(f"the demo did not start its processes:\n{self.output}")


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory outside pytest's base temp: that one is made 0700 again by every pytest
    session that starts, and the embedded PostgreSQL runs as another user who must reach it."""
    root = Path(tempfile.mkdtemp(prefix="backorders-demo-test-"))
    root.chmod(0o755)
    try:
        yield root / "data"
    finally:
        embedded.stop(root / "data")
        shutil.rmtree(root, ignore_errors=True)


def assert_nothing_left(data_dir: Path, pgid: int) -> None:
    deadline = time.monotonic() + 10
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group_members(pgid) == [], "a process the demo started is still running"
    assert not embedded.is_running(data_dir), "the embedded servers the demo started are still running"


def assert_counted(output: str) -> None:
    """The summary's ``/metrics`` line: webhooks (web processes), pushes and sends (the workers'
    pool children) all counted, in one scrape."""
    [line] = [line for line in output.splitlines() if line.startswith("/metrics: http://127.0.0.1:")]
    totals = dict(re.findall(r"(webhooks accepted|channel pushes|sends) (\d+)", line))
    assert set(totals) == {"webhooks accepted", "channel pushes", "sends"}, line
    assert all(int(total) > 0 for total in totals.values()), line


def assert_exceptions(output: str) -> None:
    """The summary's order exceptions: the approvals paid at Stripe, at Adyen (by its REFUND webhook)
    and at PayPal, the review's case, one stuck-parcel case and one message, the Stripe and PayPal
    chargebacks staged with nothing missing, and the what-if's difference."""
    lines = output.split("order exceptions (refunds by policy", 1)[-1]
    assert "TKT-4101 Ana: 120.00 USD → approve 120.00 USD (within policy), paid at stripe as re_" in lines, output
    assert "TKT-4102 Ben: 300.00 USD → review (over 250: review), case " in lines, output
    assert re.search(r"TKT-4103 Dara: 80.00 USD → approve 80.00 USD \(within policy\), paid at adyen as \w+ by its "
                     r"REFUND webhook", lines), output
    assert "TKT-4104 Eli: 60.00 USD → approve 60.00 USD (within policy), paid at paypal as " in lines, output
    assert "1 stuck_in_transit case" in lines and "1 customer message(s)" in lines, output
    assert re.search(r"dispute dp_\w+ on order \d+: case \d+ due .* evidence field\(s\) staged \d days ahead, "
                     r"missing nothing", lines), output
    assert re.search(r"PayPal dispute PP-D-\d+ on order \d+: case \d+ due .* evidence type\(s\) staged \d days "
                     r"ahead, missing nothing", lines), output
    assert "what-if at 350.00: 1 of 4 request(s) would differ" in lines, output


def assert_support(output: str) -> None:
    """The support act: Cleo's Zendesk ticket triaged, its draft (with her order's facts) written back
    as the one internal note read back from the stand-in; Fay's return approved by policy, labelled,
    received, refunded at Stripe and restocked; her negative survey answer recorded and followed up."""
    act = output.split("\nsupport: a helpdesk ticket triaged", 1)[-1].split("(support took", 1)[0]
    assert "│ Suggested reply (draft, not sent)" in act and "│ Facts used:" in act, output
    assert re.search(r"│   - parcel ups 1Z\w+: ", act), output
    lines = output.split("support (a helpdesk ticket triaged", 1)[-1]
    assert re.search(r"ticket \d+ \(Zendesk #\d+\) from Cleo: where_is_my_order \d\.\d\d, priority \w+, queue "
                     r"support; triaged with its draft: tags, priority, group 360002 and 1 internal note written back "
                     r"to Zendesk", lines), output
    assert re.search(r"RMA-\d+ Fay: 1 × BED-DUVET-QUEEN \(defective\) → approve 189\.00 USD \(within policy\), "
                     r"ShipStation return label \d+, received QC restock, refunded at stripe as re_\w+, restocked 1 "
                     r"unit\(s\)", lines), output
    assert re.search(r'CSAT answer recorded: survey \d+ \(return RMA-\d+, queue returns, defective/restock, resolved '
                     r'by warehouse\): 2/5 "The refund was quick[^"]*", 1 press\(es\); follow_up → case \d+ in '
                     r'queue cx', lines), output


@pytest.mark.e2e
@pytest.mark.timeout(1200)
def test_the_demo_runs_twice_in_a_row(data_dir: Path) -> None:
    for run in (1, 2):
        started = time.monotonic()
        demo = Demo(data_dir)
        code = demo.finish(timeout_s=600)
        took = re.search(r"\(the exceptions took (\d+) s\)", demo.output)
        support = re.search(r"\(support took (\d+) s\)", demo.output)
        print(f"demo run {run}: exit {code} in {time.monotonic() - started:.1f} s"
              + (f", of which the order exceptions {took.group(1)} s" if took else "")
              + (f" and support {support.group(1)} s" if support else ""))
        assert code == 0, demo.output
        assert "== Demo summary ==" in demo.output and "customer journeys: Jamie: filled; Sam: auto_cancelled" \
            in demo.output
        assert "Flower: http://127.0.0.1:" in demo.output and ", password " in demo.output
        assert_counted(demo.output)
        assert_exceptions(demo.output)
        assert_support(demo.output)
        record = json.loads((data_dir / "demo-logs" / "processes.json").read_text())
        assert set(record["pids"]) == {"sandbox", "web", "worker", "notify", "beat", "flower"}
        assert_nothing_left(data_dir, record["pgid"])


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_a_failed_keep_run_and_an_interrupted_run_leave_nothing_running(data_dir: Path) -> None:
    kept = Demo(data_dir, "--keep")
    record = kept.started()
    os.kill(record["pids"]["worker"], signal.SIGKILL)  # type: ignore[index]
    assert kept.finish(timeout_s=180) == 1, kept.output
    assert "demo failed: process worker exited with -9" in kept.output
    assert_nothing_left(data_dir, record["pgid"])  # type: ignore[arg-type]

    interrupted = Demo(data_dir)
    record = interrupted.started()
    interrupted.proc.send_signal(signal.SIGINT)
    assert interrupted.finish(timeout_s=180) == 130, interrupted.output
    assert "demo interrupted" in interrupted.output
    assert_nothing_left(data_dir, record["pgid"])  # type: ignore[arg-type]

    terminated = Demo(data_dir)
    record = terminated.started()
    terminated.proc.send_signal(signal.SIGTERM)
    assert terminated.finish(timeout_s=180) == 143, terminated.output
    assert_nothing_left(data_dir, record["pgid"])  # type: ignore[arg-type]
