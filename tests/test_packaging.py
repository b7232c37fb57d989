"""Packaging: `pip install .` (non-editable) ships the extension and cardionets.kernels as a
subpackage (slow: compiles the whole C++ library into a fresh build directory); the dependency
declarations install anywhere (triton only where it has wheels, torch as a range that keeps the
CPU wheel CI installs first)."""
import os
import subprocess
import sys
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement

import cardionets


def _requirements(repo_root):
    meta = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    deps = [Requirement(r) for r in meta["dependencies"]]
    extras = {k: [Requirement(r) for r in v] for k, v in meta["optional-dependencies"].items()}
    return {r.name: r for r in deps}, extras


def _env(system: str, machine: str) -> dict:
    return {"platform_system": system, "platform_machine": machine, "sys_platform": system.lower(),
            "python_version": "3.11", "extra": ""}


def test_triton_only_where_it_has_wheels(repo_root):
    deps, extras = _requirements(repo_root)
    triton = deps["triton"]
    assert triton.marker is not None
    assert triton.marker.evaluate(_env("Linux", "x86_64"))
    for system, machine in (("Darwin", "arm64"), ("Windows", "AMD64"), ("Linux", "aarch64")):
        assert not triton.marker.evaluate(_env(system, machine)), (system, machine)
    gpu = {r.name: r for r in extras["gpu"]}
    assert {"flash-attn", "tensorrt", "triton"} <= set(gpu)
    assert gpu["triton"].marker.evaluate(_env("Linux", "aarch64"))


def test_torch_is_a_range_that_keeps_the_ci_wheel(repo_root):
    import torch

    torch_req = _requirements(repo_root)[0]["torch"]
    assert len(torch_req.specifier) == 2, "a lower and an upper bound, not a pin"
    installed = torch.__version__.split("+")[0]
    assert torch_req.specifier.contains(installed), (str(torch_req.specifier), installed)
    assert torch_req.specifier.contains("2.6.0") and not torch_req.specifier.contains("2.5.1")
    makefile = (repo_root / "Makefile").read_text()
    assert '"torch==2.13.0"' in makefile, "CI installs the pinned CPU wheel before the package"


@pytest.mark.slow
def test_wheel_contains_extension_and_kernels(repo_root, tmp_path):
    env = {"CARDIONETS_BUILD_DIR": str(tmp_path / "build"), "PATH": os.environ["PATH"]}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(repo_root)], check=True, capture_output=True, env=env)
    wheel = next(tmp_path.glob("cardionets-*.whl"))
    assert wheel.name.startswith(f"cardionets-{cardionets.__version__}-")  # pyproject reads the one version
    names = zipfile.ZipFile(wheel).namelist()
    assert "cardionets/kernels/__init__.py" in names
    assert not any(n.startswith("kernels/") for n in names), "kernels must not be a top-level package"
    assert any(n.startswith("cardionets/_C") and n.endswith(".so") for n in names)
    meta = next(n for n in names if n.endswith("METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Requires-Dist: triton>=3.2; platform_system == \"Linux\" and platform_machine == \"x86_64\"" in text
