"""The demo's package, its result table and measures, and the progress heartbeat. The end-to-end
run of ``cardionets demo --quick`` is tests/test_foundation.py::test_demo_runs."""
from __future__ import annotations

from pathlib import Path

import pytest

from cardionets import progress
from cardionets.demo import STAGES, run_demo
from cardionets.errors import InputError

# The import graph (no library module imports the demo or the CLI) is tests/test_import_graph.py.


def test_the_demo_lives_in_one_package():
    pkg = Path(__file__).resolve().parents[1] / "cardionets"
    assert not list(pkg.rglob("demo_stage.py")), "demo stages belong in cardionets/demo/"
    assert not (pkg / "demo.py").exists()


def test_every_stage_resolves():
    import importlib

    for name, target in STAGES:
        mod, fn = target.split(":")
        assert callable(getattr(importlib.import_module(f"cardionets.demo.{mod}"), fn)), name


def test_unknown_stage_is_refused(tmp_path):
    with pytest.raises(InputError, match="no-such-stage"):
        run_demo(tmp_path, only=["no-such-stage"])


def test_heartbeat_is_throttled_and_silent_without_listener(monkeypatch):
    lines: list[str] = []
    progress.beat("nobody listens", 1, 2)  # a no-op
    clock = iter([0.0, 0.5, 3.0, 3.2, 7.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    listener = progress.Throttled(lines.append, every=2.0)  # created at t = 0
    with progress.listening(listener):
        for i in range(4):
            progress.beat("train epoch 1/2", i + 1, 4, lambda: "loss 1.0")
    assert lines == ["      ... train epoch 1/2: 2/4, loss 1.0", "      ... train epoch 1/2: 4/4, loss 1.0"]
    progress.beat("after the block", 1)  # listener removed
    assert len(lines) == 2


def test_result_table_prints_cis_and_the_paired_test():
    from cardionets.demo.method import format_table

    stats = {
        "phenotypes": {"metric": "mean R^2 (82 phenotypes)",
                       "models": {"scratch": {"value": 0.05, "ci": [0.03, 0.07]},
                                  "cardionets": {"value": 0.09, "ci": [0.06, 0.11]}},
                       "cardionets_minus_scratch": {"difference": 0.04, "p_value": 0.001, "test": "paired permutation"}},
        "disease:CM": {"metric": "CM AUC (0 positives of 8 test subjects)",
                       "models": {"scratch": {"value": float("nan"), "ci": [float("nan")] * 2},
                                  "cardionets": {"value": float("nan"), "ci": [float("nan")] * 2}},
                       "cardionets_minus_scratch": {"difference": float("nan"), "p_value": float("nan"),
                                                    "test": "not computable: one class in test"}},
    }
    lines = format_table(stats).splitlines()
    assert lines[2] == ("| mean R^2 (82 phenotypes) | 0.050 (0.030 to 0.070) | 0.090 (0.060 to 0.110) | "
                        "+0.040, p = 0.001 (paired permutation) |")
    assert lines[3] == "| CM AUC (0 positives of 8 test subjects) | n/a | n/a | not computable: one class in test |"


def test_generator_measures():
    import numpy as np

    from cardionets.demo.generator import _cyclic_gap, _pearson_ci

    assert list(_cyclic_gap(np.array([0, 49, 10]), np.array([48, 1, 14]), 50)) == [2, 2, 4]
    x = np.arange(20.0)
    r, lo, hi = _pearson_ci(x, 2 * x + 1)
    assert r == pytest.approx(1.0) and np.isnan(lo)
    r, lo, hi = _pearson_ci(x, np.sin(x))
    assert lo < r < hi
