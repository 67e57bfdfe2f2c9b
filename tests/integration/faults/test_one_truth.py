"""One truth (issue 23): what `dp process` reports and reuses is what the storage it writes
to holds. Storage switched (folder, S3), a byte flipped, an artifact deleted, an error
artifact, the same id from two files, two homes on one PostgreSQL, a lease holder killed.
Real servers: SQLite and PostgreSQL Dagster instances, folder and SeaweedFS storage; every
storage a test leaves must pass `dp verify`'s audit."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetMaterialization, DagsterRunStatus

from dp_assets.components import load_profile
from dp_assets.definitions import Settings
from dp_assets.factory import MARK_FAILED_TAG
from dp_assets.failure_marks import VIDEOS_FAILED_TAG
from dp_assets.leases import FileLeases, PostgresLeases
from dp_assets.partitions import videos_partitions
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.hashing import sha256_file
from dp_core.manifest import Manifest
from dp_resources.storage.audit import audit_storage
from dp_resources.storage.backends import LocalStorage
from tests.fixtures.media import ClipSpec, make_clip

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.fixtures.postgres_server"]

REPO = Path(__file__).resolve().parents[3]
DP = str(Path(sys.executable).parent / "dp")
COMPONENTS = {"segmenter": {}, "cut_detection": {}, "color_dynamics": {}, "tempo_extractor": {}}


def write_profile(folder: Path) -> Path:
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump({"name": "truth", "components": COMPONENTS}))
    return path


def process(instance, tmp_path, clips, storage_base, messages=None):
    """`dp process` in this process; returns (results, storage, manifests)."""
    profile = write_profile(tmp_path)
    results, store = process_videos(
        instance,
        [str(c) for c in clips],
        Settings(storage_base=storage_base, profile=str(profile)),
        load_profile(str(profile)),
        None,
        (messages.append if messages is not None else lambda _: None),
    )
    assert all(r.status == "success" for r in results), [r.message for r in results]
    manifests = [Manifest.model_validate_json(store.get_bytes(r.manifest_key)) for r in results]
    return results, store, manifests


def made_by(manifest: Manifest) -> dict[str, str]:
    """component -> the run whose artifact the manifest names."""
    return {c.name: c.artifact_key.split("/")[3] for c in manifest.components if c.artifact_key}


def assert_storage_true(store) -> None:
    report = audit_storage(store)
    assert report.ok, report.problems
    assert report.manifests and report.artifacts


def test_a_switched_folder_storage_is_filled_again_never_claimed(tmp_path, dagster_instance):
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=1.5, texture=True))
    process(dagster_instance, tmp_path, [clip], str(tmp_path / "first"))
    messages: list[str] = []
    [result], store, [manifest] = process(
        dagster_instance, tmp_path, [clip], str(tmp_path / "second"), messages
    )
    assert result.reused == 0 and set(made_by(manifest).values()) == {result.run_id}
    assert any("segmenter" in m and "missing from" in m for m in messages), messages
    for component in manifest.components:
        if component.artifact_key:
            assert store.exists(component.artifact_key)
    assert_storage_true(store)
    assert_storage_true(LocalStorage(tmp_path / "first"))


def test_a_switched_s3_prefix_is_filled_again_never_claimed(
    tmp_path, dagster_instance, s3_server, monkeypatch
):
    bucket = s3_server.make_bucket("truth")
    monkeypatch.setenv("DP_S3_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("DP_S3_ACCESS_KEY", s3_server.access_key)
    monkeypatch.setenv("DP_S3_SECRET_KEY", s3_server.secret_key)
    clips = [make_clip(tmp_path / f"v{i}.mp4", ClipSpec(duration_s=1.0)) for i in range(3)]
    process(dagster_instance, tmp_path, clips, f"s3://{bucket}/a")
    results, store, manifests = process(dagster_instance, tmp_path, clips, f"s3://{bucket}/b")
    for result, manifest in zip(results, manifests, strict=True):
        assert result.reused == 0 and result.error_code is None
        assert set(made_by(manifest).values()) == {result.run_id}
    assert_storage_true(store)
    again, _, _ = process(dagster_instance, tmp_path, clips, f"s3://{bucket}/b")
    assert [r.reused for r in again] == [len(COMPONENTS)] * 3  # now it is there: reused


def test_a_flipped_byte_heals_on_a_plain_rerun(tmp_path, dagster_instance):
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=1.5, texture=True))
    base = str(tmp_path / "store")
    [first], store, [manifest] = process(dagster_instance, tmp_path, [clip], base)
    key = manifest.component("cut_detection").artifact_key
    data = bytearray(store.get_bytes(key))
    data[len(data) // 2] ^= 0x01
    (Path(base) / key).write_bytes(bytes(data))
    assert not audit_storage(store).ok  # the audit sees it before anything is re-run

    messages: list[str] = []
    [healed], _, [manifest] = process(dagster_instance, tmp_path, [clip], base, messages)
    runs = made_by(manifest)
    recomputed = {name for name, run in runs.items() if run == healed.run_id}
    assert recomputed == {"cut_detection", "color_dynamics"}  # it and its dependant
    assert runs["segmenter"] == runs["tempo_extractor"] == first.run_id
    assert any(key in m and "sha256" in m for m in messages), messages
    report = audit_storage(store)
    assert report.ok and report.superseded  # the first manifest still names the bad bytes

    # a flipped byte in a frame chunk: the segmenter and everything after it are redone
    segmenter = decode_artifact(store.get_bytes(manifest.component("segmenter").artifact_key))
    chunk = Path(base) / segmenter.meta.model_extra["frames_prefix"] / "analysis" / "00000.npz"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    chunk.write_bytes(bytes(data))
    [again], _, [manifest] = process(dagster_instance, tmp_path, [clip], base)
    assert set(made_by(manifest).values()) == {again.run_id}
    assert audit_storage(store).ok


def test_a_deleted_artifact_is_recomputed_alone(tmp_path, dagster_instance):
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=1.5))
    base = str(tmp_path / "store")
    _, store, [manifest] = process(dagster_instance, tmp_path, [clip], base)
    store.delete(manifest.component("tempo_extractor").artifact_key)
    [again], _, [manifest] = process(dagster_instance, tmp_path, [clip], base)
    runs = made_by(manifest)
    assert {n for n, r in runs.items() if r == again.run_id} == {"tempo_extractor"}
    assert_storage_true(store)


def test_an_error_artifact_is_never_reused(tmp_path, dagster_instance):
    """The latest materialization says `status: error` (its bytes intact): the next plain
    run computes that component again."""
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=1.0))
    base = str(tmp_path / "store")
    [first], store, [manifest] = process(dagster_instance, tmp_path, [clip], base)
    record = manifest.component("tempo_extractor")
    dagster_instance.report_runless_asset_event(
        AssetMaterialization(
            "tempo_extractor",
            partition=first.partition_key,
            metadata={
                **(
                    dagster_instance.fetch_materializations(AssetKey("tempo_extractor"), limit=1)
                    .records[0]
                    .asset_materialization.metadata
                ),
                "status": "error",
                "error_code": "INTERNAL",
            },
        )
    )
    assert store.exists(record.artifact_key)
    [again], _, [manifest] = process(dagster_instance, tmp_path, [clip], base)
    assert made_by(manifest)["tempo_extractor"] == again.run_id
    assert again.reused == len(COMPONENTS) - 1


def dp(home: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DP_"))}
    environment.update({"DAGSTER_HOME": str(home), **(env or {})})
    return subprocess.Popen(
        [DP, *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(proc: subprocess.Popen) -> tuple[dict, str]:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    return json.loads(out), err


@pytest.mark.parametrize("gap_s", [0.0, 0.8, 2.0])
def test_the_same_id_from_two_files_is_never_mixed(tmp_path, gap_s):
    """Same file name (so the same video id) in two folders, two `dp process` on one home
    started `gap_s` apart: each run's manifest and segmenter describe its own file."""
    home, base = tmp_path / "home", tmp_path / "store"
    home.mkdir()
    shutil_copy_embedded(home)
    files = [
        make_clip(tmp_path / "a" / "clip.mp4", ClipSpec(duration_s=2.0, tone_hz=440.0)),
        make_clip(tmp_path / "b" / "clip.mp4", ClipSpec(duration_s=3.0, texture=True)),
    ]
    profile = write_profile(tmp_path)
    procs = []
    for path in files:
        procs.append(
            dp(
                home,
                tmp_path,
                "process",
                str(path),
                "--storage",
                str(base),
                "--profile",
                str(profile),
                "--json",
            )
        )
        time.sleep(gap_s)
    store = LocalStorage(base)
    for path, proc in zip(files, procs, strict=True):
        document, _ = finished(proc)
        [video] = document["videos"]
        assert video["status"] == "success"
        manifest = Manifest.model_validate_json(store.get_bytes(video["manifest_key"]))
        assert manifest.video.source_digest == f"sha256:{sha256_file(path)}"
        segmenter = decode_artifact(store.get_bytes(manifest.component("segmenter").artifact_key))
        assert segmenter.meta.model_extra["source_sha256"] == sha256_file(path)
        expected = 2.0 if path.parent.name == "a" else 3.0
        assert abs(float(segmenter.arrays["duration_s"]) - expected) < 0.1
    assert_storage_true(store)


