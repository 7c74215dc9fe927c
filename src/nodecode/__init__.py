"""nodecode: image understanding straight from learned-codec bitstreams.

Implements Torfason et al., "Towards Image Understanding from Deep Compression
without Decoding" (ICLR 2018), with real entropy-coded bitstreams on top.
"""

__version__ = "0.1.0"

__all__ = ["classify", "segment"]


def __getattr__(name: str) -> object:
    """`nodecode.classify` / `nodecode.segment` (nodecode/api.py), imported on first use so
    `import nodecode` stays instant."""
    if name in __all__:
        from nodecode import api

        return getattr(api, name)
    raise AttributeError(f"module 'nodecode' has no attribute {name!r}")
