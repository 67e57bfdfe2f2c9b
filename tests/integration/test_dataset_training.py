"""Dataset and training end to end on the shipped SYNTHETIC sample: the default `dp dataset
build && dp train` path (priors at T included), the report's task, baselines, ranges, bias
and MAPE; a real run's artifacts in the feature table; stand-in, profile, duplicate and
row-count rules on real tables; a single crawl; named jobs, lineage edges, the schedule's
DP_SNAPSHOTS; determinism; the HTML report in headless Chromium."""

import io
import json
import math
import subprocess
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    RunRequest,
    SkipReason,
    build_schedule_context,
    materialize,
)
from PIL import Image

from dp_assets.components import load_profile
from dp_assets.dataset import (
    DATASET_ASSETS,
    DATASET_JOBS,
    build_feature_table,
    dataset_rebuild_schedule,
    feature_table,
)
from dp_assets.definitions import Settings, build_definitions
from dp_cli.home import EMBEDDED_DAGSTER_YAML
from dp_cli.main import main
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.errors import DpError
from dp_core.identity import video_key
from dp_core.manifest import Manifest
from dp_features.dataset.assemble import (
    DatasetOptions,
    assemble_dataset,
    bytes_hash,
    check_split,
    parquet_bytes,
)
from dp_features.dataset.targets import Task, read_snapshots, target_rows
from dp_resources.storage.backends import LocalStorage
from dp_resources.storage.resource import StorageResource
from tests.fixtures.media import ClipSpec, make_clip
from tests.fixtures.popularity_synth import snapshot_frame, synthetic_videos, write_run

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
TASK = Task.from_hours(168, 24, 48)  # the profile's defaults
PLANTED_CONTENT = {
    "cut_detection_cuts_per_minute",
    "cut_detection_cut_count",
    "cut_detection_shot_length_median_s",
    "speech_activity_speech_ratio",
    "loudness_extractor_integrated_lufs",
    "loudness_extractor_short_term_p10_lufs",
    "loudness_extractor_short_term_p90_lufs",
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The shipped synthetic sample (`dp dataset sample`), built and trained through the
    default `dp dataset build` and `dp train`: no option but where the files are."""
    root = tmp_path_factory.mktemp("planted")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_bytes(EMBEDDED_DAGSTER_YAML.read_bytes())
    runner = CliRunner()
    env = {"DAGSTER_HOME": str(home), "DP_SNAPSHOTS": str(root / "sample" / "snapshots.csv")}
    common = ["--storage", str(root / "sample" / "store"), "--json"]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        sample = runner.invoke(main, ["dataset", "sample", "--dir", str(root / "sample")])
        assert sample.exit_code == 0, sample.output
        built = runner.invoke(main, ["dataset", "build", *common], env=env)
        assert built.exit_code == 0, built.output
        trained = runner.invoke(main, ["train", "--out", str(root / "out"), *common], env=env)
        assert trained.exit_code == 0, trained.output
        with DagsterInstance.get() as instance:
            jobs = sorted({run.job_name for run in instance.get_runs()})
    store = LocalStorage(root / "sample" / "store")
    report_key = json.loads(trained.stdout)["assets"]["model_report"]["report_json"]
    return {
        "root": root,
        "home": home,
        "env": env,
        "store": store,
        "snapshots": root / "sample" / "snapshots.csv",
        "sample_output": sample.output,
        "build": json.loads(built.stdout),
        "train": json.loads(trained.stdout),
        "report": json.loads(store.get_bytes(report_key)),
        "jobs": jobs,
    }


def test_feature_table_matches_a_real_runs_artifacts(tmp_path, dagster_instance):
    media = tmp_path / "in"
    make_clip(media / "loud.mp4", ClipSpec(duration_s=1.0, tone_amplitude=0.5))
    make_clip(media / "quiet.mp4", ClipSpec(duration_s=1.0, tone_amplitude=0.05, tone_hz=220))
    results, storage = process_videos(
        dagster_instance,
        [str(media)],
        Settings(storage_base=str(tmp_path / "store")),
        load_profile("cpu_baseline"),
        None,
        lambda line: None,
    )
    assert all(r.status == "success" for r in results)
    result = materialize(
        [feature_table],
        instance=dagster_instance,
        resources={"storage": StorageResource(base=str(tmp_path / "store"))},
    )
    key = result.asset_materializations_for_node("feature_table")[0].metadata["storage_key"].value
    table = pd.read_parquet(io.BytesIO(storage.get_bytes(key))).set_index("video_id")
    assert sorted(table.index) == ["loud", "quiet"]
    for video in results:
        row = table.loc[video.video_id]
        manifest = Manifest.model_validate_json(storage.get_bytes(video.manifest_key))
        assert (
            row["run_id"] == manifest.run.run_id and row["config_hash"] == manifest.run.config_hash
        )

        def arrays(component, manifest=manifest):
            return decode_artifact(
                storage.get_bytes(manifest.component(component).artifact_key)
            ).arrays

        loudness = arrays("loudness_extractor")
        assert row["loudness_extractor_integrated_lufs"] == pytest.approx(
            float(loudness["integrated_lufs"])
        )
        assert row["loudness_extractor_true_peak_dbtp"] == pytest.approx(
            float(loudness["true_peak_dbtp"])
        )
        assert row["cut_detection_cut_count"] == len(arrays("cut_detection")["cut_times_s"])
        assert row["segmenter_duration_s"] == pytest.approx(
            float(arrays("segmenter")["duration_s"])
        )
        assert row["tempo_extractor_tempo_bpm"] == pytest.approx(
            float(arrays("tempo_extractor")["tempo_bpm"]), nan_ok=True
        )
        # not in the profile: NaN + the missing indicator, never a crash
        assert row["core_clip_missing"] == 1 and math.isnan(
            row["core_clip_frame_to_frame_similarity_mean"]
        )
        signatures = json.loads(row["artifact_signatures"])
        assert signatures["audio_events"]["model_signature"] == (
            manifest.component("audio_events").model_signature
        )
    # 0.5 vs 0.05 amplitude: 20 dB apart
    loud, quiet = (table.loc[v, "loudness_extractor_integrated_lufs"] for v in ("loud", "quiet"))
    assert loud - quiet == pytest.approx(20.0, abs=1.0)


def test_the_latest_finished_run_of_a_video_is_used(tmp_path):
    store = LocalStorage(tmp_path)
    video = synthetic_videos(count=3, channels=1)[0]
    write_run(store, video, "run-old", datetime(2025, 1, 1, tzinfo=UTC))
    video.integrated_lufs = -30.0
    write_run(store, video, "run-new", datetime(2025, 2, 1, tzinfo=UTC))
    table = build_feature_table(store)
    assert list(table["run_id"]) == ["run-new"]
    assert table.loc[0, "loudness_extractor_integrated_lufs"] == -30.0


def test_the_sample_is_labelled_synthetic_and_documents_its_columns(planted):
    sample = planted["root"] / "sample"
    assert "SYNTHETIC" in (sample / "SYNTHETIC.txt").read_text()
    head = planted["snapshots"].read_text().splitlines()[0].split(",")
    assert head[:4] == ["video_id", "channel_id", "published_at", "snapshot_time"]
    assert {"views", "likes"} <= set(head)
    assert "dp dataset build" in planted["sample_output"]


def test_the_default_build_and_train_report_the_task_baselines_ranges_bias_and_mape(planted):
    built = planted["build"]["assets"]["training_dataset"]
    assert built["horizon_hours"] == 168 and built["prediction_hours"] == 24
    assert built["train_rows"] >= 50 and built["test_rows"] >= 20 and built["validation_rows"] > 0
    # priors at T are in the default path, and are the strongest single feature
    description = json.loads(
        planted["store"].get_bytes(built["storage_key"].rsplit("/", 1)[0] + "/dataset.json")
    )
    assert "prior_views_log1p" in description["feature_columns"]
    assert (
        "core_clip_frame_to_frame_similarity_mean" in description["dropped_columns"]["all_missing"]
    )
    assert "segmenter_missing" in description["dropped_columns"]["constant"]
    report = planted["report"]
    assert report["task"]["horizon_hours"] == 168 and report["task"]["prediction_hours"] == 24
    for target in ("views", "likes"):
        series = report["metrics"][target]
        assert set(series) == {
            "model",
            "persistence",
            "global_mean",
            "metadata_only",
            "content_only",
        }
        for name, values in series.items():
            assert {"spearman", "mae_log", "r2", "mape_log", "bias_log", "bias_ratio"} <= set(
                values
            )
            low, high = report["ranges"][target][name]["mae_log"]
            assert low <= values["mae_log"] <= high, (target, name)
        # the planted signal is found: far better than the mean and than content alone
        assert series["model"]["spearman"] > 0.85, series
        assert report["differences"][target]["global_mean"]["mae_log"][1] < 0
        assert series["model"]["mae_log"] < series["content_only"]["mae_log"]
        # boosted from the persistence line, the model is at least not worse than it
        assert series["model"]["mae_log"] < series["persistence"]["mae_log"]
        top = {name for name, _ in report["feature_importance"][target][:12]}
        assert len(PLANTED_CONTENT & top) >= 2, top
    # the verdict names every baseline, for each target, plainly
    assert len(report["verdict"]) == 8
    assert any(
        line.startswith("views: the model") and "persistence" in line for line in report["verdict"]
    )
    # hidden likes (every 53rd synthetic video) stay missing: fewer likes rows than views
    assert report["test_rows"]["likes"] <= report["test_rows"]["views"]
    page = (
        planted["root"]
        / "sample"
        / "store"
        / planted["train"]["assets"]["model_report"]["storage_key"]
    ).read_text()
    for text in (
        "H = 168 h",
        "T = 24 h",
        "MAPE (SMP-Video)",
        "bias (log)",
        "persistence",
        "Verdict",
    ):
        assert text in page
    assert "{'" not in page  # facts as text, never a Python dict repr


def test_runs_are_named_jobs_and_the_cli_prints_tables(planted):
    assert planted["jobs"] == ["build_dataset", "train_popularity_model"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(planted["home"]))
        shown = CliRunner().invoke(
            main, ["train", "--storage", str(planted["root"] / "sample" / "store")]
        )
    assert shown.exit_code == 0, shown.output
    assert "{'" not in shown.output and "predictor" in shown.output
    assert "persistence" in shown.output and "mape_log" in shown.output


def test_lineage_edges_and_the_schedule_takes_DP_SNAPSHOTS(tmp_path, monkeypatch):
    definitions = build_definitions(Settings(storage_base=str(tmp_path)))
    graph = definitions.resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(AssetKey("feature_table")).parent_keys}
    assert {"segmenter", "cut_detection", "loudness_extractor"} <= parents
    assert {j.name for j in definitions.resolve_all_job_defs()} >= {
        "build_dataset",
        "train_popularity_model",
        "rebuild_dataset",
    }
    monkeypatch.delenv("DP_SNAPSHOTS", raising=False)
    skipped = dataset_rebuild_schedule(build_schedule_context())
    assert isinstance(skipped, SkipReason) and "dp ui --snapshots" in skipped.skip_message
    monkeypatch.setenv("DP_SNAPSHOTS", "/data/snapshots")
    request = dataset_rebuild_schedule(build_schedule_context())
    assert isinstance(request, RunRequest)
    assert request.run_config["ops"]["training_dataset"]["config"]["snapshots_path"] == (
        "/data/snapshots"
    )


@pytest.mark.allow_error_logs
def test_too_few_rows_is_a_refusal_that_names_the_setting(planted):
    with pytest.MonkeyPatch.context() as patch:
        for key, value in planted["env"].items():
            patch.setenv(key, value)
        refused = CliRunner().invoke(
            main,
            [
                "dataset",
                "build",
                "--storage",
                str(planted["root"] / "sample" / "store"),
                "--min-train-rows",
                "1000",
            ],
        )
    assert refused.exit_code == 2
    assert "too few rows" in refused.output and "min_train_rows" in refused.output


@pytest.fixture(scope="module")
def tables(planted):
    """The sample's feature table and targets at the profile's H, read once."""
    return build_feature_table(planted["store"]), target_rows(
        read_snapshots(planted["snapshots"]), TASK
    )


def features_and_targets(tables):
    features, targets = tables
    return features.copy(), targets


def test_building_and_training_twice_give_the_same_bytes(planted, tables):
    features, targets = features_and_targets(tables)
    data = parquet_bytes(assemble_dataset(features, targets, TASK).frame)
    assert bytes_hash(data) == planted["build"]["assets"]["training_dataset"]["dataset_hash"]
    # and through Dagster on a fresh instance: same dataset hash, same model bytes
    with DagsterInstance.ephemeral() as instance:
        result = (
            Definitions(
                assets=DATASET_ASSETS,
                jobs=DATASET_JOBS,
                resources={
                    "storage": StorageResource(base=str(planted["root"] / "sample" / "store"))
                },
            )
            .resolve_job_def("rebuild_dataset")
            .execute_in_process(
                instance=instance,
                run_config={
                    "ops": {
                        "training_dataset": {
                            "config": {"snapshots_path": str(planted["snapshots"])}
                        }
                    }
                },
            )
        )
    metadata = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.metadata.items()}
        for event in result.get_asset_materialization_events()
        for event in [event.event_specific_data.materialization]
    }
    assert metadata["training_dataset"]["dataset_hash"] == bytes_hash(data)
    assert (
        metadata["popularity_model"]["model_sha256"]
        == planted["train"]["assets"]["popularity_model"]["model_sha256"]
    )


def test_the_built_split_passes_every_rule_and_planted_leaks_are_caught(tables):
    features, targets = features_and_targets(tables)
    dataset = assemble_dataset(features, targets, TASK)
    development = dataset.frame[dataset.frame["split"] != "test"].reset_index(drop=True)
    test = dataset.test
    columns, times = list(dataset.feature_columns), dict(dataset.feature_times)
    assert check_split(development, test, columns, times) == []
    gap = test["published_at"].min() - development["published_at"].max()
    assert gap >= TASK.horizon
    assert not set(development["channel_id"]) & set(test["channel_id"])

    late = test.copy()
    late.loc[0, "channel_stats_as_of"] = late.loc[0, "prediction_time"] + pd.Timedelta(hours=1)
    findings = check_split(development, late, columns, times)
    assert {f.check for f in findings} == {"feature_after_prediction_time"}
    assert {f.name for f in findings} == {
        c for c in columns if times.get(c) == "channel_stats_as_of"
    }
    assert all(late.loc[0, "video_key"] in f.message for f in findings)


def test_stand_in_features_are_marked_and_left_out_by_default(tables, tmp_path):
    store = LocalStorage(tmp_path)
    for video in synthetic_videos(count=3, channels=1):
        write_run(
            store, video, "run-x", datetime(2025, 1, 1, tzinfo=UTC), stand_in=("speech_activity",)
        )
    table = build_feature_table(store)
    assert all(json.loads(s)["speech_activity"]["stand_in"] for s in table["artifact_signatures"])
    assert not any(
        json.loads(s)["loudness_extractor"]["stand_in"] for s in table["artifact_signatures"]
    )

    features, targets = features_and_targets(tables)
    signatures = [json.loads(text) for text in features["artifact_signatures"]]
    for signature in signatures:
        signature["speech_activity"]["stand_in"] = True
    marked = features.assign(artifact_signatures=[json.dumps(s) for s in signatures])
    dataset = assemble_dataset(marked, targets, TASK)
    assert "speech_activity_speech_ratio" in dataset.dropped_columns["stand_in"]
    assert not any(c.startswith("speech_activity_") for c in dataset.feature_columns)
    kept = assemble_dataset(marked, targets, TASK, DatasetOptions(include_stand_in=True))
    assert "speech_activity_speech_ratio" in kept.feature_columns


def test_embedding_pca_columns_come_only_from_real_models(tables, tmp_path):
    store = LocalStorage(tmp_path)
    real, stand_in = synthetic_videos(count=2, channels=1)
    when = datetime(2025, 1, 1, tzinfo=UTC)
    frames = np.arange(12, dtype=np.float64).reshape(3, 4)
    write_run(store, real, "run-real", when, clip_embeddings=frames)
    write_run(store, stand_in, "run-fake", when, clip_embeddings=frames, stand_in=("core_clip",))
    pooled_vectors = []
    build_feature_table(store, pooled_vectors)
    assert [(e["video_key"], e["component"]) for e in pooled_vectors] == [
        (video_key("youtube", real.video_id).partition_key, "core_clip")
    ]
    assert pooled_vectors[0]["vector"] == [4.0, 5.0, 6.0, 7.0]  # the frames' mean

    features, targets = features_and_targets(tables)
    rng = np.random.default_rng(8)
    embeddings = pd.DataFrame(
        {
            "video_key": features["video_key"],
            "component": "core_clip",
            "vector": list(rng.normal(size=(len(features), 16))),
        }
    )
    off = assemble_dataset(features, targets, TASK, embeddings=embeddings)
    assert not any("_pca_" in c for c in off.feature_columns)  # off by default
    on = assemble_dataset(
        features, targets, TASK, DatasetOptions(embedding_pca_components=3), embeddings
    )
    assert {"core_clip_pca_1", "core_clip_pca_2", "core_clip_pca_3"} <= set(
        on.feature_groups["content"]
    )
    assert on.frame["core_clip_pca_1"].notna().all()


def test_rows_from_two_profiles_are_refused_with_the_fix(tables):
    features, targets = features_and_targets(tables)
    mixed = features.assign(
        config_hash=["other" if i % 2 else "synthetic" for i in range(len(features))]
    )
    with pytest.raises(DpError) as caught:
        assemble_dataset(mixed, targets, TASK)
    assert (
        "[mixed_profiles]" in caught.value.message
        and "fix: rebuild with one profile" in caught.value.message
    )


def test_a_re_upload_never_spans_the_split(tables):
    features, targets = features_and_targets(tables)
    dataset = assemble_dataset(features, targets, TASK)
    original = dataset.train.loc[0, "video_key"]
    copy = dataset.test.loc[0, "video_key"]
    # the test video becomes a re-upload of a train video: the same content features
    content = [
        c
        for c in features.columns
        if c.startswith(("cut_detection_", "loudness_", "speech_", "segmenter_"))
    ]
    reuploaded = features.copy()
    source = reuploaded.index[reuploaded["video_key"] == original][0]
    target = reuploaded.index[reuploaded["video_key"] == copy][0]
    reuploaded.loc[target, content] = reuploaded.loc[source, content].to_numpy()
    again = assemble_dataset(reuploaded, targets, TASK)
    sides = {
        split: set(again.part(split)["video_key"]) & {original, copy}
        for split in ("train", "validation", "test")
    }
    assert not (sides["test"] and (sides["train"] or sides["validation"])), sides


def test_a_single_crawl_builds(tables, tmp_path):
    features, _ = features_and_targets(tables)
    crawl = datetime(2024, 6, 1, tzinfo=UTC)
    rng = np.random.default_rng(5)
    videos = synthetic_videos()
    frame = snapshot_frame(videos, crawls=1)
    # one crawl date for every video; each channel uploads in its own few hours of the 80 h
    # before it (ages at the crawl: 8..88 h, around H = 48 h)
    hours = [np.clip(86 - 2.6 * int(v.channel_id[4:]) + rng.uniform(-2, 2), 8, 88) for v in videos]
    published = [crawl - timedelta(hours=float(h)) for h in hours]
    frame["published_at"] = [p.isoformat() for p in published]
    frame["snapshot_time"] = crawl.isoformat()
    task = Task.from_hours(48, 6, 40)
    path = tmp_path / "single_crawl.csv"
    frame.to_csv(path, index=False)
    targets = target_rows(read_snapshots(path), task)
    dataset = assemble_dataset(
        features, targets, task, DatasetOptions(min_train_rows=10, min_test_rows=10)
    )
    assert len(dataset.train) > 0 and len(dataset.test) >= 10
    development = dataset.frame[dataset.frame["split"] != "test"]
    assert dataset.test["published_at"].min() - development["published_at"].max() >= task.horizon
    assert (dataset.frame["target_method"] == "nearest").all()


def test_the_report_renders_in_headless_chromium(planted, tmp_path):
    html_key = planted["train"]["assets"]["model_report"]["storage_key"]
    page = planted["root"] / "sample" / "store" / html_key
    text = page.read_text()
    for heading in ("Target: views", "Target: likes", "How to read the metrics", "Spearman"):
        assert heading in text
    shot = planted["root"] / "report.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1280,4000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (4000, 1280)
    assert shot.stat().st_size > 50_000
    colours = np.unique(image.reshape(-1, 3)[::97], axis=0)
    assert len(colours) > 50  # text, tables and plots, not one blank colour
    blue = (image[..., 2] > 150) & (image[..., 0] < 80)  # the bars and headings (#2b6cb0)
    assert blue.mean() > 0.01
