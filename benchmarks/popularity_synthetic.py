"""The popularity model against its baselines on the SYNTHETIC sample, over several seeds.

    .venv/bin/python benchmarks/popularity_synthetic.py [--seeds 7 8 9] [--videos 300]

For each seed: writes the synthetic sample (`dp dataset sample`'s generator), builds the
dataset with the default profile's task (H = 168 h, T = 24 h) and trains the models the
`popularity_model` asset trains (all features, metadata only, content only), then prints
MAE (log) and Spearman of the model and each baseline on the test split, and the model's
MAE minus persistence's with its 95 % channel-bootstrap range. Quality, not speed: no
timing is measured.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dp_assets.dataset import build_feature_table, dataset_settings, load_targets  # noqa: E402
from dp_features.dataset.assemble import DatasetOptions, assemble_dataset  # noqa: E402
from dp_features.dataset.evaluation import evaluate_models  # noqa: E402
from dp_features.dataset.synthetic import write_sample  # noqa: E402
from dp_features.dataset.targets import TARGETS, Task  # noqa: E402
from dp_features.dataset.training import train_model  # noqa: E402
from dp_resources.storage.backends import LocalStorage  # noqa: E402


def one_seed(seed: int, videos: int) -> dict:
    settings = dataset_settings("cpu_baseline", {})
    task = Task.from_settings(settings)
    with tempfile.TemporaryDirectory() as folder:
        paths = write_sample(
            Path(folder), LocalStorage, count=videos, channels=videos // 10, seed=seed
        )
        features = build_feature_table(LocalStorage(paths["store"]))
        targets = load_targets(str(paths["snapshots"]), None, task)
    dataset = assemble_dataset(features, targets, task, DatasetOptions.from_settings(settings))
    columns = {
        "model": dataset.feature_columns,
        "metadata_only": dataset.feature_groups["metadata"],
        "content_only": dataset.feature_groups["content"],
    }
    models = {
        target: {
            variant: train_model(dataset.train, cols, target, validation=dataset.validation)
            for variant, cols in columns.items()
        }
        for target in TARGETS
    }
    development = dataset.frame[dataset.frame["split"] != "test"].reset_index(drop=True)
    return evaluate_models(development, dataset.test, models, settings.bootstrap_samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--videos", type=int, default=300)
    args = parser.parse_args()
    series = ("model", "persistence", "global_mean", "metadata_only", "content_only")
    print("seed target test " + " ".join(f"{s:>14}" for s in series) + "  model-persistence [95 %]")
    for seed in args.seeds:
        result = one_seed(seed, args.videos)
        for target in TARGETS:
            metrics = result["metrics"][target]
            cells = " ".join(
                f"{metrics[s]['mae_log']:6.3f}/{metrics[s]['spearman']:6.3f}"
                if metrics[s]["spearman"] == metrics[s]["spearman"]
                else f"{metrics[s]['mae_log']:6.3f}/   n/a"
                for s in series
            )
            low, high = result["differences"][target]["persistence"]["mae_log"]
            gain = metrics["model"]["mae_log"] - metrics["persistence"]["mae_log"]
            print(
                f"{seed:4d} {target:6s} {result['test_rows'][target]:4d} {cells}  "
                f"{gain:+.3f} [{low:+.3f}, {high:+.3f}]"
            )
    print("cells: MAE on log1p / Spearman on the test split")


if __name__ == "__main__":
    main()
