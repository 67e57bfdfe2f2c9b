"""`dp process --report` on a clip of three known shots: the HTML report, opened in headless
Chromium, shows each component's status, its picture, its models and links to its artifacts;
`dp process` prints no native library log lines and keeps manifest keys whole."""

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from dagster import DagsterInstance, FloatMetadataValue
from PIL import Image

from dp_assets.components import catalog
from dp_assets.metadata_rounding import round_significant
from dp_cli.report_html import FRAME_PICTURES, ReportInputs, reason, render_html
from dp_core.artifact import Artifact, ArtifactMeta, ModelUsed, decode_artifact
from dp_core.manifest import ComponentRecord, Manifest, RunSection, VideoSection
from dp_features.previews.shots import STRIP_HEIGHT, strip_axis
from dp_resources.storage.backends import open_storage
from tests.fixtures.browser import devtools_page, dump_dom, screenshot
from tests.fixtures.three_shots import COLOURS, CUTS_S
from tests.integration.test_cli import dp

pytestmark = pytest.mark.integration


@pytest.fixture
def processed(three_shot_run):
    """One `dp process --report` run shared by the report and export tests."""
    return three_shot_run


class ReportParser(HTMLParser):
    """The report's previews, component rows (name -> status), model rows, links."""

    def __init__(self):
        super().__init__()
        self.figures: dict[str, str] = {}  # component -> img src
        self.rows: dict[str, str] = {}
        self.models: list[str] = []
        self.links: list[str] = []
        self._figure = self._row = None
        self._in_status = self._in_models = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure":
            self._figure = a.get("data-component")
        elif tag == "img" and self._figure:
            self.figures[self._figure] = a["src"]
        elif tag == "table":
            self._in_models = a.get("id") == "models"
        elif tag == "tr" and a.get("data-component"):
            self._row = a["data-component"]
        elif tag == "tr" and self._in_models and a.get("class"):
            self.models.append(a["class"])
        elif tag == "td" and "status" in (a.get("class") or ""):
            self._in_status = True
        elif tag == "a":
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        elif tag == "td":
            self._in_status = False

    def handle_data(self, data):
        if self._in_status and self._row:
            self.rows[self._row] = data.strip()


def parsed(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    return parser


def test_process_prints_no_native_log_lines_and_whole_manifest_keys(processed):
    done, folder = processed["done"], processed["folder"]
    output = done.stdout + done.stderr
    for native in ("absl", "W0000", "TensorFlow Lite", "XNNPACK", "inference_feedback"):
        assert native not in output
    # MediaPipe (core_face_landmarks) did log: into the file under the Dagster home
    native_log = folder / ".dp" / "dagster_home" / "logs" / "native.log"
    assert "XNNPACK" in native_log.read_text()
    lines = done.stdout.splitlines()
    assert any(processed["manifest_key"] in line for line in lines)  # not folded mid-key
    # the report's path is absolute: it opens from any folder
    assert f"report: {folder / '.dp' / 'reports' / 'local__three_shots.html'}" in lines
    assert f"index: {folder / '.dp' / 'reports' / 'index.html'}" in lines


def test_the_report_in_chromium_has_every_status_picture_model_and_link(processed):
    manifest = processed["manifest"]
    dom = dump_dom(processed["report"].as_uri())
    report = parsed(dom)
    assert report.rows == {c.name: c.status for c in manifest.components}
    specs = catalog()
    pictured = {c.name for c in manifest.components if c.status == "success"}
    pictured = {n for n in pictured if specs[n].preview is not None and n in FRAME_PICTURES}
    assert {"cut_detection", "core_object_detections"} <= pictured
    assert set(report.figures) == pictured  # the signals over time are timeline lanes
    storage = processed["storage"]
    artifacts = {c.name: c.artifact_key for c in manifest.components if c.artifact_key is not None}
    for name, src in report.figures.items():
        mime, data = re.fullmatch(r"data:(image/\w+);base64,(.*)", src).groups()
        picture = Image.open(io.BytesIO(base64.b64decode(data)))
        assert picture.width == 800 and len(base64.b64decode(data)) < 60_000, name
        assert mime == ("image/png" if picture.format == "PNG" else "image/jpeg")
    # every artifact is linked and the link opens the file
    linked = {Path(href.removeprefix("file://")) for href in report.links}
    for key in artifacts.values():
        assert storage.root / key in linked and (storage.root / key).is_file()
    models = [u for k in artifacts for u in _artifact(storage, artifacts[k]).meta.models_used]
    assert len(report.models) == len(models) > 0
    assert report.models.count("stand-in") == sum(u.stand_in for u in models) == 0


def test_the_contact_sheet_marks_the_cuts_found_at_their_times(processed):
    manifest, storage = processed["manifest"], processed["storage"]
    cuts = _artifact(storage, manifest.component("cut_detection").artifact_key).arrays
    assert cuts["cut_times_s"] == pytest.approx(CUTS_S, abs=0.1)
    src = parsed(processed["report"].read_text()).figures["cut_detection"]
    sheet = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
    row = sheet[sheet.shape[0] - 18 - STRIP_HEIGHT // 2].astype(int)
    red = (row[:, 0] > 170) & (row[:, 1] < 100) & (row[:, 2] < 100)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], red.astype(int), [0]])))
    centres = [(a + b - 1) / 2 for a, b in zip(edges[::2], edges[1::2], strict=True)]
    segmenter = _artifact(storage, manifest.component("segmenter").artifact_key)
    axis = strip_axis(float(segmenter.arrays["duration_s"]))
    assert centres == pytest.approx([axis.x(t) for t in cuts["cut_times_s"]], abs=1.5)


