"""The whole graph: Dagster (`dp process`) against a plain-Python loop over the same
component step bodies, measured in the same run.

    .venv/bin/python benchmarks/pipeline.py [--long-seconds 127] [--clips 32]
        [--registered 100000] [--profile cpu_baseline] [--cases long,batch,one,registered]

Cases (real footage: the Big Buck Bunny sample, 1280x720 25 fps + AAC 5.1, stream-copied):
- `long`: the sample looped to `--long-seconds` (one video);
- `batch`: `--clips` copies of the 5.3 s sample in one run;
- `one`: one 5.3 s clip;
- `registered`: one clip in an instance that already holds `--registered` partitions.

Per case: wall, the sum of component compute (each artifact's `duration_ms`; steps and videos
run concurrently, so the sum can exceed the wall), CPU use (process + children CPU seconds /
wall / cores), x real time, how often the partition list was read, the plain-Python loop's
wall for the same videos (the same step bodies one after the other, no Dagster), the
orchestration share (1 - plain / wall: the part of the wall the plain loop does not need;
0 when concurrency makes Dagster faster than the loop) and the process's peak RSS so far.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dagster import DagsterInstance  # noqa: E402

from dp_assets.components import catalog, load_profile  # noqa: E402
from dp_assets.definitions import Settings  # noqa: E402
from dp_assets.partitions import VIDEOS  # noqa: E402
from dp_assets.step_api import Batched, StepContext, VideoInput  # noqa: E402
from dp_assets.uploads import prepare_upload  # noqa: E402
from dp_cli.home import EMBEDDED_DAGSTER_YAML  # noqa: E402
from dp_cli.process import process_videos  # noqa: E402
from dp_cli.samples import fetch_samples  # noqa: E402
from dp_core.artifact import Artifact, ArtifactMeta, seal  # noqa: E402
from dp_core.storage_keys import artifact_key  # noqa: E402
from dp_core.version import dataprocessor_version  # noqa: E402
from dp_resources.models.batching import CrossVideoBatcher  # noqa: E402
from dp_resources.models.resource import ModelResource  # noqa: E402
from dp_resources.storage.backends import LocalStorage  # noqa: E402

CORES = os.cpu_count() or 1


def loop_remux(source: Path, target: Path, seconds: float) -> Path:
    """`source` repeated (packets copied, timestamps shifted) until `seconds` long."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as probe:
        length = probe.duration / 1e6
    with av.open(str(target), "w") as out:
        with av.open(str(source)) as first:
            streams = {s.index: out.add_stream_from_template(s) for s in first.streams}
        offset = 0.0
        while offset < seconds:
            with av.open(str(source)) as src:
                for packet in src.demux():
                    if packet.dts is None:
                        continue
                    shift = round(offset / packet.time_base)
                    packet.pts += shift
                    packet.dts += shift
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)
            offset += length
    return target


def cpu_seconds() -> float:
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class PartitionReads:
    """Counts reads of the whole partition list (DagsterInstance.get_dynamic_partitions)."""

    def __enter__(self):
        self.count, self.original = 0, DagsterInstance.get_dynamic_partitions

        def counting(instance, *args, **kwargs):
            self.count += 1
            return self.original(instance, *args, **kwargs)

        DagsterInstance.get_dynamic_partitions = counting
        return self

    def __exit__(self, *exc):
        DagsterInstance.get_dynamic_partitions = self.original


def dagster_case(videos: list[str], profile_name: str, work: Path, registered: int) -> dict:
    home = work / f"home-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    shutil.copy(EMBEDDED_DAGSTER_YAML, home / "dagster.yaml")
    instance = DagsterInstance.from_config(str(home))
    if registered:
        instance.add_dynamic_partitions(
            VIDEOS, [f"local__filler{i:07d}" for i in range(registered)]
        )
    settings = Settings.of(str(work / f"storage-{home.name}"), profile_name)
    profile = load_profile(profile_name)
    with PartitionReads() as reads:
        cpu, started = cpu_seconds(), time.perf_counter()
        results, storage = process_videos(
            instance, videos, settings, profile, len(videos), lambda _: None
        )  # every video in one run
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    failed = [r.message for r in results if r.status != "success"]
    if failed:
        raise SystemExit(f"dp process failed: {failed}")
    compute = 0.0
    for r in results:
        from dp_core.manifest import Manifest

        manifest = Manifest.model_validate_json(storage.get_bytes(r.manifest_key))
        compute += sum((c.duration_ms or 0.0) for c in manifest.components) / 1000.0
    instance.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall": wall,
        "compute": compute,
        "cpu": cpu,
        "partition_reads": reads.count,
        "peak_mb": peak_mb,
    }


