"""The package's layers import only downwards (also inside functions, where lazy imports live)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "nodecode"
# Lowest first: a module may import its own layer and those before it, never one after.
LAYERS = [
    "errors",
    "utils",
    "bitstream",
    "codec",
    "data",
    "models",
    "evaluate",
    "inference",
    "train",
    "reproduce",
    "api",
    "cli",
    "__main__",
]
TOP = {"__init__", "__version__"}  # the package itself: its version and public API


def imported_layers(path: Path) -> set[str]:
    layers = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "nodecode":  # from nodecode import codec, …
                modules = [f"nodecode.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        else:
            continue
        layers |= {m.split(".")[1] for m in modules if m.startswith("nodecode.")}
    return layers


def layer_of(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def test_every_module_belongs_to_a_layer():
    assert {layer_of(p) for p in PACKAGE.rglob("*.py")} <= set(LAYERS) | TOP


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = layer_of(path)
        if own in TOP:
            continue
        rank = LAYERS.index(own)
        upward += [
            f"{path.relative_to(PACKAGE)} imports nodecode.{layer}"
            for layer in sorted(imported_layers(path) - TOP)
            if LAYERS.index(layer) > rank
        ]
    assert upward == []
