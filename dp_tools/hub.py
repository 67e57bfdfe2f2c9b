"""Production checkpoints: download (`pull`, needs a network) and ONNX export (needs torch).

Sources (all permissively licensed, shared/MODELS.md):
- clip: OpenCLIP ViT-B-32 `laion2b_s34b_b79k`, Hugging Face `laion/CLIP-ViT-B-32-laion2B-s34B-b79K`
  (`open_clip_model.safetensors`, `open_clip_config.json`, `tokenizer.json`).
- clap: LAION CLAP HTSAT, Hugging Face `laion/clap-htsat-unfused` (transformers format).
- midas: MiDaS v2.1 small, the `midas_v21_small_256.pt` release asset of isl-org/MiDaS
  (the checkpoint torch.hub's `MiDaS_small` loads).

`pull_checkpoint` writes `<model cache>/checkpoints/<name>/` with a `pull.json` (source,
revision, sha256 of every file). Before any download it checks that the host answers
(a 5 s TCP connect): offline, that is MODEL_UNAVAILABLE at once instead of the hub client's
retries; with `HF_HUB_OFFLINE=1` it is MODEL_UNAVAILABLE too (the user asked for no
network). MODEL_UNAVAILABLE, not MODEL_NOT_FOUND: the model exists, the hub cannot be
reached from here. Without `huggingface_hub` it is DEPENDENCY_MISSING.

`export_checkpoint` turns a pulled checkpoint into an fp32 ONNX model folder with the I/O
contract of the family's loader (its towers in dp_resources/models/registry.py) and a
`model.json`. It needs torch (and open_clip / transformers / timm for the architectures):
where they are missing it is DEPENDENCY_MISSING naming the pins. This path is written for
machines that have them; it does not run here (no torch, no hub).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import digest_of_files, sha256_file
from dp_resources.models.registry import (
    MODEL_INFO_FILE,
    ModelFamily,
    describe_folder,
    families_obtained_by,
    family,
    model_cache_dir,
    planned_models,
    registered_families,
)
from dp_resources.storage.atomic_files import publish_copy, publish_stream, publish_text

TORCH_PIN = "torch==2.13.0"
HUB_PIN = "huggingface_hub==2.4.0"
PULL_INFO_FILE = "pull.json"
_CONNECT_TIMEOUT_S = 5.0
_OPSET = 17


@dataclass(frozen=True)
class CheckpointSource:
    """Where a production checkpoint comes from: a Hugging Face repo (+ file patterns) or
    a plain URL."""

    name: str
    description: str
    hf_repo: str | None = None
    hf_patterns: tuple[str, ...] = ()
    revision: str = "main"
    url: str | None = None
    version: str = ""
    export_needs: tuple[str, ...] = ()


SOURCES: dict[str, CheckpointSource] = {
    "clip": CheckpointSource(
        "clip",
        "OpenCLIP ViT-B-32 laion2b_s34b_b79k",
        hf_repo="laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
        hf_patterns=("open_clip_model.safetensors", "open_clip_config.json", "tokenizer.json"),
        version="laion2b_s34b_b79k",
        export_needs=(TORCH_PIN, "open_clip_torch==3.3.0"),
    ),
    "clap": CheckpointSource(
        "clap",
        "LAION CLAP HTSAT (unfused)",
        hf_repo="laion/clap-htsat-unfused",
        hf_patterns=("*.json", "*.txt", "model.safetensors"),
        version="htsat-unfused",
        export_needs=(TORCH_PIN, "transformers==5.23.0"),
    ),
    "midas": CheckpointSource(
        "midas",
        "MiDaS v2.1 small (256)",
        url="https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_small_256.pt",
        version="v2.1-small-256",
        export_needs=(TORCH_PIN, "timm==1.0.31"),
    ),
}


assert set(SOURCES) == set(families_obtained_by("pull")), "a pulled family needs a source"


def source(name: str) -> CheckpointSource:
    if name not in SOURCES:
        others = "; ".join(
            f"{f.name}: {f.how_to_get}"
            for f in registered_families().values()
            if f.name not in SOURCES
        )
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"no production checkpoint known for {name!r}; pullable: {', '.join(SOURCES)} "
            f"({others})",
        )
    return SOURCES[name]


def checkpoint_dir(name: str) -> Path:
    """`<model cache>/checkpoints/<name>`: pulled checkpoints, before ONNX export."""
    return model_cache_dir() / "checkpoints" / name


def _endpoint(checkpoint: CheckpointSource) -> str:
    if checkpoint.url:
        return checkpoint.url
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def check_reachable(url: str) -> None:
    """MODEL_UNAVAILABLE unless a TCP connection to `url`'s host opens within 5 s."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise DpError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"cannot reach {parsed.scheme}://{parsed.netloc} ({exc}): no network to the model "
            "hub from here. Pull on a machine with one and copy the model cache "
            "($DP_MODEL_CACHE), or use `dp models stand-in` for tests",
        ) from exc


