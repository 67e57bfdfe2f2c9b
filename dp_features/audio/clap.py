"""CLAP audio embeddings per window, a clip embedding, and zero-shot tags, chunk by chunk.

Input: the segmenter's native audio, float32 [C, n] chunks at the original rate with
their start times. Each chunk is downmixed to mono (channel mean) and, when the rate is
not 48 kHz, resampled to 48 kHz by a streaming resampler whose output does not depend on
the chunking: `soxr.ResampleStream` (quality HQ) when `soxr` is installed (it comes with
librosa), else a streaming form of `scipy.signal.resample_poly` that carries the filter's
context from chunk to chunk and gives the one-shot result exactly. The 48 kHz track is
trimmed or zero-padded to round(n * 48000 / rate) samples.

Windows: 10 s (480000 samples at 48 kHz), every `hop_s` (default 10 s, no overlap),
on one grid from the first sample: window w covers [w * hop, w * hop + 10 s). A window is
made while it starts inside the audio and the previous one did not already reach the
end, so 25 s gives [0, 10], [10, 20], [20, 25] (the last one zero-padded to 10 s), audio
shorter than 10 s gives one padded window, and no audio gives none (status `empty`).
`window_times_s` are (start, end) in seconds from the video start, the end clipped to the
audio's end.

Embeddings come from any embedder with `embed_audio(float32 [B, 480000]) -> [B, D]` and
`embed_text(list[str]) -> [B, D]`, both L2-normalised (`dp_resources.models.families.clap.ClapModel`
fits); windows go to it `batch_size` at a time. The clip embedding is the mean of the
window embeddings, renormalised to unit length.

Zero-shot tags (as CLAP's zero-shot classification): each tag name becomes a prompt by
`prompt_template` ("This is a sound of {}.", LAION CLAP's own template); scores are
softmax(cosine(audio, prompt) / temperature) over the tags, for the clip embedding
(`tag_scores`) and per window (`window_tag_scores`); each row sums to 1. The default
temperature 0.01 (logit scale 100) is CLIP's trained value; the real model's learned
`logit_scale_a` can replace it through the profile. The tags compete with each other:
a score says which listed concept fits best, not whether a sound is present.

Memory: one chunk plus one window of 48 kHz samples, up to `batch_size` windows waiting
for the embedder (1.9 MB each), and 512 floats per window (~0.7 MB per hour at the
default hop).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from dp_core.errors import DpError, ErrorCode
from dp_features.audio.chunk_stream import stream_origin, to_mono

SAMPLE_RATE = 48000
WINDOW_S = 10.0
WINDOW_SAMPLES = 480000
DEFAULT_PROMPT_TEMPLATE = "This is a sound of {}."
DEFAULT_TEMPERATURE = 0.01
DEFAULT_TAGS = (
    "speech",
    "conversation",
    "shouting",
    "whispering",
    "laughter",
    "crying",
    "singing",
    "music",
    "drums",
    "guitar",
    "piano",
    "applause",
    "crowd",
    "silence",
    "wind",
    "rain",
    "water",
    "car engine",
    "traffic",
    "siren",
    "dog barking",
    "birds chirping",
    "footsteps",
    "explosion",
)


class Embedder(Protocol):
    """What we need of a CLAP model (`dp_resources.models.families.clap.ClapModel` fits)."""

    def embed_audio(self, waveforms: np.ndarray) -> np.ndarray: ...

    def embed_text(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class ClapParams:
    hop_s: float = WINDOW_S
    batch_size: int = 8
    tags: tuple[str, ...] = DEFAULT_TAGS
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    temperature: float = DEFAULT_TEMPERATURE
    top_k: int = 5

    def __post_init__(self) -> None:
        problems = []
        if not self.hop_s > 0:
            problems.append(f"hop_s {self.hop_s} must be > 0")
        if self.batch_size < 1:
            problems.append(f"batch_size {self.batch_size} must be >= 1")
        if not self.tags or len(set(self.tags)) != len(self.tags):
            problems.append("tags must be a non-empty list without repeats")
        if "{}" not in self.prompt_template:
            problems.append(f"prompt_template {self.prompt_template!r} has no {{}} for the tag")
        if not self.temperature > 0:
            problems.append(f"temperature {self.temperature} must be > 0")
        if self.top_k < 0:
            problems.append(f"top_k {self.top_k} must be >= 0")
        if problems:
            raise DpError(ErrorCode.CONFIG_INVALID, "CLAP: " + "; ".join(problems))

    @property
    def hop_samples(self) -> int:
        return max(1, round(self.hop_s * SAMPLE_RATE))

    @property
    def prompts(self) -> list[str]:
        return [self.prompt_template.format(tag) for tag in self.tags]


@dataclass(frozen=True)
class ClapResult:
    window_times_s: np.ndarray  # float64 [W, 2], (start, end) s from the video start
    embeddings: np.ndarray  # float32 [W, D], unit vectors
    embedding: np.ndarray  # float32 [D], renormalised mean (zeros when W = 0)
    tag_names: np.ndarray  # unicode [K]
    tag_scores: np.ndarray  # float32 [K], softmax over tags for the clip (zeros when W = 0)
    window_tag_scores: np.ndarray  # float32 [W, K]
    top_tags: np.ndarray  # unicode [k], best first
    top_tag_scores: np.ndarray  # float32 [k]
    duration_s: float
    input_sample_rate: int
    resampler: str  # "none" | "soxr-hq" | "scipy-resample_poly"
    status: Literal["ok", "empty"]

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays (headline: `embedding`, `top_tags`)."""
        return {
            "embedding": self.embedding,
            "embeddings": self.embeddings,
            "window_times_s": self.window_times_s,
            "tag_names": self.tag_names,
            "tag_scores": self.tag_scores,
            "window_tag_scores": self.window_tag_scores,
            "top_tags": self.top_tags,
            "top_tag_scores": self.top_tag_scores,
        }


