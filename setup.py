"""Build the native extension ``cardionets._C`` with CMake.

The same CMake project also builds ``libcardionets_core.a`` (the C++ library with a public
header under ``csrc/include/cardionets``) and its C++ test programs; see CMakeLists.txt.

Environment knobs:
  CARDIONETS_NATIVE=1     compile for this machine's CPU (``-march=native``; the result may not run on
                          other CPUs). Default: a portable x86-64-v2 baseline whose hot loops carry
                          AVX2 and AVX-512 versions chosen at run time (``cardionets info`` names the
                          one in use; ``CARDIONETS_ISA=avx512|avx2|scalar`` forces one).
  CARDIONETS_BUILD_TYPE   CMake build type (default Release)
  CARDIONETS_BUILD_DIR    where CMake builds (default build/cmake-<python tag>)
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        import pybind11

        out = Path(self.get_ext_fullpath(ext.name)).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        tag = sysconfig.get_config_var("SOABI") or f"py{sys.version_info[0]}{sys.version_info[1]}"
        build_dir = Path(os.environ.get("CARDIONETS_BUILD_DIR", ROOT / "build" / f"cmake-{tag}"))
        build_dir.mkdir(parents=True, exist_ok=True)
        native = os.environ.get("CARDIONETS_NATIVE", "0") not in ("", "0", "false", "False", "OFF", "off")
        cfg = os.environ.get("CARDIONETS_BUILD_TYPE", "Release")
        args = [
            f"-DCMAKE_BUILD_TYPE={cfg}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCARDIONETS_NATIVE={'ON' if native else 'OFF'}",
            f"-DCARDIONETS_EXT_OUTPUT={out}",
        ]
        try:
            import ninja  # noqa: F401

            args.append("-GNinja")
        except ImportError:
            pass
        jobs = str(max(1, os.cpu_count() or 1))
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir), *args], check=True)
        subprocess.run(
            ["cmake", "--build", str(build_dir), "--target", "_C", "--parallel", jobs], check=True
        )


def _packages() -> tuple[list[str], dict[str, str]]:
    """All packages under cardionets/, plus kernels/ installed as cardionets.kernels."""
    pkgs: list[str] = []
    for init in sorted((ROOT / "cardionets").rglob("__init__.py")):
        rel = init.parent.relative_to(ROOT)
        pkgs.append(".".join(rel.parts))
    pkgs.append("cardionets.kernels")
    return pkgs, {"cardionets": "cardionets", "cardionets.kernels": "kernels"}


packages, package_dir = _packages()
setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"cardionets": ["py.typed", "*.pyi", "configs/*.yaml", "configs/**/*.yaml", "cohorts/*.csv"]},
    ext_modules=[CMakeExtension("cardionets._C")],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
