"""`dp report`: one self-contained HTML page per video, readable offline (images inlined as
data URIs, inline style, no script, nothing fetched):

- a video header (duration, resolution, frame rate, audio) and the run;
- headline numbers per component (tempo, loudness, pacing, shot quality, colour, story...);
- one timeline of every component's signal on a shared time axis (`report_timeline`);
- the shot table (frame numbers, timecodes, lengths, thumbnails, kind, confidence);
- pictures of what is in the frames (contact sheet, detections);
- every component's status, with the reason of each one that did not run or found nothing;
- models used (one digest per model, as `dp models list` and `dp doctor` show it) and
  where every artifact lies.

Writing a report also rewrites `index.html` in its folder: one row per report there.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from dp_assets.components import catalog
from dp_assets.previews import frames_near
from dp_assets.step_api import PreviewSource
from dp_assets.uploads import prepare_upload
from dp_cli.home import DEFAULT_HOME
from dp_cli.report_index import REPORT_META, write_index
from dp_cli.report_timeline import TIMELINE_STYLE, Axis, render_timeline, timeline_lanes
from dp_cli.shot_list import Shot, shots_of, timecode
from dp_core.artifact import Artifact, ModelUsed, decode_artifact, verify_digest
from dp_core.errors import DpError, ErrorCode
from dp_core.identity import parse_partition_key
from dp_core.manifest import ComponentRecord, Manifest
from dp_features.previews import image_mime
from dp_resources.models.registry import shown_digest
from dp_resources.storage.backends import LocalStorage, Storage, open_storage

REPORTS_DIR = DEFAULT_HOME / "reports"
STATUS_CLASS = {"success": "ok", "empty": "empty", "error": "error", "skipped": "skipped"}
# pictures of what is in the frames; the signals over time are the timeline's lanes
FRAME_PICTURES = ("cut_detection", "core_face_landmarks", "core_object_detections")
THUMB_WIDTH = 160


@dataclass
class ReportInputs:
    manifest: Manifest
    manifest_key: str
    storage: Storage
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    previews: dict[str, bytes] = field(default_factory=dict)
    thumbnails: list[bytes | None] = field(default_factory=list)  # one per shot (JPEG)
    problems: list[str] = field(default_factory=list)  # what could not be read or drawn

    @property
    def video_meta(self) -> dict:
        """The segmenter's probe of the file (size, fps, audio...), {} without one."""
        segmenter = self.artifacts.get("segmenter")
        extra = (segmenter.meta.model_extra or {}) if segmenter is not None else {}
        meta = extra.get("video_metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def duration_s(self) -> float | None:
        segmenter = self.artifacts.get("segmenter")
        if segmenter is not None and "duration_s" in segmenter.arrays:
            return float(np.ravel(segmenter.arrays["duration_s"])[0])
        value = self.video_meta.get("duration_s")
        return float(value) if value else None

    @property
    def fps(self) -> float | None:
        value = self.video_meta.get("native_fps")
        return float(value) if value else None

    def shots(self) -> list[Shot]:
        cuts = self.artifacts.get("cut_detection")
        if cuts is None or cuts.meta.status != "ok" or not self.fps:
            return []
        a = cuts.arrays
        frames = self.video_meta.get("decoded_frames")
        return shots_of(
            a["shot_bounds_s"],
            a["cut_times_s"],
            a["cut_kinds"],
            a["cut_confidence"],
            self.fps,
            int(frames) if frames else None,
        )


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
    """The manifest, its artifacts (digests verified), the frame pictures and a thumbnail
    per shot."""
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
    for name in FRAME_PICTURES:
        artifact, spec = inputs.artifacts.get(name), specs.get(name)
        if artifact is None or spec is None or spec.preview is None:
            continue
        if artifact.meta.status != "ok":
            continue
        upstream = {i: inputs.artifacts[i] for i in spec.inputs if i in inputs.artifacts}
        try:
            picture = spec.preview(PreviewSource(artifact.arrays, upstream, storage))
        except Exception as exc:  # a picture that cannot be drawn leaves a note, not a crash
            inputs.problems.append(f"{name}: no preview: {exc!r}")
            continue
        if picture:
            inputs.previews[name] = picture
    inputs.thumbnails = _thumbnails(inputs)
    return inputs


def _thumbnails(inputs: ReportInputs) -> list[bytes | None]:
    """A small JPEG of each shot's middle analysis frame."""
    shots = inputs.shots()
    segmenter = inputs.artifacts.get("segmenter")
    if not shots or segmenter is None:
        return []
    try:
        source = PreviewSource({}, {"segmenter": segmenter}, inputs.storage)
        frames = frames_near(source.frames, [(s.start_s + s.end_s) / 2 for s in shots])
    except (DpError, FileNotFoundError, OSError) as exc:
        inputs.problems.append(f"shot thumbnails: {exc}")
        return []
    thumbnails: list[bytes | None] = []
    for frame in frames:
        image = Image.fromarray(frame)
        height = max(1, round(image.height * THUMB_WIDTH / image.width))
        buffer = io.BytesIO()
        image.resize((THUMB_WIDTH, height), Image.Resampling.BILINEAR).save(
            buffer, "JPEG", quality=80
        )
        thumbnails.append(buffer.getvalue())
    return thumbnails


def write_report(storage: Storage, manifest_key: str, out: Path | None = None) -> Path:
    """Write the report of one manifest and the index of its folder; returns the report's
    absolute path."""
    inputs = gather(storage, manifest_key)
    if out is None:
        out = REPORTS_DIR / f"{inputs.manifest.video.partition_key}.html"
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(render_html(inputs), encoding="utf-8")
    temporary.replace(out)
    write_index(out.parent)
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


# --- numbers ---------------------------------------------------------------------------


def _scalar(arrays, name: str) -> float | None:
    if name not in arrays:
        return None
    value = np.asarray(arrays[name]).ravel()
    if not value.size or value.dtype.kind not in "biuf":
        return None
    number = float(value[0])
    return number if np.isfinite(number) else None


def _mean(arrays, name: str) -> float | None:
    if name not in arrays:
        return None
    value = np.asarray(arrays[name], np.float64).ravel()
    value = value[np.isfinite(value)]
    return float(value.mean()) if value.size else None


def _fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return "—" if value is None else pattern.format(value)


def _swatches(colours, shares=None) -> str:
    parts = []
    for i, rgb in enumerate(np.asarray(colours).reshape(-1, 3)):
        r, g, b = (int(c) for c in rgb)
        share = f" {shares[i] * 100:.0f} %" if shares is not None else ""
        parts.append(
            f'<span class="swatch" title="#{r:02x}{g:02x}{b:02x}{share}" '
            f'style="background:#{r:02x}{g:02x}{b:02x}"></span>'
        )
    return "".join(parts)


def _overall_palette(arrays) -> tuple[np.ndarray, np.ndarray] | None:
    """The shots' palettes merged, each weighted by its shot's length; top 5 colours."""
    if "shot_palette_rgb" not in arrays or "shot_palette_share" not in arrays:
        return None
    rgb = np.asarray(arrays["shot_palette_rgb"]).reshape(-1, 3)
    share = np.asarray(arrays["shot_palette_share"], np.float64)
    bounds = np.asarray(arrays.get("shot_bounds_s", np.ones((share.shape[0], 2))), np.float64)
    lengths = np.maximum(bounds[:, 1] - bounds[:, 0], 0.0) if bounds.ndim == 2 else 1.0
    weights = (share * np.reshape(lengths, (-1, 1))).ravel()
    totals: dict[tuple[int, int, int], float] = {}
    for colour, weight in zip(map(tuple, rgb.tolist()), weights, strict=True):
        totals[colour] = totals.get(colour, 0.0) + float(weight)
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:5]
    if not ranked:
        return None
    whole = sum(totals.values()) or 1.0
    return np.array([c for c, _ in ranked]), np.array([w / whole for _, w in ranked])


