"""Content digests of modules: equal digests mean bit-identical weights and buffers."""

from __future__ import annotations

import hashlib

from torch import nn


def state_digest(module: nn.Module, prefix: bytes = b"") -> hashlib._Hash:
    """SHA-256 over `prefix` and every state-dict entry (name, dtype, shape, raw bytes)."""
    digest = hashlib.sha256(prefix)
    for key, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.numpy().tobytes())
    return digest
