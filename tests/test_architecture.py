"""The layering of docs/architecture.md, checked on the source: imports only point down, no cycles."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sim2sky"

#: Layer rank of each top-level package: a module may import lower ranks, and its own package.
RANKS = {"core": 0, "nn": 1, "report": 1, "infer": 2, "learn": 2, "apply": 2, "cases": 3, "literature": 3, "understand": 4, "cli": 5}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(name: str, path: Path, modules) -> list[tuple[str, bool]]:
    """Internal modules imported by ``name`` as (module, inside_a_function)."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                mod = child.module or ""
                target = ".".join(base[: len(base) - child.level + 1] + ([mod] if mod else [])) if child.level else mod
                if target.split(".")[0] == "sim2sky":
                    for alias in child.names:
                        sub = f"{target}.{alias.name}"
                        found.append((sub if sub in modules else target, inner))
            elif isinstance(child, ast.Import):
                found.extend((a.name, inner) for a in child.names if a.name.split(".")[0] == "sim2sky")
            visit(child, inner)

    visit(tree, False)
    return found


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _package(module: str) -> str:
    """The unit a module may freely import within: its top package, or its case for cases.*"""
    parts = module.split(".")
    return ".".join(parts[:3]) if len(parts) > 2 and parts[1] == "cases" else ".".join(parts[:2])


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return modules, {m: _imports(m, p, modules) for m, p in modules.items()}


def test_every_package_is_ranked(graph):
    modules, _ = graph
    tops = {_top(m) for m in modules} - {None}
    assert tops <= set(RANKS), tops - set(RANKS)


def test_imports_only_point_down(graph):
    modules, edges = graph
    upward = []
    for m, targets in edges.items():
        for t, _ in targets:
            if t == "sim2sky" or _package(t) == _package(m):
                continue
            tm, tt = _top(m), _top(t)
            same_layer_cases = tm == tt == "cases"         # one case may use another's public API (package root)
            if same_layer_cases:
                if t != _package(t):
                    upward.append(f"{m} -> {t} (import another case through its package, not its modules)")
                continue
            if tm is None or RANKS[tt] >= RANKS[tm]:
                upward.append(f"{m} -> {t}")
    assert not upward, "imports that do not point down:\n" + "\n".join(sorted(upward))


def test_no_import_cycles(graph):
    _, edges = graph
    adj = {m: sorted({t for t, _ in ts if t in edges and t != m}) for m, ts in edges.items()}
    color, stack, cycles = {}, [], []

    def dfs(u):
        color[u] = 1
        stack.append(u)
        for v in adj[u]:
            if color.get(v) == 1:
                cycles.append(stack[stack.index(v):] + [v])
            elif v not in color:
                dfs(v)
        stack.pop()
        color[u] = 2

    for m in adj:
        if m not in color:
            dfs(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_function_level_imports_only_in_the_cli(graph):
    # the CLI imports its API lazily so that 'sim2sky --help' stays fast; elsewhere imports sit at the top
    _, edges = graph
    inner = sorted(f"{m} -> {t}" for m, ts in edges.items() for t, f in ts if f and _top(m) != "cli")
    assert not inner, "internal imports inside functions:\n" + "\n".join(inner)


def test_every_module_declares_its_public_names():
    missing = []
    for p in SRC.rglob("*.py"):
        if p.name == "__main__.py":
            continue
        tree = ast.parse(p.read_text())
        names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                 if isinstance(t, ast.Name)}
        if p.name == "__init__.py" and not tree.body:
            missing.append(f"{p.relative_to(SRC)} (empty package __init__)")
        elif "__all__" not in names and not (p.name == "__init__.py" and p.parent.name == "cases"):
            missing.append(str(p.relative_to(SRC)))
    assert not missing, missing
