"""What the demo's stages share: the run context and a stage's result."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable


@dataclass
class StageResult:
    summary: str  # one line: what the stage did, with the numbers that mean something
    outputs: list[str] = field(default_factory=list)  # files worth opening
    metrics: dict[str, Any] = field(default_factory=dict)  # machine-readable (summary.json)
    seconds: float = 0.0


@dataclass
class DemoContext:
    out: Path
    seed: int = 0
    quick: bool = False  # smallest sizes: checks the wiring in about a minute, numbers are not meaningful
    device: str = "auto"  # --device (auto | cpu | cuda[:N]): training, generation and the op self-check run there
    results: dict[str, StageResult] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)  # in-memory hand-over between stages (predictions)
    say: Callable[[str], None] = print  # a progress line (timestamped by run_demo)

    def stage_dir(self, name: str) -> Path:
        d = self.out / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def needs(self, stage: str) -> StageResult | None:
        """The result of an earlier stage, or None when it did not run in this invocation."""
        return self.results.get(stage)