def pull_checkpoint(name: str, target: Path | None = None) -> Path:
    """Download `name`'s production checkpoint into `target` (default `checkpoint_dir`),
    with a `pull.json`; returns the folder."""
    checkpoint = source(name)
    target = Path(target) if target is not None else checkpoint_dir(name)
    if checkpoint.hf_repo is not None:
        try:
            import huggingface_hub
        except ImportError as exc:
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                f"pulling {name} from Hugging Face needs huggingface_hub: pip install {HUB_PIN}",
            ) from exc
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            raise DpError(
                ErrorCode.MODEL_UNAVAILABLE,
                f"HF_HUB_OFFLINE is set: cannot download {checkpoint.hf_repo}; unset it on a "
                "machine with a network, or use `dp models stand-in` for tests",
            )
    check_reachable(_endpoint(checkpoint))
    target.mkdir(parents=True, exist_ok=True)
    try:
        if checkpoint.hf_repo is not None:
            huggingface_hub.snapshot_download(
                checkpoint.hf_repo,
                revision=checkpoint.revision,
                allow_patterns=list(checkpoint.hf_patterns),
                local_dir=str(target),
            )
        else:
            with urllib.request.urlopen(checkpoint.url) as response:
                publish_stream(
                    target / Path(urlparse(checkpoint.url).path).name,
                    lambda out: shutil.copyfileobj(response, out),
                )
    except DpError:
        raise
    except Exception as exc:  # hub/HTTP clients raise many untyped errors
        raise DpError(
            ErrorCode.MODEL_UNAVAILABLE, f"downloading {checkpoint.description} failed: {exc}"
        ) from exc
    files = sorted(p for p in target.rglob("*") if p.is_file() and p.name != PULL_INFO_FILE)
    named = {str(p.relative_to(target)): p for p in files}
    digests = {name: sha256_file(p) for name, p in named.items()}
    info = {
        "name": name,
        "description": checkpoint.description,
        "source": checkpoint.hf_repo or checkpoint.url,
        "revision": checkpoint.revision,
        "version": checkpoint.version,
        "sha256": digests,
        "weights_digest": digest_of_files(named) if named else "",
    }
    publish_text(target / PULL_INFO_FILE, json.dumps(info, indent=1))
    return target


@contextlib.contextmanager
def _needs(module: str, pins: tuple[str, ...], what: str):
    """Around `import <module>`: DEPENDENCY_MISSING naming the pins when it is missing."""
    try:
        yield
    except ImportError as exc:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"{what} needs {module}, which is not installed: pip install {' '.join(pins)}",
        ) from exc


def export_checkpoint(name: str, checkpoint: Path, target: Path) -> Path:
    """An fp32 ONNX model folder at `target` from the pulled checkpoint folder `checkpoint`."""
    checkpoint_source = source(name)
    pulled = checkpoint / PULL_INFO_FILE
    if not pulled.is_file():
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"no pulled {name} checkpoint in {checkpoint}: run `dp models pull {name}` where a "
            "network exists",
        )
    with _needs("torch", checkpoint_source.export_needs, f"exporting {name} to ONNX"):
        import torch
    model_family = family(name)
    target.mkdir(parents=True, exist_ok=True)
    towers = _EXPORTERS[name](torch, checkpoint, model_family)
    for tower in model_family.towers:
        module, example = towers[tower.part]
        dynamic = {input_name: {0: "batch"} for input_name in tower.inputs}
        torch.onnx.export(
            module.eval(),
            example,
            str(target / tower.file),
            input_names=list(tower.inputs),
            output_names=[tower.output],
            dynamic_axes={**dynamic, tower.output: {0: "batch"}},
            opset_version=_OPSET,
        )
    tokenizer = model_family.tokenizer_file
    if tokenizer and (checkpoint / tokenizer).is_file():
        publish_copy(checkpoint / tokenizer, target / tokenizer)
    named = {t.file: target / t.file for t in model_family.towers}
    pull_info = json.loads(pulled.read_text(encoding="utf-8"))
    info = {
        "name": model_family.real_name,
        "version": checkpoint_source.version,
        "family": name,
        "precision": "fp32",
        "engine": "onnxruntime",
        "stand_in": False,
        "sha256": {file: sha256_file(path) for file, path in named.items()},
        "weights_digest": digest_of_files(named),
        "derived_from": {
            "source": pull_info.get("source"),
            "weights_digest": pull_info.get("weights_digest"),
            "tool": f"torch {torch.__version__} onnx export, opset {_OPSET}",
        },
    }
    publish_text(target / MODEL_INFO_FILE, json.dumps(info, indent=1, sort_keys=True))
    return target


