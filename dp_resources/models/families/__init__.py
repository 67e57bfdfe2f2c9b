"""The model families, one module each: every module declares its `ModelFamily` (files,
I/O contract, how to get it, stand-in name) and completes it with its loader
(`@FAMILY.loads`). `FAMILIES` gathers them here, by explicit import, in the order
`dp models list` shows them; `dp_resources.models.registry` looks families up in it."""

from __future__ import annotations

from dp_resources.models.families import (
    clap,
    clip,
    faces,
    midas,
    nanodet,
    packaged,
    text,
    transnetv2,
)
from dp_resources.models.registry import ModelFamily

FAMILIES: dict[str, ModelFamily] = {
    model_family.name: model_family
    for model_family in (
        clap.FAMILY,
        clip.FAMILY,
        midas.FAMILY,
        nanodet.FAMILY,
        transnetv2.FAMILY,
        packaged.SILERO_FAMILY,
        packaged.YAMNET_FAMILY,
        faces.FAMILY,
        text.OCR_FAMILY,
        text.USE_FAMILY,
    )
}
