"""YouTube Data API v3 client for enrichment: video and channel statistics.

Modes (one parsing path for all):
- `live`: real HTTPS calls (urllib), API key from `YOUTUBE_API_KEY`;
- `record`: live, and every answer (errors included) is written to `recordings_dir`;
- `replay`: no network: answers are read from `recordings_dir`.

A recording is one JSON file per request (page), named by the endpoint and a hash of the
request parameters without the key: `{"endpoint", "params", "fetched_at", "status", "body"}`.

Errors: quota exceeded (HTTP 403, reason quotaExceeded / dailyLimitExceeded /
rateLimitExceeded) -> RESOURCE_EXHAUSTED (permanent until the quota resets: no retry); a bad
or missing key -> CONFIG_INVALID; an unreachable API or a 5xx -> DEPENDENCY_ERROR. A video or
channel the API does not return is reported in `missing`, never raised.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_json
from dp_resources.storage.atomic_files import publish_text

DEFAULT_BASE_URL = "https://www.googleapis.com/youtube/v3"
BATCH_SIZE = 50  # the API's maximum ids per videos.list / channels.list call
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded"}
KEY_REASONS = {"keyInvalid", "keyExpired", "forbidden", "accessNotConfigured"}

Mode = Literal["live", "record", "replay"]


@dataclass(frozen=True)
class Lookup:
    """Items the API returned (by id), ids it did not, and when the answer was fetched."""

    items: dict[str, dict] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    fetched_at: dict[str, str] = field(default_factory=dict)  # id -> ISO time (UTC)


class YouTubeDataClient:
    def __init__(
        self,
        mode: Mode = "live",
        recordings_dir: str | Path | None = None,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 15.0,
    ):
        if mode not in ("live", "record", "replay"):
            raise DpError(ErrorCode.CONFIG_INVALID, f"YouTube client mode {mode!r} unknown")
        if mode != "live" and recordings_dir is None:
            raise DpError(ErrorCode.CONFIG_INVALID, f"YouTube client mode {mode!r} needs a folder")
        self.mode = mode
        self.recordings_dir = Path(recordings_dir) if recordings_dir else None
        self.api_key = api_key if api_key is not None else os.environ.get("YOUTUBE_API_KEY")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        if mode != "replay" and not self.api_key:
            raise DpError(
                ErrorCode.CONFIG_INVALID,
                "YouTube Data API needs a key: set YOUTUBE_API_KEY, or use replay mode "
                "with recorded responses",
            )

    # ---- public calls ------------------------------------------------------------------

    def videos(self, video_ids: Sequence[str]) -> Lookup:
        """videos.list (statistics, snippet): viewCount, likeCount, publishedAt, channelId."""
        return self._lookup("videos", "snippet,statistics", video_ids)

    def channels(self, channel_ids: Sequence[str]) -> Lookup:
        """channels.list (statistics): subscriberCount, viewCount, videoCount."""
        return self._lookup("channels", "statistics", channel_ids)

    def enrichment_frames(self, video_ids: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(videos, channels) frames in the shape `targets.apply_enrichment` takes."""
        found = self.videos(video_ids)
        video_rows = []
        for video_id, item in sorted(found.items.items()):
            stats, snippet = item.get("statistics", {}), item.get("snippet", {})
            video_rows.append(
                {
                    "video_id": video_id,
                    "channel_id": snippet.get("channelId"),
                    "published_at": snippet.get("publishedAt"),
                    "views": int(stats.get("viewCount", 0)),
                    # a channel that hides like counts sends no likeCount: missing, never 0
                    "likes": float(stats["likeCount"]) if "likeCount" in stats else float("nan"),
                    "fetched_at": found.fetched_at[video_id],
                }
            )
        videos = pd.DataFrame(
            video_rows,
            columns=["video_id", "channel_id", "published_at", "views", "likes", "fetched_at"],
        )
        channel_ids = sorted({c for c in videos["channel_id"].dropna()})
        channels_found = self.channels(channel_ids) if channel_ids else Lookup()
        channel_rows = [
            {
                "channel_id": channel_id,
                "subscribers": float(item.get("statistics", {}).get("subscriberCount", "nan")),
                "view_count": float(item.get("statistics", {}).get("viewCount", "nan")),
                "video_count": float(item.get("statistics", {}).get("videoCount", "nan")),
                "fetched_at": channels_found.fetched_at[channel_id],
            }
            for channel_id, item in sorted(channels_found.items.items())
        ]
        channels = pd.DataFrame(
            channel_rows,
            columns=["channel_id", "subscribers", "view_count", "video_count", "fetched_at"],
        )
        for frame in (videos, channels):
            frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
        return videos, channels

    # ---- requests ----------------------------------------------------------------------

    def _lookup(self, endpoint: str, part: str, ids: Sequence[str]) -> Lookup:
        wanted = list(dict.fromkeys(ids))
        items: dict[str, dict] = {}
        fetched_at: dict[str, str] = {}
        for start in range(0, len(wanted), BATCH_SIZE):
            batch = wanted[start : start + BATCH_SIZE]
            params = {"part": part, "id": ",".join(batch), "maxResults": str(BATCH_SIZE)}
            for page, when in self._pages(endpoint, params):
                for item in page.get("items", []):
                    items[item["id"]] = item
                    fetched_at[item["id"]] = when
        missing = [i for i in wanted if i not in items]
        return Lookup(items=items, missing=missing, fetched_at=fetched_at)

    def _pages(self, endpoint: str, params: dict) -> Iterator[tuple[dict, str]]:
        """Every page of one request, following `nextPageToken`."""
        token = None
        seen = set()
        while True:
            page_params = {**params, **({"pageToken": token} if token else {})}
            body, fetched_at = self._get(endpoint, page_params)
            yield body, fetched_at
            token = body.get("nextPageToken")
            if not token or token in seen:
                return
            seen.add(token)

    def recording_path(self, endpoint: str, params: dict) -> Path:
        assert self.recordings_dir is not None
        return self.recordings_dir / f"{endpoint}-{sha256_json(params)[:16]}.json"

    def _get(self, endpoint: str, params: dict) -> tuple[dict, str]:
        """(body, fetched_at) of one page; raises DpError for an API error answer."""
        if self.mode == "replay":
            path = self.recording_path(endpoint, params)
            if not path.is_file():
                raise DpError(
                    ErrorCode.INPUT_NOT_FOUND,
                    f"no recorded YouTube response for {endpoint}.list {params} ({path.name} "
                    f"in {self.recordings_dir}); record it with mode='record' and an API key",
                )
            record = json.loads(path.read_text())
            status, body, fetched_at = record["status"], record["body"], record["fetched_at"]
        else:
            status, body = self._http_get(endpoint, params)
            fetched_at = datetime.now(UTC).isoformat()
            if self.mode == "record":
                self._record(endpoint, params, status, body, fetched_at)
        return _parse_response(endpoint, status, body), fetched_at

    def _http_get(self, endpoint: str, params: dict) -> tuple[int, dict]:
        query = urllib.parse.urlencode({**params, "key": self.api_key})
        url = f"{self.base_url}/{endpoint}?{query}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"{}")
            except ValueError:
                body = {}
            return exc.code, body
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise DpError(
                ErrorCode.DEPENDENCY_ERROR,
                f"YouTube Data API at {self.base_url} unreachable: {exc}",
            ) from exc
        except ValueError as exc:
            raise DpError(
                ErrorCode.DEPENDENCY_ERROR, f"YouTube Data API answered non-JSON: {exc}"
            ) from exc

    def _record(self, endpoint: str, params: dict, status: int, body: dict, when: str) -> None:
        path = self.recording_path(endpoint, params)
        record = {
            "endpoint": endpoint,
            "params": params,
            "fetched_at": when,
            "status": status,
            "body": body,
        }
        publish_text(path, json.dumps(record, indent=1, sort_keys=True))


def _parse_response(endpoint: str, status: int, body: dict) -> dict:
    """The body of a 200 answer; a DpError with the right code for an error answer."""
    if status == 200:
        return body
    error = body.get("error", {}) if isinstance(body, dict) else {}
    reasons = {e.get("reason") for e in error.get("errors", []) if isinstance(e, dict)}
    message = error.get("message", "")
    if status in (403, 429) and reasons & QUOTA_REASONS:
        raise DpError(
            ErrorCode.RESOURCE_EXHAUSTED,
            f"YouTube Data API quota exceeded on {endpoint}.list ({', '.join(sorted(reasons))}): "
            f"{message} — wait for the daily reset or enrich from recorded responses",
        )
    if status in (400, 401, 403) and (reasons & KEY_REASONS or status == 401):
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"YouTube Data API refused the key on {endpoint}.list: {message or status}",
        )
    if status == 404:
        raise DpError(ErrorCode.INPUT_NOT_FOUND, f"YouTube {endpoint}.list: not found: {message}")
    raise DpError(
        ErrorCode.DEPENDENCY_ERROR,
        f"YouTube Data API {endpoint}.list answered HTTP {status}: {message or body}",
    )
