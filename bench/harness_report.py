"""Results of one harness run: metrics, ratios to the best peer, machine description,
and the two outputs (JSON record, Markdown table).

A ratio is ``value / best peer value`` for every metric, whatever its direction; the
direction (``lower`` or ``higher`` is better) is recorded beside it. Only servers of kind
``peer`` compete for "best peer": davbind (the subject) and references never do.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]


@dataclass(slots=True)
class Metric:
    id: str
    label: str
    unit: str
    better: str  # "lower" or "higher"
    values: dict[str, float | None] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # shown instead of a missing value
    best_peer: str | None = None
    ratios: dict[str, float] = field(default_factory=dict)

    def set(self, server: str, value: float | None, note: str = "") -> None:
        self.values[server] = value
        if note:
            self.notes[server] = note


@dataclass(slots=True)
class Report:
    servers: dict[str, dict[str, Any]]  # name -> kind, description, versions, command, ...
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def metric(self, id: str, label: str, unit: str, better: str) -> Metric:
        m = Metric(id, label, unit, better)
        self.metrics.append(m)
        return m

    def compute_ratios(self) -> None:
        peers = {n for n, s in self.servers.items() if s["kind"] == "peer"}
        for m in self.metrics:
            scored = {n: v for n, v in m.values.items() if n in peers and v is not None and v > 0}
            if not scored:
                continue
            pick = min if m.better == "lower" else max
            m.best_peer = pick(scored, key=lambda n: scored[n])
            best = scored[m.best_peer]
            m.ratios = {n: v / best for n, v in m.values.items() if v is not None}


# --- machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    os_name = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "os": os_name,
        "python": platform.python_version(),
        "load_average": list(os.getloadavg()),
        "tools": {"wrk": tool_version(["wrk", "-v"]), "curl": tool_version(["curl", "-V"])},
    }


def tool_version(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else None


# --- output -------------------------------------------------------------------------------


def fmt_value(value: float, unit: str) -> str:
    if unit in ("req/s", "MiB/s"):
        return f"{value:,.0f}"
    if unit == "KiB":
        return f"{value:,.0f}"
    if unit == "s":  # a third decimal for sub-second passes (the cold listings)
        return f"{value:.2f}" if value >= 1 else f"{value:.3f}"
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def loadavg(values: list[float] | None) -> str:
    return "/".join(f"{x:.2f}" for x in values) if values else "?"


def cell(m: Metric, server: str) -> str:
    value = m.values.get(server)
    if value is None:
        return m.notes.get(server, "—")
    text = fmt_value(value, m.unit)
    if server in m.ratios:
        text += f" ({m.ratios[server]:.2f}×)"
    if server == m.best_peer:
        text = f"**{text}**"
    return text


def markdown(report: Report, meta: dict[str, Any]) -> str:
    names = list(report.servers)
    mach = meta["machine"]
    lines = [
        f"# davbind benchmark harness — {meta['time']}{' (quick)' if meta['quick'] else ''}",
        "",
        f"Machine: {mach['cpu']}, {mach['logical_cores']} logical cores "
        f"({mach['usable_cores']} usable), {mach['ram_gib']} GiB RAM; {mach['os']}, "
        f"kernel {mach['kernel']}; Python {mach['python']}; "
        f"load average (1, 5, 15 min) at start {loadavg(mach.get('load_average'))}, "
        f"at end {loadavg(mach.get('load_average_end'))}; run took {meta.get('seconds', 0):.0f} s.",
        "",
        "Each cell: value (ratio to the best peer, whose cell is bold). `better` gives the "
        "direction: for `lower` a ratio above 1 is worse than the best peer, for `higher` "
        "a ratio below 1 is. davbind and references never count as the best peer.",
        "",
        "| metric | unit | better | " + " | ".join(names) + " |",
        "|---|---|---|" + "---:|" * len(names),
    ]
    for m in report.metrics:
        cells = " | ".join(cell(m, n) for n in names)
        lines.append(f"| {m.label} | {m.unit} | {m.better} | {cells} |")
    lines += ["", "Servers:", ""]
    for name, s in report.servers.items():
        versions = ", ".join(f"{k} {v}" for k, v in s.get("versions", {}).items() if v)
        status = f" — not run: {s['skipped']}" if s.get("skipped") else ""
        lines.append(f"- **{name}** ({s['kind']}): {s['description']}; {versions}{status}")
    if report.notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {n}" for n in report.notes]
    return "\n".join(lines) + "\n"


def write(report: Report, meta: dict[str, Any], out_dir: Path, stamp: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if meta["quick"] else ""
    json_path = out_dir / f"harness-{stamp}{suffix}.json"
    md_path = out_dir / f"harness-{stamp}{suffix}.md"
    record = {
        **meta,
        "servers": report.servers,
        "metrics": [asdict(m) for m in report.metrics],
        "notes": report.notes,
        "raw": report.raw,
    }
    json_path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    md_path.write_text(markdown(report, meta))
    return json_path, md_path
