"""Units that keep failing: set aside after a few tries, with their reason, in `OUT/_job.json`.

A unit that fails TRIES times in one run (its own exception, or its worker dying under it) is
quarantined instead of failing the job over and over: the rest of the job goes on, the job ends
with exit 1 naming it, and `iccgen status` shows it. The next run tries it once more; a unit
that then commits leaves the quarantine.
"""

from __future__ import annotations

import time
from typing import Any

from iccgen.store import ShardStore

KEY = "quarantined"
#: a unit is tried this many times in a run before it is quarantined
TRIES = 3


def held(store: ShardStore) -> dict[str, dict[str, Any]]:
    """Quarantined units by key ("solid/00003"): their reason, tries and when."""
    return (store.read_job() or {}).get(KEY, {})


def put(store: ShardStore, key: str, reason: str, tries: int) -> None:
    job = store.read_job() or {}
    before = job.get(KEY, {}).get(key, {})
    job.setdefault(KEY, {})[key] = {
        "reason": reason,
        "tries": before.get("tries", 0) + tries,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    store.write_job(job)


def release(store: ShardStore, key: str) -> None:
    job = store.read_job() or {}
    if key in job.get(KEY, {}):
        del job[KEY][key]
        store.write_job(job)
