"""examples/cpp/screen_ecg (native WFDB reader + C++ DSP + AOTInductor via libtorch) vs Python.

examples/cpp is built as a project of its own against an installed CardioNets prefix
(`find_package(cardionets)` + `find_package(Torch)`), as a device maker would; the top-level build
still adds it when configured with the torch prefix. Slow: configuring against libtorch, compiling
the example (torch headers) and one AOTI compile take several minutes on a loaded 2-core machine.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


def _run(args, **kw):
    res = subprocess.run(args, capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, args))}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def screen_ecg(repo_root):
    import torch

    if shutil.which("cmake") is None:
        pytest.skip("cmake not found")
    root = repo_root / "build" / "cpp-example"
    lib_build, prefix, example_build = root / "lib", root / "prefix", root / "example"
    jobs = str(os.cpu_count() or 1)
    _run(["cmake", "-S", str(repo_root), "-B", str(lib_build), "-DCARDIONETS_PYTHON=OFF", "-DCARDIONETS_TESTS=OFF",
          "-DCMAKE_BUILD_TYPE=Release"])
    _run(["cmake", "--build", str(lib_build), "--parallel", jobs])
    _run(["cmake", "--install", str(lib_build), "--prefix", str(prefix)])
    _run(["cmake", "-S", str(repo_root / "examples" / "cpp"), "-B", str(example_build), "-DCMAKE_BUILD_TYPE=Release",
          f"-DCMAKE_PREFIX_PATH={prefix};{torch.utils.cmake_prefix_path}"])
    _run(["cmake", "--build", str(example_build), "--parallel", jobs])
    exe = example_build / "screen_ecg"
    assert exe.exists()
    return exe


@pytest.fixture(scope="module")
def package(export_model_dir, tmp_path_factory):
    from cardionets.export import export_aoti
    from cardionets.screen import load_screen_model

    model = load_screen_model(export_model_dir)
    return export_aoti(model, tmp_path_factory.mktemp("aoti") / "model.pt2", max_batch=4)


def test_cpp_example_matches_python_screen(screen_ecg, package, export_model_dir, real_data, tmp_path):
    from cardionets.screen import screen

    rec = real_data / "ecg" / "cinc2021" / "HR06000.hea"
    got = json.loads(_run([str(screen_ecg), str(package), str(rec)], timeout=300).stdout)
    assert got["n_crops"] == 3
    screen([rec], export_model_dir, tmp_path / "py", merge=True, progress=False)
    row = pd.read_parquet(tmp_path / "py" / "screen.parquet").iloc[0]
    assert got["quality_flags"] == int(row["quality_flags"])
    for key, prefix in (("phenotypes", "phenotype."), ("probabilities", "prob.")):
        names = list(got[key])
        assert names == [c[len(prefix):] for c in row.index if c.startswith(prefix)]
        cpp = np.array([got[key][n] for n in names])
        py = row[[prefix + n for n in names]].to_numpy(np.float64)
        assert np.abs(cpp - py).max() <= 1e-4, (key, np.abs(cpp - py).max())


def _cut(real_data, tmp_path, samples: int):
    """HR06000 cut to its first `samples` samples (the header's count; the .mat is shared)."""
    src = real_data / "ecg" / "cinc2021" / "HR06000"
    text = src.with_suffix(".hea").read_text().replace("HR06000 12 500 5000", f"HR06000 12 500 {samples}", 1)
    (tmp_path / "HR06000.hea").write_text(text)
    shutil.copy(src.with_suffix(".mat"), tmp_path / "HR06000.mat")
    return tmp_path / "HR06000.hea"


def test_nine_second_record_is_deterministic_and_one_crop(screen_ecg, package, export_model_dir, real_data, tmp_path):
    """A 9 s record gives one crop; the package takes three: the crop is repeated, never read past."""
    import torch

    from cardionets import dsp
    from cardionets.io import read_ecg
    from cardionets.screen import load_screen_model

    hea = _cut(real_data, tmp_path, 4500)
    outs = [_run([str(screen_ecg), str(package), str(hea)], timeout=300).stdout for _ in range(3)]
    assert outs[0] == outs[1] == outs[2]
    got = json.loads(outs[0])
    assert got["n_crops"] == 1
    values = np.array(list(got["phenotypes"].values()) + list(got["probabilities"].values()))
    assert np.isfinite(values).all()
    ecg = read_ecg(hea).standard()
    x = dsp.preprocess(ecg.signal, ecg.fs).signal  # [1, 12, 2250]: one crop
    assert x.shape == (1, 12, 2250)
    with torch.no_grad():
        phen, prob = load_screen_model(export_model_dir)(torch.from_numpy(x[None]))
    assert np.abs(np.array(list(got["phenotypes"].values())) - phen[0].numpy()).max() <= 1e-4
    assert np.abs(np.array(list(got["probabilities"].values())) - prob[0].numpy()).max() <= 1e-4


def test_short_record_and_bad_crop_count_are_clear_errors(screen_ecg, package, real_data, tmp_path):
    hea = _cut(real_data, tmp_path, 4000)  # 8 s
    res = subprocess.run([str(screen_ecg), str(package), str(hea)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert "too_short" in json.loads(res.stdout)["error"]
    full = real_data / "ecg" / "cinc2021" / "HR06000.hea"
    res = subprocess.run([str(screen_ecg), str(package), str(full), "--n-crops", "5"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 1 and "takes 3 crops" in res.stderr
    res = subprocess.run([str(screen_ecg), str(package), str(full), "--n-crops", "x"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 1 and "--n-crops" in res.stderr


def test_top_level_build_still_adds_the_example(repo_root):
    import torch

    build = repo_root / "build" / "cpp-example" / "top-level"
    _run(["cmake", "-S", str(repo_root), "-B", str(build), "-DCARDIONETS_PYTHON=OFF", "-DCARDIONETS_TESTS=OFF",
          f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}"])
    targets = _run(["cmake", "--build", str(build), "--target", "help"]).stdout
    assert "screen_ecg" in targets
