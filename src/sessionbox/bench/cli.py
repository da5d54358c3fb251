"""``sessionbox bench``: the plan from the options, the run, the table and the JSON."""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
from pathlib import Path

from rich.console import Console

from sessionbox.bench import report, runner
from sessionbox.bench.workloads import Plan

QUICK = Plan(
    sizes=(200,),
    big_files=10,
    stream_mib=32,
    tree_reps=5,
    grep_reps=2,
    list_ops=200,
    http_seconds=3.0,
    scale=(200, 2_000),
    budget_s=20.0,
)


def plan_for(quick: bool, sizes: list[int] | None) -> Plan:
    plan = QUICK if quick else Plan()
    if sizes:
        small = max(1, min(sizes))
        plan = dataclasses.replace(plan, sizes=tuple(sizes))
        if quick:  # a smoke run: every workload once, as small as it gets
            plan = dataclasses.replace(
                plan,
                scale=(small, small * 10),
                list_ops=max(small, 10),
                http_seconds=1.0,
                big_files=3,
                stream_mib=4,
                tree_reps=2,
                grep_reps=1,
            )
    return plan


def run_bench(
    *,
    quick: bool,
    stores: list[str] | None,
    out: Path | None,
    compare: Path | None,
    sizes: list[int] | None,
    only: list[str] | None,
    markdown: Path | None = None,
    budget: float | None = None,
) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=200)
    plan = plan_for(quick, sizes)
    if budget is not None:
        plan = dataclasses.replace(plan, budget_s=budget)

    def save(outcome: runner.Run) -> None:
        if out is not None:  # after every contender, so an interrupted run keeps its rows
            out.parent.mkdir(parents=True, exist_ok=True)
            data = runner.as_json(outcome)
            data["results"] = [r.as_json() for r in report.sorted_results(outcome.results)]
            out.write_text(json.dumps(data, indent=1) + "\n")

    # SIGTERM (a timeout, a kill) unwinds like Ctrl-C, so temp dirs and the database go.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        outcome = runner.run(plan, stores, console, set(only) if only else None, save)
    finally:
        signal.signal(signal.SIGTERM, previous)
    outcome.results = report.sorted_results(outcome.results)
    data = runner.as_json(outcome)
    report.print_results(console, data)
    if out is not None:
        save(outcome)
        console.print(f"results written to {out}")
    if markdown is not None:
        markdown.write_text(report.markdown(data))
        console.print(f"markdown tables written to {markdown}")
    if compare is not None:
        report.compare(console, json.loads(compare.read_text()), data)
