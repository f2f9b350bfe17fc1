"""`matcalc serve` under concurrent load: the smaller run of `benchmarks/web_load.py`.

Forty requests at once, every pathological input of the benchmark among them (nesting far
over the limit, a megabyte program, a declared size of 100,000, a runaway check stopped at
a one-second limit, a body over the cap, JSON nested 100,000 deep), the rest valid and
invalid programs: each must get the status its class allows (never a 5xx, a dropped
connection or no answer), and afterwards every worker must be alive and idle again.
"""
import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the web extra is not installed")

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "web_load.py"
_spec = importlib.util.spec_from_file_location("matcalc_benchmark_web_load", _PATH)
web_load = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = web_load
_spec.loader.exec_module(web_load)


def test_forty_concurrent_mixed_requests_all_get_their_answer_and_no_worker_hangs():
    report = web_load.run(n=40, workers=2, time_limit=1.0, latency_runs=10)
    assert len(report.outcomes) == 40
    assert not report.failures, "\n".join(
        f"{o.label}: status {o.status}, expected {sorted(o.expected)}: {o.error}"
        for o in report.failures)
    runaway = [o for o in report.outcomes if o.label.startswith("runaway")]
    assert runaway[0].status == 422 and report.replaced >= 1
    assert report.healthy, (report.workers_alive, report.workers_idle, report.workers)
    assert all(len(times) == 10 for times in report.latency.values())
