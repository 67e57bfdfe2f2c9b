"""Segmenter speed against a plain PyAV decode of the same file, measured in the same run.

    .venv/bin/python benchmarks/segmenter.py [VIDEO ...]

Without arguments: the Big Buck Bunny sample and a synthetic 60 s 720p clip with audio.
Prints, per file: decoded frames/s of a bare decode (every video and audio frame, no
conversion), of the segmenter (same decode + scaling + JPEG chunks + audio resampling +
storage writes), and the segmenter's cost as a ratio of the bare decode.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.pipeline import loop_remux  # noqa: E402
from dp_assets.components import analysis_readers, load_profile  # noqa: E402
from dp_cli.samples import fetch_samples  # noqa: E402
from dp_resources.media.segmentation import segment_video  # noqa: E402
from dp_resources.storage.backends import LocalStorage  # noqa: E402
from tests.fixtures.media import ClipSpec, make_clip  # noqa: E402


def bare_decode(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    frames = 0
    with av.open(str(path)) as container:
        streams = [*container.streams.video[:1], *container.streams.audio[:1]]
        for stream in streams:
            stream.thread_type = "AUTO"
        for packet in container.demux(*streams):
            for frame in packet.decode():
                frames += isinstance(frame, av.VideoFrame)
    return time.perf_counter() - started, frames


def segmenter(path: Path) -> float:
    profile = load_profile("cpu_baseline")
    readers = analysis_readers(profile)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        segment_video(path, LocalStorage(tmp), "frames_dir/local/bench/run", profile, readers)
        return time.perf_counter() - started


def main(paths: list[Path]) -> None:
    print(f"{'file':<28} {'frames':>7} {'bare fps':>9} {'ours fps':>9} {'ours/bare time':>15}")
    for path in paths:
        bare_s, frames = min(bare_decode(path) for _ in range(2))
        ours_s = min(segmenter(path) for _ in range(2))
        print(
            f"{path.name:<28} {frames:>7} {frames / bare_s:>9.0f} {frames / ours_s:>9.0f} "
            f"{ours_s / bare_s:>14.2f}x"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        files = [Path(p) for p in sys.argv[1:]]
    else:
        samples = {p.stem: p for p in fetch_samples(REPO / "samples")}
        synthetic = Path(tempfile.gettempdir()) / "dp_bench_60s_720p.mp4"
        if not synthetic.exists():
            make_clip(
                synthetic, ClipSpec(duration_s=60, fps=30, width=1280, height=720, texture=True)
            )
        # real footage at length: the sample's packets repeated to 127 s (no re-encode)
        looped = loop_remux(
            samples["bigbuckbunny"], Path(tempfile.gettempdir()) / "dp_bench_bbb_127s.mp4", 127
        )
        files = [samples["bigbuckbunny"], looped, synthetic]
    main(files)
