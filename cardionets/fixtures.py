"""Where the small real recordings the demo, the benchmarks and the tests use are kept.

They live in the source tree at ``tests/fixtures`` (provenance and licences in its README.md);
``CARDIONETS_FIXTURES`` points elsewhere, e.g. for an installed package without the source tree.
"""
from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

SOURCE_TREE_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def fixture_dir() -> Path:
    """The real-fixture directory (holding ``ecg/`` and ``cmr/``); InputError when it is absent."""
    path = Path(os.environ.get("CARDIONETS_FIXTURES", SOURCE_TREE_FIXTURES))
    if not (path / "ecg").is_dir():
        raise InputError(f"real fixtures not found at {path} (a source checkout has them in tests/fixtures; "
                         "set CARDIONETS_FIXTURES to a copy of that directory)")
    return path
