"""`dp ui` serves the Dagster UI on the same home, and it shows the segmenter's metadata."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.media import ClipSpec, make_clip
from tests.integration.test_cli import dp

pytestmark = pytest.mark.integration
DP = str(Path(sys.executable).with_name("dp"))

QUERY = """{ assetOrError(assetKey: {path: ["segmenter"]}) { ... on Asset {
  assetMaterializations(limit: 5) { partition runId
    metadataEntries { label ... on MarkdownMetadataEntry { mdStr } } } } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def test_ui_shows_materializations_with_metadata(tmp_path):
    make_clip(tmp_path / "shown.mp4", ClipSpec(duration_s=1.0))
    run_id = json.loads(dp(tmp_path, "process", "shown.mp4", "--json", check_rc=0).stdout)[
        "videos"
    ][0]["run_id"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DP_"))}
    log = open(tmp_path / "ui.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [DP, "ui", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(
                        "dp ui did not answer:\n" + (tmp_path / "ui.log").read_text()[-3000:]
                    )
                time.sleep(0.5)
        [materialization] = graphql(port, QUERY)["data"]["assetOrError"]["assetMaterializations"]
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
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
