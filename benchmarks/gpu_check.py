"""The GPU path measured: CLIP ViT-B/32 images/s through onnxruntime CUDA, a TensorRT engine
and Triton, cross-video batching, and `gpu_triton` end to end (issue 19).

    bash benchmarks/gpu_check.sh              # installs the `gpu` extra, then runs this
    python -m benchmarks.gpu_check [--cpu-dry-run] [--work DIR] [--only STAGE ...]

Every model is a FULL-SIZE STAND-IN (dp_tools/stand_ins/*_full.py: the
production architectures and sizes, random weights): the figures are speeds, never
features. Each stage runs in its own process with its own timeout, so one that fails or
hangs is recorded and the others still run:

  build        full-size CLIP, MiDaS and CLAP folders (+ CLIP fp16 via `dp models quantize`)
  onnxruntime  CLIP image through onnxruntime (CUDA provider; CPU in the dry run),
               fp32 and fp16, numpy in and out as the platform's OnnxModel does
  tensorrt     `dp models trt clip --fp16`, then the engine's images/s with the TensorRT
               API: inputs already on the GPU (compute) and with host copies (client)
  triton       the Triton server of nvidia-pytriton (Python backend over onnxruntime:
               CUDA provider, KIND_GPU; CPU in the dry run), the production config's
               dynamic batching, 1 / 4 / 16 concurrent gRPC clients
  cross_video  24 videos x 5 frames: one call per video vs CrossVideoBatcher (batching.py),
               batch 32 (dry run: 6 x 2, batch 4),
               local onnxruntime and Triton
  e2e          `gpu_triton` on N synthetic videos (every Triton model full-size), x real time

`--cpu-dry-run`: CPU provider, KIND_CPU, tiny counts: proves the script runs end to end and
gives a CPU baseline (labelled CPU). The table is printed and written as JSON to
`$OUT/gpu_check.json` when OUT is set, and to `<work>/gpu_check.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STAGES = ("build", "onnxruntime", "tensorrt", "triton", "cross_video", "e2e")
# seconds per stage (GPU run, dry run): a stage past its limit is killed and recorded
TIMEOUTS = {
    "build": (240, 300),
    "onnxruntime": (150, 240),
    "tensorrt": (300, 60),
    "triton": (180, 300),
    "cross_video": (150, 240),
    "e2e": (420, 900),
}


@dataclass(frozen=True)
class Plan:
    """What one run measures: the GPU run's sizes, or the dry run's tiny ones."""

    dry_run: bool
    seconds: float  # per measurement
    batches: tuple[int, ...]
    request_batch: int  # images per Triton request
    clients: tuple[int, ...] = (1, 4, 16)
    videos: int = 8
    video_seconds: float = 30.0
    cross_video: tuple[int, int, int] = (24, 5, 32)  # videos, frames each, batch

    @property
    def device(self) -> str:
        return "cpu" if self.dry_run else "cuda"

    @property
    def providers(self) -> tuple[str, ...]:
        return ("CPUExecutionProvider",) if self.dry_run else ("CUDAExecutionProvider",)


GPU_PLAN = Plan(dry_run=False, seconds=5.0, batches=(1, 16, 64, 256), request_batch=16)
DRY_PLAN = Plan(
    dry_run=True,
    seconds=1.0,
    batches=(1, 8),
    request_batch=2,
    videos=2,
    video_seconds=3.0,
    cross_video=(6, 2, 4),
)


@dataclass
class Row:
    stage: str
    what: str
    value: float | None
    unit: str
    note: str = ""


@dataclass
class StageResult:
    stage: str
    status: str  # ok | failed | timeout
    seconds: float
    rows: list[Row] = field(default_factory=list)
    error: str = ""


# --- measuring -----------------------------------------------------------------------------
def rate(run: Callable[[], int], seconds: float) -> float:
    """Items per second of `run` (returns items done) over about `seconds`, after a warm-up
    call (first-call costs: CUDA kernels, TensorRT tactics, Triton connections)."""
    run()
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        done += run()
    return done / elapsed


def concurrent_rate(run: Callable[[], int], clients: int, seconds: float) -> float:
    """Items per second of `clients` threads each calling `run` for `seconds`."""
    run()
    counts = [0] * clients
    stop = time.perf_counter() + seconds

    def client(index: int) -> None:
        while time.perf_counter() < stop:
            counts[index] += run()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def pixels(batch: int):
    import numpy as np

    return np.random.default_rng(batch).standard_normal((batch, 3, 224, 224), np.float32)


# --- stages (each runs in its own process: `--stage NAME`) ---------------------------------
def stage_build(plan: Plan, work: Path) -> list[Row]:
    import onnx

    from dp_tools.quantization import quantize_model_folder
    from dp_tools.stand_ins import build_stand_in
    from dp_tools.stand_ins.layers import parameter_count

    rows = []
    for name in ("clip", "midas", "clap"):
        started = time.perf_counter()
        folder = build_stand_in(name, work / "models" / name, size="full")
        built = f"built in {time.perf_counter() - started:.0f} s"
        for path in sorted(folder.glob("*.onnx")):
            params = parameter_count(onnx.load(path))
            note = f"{BUILD_NOTES.get(path.name, '')}{built}"
            rows.append(Row("build", f"{name} stand-in {path.name}", params, "parameters", note))
    started = time.perf_counter()
    quantize_model_folder(work / "models" / "clip", work / "models" / "clip-fp16", "fp16", "clip")
    rows.append(Row("build", "clip fp16 (dp models quantize)", time.perf_counter() - started, "s"))
    return rows


BUILD_NOTES = {
    "clip_image.onnx": "ViT-B/32 image: 87.8 M; ",
    "clip_text.onnx": "ViT-B/32 text: 63.4 M; ",
    "midas.onnx": "MiDaS v2.1 small, batch norms folded (21.3 M as PyTorch counts); ",
    "clap_audio.onnx": "HTSAT-tiny-sized substitute + CLAP projection; ",
    "clap_text.onnx": "the toy text tower; ",
}


def stage_onnxruntime(plan: Plan, work: Path) -> list[Row]:
    from dp_resources.models.families.clip import IMAGE_FILE
    from dp_resources.models.onnx_runtime import OnnxModel

    rows = []
    for precision in ("fp32", "fp16"):
        folder = work / "models" / ("clip" if precision == "fp32" else "clip-fp16")
        try:
            model = OnnxModel(
                folder / IMAGE_FILE,
                name="clip_image",
                version="full-size stand-in",
                providers=plan.providers,
                precision=precision,
                stand_in=True,
            )
        except Exception as exc:  # one precision failing must not hide the other
            rows.append(Row("onnxruntime", f"clip image {precision}", None, "images/s", str(exc)))
            continue
        for batch in plan.batches:
            inputs = {"pixel_values": pixels(batch)}

            def run(model=model, inputs=inputs, batch=batch) -> int:
                model.run(inputs)
                return batch

            rows.append(
                Row(
                    "onnxruntime",
                    f"clip image {precision} batch {batch}",
                    rate(run, plan.seconds),
                    "images/s",
                    model.model_used.device,
                )
            )
    return rows


def stage_tensorrt(plan: Plan, work: Path) -> list[Row]:
    """`dp models trt` builds the engine folder; the engine is then timed with the TensorRT
    API over CUDA buffers from libcudart (ctypes: no torch / cupy needed)."""
    source = work / "models" / "clip"
    target = work / "models" / "clip-trt-fp16"
    rows, started = [], time.perf_counter()
    command = [sys.executable, "-m", "dp_cli.main", "models", "trt", "clip", "--fp16"]
    built = subprocess.run(
        [*command, "--from", str(source), "--out", str(target), "--max-batch", "256"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if built.returncode != 0 and "fp16 ONNX folder" in built.stderr + built.stdout:
        # this TensorRT builds fp16 only from an fp16 graph (strongly typed): use the quantized one
        source = work / "models" / "clip-fp16"
        built = subprocess.run(
            [*command[:-1], "--from", str(source), "--out", str(target), "--max-batch", "256"],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
    if built.returncode != 0:
        raise RuntimeError(f"dp models trt failed: {(built.stdout + built.stderr).strip()[-800:]}")
    info = json.loads((target / "model.json").read_text())
    note = f"TensorRT {info.get('tensorrt_version')} on {info.get('gpu')}, from {source.name}"
    rows.append(
        Row("tensorrt", "engine build (dp models trt)", time.perf_counter() - started, "s", note)
    )
    engine = _TrtEngine(target / "clip_image.plan")
    for batch in plan.batches:
        rows.append(
            Row(
                "tensorrt",
                f"clip image engine batch {batch}, GPU-resident",
                rate(lambda b=batch: engine.run(b, copies=False), plan.seconds),
                "images/s",
                note,
            )
        )
        rows.append(
            Row(
                "tensorrt",
                f"clip image engine batch {batch}, with host copies",
                rate(lambda b=batch: engine.run(b, copies=True), plan.seconds),
                "images/s",
                note,
            )
        )
    return rows


class _TrtEngine:
    """One TensorRT engine with fixed device buffers for its largest batch (libcudart via
    ctypes, from the nvidia-cuda-runtime wheel that onnxruntime-gpu[cuda] installs)."""

    def __init__(self, plan_path: Path, max_batch: int = 256):
        import ctypes

        import numpy as np
        import tensorrt as trt

        self.cuda = ctypes.CDLL(_libcudart())
        logger = trt.Logger(trt.Logger.ERROR)
        self.engine = trt.Runtime(logger).deserialize_cuda_engine(plan_path.read_bytes())
        self.context = self.engine.create_execution_context()
        self.stream = ctypes.c_void_p()
        self._check(self.cuda.cudaStreamCreate(ctypes.byref(self.stream)))
        self.tensors = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            shape = [max_batch, *self.engine.get_tensor_shape(name)[1:]]
            host = np.zeros(shape, dtype)
            device = ctypes.c_void_p()
            self._check(self.cuda.cudaMalloc(ctypes.byref(device), ctypes.c_size_t(host.nbytes)))
            self._check(self.cuda.cudaMemset(device, 0, ctypes.c_size_t(host.nbytes)))
            is_input = self.engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            self.tensors[name] = (host, device, is_input)
            self.context.set_tensor_address(name, device.value)
        self.ctypes = ctypes

    def _check(self, code: int) -> None:
        if code != 0:
            raise RuntimeError(f"CUDA runtime error {code}")

    def run(self, batch: int, copies: bool) -> int:
        ctypes = self.ctypes
        for name, (host, device, is_input) in self.tensors.items():
            if is_input:
                self.context.set_input_shape(name, (batch, *host.shape[1:]))
                if copies:  # cudaMemcpyHostToDevice = 1
                    size = ctypes.c_size_t(host[:batch].nbytes)
                    self._check(
                        self.cuda.cudaMemcpy(device, host.ctypes.data_as(ctypes.c_void_p), size, 1)
                    )
        if not self.context.execute_async_v3(self.stream.value):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        if copies:  # cudaMemcpyDeviceToHost = 2 (synchronous: waits for the work)
            for host, device, is_input in self.tensors.values():
                if not is_input:
                    size = ctypes.c_size_t(host[:batch].nbytes)
                    self._check(
                        self.cuda.cudaMemcpy(host.ctypes.data_as(ctypes.c_void_p), device, size, 2)
                    )
        self._check(self.cuda.cudaStreamSynchronize(self.stream))
        return batch


def _libcudart() -> str:
    import glob
    import site

    for root in site.getsitepackages():
        found = sorted(
            glob.glob(f"{root}/nvidia/cu*/lib/libcudart.so*")
            + glob.glob(f"{root}/nvidia/cuda_runtime/lib/libcudart.so*")
        )
        if found:
            return found[-1]
    return "libcudart.so"  # a system CUDA on the library path


def _repository(plan: Plan, work: Path, onnx_files: dict[str, Path], parameters=None) -> Path:
    """The production configs over `onnx_files`, as Python-backend models of pytriton's
    server (build_cpu_test_repository); for the GPU run the model runs onnxruntime's CUDA
    provider and the instance group is KIND_GPU, so clients see a GPU deployment."""
    from dp_tools.triton_repository import (
        DEFAULT_REPOSITORY,
        PYTHON_MODEL_FILE,
        build_cpu_test_repository,
    )

    target = work / "repository"
    shutil.rmtree(target, ignore_errors=True)
    build_cpu_test_repository(DEFAULT_REPOSITORY, onnx_files, target, parameters=parameters)
    if not plan.dry_run:
        for name in onnx_files:
            script = target / name / "1" / PYTHON_MODEL_FILE
            text = script.read_text().replace(
                '["CPUExecutionProvider"]', '["CUDAExecutionProvider"]'
            )
            # the server sets its own LD_LIBRARY_PATH: load CUDA / cuDNN from the nvidia wheels
            text = text.replace(
                "import onnxruntime as ort\n",
                "import onnxruntime as ort\n\n"
                "if hasattr(ort, 'preload_dlls'):\n    ort.preload_dlls()\n",
            )
            script.write_text(text.replace("CPU TEST DOUBLE", "GPU CHECK (CUDA provider)"))
            config = target / name / "config.pbtxt"
            config.write_text(config.read_text().replace("KIND_CPU", "KIND_GPU"))
    return target


def _clip_onnx(plan: Plan, work: Path) -> Path:
    """fp16 on the GPU (the precision the throughput goal is for), fp32 on the CPU."""
    folder = "clip" if plan.dry_run else "clip-fp16"
    return work / "models" / folder / "clip_image.onnx"


def stage_triton(plan: Plan, work: Path) -> list[Row]:
    from dp_resources.models.triton_runtime import TritonModel
    from tests.fixtures.triton_server import start_triton_server

    onnx = _clip_onnx(plan, work)
    repository = _repository(plan, work, {"clip_image": onnx})
    (work / "logs").mkdir(exist_ok=True)
    server = start_triton_server(repository, work / "logs")
    rows = []
    try:
        model = TritonModel(server.grpc_url, "clip_image")
        inputs = {"pixel_values": pixels(plan.request_batch)}

        def run() -> int:
            model.run(inputs)
            return plan.request_batch

        for clients in plan.clients:
            rows.append(
                Row(
                    "triton",
                    f"clip image, {clients} gRPC clients x {plan.request_batch} images/request",
                    concurrent_rate(run, clients, plan.seconds),
                    "images/s",
                    f"{'fp32' if plan.dry_run else 'fp16'}, dynamic batching "
                    "(model_repository/clip_image), "
                    f"served on {model.model_used.device}",
                )
            )
        model.close()
    finally:
        server.stop()
    return rows


def stage_cross_video(plan: Plan, work: Path) -> list[Row]:
    import numpy as np

    from dp_resources.models.batching import CrossVideoBatcher
    from dp_resources.models.onnx_runtime import OnnxModel
    from dp_resources.models.triton_runtime import TritonModel
    from tests.fixtures.triton_server import start_triton_server

    videos, frames_each, batch = plan.cross_video
    onnx = _clip_onnx(plan, work)
    rng = np.random.default_rng(1)
    clips = [rng.standard_normal((frames_each, 3, 224, 224), np.float32) for _ in range(videos)]
    repository = _repository(plan, work, {"clip_image": onnx})
    (work / "logs").mkdir(exist_ok=True)
    server = start_triton_server(repository, work / "logs")
    rows = []
    try:
        runtimes = {
            "local onnxruntime": OnnxModel(
                onnx, name="clip_image", version="full", providers=plan.providers, stand_in=True
            ),
            "triton gRPC": TritonModel(server.grpc_url, "clip_image"),
        }
        for label, model in runtimes.items():

            def infer(frames, model=model):
                return model.run({"pixel_values": frames})["image_embedding"]

            def per_video() -> int:
                for frames in clips:
                    infer(frames)
                return videos * frames_each

            def cross_video() -> int:
                batcher = CrossVideoBatcher(infer, batch)
                chunks = {
                    i: iter([(f, np.arange(len(f), dtype=float))]) for i, f in enumerate(clips)
                }
                batcher.run(chunks)
                return batcher.stats.frames

            per = rate(per_video, plan.seconds)
            cross = rate(cross_video, plan.seconds)
            what = f"{videos} videos x {frames_each} frames, {label}"
            rows.append(Row("cross_video", f"{what}: per-video ({videos} calls)", per, "images/s"))
            rows.append(
                Row(
                    "cross_video",
                    f"{what}: cross-video batch {batch}",
                    cross,
                    "images/s",
                    f"{cross / per:.2f}x per-video",
                )
            )
    finally:
        server.stop()
    return rows


def stage_e2e(plan: Plan, work: Path) -> list[Row]:
    import yaml
    from dagster import DagsterInstance

    from dp_assets.components import load_profile
    from dp_assets.definitions import Settings
    from dp_cli.home import EMBEDDED_DAGSTER_YAML
    from dp_cli.process import process_videos
    from dp_core.profile import PROFILES_DIR
    from dp_resources.models.families.nanodet import ONNX_FILE as NANODET_ONNX
    from dp_resources.models.registry import family, planned_models
    from dp_tools.nanodet import prepare_nanodet
    from tests.fixtures.media import ClipSpec, make_clip
    from tests.fixtures.triton_server import start_triton_server

    models = work / "models"
    onnx_files, parameters = {}, {}
    for name in ("clip", "midas", "clap"):  # the full-size folders of the build stage
        towers = family(name).towers
        for tower, model in zip(towers, planned_models(name, models / name), strict=True):
            served = family(name).triton_name(tower)
            onnx_files[served] = models / name / tower.file
            parameters[served] = {
                "source_name": model.name,
                "source_version": model.version,
                "stand_in": "true",
            }
    onnx_files["nanodet"] = prepare_nanodet() / NANODET_ONNX
    repository = _repository(plan, work, onnx_files, parameters)
    (work / "logs").mkdir(exist_ok=True)
    server = start_triton_server(repository, work / "logs")
    try:
        spec = ClipSpec(duration_s=plan.video_seconds, width=640, height=360, fps=25, texture=True)
        clips = [str(make_clip(work / "videos" / f"v{i}.mp4", spec)) for i in range(plan.videos)]
        data = yaml.safe_load((PROFILES_DIR / "gpu_triton.yaml").read_text())
        for settings in data["components"].values():
            if "device" in settings:
                settings["device"] = plan.device
        data["batching"] = {"videos_per_run": plan.videos}
        profile = work / "gpu_triton_check.yaml"
        profile.write_text(yaml.safe_dump(data))
        home = work / "dagster_home"
        home.mkdir(exist_ok=True)
        shutil.copyfile(EMBEDDED_DAGSTER_YAML, home / "dagster.yaml")
        os.environ.update(
            DAGSTER_HOME=str(home), DP_TRITON_URL=server.grpc_url, DP_MODEL_DIR=str(models)
        )
        with DagsterInstance.from_config(str(home)) as instance:
            started = time.perf_counter()
            results, _ = process_videos(
                instance,
                clips,
                Settings(storage_base=str(work / "store"), profile=str(profile)),
                load_profile(str(profile)),
                None,
                lambda _: None,
            )
            wall = time.perf_counter() - started
    finally:
        server.stop()
    failed = [f"{r.path}: {r.message}" for r in results if r.status != "success"]
    if failed:
        raise RuntimeError("gpu_triton failed: " + "; ".join(failed)[:800])
    seconds = plan.videos * plan.video_seconds
    note = (
        f"{plan.videos} x {plan.video_seconds:g} s 640x360 25 fps, wall {wall:.1f} s, "
        f"devices {plan.device}"
    )
    return [Row("e2e", "gpu_triton, whole graph", seconds / wall, "x real time", note)]


STAGE_FUNCTIONS = {
    "build": stage_build,
    "onnxruntime": stage_onnxruntime,
    "tensorrt": stage_tensorrt,
    "triton": stage_triton,
    "cross_video": stage_cross_video,
    "e2e": stage_e2e,
}


# --- the driver ----------------------------------------------------------------------------
def run_stage_process(stage: str, plan: Plan, work: Path) -> StageResult:
    """`stage` in a child process (own session: a timeout kills it and the Triton server it
    started) under its timeout; its rows come back through `<work>/results/<stage>.json`."""
    timeout = TIMEOUTS[stage][1 if plan.dry_run else 0]
    result_file = work / "results" / f"{stage}.json"
    result_file.unlink(missing_ok=True)
    log = work / "results" / f"{stage}.log"
    command = [sys.executable, "-m", "benchmarks.gpu_check", "--stage", stage, "--work", str(work)]
    if plan.dry_run:
        command.append("--cpu-dry-run")
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return StageResult(
                stage, "timeout", time.perf_counter() - started, error=f"killed after {timeout} s"
            )
    elapsed = time.perf_counter() - started
    if result_file.exists():
        data = json.loads(result_file.read_text())
        return StageResult(
            stage, data["status"], elapsed, [Row(**r) for r in data["rows"]], data["error"]
        )
    tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
    return StageResult(stage, "failed", elapsed, error=f"exit {proc.returncode}: {tail}")


def run_stage_here(stage: str, plan: Plan, work: Path) -> None:
    """The child's side: run one stage, write its rows (or its error) as JSON."""
    if not plan.dry_run:
        import onnxruntime

        if hasattr(onnxruntime, "preload_dlls"):  # CUDA / cuDNN from the nvidia-* wheels
            onnxruntime.preload_dlls()
    try:
        rows, status, error = STAGE_FUNCTIONS[stage](plan, work), "ok", ""
    except BaseException as exc:  # pytest.fail (server start) raises a BaseException
        import traceback

        traceback.print_exc()
        rows, status, error = [], "failed", f"{type(exc).__name__}: {exc}"[-800:]
    payload = {"status": status, "rows": [asdict(r) for r in rows], "error": error}
    (work / "results" / f"{stage}.json").write_text(json.dumps(payload, indent=1))


