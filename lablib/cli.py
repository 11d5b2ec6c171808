"""The `lab` command: setup, doctor, build, run, progress, grade, compare, jupyter, reset (+ services and data)."""

from __future__ import annotations

import argparse
import json
import sys

from lablib.errors import LabError


def _setup(args) -> int:
    from lablib import jvm, services
    from lablib.jvm import cds
    from lablib.services import mlflow_store
    from lablib.session import driver_jars

    print("lab setup: resolving the pinned JVM dependencies")
    jvm.setup(force=args.force)
    cds.record(driver_jars())
    services.record_class_data()
    mlflow_store.record()
    print("lab setup: done")
    return 0


def _doctor(args) -> int:
    from lablib import doctor

    return doctor.main()


def _build(args) -> int:
    from lablib import notebooks

    if args.check:
        stale = notebooks.stale_labs()
        if stale:
            print("labs/ is out of date with solutions/: " + ", ".join(stale) + "; run `lab build`")
            return 1
        print("labs/ is up to date")
        return 0
    for name, changed in notebooks.build_all():
        print(f"{'wrote ' if changed else 'same  '} labs/{name}")
    return 0


def _run(args) -> int:
    from lablib import notebooks

    return notebooks.run_cli(args.chapters, labs=args.labs, scale=args.scale, save=args.save,
                             strict=args.strict, own_jvm=args.own_jvm)


def _progress(args) -> int:
    from lablib import check
    from lablib.check import progress

    if args.merge:
        from lablib import classprogress

        return classprogress.run_cli(args.merge, out=args.out)
    exercises = {ch: list(names) for ch, names in check.load_all().items()}
    if args.json:
        print(json.dumps(progress.load(), indent=1, sort_keys=True))
        return 0
    rows = progress.checklist(exercises)
    if not rows:
        print("no exercises yet")
        return 0
    current = None
    for chapter, name, mark in rows:
        if chapter != current:
            done = sum(1 for c, _, m in rows if c == chapter and m == "✅")
            total = sum(1 for c, _, _ in rows if c == chapter)
            print(f"chapter {chapter}  {done}/{total}")
            current = chapter
        print(f"  {mark} {name}")
    return 0


def _jupyter(args) -> int:
    import os

    from lablib import jupyter, ports

    port = args.port or ports.port("jupyter")  # this home's (LAB_JUPYTER_PORT wins)
    cmd = jupyter.command(port, ip=args.ip, token="" if args.no_token else None)
    # replace this process: Ctrl+C and the exit code are JupyterLab's own
    os.execve(cmd[0], cmd, jupyter.environment(os.environ))
    return 0  # not reached


def _grade(args) -> int:
    from lablib import grading

    return grading.run_cli(args.paths, out=args.out, time_limit_cu=args.time_limit, scale=args.scale)


def _compare(args) -> int:
    from lablib import comparing

    return comparing.run_cli(args.lab, args.solution, html=args.html)


