"""Held-out metrics on log1p(target at H), baselines, channel bootstrap ranges, the verdict.

- Spearman rho: does the model rank videos in the right order (-1..1, 1 = same order)?
- MAE on log: mean |log1p(true) - predicted|; 0.69 means off by a factor of 2 on average.
- R²: share of the variance of log1p(target) explained (1 = perfect, 0 = the mean).
- MAPE as SMP-Video scores it: mean |predicted - true| / true on the LOG scale (the
  challenge's popularity score is a log of the count; the base cancels in the ratio).
  Rows with log1p(true) = 0 are left out. It depends on the target's level: a MAPE of
  0.17 on log views of ~7 is an MAE of ~1.2, a factor of ~3 — read it with the bias.
- Bias: mean(predicted - true) on log; `bias_ratio` = exp(bias), the typical factor by
  which predicted counts are too high (> 1) or too low (< 1).

Baselines (fitted on the development rows = train + validation, never on test):
- persistence: log1p(target) from the prior at T (log1p of views or likes at the last
  snapshot at age <= T) and log(age of that snapshot), a least-squares line; rows without
  a prior get the development mean;
- global mean: the development mean of log1p(target);
- metadata only / content only: the same LightGBM procedure on the metadata (snapshot,
  channel, publish time) or the content (artifact) columns alone (training.py).

Ranges: the test channels are resampled with replacement (`bootstrap_samples` times, a
fixed seed); each range is the 2.5-97.5 % percentile of the metric, and of the model's
difference to each baseline on the same resample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

METRICS = ("spearman", "mae_log", "r2", "mape_log", "bias_log")
LOWER_IS_BETTER = {"mae_log", "mape_log"}
PERSISTENCE_INPUT = {"views": "prior_views_log1p", "likes": "prior_likes_log1p"}
SEED = 20240611


def spearman(truth: np.ndarray, predicted: np.ndarray) -> float:
    if len(truth) < 2 or np.ptp(predicted) == 0 or np.ptp(truth) == 0:
        return float("nan")  # undefined for a constant ranking
    return float(spearmanr(truth, predicted).statistic)


def mae(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(truth - predicted)))


def r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((truth - truth.mean()) ** 2))
    return 1.0 - float(np.sum((truth - predicted) ** 2)) / total if total > 0 else float("nan")


def mape_log(truth_log: np.ndarray, predicted_log: np.ndarray) -> float:
    """SMP-Video's MAPE: mean |predicted - true| / true of the log-scale score."""
    usable = truth_log > 0
    if not usable.any():
        return float("nan")
    return float(np.mean(np.abs(predicted_log[usable] - truth_log[usable]) / truth_log[usable]))


def bias(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(predicted - truth))


def scores(truth_log: np.ndarray, predicted_log: np.ndarray) -> dict[str, float]:
    mean_bias = bias(truth_log, predicted_log)
    return {
        "spearman": spearman(truth_log, predicted_log),
        "mae_log": mae(truth_log, predicted_log),
        "r2": r2(truth_log, predicted_log),
        "mape_log": mape_log(truth_log, predicted_log),
        "bias_log": mean_bias,
        "bias_ratio": float(np.exp(mean_bias)),
    }


