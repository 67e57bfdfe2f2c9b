"""Speech activity with Silero VAD over 16 kHz mono audio, chunk by chunk.

The model (`silero_vad.onnx`, Silero VAD v6) is recurrent: each call takes one 512-sample
(32 ms) frame preceded by the last 64 samples of the previous frame (its "context"), plus
the LSTM state [2, 1, 128] that the previous call returned, and gives the probability that
the frame holds speech. Frame i covers samples [512 i, 512 i + 512) from the first sample;
the last, partial frame is zero-padded (as Silero's `get_speech_timestamps` does). We carry
the state, the context and the samples of an unfinished frame from chunk to chunk, so any
chunking of the track gives the same probabilities, and memory holds one chunk plus the
probability curve (one float per 32 ms, ~0.5 MB per hour).

Segments (Silero's `get_speech_timestamps_from_probs`, without its max-duration split):
speech starts at the first frame with p >= `threshold`; once in speech, it ends at the
first frame of a run with p < `neg_threshold` (default threshold - 0.15) that lasts
`min_silence_s`; frames between the two thresholds neither start nor end speech
(hysteresis). Segments of `min_speech_s` or less are dropped; the rest are widened by
`speech_pad_s` on each side (neighbours closer than twice that share the gap), and
clipped to the audio. No segment at all is the `empty` status, not an error.

Music is not speech (`gate_music`): Silero alone takes some music for speech (on Big Buck
Bunny's opening, birds over an orchestra, it reports 2.7-5.0 s). The audio-event model
(YAMNet, dp_features/audio/audio_events.py) says per 0.96 s window how much it hears
speech and music. A segment where its music evidence outweighs its speech evidence is
kept only when Silero is sure of it (median frame probability >= `confident`): speech
over music keeps that (TTS over soundtracks: medians 0.96-1.0 at +6 dB), while the
music-only segments seen sit lower (Big Buck Bunny: 0.78). YAMNet alone cannot do it:
over music at 0 dB it gives speech 0.0-0.3 to windows that are full of speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.audio.chunk_stream import stream_origin, to_mono
from dp_features.feature_stats import Arrays, first_value, mean_or_nan, span_rows

SAMPLE_RATE = 16000
FRAME_SAMPLES = 512  # 32 ms
CONTEXT_SAMPLES = 64
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
STATE_SHAPE = (2, 1, 128)


class Model(Protocol):
    """What we need of a model runtime (`dp_resources.models.onnx_runtime.OnnxModel` fits)."""

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class VadParams:
    threshold: float = 0.5
    neg_threshold: float | None = None  # None: max(threshold - 0.15, 0.01), as Silero
    min_speech_s: float = 0.25
    min_silence_s: float = 0.1
    speech_pad_s: float = 0.03

    @property
    def exit_threshold(self) -> float:
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)


@dataclass(frozen=True)
class SpeechActivity:
    speech_segments_s: np.ndarray  # float64 [N, 2], (start, end) in s from the video start
    speech_ratio: float  # speech seconds / audio seconds, 0..1
    speech_probability: np.ndarray  # float32 [F], one per 32 ms frame
    probability_times_s: np.ndarray  # float64 [F], start of each frame, s from the video start
    duration_s: float
    status: Literal["ok", "empty"]

    @property
    def speech_s(self) -> float:
        return float(np.sum(self.speech_segments_s[:, 1] - self.speech_segments_s[:, 0]))

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays (headline: `speech_segments_s`, `speech_ratio`)."""
        return {
            "speech_segments_s": self.speech_segments_s,
            "speech_ratio": np.float64(self.speech_ratio),
            "speech_probability": self.speech_probability,
            "probability_times_s": self.probability_times_s,
        }


