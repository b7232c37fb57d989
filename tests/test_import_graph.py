"""The library does not depend on the demo or the CLI: no module under cardionets/io, data, train,
ops, models, generate, experiments, screen or eval imports cardionets.demo, cardionets.commands or
cardionets.cli (relative imports resolved; read with ast, nothing is imported)."""
from __future__ import annotations

import ast
from pathlib import Path

import cardionets

PACKAGE = Path(cardionets.__file__).resolve().parent
LIBRARY = ("io", "data", "train", "ops", "models", "generate", "experiments", "screen", "eval")
FORBIDDEN = ("cardionets.demo", "cardionets.commands", "cardionets.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``, at any depth; for ``from X import a``
    both X and X.a (a may be a submodule)."""
    pkg = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


def forbidden(mod: str) -> bool:
    return any(mod == f or mod.startswith(f + ".") for f in FORBIDDEN)


def test_resolver_sees_relative_imports():
    probe = PACKAGE / "io" / "ecg.py"
    mods = {m for _, m in imported_modules(probe)}
    assert "cardionets.errors" in mods and "cardionets.io.leads" in mods
    assert forbidden("cardionets.demo") and forbidden("cardionets.commands.info") and not forbidden("cardionets.demos")


def test_library_packages_import_neither_demo_nor_cli():
    bad = []
    for sub in LIBRARY:
        for path in sorted((PACKAGE / sub).rglob("*.py")):
            bad += [f"{path.relative_to(PACKAGE.parent)}:{line} imports {mod}"
                    for line, mod in imported_modules(path) if forbidden(mod)]
    assert not bad, "library modules depend on the demo or the CLI:\n" + "\n".join(bad)
