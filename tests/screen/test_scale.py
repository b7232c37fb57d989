"""The million-record benchmark (bench/bench_screen_million.py) at 3,000 records: a walk of hard-linked
real and synthetic inputs, a screening child SIGKILLed at half way, a resume, the merge: exactly one
row per input. The full run's figures are in docs/screening.md."""
from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_kill_at_half_way_and_resume_small(tmp_path):
    from bench.bench_screen_million import main

    rc = main(["--records", "3000", "--subjects", "12", "--shard-size", "128", "--work", str(tmp_path / "w"),
               "--results", str(tmp_path / "res")])
    r = json.loads((tmp_path / "res" / "screen_million.json").read_text())
    assert rc == 0 and r["check"]["rows_equal_inputs"] and r["check"]["rows"] == 3000
    assert r["first"]["killed"] and 0 < r["first"]["rows_after"] < 3000
    assert r["resume"]["returncode"] == 1  # finished; the bad inputs are error rows
    errors = r["resume_summary"]["errors"]
    assert set(errors) <= {"unreadable", "unsupported_format"} and sum(errors.values()) > 0
