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
# leave two dist-infos of one package. (Its setuptools is too old for CompressAI's
# requirement, so the smoke test replaces that one with the closure's.)
BROUGHT_BY_VENV = {"pip"}


def closure(name: str) -> set[str]:
    """Names of the distributions `name` needs at run time, itself excluded, following the
    extras each requirement asks for (torch asks for cuda-toolkit[cublas,…])."""
    followed: dict[str, set[str]] = {}  # distribution → the extras already followed
    todo: list[tuple[str, set[str]]] = [(name, set())]
    while todo:
        dist, extras = todo.pop()
        for line in metadata.requires(dist) or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is not None and not any(marker.evaluate({"extra": e}) for e in {"", *extras}):
                continue
            key = requirement.name.lower().replace("_", "-")
            if key in BROUGHT_BY_VENV:
                continue
            if key in followed and requirement.extras <= followed[key]:
                continue
            followed.setdefault(key, set()).update(requirement.extras)
            todo.append((requirement.name, set(requirement.extras)))
    return set(followed)


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
