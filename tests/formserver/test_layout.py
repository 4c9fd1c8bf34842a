"""The form server's rooms: every package says what it is for, and imports only the packages below it
(formserver/__init__.py lists them bottom up), so dependencies point one way and no cycle can form.
The core library `handbook` imports nothing of the form server, and its own modules form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["base", "db", "accounts", "forms", "records", "operations", "training", "notify", "api", "app"]


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved), at any depth in the file."""
    here = package.split(".")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


SERVER_FILES = [p for p in sorted((ROOT / "formserver").rglob("*.py")) if "migrations" not in p.parts]


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "formserver" and len(parts) > 1 and parts[1] in LAYERS else None


@pytest.mark.parametrize("path", SERVER_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_no_package_above_its_own(path):
    own = layer(module_name(path))
    if own is None:
        assert path == ROOT / "formserver" / "__init__.py", f"{path}: outside every package of {LAYERS}"
        return
    above = {m for m in imported_modules(path, package_of(path))
             if (other := layer(m)) is not None and LAYERS.index(other) > LAYERS.index(own)}
    assert not above, f"{path.relative_to(ROOT)} ({own}) imports {sorted(above)}, above it"


def test_every_package_says_what_it_is_for_and_what_it_may_import():
    top = (ROOT / "formserver" / "__init__.py").read_text(encoding="utf-8")
    assert {p.name for p in (ROOT / "formserver").iterdir() if (p / "__init__.py").exists()} == set(LAYERS)
    for name in LAYERS:
        doc = ast.get_docstring(ast.parse((ROOT / "formserver" / name / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc) > 80, name
        assert name == "base" or "import" in doc, f"{name}: say what it may import"
        assert f"\n    {name} " in top, f"formserver/__init__.py does not list {name}"


def test_the_handbook_imports_nothing_of_the_form_server_and_has_no_cycle():
    files = sorted((ROOT / "handbook").rglob("*.py"))
    graph: dict[str, set[str]] = {}
    for path in files:
        imports = imported_modules(path, package_of(path))
        assert not any(m.startswith("formserver") for m in imports), path
        graph[module_name(path)] = {m for m in imports if m in {module_name(f) for f in files}}
    for start in graph:
        seen, stack = set(), [(start, (start,))]
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node] - {"handbook"}:
                assert nxt != start, f"import cycle: {' → '.join((*trail, nxt))}"
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*trail, nxt)))
