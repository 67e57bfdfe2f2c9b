"""Text features without a model: language by script, counts, combination, empty input."""

from __future__ import annotations

import numpy as np
import pytest

from dp_features.text.text_features import (
    COUNT_NAMES,
    SOURCES,
    count_emoji,
    detect_language,
    text_counts,
    text_features,
)

pytestmark = pytest.mark.unit


def fake_embed(texts):
    """A deterministic 8-d 'embedding' from character codes (not unit length on purpose)."""
    out = np.zeros((len(texts), 8), np.float32)
    for i, text in enumerate(texts):
        for j, c in enumerate(text):
            out[i, (ord(c) + j) % 8] += 1.0
    return out


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Привет мир", "ru"),
        ("Hello world", "en"),
        ("Скидка 50% только сегодня!", "ru"),
        ("Обзор iPhone 15 Pro", "mixed"),
        ("Hello world и привет мир", "mixed"),
        ("Новый выпуск каждую пятницу, смотрите на YouTube", "ru"),  # 6 of 7 words
        ("Пpивет миp", "ru"),  # Latin look-alikes inside Russian words (OCR)
        ("12345 !!! 🔥", "unknown"),
        ("", "unknown"),
        ("ok", "unknown"),  # too few letters to tell
    ],
)
def test_language_by_script(text, language):
    assert detect_language(text) == language


def test_counts_on_a_known_string():
    text = "Big SALE today! 50% off #sale #Deals 🔥🔥\nPrice 1990 ₽ 👍🏽 #1"
    counts = dict(zip(COUNT_NAMES, text_counts(text), strict=True))
    assert counts["characters"] == sum(not c.isspace() for c in text) == 46
    # Big SALE today 50 off sale Deals Price 1990 1 (emoji and symbols are not words)
    assert counts["words"] == 10
    assert counts["lines"] == 2
    assert counts["hashtags"] == 2  # "#1" has no letter: not a hashtag
    assert counts["emoji"] == 3  # a skin-tone modifier belongs to its emoji
    letters = [c for c in text if c.isalpha()]
    assert counts["uppercase_ratio"] == pytest.approx(
        sum(c.isupper() for c in letters) / len(letters)
    )
    assert counts["digits"] == 2 + 4 + 1


@pytest.mark.parametrize(
    ("text", "emoji"),
    [
        ("no emoji here, (c) 2024", 0),
        ("©", 0),  # text presentation
        ("©\ufe0f", 1),
        ("👨\u200d👩\u200d👧", 1),  # one ZWJ family
        ("🇷🇺🇬🇧", 2),  # two flags
        ("1\ufe0f\u20e3 go", 1),  # keycap
        ("❤️😂🎉", 3),
    ],
)
def test_emoji_counting(text, emoji):
    assert count_emoji(text) == emoji


def test_sources_languages_counts_and_combined_embedding():
    features = text_features(
        ["Скидка только сегодня", "Скидка только сегодня", "Подпишись"],
        "How to cook pasta",
        None,
        ["рецепт", " ", "pasta"],
        fake_embed,
        dim=8,
    )
    assert features.status == "ok"
    assert features.source_names.tolist() == list(SOURCES)
    assert features.source_present.tolist() == [True, True, False, True]
    assert features.source_language.tolist() == ["ru", "en", "unknown", "mixed"]
    assert features.language == "mixed"
    # the duplicate OCR line counts once; blank tags are dropped
    ocr, _, description, tags = features.source_counts
    assert ocr[COUNT_NAMES.index("lines")] == 2 and tags[COUNT_NAMES.index("lines")] == 2
    assert not description.any()
    summed = [i for i, name in enumerate(COUNT_NAMES) if name != "uppercase_ratio"]
    np.testing.assert_allclose(
        features.counts[summed], features.source_counts[:, summed].sum(axis=0)
    )
    # each present source is a unit vector; the headline is their normalised mean
    norms = np.linalg.norm(features.source_embeddings, axis=1)
    np.testing.assert_allclose(norms, [1, 1, 0, 1], atol=1e-6)
    mean = features.source_embeddings[features.source_present].mean(axis=0)
    np.testing.assert_allclose(features.embedding, mean / np.linalg.norm(mean), atol=1e-6)
    assert features.embedding.dtype == np.float32


def test_no_text_anywhere_is_empty_and_calls_no_model():
    def no_model(texts):
        raise AssertionError("the embedder must not run without text")

    features = text_features(["  "], "", None, [], no_model, dim=512)
    assert features.status == "empty"
    assert features.language == "unknown"
    assert features.embedding.shape == (512,) and not features.embedding.any()
    assert features.source_embeddings.shape == (len(SOURCES), 512)
    assert not features.source_present.any() and not features.counts.any()
    assert np.isnan(features.cyrillic_share)


def test_uppercase_ratio_of_the_total_is_over_all_letters():
    features = text_features(["ABCD"], "abcdefgh", None, [], fake_embed, dim=8)
    ratio = features.counts[COUNT_NAMES.index("uppercase_ratio")]
    assert ratio == pytest.approx(4 / 12)