def test_a_screenshot_of_the_report_shows_the_three_shots(processed, tmp_path):
    shot = screenshot(processed["report"].as_uri(), tmp_path / "report.png", 1200, 1600)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # the contact sheet's tiles, painted by the browser: each shot's colour is on screen
    for name, colour in COLOURS.items():
        near = np.abs(pixels - np.array(colour)).sum(axis=-1) < 60
        assert near.sum() > 2000, name


def test_a_stand_in_model_is_marked_as_such():
    manifest = Manifest(
        run=RunSection(
            run_id="r1",
            dataprocessor_version="0",
            profile="cpu_stand_in",
            config_hash="h",
            analysis={},
            resolved_model_mapping={},
            storage={},
            started_at=None,
            finished_at=None,
            dagster_run_status="SUCCESS",
            status="success",
        ),
        video=VideoSection(platform="local", video_id="v", partition_key="local__v"),
        components=[
            ComponentRecord(name="clap_extractor", required=False, status="success"),
        ],
    )
    used = ModelUsed(
        name="clap-htsat-stand-in",
        version="1",
        weights_digest="0" * 64,
        engine="onnxruntime",
        precision="fp32",
        device="cpu",
        stand_in=True,
    )
    meta = ArtifactMeta(
        component="clap_extractor",
        component_version="1",
        dataprocessor_version="0",
        run_id="r1",
        platform="local",
        video_id="v",
        status="ok",
        config_hash="h",
        models_used=[used],
    )
    inputs = ReportInputs(manifest, "result_store/local/v/r1/manifest.json", open_storage("."))
    inputs.artifacts["clap_extractor"] = Artifact(meta=meta, arrays={})
    report = parsed(render_html(inputs))
    assert report.models == ["stand-in"]
    assert 'class="badge stand-in">stand-in</span>' in render_html(inputs)


def _artifact(storage, key: str) -> Artifact:
    return decode_artifact(storage.get_bytes(key), source=key)


TIMELINE_GEOMETRY = """JSON.stringify((() => {
  const box = e => e.getBoundingClientRect();
  const centre = e => box(e).left + box(e).width / 2;
  const lines = (lane, css) => [...lane.querySelectorAll(css)].map(
    l => ({t: parseFloat(l.dataset.t), x: centre(l)}));
  return [...document.querySelectorAll('#timeline .lane')].map(lane => ({
    lane: lane.dataset.lane,
    left: box(lane.querySelector('.lane-plot svg')).left,
    width: box(lane.querySelector('.lane-plot svg')).width,
    guides: lines(lane, 'line.guide'),
    cuts: lines(lane, 'line.cut'),
    ticks: lines(lane, 'line.tick'),
    shots: [...lane.querySelectorAll('rect.shot')].map(r => [box(r).left, box(r).right]),
  }));
})())"""


