"""Dataset and training: feature rows, targets, leakage checks, split, LightGBM, metrics, report."""
