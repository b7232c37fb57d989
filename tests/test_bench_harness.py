import json

import numpy as np

from bench.harness import PeakMemory, Report, compare, time_callable, to_markdown


def test_time_callable_counts_repeats():
    calls = []
    t = time_callable(lambda: calls.append(1), warmup=2, repeats=4, memory=False)
    assert len(calls) == 6 and len(t.times_s) == 4 and t.min <= t.median


def test_peak_memory_sees_a_large_allocation():
    import mmap

    # a fresh anonymous mapping, every page touched: independent of malloc's reuse of freed memory
    with PeakMemory() as m:
        buf = mmap.mmap(-1, 64 * 2**20)
        np.frombuffer(buf, dtype=np.uint8)[::4096] = 1
        buf.close()
    if m.supported:
        assert m.extra_bytes >= 48 * 2**20


def test_compare_ratios_and_markdown(tmp_path):
    import time

    cmp = compare("toy", {"slow": lambda: time.sleep(0.004), "fast": lambda: time.sleep(0.001), "gpu": None},
                  reference="slow", items=10, flops=1e6, skip_reasons={"gpu": "no CUDA device"}, repeats=3,
                  peaks={"gemm_fp32_gflops": 100.0, "copy_gbps": 10.0})
    assert cmp.ratio("slow") == 1.0 and cmp.ratio("fast") > 1.5
    assert cmp.row("gpu").note == "no CUDA device"
    md = to_markdown(cmp)
    assert "| fast |" in md and "no CUDA device" in md
    rep = Report("toy", measure_peaks=False)
    rep.add(cmp)
    js, mdp = rep.write(tmp_path)
    data = json.loads(js.read_text())
    assert data["comparisons"][0]["title"] == "toy" and mdp.read_text().startswith("## toy")
