"""`dp ui` serves the Dagster UI on the same home: it shows the segmenter's metadata and each
component's picture (its `preview`) on the asset's partition page, in a real browser."""

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.browser import devtools_page
from tests.fixtures.dagster_ui import graphql, running_ui
from tests.fixtures.media import ClipSpec, make_clip
from tests.integration.test_cli import dp

pytestmark = pytest.mark.integration

QUERY = """{ assetOrError(assetKey: {path: ["%s"]}) { ... on Asset {
  assetMaterializations(limit: 5) { partition runId
    metadataEntries { label ... on MarkdownMetadataEntry { mdStr } } } } } }"""
PICTURED = ("cut_detection", "core_optical_flow", "loudness_extractor", "audio_events")
# the partition page's metadata row `label`, and its [Show Markdown] link clicked
SHOW_PREVIEW = """(() => {
  const row = [...document.querySelectorAll('tr')]
    .find(r => r.cells[0] && r.cells[0].textContent.trim() == 'preview');
  if (!row) return false;
  [...row.querySelectorAll('a')].find(a => a.textContent.includes('Show Markdown')).click();
  return true;
})()"""
# the preview picture once its dialog has settled: no animation or transition still running
# on it or on a box around it (the dialog's opening), and fully opaque
SHOWN_IMAGE = """(() => {
  const img = [...document.querySelectorAll('img')]
    .find(i => i.src.startsWith('data:image/jpeg') && i.complete && i.naturalWidth > 0);
  if (!img) return null;
  const moving = document.getAnimations().some(a => a.playState !== 'finished'
    && a.effect && a.effect.target && a.effect.target.contains(img));
  if (moving) return null;
  for (let e = img; e; e = e.parentElement) {
    if (parseFloat(getComputedStyle(e).opacity) < 1) return null;
  }
  const r = img.getBoundingClientRect();
  return {src: img.src, width: img.naturalWidth, x: r.x, y: r.y, w: r.width, h: r.height,
          scale: window.devicePixelRatio};
})()"""


def test_ui_shows_materializations_with_metadata(tmp_path):
    make_clip(tmp_path / "shown.mp4", ClipSpec(duration_s=1.0))
    # previews and summaries in the events: DP_EVENT_DETAILS (off by default: event-log size)
    details = {"DP_EVENT_DETAILS": "1"}
    run_id = json.loads(
        dp(tmp_path, "process", "shown.mp4", "--json", env=details, check_rc=0).stdout
    )["videos"][0]["run_id"]
    with running_ui(tmp_path) as port:
        [materialization] = materializations(port, "segmenter")
        assert materialization["partition"] == "local__shown" and materialization["runId"] == run_id
        entries = {e["label"]: e for e in materialization["metadataEntries"]}
        assert {
            "duration_s",
            "size",
            "native_fps",
            "frame_counts",
            "thumbnail",
            "status",
        } <= entries.keys()
        assert entries["thumbnail"]["mdStr"].startswith("![thumbnail](data:image/jpeg;base64,")
        for component in PICTURED:
            [materialization] = materializations(port, component)
            entries = {e["label"]: e for e in materialization["metadataEntries"]}
            mime, data = re.fullmatch(
                r"!\[.*\]\(data:(image/\w+);base64,(.*)\)", entries["preview"]["mdStr"]
            ).groups()
            picture = Image.open(io.BytesIO(base64.b64decode(data)))
            assert mime == f"image/{picture.format.lower()}"
            assert picture.width == 800, component
        shown = show_preview_in_browser(port, "cut_detection", tmp_path)
        assert shown["width"] == 800


def materializations(port: int, component: str) -> list[dict]:
    return graphql(port, QUERY % component)["data"]["assetOrError"]["assetMaterializations"]


def show_preview_in_browser(port: int, component: str, tmp_path: Path) -> dict:
    """Opens the asset's partition page in headless Chromium, clicks the preview's
    [Show Markdown] and checks the screenshot shows the picture that is in the metadata."""
    url = f"http://127.0.0.1:{port}/assets/{component}?partition=local__shown&view=partitions"
    # the UI's first-visit "join the community" dialog, dismissed as its Skip button does
    assert graphql(port, "mutation { setNuxSeen }")["data"]["setNuxSeen"]
    with devtools_page(tmp_path / "chromium") as page:
        page.call("Page.navigate", url=url)
        page.wait_for(SHOW_PREVIEW, timeout_s=60)
        shown = page.wait_for(SHOWN_IMAGE)  # settled: its dialog is open, not opening
        page.screenshot(tmp_path / f"ui_{component}.png")
    screen = np.asarray(Image.open(tmp_path / f"ui_{component}.png").convert("RGB"), float)
    scale = shown["scale"]
    x, y = round(shown["x"] * scale), round(shown["y"] * scale)
    w, h = round(shown["w"] * scale), round(shown["h"] * scale)
    painted = screen[y : y + h, x : x + w]
    data = base64.b64decode(shown["src"].split(",", 1)[1])
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB").resize((w, h)), float)
    assert painted.shape == expected.shape
    assert np.abs(painted - expected).mean() < 12  # the picture itself, not a dimmed backdrop
    return shown
