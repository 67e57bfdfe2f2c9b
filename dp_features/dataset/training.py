"""LightGBM popularity models: one per target, on log1p(target), deterministic.

Determinism: fixed seeds, `deterministic=True`, `force_row_wise=True`, one thread and no
bagging, so the same dataset gives the same model text (the test trains twice).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata

import lightgbm
import numpy as np
import pandas as pd

from dp_core.hashing import sha256_bytes
from dp_core.version import dataprocessor_version

SEED = 20240611
NUM_BOOST_ROUNDS = 300
DEFAULT_PARAMS: dict = {
    "objective": "regression",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 10,
    "lambda_l2": 1.0,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "seed": SEED,
    "data_random_seed": SEED,
    "feature_fraction_seed": SEED,
    "bagging_seed": SEED,
    "verbosity": -1,
}
LIBRARIES = ("lightgbm", "numpy", "pandas", "pyarrow", "scipy", "matplotlib")


@dataclass
class TrainedModel:
    target: str
    booster: lightgbm.Booster
    feature_columns: list[str]

    @property
    def model_text(self) -> str:
        return self.booster.model_to_string()

    def predict_log(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted log1p(target) for each row."""
        return self.booster.predict(frame[self.feature_columns].to_numpy(np.float64))

    def importance(self) -> dict[str, float]:
        """Total gain per feature, largest first."""
        gains = self.booster.feature_importance(importance_type="gain")
        pairs = sorted(zip(self.feature_columns, gains, strict=True), key=lambda p: -p[1])
        return {name: float(gain) for name, gain in pairs}


def train_model(
    train: pd.DataFrame,
    feature_columns: list[str],
    target: str,
    params: dict | None = None,
    num_boost_round: int = NUM_BOOST_ROUNDS,
) -> TrainedModel:
    """Fit LightGBM on log1p(train[target]); NaN features are LightGBM's missing values."""
    data = lightgbm.Dataset(
        train[feature_columns].to_numpy(np.float64),
        label=np.log1p(train[target].to_numpy(np.float64)),
        feature_name=list(feature_columns),
        free_raw_data=True,
    )
    booster = lightgbm.train({**DEFAULT_PARAMS, **(params or {})}, data, num_boost_round)
    return TrainedModel(target, booster, list(feature_columns))


def _git_sha(version: str) -> str:
    """The sha in `0.1.0+g<sha>[.dirty]`, else 'unknown'."""
    return version.split("+g", 1)[1] if "+g" in version else "unknown"


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def reproducibility_manifest(
    dataset_hash: str,
    models: dict[str, TrainedModel],
    params: dict | None = None,
    num_boost_round: int = NUM_BOOST_ROUNDS,
) -> dict:
    """What it takes to retrain the same models: data, features, params, seeds, versions."""
    any_model = next(iter(models.values()))
    return {
        "dataset_hash": dataset_hash,
        "targets": {t: f"log1p({t})" for t in models},
        "features": any_model.feature_columns,
        "params": {**DEFAULT_PARAMS, **(params or {})},
        "num_boost_round": num_boost_round,
        "seeds": {"seed": SEED},
        "library_versions": library_versions(),
        "dataprocessor_version": dataprocessor_version(),
        "git_sha": _git_sha(dataprocessor_version()),
        "model_sha256": {t: sha256_bytes(m.model_text.encode()) for t, m in models.items()},
    }