def environment() -> dict:
    """What ran: versions and the GPU, for the record."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("onnxruntime", "onnxruntime-gpu", "tensorrt", "tensorrt-cu13", "tritonclient"):
        with contextlib.suppress(PackageNotFoundError):
            found[package] = version(package)
    try:
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        gpu = ""
    return {
        "packages": found,
        "gpu": gpu or "none",
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def table(results: list[StageResult], plan: Plan) -> str:
    label = (
        "CPU DRY RUN (CPU provider, tiny counts: a sanity baseline, not GPU figures)"
        if plan.dry_run
        else "GPU"
    )
    lines = [
        f"gpu_check: {label}",
        "| stage | measurement | value | unit | note |",
        "|---|---|---|---|---|",
    ]
    for result in results:
        for row in result.rows:
            value = "—" if row.value is None else f"{row.value:,.{0 if row.value >= 100 else 2}f}"
            lines.append(f"| {row.stage} | {row.what} | {value} | {row.unit} | {row.note} |")
        if result.status != "ok":
            error = result.error.replace("\n", " ").replace("|", "/")[:300]
            lines.append(
                f"| {result.stage} | **{result.status}** after {result.seconds:.0f} s "
                f"| — | | {error} |"
            )
    lines.append(
        "stage times: " + ", ".join(f"{r.stage} {r.seconds:.0f} s ({r.status})" for r in results)
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-dry-run", action="store_true", help="CPU provider, tiny counts")
    parser.add_argument("--work", default=None, help="work folder [a new temp folder]")
    parser.add_argument("--only", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--videos", type=int, default=None, help="e2e videos [8; dry run 2]")
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args()
    plan = DRY_PLAN if args.cpu_dry_run else GPU_PLAN
    if args.videos:
        plan = Plan(**{**asdict(plan), "videos": args.videos})
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="dp-gpu-check-"))
    (work / "results").mkdir(parents=True, exist_ok=True)
    if args.stage:
        run_stage_here(args.stage, plan, work)
        return
    print(
        f"gpu_check: work folder {work}; {'CPU dry run' if plan.dry_run else 'GPU run'}", flush=True
    )
    results = []
    for stage in args.only:
        result = run_stage_process(stage, plan, work)
        print(
            f"  {stage}: {result.status} in {result.seconds:.0f} s {result.error[:200]}", flush=True
        )
        results.append(result)
    report = table(results, plan)
    print("\n" + report)
    document = {
        "label": "cpu-dry-run" if plan.dry_run else "gpu",
        "plan": asdict(plan),
        "environment": environment(),
        "stages": [asdict(r) for r in results],
        "table": report,
    }
    text = json.dumps(document, indent=1)
    (work / "gpu_check.json").write_text(text)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_check.json").write_text(text)


if __name__ == "__main__":
    main()
