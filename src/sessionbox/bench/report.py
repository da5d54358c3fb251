"""The targets of issue 7 as ratios, the Rich tables, and comparing two JSON runs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from sessionbox.bench._measure import Result
from sessionbox.bench.workloads import Plan

SB = "sb sqlite"


def _index(results: list[Result]) -> dict[tuple[str, str, int], Result]:
    return {(r.workload, r.contender, r.n): r for r in results if r.status == "ok" and r.ops}


def _target(
    name: str, value: float | None, bound: str, met: bool | None, detail: str
) -> dict[str, Any]:
    return {
        "target": name,
        "value": None if value is None else round(value, 3),
        "bound": bound,
        "met": met,
        "detail": detail,
    }


def targets(results: list[Result], plan: Plan) -> list[dict[str, Any]]:
    """Each target of issue 7 item 5, from results of this one run (None: not measured)."""
    ix = _index(results)
    out: list[dict[str, Any]] = []

    def ratio(a: Result | None, b: Result | None) -> float | None:
        if a is None or b is None or not a.ops_per_s or not b.ops_per_s:
            return None
        return a.ops_per_s / b.ops_per_s

    # Issue 3's "raw sqlite3 doing the same per-operation transactions" reads two ways
    # (docs/decisions/2026-11-26-create-target-floors.md): a verdict for each floor.
    for n in plan.sizes:
        for workload in ("create", "read"):
            mine = ix.get((workload, SB, n))
            for floor in ("raw sqlite3 same tx", "raw sqlite3"):
                raw = ix.get((workload, floor, n))
                r = ratio(mine, raw)
                out.append(
                    _target(
                        f"{workload} N={n}: sb sqlite / {floor}",
                        r,
                        ">= 0.5",
                        None if r is None else r >= 0.5,
                        "ops/s ratio; p50 ratio "
                        + (
                            _num(raw.p50_us / mine.p50_us, 2)
                            if mine and raw and mine.p50_us and raw.p50_us
                            else "?"
                        ),
                    )
                )
    big = max(plan.sizes)
    for workload, _, n in sorted(k for k in ix if k[1] == "AgentFS"):
        r = ratio(ix.get((workload, SB, n)), ix.get((workload, "AgentFS", n)))
        at = f" N={n}" if n else ""
        out.append(
            _target(
                f"{workload}{at}: sb sqlite / AgentFS",
                r,
                ">= 1",
                None if r is None else r >= 1,
                "ops/s ratio",
            )
        )
    out += http_targets(ix, big)
    small, large = plan.scale
    for store in ("sb sqlite", "sb postgresql", "sb dir"):
        a = ix.get((f"list 10-entry dir @{small} files", store, small))
        b = ix.get((f"list 10-entry dir @{large} files", store, large))
        r = b.p50_us / a.p50_us if a and b and a.p50_us and b.p50_us else None
        full = bool(a and b and a.files == small and b.files == large)
        if a or b or store == SB:
            detail = (
                "p50 latency ratio"
                if full or r is None
                else (
                    f"not comparable: the sessions held {a.files if a else '?'} and "
                    f"{b.files if b else '?'} files (fill hit its time budget)"
                )
            )
            out.append(
                _target(
                    f"list 10 entries {store}: p50 @{large} / @{small} files",
                    r,
                    "0.8..1.2",
                    None if r is None or not full else 0.8 <= r <= 1.2,
                    detail,
                )
            )
    grep_sb, grep_fs = ix.get(("grep", SB, big)), ix.get(("grep", "fs tmpfs", big))
    r = (
        grep_sb.p50_us / grep_fs.p50_us
        if grep_sb and grep_fs and grep_fs.p50_us and grep_sb.p50_us
        else None
    )
    same = bool(grep_sb and grep_fs and grep_sb.files == grep_fs.files)
    out.append(
        _target(
            f"grep N={big}: sb sqlite / grep -r on tmpfs",
            r,
            "<= 3",
            None if r is None or not same else r <= 3,
            "p50 time ratio"
            if same or r is None
            else (
                f"not comparable: {grep_sb.files if grep_sb else '?'} vs "
                f"{grep_fs.files if grep_fs else '?'} files (create hit its time budget)"
            ),
        )
    )
    # Issue 17: a large upload against raw sqlite3 writing the same bytes in 1 MiB rows.
    raw_in = ix.get(("stream in", "raw sqlite3", 0))
    for store, bound in ((SB, 0.5), ("sb http sqlite", 0.3)):
        got = ix.get(("stream in", store, 0))
        r = (
            got.mib_per_s / raw_in.mib_per_s
            if got and raw_in and got.mib_per_s and raw_in.mib_per_s
            else None
        )
        out.append(
            _target(
                f"stream in {store}: MiB/s / raw sqlite3 1 MiB rows",
                r,
                f">= {bound}",
                None if r is None else r >= bound,
                "throughput ratio, same bytes",
            )
        )
    copy = ix.get(("stream in", "fs disk", 0))
    for store in (SB, "sb http sqlite", "sb http postgresql"):
        for way in ("stream in", "stream out"):
            got = ix.get((way, store, 0))
            if got is None:
                out.append(_target(f"{way} {store}", None, "", None, "not measured"))
                continue
            rss = got.rss_growth_mib
            out.append(
                _target(
                    f"{way} {store}: peak RSS growth MiB",
                    rss,
                    "<= 64",
                    None if rss is None else rss <= 64,
                    got.note,
                )
            )
            r = (
                got.mib_per_s / copy.mib_per_s
                if copy and copy.mib_per_s and got.mib_per_s
                else None
            )
            out.append(
                _target(
                    f"{way} {store}: MiB/s / local file copy",
                    r,
                    ">= 0.5",
                    None if r is None else r >= 0.5,
                    "throughput ratio",
                )
            )
    return out


# Issue 17: (contender, workload, bound) as ratios of req/s to the floor's GET raw c=32.
HTTP_BOUNDS: tuple[tuple[str, str, float], ...] = (
    ("sb http sqlite", "HTTP GET raw c=32", 0.50),
    ("sb http sqlite", "HTTP GET JSON c=32", 0.40),
    ("sb http sqlite", "HTTP list 10-entry dir c=32", 0.30),
    ("sb http sqlite", "HTTP PUT raw overwrite c=32", 0.25),
    ("sb http sqlite", "HTTP POST new file c=32", 0.20),
    ("sb http postgresql", "HTTP GET raw c=32", 0.20),
    ("sb http postgresql", "HTTP PUT raw overwrite c=32", 0.08),
)
FLOOR = "HTTP floor"


def http_targets(ix: dict[tuple[str, str, int], Result], n: int) -> list[dict[str, Any]]:
    """Issue 17's targets, each a ratio within this run (wrk -t1, one server process)."""
    out: list[dict[str, Any]] = []
    floor = ix.get(("HTTP GET raw c=32", FLOOR, n))
    for contender, workload, bound in HTTP_BOUNDS:
        got = ix.get((workload, contender, n))
        r = (
            got.ops_per_s / floor.ops_per_s
            if got and floor and got.ops_per_s and floor.ops_per_s
            else None
        )
        out.append(
            _target(
                f"{workload} N={n}: {contender} / floor GET",
                r,
                f">= {bound}",
                None if r is None else r >= bound,
                "requests/s ratio, wrk -t1 -c32" + _cpu(got),
            )
        )
    mine = ix.get(("HTTP GET raw c=1", "sb http sqlite", n))
    base = ix.get(("HTTP GET raw c=1", FLOOR, n))
    r = mine.p50_us / base.p50_us if mine and base and mine.p50_us and base.p50_us else None
    out.append(
        _target(
            f"HTTP GET raw c=1 N={n}: sb http sqlite p50 / floor p50",
            r,
            "<= 2",
            None if r is None else r <= 2,
            "p50 latency ratio, wrk -t1 -c1",
        )
    )
    for kind in ("sqlite", "postgresql"):
        for workload in ("HTTP GET raw c=32", "HTTP PUT raw overwrite c=32"):
            opened = ix.get((workload, f"sb http {kind}", n))
            scoped = ix.get((workload + " scoped token", f"sb http {kind}", n))
            r = (
                scoped.ops_per_s / opened.ops_per_s
                if scoped and opened and scoped.ops_per_s and opened.ops_per_s
                else None
            )
            out.append(
                _target(
                    f"{workload} N={n}: sb http {kind} scoped token / open server",
                    r,
                    ">= 0.9",
                    None if r is None else r >= 0.9,
                    "requests/s ratio",
                )
            )
    return out


