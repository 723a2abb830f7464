"""The layers of ARCHITECTURE.md hold: each package imports only the ones below it.

Modelled on test_sans_io.py: every `import haconsole.X` in haconsole/ is read with `ast`
(imports under `if TYPE_CHECKING:` included: a type is a dependency too) and checked
against the table below, which is the one in ARCHITECTURE.md. Entry points (`cli.py`
modules and `__main__.py`) wire layers together and may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import haconsole

ROOT = Path(haconsole.__file__).parent

# What each layer may import (besides itself), lowest first. Keep in step with
# ARCHITECTURE.md's "Layers" table.
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "tomlfile": {"config"},
    "pipes": set(),
    "vrrp": {"config"},
    "capture": {"config", "vrrp"},
    "net": {"config", "vrrp"},
    "cluster": {"config", "vrrp"},
    "probe": {"cluster"},
    "keepalived": {"config", "vrrp", "cluster"},
    "engine": {"config", "vrrp", "net", "cluster", "keepalived"},
    "lab": {"config", "tomlfile", "vrrp", "net", "cluster", "probe", "keepalived", "engine"},
    "record": {"config", "vrrp", "cluster"},
    "report": {"config", "vrrp", "cluster", "keepalived", "record"},
    "export": {"config", "vrrp", "cluster"},
    "agent": {"config", "vrrp", "net", "cluster", "keepalived", "engine"},
    "sources": {"config", "tomlfile", "vrrp", "cluster", "probe", "keepalived",
                "agent.protocol", "capture"},
    "netns": {"config", "vrrp", "net", "cluster", "probe", "keepalived", "engine", "lab",
              "agent", "sources"},
    "watch": {"config", "pipes", "vrrp", "cluster", "capture", "sources", "console"},
    "console": {"cluster", "sources.base"},
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py")


#: Modules that wire layers together: command lines, and the README screenshot builder.
ENTRY_POINTS = {"cli.py", "__main__.py"}
TOOLS = {"console/screenshots.py"}


def is_entry_point(path: Path) -> bool:
    return path.name in ENTRY_POINTS or str(path.relative_to(ROOT)) in TOOLS


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, dotted haconsole module below the package) for every haconsole import."""
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
            names += [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        out += [(node.lineno, n.removeprefix("haconsole.")) for n in names
                if n.startswith("haconsole.")]
    return out


def allowed(layer: str, target: str) -> bool:
    top = target.split(".")[0]
    if top == layer or top == "__version__":
        return True
    rules = ALLOWED.get(layer, set())
    return top in rules or any(target == r or target.startswith(r + ".") for r in rules)


def test_every_layer_is_in_the_table() -> None:
    layers = {layer_of(p) for p in ROOT.rglob("*.py")} - {"__init__", "__main__", "cli",
                                                          "data"}
    assert layers - set(ALLOWED) == set()


def test_each_layer_imports_only_the_ones_below() -> None:
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        layer = layer_of(path)
        if layer in ("__init__", "__main__", "cli") or is_entry_point(path):
            continue
        for line, target in imported(path):
            if not allowed(layer, target):
                problems.append(f"{path.relative_to(ROOT)}:{line} ({layer}) imports {target}")
    assert problems == []