def _clip_towers(torch, checkpoint: Path, model_family: ModelFamily) -> dict:
    with _needs("open_clip", SOURCES["clip"].export_needs, "CLIP export"):
        import open_clip
    model, _, _ = open_clip.create_model_and_transforms(
        "ViT-B-32", pretrained=str(checkpoint / "open_clip_model.safetensors")
    )

    class Image(torch.nn.Module):
        def forward(self, pixels):
            return model.encode_image(pixels)

    class Text(torch.nn.Module):
        def forward(self, input_ids):
            return model.encode_text(input_ids)

    return {
        "image": (Image(), (torch.zeros(1, 3, 224, 224),)),
        "text": (Text(), (torch.zeros(1, 77, dtype=torch.int64),)),
    }


def _clap_towers(torch, checkpoint: Path, model_family: ModelFamily) -> dict:
    with _needs("transformers", SOURCES["clap"].export_needs, "CLAP export"):
        import transformers
    model = transformers.ClapModel.from_pretrained(str(checkpoint))
    extractor = transformers.ClapFeatureExtractor.from_pretrained(str(checkpoint))
    mel = torch.tensor(extractor.mel_filters, dtype=torch.float32)  # [n_fft/2+1, 64]
    window = torch.hann_window(extractor.fft_window_size)

    class Audio(torch.nn.Module):
        """Waveform [B, 480000] -> log-mel (the extractor's STFT + slaney mel, in the graph,
        so callers send raw audio) -> HTSAT -> projection."""

        def forward(self, waveform):
            spec = torch.stft(
                waveform,
                extractor.fft_window_size,
                extractor.hop_length,
                window=window,
                return_complex=False,
            )
            power = spec.pow(2).sum(-1).transpose(1, 2)  # [B, frames, bins]
            log_mel = 10.0 * torch.log10(torch.clamp(power @ mel, min=1e-10))
            return model.get_audio_features(input_features=log_mel.unsqueeze(1))

    class Text(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            return model.get_text_features(input_ids=input_ids, attention_mask=attention_mask)

    ones = torch.ones(1, 77, dtype=torch.int64)
    return {
        "audio": (Audio(), (torch.zeros(1, 480000),)),
        "text": (Text(), (ones, ones)),
    }


def _midas_towers(torch, checkpoint: Path, model_family: ModelFamily) -> dict:
    with _needs("timm", SOURCES["midas"].export_needs, "MiDaS export"):
        import timm  # noqa: F401  (the MiDaS hub code imports it)
    model = torch.hub.load("intel-isl/MiDaS", "MiDaS_small", pretrained=False)
    weights = checkpoint / Path(urlparse(SOURCES["midas"].url).path).name
    model.load_state_dict(torch.load(str(weights), map_location="cpu"))
    [tower] = model_family.towers
    return {tower.part: (model, (torch.zeros(1, 3, 256, 256),))}


_EXPORTERS = {"clip": _clip_towers, "clap": _clap_towers, "midas": _midas_towers}


def export_to_repository(
    family_name: str, folder: Path, target: Path, *, version: int = 1
) -> dict[str, str]:
    """Write the model folder `folder` (ONNX, any precision; or TensorRT engines) into the
    Triton repository `target` (configs from the committed `model_repository/`): one model
    per file, named as `model_repository/` names it, with `weights_digest`, `precision`,
    `source_name`, `source_version` and `stand_in` parameters. Returns {triton name: digest}.
    """
    from dp_tools import triton_repository as triton

    model_family = family(family_name)
    described = describe_folder(folder, family_name)
    if not described.present:
        raise DpError(ErrorCode.MODEL_NOT_FOUND, f"cannot export: {described.problem}")
    # One served model per planned model, reporting what the local loader would report
    # (a text tower's digest covers the local tokenizer the client encodes with).
    planned = dict(
        zip(model_family.triton_models, planned_models(family_name, folder), strict=True)
    )
    names = {name: model.path.name for name, model in planned.items()}
    digests = {name: model.weights_digest for name, model in planned.items()}
    parameters = {
        name: {
            triton.PARAM_PRECISION: model.precision,
            triton.PARAM_SOURCE_NAME: model.name,
            triton.PARAM_SOURCE_VERSION: model.version,
            triton.PARAM_STAND_IN: "true" if model.stand_in else "false",
        }
        for name, model in planned.items()
    }
    if described.engine == "tensorrt":
        from dp_tools.tensorrt import export_engine_repository

        export_engine_repository(
            {name: folder / file for name, file in names.items()},
            target,
            digests=digests,
            parameters=parameters,
            version=version,
        )
    else:
        triton.export_repository(
            triton.DEFAULT_REPOSITORY,
            {name: folder / file for name, file in names.items()},
            target,
            weights_digests=digests,
            parameters=parameters,
            version=version,
        )
    return digests
