"""`dp process --report` on a clip of three known shots: the HTML report, opened in headless
Chromium, shows each component's status, its picture, its models and links to its artifacts;
`dp process` prints no native library log lines and keeps manifest keys whole."""

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dp_assets.components import catalog
from dp_cli.report_html import ReportInputs, render_html
from dp_core.artifact import Artifact, ArtifactMeta, ModelUsed, decode_artifact
from dp_core.manifest import ComponentRecord, Manifest, RunSection, VideoSection
from dp_features.previews.shots import STRIP_HEIGHT, strip_axis
from dp_resources.storage.backends import open_storage
from tests.fixtures.browser import dump_dom, screenshot
from tests.fixtures.media import ClipSpec, make_clip
from tests.integration.test_cli import dp

pytestmark = pytest.mark.integration

SHOT_S, FPS, SIZE = 1.5, 25, (180, 320)
CUTS_S = (1.5, 3.0)
# textured so the cut detector sees shots, not fades (flat frames read as fades)
COLOURS = {"red": (222, 30, 30), "blue": (30, 30, 222), "green": (30, 200, 30)}


def three_shots() -> np.ndarray:
    rows, cols = np.indices(SIZE)
    patterns = (  # a different structure per shot: the detector compares normalised luma
        (rows // 30 + cols // 30) % 2,
        (cols // 20) % 2,
        (rows // 15) % 2,
    )
    shots = []
    for colour, pattern in zip(COLOURS.values(), patterns, strict=True):
        frame = np.empty((*SIZE, 3), np.uint8)
        frame[:] = colour
        frame[pattern.astype(bool)] = np.array(colour) * 0.85
        shots.append(np.broadcast_to(frame, (round(SHOT_S * FPS), *SIZE, 3)))
    return np.concatenate(shots)


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """One `dp process --report` run shared by the tests of this file."""
    folder = tmp_path_factory.mktemp("report")
    make_clip(
        folder / "three_shots.mp4",
        ClipSpec(
            duration_s=3 * SHOT_S,
            fps=FPS,
            width=SIZE[1],
            height=SIZE[0],
            video_frames=three_shots(),
            tone_amplitude=0.3,
        ),
    )
    done = dp(folder, "process", "three_shots.mp4", "--report", check_rc=0)
    storage = open_storage(str(folder / ".dp" / "storage"))
    [key] = [k for k in storage.list("result_store") if k.endswith("manifest.json")]
    report = folder / ".dp" / "reports" / "local__three_shots.html"
    return {
        "folder": folder,
        "done": done,
        "storage": storage,
        "manifest_key": key,
        "manifest": Manifest.model_validate_json(storage.get_bytes(key)),
        "report": report,
    }


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
    assert "report: .dp/reports/local__three_shots.html" in lines


def test_the_report_in_chromium_has_every_status_picture_model_and_link(processed):
    manifest = processed["manifest"]
    dom = dump_dom(processed["report"].as_uri())
    report = parsed(dom)
    assert report.rows == {c.name: c.status for c in manifest.components}
    specs = catalog()
    pictured = {c.name for c in manifest.components if c.status == "success"}
    pictured = {name for name in pictured if specs[name].preview is not None}
    assert {"cut_detection", "core_optical_flow", "loudness_extractor"} <= pictured
    assert set(report.figures) == pictured
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
