"""`lab up`, `lab down`, `lab status`, `lab port`: the embedded services from the command line."""

from __future__ import annotations

CHOICES = ["kafka", "mlflow", "registry", "connect", "all"]
#: `lab down` and `lab status` also know the model server a lab starts (lablib.serve_model)
DOWN_CHOICES = ["kafka", "mlflow", "registry", "model", "orchestrator", "dashboard", "connect", "all"]


def _up(args) -> int:
    from lablib.services import _service, by_name

    services = by_name(args.services)
    _service.up(services)
    if any(svc.name == "connect" for svc in services):
        from lablib.services import SERVED

        svc = SERVED["connect"]
        print(f"Spark Connect: {svc.address()} (log: {svc.rel_log()}); attach a notebook with "
              f"SPARK_REMOTE={svc.address()}; `lab down connect` stops it")
    return 0


def _down(args) -> int:
    from lablib.services import _service, by_name

    _service.down(by_name(args.services, served=True))
    return 0


def _status(args) -> int:
    from lablib import ports
    from lablib.paths import rel
    from lablib.services import _machine, _service, by_name

    known = by_name("all", served=True)
    if args.all:
        print(_machine.table(_machine.left_running(known)))
        return 0
    rows = [_service.status(svc) for svc in known]
    print(_service.table(rows))
    print()  # the table ends at the first blank line
    mine = ports.ports()
    explicit = [variable for name in mine if (variable := ports.explicit(name))]
    note = f"; {', '.join(explicit)} set" if explicit else ""
    print(f"ports of this home ({rel(ports.record_path())}{note}): "
          + ", ".join(f"{ports.LABELS[name]} {number}" for name, number in mine.items()))
    advice = [line for line in (_service.advice(st, svc.started_by) for st, svc in zip(rows, known, strict=True)) if line]
    if advice:
        print("\n".join(advice))
    return 0


def print_status(name: str) -> None:
    """`lab X status` for one served app (orchestrator, dashboard): its row, and advice if any."""
    from lablib.services import SERVED, _service

    svc = SERVED[name]
    row = _service.status(svc)
    print(_service.table([row]))
    line = _service.advice(row, svc.started_by)
    if line:
        print(line)


def _orchestrator(args) -> int:
    from lablib.services import SERVED, _service

    svc = SERVED["orchestrator"]
    if args.action == "up":
        _service.up([svc])
        print(f"Dagster UI: {svc.address()} (code location pipelines/mat; log: {svc.rel_log()}; "
              "`lab orchestrator down` stops it)")
    elif args.action == "down":
        _service.down([svc])
    else:
        print_status("orchestrator")
    return 0


def _port(args) -> int:
    from lablib import ports

    print(ports.port(args.name))
    return 0


def add_commands(subparsers) -> None:
    """Register `lab up`, `lab down`, `lab status`, `lab orchestrator`, `lab port` on the CLI's subparsers."""
    s = subparsers.add_parser("up", help="start the embedded services (kafka, mlflow, registry or all; connect only when named)")
    s.add_argument("services", nargs="*", choices=CHOICES, default="all", metavar="SERVICE",
                   help="kafka, mlflow, registry, all (default: these three) or connect (a local Spark Connect server)")
    s.set_defaults(func=_up)

    s = subparsers.add_parser("down", help="stop the embedded services (and a model a lab serves)")
    s.add_argument("services", nargs="*", choices=DOWN_CHOICES, default="all", metavar="SERVICE",
                   help="kafka, mlflow, registry, model (the served model), orchestrator (the Dagster UI), "
                        "dashboard (chapter 07), connect (the Spark Connect server) or all (default)")
    s.set_defaults(func=_down)

    s = subparsers.add_parser("status", help="a table of this home's services and ports: state, address, PID, uptime")
    s.add_argument("--all", action="store_true",
                   help="every embedded service any LAB_HOME on this machine left running, with its home")
    s.set_defaults(func=_status)

    s = subparsers.add_parser("orchestrator", help="the Dagster UI of chapter 09 (dagster dev on pipelines/mat, 127.0.0.1)")
    s.add_argument("action", choices=["up", "down", "status"], help="start it, stop it, or show its state")
    s.set_defaults(func=_orchestrator)

    from lablib.ports import NAMES

    s = subparsers.add_parser("port", help="one of this home's ports (for scripts: `make lab` asks for jupyter)")
    s.add_argument("name", choices=NAMES)
    s.set_defaults(func=_port)
