"""The main job: ``cardionets demo`` runs the engine end to end on a small synthetic cohort and the
real ECG fixtures, says what each stage did and where its outputs are, and ends with a summary
table and an HTML report.

The demo sits above the libraries: it calls their public APIs and no library module imports it.
One small module per stage, each a function ``(DemoContext) -> StageResult``, listed in ``STAGES``
in pipeline order as ``"module:function"`` and imported when the demo runs (``cardionets --help``
reads the stage names without importing torch). Long loops inside the libraries report progress through
:mod:`cardionets.progress`; the demo prints one of those heartbeats at least every ``HEARTBEAT_S``
seconds, so it never goes quiet for long. What each stage does and costs: docs/demo.md.
"""
from __future__ import annotations

import importlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from ..device.spec import parse_device_spec
from ..errors import InputError
from ..progress import Throttled, listening
from .context import DemoContext, StageResult

HEARTBEAT_S = 10.0  # longest silence between two progress lines (the acceptance asks for 30 s)

STAGES: list[tuple[str, str]] = [
    ("environment", "environment:stage_environment"),
    ("ops-selfcheck", "environment:stage_ops_selfcheck"),
    ("cohort", "cohort:stage_cohort"),
    ("method", "method:stage_method"),
    ("real-ecgs", "ecg_stage:stage_real_ecgs"),
    ("generator", "generator:stage_generator"),
    ("report", "report:stage_report"),
]


def _stage(target: str) -> Callable[[DemoContext], StageResult]:
    mod, fn = target.split(":")
    return getattr(importlib.import_module(f"{__name__}.{mod}"), fn)

__all__ = ["DemoContext", "STAGES", "StageResult", "run_demo"]


def _print(line: str) -> None:
    print(line, flush=True)  # progress must show at once, also when stdout is a file or a pipe


def run_demo(out: Path, *, seed: int = 0, quick: bool = False, only: list[str] | None = None,
             device: str = "auto", echo: Callable[[str], None] = _print) -> dict[str, StageResult]:
    """Run the stages (all, or ``only`` these) into ``out``; returns their results (also written to
    ``out/summary.json``). A stage whose inputs come from an earlier stage that did not run says so."""
    known = [n for n, _ in STAGES]
    unknown = [n for n in (only or []) if n not in known]
    if unknown:
        raise InputError(f"unknown demo stage(s) {', '.join(unknown)}; stages are: {', '.join(known)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    parse_device_spec(device)  # a bad --device fails here, before any stage ran
    ctx = DemoContext(out=out, seed=seed, quick=quick, device=device)
    t_start = time.perf_counter()

    def say(line: str) -> None:
        echo(f"[{time.perf_counter() - t_start:5.0f} s] {line}")
        heartbeat.touch()

    heartbeat = Throttled(lambda line: say(line.strip()), every=HEARTBEAT_S)
    ctx.say = say
    say(f"cardionets demo -> {out} (loading torch and the engine)")
    stages = [(n, _stage(t)) for n, t in STAGES if not only or n in only]
    with listening(heartbeat):
        for i, (name, fn) in enumerate(stages, 1):
            say(f"[{i}/{len(stages)}] {name} ...")
            t0 = time.perf_counter()
            result = fn(ctx)
            result.seconds = time.perf_counter() - t0
            ctx.results[name] = result
            say(f"      {result.summary}  ({result.seconds:.1f} s)")
            for path in result.outputs:
                echo(f"      -> {path}")
    total = time.perf_counter() - t_start
    summary: dict[str, Any] = {name: asdict(r) for name, r in ctx.results.items()}
    summary["total_seconds"] = total
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if "report" in ctx.results and ctx.results["report"].metrics.get("table"):
        echo("")
        if quick:
            echo("--quick: micro models trained for one epoch on 40 subjects; the table checks the wiring, "
                 "its numbers are noise (run without --quick for the comparison)")
        echo(ctx.results["report"].metrics["table"])
    echo(f"demo finished: {len(ctx.results)} stages in {total:.0f} s; summary in {out / 'summary.json'}")
    return ctx.results
