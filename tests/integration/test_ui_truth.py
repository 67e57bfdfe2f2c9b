"""The Dagster UI tells the truth about videos (issue 23): it loads the profile the runs on
its home used (their code versions), a profile change shows the affected partitions as
unsynced, and a video that failed inside a batch run shows Failed — through `dp ui`'s
GraphQL and in headless Chromium."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.fixtures.browser import devtools_page
from tests.fixtures.media import ClipSpec, make_clip
from tests.integration.test_cli import dp
from tests.integration.test_ui import DP, free_port

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


def start_ui(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DP_"))}
    log = open(tmp_path / "ui.log", "w")  # noqa: SIM115 - the server holds it
    server = subprocess.Popen(
        [DP, "ui", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                stop(server)
                pytest.fail("dp ui did not answer:\n" + (tmp_path / "ui.log").read_text()[-3000:])
            time.sleep(0.5)


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def graphql(port: int, query: str) -> dict:
    """One GraphQL request; staleness is computed on demand and slow on a loaded machine."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as reply:
        return json.loads(reply.read())


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
    server, port = start_ui(tmp_path)
    try:
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
    finally:
        stop(server)


SKIP_DIALOG = """(() => {
  const skip = [...document.querySelectorAll('button')].find(b => b.textContent.trim() == 'Skip');
  if (skip) skip.click();
  return true;
})()"""


def screenshot(port: int, asset: str, path: Path, partition: str, shows: str) -> None:
    """The asset's partition page in headless Chromium, saved as PNG (for the record),
    once it names the partition and shows `shows`."""
    url = f"http://127.0.0.1:{port}/assets/{asset}?view=partitions&partition={partition}"
    with devtools_page(path.parent / "chromium") as page:
        page.call("Page.navigate", url=url)
        page.wait_for(f"document.body.innerText.includes('{partition}')", timeout_s=60)
        page.wait_for(f"document.body.innerText.includes({shows!r})", timeout_s=60)
        page.evaluate(SKIP_DIALOG)  # the community sign-up dialog of a fresh UI
        time.sleep(1.0)  # let it close and the status bars paint
        page.screenshot(path)
