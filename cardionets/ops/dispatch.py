"""One place that decides which backend runs an op, and says why the others did not.

Each op lists its backends in priority order. A backend has two checks that return *reasons it
cannot run* (an empty list means it can):

* ``env_check()``: this process (is the package installed, is there a CUDA device, did the
  native extension load?). Shown by ``cardionets info``.
* ``input_check(*args, **kwargs)``: these inputs (device, dtype, shapes).

Choice, in order of precedence:

1. the per-call argument ``backend=...``;
2. the environment variable ``CARDIONETS_BACKEND_<OP>`` (e.g. ``CARDIONETS_BACKEND_ATTENTION=sdpa``);
3. the environment variable ``CARDIONETS_BACKEND`` -- applied to every op that has a backend of that
   name, ignored by the others;
4. ``auto``: the first backend with no reasons.

An explicit choice (1-3) that cannot run raises :class:`BackendUnavailable` listing the reasons;
``auto`` falls back silently and records the rejections (``Op.explain`` and the debug log).
Devices always come from the inputs; nothing here moves tensors. Every call counts the backend
that ran it (:func:`count_backends`), which is how a run records the backends it used.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import BackendUnavailable

log = logging.getLogger("cardionets.ops")

Reasons = list[str]
GLOBAL_ENV = "CARDIONETS_BACKEND"


def _no_reasons(*_args: Any, **_kwargs: Any) -> Reasons:
    return []


@dataclass
class Backend:
    name: str
    impl: Callable[..., Any]
    env_check: Callable[[], Reasons] = _no_reasons
    input_check: Callable[..., Reasons] = _no_reasons
    doc: str = ""

    def reasons(self, *args: Any, **kwargs: Any) -> Reasons:
        env = self.env_check()
        return env if env else list(self.input_check(*args, **kwargs))


@dataclass
class Op:
    name: str
    doc: str = ""
    backends: list[Backend] = field(default_factory=list)
    # Small representative CPU inputs, ``() -> (args, kwargs)``: used by the demo's self-check
    # (every available backend against the reference) and by `cardionets info --check`.
    example: Callable[[], tuple[tuple, dict]] | None = None
    usage: Counter = field(default_factory=Counter)  # backend name -> calls run by it in this process

    # -- registration -------------------------------------------------------------------
    def register(
        self,
        name: str,
        *,
        env_check: Callable[[], Reasons] = _no_reasons,
        input_check: Callable[..., Reasons] = _no_reasons,
        doc: str = "",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: add ``impl`` as the next backend in priority order."""

        def deco(impl: Callable[..., Any]) -> Callable[..., Any]:
            if any(b.name == name for b in self.backends):
                raise ValueError(f"op {self.name!r} already has a backend named {name!r}")
            self.backends.append(Backend(name, impl, env_check, input_check, doc or (impl.__doc__ or "")))
            return impl

        return deco

    @property
    def env_var(self) -> str:
        return f"CARDIONETS_BACKEND_{self.name.upper()}"

    def backend_names(self) -> list[str]:
        return [b.name for b in self.backends]

    def get(self, name: str) -> Backend:
        for b in self.backends:
            if b.name == name:
                return b
        raise BackendUnavailable(
            f"op {self.name!r} has no backend {name!r}; it has: {', '.join(self.backend_names())}"
        )

    # -- choice -------------------------------------------------------------------------
    def requested(self, backend: str | None) -> tuple[str, str]:
        """(requested backend name or 'auto', where the request came from)."""
        if backend not in (None, "", "auto"):
            return str(backend), "argument backend="
        env = os.environ.get(self.env_var, "").strip()
        if env and env != "auto":
            return env, f"environment variable {self.env_var}"
        glob = os.environ.get(GLOBAL_ENV, "").strip()
        if glob and glob != "auto" and glob in self.backend_names():
            return glob, f"environment variable {GLOBAL_ENV}"
        return "auto", "default"

    def select(self, *args: Any, backend: str | None = None, **kwargs: Any) -> tuple[Backend, dict[str, Reasons]]:
        """The backend that will run these inputs, and the reasons each earlier one was rejected."""
        want, source = self.requested(backend)
        if want != "auto":
            chosen = self.get(want)
            reasons = chosen.reasons(*args, **kwargs)
            if reasons:
                raise BackendUnavailable(
                    f"op {self.name!r}: backend {want!r} (requested by {source}) cannot run these inputs: "
                    + "; ".join(reasons)
                )
            return chosen, {}
        rejected: dict[str, Reasons] = {}
        for b in self.backends:
            reasons = b.reasons(*args, **kwargs)
            if not reasons:
                if rejected:
                    log.debug("%s: using %s; rejected %s", self.name, b.name, rejected)
                return b, rejected
            rejected[b.name] = reasons
        detail = "; ".join(f"{n}: {', '.join(r)}" for n, r in rejected.items())
        raise BackendUnavailable(f"op {self.name!r}: no backend can run these inputs ({detail})")

    def __call__(self, *args: Any, backend: str | None = None, **kwargs: Any) -> Any:
        chosen, _ = self.select(*args, backend=backend, **kwargs)
        self.usage[chosen.name] += 1
        return chosen.impl(*args, **kwargs)

    def explain(self, *args: Any, backend: str | None = None, **kwargs: Any) -> str:
        """Human-readable account of the choice for these inputs."""
        lines = [f"{self.name}:"]
        try:
            chosen, _ = self.select(*args, backend=backend, **kwargs)
        except BackendUnavailable as exc:
            return f"{self.name}: {exc}"
        for b in self.backends:
            reasons = b.reasons(*args, **kwargs)
            mark = "->" if b is chosen else "  "
            lines.append(f"  {mark} {b.name:<10} {'ok' if not reasons else '; '.join(reasons)}")
        return "\n".join(lines)

    def environment_report(self) -> list[tuple[str, Reasons]]:
        """(backend, reasons it cannot run in this process) for every backend, in priority order."""
        return [(b.name, b.env_check()) for b in self.backends]


_REGISTRY: dict[str, Op] = {}


def define_op(name: str, doc: str = "") -> Op:
    """Create and register an op; each op module calls this once."""
    if name in _REGISTRY:
        raise ValueError(f"op {name!r} is already defined")
    op = Op(name, doc)
    _REGISTRY[name] = op
    return op


def registered_ops() -> dict[str, Op]:
    return dict(_REGISTRY)


def backend_usage() -> dict[str, dict[str, int]]:
    """{op: {backend: calls}} of every op called in this process so far."""
    return {name: dict(op.usage) for name, op in sorted(_REGISTRY.items()) if op.usage}


def usage_since(before: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Calls per op and backend made since the snapshot ``before`` (a :func:`backend_usage` result)."""
    used: dict[str, dict[str, int]] = {}
    for op, counts in backend_usage().items():
        diff = {b: n - before.get(op, {}).get(b, 0) for b, n in counts.items()}
        diff = {b: n for b, n in diff.items() if n > 0}
        if diff:
            used[op] = diff
    return used


@contextmanager
def count_backends():
    """``with count_backends() as used:`` -- on exit ``used`` holds {op: {backend: calls}} made inside."""
    before = backend_usage()
    used: dict[str, dict[str, int]] = {}
    try:
        yield used
    finally:
        used.update(usage_since(before))
