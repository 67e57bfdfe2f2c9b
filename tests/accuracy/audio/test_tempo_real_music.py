"""Tempo on real recorded music played faster and slower: the truth is the speed.

Pieces come from Debian packages (tests/fixtures/real_music.py): a 20 s excerpt of each,
also rendered 0.8x, 1.25x and 1.5x as fast with FFmpeg's `atempo` (pitch kept). A case
passes when tempo(speed) / tempo(1.0) is within 3 % of the speed; a jump to another
metrical level (x2, x1/2, x1/3) fails it. Only the held-out and fresh parts are asserted
here: the estimator's constants were chosen on the tuning part. librosa's figures on the
same renderings are measured by benchmarks/tempo_real_music.py (RESULTS.md); the fresh-part
test also measures and prints them.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from dp_features.audio.tempo import estimate_tempo
from tests.fixtures import real_music
from tests.fixtures.audio_synth import drum_pattern

pytestmark = pytest.mark.accuracy

RATIO_TOLERANCE = 0.03
# Issue 30's goal is 95 % of pieces x speeds. Measured on 2026-12-07 (tempo_extractor
# version 3): 31 of 42 (74 %); librosa's feature.tempo 9 of 42 on the same renderings.
# The floor is what we reach, so a regression fails; the gap to the goal is in RESULTS.md.
# This part is no longer untouched: its failures were read before version 3 (DECISIONS).
HELDOUT_MIN_PASSED = 31
# The fresh part (drascula-music, singularity-music; the rule is in real_music's docstring)
# was added after version 3 was frozen and measured once, on 2026-12-08 (benchmark run):
# ours 102 of 132 (77 %), librosa feature.tempo 45 of 132 (34 %). The floor is that
# measurement, not tuned; nothing was changed after it. Goal 95 %: missed here too.
FRESH_MIN_PASSED = 102


def test_heldout_tempo_follows_speed_changes():
    pieces = real_music.pieces("heldout")
    assert len(pieces) == 14  # 4 Frets on Fire songs (Sectoid), 10 Pushover themes
    failures, cases = [], 0
    for piece in pieces:
        base = estimate_tempo(real_music.rendered(piece, 1.0), real_music.RATE).tempo_bpm
        assert base > 0.0, f"{piece.name}: no pulse found in real music"
        for speed in real_music.SPEEDS:
            cases += 1
            tempo = estimate_tempo(real_music.rendered(piece, speed), real_music.RATE).tempo_bpm
            if abs(tempo / base / speed - 1.0) > RATIO_TOLERANCE:
                failures.append(f"{piece.name} x{speed}: {base:.1f} -> {tempo:.1f} BPM")
    passed = cases - len(failures)
    assert passed >= HELDOUT_MIN_PASSED, f"{passed}/{cases} within 3 %; failed: {failures}"


def _cases_following_speed(pieces, tempo_of) -> tuple[int, int, list[str]]:
    """(passed, cases, failures) of tempo(speed) / tempo(1.0) within 3 % of the speed; a
    piece with no tempo at 1.0x fails its 3 cases, as in benchmarks/tempo_real_music.py."""
    failures, cases = [], 0
    for piece in pieces:
        base = tempo_of(real_music.rendered(piece, 1.0))
        for speed in real_music.SPEEDS:
            cases += 1
            tempo = tempo_of(real_music.rendered(piece, speed))
            if base <= 0.0 or abs(tempo / base / speed - 1.0) > RATIO_TOLERANCE:
                failures.append(f"{piece.name} x{speed}: {base:.1f} -> {tempo:.1f} BPM")
    return cases - len(failures), cases, failures


def test_fresh_part_tempo_follows_speed_changes():
    pieces = real_music.pieces("fresh")
    # every track of both packages at least 20 s long: Drascula's 31 less 3 jingles, and
    # Singularity's 16
    assert [sum(p.package == k for p in pieces) for k in real_music.packages("fresh")] == [28, 16]
    passed, cases, failures = _cases_following_speed(
        pieces, lambda y: estimate_tempo(y, real_music.RATE).tempo_bpm
    )
    theirs, _, _ = _cases_following_speed(
        pieces, lambda y: float(librosa.feature.tempo(y=y, sr=real_music.RATE)[0])
    )
    print(
        f"fresh part, within 3 % of the speed: ours {passed}/{cases} ({passed / cases:.0%}), "
        f"librosa feature.tempo {theirs}/{cases} ({theirs / cases:.0%})"
    )
    assert passed >= FRESH_MIN_PASSED, f"{passed}/{cases} within 3 %; failed: {failures}"


def test_heldout_songs_lock_to_a_level_of_the_charted_beat():
    # Frets on Fire charts give the beat (notes.mid). We report the most salient pulse,
    # which on these rock songs is the eighth note: twice the chart (measured: all 4 at
    # 2.00x; librosa 0.96-1.03x). The test holds us to a level of the beat (1x or 2x),
    # never an unrelated tempo such as librosa's 0.69x on the tuning songs.
    songs = [p for p in real_music.pieces("heldout") if real_music.chart_bpm(p)]
    assert len(songs) == 4
    for piece in songs:
        ratio = estimate_tempo(real_music.rendered(piece, 1.0), real_music.RATE).tempo_bpm / (
            real_music.chart_bpm(piece)
        )
        assert min(abs(ratio / level - 1.0) for level in (1.0, 2.0)) <= RATIO_TOLERANCE, (
            f"{piece.name}: {ratio:.2f}x the charted beat"
        )


def test_tuning_and_heldout_share_no_source():
    tuning, heldout = real_music.pieces("tuning"), real_music.pieces("heldout")
    assert {p.package for p in tuning}.isdisjoint({p.package for p in heldout})
    assert not {f for p in tuning for f in p.files} & {f for p in heldout for f in p.files}
    # the two Frets on Fire song packages are different artists (Muldjord, Sectoid)
    assert {p.name.split("/")[1] for p in tuning}.isdisjoint(p.name.split("/")[1] for p in heldout)


def test_fresh_part_shares_no_source_with_the_others():
    fresh = real_music.pieces("fresh")
    others = real_music.pieces("tuning") + real_music.pieces("heldout")
    assert {p.package for p in fresh}.isdisjoint({p.package for p in others})
    # no file twice, even through a link (Drascula's language folders link to audio/)
    resolved = [Path(f).resolve() for p in fresh + others for f in p.files]
    assert len(resolved) == len(set(resolved))


def test_atempo_rendering_changes_tempo_and_keeps_pitch():
    # the truth of the set: length divided by the speed, a tone's pitch unchanged
    rate = real_music.RATE
    t = np.arange(4 * rate) / rate
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    for speed in real_music.SPEEDS:
        out = real_music.time_stretch(tone, speed)
        assert out.size == pytest.approx(tone.size / speed, rel=0.01)
        spectrum = np.abs(np.fft.rfft(out[rate // 2 : -rate // 2]))
        peak_hz = np.fft.rfftfreq(out.size - rate, 1.0 / rate)[np.argmax(spectrum)]
        assert peak_hz == pytest.approx(440.0, abs=2.0)


@pytest.mark.parametrize("bpm", [90, 120])
def test_drum_pattern_follows_speed_changes(bpm):
    # the same property on synthetic drums with off-beat hi-hats, where truth is also known
    y, _ = drum_pattern(bpm, 20.0, real_music.RATE, seed=bpm)
    for speed in (1.0, *real_music.SPEEDS):
        tempo = estimate_tempo(
            real_music.time_stretch(y, speed) if speed != 1.0 else y, real_music.RATE
        )
        assert tempo.tempo_bpm == pytest.approx(bpm * speed, rel=0.02)
