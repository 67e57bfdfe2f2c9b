"""The model report: one self-contained HTML file (figures inline as base64 PNG) + its JSON.
It states the task (H, T), the verdict against each baseline, the metrics with ranges.

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
import numpy as np

TOP_FEATURES = 15
CHART_METRICS = ("spearman", "mae_log", "mape_log")
CHART_TITLES = {
    "spearman": "Spearman rho (higher is better)",
    "mae_log": "MAE on log (lower is better)",
    "mape_log": "MAPE, SMP-Video (lower is better)",
}
TABLE_METRICS = {
    "spearman": "Spearman rho",
    "mae_log": "MAE (log)",
    "r2": "R²",
    "mape_log": "MAPE (SMP-Video)",
    "bias_log": "bias (log)",
}
SERIES_LABELS = {
    "model": "LightGBM",
    "persistence": "persistence (prior at T)",
    "global_mean": "global mean",
    "metadata_only": "metadata only",
    "content_only": "content only",
}
METRIC_TEXT = {
    "spearman": "Spearman rho — does the model rank videos in the right order? "
    "(-1..1, higher is better)",
    "mae_log": "MAE on log — mean |log1p(true) − prediction|; 0.69 is off by a factor of 2 "
    "(lower is better)",
    "r2": "R² — share of the variance of log1p(target) explained; 0 is no better than "
    "the mean (higher is better)",
    "mape_log": "MAPE as SMP-Video scores it — mean |prediction − true| / true on the log "
    "scale; it shrinks as the target's level grows, so read it next to MAE and bias",
    "bias_log": "bias — mean(prediction − true) on log; exp(bias) is the factor by which "
    "predicted counts are too high (> 1) or too low (< 1)",
}


def _clean(value):
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def report_figures(evaluation: dict, dataset: dict, description: dict) -> dict:
    """Everything the report shows, JSON-ready (NaN -> null): `evaluation` from
    evaluation.evaluate_models, `dataset` the facts table, `description` dataset.json."""
    return {
        "dataset": dataset,
        "task": description["task"],
        "verdict": evaluation["verdict"],
        "metrics": _clean(evaluation["metrics"]),
        "ranges": _clean(evaluation["ranges"]),
        "differences": _clean(evaluation["differences"]),
        "test_rows": evaluation["test_rows"],
        "test_channels": evaluation["test_channels"],
        # [feature, gain] pairs, largest first (a list keeps the order in the JSON)
        "feature_importance": {
            t: [[n, round(g, 6)] for n, g in gains.items() if g > 0][:TOP_FEATURES]
            for t, gains in evaluation["importance"].items()
        },
        "predictions": _clean(evaluation["predictions"]),
        "dropped_columns": description["dropped_columns"],
        "warnings": description["warnings"],
        "correlations": description["correlations"],
    }


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _metric_chart(target: str, series: dict, ranges: dict) -> str:
    names = list(series)
    figure, axes = plt.subplots(1, len(CHART_METRICS), figsize=(12, 3.4))
    colours = ["#2b6cb0", "#a0aec0", "#cbd5e0", "#90cdf4", "#e2e8f0"]
    for axis, metric in zip(axes, CHART_METRICS, strict=True):
        values = [series[n].get(metric) for n in names]
        heights = [v if v is not None else 0.0 for v in values]
        low = [
            h - ((ranges.get(n, {}).get(metric) or [h, h])[0] or h)
            for n, h in zip(names, heights, strict=True)
        ]
        high = [
            ((ranges.get(n, {}).get(metric) or [h, h])[1] or h) - h
            for n, h in zip(names, heights, strict=True)
        ]
        axis.bar(
            [SERIES_LABELS.get(n, n) for n in names],
            heights,
            color=colours[: len(names)],
            yerr=[np.maximum(low, 0), np.maximum(high, 0)],
            capsize=3,
        )
        for i, v in enumerate(values):
            axis.text(i, heights[i], "n/a" if v is None else f"{v:.2f}", ha="left", va="bottom")
        axis.set_title(CHART_TITLES[metric], fontsize=10)
        axis.axhline(0, color="black", linewidth=0.5)
        axis.margins(y=0.15)  # room for the value labels above the bars
        axis.tick_params(axis="x", labelsize=7, labelrotation=30)
    figure.suptitle(f"{target}: held-out test split (bars: 95 % channel-bootstrap range)", y=1.04)
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


def _fact(value) -> str:
    """A fact as text: a mapping as `key value, ...` (never a Python repr)."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fact(v)}" for k, v in value.items()) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _fmt_range(value, interval) -> str:
    if value is None:
        return "n/a"
    if not interval or interval[0] is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def render_report_html(figures: dict, title: str = "Popularity model report") -> str:
    """The report page: the task, the verdict, dataset facts, per-target metric tables
    with ranges and charts, importance, dropped columns, warnings."""
    task = figures["task"]
    horizon, prediction = task["horizon_hours"], task["prediction_hours"]
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        "<h2>The task</h2>",
        f"<p>Predict log1p(views) and log1p(likes) at age <b>H = {horizon:g} h</b> "
        f"({horizon / 24:g} days) after publish, at the prediction time <b>T = {prediction:g} h"
        "</b> after publish, from the video's content and what was known at T (snapshots at "
        f"age ≤ T, channel statistics and history up to T). Targets are interpolated between "
        f"the crawl snapshots around H (within {task['horizon_tolerance_hours']:g} h); "
        "videos without one are dropped. Train and test are split by upload time, by channel, "
        f"with a gap of at least H between the last train upload and the first test one.</p>",
        "<h2>Verdict</h2><ul>",
        *(f"<li>{html.escape(line)}</li>" for line in figures["verdict"]),
        "</ul>",
        "<h2>Dataset</h2>",
        _table(["fact", "value"], [[k, _fact(v)] for k, v in figures["dataset"].items()]),
        "<h2>How to read the metrics</h2><ul>",
        *(f"<li>{html.escape(text)}</li>" for text in METRIC_TEXT.values()),
        "</ul><p class='note'>All metrics are on the held-out test split: other channels "
        "than training, uploaded at least H after the last training upload. Ranges are 95 % "
        "channel-bootstrap intervals. Baselines: <b>persistence</b> is a line from the views "
        "(likes) at the last snapshot at age ≤ T and that snapshot's age; <b>global mean</b> "
        "predicts the training mean; <b>metadata only</b> and <b>content only</b> are the same "
        "LightGBM on the snapshot/channel columns or the artifact columns alone.</p>",
    ]
    for target, series in figures["metrics"].items():
        ranges = figures["ranges"].get(target, {})
        rows = [
            [
                SERIES_LABELS.get(name, name),
                *(_fmt_range(values.get(m), ranges.get(name, {}).get(m)) for m in TABLE_METRICS),
                "n/a" if values.get("bias_ratio") is None else f"{values['bias_ratio']:.2f}×",
            ]
            for name, values in series.items()
        ]
        prediction_points = figures["predictions"].get(target, {})
        parts += [
            f"<h2>Target: {html.escape(target)} at H (log1p), "
            f"{figures['test_rows'].get(target, 0)} test videos, "
            f"{figures['test_channels']} channels</h2>",
            _table(["predictor", *TABLE_METRICS.values(), "bias ×"], rows),
            "<div class='figures'>",
            f"<img alt='{target} metrics' src='data:image/png;base64,"
            f"{_metric_chart(target, series, ranges)}'>",
            f"<img alt='{target} predicted vs true' src='data:image/png;base64,"
            f"{_scatter(target, prediction_points.get('truth_log', []), prediction_points.get('predicted_log', []))}'>",
            "</div>",
        ]
        gains = dict(figures["feature_importance"].get(target, []))
        if gains:
            parts += [
                f"<h3>Feature importance ({html.escape(target)})</h3>",
                f"<img alt='{target} importance' src='data:image/png;base64,"
                f"{_importance_chart(target, gains)}'>",
            ]
    dropped = figures["dropped_columns"]
    parts += [
        "<h2>Columns left out</h2>",
        _table(
            ["why", "count", "columns"],
            [[why, str(len(cols)), ", ".join(cols) or "—"] for why, cols in dropped.items()],
        ),
        "<h2>Warnings</h2><ul>",
        *(f"<li>{html.escape(w)}</li>" for w in figures["warnings"]),
        *(
            f"<li>{html.escape(c['feature'])} ranks videos like {html.escape(c['target'])}: "
            f"Spearman {c['spearman']:.4f} (known at T: a strong prior, not a refusal)</li>"
            for c in figures["correlations"]
        ),
        "</ul>",
        "<p class='note'>The numbers behind every figure are in the report's JSON file.</p>"
        "</body></html>",
    ]
    return "\n".join(parts)


def report_json(figures: dict) -> str:
    return json.dumps(figures, indent=2, sort_keys=True, default=str)
