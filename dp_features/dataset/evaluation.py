"""The model against its baselines on the test split: point metrics, channel-bootstrap
ranges, and the plain verdict (metrics.py defines each)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dp_features.dataset.metrics import (
    bootstrap_ranges,
    global_mean_predictions,
    persistence_predictions,
    scores,
    verdict,
)

SERIES_LABELS = {
    "model": "LightGBM (all features)",
    "persistence": "persistence (prior at T)",
    "global_mean": "global mean",
    "metadata_only": "metadata only",
    "content_only": "content only",
}


def evaluate_models(
    development: pd.DataFrame, test: pd.DataFrame, models: dict[str, dict], samples: int
) -> dict:
    """`models[target][variant]` (model, metadata_only, content_only) -> every figure."""
    result: dict = {
        k: {} for k in ("metrics", "ranges", "differences", "importance", "predictions")
    }
    result["verdict"], result["test_rows"] = [], {}
    for target, variants in models.items():
        known = test[test[target].notna()].reset_index(drop=True)
        truth = np.log1p(known[target].to_numpy(np.float64))
        predictions = {"model": variants["model"].predict_log(known)}
        predictions["persistence"] = persistence_predictions(development, known, target)
        predictions["global_mean"] = global_mean_predictions(development, known, target)
        for variant in ("metadata_only", "content_only"):
            if variant in variants:
                predictions[variant] = variants[variant].predict_log(known)
        groups = (
            known["channel_id"].astype("object").fillna("video:" + known["video_key"]).to_numpy()
        )
        point = {series: scores(truth, p) for series, p in predictions.items()}
        ranges, differences = bootstrap_ranges(groups, truth, predictions, samples)
        result["metrics"][target] = point
        result["ranges"][target] = ranges
        result["differences"][target] = differences
        result["verdict"] += verdict(target, point, differences, SERIES_LABELS)
        result["importance"][target] = variants["model"].importance()
        result["predictions"][target] = {
            "truth_log": truth.tolist(),
            "predicted_log": predictions["model"].tolist(),
        }
        result["test_rows"][target] = len(known)
    result["test_channels"] = int(test["channel_id"].nunique())
    return result