@dataclass
class SpeechProbabilityStream:
    """Silero VAD frame probabilities over a stream of chunks: `feed` each chunk in order
    (it returns the probabilities of the frames it completed), then `finish`."""

    model: Model
    sample_rate: int = SAMPLE_RATE
    _state: np.ndarray = field(default_factory=lambda: np.zeros(STATE_SHAPE, np.float32))
    _context: np.ndarray = field(default_factory=lambda: np.zeros(CONTEXT_SAMPLES, np.float32))
    _pending: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _origin_s: float | None = None
    _samples_seen: int = 0
    _probabilities: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.sample_rate != SAMPLE_RATE:
            raise DpError(
                ErrorCode.INPUT_UNSUPPORTED,
                f"speech activity needs {SAMPLE_RATE} Hz audio, got {self.sample_rate} Hz",
            )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    @property
    def origin_s(self) -> float:
        return self._origin_s or 0.0

    @property
    def samples_seen(self) -> int:
        return self._samples_seen

    def feed(self, samples: np.ndarray, start_s: float = 0.0) -> np.ndarray:
        """Add the next chunk (mono float32 [n] or [1, n]; `start_s` its time in the video;
        chunks must be contiguous). Returns float32 probabilities of the completed frames."""
        mono = to_mono(samples)
        self._origin_s = stream_origin(
            self._origin_s, self._samples_seen, self.sample_rate, start_s
        )
        self._samples_seen += mono.size
        buffered = np.concatenate([self._pending, mono])
        n_frames = buffered.size // FRAME_SAMPLES
        self._pending = buffered[n_frames * FRAME_SAMPLES :]
        probabilities = self._run_frames(buffered[: n_frames * FRAME_SAMPLES])
        self._probabilities.append(probabilities)
        return probabilities

    def finish(self) -> np.ndarray:
        """Zero-pad and score the last partial frame; returns the whole curve [F]."""
        if self._pending.size:
            last = np.zeros(FRAME_SAMPLES, np.float32)
            last[: self._pending.size] = self._pending
            self._probabilities.append(self._run_frames(last))
            self._pending = np.zeros(0, np.float32)
        return self.probabilities()

    def probabilities(self) -> np.ndarray:
        if not self._probabilities:
            return np.zeros(0, np.float32)
        return np.concatenate(self._probabilities)

    def _run_frames(self, samples: np.ndarray) -> np.ndarray:
        out = np.empty(samples.size // FRAME_SAMPLES, np.float32)
        for i, frame in enumerate(samples.reshape(-1, FRAME_SAMPLES)):
            x = np.concatenate([self._context, frame])[None, :]
            result = self.model.run({"input": x, "state": self._state, "sr": self._sr})
            out[i] = float(np.asarray(result["output"]).reshape(-1)[0])
            self._state = np.asarray(result["stateN"], np.float32)
            self._context = frame[-CONTEXT_SAMPLES:]
        return out


def speech_segments(
    probabilities: np.ndarray, n_samples: int, params: VadParams = VadParams()
) -> np.ndarray:
    """float64 [N, 2] speech (start, end) in seconds from the first sample, from per-frame
    probabilities (module docstring); `n_samples` is the audio's length."""
    enter, leave = params.threshold, params.exit_threshold
    min_silence = params.min_silence_s * SAMPLE_RATE
    raw: list[list[int]] = []  # in samples
    start = silence_from = None
    for i, p in enumerate(np.asarray(probabilities, dtype=np.float64)):
        at = i * FRAME_SAMPLES
        if p >= enter:
            silence_from = None
            if start is None:
                start = at
            continue
        if start is not None and p < leave:
            if silence_from is None:
                silence_from = at
            if at - silence_from >= min_silence:
                raw.append([start, silence_from])
                start = silence_from = None
    if start is not None:
        raw.append([start, n_samples])
    min_speech = params.min_speech_s * SAMPLE_RATE
    kept = [seg for seg in raw if seg[1] - seg[0] > min_speech]
    pad = params.speech_pad_s * SAMPLE_RATE
    for i, seg in enumerate(kept):
        if i == 0:
            seg[0] = max(0, seg[0] - pad)
        if i + 1 < len(kept):
            gap = kept[i + 1][0] - seg[1]
            share = gap / 2 if gap < 2 * pad else pad
            seg[1] += share
            kept[i + 1][0] -= share
        else:
            seg[1] = min(n_samples, seg[1] + pad)
    segments = np.array(kept, dtype=np.float64).reshape(-1, 2) / SAMPLE_RATE
    return np.clip(segments, 0.0, n_samples / SAMPLE_RATE)


def speech_activity_from_stream(
    stream: SpeechProbabilityStream, params: VadParams = VadParams()
) -> SpeechActivity:
    """Finish `stream` and turn its probabilities into segments and the speech ratio."""
    probabilities = stream.finish()
    n_samples = stream.samples_seen
    segments = speech_segments(probabilities, n_samples, params)
    duration_s = n_samples / SAMPLE_RATE
    speech_s = float(np.sum(segments[:, 1] - segments[:, 0]))
    return SpeechActivity(
        speech_segments_s=segments + stream.origin_s,
        speech_ratio=speech_s / duration_s if duration_s > 0 else 0.0,
        speech_probability=probabilities,
        probability_times_s=stream.origin_s + np.arange(probabilities.size) * FRAME_S,
        duration_s=duration_s,
        status="ok" if len(segments) else "empty",
    )


YAMNET_SPEECH = 0  # "Speech" in YAMNet's AudioSet class map
YAMNET_MUSIC = 132  # "Music"


@dataclass(frozen=True)
class MusicGate:
    confident: float = 0.9  # Silero median probability that keeps a segment music outweighs


@dataclass(frozen=True)
class GatedSpeech:
    activity: SpeechActivity  # the kept segments (ratio and status follow them)
    dropped_segments_s: np.ndarray  # float64 [M, 2]: Silero's segments taken for music
    segment_speech: np.ndarray  # float32 [N + M]: YAMNet speech evidence per Silero segment
    segment_music: np.ndarray  # float32 [N + M]: music evidence per Silero segment


def gate_music(
    activity: SpeechActivity,
    window_times_s: np.ndarray,
    window_scores: np.ndarray,
    window_s: float,
    gate: MusicGate = MusicGate(),
) -> GatedSpeech:
    """Drop the speech segments that the audio-event windows call music (module doc).

    `window_times_s` [W] (start of each window, seconds from the video start, spanning
    `window_s`) and `window_scores` [W, C] are YAMNet's (`YAMNET_SPEECH`, `YAMNET_MUSIC`
    columns). A segment's evidence is the mean over the windows that overlap it; a segment
    with no window (audio shorter than one) is kept.
    """
    segments = activity.speech_segments_s
    starts = np.asarray(window_times_s, np.float64)
    scores = np.asarray(window_scores, np.float32)
    keep = np.ones(len(segments), bool)
    speech_ev = np.zeros(len(segments), np.float32)
    music_ev = np.zeros(len(segments), np.float32)
    for i, (start, end) in enumerate(segments):
        windows = (starts < end) & (starts + window_s > start)
        if not windows.any():
            continue
        speech_ev[i] = scores[windows, YAMNET_SPEECH].mean()
        music_ev[i] = scores[windows, YAMNET_MUSIC].mean()
        if music_ev[i] > speech_ev[i]:
            frames = (activity.probability_times_s >= start) & (activity.probability_times_s < end)
            median = float(np.median(activity.speech_probability[frames])) if frames.any() else 0.0
            keep[i] = median >= gate.confident
    kept = segments[keep]
    speech_s = float(np.sum(kept[:, 1] - kept[:, 0]))
    gated = SpeechActivity(
        speech_segments_s=kept,
        speech_ratio=speech_s / activity.duration_s if activity.duration_s > 0 else 0.0,
        speech_probability=activity.speech_probability,
        probability_times_s=activity.probability_times_s,
        duration_s=activity.duration_s,
        status="ok" if len(kept) else "empty",
    )
    return GatedSpeech(gated, segments[~keep].reshape(-1, 2), speech_ev, music_ev)


def speech_activity(chunks, model: Model, params: VadParams = VadParams()) -> SpeechActivity:
    """Silero VAD over an iterable of audio chunks: objects with `samples` ([1, n] float32,
    16 kHz) and `start_s`, or `(samples, start_s)` pairs. No speech gives status `empty`."""
    stream = SpeechProbabilityStream(model)
    for chunk in chunks:
        samples, start_s = chunk if isinstance(chunk, tuple) else (chunk.samples, chunk.start_s)
        stream.feed(samples, start_s)
    return speech_activity_from_stream(stream, params)


def _features(a: Arrays) -> dict[str, float]:
    segments = span_rows(a, "speech_segments_s")
    lengths = segments[:, 1] - segments[:, 0]
    return {
        "speech_activity_speech_ratio": first_value(a, "speech_ratio"),
        "speech_activity_segment_count": float(len(segments)),
        "speech_activity_segment_length_mean_s": mean_or_nan(lengths),
    }


# speech_activity's feature-table columns ({column: description, units}).
SPEECH_FEATURES = FeatureSet(
    _features,
    {
        "speech_activity_speech_ratio": "share of the audio with speech, 0..1",
        "speech_activity_segment_count": "count of speech segments",
        "speech_activity_segment_length_mean_s": "mean speech segment length, seconds",
    },
)
