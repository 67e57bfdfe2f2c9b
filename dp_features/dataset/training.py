"""LightGBM popularity models: one per target, on log1p(target at H), deterministic.

Boosted from persistence: where the features include the prior at T, boosting starts
from the persistence line (metrics.PersistenceLine, LightGBM's init score) and the trees
learn what the line misses; a prediction is the line plus the trees. Trees alone
extrapolate a near-linear prior poorly on a few hundred rows.

Early stopping: boosting on the train rows stops when the validation rows' L1 has not
improved for EARLY_STOPPING_ROUNDS rounds; the model is then refitted on train +
validation with the best round count. Rows whose target is missing (hidden likes) are
left out of that target's model.

Determinism: fixed seeds, `deterministic=True`, `force_row_wise=True`, one thread and no
bagging, so the same dataset gives the same model text (the test trains twice).
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from importlib import metadata

import lightgbm
import numpy as np
import pandas as pd

from dp_core.hashing import sha256_bytes
from dp_core.version import dataprocessor_version
from dp_features.dataset.metrics import PERSISTENCE_INPUT, PersistenceLine

SEED = 20240611
NUM_BOOST_ROUNDS = 1000  # the most; early stopping picks the count
EARLY_STOPPING_ROUNDS = 50
DEFAULT_PARAMS: dict = {
    "objective": "regression",
    "metric": "l1",
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
    best_rounds: int = 0  # chosen by early stopping on the validation rows
    base: PersistenceLine | None = None  # boosting started from it

    @property
    def model_text(self) -> str:
        return self.booster.model_to_string()

    def base_json(self) -> str | None:
        return None if self.base is None else json.dumps(asdict(self.base), sort_keys=True)

    @staticmethod
    def base_from_json(text: str | None) -> PersistenceLine | None:
        return None if text is None else PersistenceLine(**json.loads(text))

    def predict_log(self, frame: pd.DataFrame) -> np.ndarray:
        """Predicted log1p(target) for each row."""
        trees = self.booster.predict(frame[self.feature_columns].to_numpy(np.float64))
        return trees if self.base is None else trees + self.base.predict(frame)

    def importance(self) -> dict[str, float]:
        """Total gain per feature, largest first."""
        gains = self.booster.feature_importance(importance_type="gain")
        pairs = sorted(zip(self.feature_columns, gains, strict=True), key=lambda p: -p[1])
        return {name: float(gain) for name, gain in pairs}


def _data(frame, feature_columns, target, base: PersistenceLine | None, **kwargs):
    known = frame[frame[target].notna()]
    return lightgbm.Dataset(
        known[feature_columns].to_numpy(np.float64),
        label=np.log1p(known[target].to_numpy(np.float64)),
        init_score=None if base is None else base.predict(known),
        feature_name=list(feature_columns),
        free_raw_data=False,
        **kwargs,
    )


def train_model(
    train: pd.DataFrame,
    feature_columns: list[str],
    target: str,
    params: dict | None = None,
    num_boost_round: int = NUM_BOOST_ROUNDS,
    validation: pd.DataFrame | None = None,
) -> TrainedModel:
    """Fit LightGBM on log1p(target); NaN features are LightGBM's missing values. With
    `validation`, early stopping picks the round count and the model is refitted on both.
    Boosted from the persistence line when the prior at T is among the features."""
    merged = {**DEFAULT_PARAMS, **(params or {})}
    from_persistence = PERSISTENCE_INPUT[target] in feature_columns
    rounds = num_boost_round
    if validation is not None and validation[target].notna().any():
        base = PersistenceLine.fit(train, target) if from_persistence else None
        fit = _data(train, feature_columns, target, base)
        held = _data(validation, feature_columns, target, base, reference=fit)
        probe = lightgbm.train(
            merged,
            fit,
            num_boost_round,
            valid_sets=[held],
            callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        )
        rounds = max(1, probe.best_iteration)
        train = pd.concat([train, validation], ignore_index=True)
    base = PersistenceLine.fit(train, target) if from_persistence else None
    booster = lightgbm.train(merged, _data(train, feature_columns, target, base), rounds)
    return TrainedModel(target, booster, list(feature_columns), rounds, base)


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
        "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
        "best_rounds": {t: m.best_rounds for t, m in models.items()},
        "boosted_from": {t: m.base_json() for t, m in models.items()},
        "seeds": {"seed": SEED},
        "library_versions": library_versions(),
        "dataprocessor_version": dataprocessor_version(),
        "git_sha": _git_sha(dataprocessor_version()),
        "model_sha256": {t: sha256_bytes(m.model_text.encode()) for t, m in models.items()},
    }
