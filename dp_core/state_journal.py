"""The state journal for readers outside Dagster: transitions and a checkpoint.

`state_events.jsonl` has one line per component transition of one video in one run;
`state.json` is the latest state of every component. Both are derived from Dagster's
event log (the live state) by `dp_assets.run_records`.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

ComponentState = Literal["waiting", "running", "success", "empty", "error", "skipped"]
FINAL_STATES = frozenset({"success", "empty", "error", "skipped"})


class StateEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: str
    run_id: str
    partition_key: str
    component: str
    state: ComponentState
    error_code: str | None = None


def encode_events(events: list[StateEvent]) -> bytes:
    return "".join(event.model_dump_json() + "\n" for event in events).encode("utf-8")


def decode_events(data: bytes) -> list[StateEvent]:
    return [
        StateEvent.model_validate_json(line) for line in data.decode("utf-8").splitlines() if line
    ]


def checkpoint(events: list[StateEvent], run_status: str) -> dict:
    """The latest state per component, in the order components first appear."""
    components: dict[str, dict] = {}
    for event in events:
        components[event.component] = {
            "state": event.state,
            "updated_at": event.ts,
            "error_code": event.error_code,
        }
    run_id = events[0].run_id if events else None
    partition_key = events[0].partition_key if events else None
    done = all(c["state"] in FINAL_STATES for c in components.values())
    return {
        "run_id": run_id,
        "partition_key": partition_key,
        "run_status": run_status,
        "complete": done,
        "components": components,
    }


def encode_checkpoint(state: dict) -> bytes:
    return json.dumps(state, indent=2, sort_keys=False).encode("utf-8")
