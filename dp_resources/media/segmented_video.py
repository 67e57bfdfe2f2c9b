"""Read side of the segmenter's output, for the components that consume it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from dp_core.artifact import Artifact, verify_digest
from dp_core.errors import DpError, ErrorCode
from dp_resources.storage.backends import Storage
from dp_resources.storage.frame_store import (
    AudioChunk,
    VideoChunk,
    iter_audio_chunks,
    iter_video_chunks,
    read_index,
)

# analysis frames handed to a consumer at once: 640x360 RGB is 0.7 MB a frame, and per-frame
# feature code makes float32 copies of several times that (peak RSS of the long video)
BUDGET_SLICE_FRAMES = 32


@dataclass
class SegmentedVideo:
    """One video's frames_dir, located through its segmenter artifact, whose
    `frames_digests` (file -> sha256 as written) every read is checked against: a file
    changed or swapped in from another video is INPUT_CORRUPT naming its key."""

    storage: Storage
    prefix: str
    digests: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_artifact(cls, storage: Storage, segmenter: Artifact) -> SegmentedVideo:
        extra = segmenter.meta.model_extra or {}
        prefix = extra.get("frames_prefix")
        if not prefix:
            raise DpError(ErrorCode.DEPENDENCY_MISSING, "segmenter artifact names no frames_dir")
        return cls(storage, prefix, dict(extra.get("frames_digests") or {}))

    def _json(self, name: str) -> dict:
        key = f"{self.prefix}/{name}"
        data = verify_digest(self.storage.get_bytes(key), self.digests.get(name), key)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise DpError(ErrorCode.INPUT_CORRUPT, f"{key} is not valid JSON: {exc}") from None

    def _index_sha256(self, stream: str) -> str | None:
        return self.digests.get(f"{stream}/index.json")

    @cached_property
    def metadata(self) -> dict:
        return self._json("metadata.json")

    @cached_property
    def frame_budgets(self) -> dict:
        return self._json("frame_budgets.json")

    def budget(self, component: str) -> np.ndarray:
        """Indices into the analysis stream that `component` processes."""
        if component not in self.frame_budgets:
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING, f"the segmenter made no frame budget for {component}"
            )
        return np.asarray(self.frame_budgets[component]["indices"], dtype=np.int64)

    def dense_chunks(self) -> Iterator[VideoChunk]:
        return iter_video_chunks(self.storage, f"{self.prefix}/dense", self._index_sha256("dense"))

    def analysis_chunks(self) -> Iterator[VideoChunk]:
        prefix = f"{self.prefix}/analysis"
        return iter_video_chunks(self.storage, prefix, self._index_sha256("analysis"))

    def budget_frames(self, component: str) -> Iterator[VideoChunk]:
        """The analysis frames of `component`'s budget, at most `BUDGET_SLICE_FRAMES` at a
        time; frames outside the budget are not decoded."""
        prefix = f"{self.prefix}/analysis"
        return iter_video_chunks(
            self.storage,
            prefix,
            self._index_sha256("analysis"),
            positions=self.budget(component),
            max_frames=BUDGET_SLICE_FRAMES,
        )

    def has_stream(self, name: str) -> bool:
        return name in self.metadata["streams"]

    def audio_index(self, name: str) -> dict:
        return read_index(self.storage, f"{self.prefix}/{name}", self._index_sha256(name))

    def audio_chunks(self, name: str) -> Iterator[AudioChunk]:
        """`audio_model` (16 kHz mono) or `audio_native` (original rate and channels)."""
        return iter_audio_chunks(self.storage, f"{self.prefix}/{name}", self._index_sha256(name))