def _tempo(a) -> list[tuple[str, str]]:
    rows = [("tempo", f"{_fmt(_scalar(a, 'tempo_bpm'))} BPM")]
    confidence = _scalar(a, "tempo_confidence")
    if confidence is not None:
        rows.append(("tempo confidence", f"{confidence:.2f}"))
    alt, weight = _scalar(a, "tempo_alt_bpm"), _scalar(a, "tempo_alt_weight")
    if alt is not None:
        rows.append(("alternative tempo", f"{alt:.1f} BPM"))
    if weight is not None:
        rows.append(("alternative's weight", f"{weight:.2f}"))
    rows.append(("beats", str(np.ravel(a.get("beat_times_s", [])).size)))
    rows.append(("beat confidence", _fmt(_scalar(a, "beat_confidence"), "{:.2f}")))
    return rows


def _loudness(a) -> list[tuple[str, str]]:
    return [
        ("integrated", f"{_fmt(_scalar(a, 'integrated_lufs'))} LUFS"),
        ("loudness range", f"{_fmt(_scalar(a, 'loudness_range_lu'))} LU"),
        ("true peak", f"{_fmt(_scalar(a, 'true_peak_dbtp'))} dBTP"),
        ("momentary max", f"{_fmt(_scalar(a, 'momentary_max_lufs'))} LUFS"),
    ]


