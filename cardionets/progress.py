"""Progress heartbeats from long loops to whoever listens.

Long loops (training steps, evaluation batches, cohort synthesis) call :func:`beat` with what they
are doing and how far they are. Nothing happens unless a listener is installed with
:func:`listening`; the listener is a plain callback run in the caller's thread (no background
thread), so a heartbeat says the loop really moved. The demo installs one that prints a line at
most every few seconds, which is how ``cardionets demo`` shows progress inside training.

    with listening(lambda b: print(b.what, b.done, b.total)):
        fit(...)
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator


@dataclass(frozen=True)
class Beat:
    what: str  # e.g. "align epoch 2/6" or "synth"
    done: int  # units finished (steps, batches, subjects)
    total: int | None  # units in this loop, when known
    detail: str = ""  # e.g. "loss 0.8123"
    time: float = 0.0  # time.perf_counter() of the beat


_listeners: list[Callable[[Beat], None]] = []


def beat(what: str, done: int, total: int | None = None, detail: "str | Callable[[], str]" = "") -> None:
    """Report progress; a no-op (one list check) when nobody listens. ``detail`` may be a callable,
    evaluated only when there is a listener (e.g. reading a loss off a GPU)."""
    if _listeners:
        b = Beat(what, done, total, detail() if callable(detail) else detail, time.perf_counter())
        for fn in tuple(_listeners):
            fn(b)


@contextmanager
def listening(fn: Callable[[Beat], None]) -> Iterator[None]:
    """Install ``fn`` as a listener for the duration of the block."""
    _listeners.append(fn)
    try:
        yield
    finally:
        _listeners.remove(fn)


class Throttled:
    """A listener that prints at most one line every ``every`` seconds, so a long loop shows a
    steady trickle of lines instead of thousands."""

    def __init__(self, echo: Callable[[str], None], every: float = 10.0, indent: str = "      "):
        self.echo, self.every, self.indent = echo, every, indent
        self.last = time.perf_counter()

    def __call__(self, b: Beat) -> None:
        if b.time - self.last < self.every:
            return
        self.last = b.time
        of = f"/{b.total}" if b.total else ""
        self.echo(f"{self.indent}... {b.what}: {b.done}{of}" + (f", {b.detail}" if b.detail else ""))

    def touch(self) -> None:
        """Something else just printed a line: restart the interval."""
        self.last = time.perf_counter()
