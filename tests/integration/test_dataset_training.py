"""Dataset and training end to end: a real run's artifacts in the feature table; a planted
signal the model must recover (via `dp dataset build` + `dp train`); planted leaks caught;
determinism; the HTML report rendered in headless Chromium."""

import io
import json
import math
import subprocess
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, materialize
from PIL import Image

from dp_assets.components import load_profile
from dp_assets.dataset import DATASET_ASSETS, build_feature_table, feature_table
from dp_assets.definitions import Settings
from dp_cli.home import EMBEDDED_DAGSTER_YAML
from dp_cli.main import main
from dp_cli.process import process_videos
from dp_core.artifact import decode_artifact
from dp_core.errors import DpError
from dp_core.manifest import Manifest
from dp_features.dataset.assemble import assemble_dataset, bytes_hash, check_split, parquet_bytes
from dp_features.dataset.leakage import raise_on_leaks
from dp_features.dataset.targets import read_snapshots, target_rows
from dp_features.dataset.training import train_model
from dp_resources.storage.backends import LocalStorage
from dp_resources.storage.resource import StorageResource
from tests.fixtures.media import ClipSpec, make_clip
from tests.fixtures.popularity_synth import (
    synthetic_videos,
    write_result_store,
    write_run,
    write_snapshots,
)

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """300 synthetic videos with a planted signal, built and trained through the `dp` CLI."""
    root = tmp_path_factory.mktemp("planted")
    videos = synthetic_videos()
    store = LocalStorage(root / "store")
    write_result_store(store, videos)
    snapshots = write_snapshots(root / "snapshots", videos)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_bytes(EMBEDDED_DAGSTER_YAML.read_bytes())
    runner = CliRunner()
    env = {"DAGSTER_HOME": str(home)}
    common = ["--storage", str(root / "store"), "--json"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        built = runner.invoke(
            main,
            ["dataset", "build", "--snapshots", str(snapshots), "--no-prior-snapshots", *common],
            env=env,
        )
        assert built.exit_code == 0, built.output
        trained = runner.invoke(main, ["train", "--out", str(root / "out"), *common], env=env)
        assert trained.exit_code == 0, trained.output
    return {
        "root": root,
        "store": store,
        "videos": videos,
        "snapshots": snapshots,
        "build": json.loads(built.stdout),
        "train": json.loads(trained.stdout),
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


def test_the_model_recovers_the_planted_signal(planted):
    metrics = planted["train"]["assets"]["model_report"]["metrics"]
    for target in ("views", "likes"):
        model = metrics[target]["model"]["spearman"]
        channel = metrics[target]["baseline_channel_mean"]["spearman"]
        age = metrics[target]["baseline_age_only"]["spearman"]
        assert model > 0.75, metrics[target]
        assert model > channel + 0.25 and model > age + 0.25, metrics[target]
        assert metrics[target]["model"]["r2"] > 0.5
        assert metrics[target]["model"]["mae_log"] < metrics[target]["baseline_age_only"]["mae_log"]
    report = json.loads(
        planted["store"].get_bytes(planted["train"]["assets"]["model_report"]["report_json"])
    )
    top = [name for name, _ in report["feature_importance"]["views"][:5]]
    planted_features = {
        "cut_detection_cuts_per_minute",
        "speech_activity_speech_ratio",
        "loudness_extractor_integrated_lufs",
    }
    assert planted_features <= set(top), top
    # the outputs were also copied to --out, and the reproducibility manifest is complete
    files = planted["train"]["files"]
    assert any(f.endswith("report.html") for f in files) and any(
        f.endswith("views.txt") for f in files
    )
    dataset_hash = planted["build"]["assets"]["training_dataset"]["dataset_hash"]
    manifest = json.loads(
        planted["store"].get_bytes(f"datasets/{dataset_hash}/reproducibility.json")
    )
    assert manifest["dataset_hash"] == dataset_hash
    assert {"features", "params", "seeds", "library_versions", "git_sha"} <= manifest.keys()


def built_dataset(planted, **options):
    features = build_feature_table(planted["store"])
    targets = target_rows(read_snapshots(planted["snapshots"]))
    return assemble_dataset(features, targets, use_prior_snapshots=False, **options)


def test_planted_leaks_are_each_caught_and_named(planted):
    dataset = built_dataset(planted)
    train, test = dataset.train, dataset.test
    columns, times = list(dataset.feature_columns), dict(dataset.feature_times)
    assert check_split(train, test, columns, times) == []

    late = test.copy()
    late.loc[0, "channel_stats_as_of"] = late.loc[0, "target_time"] + pd.Timedelta(days=3)
    findings = check_split(train, late, columns, times)
    assert {f.check for f in findings} == {"feature_after_target"}
    # every feature stamped with channel_stats_as_of is named, with the video
    assert {f.name for f in findings} == {
        "channel_subscribers_log1p",
        "channel_views_per_video_log1p",
        "channel_video_count",
    }
    assert all(late.loc[0, "video_key"] in f.message for f in findings)

    same_video = pd.concat([test, train.iloc[[0]]], ignore_index=True)
    names = {(f.check, f.name) for f in check_split(train, same_video, columns, times)}
    assert ("video_on_both_sides", train.loc[0, "video_key"]) in names

    crossing = test.copy()
    crossing.loc[0, "channel_id"] = train.loc[0, "channel_id"]
    [finding] = check_split(train, crossing, columns, times)
    assert finding.check == "channel_on_both_sides" and finding.name == train.loc[0, "channel_id"]

    derived_train = train.assign(engagement=np.log1p(train["views"]) * 2.0)
    derived_test = test.assign(engagement=np.log1p(test["views"]) * 2.0)
    [finding] = check_split(derived_train, derived_test, [*columns, "engagement"], times)
    assert finding.check == "target_derived" and finding.name == "engagement"

    with pytest.raises(DpError) as caught:
        raise_on_leaks(check_split(train, crossing, columns, times))
    assert train.loc[0, "channel_id"] in caught.value.message


def test_building_and_training_twice_give_the_same_bytes(planted):
    first, second = built_dataset(planted), built_dataset(planted)
    data = parquet_bytes(first.frame)
    assert data == parquet_bytes(second.frame)
    assert bytes_hash(data) == planted["build"]["assets"]["training_dataset"]["dataset_hash"]
    columns = first.feature_columns
    assert (
        train_model(first.train, columns, "views").model_text
        == train_model(second.train, columns, "views").model_text
    )
    # and through Dagster on a fresh instance: same dataset hash, same model bytes
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            DATASET_ASSETS,
            instance=instance,
            resources={"storage": StorageResource(base=str(planted["root"] / "store"))},
            run_config={
                "ops": {
                    "training_dataset": {
                        "config": {
                            "snapshots_path": str(planted["snapshots"]),
                            "use_prior_snapshots": False,
                        }
                    }
                }
            },
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


def test_the_report_renders_in_headless_chromium(planted, tmp_path):
    html_key = planted["train"]["assets"]["model_report"]["storage_key"]
    page = planted["root"] / "store" / html_key
    text = page.read_text()
    for heading in ("Target: views", "Target: likes", "How to read the metrics", "Spearman"):
        assert heading in text
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (2000, 1280)
    assert shot.stat().st_size > 50_000
    colours = np.unique(image.reshape(-1, 3)[::97], axis=0)
    assert len(colours) > 50  # text, tables and plots, not one blank colour
    blue = (image[..., 2] > 150) & (image[..., 0] < 80)  # the bars and headings (#2b6cb0)
    assert blue.mean() > 0.01