def _pacing(a) -> list[tuple[str, str]]:
    return [
        ("cuts per minute", _fmt(_scalar(a, "cuts_per_minute"))),
        ("shots", _fmt(_scalar(a, "shot_count"), "{:.0f}")),
        ("mean shot", f"{_fmt(_scalar(a, 'shot_length_mean_s'), '{:.2f}')} s"),
        ("median shot", f"{_fmt(_scalar(a, 'shot_length_median_s'), '{:.2f}')} s"),
        ("fast shots", f"{_fmt(_pct(_scalar(a, 'fast_shot_ratio')), '{:.0f}')} %"),
        ("motion energy", f"{_fmt(_scalar(a, 'motion_energy_mean'), '{:.2f}')} mean"),
    ]


def _pct(value: float | None) -> float | None:
    return None if value is None else value * 100.0


def _quality(a) -> list[tuple[str, str]]:
    rows = [
        ("sharpness", f"{_fmt(_mean(a, 'sharpness'))} mean"),
        ("brightness", f"{_fmt(_mean(a, 'brightness'), '{:.2f}')} mean"),
        ("contrast", f"{_fmt(_mean(a, 'contrast'), '{:.3f}')} mean"),
        ("colourfulness", f"{_fmt(_mean(a, 'colourfulness'))} mean"),
        ("noise σ", f"{_fmt(_mean(a, 'noise_sigma'), '{:.3f}')} mean"),
    ]
    if "shot_sharpness" in a and np.asarray(a["shot_sharpness"]).size:
        sharpest = int(np.nanargmax(np.asarray(a["shot_sharpness"], np.float64))) + 1
        rows.append(("sharpest shot", f"#{sharpest}"))
    return rows


def _colour(a) -> list[tuple[str, str]]:
    rows = []
    palette = _overall_palette(a)
    if palette is not None:
        rows.append(("palette", _swatches(*palette)))
    rows += [
        ("palette colours", _fmt(_scalar(a, "palette_colors"), "{:.0f}")),
        ("brightness", f"{_fmt(_mean(a, 'brightness'), '{:.2f}')} mean"),
        ("saturation", f"{_fmt(_mean(a, 'saturation'), '{:.2f}')} mean"),
        ("warmth", f"{_fmt(_mean(a, 'warmth'), '{:+.2f}')} mean"),
        ("brightness change", f"{_fmt(_scalar(a, 'brightness_change_per_s'), '{:.3f}')} /s"),
    ]
    return rows


def _story(a) -> list[tuple[str, str]]:
    climax = _scalar(a, "climax_time_s")
    position = _scalar(a, "climax_position")
    used = ", ".join(str(s) for s in np.ravel(a.get("signals_used", [])))
    return [
        ("energy arc", _e(np.ravel(a["energy_arc"])[0]) if "energy_arc" in a else "—"),
        (
            "climax",
            "—"
            if climax is None
            else f"{timecode(climax)} ({_fmt(_pct(position), '{:.0f}')} % in)",
        ),
        ("hook strength", _fmt(_scalar(a, "hook_strength"), "{:.2f}")),
        ("segments", str(len(np.asarray(a.get("segment_bounds_s", [])).reshape(-1, 2)))),
        ("signals", _e(used) or "—"),
    ]


