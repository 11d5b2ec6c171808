"""`lab up`, `lab down`, `lab status`: the embedded services from the command line."""

from __future__ import annotations

CHOICES = ["kafka", "mlflow", "registry", "all"]
#: `lab down` and `lab status` also know the model server a lab starts (lablib.serve_model)
DOWN_CHOICES = ["kafka", "mlflow", "registry", "model", "all"]


def _up(args) -> int:
    from lablib.services import _service, by_name

    _service.up(by_name(args.services))
    return 0


def _down(args) -> int:
    from lablib.services import _service, by_name

    _service.down(by_name(args.services, served=True))
    return 0


def _status(args) -> int:
    from lablib.services import _service, by_name

    known = by_name("all", served=True)
    rows = [_service.status(svc) for svc in known]
    print(_service.table(rows))
    advice = [line for line in (_service.advice(st, svc.started_by) for st, svc in zip(rows, known, strict=True)) if line]
    if advice:
        print()  # the table ends at the first blank line
        print("\n".join(advice))
    return 0


def add_commands(subparsers) -> None:
    """Register `lab up`, `lab down`, `lab status` on the CLI's subparsers."""
    s = subparsers.add_parser("up", help="start the embedded services (kafka, mlflow, registry or all)")
    s.add_argument("services", nargs="*", choices=CHOICES, default="all", metavar="SERVICE",
                   help="kafka, mlflow, registry or all (default)")
    s.set_defaults(func=_up)

    s = subparsers.add_parser("down", help="stop the embedded services (and a model a lab serves)")
    s.add_argument("services", nargs="*", choices=DOWN_CHOICES, default="all", metavar="SERVICE",
                   help="kafka, mlflow, registry, model (the served model) or all (default)")
    s.set_defaults(func=_down)

    s = subparsers.add_parser("status", help="a table of the services: state, address, PID, uptime")
    s.set_defaults(func=_status)
