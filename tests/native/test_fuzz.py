"""The fuzz job of the native parsers (csrc/fuzz): built with AddressSanitizer + UndefinedBehavior-
Sanitizer, each target replays its seed corpus and every saved crash input (csrc/fuzz/regressions),
then fuzzes for a fixed time with the standalone coverage-guided driver (any compiler with the
sanitizers; GCC has no libFuzzer). A finding fails the test with the saved input's path: add it to
csrc/fuzz/regressions/<target>/ with a descriptive name, fix the parser, and it is replayed from then on.

    CARDIONETS_FUZZ_SECONDS=10   fuzzing time per target (default 10 s; 0 replays only)
    CARDIONETS_FUZZ_SEED=N       reproduce a run (the seed is printed)

The libFuzzer build (clang) is exercised by the slow test at the end; docs/io.md has the long runs.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from cardionets.errors import CardioNetsError

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "csrc" / "fuzz"
TARGETS = ("wfdb_header", "wfdb_record", "xli")
SECONDS = float(os.environ.get("CARDIONETS_FUZZ_SECONDS", "10"))


def _configure_and_build(build: Path, *extra: str) -> subprocess.CompletedProcess | None:
    """Configure + build csrc/fuzz; None when this compiler cannot build with the sanitizers."""
    build.mkdir(parents=True, exist_ok=True)
    args = ["cmake", "-S", str(FUZZ), "-B", str(build), *extra]
    try:
        import ninja  # noqa: F401

        if not (build / "CMakeCache.txt").exists():
            args.append("-GNinja")
    except ImportError:
        pass
    conf = subprocess.run(args, capture_output=True, text=True)
    if conf.returncode != 0:
        if "cannot build with -fsanitize" in conf.stdout + conf.stderr:
            return None
        raise AssertionError(f"configuring csrc/fuzz failed:\n{conf.stdout}\n{conf.stderr}")
    res = subprocess.run(["cmake", "--build", str(build), "--parallel", str(os.cpu_count() or 1)],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"building csrc/fuzz failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return res


@pytest.fixture(scope="module")
def fuzz_build() -> Path:
    if shutil.which("cmake") is None:
        pytest.skip("cmake not found")
    build = ROOT / "build" / "fuzz-standalone"
    if _configure_and_build(build) is None:
        pytest.skip("no C++ compiler here supports -fsanitize=address,undefined")
    return build


def _inputs(target: str) -> list[str]:
    out = [str(FUZZ / "corpus" / target)]
    reg = FUZZ / "regressions" / target
    if reg.is_dir():
        out.append(str(reg))
    return out


def _env() -> dict:
    # sanitizer reports abort (the driver saves the input on SIGABRT); no leak check on exit
    return {**os.environ, "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=0:handle_abort=0",
            "UBSAN_OPTIONS": "halt_on_error=1:abort_on_error=1:print_stacktrace=1"}


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target(fuzz_build, target, tmp_path):
    seed = int(os.environ.get("CARDIONETS_FUZZ_SEED", random.randrange(1, 2**31)))
    exe = fuzz_build / f"fuzz_{target}"
    # mutate the seed corpus (the saved crash inputs are replayed by test_ctest_replays_regressions)
    cmd = [str(exe), f"-max_total_time={SECONDS}", f"-seed={seed}", f"-artifact_prefix={tmp_path}/", "-timeout=20",
           str(FUZZ / "corpus" / target)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=SECONDS + 240)
    saved = sorted(p.name for p in tmp_path.glob("*-*"))
    assert res.returncode == 0, (
        f"fuzz_{target} (seed {seed}) found a problem; input(s) saved in {tmp_path}: {saved}\n"
        f"add them to csrc/fuzz/regressions/{target}/ and fix the parser.\n"
        f"{res.stdout[-2000:]}\n{res.stderr[-6000:]}")
    assert "replayed" in res.stdout and "no findings" in res.stdout or SECONDS <= 0, res.stdout
    print(res.stdout.strip().splitlines()[-1])


def test_ctest_replays_regressions(fuzz_build):
    res = subprocess.run(["ctest", "--output-on-failure"], cwd=fuzz_build, capture_output=True, text=True,
                         env=_env(), timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "replay_wfdb_record" in res.stdout


def test_regressions_through_python_reader(tmp_path):
    """The saved record inputs through the Python reader (no sanitizer): each reads or ends in a
    CardioNetsError naming the header, never another exception."""
    from cardionets.io import read_ecg

    files = sorted((FUZZ / "regressions" / "wfdb_record").iterdir()) + sorted((FUZZ / "corpus" / "wfdb_record").iterdir())
    assert len(files) >= 10
    for f in files:
        header, _, data = f.read_bytes().partition(b"\0")
        d = tmp_path / f.name
        d.mkdir()
        (d / "rec.hea").write_bytes(header)
        for line in header.decode("latin-1").splitlines()[1:]:
            parts = line.split()
            if parts and not parts[0].startswith("#") and "/" not in parts[0] and parts[0] not in (".", ".."):
                (d / parts[0]).write_bytes(data)
        try:
            ecg = read_ecg(d / "rec.hea")
            assert ecg.signal.ndim == 2
        except CardioNetsError as exc:
            assert "rec.hea" in str(exc), (f.name, str(exc))


@pytest.mark.slow
def test_libfuzzer_build_replays(tmp_path):
    """The clang libFuzzer build (-fsanitize=fuzzer,address,undefined) compiles and replays the
    corpus; the long runs in docs/io.md use it."""
    clang = shutil.which("clang++")
    if clang is None:
        pytest.skip("clang++ not installed (apt-get install clang)")
    build = ROOT / "build" / "fuzz-libfuzzer"
    if _configure_and_build(build, f"-DCMAKE_CXX_COMPILER={clang}", "-DCARDIONETS_FUZZ_ENGINE=libfuzzer") is None:
        pytest.skip("clang here cannot build with the sanitizers")
    for target in TARGETS:
        files = [str(p) for d in _inputs(target) for p in sorted(Path(d).iterdir()) if p.is_file()]
        res = subprocess.run([str(build / f"fuzz_{target}"), "-runs=0", *files], capture_output=True, text=True,
                             env=_env(), timeout=300)
        assert res.returncode == 0, res.stderr[-4000:]