def zero_shot_scores(
    audio_embeddings: np.ndarray, text_embeddings: np.ndarray, temperature: float
) -> np.ndarray:
    """float32 [..., K]: softmax over K prompts of cosine(audio, prompt) / temperature.
    Inputs are unit vectors ([..., D] and [K, D]); each output row sums to 1."""
    logits = np.asarray(audio_embeddings, np.float64) @ np.asarray(text_embeddings, np.float64).T
    logits = logits / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def mean_embedding(embeddings: np.ndarray) -> np.ndarray:
    """The renormalised mean of unit vectors [W, D] -> [D] (zeros when W = 0 or the mean
    vanishes)."""
    embeddings = np.asarray(embeddings, np.float64)
    if len(embeddings) == 0:
        return np.zeros(embeddings.shape[1], np.float32)
    mean = embeddings.mean(axis=0)
    norm = np.linalg.norm(mean)
    return (mean / norm if norm > 1e-12 else mean * 0.0).astype(np.float32)


def window_count(n_samples: int, hop_samples: int, window_samples: int = WINDOW_SAMPLES) -> int:
    """How many windows `n_samples` of 48 kHz audio make (module docstring)."""
    if n_samples <= 0:
        return 0
    if n_samples <= window_samples:
        return 1
    if hop_samples <= window_samples:
        return 1 + math.ceil((n_samples - window_samples) / hop_samples)
    # Gaps between windows: every window that starts inside the audio.
    return math.ceil(n_samples / hop_samples)


class _SoxrStream:
    name = "soxr-hq"

    def __init__(self, soxr_module, in_rate: int):
        self._stream = soxr_module.ResampleStream(
            in_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ"
        )

    def feed(self, samples: np.ndarray) -> np.ndarray:
        return self._stream.resample_chunk(samples, last=False)

    def finish(self) -> np.ndarray:
        return self._stream.resample_chunk(np.zeros(0, np.float32), last=True)


