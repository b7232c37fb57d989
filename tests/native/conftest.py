"""Fixtures of the native-library tests: `isa_path` runs a test once per instruction-set path this
CPU can run (avx512, avx2, scalar), forcing it through cardionets._C.set_isa and restoring the
automatic choice afterwards; a path the CPU lacks is skipped with the library's reason."""
from __future__ import annotations

import pytest

from cardionets import native

PATHS = ("avx512", "avx2", "scalar")


@pytest.fixture(params=PATHS)
def isa_path(request):
    if not native.available():
        pytest.skip(native.unavailable_reason())
    C = native.load()
    report = {p["path"]: p for p in C.isa_report()["paths"]}
    try:
        C.set_isa(request.param)
    except Exception as exc:  # noqa: BLE001 -- the refusal carries the reason
        pytest.skip(f"{request.param} path not runnable here: {exc}")
    assert report[request.param]["path"] == request.param
    yield request.param
    C.set_isa("auto")
