"""Text features of a video from its on-screen text (OCR lines) and its sidecar metadata.

Sources, always in this order: `ocr` (the de-duplicated lines, in order of first
appearance, one per line), `title`, `description`, `tags` (one tag per line). For each:

- an embedding from a multilingual sentence encoder (USE multilingual v3, 512-d,
  L2-normalised; a zero row where the source has no text). The headline `embedding` is
  the mean of the present sources' embeddings, L2-normalised again, so every source has
  the same say whatever its length (zeros when there is no text at all);
- a language: `ru`, `en`, `mixed` or `unknown`, by script. Each word (a run of letters and
  digits) counts for the script most of its letters are in (Cyrillic or Latin, so an OCR
  look-alike such as Latin "p" inside a Russian word does not flip it); with at least 75 %
  Cyrillic words the text is `ru`, with at most 25 % `en`, in between `mixed`; fewer than
  3 letters is `unknown`. Counting words rather than letters keeps a Russian title with one
  brand name ("Новый выпуск каждую пятницу, смотрите на YouTube") `ru`. This is a script
  detector, robust on short and noisy OCR text where statistical detectors guess wildly:
  `en` means "Latin script" (a French title is `en` too). The headline `language` is
  computed over all sources together;
- counts: characters (non-space), words (runs of letters/digits), lines (non-empty),
  hashtags (`#word`), emoji (pictographic sequences: a ZWJ sequence, a flag or a keycap is
  one), uppercase letters / letters, digits. Totals are over all sources.

No text in any source gives status `empty` (a valid result, not an error).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dp_core.component_spec import FeatureSet
from dp_features.feature_stats import Arrays, finite_values, first_value

SOURCES = ("ocr", "title", "description", "tags")
COUNT_NAMES = (
    "characters",
    "words",
    "lines",
    "hashtags",
    "emoji",
    "uppercase_ratio",
    "digits",
)
MAX_SOURCE_CHARS = 4000  # longer descriptions are cut before embedding (cost, not meaning)
RU_SHARE, EN_SHARE, MIN_LETTERS = 0.75, 0.25, 3

_CYRILLIC = re.compile(r"[\u0400-\u04FF\u0500-\u052F]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_HASHTAG = re.compile(r"(?<![\w#])#\w*[^\W\d_]\w*", re.UNICODE)
_PICTO = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328\u23cf"
    "\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe\u2600-\u27bf"
    "\u2934\u2935\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001f1e5\U0001f200-\U0001faff"
)
_MODIFIERS = "\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"
_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
    f"|[0-9#*]\ufe0f?\u20e3"  # a keycap
    f"|[{_PICTO}][{_MODIFIERS}]*(?:\u200d[{_PICTO}][{_MODIFIERS}]*)*"
)
# A symbol such as (c) or <-> is an emoji only in its emoji presentation (with U+FE0F).
_TEXT_STYLE = set("\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194\u2195\u2196\u2197\u2198\u2199")


@dataclass
class TextFeatures:
    status: str  # ok | empty
    embedding: np.ndarray  # float32 [D]: the combined embedding (zeros when empty)
    language: str  # ru | en | mixed | unknown, over all sources
    source_names: np.ndarray  # unicode [S] (SOURCES)
    source_present: np.ndarray  # bool [S]
    source_embeddings: np.ndarray  # float32 [S, D]
    source_language: np.ndarray  # unicode [S]
    count_names: np.ndarray  # unicode [K] (COUNT_NAMES)
    source_counts: np.ndarray  # float64 [S, K]
    counts: np.ndarray  # float64 [K], all sources together
    cyrillic_share: float  # Cyrillic / (Cyrillic + Latin) words, NaN without such words


def script_share(text: str) -> tuple[int, int]:
    """(Cyrillic letters, Latin letters) in `text`."""
    return len(_CYRILLIC.findall(text)), len(_LATIN.findall(text))


def script_words(text: str) -> tuple[int, int, int]:
    """(Cyrillic words, Latin words, Cyrillic + Latin letters): each word counts for the
    script most of its letters are in; a tie or a word without such letters counts for
    neither."""
    cyrillic = latin = letters = 0
    for word in _WORD.findall(text):
        c, lat = script_share(word)
        letters += c + lat
        cyrillic += c > lat
        latin += lat > c
    return cyrillic, latin, letters


def language_of(cyrillic_words: int, latin_words: int, letters: int) -> str:
    words = cyrillic_words + latin_words
    if letters < MIN_LETTERS or words == 0:
        return "unknown"
    share = cyrillic_words / words
    if share >= RU_SHARE:
        return "ru"
    if share <= EN_SHARE:
        return "en"
    return "mixed"


def detect_language(text: str) -> str:
    """`ru` | `en` | `mixed` | `unknown` by script (module docstring)."""
    return language_of(*script_words(text))


def count_emoji(text: str) -> int:
    return sum(
        1
        for m in _EMOJI.finditer(text)
        if m.group() not in _TEXT_STYLE  # a bare (c), (R), TM... without U+FE0F
    )


def text_counts(text: str) -> np.ndarray:
    """The COUNT_NAMES values of one text, float64 [K]."""
    letters = [c for c in text if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    return np.array(
        [
            sum(not c.isspace() for c in text),
            len(_WORD.findall(text)),
            sum(bool(line.strip()) for line in text.splitlines()),
            len(_HASHTAG.findall(text)),
            count_emoji(text),
            upper / len(letters) if letters else 0.0,
            sum(c.isdecimal() for c in text),
        ],
        np.float64,
    )


def source_texts(
    ocr_lines: Sequence[str],
    title: str | None = None,
    description: str | None = None,
    tags: Sequence[str] = (),
) -> list[str]:
    """The four source texts (SOURCES order); OCR lines de-duplicated, in order."""
    lines = list(dict.fromkeys(s.strip() for s in ocr_lines if s and s.strip()))
    clean_tags = [t.strip() for t in tags if t and t.strip()]
    return [
        "\n".join(lines),
        (title or "").strip(),
        (description or "").strip(),
        "\n".join(clean_tags),
    ]


def text_features(
    ocr_lines: Sequence[str],
    title: str | None,
    description: str | None,
    tags: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
    dim: int = 512,
) -> TextFeatures:
    """Embeddings, language and counts (module docstring). `embed` maps a list of texts to
    [N, dim] (e.g. `TextEmbedder.embed`); it is not called when there is no text."""
    texts = source_texts(ocr_lines, title, description, tags)
    present = np.array([bool(t) for t in texts], bool)
    source_embeddings = np.zeros((len(SOURCES), dim), np.float32)
    if present.any():
        wanted = [t[:MAX_SOURCE_CHARS] for t, p in zip(texts, present, strict=True) if p]
        vectors = np.asarray(embed(wanted), np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        source_embeddings[present] = vectors / np.maximum(norms, 1e-12)
    combined = source_embeddings[present].mean(axis=0) if present.any() else np.zeros(dim)
    norm = float(np.linalg.norm(combined))
    embedding = (combined / norm if norm > 0 else combined).astype(np.float32)

    scripts = [script_words(t) for t in texts]
    cyrillic, latin, letters = (sum(s[i] for s in scripts) for i in range(3))
    source_counts = np.stack([text_counts(t) for t in texts])
    all_letters = sum(sum(c.isalpha() for c in t) for t in texts)
    all_upper = sum(sum(c.isalpha() and c.isupper() for c in t) for t in texts)
    counts = source_counts.sum(axis=0)
    counts[COUNT_NAMES.index("uppercase_ratio")] = all_upper / all_letters if all_letters else 0.0
    return TextFeatures(
        status="ok" if present.any() else "empty",
        embedding=embedding,
        language=language_of(cyrillic, latin, letters),
        source_names=np.array(SOURCES, dtype=str),
        source_present=present,
        source_embeddings=source_embeddings,
        source_language=np.array([language_of(*s) for s in scripts], dtype=str),
        count_names=np.array(COUNT_NAMES, dtype=str),
        source_counts=source_counts,
        counts=counts,
        cyrillic_share=cyrillic / (cyrillic + latin) if cyrillic + latin else float("nan"),
    )


def _features(a: Arrays) -> dict[str, float]:
    counts = finite_values(a, "counts")
    return {
        "text_features_token_count_total": float(counts.sum()) if counts.size else float("nan"),
        "text_features_cyrillic_share": first_value(a, "cyrillic_share"),
    }


# text_features' feature-table columns ({column: description, units}).
TEXT_FEATURES = FeatureSet(
    _features,
    {
        "text_features_token_count_total": "sum of the text counts (all sources)",
        "text_features_cyrillic_share": "share of Cyrillic letters in the text, 0..1",
    },
)