def shutil_copy_embedded(home: Path) -> None:
    from dp_cli.home import EMBEDDED_DAGSTER_YAML

    (home / "dagster.yaml").write_bytes(EMBEDDED_DAGSTER_YAML.read_bytes())


@pytest.fixture
def pg_env(postgres_server):
    return postgres_server.create_database("truth").env()


def pg_home(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "dagster.yaml").write_bytes((REPO / "deploy" / "dagster.prod.yaml").read_bytes())
    return folder


def test_two_homes_on_one_postgres_and_one_storage_write_a_video_once(tmp_path, pg_env):
    homes = [pg_home(tmp_path / "home1"), pg_home(tmp_path / "home2")]
    init_schema(homes[0], pg_env)  # a database is initialised once, by its operator
    base = tmp_path / "store"
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=2.0, texture=True))
    profile = write_profile(tmp_path)
    args = ("process", str(clip), "--storage", str(base), "--profile", str(profile), "--json")
    procs = [dp(home, tmp_path, *args, env=pg_env) for home in homes]
    outcomes = [finished(proc) for proc in procs]
    store = LocalStorage(base)
    runs = set()
    for document, _ in outcomes:
        [video] = document["videos"]
        assert video["status"] == "success"
        manifest = Manifest.model_validate_json(store.get_bytes(video["manifest_key"]))
        runs |= set(made_by(manifest).values())
    assert len(runs) == 1  # one wrote, the other waited for the lease and reused it
    assert any("is being written by" in err for _, err in outcomes) or any(
        document["videos"][0]["reused"] == len(COMPONENTS) for document, _ in outcomes
    )
    assert_storage_true(store)


