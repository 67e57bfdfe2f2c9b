"""What checking reuse against the storage costs, per object and extrapolated to 100k.

    .venv/bin/python benchmarks/verify_cost.py [--objects 2000] [--size 20000]

Writes N objects of `size` bytes, 20 per video folder, (a typical artifact is 5-17 KB; a frame chunk ~1 MB) to a
folder storage and to a real SeaweedFS S3 server on loopback, then times
`ObjectVerifier.problem` per object: cold (HEAD + GET + sha256, what a first check costs),
warm (HEAD + a lookup in the verified-objects cache, what every later reuse check costs),
listed (one listing per video folder, then the cache: what `reusable` does), and the
baseline of a bare HEAD per object in the same run. Prints per-object times, the ratio of warm
to a bare HEAD, and the time for 100k artifacts on one thread.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dp_core.hashing import sha256_bytes  # noqa: E402
from dp_resources.storage.backends import LocalStorage, Storage  # noqa: E402
from dp_resources.storage.s3 import S3Storage  # noqa: E402
from dp_resources.storage.verified_objects import ObjectVerifier, VerifiedCache  # noqa: E402

PER_VIDEO = 20  # artifacts + stream files one video's reuse check looks at


def measure(storage: Storage, cache_path: Path, count: int, size: int) -> dict[str, float]:
    """Seconds per object for each way of checking (see the module's docstring)."""
    keys = {}
    for i in range(count):
        data = os.urandom(size)
        key = f"result_store/local/v{i // PER_VIDEO:06d}/run/c{i % PER_VIDEO:02d}.npz"
        storage.put_bytes(key, data)
        keys[key] = sha256_bytes(data)
    started = time.perf_counter()
    for key in keys:
        storage.head(key)
    timings = {"head": (time.perf_counter() - started) / count}
    verifier = ObjectVerifier(storage, VerifiedCache(cache_path))
    for label in ("cold", "warm"):
        started = time.perf_counter()
        for key, digest in keys.items():
            assert verifier.problem(key, digest) is None
        timings[label] = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for video in sorted({key.rsplit("/", 2)[0] for key in keys}):
        verifier.forget_listings()
        verifier.prefetch(video)  # what a reuse check does per video
        for key in (k for k in keys if k.startswith(video + "/")):
            assert verifier.problem(key, keys[key]) is None
    timings["listed"] = (time.perf_counter() - started) / count
    return timings


def s3_storage(root: Path):
    from tests.fixtures.s3_server import _start, _wait_ready, _weed_binary

    root.mkdir(parents=True, exist_ok=True)
    weed = _start(_weed_binary(), root, 0)
    problem = _wait_ready(weed)
    assert problem is None, problem
    server = weed.server
    bucket = server.make_bucket("bench")
    storage = S3Storage.from_url(
        f"s3://{bucket}/v", server.endpoint_url, server.access_key, server.secret_key
    )
    return storage, weed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dp-verify-cost-"))
    weed = None
    try:
        results = {
            "folder": measure(
                LocalStorage(work / "store"), work / "c1.sqlite", args.objects, args.size
            )
        }
        storage, weed = s3_storage(work / "s3")
        results["s3 (SeaweedFS, loopback)"] = measure(
            storage, work / "c2.sqlite", args.objects, args.size
        )
        print(f"{args.objects} objects of {args.size} B, one thread")
        print(f"per object (ms), and for 100k artifacts (s); {PER_VIDEO} objects per video")
        header = ("storage", "HEAD", "cold", "warm", "listed", "listed/HEAD", "100k cold",
                  "100k warm", "100k listed")  # fmt: skip
        print(f"{header[0]:<26}" + "".join(f"{h:>12}" for h in header[1:]))
        for name, t in results.items():
            row = [t["head"] * 1e3, t["cold"] * 1e3, t["warm"] * 1e3, t["listed"] * 1e3]
            row += [t["listed"] / t["head"], t["cold"] * 1e5, t["warm"] * 1e5, t["listed"] * 1e5]
            print(f"{name:<26}" + "".join(f"{v:>12.3f}" for v in row))
    finally:
        if weed is not None:
            weed.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