def _cpu(got: Result | None) -> str:
    if got is None or got.client_cpu_s is None or not got.seconds:
        return ""
    per_request = (got.server_cpu_s or 0) / got.ops * 1e6 if got.ops else 0
    return (
        f"; CPU s/s client {got.client_cpu_s / got.seconds:.2f}, "
        f"server {(got.server_cpu_s or 0) / got.seconds:.2f} ({per_request:.0f} µs a request)"
    )


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}"


def print_results(console: Console, data: dict[str, Any]) -> None:
    table = Table(title="sessionbox bench", show_lines=False)
    for column in (
        "workload",
        "N",
        "contender",
        "ops/s",
        "p50 µs",
        "p99 µs",
        "MiB/s",
        "RSS+ MiB",
        "CPU client/server s",
        "note",
    ):
        table.add_column(
            column, justify="right" if column not in ("workload", "contender", "note") else "left"
        )
    last = None
    for r in data["results"]:
        if last is not None and r["workload"] != last:
            table.add_section()
        last = r["workload"]
        note = r["note"] if r["status"] == "ok" else f"[yellow]{r['status']}[/] {r['note']}"
        if r["truncated"]:
            note = f"[yellow]time budget hit after {r['ops']} ops[/] " + note
        table.add_row(
            r["workload"],
            str(r["n"] or ""),
            r["contender"],
            _num(r["ops_per_s"]),
            _num(r["p50_us"], 1),
            _num(r["p99_us"], 1),
            _num(r["mib_per_s"], 1),
            _num(r["rss_growth_mib"], 1),
            _cpu_cell(r),
            note,
        )
    console.print(table)
    print_targets(console, data["targets"])


