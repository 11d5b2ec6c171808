"""The capstone platform's throughput and latency, Kafka to gold, in local mode and on a standalone cluster.

    .venv/bin/python benchmarks/capstone.py [--scale ci] [--only local|cluster] [--limit SECONDS]

Runs in a throw-away LAB_HOME (benchmarks/_bench.py, ports of its own), so your own tables and
topics are never touched, and stops everything it started. For each of local (dev: Spark local[*])
and cluster (prod: a master and 2 workers of 1 core from pip's pyspark, tests/standalone.py):

1. the telemetry is replayed into the topic (the pipeline's own ``produce``, timed from outside);
2. ``python -m mat_platform run`` carries it to gold (the produce stage finds it recorded);
3. from the run's report and the gold table's Delta commit time:
   * events/s Kafka -> gold: events / (bronze + silver + gold seconds), the stages' own timing;
   * latency produce -> gold row, p50 and p95: the replayer stamps each record with its event time
     (2024's), not the moment it was sent, so the send time of the record at offset ``o`` of a partition
     holding ``n`` is taken on a straight line through the replay's window (it sends as fast as the
     broker takes, in offset order); every record reaches gold at the gold table's commit.
     With ``availableNow`` runs this latency is the run's length plus the wait for the next run;
   * the model stages (train on gold, then the champion scores every new machine-hour) and the
     latency produce -> scored hour, to gold.machine_risk's commit: what the dashboard shows at its
     next page load (each load reads the tables' latest versions). The cluster run trains and scores
     too: it is given the embedded MLflow as its MLFLOW_TRACKING_URI.

Between the two the topic and tables are removed with `lab capstone reset`. Prints a markdown table;
nothing is asserted: the numbers describe this machine under its load of the moment.

At ``full`` scale (11.5 M events) one run takes the better part of an hour on a 2-core machine:
``--only`` measures one of the two, so each fits a sitting, and every command is given ``--limit``
seconds (default 30 minutes, 4 hours at ``full``) before the benchmark gives up on it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "capstone" / "src"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the standalone cluster and the drills' port variables the tests use

from drills import PORT_VARS  # noqa: E402
from standalone import free_port, standalone  # noqa: E402

EXTERNAL_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "MLFLOW_TRACKING_URI", "SCHEMA_REGISTRY_URL", "LAB_SPARK_MASTER",
                 "SPARK_REMOTE")


LIMIT = 1800  # seconds a command may take; main() sets it from --limit


def _lab(env: dict, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "lablib.cli", *args], env=env, capture_output=True, text=True,
                          timeout=LIMIT)
    if proc.returncode != 0:
        raise SystemExit(f"`lab {' '.join(args)}` failed:\n{proc.stdout}{proc.stderr[-3000:]}")
    return proc.stdout


def _platform(env: dict, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "mat_platform", *args], cwd=SRC, env=env, capture_output=True,
                          text=True, timeout=LIMIT)
    if proc.returncode != 0:
        raise SystemExit(f"`python -m mat_platform {' '.join(args)}` failed:\n{proc.stdout}{proc.stderr[-3000:]}")
    return proc.stdout


def _offsets(env: dict, root: Path) -> list[tuple[int, int]]:
    """(offset, partition size) of every bronze row, read with delta-rs (outside Spark)."""
    code = ("import json, sys\nfrom deltalake import DeltaTable\n"
            "t = DeltaTable(sys.argv[1]).to_pyarrow_table(columns=['partition', 'offset']).to_pylist()\n"
            "print(json.dumps([[r['partition'], r['offset']] for r in t]))\n")
    rows = json.loads(subprocess.run([sys.executable, "-c", code, str(root / "bronze" / "telemetry")], env=env,
                                     capture_output=True, text=True, timeout=LIMIT, check=True).stdout)
    sizes: dict[int, int] = {}
    for p, o in rows:
        sizes[p] = max(sizes.get(p, 0), o + 1)
    return [(o, sizes[p]) for p, o in rows]


def _commit_time(path: Path) -> float:
    from deltalake import DeltaTable

    return DeltaTable(str(path)).history(1)[0]["timestamp"] / 1000


def measure(env: dict, root: Path, *args: str) -> dict:
    """Replay, then run to gold; the numbers of one environment."""
    code = ("import json, sys, time\nfrom mat_platform import pipeline, settings\n"
            "conf = settings.load(sys.argv[1])\nt0 = time.time()\nn = pipeline.produce(conf)\n"
            "print(json.dumps([n, t0, time.time()]))\n")
    env_name = args[args.index("--env") + 1] if "--env" in args else "dev"
    proc = subprocess.run([sys.executable, "-c", code, env_name], cwd=SRC, env=env, capture_output=True, text=True,
                          timeout=LIMIT)
    if proc.returncode != 0:
        raise SystemExit(f"produce failed:\n{proc.stderr[-3000:]}")
    sent, sent_from, sent_to = json.loads(proc.stdout.strip().splitlines()[-1])
    began = time.monotonic()
    _platform(env, "run", *args)
    wall = time.monotonic() - began
    report = {row["layer"]: row for row in json.loads((root / "state" / "last_run.json").read_text())}
    stages = sum(report[layer]["seconds"] for layer in ("bronze", "silver", "gold.machine_hour_features"))
    window = sent_to - sent_from
    sent_at = [sent_from + window * (o + 1) / n for o, n in _offsets(env, root)]

    def percentiles(table: str) -> list[float]:
        landed = _commit_time(root / "gold" / table)
        return statistics.quantiles(sorted(landed - t for t in sent_at), n=100)

    gold, scored = percentiles("machine_hour_features"), percentiles("machine_risk")
    return {"events": sent, "replay s": window, "run wall s": wall, "stages s": stages,
            "events/s": sent / stages, "p50 s": gold[49], "p95 s": gold[94],
            "bronze/silver/gold s": "/".join(f"{report[k]['seconds']:.1f}" for k in
                                             ("bronze", "silver", "gold.machine_hour_features")),
            "train/score s": f"{report['model.versions']['seconds']:.1f}/{report['gold.machine_risk']['seconds']:.1f}",
            "p50 to scored s": scored[49], "p95 to scored s": scored[94]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", default="ci")
    p.add_argument("--only", choices=("local", "cluster"), help="measure one of the two (default: both)")
    p.add_argument("--limit", type=float, help="seconds any one command may take (default 1800; 14400 at full)")
    args = p.parse_args()
    global LIMIT
    LIMIT = args.limit or (14400 if args.scale == "full" else 1800)

    from _bench import scratch_home

    rows = {}
    with scratch_home("capstone", args.scale) as (home, scale):
        env = {k: v for k, v in os.environ.items() if k not in EXTERNAL_VARS}
        env.update({"LAB_SCALE": scale, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
                    **{var: str(free_port()) for var in PORT_VARS}})  # ports of its own: your services stay up
        bootstrap = f"127.0.0.1:{env['LAB_KAFKA_PORT']}"
        try:
            _lab(env, "capstone", "up")
            if args.only != "cluster":
                rows["local (local[*], 2 cores)"] = measure(env, home / "capstone" / f"dev-{scale}")
                _lab(env, "capstone", "reset")  # the topic goes: the cluster's run replays afresh
            if args.only != "local":
                with standalone(home / "cluster", workers=2, cores=1, memory="1g") as cluster:
                    prod = {**env, "LAB_SPARK_MASTER": cluster.master, "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{env['LAB_MLFLOW_PORT']}",  # the model stages too
                            "LAB_DRIVER_MEMORY": "512m"}
                    rows["cluster (master + 2 workers x 1 core)"] = measure(
                        prod, home / "capstone" / f"prod-{scale}", "--env", "prod")
        finally:
            subprocess.run([sys.executable, "-m", "lablib.cli", "down", "all"], env=env, capture_output=True,
                           timeout=300)

    load = os.getloadavg()
    print(f"\nscale {args.scale}, {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n")
    cols = ["events", "replay s", "bronze/silver/gold s", "stages s", "events/s", "p50 s", "p95 s", "train/score s",
            "p50 to scored s", "p95 to scored s", "run wall s"]
    print("| run | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name, row in rows.items():
        cells = [f"{row[c]:,}" if isinstance(row[c], int) else row[c] if isinstance(row[c], str)
                 else f"{row[c]:,.0f}" if c == "events/s" else f"{row[c]:.1f}" for c in cols]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
