"""Canonical JSON and the hashes built on it (config_hash, model_signature, dataset hashes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(value: Any) -> str:
    return sha256_bytes(canonical_json(value).encode("utf-8"))


def sha256_file(path: str | Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def digest_of_files(named: Mapping[str, str | Path]) -> str:
    """sha256 over the lines `f"{name} {sha256_file(path)}\\n"`, in the mapping's order.

    The order is part of the digest (callers pass files in a fixed order); even one file
    goes through the lines, so its digest is not the file's own sha256.
    """
    lines = "".join(f"{name} {sha256_file(path)}\n" for name, path in named.items())
    return sha256_bytes(lines.encode("utf-8"))
