"""Metrics against hand-computed values; baselines; bootstrap ranges; the verdict; LightGBM
early stopping and determinism on a small table."""

import numpy as np
import pandas as pd
import pytest

from dp_features.dataset.embeddings import fit_pca, pca_features, pooled
from dp_features.dataset.metrics import (
    bootstrap_ranges,
    mae,
    mape_log,
    persistence_predictions,
    r2,
    scores,
    spearman,
    verdict,
)
from dp_features.dataset.training import TrainedModel, reproducibility_manifest, train_model

pytestmark = pytest.mark.unit


def test_metrics_known_values():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(truth, np.array([10.0, 20.0, 30.0, 40.0])) == pytest.approx(1.0)
    assert spearman(truth, truth[::-1].copy()) == pytest.approx(-1.0)
    assert np.isnan(spearman(truth, np.ones(4)))
    assert mae(truth, truth + 0.5) == pytest.approx(0.5)
    assert r2(truth, truth) == pytest.approx(1.0)
    assert r2(truth, np.full(4, truth.mean())) == pytest.approx(0.0)
    # SMP-Video MAPE on the log score: |0.5| / 1, 2, 3, 4 averaged; zero truths left out
    assert mape_log(truth, truth + 0.5) == pytest.approx(np.mean(0.5 / truth))
    assert mape_log(np.array([0.0, 2.0]), np.array([1.0, 3.0])) == pytest.approx(0.5)
    # predictions 1.8x too high on average: bias log(1.8), ratio 1.8, while the log MAPE of
    # a high target level still looks small
    high = np.full(4, 12.0)
    result = scores(high, high + np.log(1.8))
    assert result["bias_ratio"] == pytest.approx(1.8)
    assert result["mape_log"] == pytest.approx(np.log(1.8) / 12.0)


def test_persistence_fits_a_line_on_the_prior_and_its_age():
    rng = np.random.default_rng(1)
    prior = rng.uniform(2, 10, 50)
    age = rng.uniform(0.1, 1.0, 50)
    development = pd.DataFrame(
        {
            "prior_views_log1p": prior,
            "prior_age_days": age,
            "views": np.expm1(1.5 + 1.0 * prior - 0.7 * np.log(age)),
        }
    )
    test = pd.DataFrame(
        {"prior_views_log1p": [5.0, np.nan], "prior_age_days": [0.5, np.nan], "views": [0, 0]}
    )
    predicted = persistence_predictions(development, test, "views")
    assert predicted[0] == pytest.approx(1.5 + 5.0 - 0.7 * np.log(0.5))
    assert predicted[1] == pytest.approx(np.log1p(development["views"]).mean())  # no prior


def test_bootstrap_resamples_channels_and_the_verdict_says_which_baseline_is_beaten():
    rng = np.random.default_rng(2)
    groups = np.repeat([f"c{i}" for i in range(12)], 5)
    truth = rng.normal(8, 1, 60)
    predictions = {
        "model": truth + rng.normal(0, 0.1, 60),
        "global_mean": np.full(60, 8.0),
        "twin": truth + rng.normal(0, 0.1, 60),
    }
    ranges, differences = bootstrap_ranges(groups, truth, predictions, samples=200)
    again = bootstrap_ranges(groups, truth, predictions, samples=200)
    assert repr((ranges, differences)) == repr(again)  # a fixed seed (repr: NaN == NaN)
    low, high = ranges["model"]["mae_log"]
    assert low < mae(truth, predictions["model"]) < high
    assert differences["global_mean"]["mae_log"][1] < 0  # clearly better than the mean
    point = {name: scores(truth, p) for name, p in predictions.items()}
    lines = verdict("views", point, differences, {"global_mean": "global mean", "twin": "twin"})
    assert lines[0].startswith("views: the model beats global mean")
    assert lines[1].startswith("views: the model does not clearly beat twin")


