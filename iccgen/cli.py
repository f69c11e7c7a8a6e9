"""`iccgen`: build, resume, inspect and check ICC datasets."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from iccgen.config import config_keys, load_config
from iccgen.errors import ConfigError, IccgenError

DESCRIPTION = """\
iccgen builds STEM Image-Caption-Code datasets (after CodePercept, CVPR 2026): every image is
the rendering of the matplotlib program stored beside it, every caption is grounded in it.

  iccgen run examples/demo.toml            run (or resume) a job
  iccgen status out                        what a job has done
  iccgen inspect out --n 5                 look at sample triplets and rejects
  iccgen inspect out --html gallery        a static HTML gallery of rows and rejects
  iccgen stats out --plot funnel.png       each pipeline's funnel, candidates to kept rows
  iccgen render prog.py -o img.png         run one program in the sandbox
  iccgen doctor                            which sandbox isolation layers are active here
  iccgen serve                             start vLLM (Qwen3-VL) on this machine's GPUs
  iccgen export out --format swift -o sft  SFT files (ms-swift, LLaMA-Factory) for both tasks
  iccgen eval --data FILE|OUT --endpoint URL --model NAME --out DIR   STEM2Code-Eval
"""

RUN_EPILOG = """\
A job is resumable: run the same command again after a crash or Ctrl-C; committed shards are
skipped, a changed config is refused. Flags override the TOML file's values. Config keys
([model] also takes base_url, one endpoint):
{keys}
See README.md for a full example and what each key does."""


def _add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run or resume a job",
        description="Run a job from a TOML config and/or flags; the same command resumes it.",
        epilog=RUN_EPILOG.format(keys="\n".join(
            textwrap.fill(line, 96, initial_indent="  ", subsequent_indent="      ")
            for line in config_keys())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", help="job TOML file (optional: flags alone are enough)")
    p.add_argument("--pipeline", help="pipelines to run, comma-separated: solid, diversity, reproduce")
    p.add_argument("--n", type=int, help="triplets to keep per pipeline (default 200)")
    p.add_argument("--out", help="output folder or s3:// / gs:// URI (default ./out)")
    p.add_argument("--shard-size", type=int, help="items per work unit and shard (default 25)")
    p.add_argument("--seed", type=int, help="random seed of the whole job (default 0)")
    p.add_argument("--workers", type=int, help="unit workers (Ray actors); default one per core")
    p.add_argument("--address", help="Ray cluster to join (default: $RAY_ADDRESS, else local Ray)")
    p.add_argument("--from", dest="source", help="diversity: parent job output or folder of .py files")
    p.add_argument("--mutator", choices=["ast", "model"], help="diversity: AST rewrites (default) or a model")
    p.add_argument("--seeds", help="reproduce: folder of seed images or a Parquet table")
    p.add_argument("--endpoint", action="append", help="model: OpenAI-compatible base URL (repeatable)")
    p.add_argument("--model", help="model: served model name")
    p.add_argument("--unconfined-sandbox", action="store_true", default=None,
                   help="accept running programs without the sandbox's isolation where a node lacks "
                   "it (trusted programs only; recorded in _job.json and every row)")
    p.set_defaults(func=_cmd_run)


def _overrides(args: argparse.Namespace) -> dict:
    sections: dict = {
        "diversity": {k: v for k, v in (("from", args.source), ("mutator", args.mutator)) if v} or None,
        "reproduce": {"seeds": args.seeds} if args.seeds else None,
        "model": {k: v for k, v in (("base_urls", args.endpoint), ("model", args.model)) if v} or None,
        "sandbox": {"unconfined": True} if args.unconfined_sandbox else None,
    }
    flat = {
        "pipelines": args.pipeline.split(",") if args.pipeline else None,
        "n": args.n,
        "out": args.out,
        "shard_size": args.shard_size,
        "seed": args.seed,
        "workers": args.workers,
        "address": args.address,
    }
    return {**flat, **sections}


# Flags that configure one pipeline; given for a job without it, they would do nothing.
_PIPELINE_FLAGS = {"source": ("--from", "diversity"), "mutator": ("--mutator", "diversity"),
                   "seeds": ("--seeds", "reproduce")}


def _refuse_unused_flags(args: argparse.Namespace, pipelines: list[str]) -> None:
    for attr, (flag, pipeline) in _PIPELINE_FLAGS.items():
        if getattr(args, attr) is not None and pipeline not in pipelines:
            raise ConfigError(
                f"{flag} configures the {pipeline} pipeline, which this job does not run "
                f"(pipelines: {', '.join(pipelines)}); add it with --pipeline "
                f"{','.join([*pipelines, pipeline])}, or leave out {flag}")


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    from iccgen.runner import run_job

    job = load_config(args.config, **_overrides(args))
    _refuse_unused_flags(args, job.pipelines)
    results = run_job(job, console)
    rows = sum(r.rows for r in results)
    prog = _prog()
    console.print(
        f"[green]done[/green]: {rows} triplet{'' if rows == 1 else 's'} in {job.out}\n"
        f"  look at them:  {prog} inspect {job.out} --n 5\n"
        f"  rejects:       {prog} inspect {job.out} --rejects\n"
        f"  gallery:       {prog} inspect {job.out} --html gallery\n"
        f"  funnel:        {prog} stats {job.out} --plot funnel.png\n"
        f"  statistics:    {prog} status {job.out}",
        highlight=False,
    )
    return 0


def _prog() -> str:
    """How the user can call us again: `iccgen` when it is on PATH, else the venv's script."""
    script = os.path.realpath(sys.argv[0])
    on_path = shutil.which("iccgen")
    if os.path.basename(script) != "iccgen" or (on_path and os.path.realpath(on_path) == script):
        return "iccgen"
    return os.path.relpath(script)