@dataclass
class PersistenceLine:
    """log1p(target) ~ a + b log1p(prior at T) + c log(age of the prior, days), by least
    squares; a row without a prior gets `fallback` (the fitting rows' mean)."""

    target: str
    coefficients: list[float]  # [a, b, c]; empty: no usable prior, the mean for every row
    fallback: float

    def inputs(self, frame: pd.DataFrame) -> np.ndarray:
        prior = frame[PERSISTENCE_INPUT[self.target]].to_numpy(np.float64)
        age = frame["prior_age_days"].to_numpy(np.float64)
        return np.stack([prior, np.log(np.maximum(age, 1e-3))], axis=1)

    @classmethod
    def fit(cls, frame: pd.DataFrame, target: str) -> PersistenceLine:
        truth = np.log1p(frame[target].to_numpy(np.float64))
        known = np.isfinite(truth)
        fallback = float(truth[known].mean())
        if not {PERSISTENCE_INPUT[target], "prior_age_days"} <= set(frame.columns):
            return cls(target, [], fallback)
        line = cls(target, [], fallback)
        x = line.inputs(frame)
        usable = known & np.isfinite(x).all(axis=1)
        if usable.sum() < x.shape[1] + 2:
            return line
        design = np.column_stack([np.ones(usable.sum()), x[usable]])
        coefficients, *_ = np.linalg.lstsq(design, truth[usable], rcond=None)
        return cls(target, [float(c) for c in coefficients], fallback)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        predicted = np.full(len(frame), self.fallback)
        if not self.coefficients:
            return predicted
        x = self.inputs(frame)
        has = np.isfinite(x).all(axis=1)
        predicted[has] = np.column_stack([np.ones(has.sum()), x[has]]) @ self.coefficients
        return predicted


def persistence_predictions(
    development: pd.DataFrame, test: pd.DataFrame, target: str
) -> np.ndarray:
    """log1p(target) from the prior at T by a least-squares line fitted on `development`."""
    return PersistenceLine.fit(development, target).predict(test)


def global_mean_predictions(development: pd.DataFrame, test: pd.DataFrame, target: str):
    truth = np.log1p(development[target].to_numpy(np.float64))
    return np.full(len(test), float(np.nanmean(truth)))


def bootstrap_ranges(
    groups: np.ndarray,
    truth_log: np.ndarray,
    predictions: dict[str, np.ndarray],
    samples: int,
    reference: str = "model",
    seed: int = SEED,
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, list[float]]]]:
    """(ranges[series][metric] = [low, high], difference ranges[series][metric] of the
    reference minus the series), resampling whole channels (`groups`) with replacement."""
    rng = np.random.default_rng(seed)
    labels = np.unique(groups)
    members = [np.flatnonzero(groups == label) for label in labels]
    values = {s: {m: [] for m in METRICS} for s in predictions}
    for _ in range(samples):
        picked = rng.integers(0, len(labels), len(labels))
        rows = np.concatenate([members[i] for i in picked])
        truth = truth_log[rows]
        for series, predicted in predictions.items():
            result = scores(truth, predicted[rows])
            for metric in METRICS:
                values[series][metric].append(result[metric])
    ranges, differences = {}, {}
    for series in predictions:
        ranges[series] = {m: _interval(np.array(values[series][m])) for m in METRICS}
        if series != reference:
            differences[series] = {
                m: _interval(np.array(values[reference][m]) - np.array(values[series][m]))
                for m in METRICS
            }
    return ranges, differences


def _interval(values: np.ndarray) -> list[float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [float("nan"), float("nan")]
    return [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def verdict(
    target: str,
    point: dict[str, dict[str, float]],
    differences: dict[str, dict[str, list[float]]],
    labels: dict[str, str],
) -> list[str]:
    """One plain sentence per baseline: does the model beat it on MAE (log), by how much,
    and is the channel-bootstrap range of the difference clear of 0?"""
    model = point["model"]["mae_log"]
    lines = []
    for series, ranges in differences.items():
        low, high = ranges["mae_log"]
        gain = point[series]["mae_log"] - model
        rho = point["model"]["spearman"] - point[series]["spearman"]
        name = labels.get(series, series)
        if high < 0:
            word = "beats"
        elif low > 0:
            word = "is WORSE than"
        else:
            word = "does not clearly beat"
        lines.append(
            f"{target}: the model {word} {name}: MAE (log) {model:.3f} vs "
            f"{point[series]['mae_log']:.3f}, model minus baseline {-gain:+.3f} (95 % channel "
            f"range [{low:+.3f}, {high:+.3f}])"
            + (f"; Spearman {rho:+.3f}" if np.isfinite(rho) else "")
        )
    return lines
