"""Set-up compiles librosa's numba kernels that `tempo_extractor` runs, so a user's first
`dp process` loads them from the cache instead of compiling them (~12 s)."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_warm_up_caches_the_kernels_the_tempo_step_runs(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "dp_cli.warm_up"], env=env, check=True, timeout=300)
    cached = {path.name.split("-")[0] for path in tmp_path.rglob("*.nbi")}
    # the beat tracker's dynamic programme and onset peak picking (dp_features/audio/tempo.py)
    assert {"beat.__beat_track_dp", "utils.__peak_pick"} <= cached, sorted(cached)