def _speech(a) -> list[tuple[str, str]]:
    segments = np.asarray(a.get("speech_segments_s", np.zeros((0, 2)))).reshape(-1, 2)
    return [
        ("speech", f"{_fmt(_pct(_scalar(a, 'speech_ratio')), '{:.0f}')} % of the audio"),
        ("segments", str(len(segments))),
    ]


def _audio_events(a) -> list[tuple[str, str]]:
    labels = [str(t) for t in np.ravel(a.get("top_labels", []))[:3]]
    scores = np.ravel(a.get("top_scores", []))
    return [
        (_e(label), f"{float(score):.2f}") for label, score in zip(labels, scores, strict=False)
    ]


def _objects(a) -> list[tuple[str, str]]:
    rows = [("detections", _fmt(_scalar(a, "detection_count"), "{:.0f}"))]
    if "class_frame_ratio" in a and "coco_classes" in a:
        ratio = np.asarray(a["class_frame_ratio"], np.float64)
        for i in np.argsort(-ratio, kind="stable")[:3]:
            if ratio[i] > 0:
                rows.append((_e(a["coco_classes"][i]), f"in {ratio[i] * 100:.0f} % of frames"))
    return rows


def _faces(a) -> list[tuple[str, str]]:
    return [
        ("frames with a face", f"{_fmt(_pct(_scalar(a, 'frames_with_face_ratio')), '{:.0f}')} %"),
        ("most faces", _fmt(_scalar(a, "max_face_count"), "{:.0f}")),
    ]


def _ocr(a) -> list[tuple[str, str]]:
    texts = [str(t) for t in np.ravel(a.get("lines_text", []))]
    rows = [("text lines", str(len(texts)))]
    if texts:
        rows.append(("first", _e(texts[0][:60])))
    return rows


HEADLINES = (
    ("tempo_extractor", "tempo", _tempo),
    ("loudness_extractor", "loudness", _loudness),
    ("video_pacing", "pacing", _pacing),
    ("shot_quality", "shot quality", _quality),
    ("color_dynamics", "palette and colour", _colour),
    ("story_structure", "story arc", _story),
    ("speech_activity", "speech", _speech),
    ("audio_events", "audio events", _audio_events),
    ("core_object_detections", "objects", _objects),
    ("core_face_landmarks", "faces", _faces),
    ("ocr", "on-screen text", _ocr),
)


def _run_stopper(manifest: Manifest) -> ComponentRecord | None:
    """The required component whose failure stopped the run, if one did."""
    return next((c for c in manifest.components if c.required and c.status == "error"), None)


def reason(record: ComponentRecord, manifest: Manifest) -> str:
    """Why a component has no result (skipped, empty or failed); '' when it has one."""
    if record.status == "success":
        return ""
    if record.status == "error":
        code = record.error_code.value if record.error_code else "INTERNAL"
        return f"{code}: {record.error_message or 'failed'}"
    if record.status == "empty":
        return "; ".join(record.warnings) or "found nothing to report"
    # skipped
    if record.error_message:
        stopper = _run_stopper(manifest)
        if stopper is not None and stopper.name != record.name:
            code = stopper.error_code.value if stopper.error_code else "INTERNAL"
            return f"{record.error_message}: the required component {stopper.name} failed ({code})"
        return record.error_message
    return f"not in profile {manifest.run.profile}: the profile does not run it"


# --- the page ---------------------------------------------------------------------------


