"""The `model.json` a set-up conversion writes beside its one ONNX file (the runtime checks
the file against its digest: dp_resources/models/prepared.py)."""

from __future__ import annotations

import json
from pathlib import Path

from dp_core.hashing import digest_of_files, sha256_file
from dp_resources.models.registry import MODEL_INFO_FILE


def write_prepared_info(folder: Path, onnx_file: str, name: str, version: str, **details) -> dict:
    """A real (not stand-in) fp32 onnxruntime model: its identity, the file's digests, and
    `details` (source, licence, derived_from, input, outputs); written to `model.json`."""
    info = {
        "name": name,
        "version": version,
        "precision": "fp32",
        "engine": "onnxruntime",
        "stand_in": False,
        "sha256": {onnx_file: sha256_file(folder / onnx_file)},
        "weights_digest": digest_of_files({onnx_file: folder / onnx_file}),
        **details,
    }
    (folder / MODEL_INFO_FILE).write_text(json.dumps(info, indent=1, sort_keys=True), "utf-8")
    return info