class _ResamplePolyStream:
    """`scipy.signal.resample_poly(x, up, down)` over a stream, equal to the one-shot call.

    Output j depends on inputs within `margin` of j * down / up (resample_poly's Kaiser
    FIR has a half-length of 10 * max(up, down) upsampled samples); an output is emitted
    once its inputs have all arrived, and the buffer keeps only what later outputs need,
    starting at a multiple of `down` so that the polyphase alignment stays that of the
    whole signal."""

    name = "scipy-resample_poly"

    def __init__(self, in_rate: int):
        from scipy.signal import resample_poly

        self._resample = resample_poly
        g = math.gcd(in_rate, SAMPLE_RATE)
        self.up, self.down = SAMPLE_RATE // g, in_rate // g
        self.margin = -(-10 * max(self.up, self.down) // self.up) + 2
        self._buffer = np.zeros(0, np.float32)
        self._buffer_start = 0
        self._n_in = 0
        self._next_out = 0

    def feed(self, samples: np.ndarray) -> np.ndarray:
        self._buffer = np.concatenate([self._buffer, samples])
        self._n_in += samples.size
        end = max(0, self._n_in - self.margin) * self.up // self.down
        if end <= self._next_out:
            return np.zeros(0, np.float32)
        out = self._emit(end)
        needed = self._next_out * self.down // self.up - self.margin
        keep = max(self._buffer_start, needed // self.down * self.down)
        self._buffer = self._buffer[keep - self._buffer_start :]
        self._buffer_start = keep
        return out

    def finish(self) -> np.ndarray:
        total = -(-self._n_in * self.up // self.down)
        if total <= self._next_out:
            return np.zeros(0, np.float32)
        return self._emit(total)

    def _emit(self, end: int) -> np.ndarray:
        resampled = self._resample(self._buffer, self.up, self.down)
        offset = self._buffer_start * self.up // self.down
        out = resampled[self._next_out - offset : end - offset].astype(np.float32)
        self._next_out = end
        return out


def _resampler(in_rate: int, prefer_soxr: bool = True):
    if prefer_soxr:
        try:
            import soxr
        except ImportError:
            pass
        else:
            return _SoxrStream(soxr, in_rate)
    return _ResamplePolyStream(in_rate)


@dataclass
class ClapStream:
    """CLAP over a stream of audio chunks at `sample_rate`: `feed` each chunk in order
    ([C, n] or [n] float32, with its start time in seconds), then `finish`."""

    embedder: Embedder
    sample_rate: int
    params: ClapParams = field(default_factory=ClapParams)
    prefer_soxr: bool = True
    _origin_s: float | None = None
    _samples_in: int = 0
    _buffer: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    _buffer_start: int = 0  # index at 48 kHz of the buffer's first sample
    _samples_48k: int = 0
    _next_window: int = 0
    _pending: list[np.ndarray] = field(default_factory=list, repr=False)
    _embeddings: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise DpError(ErrorCode.INPUT_CORRUPT, f"audio sample rate {self.sample_rate} Hz")
        self._resampler = (
            None
            if self.sample_rate == SAMPLE_RATE
            else _resampler(self.sample_rate, self.prefer_soxr)
        )

    @property
    def resampler_name(self) -> str:
        return "none" if self._resampler is None else self._resampler.name

    def feed(self, samples: np.ndarray, start_s: float = 0.0) -> None:
        mono = to_mono(samples)
        self._origin_s = stream_origin(self._origin_s, self._samples_in, self.sample_rate, start_s)
        self._samples_in += mono.size
        self._add_48k(mono if self._resampler is None else self._resampler.feed(mono))

    def finish(self) -> ClapResult:
        """Pad the last window, embed what is left, and score the tags."""
        if self._resampler is not None:
            self._add_48k(self._resampler.finish(), final=True)
        n_total = round(self._samples_in * SAMPLE_RATE / self.sample_rate)
        hop = self.params.hop_samples
        for w in range(self._next_window, window_count(n_total, hop)):
            start = w * hop - self._buffer_start
            window = self._buffer[start : start + WINDOW_SAMPLES]
            window = window[: max(0, n_total - w * hop)]  # the nominal length, not beyond
            padded = np.zeros(WINDOW_SAMPLES, np.float32)
            padded[: window.size] = window
            self._pending.append(padded)
        self._next_window = window_count(n_total, hop)
        self._buffer = np.zeros(0, np.float32)
        self._embed_pending(force=True)
        return self._result()

    def _add_48k(self, samples: np.ndarray, final: bool = False) -> None:
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32)])
        self._samples_48k += samples.size
        if final:
            return
        hop = self.params.hop_samples
        while self._next_window * hop + WINDOW_SAMPLES <= self._samples_48k:
            start = self._next_window * hop - self._buffer_start
            self._pending.append(self._buffer[start : start + WINDOW_SAMPLES].copy())
            self._next_window += 1
        drop = min(self._next_window * hop, self._samples_48k) - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._buffer_start += drop
        self._embed_pending(force=False)

    def _embed_pending(self, force: bool) -> None:
        size = self.params.batch_size
        while len(self._pending) >= size or (force and self._pending):
            batch, self._pending = self._pending[:size], self._pending[size:]
            embedded = np.asarray(self.embedder.embed_audio(np.stack(batch)), np.float32)
            if embedded.ndim != 2 or len(embedded) != len(batch):
                raise DpError(
                    ErrorCode.MODEL_BAD_OUTPUT,
                    f"CLAP audio embedder returned shape {embedded.shape} for {len(batch)} windows",
                )
            self._embeddings.append(embedded)

    def _result(self) -> ClapResult:
        params = self.params
        text = np.asarray(self.embedder.embed_text(params.prompts), np.float32)
        dim = text.shape[1] if text.ndim == 2 else 0
        if text.shape != (len(params.tags), dim) or dim == 0:
            raise DpError(
                ErrorCode.MODEL_BAD_OUTPUT,
                f"CLAP text embedder returned shape {text.shape} for {len(params.tags)} prompts",
            )
        embeddings = (
            np.concatenate(self._embeddings) if self._embeddings else np.zeros((0, dim), np.float32)
        )
        if embeddings.shape[1] != dim:
            raise DpError(
                ErrorCode.MODEL_BAD_OUTPUT,
                f"CLAP audio embeddings are {embeddings.shape[1]}-d, text embeddings {dim}-d",
            )
        n = len(embeddings)
        origin = self._origin_s or 0.0
        duration = self._samples_in / self.sample_rate
        starts = np.arange(n, dtype=np.float64) * params.hop_samples / SAMPLE_RATE
        ends = np.minimum(starts + WINDOW_S, duration)
        clip = mean_embedding(embeddings)
        tag_names = np.array(params.tags, dtype=str)
        window_scores = zero_shot_scores(embeddings, text, params.temperature).reshape(
            n, len(tag_names)
        )
        scores = (
            zero_shot_scores(clip, text, params.temperature)
            if n
            else np.zeros(len(tag_names), np.float32)
        )
        order = np.argsort(-scores, kind="stable")[: min(params.top_k, len(tag_names)) if n else 0]
        return ClapResult(
            window_times_s=origin + np.stack([starts, ends], axis=1).reshape(n, 2),
            embeddings=embeddings,
            embedding=clip,
            tag_names=tag_names,
            tag_scores=scores,
            window_tag_scores=window_scores,
            top_tags=tag_names[order],
            top_tag_scores=scores[order],
            duration_s=duration,
            input_sample_rate=self.sample_rate,
            resampler=self.resampler_name,
            status="ok" if n else "empty",
        )


def clap_embeddings(
    chunks: Iterable,
    embedder: Embedder,
    sample_rate: int,
    params: ClapParams | None = None,
) -> ClapResult:
    """CLAP over an iterable of audio chunks: objects with `samples` ([C, n] float32 at
    `sample_rate`) and `start_s`, or `(samples, start_s)` pairs."""
    stream = ClapStream(embedder, sample_rate, params or ClapParams())
    for chunk in chunks:
        samples, start_s = chunk if isinstance(chunk, tuple) else (chunk.samples, chunk.start_s)
        stream.feed(samples, start_s)
    return stream.finish()
