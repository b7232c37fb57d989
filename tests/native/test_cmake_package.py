"""The installed CMake package: `cmake --install` of the C++ library into a temporary prefix, then a
minimal consumer project that knows only `find_package(cardionets CONFIG REQUIRED)` configures,
builds and runs against it (reads a real WFDB record, preprocesses it, reports the ISA path)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import cardionets

CONSUMER_CMAKE = """
cmake_minimum_required(VERSION 3.18)
project(consumer LANGUAGES CXX)
find_package(cardionets 0.1 CONFIG REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE cardionets::core)
"""

CONSUMER_MAIN = r"""
#include <cstdio>
#include <vector>
#include "cardionets/cardionets.h"
int main(int argc, char** argv) {
  const auto rec = cardionets::wfdb::read_record(argv[1]);
  const cardionets::dsp::Preprocessor pre(rec.header.fs);
  std::vector<float> out(static_cast<size_t>(pre.crops_per_record(rec.n_samples)) * 12 * 2250);
  const unsigned flags = pre.run(rec.signal.data(), rec.n_samples, out.data());
  std::printf("version %s isa %s leads %d samples %lld flags %u first-lead %s\n", cardionets::version(),
              cardionets::isa_name(cardionets::active_isa()), rec.header.n_signals,
              static_cast<long long>(rec.n_samples), flags, cardionets::dsp::kStandardLeads[0]);
  return 0;
}
"""


def _run(args, **kw):
    res = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, args))}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def test_installed_package_builds_a_consumer(cpp_build, tmp_path, real_data, repo_root):
    prefix = tmp_path / "prefix"
    _run(["cmake", "--install", str(cpp_build), "--prefix", str(prefix)])
    cfg = next(prefix.glob("lib*/cmake/cardionets/cardionetsConfig.cmake"))
    assert (cfg.parent / "cardionetsConfigVersion.cmake").exists()
    assert "find_dependency(Threads)" in cfg.read_text()
    assert (prefix / "include" / "cardionets" / "cardionets.h").exists()
    # one home for the version: cardionets.__version__ (pyproject and CMakeLists.txt read it)
    version = cardionets.__version__
    assert f'set(PACKAGE_VERSION "{version}")' in (cfg.parent / "cardionetsConfigVersion.cmake").read_text()
    assert 'dynamic = ["version"]' in (repo_root / "pyproject.toml").read_text()

    src = tmp_path / "consumer"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(CONSUMER_CMAKE)
    (src / "main.cpp").write_text(CONSUMER_MAIN)
    build = tmp_path / "consumer-build"
    _run(["cmake", "-S", str(src), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"])
    _run(["cmake", "--build", str(build), "--parallel", str(os.cpu_count() or 1)])
    exe = build / "consumer"
    out = _run([str(exe), str(real_data / "ecg" / "cinc2021" / "HR06000.hea")]).stdout
    assert f"version {version}" in out and "leads 12 samples 5000 flags 0 first-lead I" in out, out
    forced = _run([str(exe), str(real_data / "ecg" / "cinc2021" / "HR06000.hea")],
                  env={**os.environ, "CARDIONETS_ISA": "scalar"}).stdout
    assert "isa scalar" in forced

    # a version the package does not satisfy is refused by find_package
    (src / "CMakeLists.txt").write_text(CONSUMER_CMAKE.replace("cardionets 0.1", "cardionets 9.0"))
    res = subprocess.run(["cmake", "-S", str(src), "-B", str(tmp_path / "too-new"), f"-DCMAKE_PREFIX_PATH={prefix}"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "cardionets" in res.stderr


def test_spec_constants_agree_with_python():
    """The C++ preprocessing defaults (cardionets/dsp.h PreprocessConfig, kStandardLeads) are the
    Python spec's (cardionets.preprocess.DEFAULT_SPEC), and dsp.native_config carries every field."""
    import cardionets._C as C
    from cardionets import dsp
    from cardionets.preprocess import DEFAULT_SPEC, STANDARD_LEADS

    s = DEFAULT_SPEC
    for cfg in (C.PreprocessConfig(), dsp.native_config(s)):
        assert (cfg.fs_out, cfg.crop_len, cfg.n_crops) == (s.fs, s.crop_len, s.n_crops)
        assert (cfg.highpass_hz, cfg.lowpass_hz, cfg.order, cfg.per_lead) == (s.highpass_hz, s.lowpass_hz, s.order,
                                                                             s.per_lead)
    assert tuple(C.dsp_standard_leads()) == STANDARD_LEADS == s.leads
    other = dsp.native_config(s.with_(fs=200.0, highpass_hz=0.5, lowpass_hz=35.0, order=4, crop_len=1800,
                                      n_crops=2, standardize="lead"))
    assert (other.fs_out, other.highpass_hz, other.lowpass_hz, other.order, other.crop_len, other.n_crops,
            other.per_lead) == (200.0, 0.5, 35.0, 4, 1800, 2, True)