def _add_status(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="units done and pending, rows, rejects by reason",
                       description="Summarise a job's output folder without changing it.")
    p.add_argument("out", help="the job's output folder or URI")
    p.add_argument("--watch", action="store_true", help="redraw every 2 s until the job is done")
    p.set_defaults(func=_cmd_status)


def _cmd_status(args: argparse.Namespace, console: Console) -> int:
    from iccgen.report import print_status
    from iccgen.watch import watch

    if args.watch:
        return watch(args.out, console)
    print_status(args.out, console)
    return 0


def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print sample triplets and write their images",
                       description="Print K sample triplets (id, caption, code head) and write "
                       "each image as a PNG; --rejects lists why candidates were rejected.")
    p.add_argument("out", help="the job's output folder or URI")
    p.add_argument("--n", type=int, help="how many triplets (default 5; with --html, 50 per pipeline)")
    p.add_argument("--pipeline", help="only this pipeline")
    p.add_argument("--seed", type=int, default=0, help="which random sample (default 0)")
    p.add_argument("--images", default="inspect", help="folder for the PNGs (default ./inspect)")
    p.add_argument("--rejects", action="store_true", help="show reject reasons and examples")
    p.add_argument("--html", metavar="DIR", help="write a static gallery DIR/index.html of --n "
                   "rows per pipeline and the sampled rejects (opens from disk)")
    p.set_defaults(func=_cmd_inspect)


def _cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    from iccgen.report import print_rejects, print_samples

    if args.html:
        from iccgen.gallery import write_gallery

        write_gallery(args.out, args.html, args.n or 50, args.pipeline, args.seed, console)
    elif args.rejects:
        print_rejects(args.out, console, args.pipeline)
    else:
        print_samples(args.out, console, args.n or 5, args.pipeline, args.seed, args.images)
    return 0


def _add_render(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="run one program in the sandbox, write its PNG (and trace)",
                       description="Execute a matplotlib program in the sandbox, as the pipelines do.")
    p.add_argument("program", help="a Python file")
    p.add_argument("-o", "--output", required=True, help="PNG to write")
    p.add_argument("--trace", help="also write the execution trace as JSON here")
    p.add_argument("--dpi", type=int, help="rendering DPI (default: the sandbox's)")
    p.add_argument("--unconfined-sandbox", action="store_true",
                   help="run without the sandbox's isolation where this machine lacks it (trusted programs only)")
    p.set_defaults(func=_cmd_render)


def _cmd_render(args: argparse.Namespace, console: Console) -> int:
    from iccgen.render import render_file

    return render_file(args.program, args.output, args.trace, args.dpi, console, args.unconfined_sandbox)


def _add_doctor(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="which sandbox isolation layers this machine provides",
                       description="Report every sandbox isolation layer: active, or why not. "
                       "Exits 1 when a required layer is missing, so jobs would refuse to start here.")
    p.set_defaults(func=_cmd_doctor)


def _cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    from iccgen.render import print_doctor

    return print_doctor(console)


def _add_stats(sub: argparse._SubParsersAction) -> None:
    from iccgen.funnel import add_parser

    add_parser(sub)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    from iccgen.serve import add_parser

    add_parser(sub)


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="SFT files for ms-swift or LLaMA-Factory (caption and code tasks)",
                       description="Write JSONL plus images for the caption task (image -> caption) "
                       "and the code task (image -> code target), split into train and validation "
                       "by a hash of each row's id; the same job gives byte-identical files.")
    p.add_argument("out", help="the job's output folder or URI")
    p.add_argument("--format", required=True, choices=["swift", "llamafactory", "sharegpt"],
                   help="swift: messages + images; llamafactory: the same plus dataset_info.json; "
                   "sharegpt: conversations (from/value) + images, with dataset_info.json")
    p.add_argument("-o", "--output", required=True, help="folder to write (replaced if it holds an export)")
    p.add_argument("--tasks", default="caption,code", help="comma-separated: caption, code (default both)")
    p.add_argument("--val", type=float, default=0.05, help="validation share, 0 for none (default 0.05)")
    p.add_argument("--pipeline", help="only these pipelines, comma-separated")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace, console: Console) -> int:
    from iccgen.export import export

    manifest = export(args.out, args.format, args.output, tuple(args.tasks.split(",")), args.val,
                      args.pipeline.split(",") if args.pipeline else None)
    files = ", ".join(f"{name} ({n})" for name, n in manifest["files"].items())
    console.print(f"[green]exported[/green] {manifest['rows']} rows to {args.output}: {files}\n"
                  f"  how to train on it: {os.path.join(args.output, 'README.md')}", highlight=False)
    return 0


def _add_eval(sub: argparse._SubParsersAction) -> None:
    from iccgen.eval.runner import add_parser

    add_parser(sub)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iccgen", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add in (_add_run, _add_status, _add_stats, _add_inspect, _add_render, _add_doctor,
                _add_serve, _add_export, _add_eval):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console(stderr=True, emoji=False)  # a path such as gs:b: must print as written
    func: Callable[[argparse.Namespace, Console], int] = args.func
    try:
        return func(args, console)
    except IccgenError as e:
        console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        return e.exit_code
    except KeyboardInterrupt:
        console.print("interrupted: committed shards are intact; run the same command to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
