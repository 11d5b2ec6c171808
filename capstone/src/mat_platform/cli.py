"""``python -m mat_platform up|run|live|orchestrate|down|status|reset|dashboard`` (the course's ``lab capstone`` runs this)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import lablib

from mat_platform import pipeline, settings


def _lab(*args: str) -> int:
    # the course's own command (`lab ...`) stops its services: this project never reaches into them
    return subprocess.call([sys.executable, "-m", "lablib.cli", *args])


def up(conf: settings.Settings) -> None:
    """Start what the platform needs (dev: the embedded Kafka and MLflow; prod: nothing, the cluster runs it)."""
    if conf.env == "prod":
        print("prod: the services are the cluster's; nothing to start")
        return
    started = []
    bootstrap = lablib.kafka_config()["bootstrap.servers"]  # starts the embedded broker when it is down
    if settings.external_kafka():
        print(f"Kafka: {bootstrap} (KAFKA_BOOTSTRAP_SERVERS: not ours to start or stop)")
    else:
        started.append("kafka")
        print(f"Kafka: {bootstrap}; `lab capstone down` stops it")
    uri = lablib.mlflow_uri()  # the model's registry; starts the embedded tracking server when it is down
    if settings.external_mlflow():
        print(f"MLflow: {uri} (MLFLOW_TRACKING_URI: not ours to start or stop)")
    else:
        started.append("mlflow")
        print(f"MLflow: {uri}; `lab capstone down` stops it")
    if started:
        pipeline.write_record(conf.started, sorted(set(started) | set(pipeline.read_record(conf.started) or [])))


def down(conf: settings.Settings) -> None:
    """Stop what `up` (or `run`) started; the tables stay."""
    started = pipeline.read_record(conf.started) or []
    if not started:
        print("nothing started by the capstone")
        return
    if _lab("down", *started) != 0:
        raise lablib.LabError(f"`lab down {' '.join(started)}` failed; `lab status` shows what is running")
    conf.started.unlink()


def status(conf: settings.Settings) -> None:
    report = pipeline.last_run(conf)
    print(f"environment {conf.env}, scale {conf.scale}, tables in {lablib.rel(conf.root)}")
    print(pipeline.table(report) if report else "no run yet: `lab capstone run`")
    lived = pipeline.read_record(conf.state / "last_live.json")
    print("last live: " + (live_summary(lived) if lived else "none yet (`lab capstone live`)"))
    started = pipeline.read_record(conf.started) or []
    print("started by the capstone: " + (", ".join(started) if started else "nothing"))


def reset(conf: settings.Settings) -> None:
    """Forget this environment-scale's run: tables, checkpoints, records and (embedded Kafka only) its topic."""
    removed = pipeline.reset(conf)
    # as `up` does: the embedded broker reset talked to (beside what else up or dashboard started)
    pipeline.write_record(conf.started, sorted({"kafka", *(pipeline.read_record(conf.started) or [])}))
    print("removed: " + ", ".join(removed) if removed else f"nothing to remove for {conf.env}-{conf.scale}")


def run(conf: settings.Settings) -> None:
    if conf.env == "dev":
        up(conf)
    report = pipeline.run(conf)
    print(pipeline.table(report))


def live(conf: settings.Settings, rate: float, seconds: float | None, interval: float) -> None:
    """The platform running continuously (pipeline.live): one line per cycle, then the counts and the lag."""
    pipeline.check_live(rate, seconds, interval)  # bad input refused before a service starts
    if conf.env == "dev":
        up(conf)
    limit = "until the replay has been scored" if seconds is None else f"for {seconds:g} s"
    print(f"live {limit}: replay at {rate:g} events/s, bronze and silver queries and a cycle every {interval:g} s")
    report = pipeline.live(conf, rate, seconds, interval, echo=lambda row: print(pipeline.cycle_line(row), flush=True))
    for note in report["notes"]:
        print(note)
    replayed = report["replay"]
    if replayed is None:
        print("replay: the topic already held it, nothing sent")
    else:
        print(
            f"replay: {replayed['sent']:,} events in {replayed['seconds']:.1f} s "
            f"({replayed['events_per_second']:,.0f} events/s; {replayed['stopped']})"
        )
    print(live_summary(report))
    print(pipeline.table([{"layer": k, "rows": v, "seconds": None} for k, v in report["rows"].items()]))


def live_summary(report: dict) -> str:
    """One sentence on how a live run ended: its cycles, the most bronze lagged, the latency to the last score."""
    lags = [row["lag"] for row in report["cycles"]]
    after = report["last_event_to_last_score_seconds"]
    return (
        f"stopped ({report['stopped']}) after {len(report['cycles'])} cycle(s) in {report['seconds']:.1f} s; "
        f"bronze behind the topic by at most {max(lags, default=0):,} events"
        + ("" if after is None else f"; last hour scored {after:.1f} s after the last event was sent")
    )


def orchestrate(conf: settings.Settings) -> None:
    """The run as the Dagster job ``capstone`` (mat_platform.orchestration), once, headless; its steps as a table."""
    from lablib import orchestration as course

    from mat_platform import orchestration

    if conf.env == "dev":
        up(conf)
    result, instance = orchestration.run_once(conf.env)
    print(f"{'step':<28}{'status':>12}{'attempts':>10}{'seconds':>10}")
    rows = course.run_table(result, instance)
    order = {step: i for i, step in enumerate(orchestration.STEPS)}
    for row in sorted(rows, key=lambda r: order.get(r["step"], len(order))):
        print(f"{row['step']:<28}{row['status']:>12}{row['attempts']:>10}{row.get('seconds', 0.0):>10.1f}")
    if not result.success:
        raise lablib.LabError(f"the capstone job failed: {orchestration.failure(result)}")
    print(f"run {result.run_id} recorded in {lablib.rel(course.dagster_home())} (`lab orchestrator up` shows it)")


def dashboard(conf: settings.Settings) -> None:
    """Serve the platform's dashboard (sales and at-risk machines) on 127.0.0.1 until `down`."""
    from mat_platform import dashboard as page

    url = page.serve(conf)
    pipeline.write_record(conf.started, sorted({"dashboard", *(pipeline.read_record(conf.started) or [])}))
    print(f"dashboard: {url}; `lab capstone down` stops it")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="mat-platform", description="Mega Awesome Toys' platform: Kafka to gold")
    p.add_argument("action", choices=["up", "run", "live", "orchestrate", "down", "status", "reset", "dashboard"])
    p.add_argument(
        "--env",
        choices=settings.ENVIRONMENTS,
        default="dev",
        help="dev: the embedded services; prod: the cluster the course's variables name",
    )
    p.add_argument("--rate", type=float, default=1000.0, help="live: events per second the replay sends")
    p.add_argument(
        "--seconds", type=float, default=None, help="live: stop after this long (default: once all is scored)"
    )
    p.add_argument("--interval", type=float, default=10.0, help="live: seconds between micro-batches and cycles")
    args = p.parse_args(argv)
    try:
        conf = settings.load(args.env)
        actions = {
            "up": up,
            "run": run,
            "orchestrate": orchestrate,
            "down": down,
            "status": status,
            "reset": reset,
            "dashboard": dashboard,
        }
        if args.action == "live":
            live(conf, args.rate, args.seconds, args.interval)
        else:
            actions[args.action](conf)
    except lablib.LabError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    return 0
