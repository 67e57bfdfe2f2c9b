"""The `model.json` a set-up conversion writes beside its one ONNX file (the runtime checks
the file against its digest: dp_resources/models/prepared.py)."""

from __future__ import annotations

import json
from pathlib import Path

from dp_core.errors import DpError
from dp_core.hashing import digest_of_files, sha256_file
from dp_resources.models.registry import MODEL_INFO_FILE, read_json_object


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


def prepared_folder_is_valid(folder: Path, onnx_file: str, name: str, version: str) -> bool:
    """`model.json` names this model and version, and the ONNX file has the digest it records."""
    try:
        info = read_json_object(folder / MODEL_INFO_FILE)
    except DpError:
        return False
    onnx_path = folder / onnx_file
    return (
        info is not None
        and info.get("name") == name
        and info.get("version") == version
        and onnx_path.is_file()
        and info.get("sha256", {}).get(onnx_file) == sha256_file(onnx_path)
    )
