"""Video identity: (platform, video_id) → one key that is safe everywhere.

The same slug is a Dagster partition key component, an S3 key segment and a file name.
A video_id that is already safe is kept as is (readable keys); any other id is reduced
to safe characters and suffixed with a hash of the exact original, so nothing like
`../../etc/passwd` can escape a folder. Two different ids never share a slug: a kept id
never has the hashed form (`...-<12 hex>`; a safe id of that shape is hashed too), so a
kept slug equals only its own id and a hashed one carries the hash of its exact id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dp_core.errors import DpError, ErrorCode
from dp_core.hashing import sha256_bytes

PLATFORMS = ("local", "youtube", "tiktok", "instagram", "vk", "rutube")
PARTITION_SEPARATOR = "__"
_MAX_SLUG = 80
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_-]+")
_UNDERSCORES = re.compile(r"_{2,}")
_DIGEST_LENGTH = 12
# the shape of a hashed slug: a kept (verbatim) id must never have it
_HASHED_FORM = re.compile(rf"-[0-9a-f]{{{_DIGEST_LENGTH}}}$")


@dataclass(frozen=True)
class VideoKey:
    platform: str
    video_id: str

    @property
    def slug(self) -> str:
        return video_slug(self.video_id)

    @property
    def partition_key(self) -> str:
        return f"{self.platform}{PARTITION_SEPARATOR}{self.slug}"


def video_key(platform: str | None, video_id: str) -> VideoKey:
    """Validate and build a VideoKey; missing platform means `local`."""
    platform = (platform or "local").strip().lower()
    if platform not in PLATFORMS:
        raise DpError(
            ErrorCode.INPUT_UNSUPPORTED,
            f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}",
        )
    if not isinstance(video_id, str) or not video_id.strip():
        raise DpError(
            ErrorCode.INPUT_CORRUPT, f"video_id must be a non-empty string, got {video_id!r}"
        )
    if "\x00" in video_id or len(video_id) > 512:
        raise DpError(
            ErrorCode.INPUT_CORRUPT, "video_id holds a NUL byte or is over 512 characters"
        )
    return VideoKey(platform=platform, video_id=video_id)


def video_slug(video_id: str) -> str:
    """A safe name for `video_id`: [A-Za-z0-9_-], no leading '-', never '__'-ambiguous, at
    most 80 characters; different ids get different slugs (module docstring)."""
    if (
        _SAFE_ID.match(video_id)
        and len(video_id) <= _MAX_SLUG
        and "__" not in video_id
        and not _HASHED_FORM.search(video_id)
    ):
        return video_id
    digest = sha256_bytes(video_id.encode("utf-8"))[:_DIGEST_LENGTH]
    base = _UNDERSCORES.sub("_", _UNSAFE_RUN.sub("-", video_id)).strip("-_")[: _MAX_SLUG - 14]
    return f"{base}-{digest}" if base else f"id-{digest}"


def parse_partition_key(partition_key: str) -> tuple[str, str]:
    """(platform, slug) of a partition key; the original video_id is kept in the upload record."""
    platform, sep, slug = partition_key.partition(PARTITION_SEPARATOR)
    if not sep or platform not in PLATFORMS or not slug:
        raise DpError(ErrorCode.CONFIG_INVALID, f"not a video partition key: {partition_key!r}")
    return platform, slug
