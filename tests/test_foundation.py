"""The foundation's promises: the native extension loads, the C++ library works without Python,
`import cardionets` stays light, the CLI documents itself and the demo runs."""
import json
import subprocess
import sys

import pytest

from cardionets import native


def test_native_extension_loads():
    import cardionets._C as C

    assert C.version() == "0.1.0"
    assert "Release" in C.build_info() and "-O3" in C.build_info()
    assert C.num_threads() >= 1
    with pytest.raises(Exception, match="positive thread count"):
        C.set_num_threads(0)


def test_native_errors_are_cardionets_errors():
    from cardionets.errors import CardioNetsError, NativeError

    C = native.load()
    with pytest.raises(NativeError) as info:
        C.set_num_threads(-3)
    assert isinstance(info.value, CardioNetsError)


def test_cpp_library_without_python(cpp_build):
    exe = cpp_build / "test_core"
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "test_core: ok" in out.stdout


def test_import_is_light():
    code = ("import sys, cardionets, cardionets.ops, cardionets.cli; cardionets.cli.build_parser(); "
            "bad=[m for m in ('triton','flash_attn','tensorrt','cardionets.kernels') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_top_level_import_does_not_load_torch():
    out = subprocess.run([sys.executable, "-c", "import sys, cardionets; print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_kernels_is_a_subpackage():
    import importlib.util

    spec = importlib.util.find_spec("cardionets.kernels")
    assert spec is not None and spec.origin.endswith("kernels/__init__.py")
    assert importlib.util.find_spec("kernels") is None or "cardionets" not in (importlib.util.find_spec("kernels").origin or "")


def test_every_command_has_help(capsys):
    import argparse

    from cardionets.cli import COMMAND_MODULES, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert len(sub.choices) == len(COMMAND_MODULES)
    for name, sp in sub.choices.items():
        assert (sp.description or "").strip(), f"command {name} has no description"
        with pytest.raises(SystemExit) as exc:
            parser.parse_args([name, "--help"])
        assert exc.value.code == 0
        assert "usage: cardionets " + name in capsys.readouterr().out


def test_info_lists_backends_with_reasons():
    out = subprocess.run([sys.executable, "-m", "cardionets", "info", "--json"], capture_output=True, text=True,
                         check=True)
    info = json.loads(out.stdout)
    assert info["native"]["available"]
    att = {b["backend"]: b for b in info["ops"]["attention"]}
    assert att["sdpa"]["available"] and att["reference"]["available"]
    assert not att["flash"]["available"] and att["flash"]["reasons"]


def test_demo_runs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cardionets", "demo", "--quick", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "demo finished" in out.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    for stage in ("environment", "ops-selfcheck", "cohort", "method", "real-ecgs", "generator", "report"):
        assert stage in summary, stage
    assert summary["real-ecgs"]["metrics"]["records"] >= 10  # the real fixtures, read and screened
    assert (tmp_path / "real-ecgs" / "screen" / "screen.parquet").is_file()
    assert list((tmp_path / "generator" / "cines").glob("*.nii.gz")) and list((tmp_path / "generator" / "cines").glob("*.gif"))
    page = (tmp_path / "report" / "demo.html").read_text()
    assert "cardionets vs scratch" in page and "data:image/gif;base64" in page
    assert "| mean R^2 (82 phenotypes) |" in out.stdout  # the summary table


def test_cli_reports_cardionets_errors_cleanly(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cardionets", "demo", "--only", "no-such-stage", "--out", str(tmp_path)],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "no-such-stage" in out.stderr and "Traceback" not in out.stderr
