"""Shared test set-up.

* Without a CUDA device, Triton kernels run in the interpreter (TRITON_INTERPRET=1 must be set
  before triton decorates any kernel, hence here, at collection time).
* ``gpu`` tests are skipped without CUDA; ``slow`` ones are deselected by default (pytest.ini).
* ``real_data`` is the real-recording fixtures carried in tests/fixtures (provenance and licences in
  its README.md); a missing fixture is an error, never a skip.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # pragma: no cover
        return False


if not _cuda():
    os.environ.setdefault("TRITON_INTERPRET", "1")


def _triton() -> bool:
    try:
        import triton  # noqa: F401

        return True
    except ImportError:
        return False


def pytest_collection_modifyitems(config, items):
    """``gpu`` tests need CUDA; ``interpreter`` tests need triton, which has wheels for Linux x86-64
    only (pyproject's marker): elsewhere both are skipped with the reason."""
    rules = []
    if not _cuda():
        rules.append(("gpu", pytest.mark.skip(reason="needs a CUDA device")))
    if not _triton():
        rules.append(("interpreter", pytest.mark.skip(reason="triton is not installed on this platform")))
    for item in items:
        for marker, skip in rules:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def real_data() -> Path:
    from cardionets.fixtures import fixture_dir

    return fixture_dir()


@pytest.fixture(scope="session")
def cpp_build(tmp_path_factory) -> Path:
    """Configure and build the C++ library and its test programs without Python (incremental,
    in build/cpp-tests), and return the build directory."""
    build = ROOT / "build" / "cpp-tests"
    build.mkdir(parents=True, exist_ok=True)
    args = ["cmake", "-S", str(ROOT), "-B", str(build), "-DCARDIONETS_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=Release"]
    try:
        import ninja  # noqa: F401

        if not (build / "CMakeCache.txt").exists():
            args.append("-GNinja")
    except ImportError:
        pass
    subprocess.run(args, check=True, capture_output=True, text=True)
    subprocess.run(["cmake", "--build", str(build), "--parallel", str(os.cpu_count() or 1)],
                   check=True, capture_output=True, text=True)
    return build