def _video_header(inputs: ReportInputs) -> str:
    meta = inputs.video_meta
    duration = inputs.duration_s
    rows = [("duration", "—" if duration is None else f"{timecode(duration)} ({duration:.3f} s)")]
    if meta.get("has_video", True) and meta.get("width"):
        rotation = f", rotated {meta['rotation']}°" if meta.get("rotation") else ""
        rows.append(("resolution", f"{meta['width']}×{meta['height']}{rotation}"))
        fps = meta.get("native_fps")
        vfr = " (variable frame rate)" if meta.get("variable_frame_rate") else ""
        frames = meta.get("decoded_frames")
        counted = f" · {frames} frames" if frames else ""
        rows.append(
            ("frame rate", f"{_fmt(fps, '{:.3f}').rstrip('0').rstrip('.')} fps{vfr}{counted}")
        )
        codec = " ".join(str(meta[k]) for k in ("video_codec", "pixel_format") if meta.get(k))
        if codec:
            rows.append(("video codec", codec))
    else:
        rows.append(("video", "none (audio only)"))
    if meta.get("has_audio"):
        layout = f" ({meta['audio_layout']})" if meta.get("audio_layout") else ""
        rate = meta.get("audio_sample_rate")
        rows.append(
            (
                "audio",
                f"{meta.get('audio_channels', '?')} channel(s){layout}"
                + (f", {rate} Hz" if rate else "")
                + (f", {meta['audio_codec']}" if meta.get("audio_codec") else ""),
            )
        )
    else:
        rows.append(("audio", "none"))
    if meta.get("container_format"):
        rows.append(("container", str(meta["container_format"]).split(",")[0]))
    cells = "".join(
        f'<div class="fact" data-fact="{_e(k)}"><span>{_e(k)}</span><b>{_e(v)}</b></div>'
        for k, v in rows
    )
    return f'<div id="video-header">{cells}</div>'


def _headline_cards(inputs: ReportInputs) -> str:
    records = {c.name: c for c in inputs.manifest.components}
    cards = []
    for name, title, make in HEADLINES:
        record = records.get(name)
        if record is None:
            continue
        artifact = inputs.artifacts.get(name)
        status = f'<span class="badge {STATUS_CLASS[record.status]}">{_e(record.status)}</span>'
        if artifact is not None and artifact.meta.status in ("ok", "empty"):
            try:
                rows = make(artifact.arrays)
            except (KeyError, ValueError, IndexError, TypeError) as exc:
                inputs.problems.append(f"{name}: no headline numbers: {exc!r}")
                rows = []
            body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
            note = ""
            if artifact.meta.status == "empty":
                note = f'<p class="reason">{_e(reason(record, inputs.manifest))}</p>'
            content = f"<table>{body}</table>{note}"
        else:
            content = f'<p class="reason">{_e(reason(record, inputs.manifest))}</p>'
        cards.append(
            f'<div class="card" data-component="{_e(name)}"><h3>{_e(title)} {status}</h3>'
            f'<div class="component-name">{_e(name)}</div>{content}</div>'
        )
    return f'<div id="headlines">{"".join(cards)}</div>'


def _shot_table(inputs: ReportInputs, shots: list[Shot]) -> str:
    if not shots:
        cuts = next((c for c in inputs.manifest.components if c.name == "cut_detection"), None)
        why = reason(cuts, inputs.manifest) if cuts is not None else "no cut_detection in the run"
        return f'<p id="no-shots">No shot list: {_e(why or "no frame rate known")}</p>'
    quality = inputs.artifacts.get("shot_quality")
    colour = inputs.artifacts.get("color_dynamics")
    sharpness = (
        np.ravel(quality.arrays.get("shot_sharpness", []))
        if quality is not None and quality.meta.status == "ok"
        else []
    )
    palettes = (
        np.asarray(colour.arrays["shot_palette_rgb"])
        if colour is not None and colour.meta.status == "ok" and "shot_palette_rgb" in colour.arrays
        else []
    )
    fps = shots[0].fps
    rows = [
        '<table id="shots"><tr><th>#</th><th>thumbnail</th><th>start frame</th>'
        "<th>end frame</th><th>start</th><th>end</th><th>duration</th><th>frames</th>"
        "<th>kind</th><th>confidence</th><th>sharpness</th><th>palette</th></tr>"
    ]
    for i, shot in enumerate(shots):
        thumb = inputs.thumbnails[i] if i < len(inputs.thumbnails) else None
        image = (
            f'<img class="thumb" alt="shot {shot.number}" width="{THUMB_WIDTH}" '
            f'src="data:image/jpeg;base64,{base64.b64encode(thumb).decode()}">'
            if thumb
            else ""
        )
        confidence = "" if shot.confidence is None else f"{shot.confidence:.2f}"
        sharp = f"{float(sharpness[i]):.1f}" if i < len(sharpness) else ""
        swatch = _swatches(palettes[i]) if i < len(palettes) else ""
        rows.append(
            f'<tr class="shot" data-shot="{shot.number}"><td>{shot.number}</td><td>{image}</td>'
            f'<td class="start-frame">{shot.first + 1}</td><td class="end-frame">{shot.stop}</td>'
            f'<td class="start-tc">{timecode(shot.start_s)}</td>'
            f'<td class="end-tc">{timecode(shot.end_s)}</td>'
            f'<td class="duration">{shot.end_s - shot.start_s:.3f} s</td>'
            f'<td>{shot.frames}</td><td class="kind">{_e(shot.kind)}</td>'
            f'<td class="confidence">{confidence}</td><td>{sharp}</td><td>{swatch}</td></tr>'
        )
    rows.append("</table>")
    note = (
        f'<p class="note">Frames counted from 1 at {fps:g} fps (PySceneDetect\'s convention); '
        "a shot's end frame is its last; times are the frames' start times. "
        "<code>dp export</code> writes this table as CSV, JSON or an EDL.</p>"
    )
    return "".join(rows) + note


