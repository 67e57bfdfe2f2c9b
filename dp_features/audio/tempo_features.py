"""`tempo_extractor`'s feature-table columns: tempo, beat confidence, beat count and rate,
and mean onset strength, from its artifact arrays.

Beside the tempo estimator (tempo.py, tempo_levels.py) rather than in it: those modules
hold the estimator alone.
"""

from __future__ import annotations

from dp_core.component_spec import FeatureSet
from dp_features.feature_stats import Arrays, finite_values, first_value, mean_or_nan, ratio_or_nan


def _features(a: Arrays) -> dict[str, float]:
    beats = finite_values(a, "beat_times_s")
    onset_times = finite_values(a, "onset_times_s")
    span = float(onset_times.max() - onset_times.min()) if onset_times.size > 1 else 0.0
    return {
        "tempo_extractor_tempo_bpm": first_value(a, "tempo_bpm"),
        "tempo_extractor_beat_confidence": first_value(a, "beat_confidence"),
        "tempo_extractor_beat_count": float(beats.size),
        "tempo_extractor_beats_per_minute_observed": ratio_or_nan(60.0 * beats.size, span),
        "tempo_extractor_onset_strength_mean": mean_or_nan(finite_values(a, "onset_strength")),
    }


TEMPO_FEATURES = FeatureSet(
    _features,
    {
        "tempo_extractor_tempo_bpm": "global tempo, beats per minute",
        "tempo_extractor_beat_confidence": "beat tracking confidence, 0..1",
        "tempo_extractor_beat_count": "count of tracked beats",
        "tempo_extractor_beats_per_minute_observed": "tracked beats per minute of audio",
        "tempo_extractor_onset_strength_mean": "mean onset strength",
    },
)