def plain_python(videos: list[str], profile_name: str, work: Path) -> float:
    """The same step bodies in a loop, artifacts encoded and written, no Dagster."""
    profile = load_profile(profile_name)
    storage = LocalStorage(str(work / f"plain-{uuid.uuid4().hex[:6]}"))
    specs = catalog()
    uploads = {r.partition_key: r for r in map(prepare_upload, map(Path, videos))}
    made: dict[str, dict[str, Artifact]] = {key: {} for key in uploads}
    run_id = str(uuid.uuid4())
    started = time.perf_counter()
    for name in profile.component_order():
        spec = specs[name]
        step = StepContext(spec, profile, run_id, storage, ModelResource(), logging.getLogger(name))
        body = spec.step(step)
        inputs = {
            key: VideoInput(
                key,
                upload,
                {i: made[key][i] for i in spec.inputs},
                storage,
                {i: made[key][i] for i in spec.optional_inputs if i in made[key]},
            )
            for key, upload in uploads.items()
        }
        if isinstance(body, Batched):
            jobs = {key: body.prepare(video) for key, video in inputs.items()}
            batcher = CrossVideoBatcher(body.infer, step.settings.batch_size)
            frames = {k: job.chunks for k, job in jobs.items() if hasattr(job, "chunks")}
            outputs = {k: jobs[k].finish(result) for k, result in batcher.run(frames).items()}
            outputs.update({k: job for k, job in jobs.items() if k not in frames})
        else:
            outputs = {key: body(video) for key, video in inputs.items()}
        for key, output in outputs.items():
            upload = uploads[key]
            meta = ArtifactMeta(
                component=name,
                component_version=spec.version,
                dataprocessor_version=dataprocessor_version(),
                run_id=run_id,
                platform=upload.platform,
                video_id=upload.video_id,
                status=output.status,
                config_hash=profile.config_hash,
                models_used=output.models_used,
                **output.meta,
            )
            artifact = seal(
                Artifact(meta=meta, arrays=output.arrays), artifact_key(key, run_id, name)
            )
            storage.put_bytes(artifact.ref.key, artifact.encoded)
            made[key][name] = artifact
    return time.perf_counter() - started


def copies(source: Path, folder: Path, count: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"clip{i:03d}{source.suffix}"
        if not path.exists():
            shutil.copy(source, path)
        paths.append(str(path))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--long-seconds", type=float, default=127.0)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--registered", type=int, default=100_000)
    parser.add_argument("--profile", default="cpu_baseline")
    parser.add_argument("--cases", default="long,batch,one,registered")
    args = parser.parse_args()
    sample = {p.stem: p for p in fetch_samples(REPO / "samples")}["bigbuckbunny"]
    work = Path(tempfile.mkdtemp(prefix="dp-pipeline-"))
    try:
        with av.open(str(sample)) as probe:
            clip_s = probe.duration / 1e6
        long_clip = loop_remux(sample, work / "long" / "bbb_long.mp4", args.long_seconds)
        with av.open(str(long_clip)) as probe:
            long_s = probe.duration / 1e6
        cases = {
            "long": ([str(long_clip)], long_s, 0),
            "batch": (copies(sample, work / "batch", args.clips), clip_s * args.clips, 0),
            "one": (copies(sample, work / "one", 1), clip_s, 0),
            "registered": (copies(sample, work / "reg", 1), clip_s, args.registered),
        }
        # warm: imports, model files in the page cache, JIT caches (a fresh process pays once)
        dagster_case(copies(sample, work / "warm", 1), args.profile, work, 0)
        header = (
            f"{'case':<26} {'video s':>8} {'wall s':>7} {'compute s':>9} {'CPU use':>8} "
            f"{'x real':>7} {'list reads':>10} {'plain s':>8} {'dagster/plain':>13} "
            f"{'orch.':>6} {'peak MB':>8}"
        )
        print(f"profile {args.profile}, {CORES} cores")
        print(header)
        for name in args.cases.split(","):
            videos, seconds, registered = cases[name]
            label = f"{name} ({len(videos)} video{'s' if len(videos) > 1 else ''})"
            if registered:
                label = f"{name} ({registered // 1000}k partitions)"
            d = dagster_case(videos, args.profile, work, registered)
            plain = plain_python(videos, args.profile, work)
            share = max(0.0, 1.0 - plain / d["wall"])
            print(
                f"{label:<26} {seconds:>8.1f} {d['wall']:>7.1f} {d['compute']:>9.1f} "
                f"{d['cpu'] / d['wall'] / CORES:>8.0%} {seconds / d['wall']:>6.2f}x "
                f"{d['partition_reads']:>10} {plain:>8.1f} {d['wall'] / plain:>12.2f}x "
                f"{share:>6.0%} {d['peak_mb']:>8.0f}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