def _timeline_geometry(url: str, profile_dir: Path, width: int = 1300) -> list[dict]:
    with devtools_page(profile_dir, width=width, height=1400) as page:
        page.call("Page.navigate", url=url)
        page.wait_for("document.readyState === 'complete' && !!document.querySelector('#timeline')")
        return json.loads(page.evaluate(TIMELINE_GEOMETRY))


@pytest.mark.parametrize("window", [1300, 900])
def test_every_timeline_lane_puts_each_time_at_the_same_pixel(processed, tmp_path, window):
    """Measured in Chromium: every lane's 0 s is at the axis's 0 s tick, its end at the
    end tick, and each cut (a guide in every lane, the cut line in the shots lane) at the
    pixel column the axis gives its time, within half a pixel."""
    lanes = _timeline_geometry(processed["report"].as_uri(), tmp_path / "chromium", window)
    by_name = {lane["lane"]: lane for lane in lanes}
    expected = {"axis", "shots", "motion", "loudness", "beats", "story", "quality", "colour"}
    assert expected <= by_name.keys()
    axis = by_name["axis"]
    zero = next(t["x"] for t in axis["ticks"] if t["t"] == 0.0)
    duration = max(t["t"] for t in axis["ticks"])
    end = next(t["x"] for t in axis["ticks"] if t["t"] == duration)
    segmenter = _artifact(
        processed["storage"], processed["manifest"].component("segmenter").artifact_key
    )
    assert duration == pytest.approx(float(segmenter.arrays["duration_s"]), abs=1e-3)
    assert end - zero > 500

    def x_of(t: float) -> float:
        return zero + t / duration * (end - zero)

    for lane in lanes:
        # the plot of every lane starts at 0 s and ends at the end, to the pixel
        assert lane["left"] == pytest.approx(zero, abs=0.5), lane["lane"]
        assert lane["left"] + lane["width"] == pytest.approx(end, abs=0.5), lane["lane"]
    cuts = _artifact(
        processed["storage"], processed["manifest"].component("cut_detection").artifact_key
    ).arrays["cut_times_s"]
    for lane in lanes[1:]:
        assert [g["t"] for g in lane["guides"]] == pytest.approx(list(cuts), abs=1e-3)
        for guide in lane["guides"]:
            assert guide["x"] == pytest.approx(x_of(guide["t"]), abs=0.5), lane["lane"]
    shots = by_name["shots"]
    assert [c["x"] for c in shots["cuts"]] == pytest.approx([x_of(t) for t in cuts], abs=0.5)
    # shot rectangles meet at the cuts
    assert [s[0] for s in shots["shots"][1:]] == pytest.approx([x_of(t) for t in cuts], abs=0.5)
    assert shots["shots"][0][0] == pytest.approx(zero, abs=0.5)


