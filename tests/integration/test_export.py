"""`dp export` on a processed clip of three known shots: the shots as PySceneDetect-style
CSV (read back with the csv module and pandas), JSON and a CMX3600 EDL (read back with
pycmx, a CMX3600 parser), and a component's per-frame series as CSV (pandas), each equal
to the run's artifacts."""

import csv
import io
import json

import numpy as np
import pandas as pd
import pycmx
import pytest

from dp_cli.shot_list import CSV_COLUMNS, smpte
from dp_core.artifact import decode_artifact
from tests.fixtures.three_shots import FPS
from tests.integration.test_cli import dp

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def run(three_shot_run):
    """The session's processed three-shot clip, its arrays, frame count and shots CSV."""
    folder, storage = three_shot_run["folder"], three_shot_run["storage"]
    manifest = three_shot_run["manifest"]

    def arrays(name):
        return decode_artifact(storage.get_bytes(manifest.component(name).artifact_key)).arrays

    segmenter = decode_artifact(storage.get_bytes(manifest.component("segmenter").artifact_key))
    frames = segmenter.meta.model_extra["video_metadata"]["decoded_frames"]
    shots = dp(folder, "export", "three_shots.mp4", check_rc=0).stdout  # csv is the default
    return {"folder": folder, "arrays": arrays, "frames": frames, "csv": shots}


def _export(run, *args, check_rc=0):
    return dp(run["folder"], "export", "three_shots.mp4", *args, check_rc=check_rc)


def test_shots_csv_reads_back_with_pyscenedetect_columns_and_the_cuts_frames(run):
    text = run["csv"]
    assert _export(run, "--format", "csv").stdout == text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    cuts = run["arrays"]("cut_detection")["cut_times_s"]
    frame_of_cut = [int(np.floor(t * FPS + 0.5)) for t in cuts]  # 0-based, where shots start
    assert [int(r["Start Frame"]) for r in rows] == [1] + [f + 1 for f in frame_of_cut]
    assert [int(r["End Frame"]) for r in rows] == [*frame_of_cut, run["frames"]]
    assert sum(int(r["Length (frames)"]) for r in rows) == run["frames"]
    table = pd.read_csv(io.StringIO(text))
    assert len(table) == 3 and table["Scene Number"].tolist() == [1, 2, 3]
    # each timecode is its seconds column, and starts are the frames' start times
    for column in ("Start", "End", "Length"):
        seconds = table[f"{column} Time (seconds)" if column != "Length" else "Length (seconds)"]
        code = table[f"{column} Timecode" if column != "Length" else "Length (timecode)"]
        parsed = pd.to_timedelta(code).dt.total_seconds()
        assert np.allclose(parsed, seconds, atol=5e-4), column
    assert np.allclose(table["Start Time (seconds)"], (table["Start Frame"] - 1) / FPS)
    assert np.allclose(table["End Time (seconds)"][:2], cuts, atol=0.5 / FPS)
    assert np.allclose(table["Start Time (seconds)"][1:], [1.5, 3.0], atol=0.1)  # known cuts


def test_shots_json_matches_the_csv(run):
    document = json.loads(_export(run, "--format", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(run["csv"])))
    assert document["fps"] == FPS and document["frame_count"] == run["frames"]
    assert [s["start_frame"] for s in document["shots"]] == [int(r["Start Frame"]) for r in rows]
    assert [s["end_frame"] for s in document["shots"]] == [int(r["End Frame"]) for r in rows]
    assert [s["kind"] for s in document["shots"]] == ["start", "hard", "hard"]
    confidence = run["arrays"]("cut_detection")["cut_confidence"]
    assert [s["confidence"] for s in document["shots"][1:]] == pytest.approx(confidence, abs=1e-4)


def test_the_edl_is_read_by_a_cmx3600_parser_as_one_cut_per_shot(run, tmp_path):
    out = tmp_path / "shots.edl"
    _export(run, "--format", "edl", "--out", str(out))
    with out.open() as f:
        edl = pycmx.parse_cmx3600(f)
    assert edl.title == "local/three_shots" and edl.format == "3600"
    rows = list(csv.DictReader(io.StringIO(run["csv"])))
    events = list(edl.events)
    assert len(events) == 3
    for event, row in zip(events, rows, strict=True):
        [edit] = event.edits
        first, stop = int(row["Start Frame"]) - 1, int(row["End Frame"])
        assert edit.transition.kind == pycmx.Transition.Cut
        assert (edit.source_in, edit.source_out) == (smpte(first, FPS), smpte(stop, FPS))
        assert (edit.record_in, edit.record_out) == (edit.source_in, edit.source_out)
        assert edit.clip_name == "three_shots.mp4" and edit.channels.video
    # the events tile the timeline: each starts where the one before ended
    assert [e.edits[0].record_in for e in events[1:]] == [
        e.edits[0].record_out for e in events[:-1]
    ]


def test_a_components_series_csv_reads_back_as_its_arrays(run):
    table = pd.read_csv(io.StringIO(_export(run, "--component", "loudness_extractor").stdout))
    loudness = run["arrays"]("loudness_extractor")
    assert list(table.columns[:3]) == ["video_frame", "short_term_times_s", "short_term_lufs"]
    assert np.array_equal(table["short_term_times_s"], loudness["short_term_times_s"])
    assert np.allclose(table["short_term_lufs"], loudness["short_term_lufs"], rtol=0, atol=1e-6)
    flow = pd.read_csv(io.StringIO(_export(run, "--component", "core_optical_flow").stdout))
    arrays = run["arrays"]("core_optical_flow")
    assert len(flow) == len(arrays["pair_times_s"])
    assert np.allclose(flow["magnitude_mean_px_s"], arrays["magnitude_mean_px_s"], atol=1e-6)
    hist = flow[[f"direction_hist_{j}" for j in range(arrays["direction_hist"].shape[1])]]
    assert np.allclose(hist.to_numpy(), arrays["direction_hist"], atol=1e-6)
    assert (flow["video_frame"] == np.floor(flow["pair_times_s"] * FPS + 0.5) + 1).all()


def test_export_names_what_is_missing(run):
    done = _export(run, "--component", "core_clip", check_rc=1)
    assert "core_clip has no result in this run: skipped" in done.stderr
    done = _export(run, "--component", "no_such_thing", check_rc=1)
    assert "no component 'no_such_thing'" in done.stderr
    done = _export(run, "--component", "tempo_extractor", "--times", "nope", check_rc=1)
    assert "beat_times_s" in done.stderr and "onset_times_s" in done.stderr
