"""`dp report`: one self-contained HTML page per video (previews, status per component,
models used, where every artifact lies), readable offline: images are inlined as data URIs,
the style is inline, there is no script and nothing is fetched."""

from __future__ import annotations

import base64
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dp_assets.components import catalog
from dp_assets.step_api import PreviewSource
from dp_assets.uploads import prepare_upload
from dp_cli.home import DEFAULT_HOME
from dp_core.artifact import Artifact, ModelUsed, decode_artifact, verify_digest
from dp_core.errors import DpError, ErrorCode
from dp_core.identity import parse_partition_key
from dp_core.manifest import Manifest
from dp_features.previews import image_mime
from dp_resources.storage.backends import LocalStorage, Storage, open_storage

REPORTS_DIR = DEFAULT_HOME / "reports"
STATUS_CLASS = {"success": "ok", "empty": "empty", "error": "error", "skipped": "skipped"}


@dataclass
class ReportInputs:
    manifest: Manifest
    manifest_key: str
    storage: Storage
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    previews: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what could not be read or drawn


def locate_manifest(target: str, storage_base: str | None) -> tuple[Storage, str]:
    """(storage, manifest key) for a manifest file or key, or for a video file (its latest
    manifest in storage). A manifest file inside a local storage folder is read from there."""
    path = Path(target)
    if path.is_file() and path.name == "manifest.json":
        # <base>/result_store/<platform>/<video>/<run>/manifest.json
        base = storage_base or str(path.resolve().parents[4])
        storage = open_storage(base)
        return storage, path.resolve().relative_to(Path(base).resolve()).as_posix()
    storage = open_storage(storage_base or os.environ.get("DP_STORAGE") or ".dp/storage")
    if target.endswith("manifest.json"):
        return storage, target.strip("/")
    if not path.is_file():
        raise DpError(
            ErrorCode.INPUT_NOT_FOUND, f"{target!r} is neither a video file nor a manifest"
        )
    platform, slug = parse_partition_key(prepare_upload(path).partition_key)
    keys = [
        k for k in storage.list(f"result_store/{platform}/{slug}") if k.endswith("/manifest.json")
    ]
    if not keys:
        raise DpError(
            ErrorCode.INPUT_NOT_FOUND,
            f"no manifest of {path.name} in {storage.base}: run `dp process {target}` first",
        )
    manifests = {k: Manifest.model_validate_json(storage.get_bytes(k)) for k in keys}
    latest = max(keys, key=lambda k: manifests[k].run.finished_at or "")
    return storage, latest


def gather(storage: Storage, manifest_key: str) -> ReportInputs:
    """The manifest, its artifacts (digests verified) and each component's preview."""
    manifest = Manifest.model_validate_json(storage.get_bytes(manifest_key))
    inputs = ReportInputs(manifest, manifest_key, storage)
    for record in manifest.components:
        if not record.artifact_key:
            continue
        try:
            data = verify_digest(
                storage.get_bytes(record.artifact_key), record.sha256, record.artifact_key
            )
            inputs.artifacts[record.name] = decode_artifact(data, source=record.artifact_key)
        except (DpError, FileNotFoundError) as exc:
            inputs.problems.append(f"{record.name}: artifact not readable: {exc}")
    specs = catalog()
    for name, artifact in inputs.artifacts.items():
        spec = specs.get(name)
        if spec is None or spec.preview is None or artifact.meta.status != "ok":
            continue
        upstream = {i: inputs.artifacts[i] for i in spec.inputs if i in inputs.artifacts}
        try:
            picture = spec.preview(PreviewSource(artifact.arrays, upstream, storage))
        except Exception as exc:  # a picture that cannot be drawn leaves a note, not a crash
            inputs.problems.append(f"{name}: no preview: {exc!r}")
            continue
        if picture:
            inputs.previews[name] = picture
    return inputs


def write_report(storage: Storage, manifest_key: str, out: Path | None = None) -> Path:
    """Write the report of one manifest; returns its path."""
    inputs = gather(storage, manifest_key)
    if out is None:
        out = REPORTS_DIR / f"{inputs.manifest.video.partition_key}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(render_html(inputs), encoding="utf-8")
    temporary.replace(out)
    return out


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _artifact_link(storage: Storage, key: str, folder: str = "") -> str:
    """A link a browser opens (a local file) or the object's address (S3); a key inside
    `folder` (the manifest's run folder) is shown by its file name."""
    shown = key.removeprefix(folder) if folder and key.startswith(folder) else key
    if isinstance(storage, LocalStorage):
        return f'<a href="{_e((storage.root / key).as_uri())}">{_e(shown)}</a>'
    return f"<code>{_e(storage.base.rstrip('/'))}/{_e(key)}</code>"


def _models(inputs: ReportInputs) -> list[tuple[str, ModelUsed]]:
    return [
        (name, used)
        for name, artifact in inputs.artifacts.items()
        for used in artifact.meta.models_used
    ]


