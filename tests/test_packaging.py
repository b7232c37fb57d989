"""`pip install .` (non-editable) ships the extension and cardionets.kernels as a subpackage.
Slow: it compiles the whole C++ library from scratch into a fresh build directory."""
import subprocess
import sys
import zipfile

import pytest


@pytest.mark.slow
def test_wheel_contains_extension_and_kernels(repo_root, tmp_path):
    env = {"CARDIONETS_BUILD_DIR": str(tmp_path / "build"), "PATH": __import__("os").environ["PATH"]}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(repo_root)], check=True, capture_output=True, env=env)
    wheel = next(tmp_path.glob("cardionets-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "cardionets/kernels/__init__.py" in names
    assert not any(n.startswith("kernels/") for n in names), "kernels must not be a top-level package"
    assert any(n.startswith("cardionets/_C") and n.endswith(".so") for n in names)
