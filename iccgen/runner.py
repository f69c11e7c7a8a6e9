"""The job driver: plan units, skip committed ones, run the rest on UnitWorker actors.

The driver writes nothing but `OUT/_job.json` and the cache of committed row counts and stats
(`OUT/_work/_index/`, see `shard_index`); every shard is committed by the worker that made it.
Killing the driver (Ctrl-C or SIGKILL) loses at most the units in flight: rerunning the same
command skips what is committed and sweeps the temporaries a killed writer left.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import ray
from rich.console import Console

from iccgen import __version__, confinement, inputs, location
from iccgen.config import JobConfig, diff_fields
from iccgen.dispatch import Dispatcher
from iccgen.display import progress_bar, summarise
from iccgen.errors import InputsChanged, JobFailed, JobMismatchError, OutputNotShared
from iccgen.journal import recover
from iccgen.journal_store import JournalStore
from iccgen.lease import Lease
from iccgen.model import check_context
from iccgen.shard_index import committed_totals
from iccgen.stage import StageResult
from iccgen.store import ShardStore, refuse_output, require_atomic
from iccgen.unit import Pipeline, UnitSpec
from pipelines.registry import get_pipeline
from workers.dedup import create_dedup
from workers.node_check import check_nodes, check_output


def _never_planned(store: ShardStore, existing: dict[str, Any]) -> bool:
    """A job recorded by a start that stopped before planning any unit: no shard can be its."""
    return existing.get("planned") == {} and not any(
        store.committed_units(p) for p in store.pipelines())


def prepare_output(store: ShardStore, job: JobConfig) -> dict[str, Any]:
    """Refuse an output that holds another job, or this job over changed inputs; otherwise
    record this job's config and inputs."""
    existing = store.read_job()
    current = inputs.pin(job)
    if existing is not None and _never_planned(store, existing):
        existing = None  # a start refused after its record (an empty seeds folder): nothing to keep
    if existing is not None:
        if existing.get("fingerprint") != job.fingerprint():
            changed = diff_fields(existing.get("config", {}), job.output_fields()) or ["(unknown)"]
            raise JobMismatchError(
                f"{store.uri} holds a job with a different config (changed: {', '.join(changed)}); "
                "rerun with the original config to resume, or choose a new --out"
            )
        if "inputs" not in existing:  # written before inputs were pinned: pinned from now on
            existing["inputs"] = current
            store.write_job(existing)
        changes = inputs.diff(existing["inputs"], current)
        if changes:
            raise InputsChanged(
                f"{store.uri}: the job's inputs changed since its plan was made ({'; '.join(changes)}); "
                "restore them to resume, or choose a new --out for a job over the new inputs"
            )
        return existing
    record = {
        "fingerprint": job.fingerprint(),
        "config": job.output_fields(),
        "inputs": current,
        "pipelines": job.pipelines,
        "planned": {},
        "iccgen": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    store.write_job(record)
    return record


def resolve_out(job: JobConfig) -> JobConfig:
    """A relative OUT names a folder under the driver's working directory: made absolute here,
    before any worker sees it, since each worker would resolve it in its own."""
    location.check_scheme(job.out, refuse_output(job.out))  # made absolute, s3:/b would pass
    if location.is_uri(job.out):
        return job
    out = os.path.expanduser(job.out)  # a TOML `out = "~/runs/x"` is not a folder named "~"
    return job if out == job.out and os.path.isabs(out) else job.model_copy(
        update={"out": os.path.abspath(out)})


def project_runtime_env() -> dict[str, Any]:
    """Ship our packages to cluster nodes that may not have them installed (or not this version):
    Ray uploads each once, by content hash, and puts it first on the workers' path."""
    import iccgen
    import pipelines
    import sandbox
    import workers

    dirs = [os.path.dirname(m.__file__ or "") for m in (iccgen, pipelines, workers, sandbox)]
    return {"py_modules": dirs, "excludes": ["__pycache__", "*.pyc"]}


def connect(job: JobConfig) -> None:
    """Join the cluster at --address / RAY_ADDRESS, shipping the project to its nodes, else start
    local Ray on this machine's cores."""
    if ray.is_initialized():
        return
    address = job.address or os.environ.get("RAY_ADDRESS")
    common = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    if address:
        ray.init(address=address, runtime_env=project_runtime_env(), **common)
    else:
        ray.init(num_cpus=os.cpu_count(), object_store_memory=512 * 1024**2, **common)


def require_shared_output(store: ShardStore) -> None:
    """Refuse, before any work, an OUT that some node sees elsewhere or not at all."""
    failed = check_output(store.uri)
    if failed:
        raise OutputNotShared(
            f"{store.uri} is not the same place on every node ({'; '.join(failed)}); pass a URI "
            "(s3://bucket/prefix, gs://bucket/prefix) or an absolute path on a filesystem every "
            "node mounts"
        )


def load_dedup(store: ShardStore, job: JobConfig, pipelines: list[Pipeline]) -> Any | None:
    """The job-wide index, rebuilt from the committed shards' hash column."""
    if not job.dedup.enabled:
        return None
    index = create_dedup(job.dedup.threshold, job.dedup.shards)
    for name in store.pipelines():
        table = store.read(name, columns=["id", "phash"])
        if table is not None and table.num_rows:
            ids = table.column("id").to_pylist()
            ray.get(index.add.remote(ids, table.column("phash").to_numpy().astype(np.uint64)))
    for name in job.pipelines:  # items a killed unit finished keep their admission
        for unit in JournalStore(store).units(name):
            rows = [r.triplet for r in recover(store, UnitSpec(name, unit, 0, job.seed)).results]
            kept = [t for t in rows if t is not None]
            if kept:
                hashes = np.array([t.phash for t in kept], dtype=np.uint64)
                ray.get(index.add.remote([t.id for t in kept], hashes))
    for pipeline in pipelines:
        refs = pipeline.reference_hashes(store)
        if refs:
            ids, hashes = zip(*refs)
            ray.get(index.add.remote(list(ids), np.array(hashes, dtype=np.uint64)))
    return index


def run_stage(
    pipeline: Pipeline, store: ShardStore, dispatcher: Dispatcher, console: Console
) -> StageResult:
    specs = pipeline.plan(store)
    job = store.read_job() or {}
    job.setdefault("planned", {})[pipeline.name] = len(specs)
    store.write_job(job)
    done = committed_totals(store, pipeline.name)  # one listing, not a footer per unit
    todo = [s for s in specs if s.unit not in done]
    result = StageResult(pipeline.name, planned=len(specs), skipped=len(specs) - len(todo))
    for spec in specs:  # a resumed unit counts in the summary as it does in `iccgen status`
        if spec.unit in done:
            result.count(*done[spec.unit])
    total = sum(s.items for s in specs)
    with progress_bar(console) as progress:
        task = progress.add_task(pipeline.name, total=total, units="", rejects=0)

        def bar(r: StageResult, live_kept: int = 0, live_rejected: int = 0) -> None:
            units = f"{r.skipped + r.committed}/{r.planned}"
            rejects = sum(r.rejects.values()) + live_rejected
            progress.update(task, completed=r.rows + live_kept, units=units, rejects=rejects)

        bar(result)
        dispatcher.run(pipeline, todo, result, bar)
        bar(result)
    return result


def run_job(job: JobConfig, console: Console | None = None) -> list[StageResult]:
    """Run (or resume) a job. Raises a typed error; the CLI maps it to an exit code."""
    console = console or Console(stderr=True)
    job = resolve_out(job)
    pipelines = [get_pipeline(name, job) for name in job.pipelines]  # validates inputs first
    if any(p.needs_model for p in pipelines) or job.qc.judges:
        check_context(job.model)
    require_atomic(job.out, job.output.allow_nonatomic)
    store = ShardStore(job.out)
    if store.commit_mode == "nonatomic":
        console.print(f"[yellow]warning:[/] {store.uri} is not written atomically (allowed by "
                      "[output] allow_nonatomic): a killed writer may leave a partial shard")
    store.check_writable()  # a new job's and a resumed one's, before the lease and Ray
    with Lease(store.fs, store.root, job.lease_stale_s) as lease:  # before Ray: refused at once
        if lease.note:
            console.print(lease.note)
        # A job already in OUT is checked against this one (config, inputs) before Ray starts;
        # a new one is recorded only once the nodes are known to be able to run it.
        resumed = store.read_job() is not None
        if resumed:
            prepare_output(store, job)
        results = _run_leased(job, pipelines, store, console, resumed, lease)
        lease.confirm()
    return results


def _run_leased(
    job: JobConfig, pipelines: list[Pipeline], store: ShardStore, console: Console, resumed: bool,
    lease: Lease,
) -> list[StageResult]:
    connect(job)
    require_shared_output(store)
    nodes = check_nodes()
    sandbox = confinement.require(job, nodes)  # refuses before anything is written
    if not resumed:
        prepare_output(store, job)
    output = {"commit": store.commit_mode, "allow_nonatomic": job.output.allow_nonatomic}
    store.write_job({**(store.read_job() or {}), "sandbox": sandbox, "output": output})
    confinement.show(nodes, console)
    swept = store.sweep_temporaries() + JournalStore(store).sweep()
    if swept:
        console.print(f"swept {swept} leftover(s) of an interrupted run")
    t0 = time.time()
    dispatcher = Dispatcher(job, store, lambda: load_dedup(store, job, pipelines), console,
                            still_ours=lease.confirm)
    results: list[StageResult] = []
    try:
        for pipeline in pipelines:
            results.append(run_stage(pipeline, store, dispatcher, console))
            if results[-1].failed:
                break  # later stages build on this one's output
    finally:
        dispatcher.close()
        if results:
            summarise(results, store.uri, console, time.time() - t0)
    failed = [key for r in results for key in r.failed]
    if failed:
        named = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        raise JobFailed(
            f"{len(failed)} unit(s) failed ({named}); committed shards are intact: fix the cause "
            "above and run the same command again to resume (a quarantined unit is tried once more)"
        )
    return results
