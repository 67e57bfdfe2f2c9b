"""Metrics against hand-computed values; baselines; LightGBM determinism on a small table."""

import numpy as np
import pandas as pd
import pytest

from dp_features.dataset.metrics import baseline_predictions, mae, r2, spearman
from dp_features.dataset.training import reproducibility_manifest, train_model

pytestmark = pytest.mark.unit


def test_metrics_known_values():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(truth, np.array([10.0, 20.0, 30.0, 40.0])) == pytest.approx(1.0)
    assert spearman(truth, truth[::-1].copy()) == pytest.approx(-1.0)
    assert np.isnan(spearman(truth, np.ones(4)))
    assert mae(truth, truth + 0.5) == pytest.approx(0.5)
    assert r2(truth, truth) == pytest.approx(1.0)
    assert r2(truth, np.full(4, truth.mean())) == pytest.approx(0.0)


def test_age_baseline_fits_a_line_on_train_only():
    age = np.array([1.0, 3.0, 7.0, 15.0, 31.0])
    train = pd.DataFrame({"age_at_target_days": age, "views": np.expm1(2 * np.log1p(age) + 1)})
    test = pd.DataFrame({"age_at_target_days": [63.0, np.nan], "views": [0, 0]})
    predicted = baseline_predictions(train, test, "views", "age_only")
    assert predicted[0] == pytest.approx(2 * np.log1p(63.0) + 1)
    assert predicted[1] == pytest.approx(np.log1p(train["views"]).mean())  # no input: mean


def test_training_twice_gives_the_same_model():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    table["views"] = np.expm1(5 + 2 * table["a"] + rng.normal(0, 0.1, 120)).clip(0)
    first = train_model(table, ["a", "b", "c"], "views", num_boost_round=40)
    second = train_model(table, ["a", "b", "c"], "views", num_boost_round=40)
    assert first.model_text == second.model_text
    assert next(iter(first.importance())) == "a"
    manifest = reproducibility_manifest("hash123", {"views": first}, num_boost_round=40)
    assert manifest["dataset_hash"] == "hash123" and manifest["features"] == ["a", "b", "c"]
    assert manifest["params"]["deterministic"] is True and manifest["seeds"]["seed"]
    assert {"lightgbm", "pandas", "pyarrow", "python"} <= manifest["library_versions"].keys()
    assert manifest["git_sha"]
