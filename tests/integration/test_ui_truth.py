"""The Dagster UI tells the truth about videos (issue 23): it loads the profile the runs on
its home used (their code versions), a profile change shows the affected partitions as
unsynced, and a video that failed inside a batch run shows Failed — through `dp ui`'s
GraphQL and in headless Chromium."""

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.fixtures.browser import devtools_page
from tests.fixtures.dagster_ui import graphql, running_ui
from tests.fixtures.media import ClipSpec, make_clip
from tests.integration.test_cli import dp

pytestmark = pytest.mark.integration
COMPONENTS = {"segmenter": {}, "cut_detection": {}, "color_dynamics": {}, "tempo_extractor": {}}
STALE = """{ assetNodeOrError(assetKey: {path: ["%s"]}) { ... on AssetNode {
  opVersion staleStatus(partition: "%s") staleCauses(partition: "%s") { reason category } } } }"""
RELOAD = """mutation { reloadRepositoryLocation(repositoryLocationName: "%s") { __typename } }"""
STATUS = """{ assetNodeOrError(assetKey: {path: ["%s"]}) { ... on AssetNode {
  assetPartitionStatuses { ... on DefaultPartitionStatuses {
    materializedPartitions failedPartitions } } } } }"""


def write_profile(path: Path, levels: int | None = None) -> Path:
    components = dict(COMPONENTS)
    if levels is not None:
        components["color_dynamics"] = {"params": {"levels": levels}}
    path.write_text(yaml.safe_dump({"name": "ui_truth", "components": components}))
    return path


def node(port: int, query: str) -> dict:
    reply = graphql(port, query)
    assert "errors" not in reply, reply
    return reply["data"]["assetNodeOrError"]


def test_the_ui_shows_the_runs_code_versions_failed_and_unsynced_partitions(tmp_path):
    make_clip(tmp_path / "in" / "good.mp4", ClipSpec(duration_s=1.0))
    (tmp_path / "in" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x13" * 4000)
    profile = write_profile(tmp_path / "profile.yaml")
    done = dp(tmp_path, "process", "in", "--profile", str(profile), "--json")
    videos = {v["video_id"]: v for v in json.loads(done.stdout)["videos"]}
    assert videos["good"]["status"] == "success" and videos["broken"]["status"] == "error"
    with running_ui(tmp_path) as port:
        # the UI (started without --profile) loaded the profile the runs used: all in sync
        for name in COMPONENTS:
            shown = node(port, STALE % (name, "local__good", "local__good"))
            assert shown["staleStatus"] == "FRESH", (name, shown)
        statuses = node(port, STATUS % "segmenter")["assetPartitionStatuses"]
        assert statuses["failedPartitions"] == ["local__broken"]
        assert statuses["materializedPartitions"] == ["local__good"]
        failed = "failed, and did not materialize this asset"
        screenshot(port, "segmenter", tmp_path / "failed.png", "local__broken", failed)

        write_profile(profile, levels=4)  # the same profile file, one params change
        graphql(port, RELOAD % "dp_assets.definitions")
        for name in COMPONENTS:
            shown = node(port, STALE % (name, "local__good", "local__good"))
            expected = "STALE" if name == "color_dynamics" else "FRESH"
            assert shown["staleStatus"] == expected, (name, shown)
        screenshot(port, "color_dynamics", tmp_path / "stale.png", "local__good", "Unsynced")


def screenshot(port: int, asset: str, path: Path, partition: str, shows: str) -> None:
    """The asset's partition page in headless Chromium, saved as PNG (for the record),
    once it names the partition and shows `shows`."""
    url = f"http://127.0.0.1:{port}/assets/{asset}?view=partitions&partition={partition}"
    assert graphql(port, "mutation { setNuxSeen }")["data"]["setNuxSeen"]  # no sign-up dialog
    with devtools_page(path.parent / "chromium") as page:
        page.call("Page.navigate", url=url)
        page.wait_for(f"document.body.innerText.includes('{partition}')", timeout_s=60)
        page.wait_for(f"document.body.innerText.includes({shows!r})", timeout_s=60)
        time.sleep(1.0)  # let the status bars paint
        page.screenshot(path)
