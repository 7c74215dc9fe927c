"""CompressAI's compiled extensions (the rANS coder, the CDF quantizer) without its package.

`import compressai` imports its datasets and models (seconds, torch_geometric among them);
a process that only reads or writes `.ndc` files needs two small native modules. They are
loaded from CompressAI's installation directly and registered under their usual names, and
if `compressai` itself is imported later, the package gets them as attributes as usual.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PACKAGE = "compressai"


def compressai_extension(name: str) -> ModuleType:
    """`compressai.<name>` for a compiled module (`ans`, `_CXX`)."""
    full_name = f"{PACKAGE}.{name}"
    if full_name in sys.modules or PACKAGE in sys.modules:
        return importlib.import_module(full_name)
    package = importlib.util.find_spec(PACKAGE)  # locates, does not execute, the package
    for folder in (package.submodule_search_locations or []) if package else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = Path(folder) / f"{name}{suffix}"
            if path.is_file():
                spec = importlib.util.spec_from_file_location(full_name, path)
                if spec is None or spec.loader is None:
                    break
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[full_name] = module
                _attach_on_package_import()
                return module
    return importlib.import_module(full_name)  # not a plain install: the usual way


class _AttachExtensions(importlib.abc.MetaPathFinder):
    """When `compressai` is imported, give it the extensions already loaded as attributes
    (the import system sets a submodule attribute only when it loads the submodule)."""

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001, ANN201 - importlib API
        if fullname != PACKAGE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(PACKAGE)
        original = spec.loader

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):  # noqa: ANN001, ANN201
                return original.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                for key, value in list(sys.modules.items()):
                    if key.startswith(f"{PACKAGE}.") and key.count(".") == 1:
                        setattr(module, key.split(".", 1)[1], value)
                original.exec_module(module)

        spec.loader = Loader()
        return spec


def _attach_on_package_import() -> None:
    if not any(isinstance(f, _AttachExtensions) for f in sys.meta_path):
        sys.meta_path.insert(0, _AttachExtensions())
