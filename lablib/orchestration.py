"""Chapter 09's helpers around Dagster: the home of its runs, a run's steps as a table, the asset
graph drawn.

On the face as ``lablib.orchestration``. The pipeline itself is a code location in the repository
(``pipelines/mat``); this module only looks at it. Dagster is imported when a helper runs, so
``import lablib`` stays light.
"""

from __future__ import annotations

from lablib.services.orchestrator import dagster_home

__all__ = ["dagster_home", "instance", "run_table", "asset_graph"]

def instance():
    """The Dagster instance of this LAB_HOME (runs recorded where the UI reads them)."""
    import warnings

    import dagster as dg

    # each in-process run closes an asyncio loop whose generators were never started; Python warns
    # about it on stderr once per run, naming a library path (harmless, and not the learner's)
    warnings.filterwarnings("ignore", message="coroutine 'BaseEventLoop.shutdown_asyncgens' was never awaited")
    return dg.DagsterInstance.from_config(str(dagster_home()))


def run_table(result, instance=None) -> list[dict]:
    """A run's steps in order: step, status, attempts and seconds. With the ``instance`` the run was
    recorded in, the seconds come from its event log's timestamps; without it they are left out."""
    if instance is not None:
        events = [(e.dagster_event, e.timestamp) for e in instance.all_logs(result.run_id) if e.dagster_event]
    else:
        events = [(e, None) for e in result.all_events]
    rows: dict[str, dict] = {}
    started: dict[str, float] = {}
    for event, stamp in events:
        key = getattr(event, "step_key", None)
        if not key:
            continue
        kind = event.event_type_value
        row = rows.setdefault(key, {"step": key, "status": "not run", "attempts": 0})
        if instance is not None:
            row.setdefault("seconds", 0.0)
        if kind in ("STEP_START", "STEP_RESTARTED"):
            row["attempts"] += 1
            row["status"] = "running"
            if stamp is not None:
                started.setdefault(key, stamp)
        elif kind == "STEP_UP_FOR_RETRY":
            row["status"] = "retrying"
        elif kind == "STEP_SUCCESS":
            row["status"] = "succeeded"
        elif kind == "STEP_FAILURE":
            row["status"] = "failed"
        elif kind == "STEP_SKIPPED":
            row["status"] = "skipped"
        if stamp is not None and key in started and kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            row["seconds"] = round(stamp - started[key], 2)  # retries and their waits included
    return list(rows.values())


def asset_graph(defs):
    """The asset graph of a ``Definitions`` as a graphviz Digraph (groups as clusters, checks as
    notes); drawn from the definitions, so it is what Dagster itself sees."""
    import graphviz

    graph = defs.resolve_asset_graph()
    dot = graphviz.Digraph(graph_attr={"rankdir": "LR", "fontsize": "11"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "#eef3fb",
                                      "fontname": "Helvetica", "fontsize": "11"})
    groups: dict[str, list] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        groups.setdefault(graph.get(key).group_name or "default", []).append(key)
    for group, keys in groups.items():
        with dot.subgraph(name=f"cluster_{group}") as sub:
            sub.attr(label=group, style="rounded", color="#9aa7b8")
            for key in keys:
                node = graph.get(key)
                label = key.to_user_string()
                if node.partitions_def is not None:
                    label += "\n(daily partitions)"
                checks = sorted(c.name for c in node.check_keys)
                if checks:
                    label += "\n✓ " + "\n✓ ".join(checks)
                sub.node(key.to_user_string(), label)
    for key in graph.get_all_asset_keys():
        for parent in graph.get(key).parent_keys:
            dot.edge(parent.to_user_string(), key.to_user_string())
    return dot