def test_early_stopping_picks_the_rounds_and_training_twice_gives_the_same_model():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.normal(size=(240, 3)), columns=["a", "b", "c"])
    table["views"] = np.expm1(5 + 2 * table["a"] + rng.normal(0, 0.3, 240)).clip(0)
    table.loc[::17, "views"] = np.nan  # a missing target is left out, not read as 0
    train, validation = table.iloc[:180], table.iloc[180:]
    first = train_model(
        train, ["a", "b", "c"], "views", num_boost_round=2000, validation=validation
    )
    second = train_model(
        train, ["a", "b", "c"], "views", num_boost_round=2000, validation=validation
    )
    assert first.model_text == second.model_text
    assert 1 <= first.best_rounds < 2000  # stopped early
    assert first.booster.num_trees() == first.best_rounds  # refitted with that count
    assert next(iter(first.importance())) == "a"
    manifest = reproducibility_manifest("hash123", {"views": first})
    assert manifest["dataset_hash"] == "hash123" and manifest["features"] == ["a", "b", "c"]
    assert manifest["best_rounds"] == {"views": first.best_rounds}
    assert manifest["params"]["deterministic"] is True and manifest["seeds"]["seed"]
    assert {"lightgbm", "pandas", "pyarrow", "python"} <= manifest["library_versions"].keys()
    assert manifest["git_sha"]


def test_with_a_prior_boosting_starts_from_the_persistence_line():
    rng = np.random.default_rng(4)
    n = 300
    table = pd.DataFrame(
        {
            "prior_views_log1p": rng.uniform(2, 10, n),
            "prior_age_days": rng.uniform(0.1, 1.0, n),
            "speech": rng.uniform(0, 1, n),
        }
    )
    table["views"] = np.expm1(
        1.0
        + table["prior_views_log1p"]
        - 0.5 * np.log(table["prior_age_days"])
        + 0.8 * table["speech"]
        + rng.normal(0, 0.05, n)
    )
    columns = ["prior_views_log1p", "prior_age_days", "speech"]
    train, validation, test = table.iloc[:200], table.iloc[200:250], table.iloc[250:]
    model = train_model(train, columns, "views", validation=validation)
    assert model.base is not None and len(model.base.coefficients) == 3
    trees = model.booster.predict(test[columns].to_numpy(np.float64))
    np.testing.assert_allclose(model.predict_log(test), trees + model.base.predict(test))
    assert TrainedModel.base_from_json(model.base_json()) == model.base
    truth = np.log1p(test["views"].to_numpy(np.float64))
    line = persistence_predictions(pd.concat([train, validation]), test, "views")
    assert mae(truth, model.predict_log(test)) < mae(truth, line)  # the trees add speech
    # without the prior among the features there is no line to start from
    assert train_model(train, ["speech"], "views", validation=validation).base is None


def test_pca_embedding_features_are_fitted_on_train_only():
    rng = np.random.default_rng(6)
    direction = np.array([3.0, 4.0, 0.0, 0.0]) / 5.0
    keys = [f"v{i}" for i in range(40)]
    vectors = rng.normal(0, 0.05, (40, 4)) + np.outer(rng.normal(0, 2, 40), direction)
    vectors[30:] += 100.0  # test rows far away: a fit that saw them would centre on them
    frame = pd.DataFrame({"video_key": keys, "component": "core_clip", "vector": list(vectors)})
    columns, descriptions = pca_features(frame, keys[:30], components=2)
    assert list(columns.columns) == ["core_clip_pca_1", "core_clip_pca_2"]
    assert "fit on train" in descriptions["core_clip_pca_1"]
    mean, directions = fit_pca(vectors[:30], 2)
    assert abs(directions[0] @ direction) == pytest.approx(1.0, abs=1e-3)  # the planted axis
    np.testing.assert_allclose(
        columns.loc[keys, "core_clip_pca_1"], (vectors - mean) @ directions[0]
    )
    assert pooled(np.ones((3, 4))).tolist() == [1.0] * 4 and pooled(np.zeros((0, 4))) is None