class ShotTable(HTMLParser):
    """The shot table's cells by class, and each row's thumbnail."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._cell: str | None = None
        self._in_table = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._in_table = a.get("id") == "shots"
        elif self._in_table and tag == "tr" and a.get("data-shot"):
            self.rows.append({"number": a["data-shot"]})
        elif self._in_table and self.rows and tag == "td":
            self._cell = a.get("class")
        elif self._in_table and self.rows and tag == "img":
            self.rows[-1]["thumbnail"] = a["src"]

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data):
        if self._cell and self.rows:
            self.rows[-1][self._cell] = self.rows[-1].get(self._cell, "") + data.strip()


def test_the_shot_table_gives_frames_timecodes_kinds_and_thumbnails(processed):
    table = ShotTable()
    table.feed(dump_dom(processed["report"].as_uri()))
    rows = table.rows
    assert [r["number"] for r in rows] == ["1", "2", "3"]
    # cuts found at frame 38 and 76 (1.52 s, 3.04 s at 25 fps); frames counted from 1
    assert [(r["start-frame"], r["end-frame"]) for r in rows] == [
        ("1", "38"),
        ("39", "76"),
        ("77", "112"),
    ]
    assert [r["start-tc"] for r in rows] == ["00:00:00.000", "00:00:01.520", "00:00:03.040"]
    assert [r["end-tc"] for r in rows] == ["00:00:01.520", "00:00:03.040", "00:00:04.480"]
    assert [r["duration"] for r in rows] == ["1.520 s", "1.520 s", "1.440 s"]
    assert [r["kind"] for r in rows] == ["start", "hard", "hard"]
    assert rows[0].get("confidence", "") == "" and float(rows[1]["confidence"]) > 0.5
    for row, colour in zip(rows, COLOURS.values(), strict=True):
        picture = Image.open(io.BytesIO(base64.b64decode(row["thumbnail"].split(",", 1)[1])))
        mean = np.asarray(picture.convert("RGB")).reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - np.array(colour) * 0.93).max() < 30, (row["number"], mean)


def test_the_header_and_headline_numbers_come_from_the_artifacts(processed):
    dom = dump_dom(processed["report"].as_uri())
    storage, manifest = processed["storage"], processed["manifest"]
    facts = dict(re.findall(r'data-fact="([^"]+)"><span>[^<]*</span><b>([^<]*)</b>', dom))
    assert facts["duration"].startswith("00:00:04.5")
    assert facts["resolution"] == "320×180" and facts["frame rate"].startswith("25 fps")
    assert facts["audio"].startswith("2 channel(s) (stereo), 48000 Hz")
    cards = _cards(dom)
    for name in (
        "tempo_extractor",
        "loudness_extractor",
        "video_pacing",
        "shot_quality",
        "color_dynamics",
        "story_structure",
    ):
        assert name in cards and "<table>" in cards[name], name
    loudness = _artifact(storage, manifest.component("loudness_extractor").artifact_key).arrays
    assert f"{float(loudness['integrated_lufs']):.1f} LUFS" in cards["loudness_extractor"]
    tempo = _artifact(storage, manifest.component("tempo_extractor").artifact_key).arrays
    assert f"{float(tempo['tempo_bpm']):.1f} BPM" in cards["tempo_extractor"]
    pacing = _artifact(storage, manifest.component("video_pacing").artifact_key).arrays
    assert f"{float(pacing['cuts_per_minute']):.1f}" in cards["video_pacing"]
    story = _artifact(storage, manifest.component("story_structure").artifact_key).arrays
    assert str(story["energy_arc"]) in cards["story_structure"]
    assert cards["color_dynamics"].count('class="swatch"') >= 3


def test_every_component_without_a_result_says_why_and_the_folder_has_an_index(processed):
    dom = dump_dom(processed["report"].as_uri())
    rows = re.findall(
        r'<tr data-component="(\w+)">.*?class="status \w+">(\w+)</td><td class="reason">'
        r"(.*?)</td>",
        dom,
        flags=re.S,
    )
    assert len(rows) == len(processed["manifest"].components)
    for name, status, why in rows:
        assert (status == "success") or why.strip(), name
    skipped = {name: why for name, status, why in rows if status == "skipped"}
    assert skipped and all("not in profile cpu_baseline" in why for why in skipped.values())
    index = processed["report"].parent / "index.html"
    listed = dump_dom(index.as_uri())
    assert 'href="local__three_shots.html"' in listed and ">local/three_shots<" in listed
    assert ">success<" in listed and ">320x180<" in listed


def test_a_run_stopped_by_a_required_failure_names_it_for_each_skipped_component():
    manifest = _manifest(
        [
            ComponentRecord(
                name="cut_detection",
                required=True,
                status="error",
                error_code="MODEL_NOT_FOUND",
                error_message="TransNetV2 model not found",
            ),
            ComponentRecord(
                name="shot_quality",
                required=False,
                status="skipped",
                error_code="DEPENDENCY_ERROR",
                error_message="not run: the run stopped first",
            ),
            ComponentRecord(name="core_clip", required=False, status="skipped"),
            ComponentRecord(
                name="speech_activity", required=False, status="empty", warnings=["no audio"]
            ),
        ]
    )
    records = {c.name: c for c in manifest.components}
    assert reason(records["shot_quality"], manifest) == (
        "not run: the run stopped first: the required component cut_detection failed "
        "(MODEL_NOT_FOUND)"
    )
    assert reason(records["core_clip"], manifest).startswith("not in profile cpu_stand_in")
    assert reason(records["speech_activity"], manifest) == "no audio"
    assert reason(records["cut_detection"], manifest).startswith("MODEL_NOT_FOUND: TransNetV2")


def test_tempo_card_shows_confidence_and_the_alternative_when_the_artifact_has_them():
    manifest = _manifest([ComponentRecord(name="tempo_extractor", required=True, status="success")])
    inputs = ReportInputs(manifest, "result_store/local/v/r1/manifest.json", open_storage("."))
    arrays = {
        "tempo_bpm": np.float64(128.0),
        "beat_times_s": np.arange(8) * 0.46875,
        "beat_confidence": np.float64(0.8),
        "tempo_confidence": np.float64(0.73),
        "tempo_alt_bpm": np.float64(64.0),
        "tempo_alt_weight": np.float64(0.21),
    }
    inputs.artifacts["tempo_extractor"] = Artifact(meta=_meta("tempo_extractor"), arrays=arrays)
    page = render_html(inputs)
    card = _cards(page)["tempo_extractor"]
    for shown in ("128.0 BPM", "0.73", "64.0 BPM", "0.21", "<td>8</td>"):
        assert shown in card, shown
    del arrays["tempo_confidence"], arrays["tempo_alt_bpm"], arrays["tempo_alt_weight"]
    card = _cards(render_html(inputs))["tempo_extractor"]
    assert "alternative" not in card and "tempo confidence" not in card


def _cards(page: str) -> dict[str, str]:
    """Each headline card's HTML by component (the cards are siblings in #headlines)."""
    section = page.split('<div id="headlines">', 1)[1].split("<h2>", 1)[0]
    parts = section.split('<div class="card" data-component="')[1:]
    return {part.split('"', 1)[0]: part for part in parts}


