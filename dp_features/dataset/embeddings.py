"""Optional low-dimensional embedding features: the video's mean embedding per component
(CLIP frames, CLAP windows, text), reduced by PCA fitted on the TRAIN rows only.

Only artifacts of real models are pooled: a stand-in (random-weight) model's embeddings
are never read (dp_assets.dataset.build_feature_table). Off by default (profile
`dataset.embedding_pca_components: 0`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# component -> the artifact array holding its embeddings (rows = frames/windows/sources)
EMBEDDING_ARRAYS = {
    "core_clip": "embeddings",
    "clap_extractor": "embedding",
    "text_features": "embedding",
}


def pooled(array: np.ndarray) -> np.ndarray | None:
    """The mean over rows of a (rows, dim) or (dim,) embedding array; None when empty."""
    values = np.asarray(array, dtype=np.float64)
    if values.ndim == 0 or values.size == 0:
        return None
    values = values.reshape(-1, values.shape[-1])
    values = values[np.isfinite(values).all(axis=1)]
    return values.mean(axis=0) if len(values) else None


def fit_pca(matrix: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, (components, dim) directions) of the rows' principal components (SVD);
    directions signed so their largest coordinate is positive (deterministic)."""
    mean = matrix.mean(axis=0)
    _, _, vt = np.linalg.svd(matrix - mean, full_matrices=False)
    directions = vt[:components]
    signs = np.sign(directions[np.arange(len(directions)), np.abs(directions).argmax(axis=1)])
    return mean, directions * signs[:, None]


def pca_features(
    embeddings: pd.DataFrame, train_keys: list[str], components: int
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Columns `<component>_pca_<i>` per video_key (NaN without an embedding), the PCA
    fitted on `train_keys` only; and {column: description}. `embeddings` has video_key,
    component, vector."""
    columns: dict[str, pd.Series] = {}
    descriptions = {}
    train = set(train_keys)
    for component, group in embeddings.groupby("component", sort=True):
        keys = list(group["video_key"])
        matrix = np.stack([np.asarray(v, np.float64) for v in group["vector"]])
        fit_rows = np.array([k in train for k in keys])
        count = min(components, int(fit_rows.sum()) - 1, matrix.shape[1])
        if count < 1:
            continue
        mean, directions = fit_pca(matrix[fit_rows], count)
        projected = (matrix - mean) @ directions.T
        for i in range(count):
            name = f"{component}_pca_{i + 1}"
            columns[name] = pd.Series(projected[:, i], index=keys)
            descriptions[name] = (
                f"{component} mean embedding, principal component {i + 1} (fit on train)"
            )
    return pd.DataFrame(columns), descriptions
