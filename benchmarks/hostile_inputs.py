"""How fast each crafted hostile input (tests/integration/test_hostile_inputs.py) is refused,
the peak memory of decoding the 8192x8192 PNG frame bomb with and without the decoder's
pixel limit, and how far below the progress budget (30 s of decoding per media second)
a real textured clip decodes. Figures for docs/SECURITY.md.

    .venv/bin/python -m benchmarks.hostile_inputs
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

from dp_core.errors import DpError
from dp_resources.media import decoder
from dp_resources.media.decoder import DecodePlan, decode_once
from tests.fixtures.media import ClipSpec, make_clip
from tests.integration import test_hostile_inputs as crafted

PLAN = crafted.PLAN


def refusal(path: Path, plan: DecodePlan = PLAN) -> tuple[str, float]:
    started = time.monotonic()
    try:
        decode_once(path, plan, crafted.Sink())
        code = "decoded"
    except DpError as exc:
        code = exc.code.value
    return code, time.monotonic() - started


def bomb_peak_mb(path: Path, pixel_limit_in_decoder: bool) -> dict:
    """Peak RSS (MB) of a fresh process decoding `path` (with or without the codec option)."""
    script = f"""
import json, resource, sys
sys.path.insert(0, {str(Path.cwd())!r})
from dp_resources.media import decoder
from tests.integration import test_hostile_inputs as crafted
if not {pixel_limit_in_decoder}:
    checks = decoder._check_limits
    def without_decoder_option(path, plan, report, video, audio):
        checks(path, plan, report, video, audio)
        if video is not None:
            video.codec_context.options = {{}}
    decoder._check_limits = without_decoder_option
try:
    decoder.decode_once(crafted.Path({str(path)!r}), crafted.PLAN, crafted.Sink())
    outcome = "decoded"
except Exception as exc:
    outcome = getattr(getattr(exc, "code", None), "value", type(exc).__name__)
print(json.dumps({{"outcome": outcome,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="dp-hostile-"))
    rows = []
    fifo = tmp / "fifo.mp4"
    os.mkfifo(fifo)
    rows.append(("FIFO", *refusal(fifo)))
    loop = tmp / "loop.mp4"
    loop.write_text("ffconcat version 1.0\nfile loop.mp4\n")
    rows.append(("self-referencing concat list", *refusal(loop)))
    for make, label in ((crafted.long_video, "video"), (crafted.long_audio, "audio")):
        lying = tmp / f"lying-{label}.mkv"
        make(lying, 20)
        crafted.declare_duration(lying, 1.0)
        plan = DecodePlan(**{**PLAN.__dict__, "max_duration_s": 3.0})
        rows.append((f"{label}: declares 1 s, decodes 20 s (limit 3 s)", *refusal(lying, plan)))
    frozen = tmp / "frozen.mkv"
    frame = crafted.jpeg()
    crafted.mux_packets(frozen, "matroska", "mjpeg", [frame] * 20_000, [0] * 20_000)
    capped = DecodePlan(**{**PLAN.__dict__, "max_duration_s": 10.0})
    rows.append(("20,000 frames at one time, limit 10 s (cap 2401)", *refusal(frozen, capped)))
    stalled = DecodePlan(**{**PLAN.__dict__, "stall_s": 0.05})
    rows.append(("same, 6 h limit, stall_s 0.05", *refusal(frozen, stalled)))
    wav = tmp / "bomb.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(64)
        out.setsampwidth(2)
        out.setframerate(192_000)
        out.writeframes(b"\0" * 64 * 2 * 100)
    rows.append(("64 channels at 192 kHz", *refusal(wav)))
    for label, code, seconds in rows:
        print(f"{label:55s} {code:20s} {seconds * 1000:8.1f} ms")

    bomb = tmp / "bomb.mov"
    sizes = [(16, 16)] * 10 + [(8192, 8192)] + [(16, 16)] * 10
    crafted.mux_packets(
        bomb, "mov", "png", [crafted.png(w, h) for w, h in sizes], list(range(len(sizes)))
    )
    print(f"PNG frame bomb: {bomb.stat().st_size / 1024:.0f} KB file, one 8192x8192 frame")
    for guarded in (True, False):
        result = bomb_peak_mb(bomb, guarded)
        print(f"  decoder max_pixels {'on ' if guarded else 'off'}: {result}")
    baseline = bomb_peak_mb(tmp / "lying-video.mkv", True)
    print(f"  a tiny ordinary file, for scale: {baseline}")

    clip = make_clip(
        tmp / "real.mp4",
        ClipSpec(duration_s=10.0, width=1280, height=720, fps=30.0, texture=True),
    )
    started = time.monotonic()
    decode_once(clip, PLAN, crafted.Sink())
    ratio = (time.monotonic() - started) / 10.0
    print(
        f"1280x720 30 fps textured clip: {ratio:.3f} s of decoding per media second "
        f"({decoder.DecodePlan.wall_s_per_media_s / ratio:.0f}x below the budget)"
    )
    print(
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"
    )


if __name__ == "__main__":
    main()
