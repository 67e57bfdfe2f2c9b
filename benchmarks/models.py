"""Model runtimes: items per second through local onnxruntime and through Triton.

Run from the repository root (needs `bash scripts/setup_triton.sh` once):
    python -m benchmarks.models [--seconds 3] [--batch-sizes 1 8 32]

On the stand-in CLIP image tower (images/s, [B, 3, 224, 224]) and CLAP audio tower
(10 s windows/s, [B, 480000]): local `OnnxModel` vs `TritonModel` over gRPC and HTTP, per
batch size, each printed with its ratio to the local baseline measured in the same run;
then 4 worker threads sending one item each at a time (where Triton's dynamic batcher
merges requests). The server here is the CPU test double (Python backend wrapping
onnxruntime, same ONNX Runtime version, on the same cores as the client), so the ratios
measure the serving overhead (serialisation, transport, Python backend), not a GPU.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dp_resources.models.batching import CrossVideoBatcher
from dp_resources.models.families.clap import AUDIO_FILE
from dp_resources.models.families.clip import IMAGE_FILE
from dp_resources.models.onnx_runtime import OnnxModel
from dp_resources.models.runtime import ModelRuntime
from dp_resources.models.triton_runtime import TritonModel
from dp_tools.stand_ins.clap import build_clap_stand_in
from dp_tools.stand_ins.clip import build_clip_stand_in
from dp_tools.triton_repository import (
    DEFAULT_REPOSITORY,
    build_cpu_test_repository,
)
from tests.fixtures.triton_server import start_triton_server

WORKERS = 4


def items_per_second(run: Callable[[], int], seconds: float) -> float:
    """Repeat `run` (returns items done) for about `seconds` after one warm-up call."""
    run()
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        done += run()
    return done / elapsed


def concurrent_items_per_second(model: ModelRuntime, item: dict, seconds: float) -> float:
    """WORKERS threads, each sending one item at a time for `seconds`."""
    model.run(item)
    counts = [0] * WORKERS
    stop = time.perf_counter() + seconds

    def worker(index: int) -> None:
        while time.perf_counter() < stop:
            model.run(item)
            counts[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def bench_model(
    label: str,
    unit: str,
    local: OnnxModel,
    remotes: dict[str, TritonModel],
    make_batch: Callable[[int], dict[str, np.ndarray]],
    batch_sizes: list[int],
    seconds: float,
) -> None:
    print(f"\n{label} ({unit}/s; ratio = runtime / local onnxruntime)")
    print(f"{'batch':>14} {'local':>9} " + " ".join(f"{p:>18}" for p in remotes))

    def rate_at(batch: dict[str, np.ndarray]) -> Callable[[ModelRuntime], float]:
        return lambda m: items_per_second(lambda: _run(m, batch), seconds)

    # inputs made once per batch size: generating them is not the runtime's time
    rows = [(str(b), rate_at(make_batch(b))) for b in batch_sizes]
    rows.append(
        (f"{WORKERS} workers x 1", lambda m: concurrent_items_per_second(m, make_batch(1), seconds))
    )
    for name, measure in rows:
        baseline = measure(local)
        cells = []
        for remote in remotes.values():
            rate = measure(remote)
            cells.append(f"{rate:9.1f} ({rate / baseline:4.2f}x)")
        print(f"{name:>14} {baseline:9.1f} " + " ".join(f"{c:>18}" for c in cells))


def _run(model: ModelRuntime, batch: dict[str, np.ndarray]) -> int:
    model.run(batch)
    return len(next(iter(batch.values())))


def bench_cross_video_batching(
    runtimes: dict[str, ModelRuntime], videos: int, frames_each: int, batch: int
) -> None:
    """Many short videos through the CLIP image tower: one batch per video (what a per-video
    step does) vs `CrossVideoBatcher` filling batches across videos; images/s of each, per
    runtime. The gain is per-call overhead saved, large where a call is costly (Triton)."""
    rng = np.random.default_rng(1)
    clips = [rng.standard_normal((frames_each, 3, 224, 224), np.float32) for _ in range(videos)]
    calls = -(-videos * frames_each // batch)
    print(
        f"\ncross-video batching, {videos} videos x {frames_each} frames, batch {batch} "
        f"(CLIP image stand-in; per-video: {videos} calls, cross-video: {calls} calls)"
    )
    for name, model in runtimes.items():

        def infer(pixels: np.ndarray, model=model) -> np.ndarray:
            return model.run({"pixel_values": pixels})["image_embedding"]

        def per_video() -> int:
            for pixels in clips:
                infer(pixels)
            return videos * frames_each

        def cross_video() -> int:
            batcher = CrossVideoBatcher(infer, batch)
            chunks = {i: iter([(p, np.arange(len(p), dtype=float))]) for i, p in enumerate(clips)}
            batcher.run(chunks)
            return batcher.stats.frames

        per = items_per_second(per_video, 3.0)
        cross = items_per_second(cross_video, 3.0)
        print(
            f"  {name:<12} per-video {per:8.1f} images/s   cross-video {cross:8.1f} images/s"
            f"   {cross / per:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        clip, clap = build_clip_stand_in(root / "clip"), build_clap_stand_in(root / "clap")
        repository = build_cpu_test_repository(
            DEFAULT_REPOSITORY,
            {"clip_image": clip / IMAGE_FILE, "clap_audio": clap / AUDIO_FILE},
            root / "repository",
        )
        server = start_triton_server(repository, root)
        try:
            cases = [
                (
                    "CLIP image stand-in",
                    "images",
                    "clip_image",
                    clip / IMAGE_FILE,
                    lambda b: {"pixel_values": rng.standard_normal((b, 3, 224, 224), np.float32)},
                ),
                (
                    "CLAP audio stand-in",
                    "windows",
                    "clap_audio",
                    clap / AUDIO_FILE,
                    lambda b: {"waveform": rng.standard_normal((b, 480000), np.float32) * 0.1},
                ),
            ]
            bench_cross_video_batching(
                {
                    "local": OnnxModel(
                        clip / IMAGE_FILE, name="clip_image", version="bench", stand_in=True
                    ),
                    "triton grpc": TritonModel(server.grpc_url, "clip_image"),
                },
                videos=24,
                frames_each=5,
                batch=32,
            )
            for label, unit, name, path, make_batch in cases:
                local = OnnxModel(path, name=name, version="bench", stand_in=True)
                remotes = {
                    p: TritonModel(server.url(p), name, protocol=p) for p in ("grpc", "http")
                }
                bench_model(
                    label,
                    unit,
                    local,
                    {f"triton {p}": m for p, m in remotes.items()},
                    make_batch,
                    args.batch_sizes,
                    args.seconds,
                )
                for remote in remotes.values():
                    remote.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