def _reset(args) -> int:
    from lablib.resetting import reset

    reset(args.chapter)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lab", description="Mega Awesome Toys lab workbench")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("setup", help="resolve the pinned JVM jars into $LAB_HOME/jars")
    s.add_argument("--force", action="store_true", help="resolve again even when up to date")
    s.set_defaults(func=_setup)

    s = sub.add_parser("doctor", help="check Java, jars, LAB_HOME, memory, disk and services")
    s.set_defaults(func=_doctor)

    s = sub.add_parser("build", help="generate labs/ from solutions/")
    s.add_argument("--check", action="store_true", help="exit 1 when labs/ is stale")
    s.set_defaults(func=_build)

    s = sub.add_parser("run", help="execute notebooks headlessly (papermill)")
    s.add_argument("chapters", nargs="*", default=["all"], metavar="NN", help="chapters (03 runs every part of chapter 03, 03b one part), or all")
    s.add_argument("--labs", action="store_true", help="run labs/ (learner copies) instead of solutions/")
    s.add_argument("--scale", default=None, help="dataset scale: ci, small, full or a number")
    s.add_argument("--save", action="store_true",
                   help="authors: save the executed outputs into solutions/ (CI scale) and rebuild labs/")
    s.add_argument("--strict", action="store_true",
                   help="authors: fail a notebook over its time budget in c.u. at CI scale (always on with CI=true)")
    s.add_argument("--own-jvm", action="store_true",
                   help="a Spark JVM in each notebook's kernel, as in JupyterLab (default: several notebooks "
                        "take turns in one warm JVM)")
    s.set_defaults(func=_run)

    s = sub.add_parser("progress", help="your checklist of exercises")
    s.add_argument("--json", action="store_true", help="raw progress.json, for collecting a class's progress")
    s.add_argument("--merge", nargs="+", metavar="FILE_OR_FOLDER",
                   help="instructors: merge learners' `lab progress --json` outputs (or progress.json files) into one table")
    s.add_argument("--out", default=None, metavar="DIR",
                   help="where --merge writes its table (default: $LAB_HOME/runs/class-progress)")
    s.set_defaults(func=_progress)

    s = sub.add_parser("jupyter", help="start JupyterLab on 127.0.0.1 with the course's settings, on labs/")
    s.add_argument("--port", type=int, default=None, help="port (default: this home's recorded one, 8888 for the first home; LAB_JUPYTER_PORT)")
    s.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--no-token", action="store_true",
                   help="containers only: no token (the port must be published on 127.0.0.1 only)")
    s.set_defaults(func=_jupyter)

    s = sub.add_parser("grade", help="instructors: run learners' notebooks and mark every exercise")
    s.add_argument("paths", nargs="+", metavar="PATH", help="notebooks (.ipynb) and folders of them")
    s.add_argument("--out", default=None, metavar="DIR",
                   help="where the table and executed copies go (default: $LAB_HOME/runs/grade)")
    s.add_argument("--time-limit", type=float, default=None, metavar="CU",
                   help="per notebook, in calibration units (default: 5 × the notebook's budget)")
    s.add_argument("--scale", default="ci", help="dataset scale the notebooks run at (default ci)")
    s.set_defaults(func=_grade)

    s = sub.add_parser("compare", help="instructors: a learner's answers against the solution's (nbdime)")
    s.add_argument("lab", metavar="LAB", help="the learner's notebook")
    s.add_argument("solution", nargs="?", default=None, metavar="SOLUTION",
                   help="the solution to compare with (default: the matching one in solutions/)")
    s.add_argument("--html", default=None, metavar="FILE", help="also write nbdime's web diff as one HTML file")
    s.set_defaults(func=_compare)

    s = sub.add_parser("reset", help="remove a chapter's tables, checkpoints, topics and runs")
    s.add_argument("chapter", metavar="NN")
    s.set_defaults(func=_reset)

    s = sub.add_parser("dashboard", help="chapter 07's Streamlit dashboard on 127.0.0.1: up, down, status, "
                                         "or build (its gold tables, with Spark)")
    s.add_argument("action", nargs="?", choices=["up", "down", "status", "build"], default="status")
    s.set_defaults(func=_dashboard)

    s = sub.add_parser("capstone", help="chapters 11-12: the capstone platform (capstone/): up, run (Kafka to gold "
                                        "once, the model trained and scoring, counts per layer), orchestrate (the same "
                                        "as one Dagster job), live (the same continuously while the replay sends), "
                                        "down, status, reset (start fresh), dashboard (sales and at-risk machines on "
                                        "127.0.0.1)")
    s.add_argument("action", choices=["up", "run", "live", "orchestrate", "down", "status", "reset", "dashboard"])
    s.add_argument("--scale", default=None, help="dataset scale: ci, small, full or a number (default LAB_SCALE)")
    s.add_argument("--env", choices=["dev", "prod"], default="dev",
                   help="dev: the embedded services (default); prod: the cluster LAB_SPARK_MASTER/SPARK_REMOTE, "
                        "KAFKA_BOOTSTRAP_SERVERS, MLFLOW_TRACKING_URI name")
    s.add_argument("--rate", type=float, default=None, help="live: events per second the replay sends")
    s.add_argument("--seconds", type=float, default=None, help="live: stop after this long")
    s.add_argument("--interval", type=float, default=None, help="live: seconds between micro-batches and cycles")
    s.set_defaults(func=_capstone)

    from lablib.data import cli as data_cli
    from lablib.services import cli as services_cli

    services_cli.add_commands(sub)
    data_cli.add_commands(sub)
    return p


def _dashboard(args) -> int:
    from lablib.services import start_dashboard, stop_dashboard
    from lablib.services.cli import print_status

    if args.action == "build":
        from lablib import gold

        gold.build()
    elif args.action == "up":
        url = start_dashboard()
        print(f"open {url} (it reads chapter 07's gold tables; `lab dashboard down` stops it)")
    elif args.action == "down":
        if not stop_dashboard():
            print("dashboard: not running")
    else:
        print_status("dashboard")
    return 0


def _capstone(args) -> int:
    import subprocess

    from lablib.config import REPO, use_scale

    if args.scale is not None:
        use_scale(args.scale)  # this process's LAB_SCALE, which the platform's process inherits
    # the capstone is a learner's project, not part of lablib: it runs as its own program (`python -m
    # mat_platform` from its src folder), with lablib as its library, as it would from the learner's copy
    src = REPO / "capstone" / "src"
    cmd = [sys.executable, "-m", "mat_platform", args.action, "--env", args.env]
    for option in ("rate", "seconds", "interval"):  # live's options, handed on when given
        if getattr(args, option) is not None:
            cmd += [f"--{option}", repr(getattr(args, option))]
    proc = subprocess.Popen(cmd, cwd=src)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the platform got the same Ctrl-C and stops itself cleanly: wait for it
            continue


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except LabError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
