"""The screening model batch sized to the CPU's L2 cache (cardionets.screen.batching)."""
from __future__ import annotations

import pytest

from cardionets.errors import CardioNetsError
from cardionets.screen import load_screen_model, screen
from cardionets.screen.batching import _parse_size, auto_batch_size, l2_cache_bytes, record_activation_bytes
from cardionets.screen.untrained import write_untrained_model


def _cache_dir(root, entries):
    for i, (level, kind, size) in enumerate(entries):
        d = root / f"index{i}"
        d.mkdir(parents=True)
        (d / "level").write_text(f"{level}\n")
        (d / "type").write_text(f"{kind}\n")
        (d / "size").write_text(f"{size}\n")
    return root


def test_parse_size():
    assert _parse_size("2048K") == 2 << 20
    assert _parse_size("32M\n") == 32 << 20
    assert _parse_size("512") == 512


def test_l2_from_sysfs_and_fallback(tmp_path):
    sysfs = _cache_dir(tmp_path / "cache", [(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "2048K"),
                                            (3, "Unified", "32768K")])
    assert l2_cache_bytes(sysfs) == 2 << 20
    assert l2_cache_bytes(tmp_path / "missing", default=12345) == 12345
    broken = _cache_dir(tmp_path / "broken", [(2, "Unified", "lots")])
    assert l2_cache_bytes(broken, default=7) == 7


def test_auto_batch_by_width(tmp_path):
    tiny = load_screen_model(write_untrained_model(tmp_path / "tiny", "tiny"))
    wide = load_screen_model(write_untrained_model(tmp_path / "wide", "tiny", width=768, depth=1, heads=12))
    # one activation tensor of one record: 3 crops x 12 leads x 32 tokens x width x 4 bytes
    assert record_activation_bytes(tiny, 3) == 3 * 384 * 128 * 4
    assert record_activation_bytes(wide, 1) == 384 * 768 * 4
    assert auto_batch_size(tiny, 3, cache_bytes=2 << 20) == 3
    assert auto_batch_size(wide, 3, cache_bytes=2 << 20) == 1  # never 0
    assert auto_batch_size(tiny, 3, cache_bytes=1 << 40, max_batch=64) == 64
    # default budget: the per-core L2 of every thread that runs the model
    l2 = l2_cache_bytes()
    assert auto_batch_size(tiny, 3, threads=2) == max(1, 2 * l2 // (3 * 384 * 128 * 4))
    assert auto_batch_size(tiny, 3, threads=1) == max(1, l2 // (3 * 384 * 128 * 4))


def test_screen_reports_its_batch(screen_cohort, screen_model, tmp_path):
    s = screen([screen_cohort], screen_model, tmp_path / "auto", progress=False, limit=5)
    assert s.batch_size == auto_batch_size(load_screen_model(screen_model), 3) >= 1
    assert f"batches of {s.batch_size}" in s.text()
    with pytest.raises(CardioNetsError, match="batch_size must be >= 1"):
        screen([screen_cohort], screen_model, tmp_path / "zero", progress=False, batch_size=0)