def _meta_tags(inputs: ReportInputs, shots: list[Shot]) -> str:
    """What the folder's index shows of this report (read back by report_index)."""
    video, run = inputs.manifest.video, inputs.manifest.run
    meta = inputs.video_meta
    values = {
        "video": f"{video.platform}/{video.video_id}",
        "source": video.source_name or "",
        "status": run.status,
        "run": run.run_id,
        "finished": run.finished_at or "",
        "duration_s": "" if inputs.duration_s is None else f"{inputs.duration_s:.3f}",
        "resolution": f"{meta['width']}x{meta['height']}" if meta.get("width") else "",
        "shots": str(len(shots)) if shots else "",
        "errors": str(sum(c.status == "error" for c in inputs.manifest.components)),
    }
    return "".join(f'<meta name="{REPORT_META}{k}" content="{_e(v)}">' for k, v in values.items())


def render_html(inputs: ReportInputs) -> str:
    manifest, run, video = inputs.manifest, inputs.manifest.run, inputs.manifest.video
    title = f"{video.platform}/{video.video_id}"
    try:
        shots = inputs.shots()
    except DpError as exc:
        inputs.problems.append(f"shot list: {exc}")
        shots = []
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>dp report · {_e(title)}</title>",
        _meta_tags(inputs, shots),
        f"<style>{STYLE}{TIMELINE_STYLE}</style></head><body>",
        '<p class="nav"><a href="index.html">all reports in this folder</a></p>',
        f'<h1 id="video">{_e(title)} <span class="badge {STATUS_CLASS[run.status]}">'
        f"{_e(run.status)}</span></h1>",
        _video_header(inputs),
        '<p class="run">',
        f"source {_e(video.source_name or '')} · run <code>{_e(run.run_id)}</code> · profile "
        f"{_e(run.profile)} (config_hash <code>{_e(run.config_hash)}</code>) · dataprocessor "
        f"{_e(run.dataprocessor_version)} · {_e(run.started_at or '')} → "
        f"{_e(run.finished_at or '')}<br>storage {_e(inputs.storage.base)} · manifest "
        f"{_artifact_link(inputs.storage, inputs.manifest_key)}</p>",
        "<h2>Headline numbers</h2>",
        _headline_cards(inputs),
        "<h2>Timeline</h2>",
    ]
    duration = inputs.duration_s
    if duration:
        axis = Axis(duration)
        lanes = timeline_lanes(inputs.artifacts, axis, inputs.problems)
        cuts = inputs.artifacts.get("cut_detection")
        cut_times = cuts.arrays.get("cut_times_s", []) if cuts is not None else []
        parts.append(render_timeline(lanes, axis, cut_times))
    else:
        parts.append("<p>No timeline: the video's duration is unknown (no segmenter result).</p>")
    parts.append("<h2>Shots</h2>")
    parts.append(_shot_table(inputs, shots))
    parts.append('<h2>Pictures</h2><div id="previews">')
    for name in FRAME_PICTURES:
        if name not in inputs.previews:
            continue
        picture = inputs.previews[name]
        encoded = base64.b64encode(picture).decode()
        parts.append(
            f'<figure class="preview" data-component="{_e(name)}">'
            f"<figcaption>{_e(name)}</figcaption>"
            f'<img alt="{_e(name)} preview" src="data:{image_mime(picture)};base64,'
            f'{encoded}"></figure>'
        )
    if not inputs.previews:
        parts.append("<p>No component of this run has a picture of its frames.</p>")
    parts.append("</div>")
    folder = inputs.manifest_key.rsplit("/", 1)[0] + "/"
    parts.append(
        f"<h2>Components</h2><p>artifacts of this run in "
        f"{_artifact_link(inputs.storage, folder)}</p>"
        '<table id="components"><tr><th>component</th><th>required</th>'
        "<th>status</th><th>reason / error</th><th>ms</th><th>device</th><th>artifact</th></tr>"
    )
    for c in manifest.components:
        why = reason(c, manifest)
        if c.status == "success" and c.warnings:
            why = "; ".join(c.warnings)
        reused = f" (reused from run {c.reused_from_run})" if c.reused_from_run else ""
        artifact = _artifact_link(inputs.storage, c.artifact_key, folder) if c.artifact_key else ""
        parts.append(
            f'<tr data-component="{_e(c.name)}"><td>{_e(c.name)}</td>'
            f"<td>{'yes' if c.required else ''}</td>"
            f'<td class="status {STATUS_CLASS[c.status]}">{_e(c.status)}</td>'
            f'<td class="reason">{_e(why)}</td>'
            f"<td>{'' if c.duration_ms is None else f'{c.duration_ms:.0f}'}</td>"
            f"<td>{_e(c.device_used or '')}</td><td>{artifact}{_e(reused)}</td></tr>"
        )
    parts.append("</table>")
    parts.append(
        '<h2>Models used</h2><table id="models"><tr><th>component</th><th>model</th>'
        "<th>version</th><th>engine</th><th>precision</th><th>device</th><th>weights</th>"
        "</tr>"
    )
    for name, used in _models(inputs):
        stand_in = ' <span class="badge stand-in">stand-in</span>' if used.stand_in else ""
        parts.append(
            f'<tr class="{"stand-in" if used.stand_in else "model"}"><td>{_e(name)}</td>'
            f"<td>{_e(used.name)}{stand_in}</td><td>{_e(used.version)}</td>"
            f"<td>{_e(used.engine)}</td><td>{_e(used.precision)}</td><td>{_e(used.device)}</td>"
            f'<td><code class="digest">{_e(shown_digest(used.weights_digest))}</code></td></tr>'
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
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; margin-bottom: 6px; } h2 { font-size: 17px; margin-top: 28px; }
h3 { font-size: 14px; margin: 0; } .nav { margin: 0; font-size: 12px; }
.run { color: #555; } code { font-size: 12px; }
.badge { font-size: 12px; padding: 2px 8px; border-radius: 10px; color: #fff; }
.ok { background: #2e8b57; color: #fff; } .error { background: #c0392b; color: #fff; }
.empty { background: #999; color: #fff; } .skipped { background: #ccc; }
.badge.stand-in { background: #e67e22; }
#video-header { display: flex; flex-wrap: wrap; gap: 6px 22px; margin: 8px 0; }
.fact span { display: block; font-size: 11px; color: #666; } .fact b { font-size: 15px; }
#headlines { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
  gap: 10px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 10px; }
.card table th { font-weight: normal; color: #555; padding-left: 0; }
.card td, .card th { border: 0; padding: 1px 8px 1px 0; }
.component-name { font-size: 11px; color: #888; margin-bottom: 4px; }
.reason { color: #7a4b00; font-size: 13px; margin: 4px 0; }
.swatch { display: inline-block; width: 16px; height: 16px; border: 1px solid #999;
  margin-right: 2px; vertical-align: middle; }
#shots td { vertical-align: middle; font-variant-numeric: tabular-nums; }
.thumb { display: block; border: 1px solid #ddd; }
.note { color: #666; font-size: 12px; }
#previews { display: flex; flex-direction: column; gap: 16px; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 4px; }
figure img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; } th, td { padding: 3px 8px; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: top; }
td.status { border-radius: 4px; }
"""
