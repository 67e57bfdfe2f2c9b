"""The YouTube Data API client over real HTTP, against a loopback server that answers
with recorded API responses (a normal page, a paginated one, a missing video, a quota error)."""

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pandas as pd
import pytest

from dp_core.errors import DpError, ErrorCode
from dp_resources.integrations.youtube import YouTubeDataClient

pytestmark = pytest.mark.integration

VIDEOS = {
    "vidA": {"channelId": "chanX", "publishedAt": "2024-01-01T00:00:00Z", "views": 1200},
    "vidB": {"channelId": "chanY", "publishedAt": "2024-02-01T00:00:00Z", "views": 30},
}
QUOTA_BODY = {
    "error": {
        "code": 403,
        "message": "The request cannot be completed because you have exceeded your quota.",
        "errors": [{"reason": "quotaExceeded", "domain": "youtube.quota"}],
    }
}


def video_item(video_id):
    v = VIDEOS[video_id]
    return {
        "kind": "youtube#video",
        "id": video_id,
        "snippet": {"channelId": v["channelId"], "publishedAt": v["publishedAt"]},
        "statistics": {"viewCount": str(v["views"]), "likeCount": str(v["views"] // 10)},
    }


def channel_item(channel_id, subscribers):
    return {
        "kind": "youtube#channel",
        "id": channel_id,
        "statistics": {
            "subscriberCount": str(subscribers),
            "viewCount": "90000",
            "videoCount": "9",
        },
    }


class RecordedApi(BaseHTTPRequestHandler):
    quota_exhausted = False
    requests: ClassVar[list] = []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        type(self).requests.append((url.path, query))
        if query.get("key") != "test-key":
            return self.answer(
                400,
                {
                    "error": {
                        "code": 400,
                        "message": "API key not valid.",
                        "errors": [{"reason": "keyInvalid"}],
                    }
                },
            )
        if type(self).quota_exhausted:
            return self.answer(403, QUOTA_BODY)
        ids = query.get("id", "").split(",")
        if url.path.endswith("/videos"):
            return self.answer(200, {"items": [video_item(i) for i in ids if i in VIDEOS]})
        # channels: two pages, the second behind a nextPageToken
        if "pageToken" not in query:
            return self.answer(200, {"items": [channel_item(ids[0], 500)], "nextPageToken": "p2"})
        return self.answer(200, {"items": [channel_item(i, 70) for i in ids[1:]]})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def api_server():
    RecordedApi.quota_exhausted = False
    RecordedApi.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordedApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/youtube/v3"
    server.shutdown()
    server.server_close()
    thread.join()


def test_live_batches_paginates_reports_missing_and_replays(api_server, tmp_path):
    client = YouTubeDataClient(
        mode="record", recordings_dir=tmp_path, api_key="test-key", base_url=api_server
    )
    ids = [f"gone{i:02d}" for i in range(60)] + ["vidA", "vidB"]
    found = client.videos(ids)
    assert sorted(found.items) == ["vidA", "vidB"]
    assert len(found.missing) == 60 and "gone00" in found.missing  # reported, not raised
    video_calls = [q for path, q in RecordedApi.requests if path.endswith("/videos")]
    assert [len(q["id"].split(",")) for q in video_calls] == [50, 12]  # batched by 50

    videos, channels = client.enrichment_frames(["vidA", "vidB", "gone00"])
    assert list(videos["video_id"]) == ["vidA", "vidB"]
    assert videos.set_index("video_id").loc["vidA", "views"] == 1200
    # both channel pages were read: chanX from page 1, chanY from page 2
    assert channels.set_index("channel_id")["subscribers"].to_dict() == {"chanX": 500, "chanY": 70}
    assert any("pageToken" in q for path, q in RecordedApi.requests if path.endswith("/channels"))

    served = len(RecordedApi.requests)
    replay = YouTubeDataClient(mode="replay", recordings_dir=tmp_path)
    replayed_videos, replayed_channels = replay.enrichment_frames(["vidA", "vidB", "gone00"])
    assert len(RecordedApi.requests) == served  # no network in replay
    pd.testing.assert_frame_equal(replayed_videos, videos)
    pd.testing.assert_frame_equal(replayed_channels, channels)
    with pytest.raises(DpError) as caught:
        replay.videos(["never-recorded"])
    assert caught.value.code == ErrorCode.INPUT_NOT_FOUND


def test_quota_and_key_errors_have_their_codes(api_server, tmp_path):
    RecordedApi.quota_exhausted = True
    client = YouTubeDataClient(
        mode="record", recordings_dir=tmp_path, api_key="test-key", base_url=api_server
    )
    with pytest.raises(DpError) as caught:
        client.videos(["vidA"])
    assert caught.value.code == ErrorCode.RESOURCE_EXHAUSTED and not caught.value.transient
    assert "quota" in caught.value.message
    # the recorded 403 replays as the same error, through the same parsing path
    with pytest.raises(DpError) as caught:
        YouTubeDataClient(mode="replay", recordings_dir=tmp_path).videos(["vidA"])
    assert caught.value.code == ErrorCode.RESOURCE_EXHAUSTED

    RecordedApi.quota_exhausted = False
    wrong_key = YouTubeDataClient(api_key="wrong", base_url=api_server)
    with pytest.raises(DpError) as caught:
        wrong_key.videos(["vidA"])
    assert caught.value.code == ErrorCode.CONFIG_INVALID


def test_live_mode_without_a_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv("YOUTUBE_API_KEY", raising=False)
    with pytest.raises(DpError) as caught:
        YouTubeDataClient(mode="live")
    assert caught.value.code == ErrorCode.CONFIG_INVALID and "YOUTUBE_API_KEY" in str(caught.value)


def test_unreachable_api_is_a_dependency_error():
    client = YouTubeDataClient(api_key="k", base_url="http://127.0.0.1:9/youtube/v3", timeout_s=2)
    with pytest.raises(DpError) as caught:
        client.videos(["vidA"])
    assert caught.value.code == ErrorCode.DEPENDENCY_ERROR
