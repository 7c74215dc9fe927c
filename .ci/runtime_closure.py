"""Print the site-packages entries of a distribution's runtime dependencies, one per line.

The wheel smoke test links these (and nothing else: no dev extras, no editable checkout)
into its fresh virtual environment instead of installing torch and its CUDA libraries a
second time: that second copy is several GB and once filled a CI machine's disk.

Usage: python runtime_closure.py DIST  (run by the interpreter whose site-packages to read)
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement

# A new virtual environment has its own installer; copying another version beside it would
# leave two dist-infos of one package.
BROUGHT_BY_VENV = {"pip", "setuptools"}


def closure(name: str) -> set[str]:
    """Names of the distributions `name` needs at run time, itself excluded."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in metadata.requires(name) or []]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        key = requirement.name.lower().replace("_", "-")
        if key in seen or key in BROUGHT_BY_VENV:
            continue
        seen.add(key)
        todo.extend(Requirement(r) for r in metadata.requires(requirement.name) or [])
    return seen


def top_level_entries(dist_name: str) -> set[str]:
    """First path components, inside site-packages, of every file the distribution installed."""
    files = metadata.distribution(dist_name).files or []
    return {f.parts[0] for f in files if f.parts and f.parts[0] != ".."}


def main() -> None:
    entries: set[str] = set()
    for dist_name in closure(sys.argv[1]):
        entries |= top_level_entries(dist_name)
    entries -= {"__pycache__"}
    print("\n".join(sorted(entries)))


if __name__ == "__main__":
    main()
