"""What the forkserver of the multiprocess executor imports once (dp_assets/execution.py):
dp's modules (seconds of imports) and, when `dp process` named its settings, the run's job
(about a second to build), so a step process forks with both in memory."""

import os

from dp_assets.definitions import process_job
from dp_assets.execution import PRELOAD_PROFILE_ENV, PRELOAD_STORAGE_ENV

if os.environ.get(PRELOAD_STORAGE_ENV) and os.environ.get(PRELOAD_PROFILE_ENV):
    process_job(os.environ[PRELOAD_STORAGE_ENV], os.environ[PRELOAD_PROFILE_ENV])
