"""Held-out metrics on log1p(target), for the model and two naive baselines.

- Spearman rho: does the model rank videos in the right order (-1..1, 1 = same order)?
- MAE on log: mean |log1p(true) - predicted|; 0.69 means off by a factor of 2 on average.
- R²: share of the variance of log1p(target) explained (1 = perfect, 0 = the mean, < 0 worse).
Baselines, fitted on the train split only:
- channel mean: a straight line from the channel's mean views per video (its statistics,
  as of the video's first snapshot) to log1p(target); the test channels are never in train,
  so their own target history cannot be used;
- age only: a straight line from log1p(age at target, days) to log1p(target).
A baseline without its input for a row predicts the train mean for it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

BASELINE_INPUTS = {
    "channel_mean": "channel_views_per_video_log1p",
    "age_only": "age_at_target_days",
}


def spearman(truth: np.ndarray, predicted: np.ndarray) -> float:
    if np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return float("nan")  # undefined for a constant ranking
    return float(spearmanr(truth, predicted).statistic)


def mae(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(truth - predicted)))


def r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((truth - truth.mean()) ** 2))
    return 1.0 - float(np.sum((truth - predicted) ** 2)) / total if total > 0 else float("nan")


def scores(truth_log: np.ndarray, predicted_log: np.ndarray) -> dict[str, float]:
    return {
        "spearman": spearman(truth_log, predicted_log),
        "mae_log": mae(truth_log, predicted_log),
        "r2": r2(truth_log, predicted_log),
    }


def _baseline_input(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = frame[BASELINE_INPUTS[name]].to_numpy(np.float64)
    return np.log1p(values) if name == "age_only" else values


def baseline_predictions(
    train: pd.DataFrame, test: pd.DataFrame, target: str, name: str
) -> np.ndarray:
    """Predicted log1p(target) on `test` by baseline `name`, fitted on `train`."""
    truth = np.log1p(train[target].to_numpy(np.float64))
    x_train = _baseline_input(train, name)
    x_test = _baseline_input(test, name)
    usable = np.isfinite(x_train)
    fallback = float(truth.mean())
    if usable.sum() < 2 or np.ptp(x_train[usable]) == 0:
        return np.full(len(test), fallback)
    slope, intercept = np.polyfit(x_train[usable], truth[usable], 1)
    return np.where(np.isfinite(x_test), slope * x_test + intercept, fallback)


def evaluate(
    train: pd.DataFrame, test: pd.DataFrame, target: str, predicted_log: np.ndarray
) -> dict[str, dict[str, float]]:
    """{'model' | 'baseline_channel_mean' | 'baseline_age_only': {spearman, mae_log, r2}}."""
    truth = np.log1p(test[target].to_numpy(np.float64))
    result = {"model": scores(truth, predicted_log)}
    for name in BASELINE_INPUTS:
        result[f"baseline_{name}"] = scores(truth, baseline_predictions(train, test, target, name))
    return result