def init_schema(home: Path, env: dict) -> None:
    environment = {**os.environ, **env, "DAGSTER_HOME": str(home)}
    script = "from dagster import DagsterInstance; DagsterInstance.get().get_runs(limit=1)"
    subprocess.run([sys.executable, "-c", script], env=environment, check=True, timeout=120)


HOLD = """
import sys, time
from dp_assets.leases import FileLeases, PostgresLeases
from dp_assets.partitions import videos_partitions
kind, where = sys.argv[1], sys.argv[2]
lease = (PostgresLeases if kind == "pg" else FileLeases)(
    where if kind == "pg" else __import__("pathlib").Path(where), ["local__v"], "doomed holder"
)
lease.acquire(print)
print("held", flush=True)
time.sleep(600)
"""


def pg_url(env: dict) -> str:
    return (
        f"postgresql://{env['DAGSTER_PG_USER']}@{env['DAGSTER_PG_HOST']}:"
        f"{env['DAGSTER_PG_PORT']}/{env['DAGSTER_PG_DB']}"
    )


@pytest.mark.parametrize("kind", ["pg", "folder"])
def test_a_lease_holder_killed_with_sigkill_frees_the_video(tmp_path, pg_env, kind):
    where = pg_url(pg_env) if kind == "pg" else str(tmp_path / "leases")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, kind, where],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert holder.stdout.readline().strip() == "held"
    waiter = (
        PostgresLeases(where, ["local__v"], "next writer")
        if kind == "pg"
        else FileLeases(Path(where), ["local__v"], "next writer")
    )
    heard: list[str] = []
    thread = threading.Thread(target=waiter.acquire, args=(heard.append,), daemon=True)
    thread.start()
    thread.join(1.5)
    assert thread.is_alive() and "doomed holder" in heard[0]  # waits, naming the holder
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    thread.join(10)
    assert not thread.is_alive()  # the lease went with its holder
    waiter.release()
    if kind == "pg":  # advisory locks leave nothing behind
        import psycopg2

        with psycopg2.connect(where) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND d.datname = %s",
                (pg_env["DAGSTER_PG_DB"],),
            )
            assert cursor.fetchone()[0] == 0
    else:  # a fixed set of lock files, not one per video
        many = FileLeases(Path(where), [f"local__v{i}" for i in range(300)], "many")
        many.acquire(lambda _: None)
        many.release()
        assert len(list(Path(where).iterdir())) <= 301


