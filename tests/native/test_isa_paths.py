"""Every instruction-set path of the native kernels (cardionets/isa.h) that this CPU runs, forced
one at a time: weighted InfoNCE values and gradients against the fp64 reference (odd shapes, tiny
tau, duplicated phenotypes, low precision), the DSP pipeline against scipy, and the paths against
each other; CARDIONETS_ISA forcing and refusal; `cardionets info` naming the path."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from cardionets import dsp, native
from cardionets import dsp_reference as ref
from cardionets.ops import weighted_infonce
from tests.ops.test_weighted_infonce import check_backend, loss_and_grads, make_inputs

pytestmark = pytest.mark.skipif(not native.available(), reason="native extension not built")


@pytest.mark.parametrize("b,sigma,tau", [(1, 2.0, 0.1), (7, 0.5, 0.01), (65, 10.0, 1.0), (257, 2.0, 0.01),
                                         (300, 2.0, 0.1)])
def test_weighted_infonce_matches_reference(isa_path, b, sigma, tau):
    assert native.load().isa() == isa_path
    check_backend("cpu", b, sigma, tau)


@pytest.mark.parametrize("d,p", [(128, 128), (13, 5), (200, 17)])
def test_weighted_infonce_odd_widths(isa_path, d, p):
    # widths that are not multiples of 8 or 16 take the masked GEMM tails
    check_backend("cpu", 97, 2.0, 0.1, d=d, p=p)


def test_weighted_infonce_low_precision_and_extremes(isa_path):
    check_backend("cpu", 33, 2.0, 0.1, dtype=torch.bfloat16)
    z_ecg, z_cmr, phi = make_inputs(65)
    z_cmr = -z_ecg + 0.01 * z_cmr  # s/tau spans [-100, 100] at tau = 0.01
    loss = weighted_infonce(z_ecg, z_cmr, phi, sigma=2.0, tau=0.01, backend="cpu")
    assert torch.isfinite(loss) and loss > 100


def _paths_here():
    C = native.load()
    return [p["path"] for p in C.isa_report()["paths"] if p["active"] or not any("lacks" in r for r in p["reasons"])]


def test_paths_agree_with_each_other():
    """D = P = 128 with duplicated and near-duplicated phenotypes: every path within fp32 rounding."""
    C = native.load()
    z_ecg, z_cmr, phi = make_inputs(300, d=128, p=128)
    phi[100:150] = phi[0]
    phi[150:160] = phi[1] + 1e-4 * torch.randn(10, 128, generator=torch.Generator().manual_seed(1))
    results = {}
    try:
        for path in _paths_here():
            C.set_isa(path)
            results[path] = loss_and_grads(
                lambda x, y, q: weighted_infonce(x, y, q, sigma=2.0, tau=0.05, backend="cpu"), z_ecg, z_cmr, phi)
    finally:
        C.set_isa("auto")
    base = results["scalar"]
    for path, got in results.items():
        for g, w in zip(got, base):
            assert torch.allclose(g, w, rtol=2e-5, atol=2e-6 * w.abs().max().item()), path


def test_dsp_matches_scipy(isa_path, real_data):
    from cardionets.io import read_ecg

    recs = [real_data / "ecg" / "cinc2021" / "HR06000.hea", real_data / "ecg" / "cinc2021" / "JS20004.hea",
            real_data / "ecg" / "ptb" / "s0010_re.hea"]
    for p in recs:
        ecg = read_ecg(p).standard()
        out = dsp.preprocess(ecg.signal, ecg.fs)
        want = ref.preprocess(ecg.signal.astype(np.float64), ecg.fs)
        assert np.abs(out.signal - want).max() < 1e-3, (isa_path, p.name)
        assert set(dsp.describe_flags(out.flags)) == ref.quality_flags(ecg.signal, ecg.fs), (isa_path, p.name)
    # partial lane groups (5 rows), the general and the mirror-paired resamplers, short signals
    rng = np.random.default_rng(0)
    for fs in (500, 360):
        for n, rows in ((41, 5), (1001, 12), (1001, 5)):
            x = rng.standard_normal((rows, n)).astype(np.float32)
            want = ref.resample(x.astype(np.float64), fs)
            assert np.abs(dsp.resample(x, fs) - want).max() <= 1e-6 * np.abs(want).max(), (isa_path, fs, n, rows)


def test_dsp_paths_agree(real_data):
    from cardionets.io import read_ecg

    C = native.load()
    x = np.stack([read_ecg(p).standard().signal for p in sorted((real_data / "ecg" / "cinc2021").glob("HR*.hea"))])
    outs = {}
    try:
        for path in _paths_here():
            C.set_isa(path)
            outs[path] = dsp.preprocess_batch(x, 500, threads=1)
    finally:
        C.set_isa("auto")
    for path, out in outs.items():
        np.testing.assert_array_equal(out.flags, outs["scalar"].flags)
        assert np.abs(out.signal - outs["scalar"].signal).max() < 1e-5, path


def _run(code: str, **env) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def test_cardionets_isa_forces_and_refuses():
    code = "import cardionets._C as C; print(C.isa())"
    for path in _paths_here():
        res = _run(code, CARDIONETS_ISA=path)
        assert res.returncode == 0 and res.stdout.strip() == path, res.stderr
    res = _run(code, CARDIONETS_ISA="avx9000")
    assert res.returncode != 0 and "unknown instruction-set path 'avx9000'" in res.stderr
    # a refused choice is reported by info instead of raising there
    res = _run("import cardionets._C as C, json; print(json.dumps(C.isa_report()))", CARDIONETS_ISA="avx9000")
    rep = json.loads(res.stdout)
    assert rep["active"] is None and "avx9000" in rep["error"]
    missing = [p for p in native.load().isa_report()["paths"] if any("lacks" in r for r in p["reasons"])]
    for p in missing:  # only on CPUs without AVX-512 / AVX2
        res = _run(code, CARDIONETS_ISA=p["path"])
        assert res.returncode != 0 and "refused" in res.stderr and "this CPU lacks" in res.stderr


def test_set_isa_refusal_keeps_choice():
    C = native.load()
    before = C.isa()
    with pytest.raises(Exception, match="unknown instruction-set path"):
        C.set_isa("sse9")
    assert C.isa() == before


def test_info_names_the_path():
    res = subprocess.run([sys.executable, "-m", "cardionets", "info", "--json"], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "CARDIONETS_ISA": "scalar"})
    assert res.returncode == 0, res.stderr
    isa = json.loads(res.stdout)["native"]["isa"]
    assert isa["active"] == "scalar" and isa["chosen_by"] == "CARDIONETS_ISA=scalar"
    assert [p["path"] for p in isa["paths"]] == ["avx512", "avx2", "scalar"]
    assert all(p["reasons"] for p in isa["paths"] if not p["active"])
    res = subprocess.run([sys.executable, "-m", "cardionets", "info"], capture_output=True, text=True, timeout=300)
    assert f"ISA path: {native.load().isa()}" in res.stdout
