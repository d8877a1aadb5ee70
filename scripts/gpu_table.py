"""The GPU tables of docs/performance.md from the `flowenedet bench` JSON files of
scripts/gpu-bench.sh.

    python scripts/gpu_table.py OUT      # OUT/*.json -> OUT/gpu-table.md (and stdout)

Every configuration bench timed, `auto` (the node's default) first, and the issue's targets
checked per model: FED at most +5 % (FED-U) / +10 % (FED-C) over its backbone on `auto`, `auto`
within 10 % of the best configuration, p99 at most 1.3x p50, and `auto` at least 3x faster than
eager fp32 torch for ERFNet at 512x1024.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FED_LIMIT_PCT = {"fed-u": 5.0, "fed-c": 10.0}
AUTO_WITHIN = 1.10
P99_OVER_P50 = 1.3
SPEEDUP = 3.0


def variant(report: dict) -> str:
    fed = report["model"]["fed"] or ""
    return "fed-c" if "fed-c" in fed else "fed-u"


def rows(name: str, report: dict) -> list[str]:
    lines = []
    size = "x".join(map(str, report["model"]["size"]))
    for label, result in report["backends"].items():
        if "skipped" in result:
            lines.append(f"| {name} {size} | {label} | skipped: {result['skipped']} | | | | |")
            continue
        e2e = result["end_to_end_ms"]
        lines.append(f"| {name} {size} | {label} ({result['precision']}) | {e2e['p50']:.2f} / "
                     f"{e2e['p99']:.2f} | {e2e['p99'] / e2e['p50']:.2f} | "
                     f"{result['graph_ms']:.2f} | {result['backbone_only_ms']:.2f} | "
                     f"{result['head_overhead_pct']:+.1f} % |")
    return lines


def checks(name: str, report: dict) -> list[str]:
    auto = report["backends"].get("auto", {})
    if "end_to_end_ms" not in auto:
        return [f"- {name}: auto did not run ({auto.get('skipped', 'missing')})"]
    limit = FED_LIMIT_PCT[variant(report)]
    summary = report["summary"]
    e2e = auto["end_to_end_ms"]
    verdict = [
        f"FED {auto['head_overhead_pct']:+.1f} % (target <= +{limit:g} %): "
        f"{'met' if auto['head_overhead_pct'] <= limit else 'missed'}",
        f"auto {summary['auto_over_best']:.2f}x the best ({summary['best']}; target <= "
        f"{AUTO_WITHIN}): {'met' if summary['auto_over_best'] <= AUTO_WITHIN else 'missed'}",
        f"p99/p50 {e2e['p99'] / e2e['p50']:.2f} (target <= {P99_OVER_P50}): "
        f"{'met' if e2e['p99'] <= P99_OVER_P50 * e2e['p50'] else 'missed'}",
        f"timing check: {auto['timing_check']}"]
    speedup = summary.get("auto_speedup_over_torch_eager_fp32")
    if speedup is not None:
        verdict.append(f"end to end {speedup:.1f}x the speed of eager fp32 torch (target for "
                       f"ERFNet at 512x1024: >= {SPEEDUP:g}x)")
    return [f"- {name}: " + "; ".join(verdict)]


def camera_rows(name: str, report: dict) -> list[str]:
    lines = []
    for mode, counts in report.get("cameras", {}).items():
        for count, result in counts.items():
            latency = result["latency_ms"]
            lines.append(f"| {name} | {count} | {mode} | {latency['p50']:.2f} / "
                         f"{latency['p99']:.2f} | {result['total_fps']:.1f} |")
    return lines


def main(folder: Path) -> str:
    reports = {path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
    if not reports:
        raise SystemExit(f"no bench JSON under {folder}")
    environment = next(iter(reports.values()))["environment"]
    cuda = environment.get("cuda") or {}
    lines = [f"Device: {cuda.get('device', 'no CUDA GPU')}, driver {cuda.get('driver')}, CUDA "
             f"{cuda.get('cuda_runtime')}, cuDNN {cuda.get('cudnn')}, torch "
             f"{environment['torch']}.", "",
             "| model, input | configuration | end-to-end p50 / p99 ms | p99/p50 | graph ms | "
             "backbone alone ms | FED over the backbone |", "|---|---|---|---|---|---|---|"]
    for name, report in reports.items():
        lines += rows(name, report)
    lines += ["", "Targets:"]
    for name, report in reports.items():
        lines += checks(name, report)
    cameras = [row for name, report in reports.items() for row in camera_rows(name, report)]
    if cameras:
        lines += ["", "| model | cameras | how | per-camera p50 / p99 ms | total frames/s |",
                  "|---|---|---|---|---|", *cameras]
    table = "\n".join(lines)
    (folder / "gpu-table.md").write_text(table + "\n")
    return table


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/gpu_table.py FOLDER_OF_BENCH_JSON")
    print(main(Path(sys.argv[1])))
