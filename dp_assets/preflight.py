"""Before a run starts: the services the profile needs answer, or nothing starts.

Storage answers one read-only request; for every component the profile serves through
Triton, each of its models is present and ready on the server (`TritonModel`'s start-up
checks, with a connect deadline of seconds). A failure is a `DpError` with its code
(STORAGE_ERROR, MODEL_UNAVAILABLE, MODEL_NOT_FOUND) before any step, any partition or any
run is created, instead of the same error once per step and video later.
"""

from __future__ import annotations

from collections.abc import Mapping

from dp_core.profile import Profile
from dp_resources.models.registry import family
from dp_resources.models.triton_runtime import TritonModel
from dp_resources.models.triton_towers import TritonSettings
from dp_resources.storage.backends import Storage

CONNECT_DEADLINE_S = 5.0


def served_models(profile: Profile, families: Mapping[str, str]) -> dict[str, str]:
    """Triton model name -> the component that needs it, for `runtime: triton` entries."""
    needed = {}
    for name, settings in profile.components.items():
        if settings.runtime == "triton" and name in families:
            for model in family(families[name]).triton_models:
                needed.setdefault(model, name)
    return needed


def preflight(profile: Profile, families: Mapping[str, str], storage: Storage) -> None:
    storage.check_reachable()
    needed = served_models(profile, families)
    if not needed:
        return
    server = TritonSettings.from_env("cpu")
    for model in sorted(needed):
        TritonModel(
            server.url,
            model,
            protocol=server.protocol,
            timeout_s=server.timeout_s,
            connect_timeout_s=CONNECT_DEADLINE_S,
        ).close()
