"""The one planner every door goes through (`dp process`, the uploads sensor): which
services must answer, and for each batch of videos, under their lease, which components are
still up to date in the storage (reused) and which runs compute the rest.

    check_services(profile, storage)          storage + the profile's Triton models (+ broker)
    with leased(instance, storage, batch, owner, echo):
        report_uploads(...)                   the record the run reads, under the lease
        plan = plan_batch(context, batch, digests, echo)
        plan.runs       -> one Dagster run each: a contiguous range + the components to compute
        plan.up_to_date -> videos with every component reused: no run

A run launched elsewhere (the UI) is not planned: it computes what it is asked to.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

from dagster import DagsterInstance

from dp_assets.components import catalog, model_families
from dp_assets.factory import fingerprint_of
from dp_assets.freshness import Materialized, reusable
from dp_assets.leases import open_leases
from dp_assets.preflight import preflight
from dp_core.component_spec import ComponentSpec
from dp_core.errors import DpError, ErrorCode
from dp_core.profile import Profile
from dp_resources.storage.backends import Storage
from dp_resources.storage.verified_objects import ObjectVerifier

Echo = Callable[[str], None]


def check_services(profile: Profile, storage: Storage) -> None:
    """The storage and the profile's Triton models answer (dp_assets/preflight.py), and with
    the Celery executor its broker: a clear DpError before any run, never a hung run."""
    preflight(profile, model_families(), storage)
    _check_celery_broker()


def _check_celery_broker() -> None:
    if os.environ.get("DP_EXECUTOR") != "celery":
        return
    from dp_assets.execution import celery_worker_config
    from dp_resources.services.health import check_redis

    broker = celery_worker_config()["broker"]
    result = check_redis(broker)
    if not result.ok:
        # the user's own terminal: name the address (health endpoints never do), no password
        address = urlsplit(broker)
        raise DpError(
            ErrorCode.DEPENDENCY_ERROR,
            f"the Celery broker is unreachable at {address.hostname}:{address.port} "
            f"({result.detail}); start Redis or unset DP_EXECUTOR to run in-process",
        )


@dataclass(frozen=True)
class PlanningContext:
    """What planning needs beside the videos: built once per door invocation."""

    instance: DagsterInstance
    storage: Storage
    profile: Profile
    verifier: ObjectVerifier
    specs: Mapping[str, ComponentSpec]
    fingerprints: Mapping[str, str]  # component -> its fingerprint under the profile

    @classmethod
    def of(cls, instance, storage, profile, verifier) -> PlanningContext:
        specs = catalog()
        # each asset's code_version is this fingerprint (dp_assets/factory.py)
        fingerprints = {name: fingerprint_of(specs[name], profile) for name in profile.components}
        return cls(instance, storage, profile, verifier, specs, fingerprints)


@dataclass
class PlannedRun:
    keys: list[str]  # contiguous in registration order: one partition range
    compute: list[str]  # components to compute, in the profile's order
    reused: dict[str, dict[str, Materialized]]  # video -> component -> its reused artifact


@dataclass
class BatchPlan:
    runs: list[PlannedRun]
    up_to_date: dict[str, dict[str, Materialized]]  # video -> every component reused


def plan_batches(batch_keys: list[str], registered: list[str], size: int) -> list[list[str]]:
    """Split keys into batches of at most `size`, each contiguous in registration order
    (a Dagster partition range covers every key between its ends)."""
    position = {key: i for i, key in enumerate(registered)}
    ordered = sorted(dict.fromkeys(batch_keys), key=position.__getitem__)
    batches: list[list[str]] = []
    for key in ordered:
        last = batches[-1] if batches else None
        if last and len(last) < size and position[key] == position[last[-1]] + 1:
            last.append(key)
        else:
            batches.append([key])
    return batches


@contextmanager
def leased(
    instance: DagsterInstance,
    storage: Storage,
    keys: list[str],
    owner: str,
    echo: Echo,
    wait: bool = True,
) -> Iterator[None]:
    """One writer per video (dp_assets/leases.py): waits while another writer holds one,
    or with `wait=False` raises `LeaseHeld` naming it."""
    with open_leases(instance, storage, keys, owner) as leases:
        leases.acquire(echo, wait=wait)
        yield


def plan_batch(
    context: PlanningContext,
    batch: list[str],
    source_digests: Mapping[str, str],
    echo: Echo,
    force: bool = False,
) -> BatchPlan:
    """Runs for a contiguous batch (hold its lease): consecutive videos that need the same
    components computed share a run; videos with nothing to compute get none."""
    kept = (
        {}
        if force
        else {
            key: reusable(
                context.instance,
                key,
                context.profile,
                context.specs,
                context.fingerprints,
                context.verifier,
                source_digests[key],
                warn=lambda message: echo(f"  ! {message}"),
            )
            for key in batch
        }
    )
    order = context.profile.component_order()
    plan = BatchPlan(runs=[], up_to_date={})
    previous = None  # the batch's key before this one
    for key in batch:
        compute = [name for name in order if name not in kept.get(key, {})]
        last = plan.runs[-1] if plan.runs else None
        follows = last is not None and last.keys[-1] == previous
        previous = key
        if not compute:
            plan.up_to_date[key] = kept[key]
            continue
        if follows and last.compute == compute:
            last.keys.append(key)
            last.reused[key] = kept.get(key, {})
        else:
            plan.runs.append(PlannedRun([key], compute, {key: kept.get(key, {})}))
    return plan