# shots first, then what is in the frames, then the timelines
PREVIEW_ORDER = (
    "cut_detection",
    "core_face_landmarks",
    "core_object_detections",
    "core_optical_flow",
    "loudness_extractor",
    "speech_activity",
    "audio_events",
    "ocr",
)


def _preview_rank(name: str) -> tuple[int, str]:
    return (PREVIEW_ORDER.index(name) if name in PREVIEW_ORDER else len(PREVIEW_ORDER), name)


def render_html(inputs: ReportInputs) -> str:
    manifest, run, video = inputs.manifest, inputs.manifest.run, inputs.manifest.video
    title = f"{video.platform}/{video.video_id}"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>dp report · {_e(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f'<h1 id="video">{_e(title)} <span class="badge {STATUS_CLASS[run.status]}">'
        f"{_e(run.status)}</span></h1>",
        '<p class="run">',
        f"source {_e(video.source_name or '')} · run <code>{_e(run.run_id)}</code> · profile "
        f"{_e(run.profile)} (config_hash <code>{_e(run.config_hash)}</code>) · dataprocessor "
        f"{_e(run.dataprocessor_version)} · {_e(run.started_at or '')} → "
        f"{_e(run.finished_at or '')}<br>storage {_e(inputs.storage.base)} · manifest "
        f"{_artifact_link(inputs.storage, inputs.manifest_key)}</p>",
        '<h2>Previews</h2><div id="previews">',
    ]
    for name in sorted(inputs.previews, key=_preview_rank):
        picture = inputs.previews[name]
        encoded = base64.b64encode(picture).decode()
        parts.append(
            f'<figure class="preview" data-component="{_e(name)}">'
            f"<figcaption>{_e(name)}</figcaption>"
            f'<img alt="{_e(name)} preview" src="data:{image_mime(picture)};base64,'
            f'{encoded}"></figure>'
        )
    if not inputs.previews:
        parts.append("<p>No component of this run has a picture.</p>")
    parts.append("</div>")
    folder = inputs.manifest_key.rsplit("/", 1)[0] + "/"
    parts.append(
        f"<h2>Components</h2><p>artifacts of this run in "
        f"{_artifact_link(inputs.storage, folder)}</p>"
        '<table id="components"><tr><th>component</th><th>required</th>'
        "<th>status</th><th>error</th><th>ms</th><th>device</th><th>artifact</th></tr>"
    )
    for c in manifest.components:
        error = f"{c.error_code.value}: {c.error_message or ''}" if c.error_code else ""
        reused = f" (reused from run {c.reused_from_run})" if c.reused_from_run else ""
        artifact = _artifact_link(inputs.storage, c.artifact_key, folder) if c.artifact_key else ""
        parts.append(
            f'<tr data-component="{_e(c.name)}"><td>{_e(c.name)}</td>'
            f"<td>{'yes' if c.required else ''}</td>"
            f'<td class="status {STATUS_CLASS[c.status]}">{_e(c.status)}</td>'
            f"<td>{_e(error)}</td>"
            f"<td>{'' if c.duration_ms is None else f'{c.duration_ms:.0f}'}</td>"
            f"<td>{_e(c.device_used or '')}</td><td>{artifact}{_e(reused)}</td></tr>"
        )
    parts.append("</table>")
    parts.append(
        '<h2>Models used</h2><table id="models"><tr><th>component</th><th>model</th>'
        "<th>version</th><th>engine</th><th>precision</th><th>device</th><th>weights sha256</th>"
        "</tr>"
    )
    for name, used in _models(inputs):
        stand_in = ' <span class="badge stand-in">stand-in</span>' if used.stand_in else ""
        parts.append(
            f'<tr class="{"stand-in" if used.stand_in else "model"}"><td>{_e(name)}</td>'
            f"<td>{_e(used.name)}{stand_in}</td><td>{_e(used.version)}</td>"
            f"<td>{_e(used.engine)}</td><td>{_e(used.precision)}</td><td>{_e(used.device)}</td>"
            f"<td><code>{_e(used.weights_digest[:16])}</code></td></tr>"
        )
    parts.append("</table>")
    if inputs.problems:
        parts.append('<h2>Not shown</h2><ul id="problems">')
        parts.extend(f"<li>{_e(p)}</li>" for p in inputs.problems)
        parts.append("</ul>")
    analysis = json.dumps(run.analysis, sort_keys=True)
    parts.append(f'<p class="run">analysis {_e(analysis)}</p></body></html>')
    return "\n".join(parts)


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
.run { color: #555; } code { font-size: 12px; }
.badge { font-size: 12px; padding: 2px 8px; border-radius: 10px; color: #fff; }
.ok { background: #2e8b57; color: #fff; } .error { background: #c0392b; color: #fff; }
.empty { background: #999; color: #fff; } .skipped { background: #ccc; }
.badge.stand-in { background: #e67e22; }
#previews { display: flex; flex-direction: column; gap: 16px; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
figure img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; } th, td { padding: 3px 8px; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: top; }
td.status { border-radius: 4px; }
"""