def _cpu_cell(r: dict[str, Any]) -> str:
    if r.get("client_cpu_s") is None:
        return ""
    return f"{r['client_cpu_s']:.1f} / {r.get('server_cpu_s') or 0:.1f}"


def print_targets(console: Console, found: list[dict[str, Any]]) -> None:
    table = Table(title="targets (ratios from this run)")
    for column in ("target", "value", "bound", "met", "detail"):
        table.add_column(column)
    for t in found:
        met = {True: "[green]met[/]", False: "[red]MISSED[/]", None: "[yellow]not measured[/]"}[
            t["met"]
        ]
        table.add_row(t["target"], _num(t["value"], 2), t["bound"], met, t["detail"])
    console.print(table)


def sorted_results(results: list[Result]) -> list[Result]:
    """Grouped by workload in the order workloads first ran, then N, then contender order."""
    order: dict[str, int] = {}
    for r in results:
        order.setdefault(r.workload, len(order))
    return sorted(results, key=lambda r: (order[r.workload], r.n))


def compare(console: Console, old: dict[str, Any], new: dict[str, Any]) -> None:
    """ops/s (or MiB/s) of every row both runs have, and the change."""
    before = {(r["workload"], r["contender"], r["n"]): r for r in old["results"]}
    table = Table(title=f"compared with the run of {old.get('meta', {}).get('when', '?')}")
    for column in ("workload", "N", "contender", "before", "after", "change"):
        table.add_column(column)
    for r in new["results"]:
        prev = before.get((r["workload"], r["contender"], r["n"]))
        if not prev:
            continue
        key = "mib_per_s" if r.get("mib_per_s") else "ops_per_s"
        a, b = prev.get(key), r.get(key)
        if not a or not b:
            continue
        change = (b - a) / a * 100
        colour = "green" if change > 0 else "red"
        table.add_row(
            r["workload"],
            str(r["n"] or ""),
            r["contender"],
            _num(a),
            _num(b),
            f"[{colour}]{change:+.0f}%[/]",
        )
    console.print(table)


def markdown(data: dict[str, Any]) -> str:
    """The run as Markdown tables, for bench/RESULTS.md."""
    meta = data["meta"]
    lines = ["| machine | |", "| --- | --- |"]
    lines += [f"| {key} | {value} |" for key, value in meta.items()]
    lines += ["", "| target | value | bound | met | detail |", "| --- | --- | --- | --- | --- |"]
    verdict = {True: "met", False: "**MISSED**", None: "not measured"}
    for t in data["targets"]:
        lines.append(
            f"| {t['target']} | {_num(t['value'], 2)} | {t['bound']} | {verdict[t['met']]} |"
        )
    lines += [
        "",
        "| workload | N | contender | ops/s | p50 µs | p99 µs | MiB/s | RSS+ MiB "
        "| CPU client/server s | note |",
        "| --- | --: | --- | --: | --: | --: | --: | --: | --: | --- |",
    ]
    for r in data["results"]:
        note = r["note"] if r["status"] == "ok" else f"{r['status']}: {r['note']}"
        if r["truncated"]:
            note = f"time budget hit after {r['ops']} ops; {note}"
        cells = [
            r["workload"],
            str(r["n"] or ""),
            r["contender"],
            _num(r["ops_per_s"]),
            _num(r["p50_us"], 1),
            _num(r["p99_us"], 1),
            _num(r["mib_per_s"], 1),
            _num(r["rss_growth_mib"], 1),
            _cpu_cell(r),
            note.replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["asdict", "compare", "markdown", "print_results", "sorted_results", "targets"]