def test_verify_cli_fails_on_a_flipped_byte(tmp_path, dagster_instance):
    clip = make_clip(tmp_path / "v.mp4", ClipSpec(duration_s=1.0))
    base = tmp_path / "store"
    _, _, [manifest] = process(dagster_instance, tmp_path, [clip], str(base))
    verify = [DP, "verify", str(base), "--json"]
    done = subprocess.run(verify, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["ok"], done.stdout + done.stderr
    key = manifest.component("segmenter").artifact_key
    data = bytearray((base / key).read_bytes())
    data[-10] ^= 0x40
    (base / key).write_bytes(bytes(data))
    done = subprocess.run(verify, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert any(key in p for p in json.loads(done.stdout)["problems"])


@pytest.mark.allow_error_logs  # the follow-up run's steps fail on purpose
def test_a_video_failed_inside_a_batch_shows_failed_in_dagster(tmp_path, dagster_instance):
    media = tmp_path / "in"
    make_clip(media / "a.mp4", ClipSpec(duration_s=1.0))
    (media / "b.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x13" * 4000)
    make_clip(media / "c.mp4", ClipSpec(duration_s=1.0))
    profile = write_profile(tmp_path)
    settings = Settings(storage_base=str(tmp_path / "store"), profile=str(profile))

    def run():
        before = {r.run_id for r in dagster_instance.get_runs()}
        results, _ = process_videos(
            dagster_instance, [str(media)], settings, load_profile(str(profile)), None, print
        )
        runs = [r for r in dagster_instance.get_runs() if r.run_id not in before]
        statuses = {
            name: dagster_instance.get_status_by_partition(
                AssetKey(name), [r.partition_key for r in results], videos_partitions
            )
            for name in COMPONENTS
        }
        return results, runs, statuses

    results, runs, statuses = run()
    assert [r.status for r in results] == ["success", "error", "success"]
    batch = next(r for r in runs if MARK_FAILED_TAG not in r.tags)
    [follow_up] = [r for r in runs if MARK_FAILED_TAG in r.tags]
    assert batch.status == DagsterRunStatus.SUCCESS and batch.tags[VIDEOS_FAILED_TAG] == "1 of 3"
    assert follow_up.status == DagsterRunStatus.FAILURE
    assert follow_up.tags[MARK_FAILED_TAG] == batch.run_id
    for name in COMPONENTS:  # the segmenter failed; its dependants could not run
        assert {k: s.value for k, s in statuses[name].items()} == {
            "local__a": "MATERIALIZED",
            "local__b": "FAILED",
            "local__c": "MATERIALIZED",
        }, name

    make_clip(media / "b.mp4", ClipSpec(duration_s=1.0))  # fixed: the next run heals it
    results, runs, statuses = run()
    assert [r.status for r in results] == ["success"] * 3
    assert [r.tags.get(VIDEOS_FAILED_TAG) for r in runs] == [None]
    assert all(s.value == "MATERIALIZED" for by in statuses.values() for s in by.values())
