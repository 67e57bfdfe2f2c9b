"""The model report: one self-contained HTML file (figures inline as base64 PNG) + its JSON.

`report_figures` gathers every number the report shows; `render_report_html` turns them
into the page. The JSON is the same figures, so a script can read what a person sees.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math

import matplotlib

matplotlib.use("Agg")  # no display: figures are rendered to PNG bytes
import matplotlib.pyplot as plt

TOP_FEATURES = 15
CHART_TITLES = {
    "spearman": "Spearman rho (higher is better)",
    "mae_log": "MAE on log (lower is better)",
    "r2": "R² (higher is better)",
}
SERIES_LABELS = {
    "model": "LightGBM",
    "baseline_channel_mean": "channel mean",
    "baseline_age_only": "age only",
}
METRIC_TEXT = {
    "spearman": "Spearman rho — does the model rank videos in the right order? "
    "(-1..1, higher is better)",
    "mae_log": "MAE on log — mean |log1p(true) − prediction|; 0.69 is off by a factor of 2 "
    "(lower is better)",
    "r2": "R² — share of the variance of log1p(target) explained; 0 is no better than "
    "the mean (higher is better)",
}


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def report_figures(
    metrics: dict[str, dict[str, dict[str, float]]],
    importance: dict[str, dict[str, float]],
    predictions: dict[str, dict[str, list[float]]],
    dataset: dict,
) -> dict:
    """Everything the report shows, JSON-ready (NaN -> null).

    `metrics[target][series][metric]`, `importance[target][feature] = gain` (largest first),
    `predictions[target] = {"truth_log": [...], "predicted_log": [...]}`, `dataset` free-form
    facts (hash, row counts, split time...).
    """
    return {
        "dataset": dataset,
        "metrics": {
            t: {s: {m: _finite_or_none(v) for m, v in ms.items()} for s, ms in series.items()}
            for t, series in metrics.items()
        },
        # [feature, gain] pairs, largest first (a list keeps the order in the JSON)
        "feature_importance": {
            t: [[n, round(g, 6)] for n, g in gains.items() if g > 0][:TOP_FEATURES]
            for t, gains in importance.items()
        },
        "predictions": {
            t: {k: [round(float(v), 6) for v in values] for k, values in p.items()}
            for t, p in predictions.items()
        },
    }


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _metric_chart(target: str, series: dict[str, dict[str, float | None]]) -> str:
    names = list(series)
    figure, axes = plt.subplots(1, 3, figsize=(10, 3))
    colours = ["#2b6cb0", "#a0aec0", "#cbd5e0"]
    for axis, metric in zip(axes, ("spearman", "mae_log", "r2"), strict=True):
        values = [series[n].get(metric) for n in names]
        heights = [v if v is not None else 0.0 for v in values]
        axis.bar([SERIES_LABELS.get(n, n) for n in names], heights, color=colours[: len(names)])
        for i, v in enumerate(values):
            axis.text(i, heights[i], "n/a" if v is None else f"{v:.2f}", ha="center", va="bottom")
        axis.set_title(CHART_TITLES[metric], fontsize=10)
        axis.axhline(0, color="black", linewidth=0.5)
        axis.margins(y=0.15)  # room for the value labels above the bars
        axis.tick_params(axis="x", labelsize=8)
    figure.suptitle(f"{target}: held-out test split", y=1.06)
    return _png(figure)


def _scatter(target: str, truth: list[float], predicted: list[float]) -> str:
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.scatter(truth, predicted, s=10, alpha=0.7, color="#2b6cb0")
    if truth:
        low, high = min(*truth, *predicted), max(*truth, *predicted)
        axis.plot([low, high], [low, high], color="gray", linewidth=1, linestyle="--")
    axis.set_xlabel(f"true log1p({target})")
    axis.set_ylabel(f"predicted log1p({target})")
    axis.set_title(f"{target}: predicted vs true (test)")
    return _png(figure)


def _importance_chart(target: str, gains: dict[str, float]) -> str:
    names = list(gains)[::-1]
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(names) + 1))
    axis.barh(names, [gains[n] for n in names], color="#2b6cb0")
    axis.set_xlabel("total gain")
    axis.set_title(f"{target}: top {len(names)} features")
    axis.tick_params(axis="y", labelsize=8)
    return _png(figure)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1a202c; }
h1 { border-bottom: 2px solid #2b6cb0; padding-bottom: .3em; }
h2 { margin-top: 1.6em; color: #2b6cb0; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #cbd5e0; padding: .3em .8em; text-align: right; }
th { background: #edf2f7; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; } .note { color: #4a5568; font-size: .95em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
"""


def render_report_html(figures: dict, title: str = "Popularity model report") -> str:
    """The report page: dataset facts, per-target metric tables and charts, importance."""
    dataset = figures["dataset"]
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        "<h2>Dataset</h2>",
        _table(["fact", "value"], [[k, str(v)] for k, v in dataset.items()]),
        "<h2>How to read the metrics</h2><ul>",
        *(f"<li>{html.escape(text)}</li>" for text in METRIC_TEXT.values()),
        "</ul><p class='note'>All metrics are on the held-out test split (later in time, "
        "other channels than training). Baselines: <b>channel mean</b> predicts from the "
        "channel's mean views per video; <b>age only</b> from the video's age at the target "
        "snapshot. A model worth using beats both.</p>",
    ]
    for target, series in figures["metrics"].items():
        rows = [
            [SERIES_LABELS.get(name, name), *(_fmt(values.get(m)) for m in METRIC_TEXT)]
            for name, values in series.items()
        ]
        prediction = figures["predictions"].get(target, {})
        parts += [
            f"<h2>Target: {html.escape(target)} (log1p)</h2>",
            _table(["predictor", "Spearman rho", "MAE (log)", "R²"], rows),
            "<div class='figures'>",
            f"<img alt='{target} metrics' src='data:image/png;base64,"
            f"{_metric_chart(target, series)}'>",
            f"<img alt='{target} predicted vs true' src='data:image/png;base64,"
            f"{_scatter(target, prediction.get('truth_log', []), prediction.get('predicted_log', []))}'>",
            "</div>",
        ]
        gains = dict(figures["feature_importance"].get(target, []))
        if gains:
            parts += [
                f"<h3>Feature importance ({html.escape(target)})</h3>",
                f"<img alt='{target} importance' src='data:image/png;base64,"
                f"{_importance_chart(target, gains)}'>",
            ]
    parts.append(
        "<p class='note'>The numbers behind every figure are in the report's JSON file.</p>"
        "</body></html>"
    )
    return "\n".join(parts)


def report_json(figures: dict) -> str:
    return json.dumps(figures, indent=2, sort_keys=True, default=str)