def _manifest(components: list[ComponentRecord]) -> Manifest:
    return Manifest(
        run=RunSection(
            run_id="r1",
            dataprocessor_version="0",
            profile="cpu_stand_in",
            config_hash="h",
            analysis={},
            resolved_model_mapping={},
            storage={},
            started_at=None,
            finished_at=None,
            dagster_run_status="SUCCESS",
            status="success",
        ),
        video=VideoSection(platform="local", video_id="v", partition_key="local__v"),
        components=components,
    )


def _meta(component: str, models_used=()) -> ArtifactMeta:
    return ArtifactMeta(
        component=component,
        component_version="1",
        dataprocessor_version="0",
        run_id="r1",
        platform="local",
        video_id="v",
        status="ok",
        config_hash="h",
        models_used=list(models_used),
    )


def test_models_list_and_the_report_show_one_digest_per_model(processed):
    """The same model has the same digest in `dp models list` and the report (nanodet: one
    ONNX file; `models list` used to show a digest over its file list). The doctor's are
    checked against `models list` in test_cli."""
    listed = dp(processed["folder"], "models", "list", check_rc=0).stdout
    page = processed["report"].read_text()
    in_report = dict(
        re.findall(
            r"<td>([\w-]+)</td><td>[^<]*</td><td>[^<]*</td><td>[^<]*</td><td>[^<]*</td>"
            r'<td><code class="digest">(sha256:\w+)</code>',
            page,
        )
    )
    used = _artifact(
        processed["storage"], processed["manifest"].component("core_object_detections").artifact_key
    ).meta.models_used
    [nanodet] = used
    shown = f"sha256:{nanodet.weights_digest[:12]}"
    assert in_report[nanodet.name] == shown
    [line] = [ln for ln in listed.splitlines() if ln.startswith("nanodet ")]
    assert shown in line


def test_step_metadata_in_the_dagster_ui_is_rounded(processed):
    """Floats of per-video step metadata carry 4 significant digits; the artifact all."""
    home = processed["folder"] / ".dp" / "dagster_home"
    with DagsterInstance.from_config(str(home)) as instance:
        [key] = [k for k in instance.get_asset_keys() if k.path[-1] == "loudness_extractor"]
        [record] = instance.fetch_materializations(key, limit=1).records
        metadata = record.asset_materialization.metadata
    loudness = _artifact(
        processed["storage"], processed["manifest"].component("loudness_extractor").artifact_key
    ).arrays
    exact = float(loudness["integrated_lufs"])
    assert metadata["integrated_lufs"].value == round_significant(exact) != exact
    floats = {k: v.value for k, v in metadata.items() if isinstance(v, FloatMetadataValue)}
    assert {"integrated_lufs", "true_peak_dbtp"} <= floats.keys()
    assert all(v == round_significant(v) for v in floats.values()), floats
    assert metadata["sha256"].value == processed["manifest"].component("loudness_extractor").sha256
