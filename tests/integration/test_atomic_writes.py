"""A writer killed with SIGKILL mid-write leaves nothing that loads as valid."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from dp_core.artifact import Artifact, decode_artifact, encode_artifact
from dp_resources.storage.backends import LocalStorage
from tests.fixtures.artifacts import artifact_meta

pytestmark = pytest.mark.integration

WRITER = """
import sys
from pathlib import Path
from dp_resources.storage.backends import LocalStorage
from tests.fixtures.artifacts import artifact_meta
LocalStorage(sys.argv[1]).put_file(sys.argv[2], Path(sys.argv[3]))
"""


def artifact(value: float) -> bytes:
    meta = artifact_meta(component="segmenter")
    # ~24 MB of noise: bigger than one copy block (8 MiB), so a write is caught midway
    noise = np.random.default_rng(0).random(3_000_000)
    return encode_artifact(Artifact(meta, {"x": np.concatenate([[value], noise])}))


def test_sigkill_mid_write_keeps_the_old_object_and_leaves_no_new_one(tmp_path):
    storage = LocalStorage(tmp_path / "store")
    key = "result_store/local/v/r/segmenter.npz"
    storage.put_bytes(key, artifact(1.0))
    fifo = tmp_path / "source.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(storage.root), key, str(fifo)])
    new = artifact(2.0)
    with open(fifo, "wb") as source:
        source.write(new[: len(new) // 2])  # half the new object, then the writer waits for more
        source.flush()
        folder = storage.root / "result_store/local/v/r"
        deadline = time.monotonic() + 10
        while not any(p.name.startswith(".tmp-") and p.stat().st_size for p in folder.iterdir()):
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.02)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    # the key still holds the complete old artifact; the partial temp file is named by no key
    assert decode_artifact(storage.get_bytes(key)).arrays["x"][0] == 1.0
    assert list(storage.list("result_store")) == [key]
    # and a key never written before does not appear at all after a killed first write
    fresh = "result_store/local/v/r/manifest.json"
    assert not storage.exists(fresh)
