"""`lab data`: generate, verify, and `lab data stream` (the replayers)."""

from __future__ import annotations

import argparse

from lablib.errors import LabError


def _rate(text: str) -> float:
    value = text.strip().lower().removesuffix("/s")
    try:
        rate = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rate wants events per second such as 100 or 100/s, not {text!r}") from None
    return rate


def _data(args) -> int:
    from lablib.data import build, manifest
    from lablib.data.scales import NAMED

    if args.write_manifest:
        manifest.write(args.write_manifest)
        return 0
    if args.verify:
        scales = [args.scale] if args.scale else list(NAMED[:2])
        problems = []
        for scale in scales:
            found = manifest.verify(scale)
            problems += found
            print(f"lab data --verify {scale}: " + ("ok, every file matches datasets/MANIFEST.json"
                                                    if not found else f"{len(found)} differences"))
        for p in problems[:20]:
            print("  " + p)
        return 1 if problems else 0
    build.build(args.scale, args.seed, workers=args.workers)
    return 0


def _stream(args) -> int:
    from lablib.data import streams

    if args.to == "kafka" and not args.topic:
        raise LabError("--to kafka needs --topic NAME")
    if args.to == "files" and not args.dir:
        raise LabError("--to files needs --dir FOLDER")
    summary = streams.replay(args.source, args.to, topic=args.topic, folder=args.dir, rate=args.rate,
                            limit=args.limit, scale=args.scale, batch_size=args.batch_size, quiet=False)
    return 0 if summary["sent"] or args.limit == 0 else 1


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("data", help="generate the Mega Awesome Toys datasets (and replay them as streams)",
                              description="Generate every table into $LAB_HOME/data/<scale>.")
    p.add_argument("--scale", default=None, help="ci, small, full or a number (factor of small); default LAB_SCALE or small")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 42)")
    p.add_argument("--verify", action="store_true", help="compare the files with datasets/MANIFEST.json")
    p.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--write-manifest", nargs="*", metavar="SCALE", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=_data)
    sub = p.add_subparsers(dest="data_command", metavar="stream")
    s = sub.add_parser("stream", help="replay telemetry or clickstream events to Kafka or a folder")
    s.add_argument("--source", required=True, choices=("telemetry", "clickstream"))
    s.add_argument("--to", required=True, choices=("kafka", "files"))
    s.add_argument("--topic", help="Kafka topic (with --to kafka)")
    s.add_argument("--dir", help="folder for the batch files (with --to files)")
    s.add_argument("--rate", type=_rate, default=0.0, help="events per second, e.g. 200/s (default: as fast as possible)")
    s.add_argument("--limit", type=int, default=None, help="stop after this many events")
    s.add_argument("--batch-size", type=int, default=None, help="events per file (files only; default one second's worth)")
    s.add_argument("--scale", default=None, help="which dataset to replay (default LAB_SCALE or small)")
    s.set_defaults(func=_stream)
