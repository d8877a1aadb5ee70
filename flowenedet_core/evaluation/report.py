"""Evaluation results as the JSON other tools read, a markdown table, and ROC / PR plots."""

from __future__ import annotations

import json
from pathlib import Path

from .evaluator import GAUSSIAN_SUFFIX, SMOOTHED_SUFFIX, DatasetResult

LINE_STYLES = {SMOOTHED_SUFFIX: "--", GAUSSIAN_SUFFIX: ":"}  # post-processed: the base's colour


def results_to_json(results: list[DatasetResult], meta: dict | None = None) -> dict:
    """{"datasets": {NAME: {SCORE: {"ap", "auroc", "fpr95", ...}, "miou": %}}, "meta": {...}}."""
    datasets = {}
    for result in results:
        entry: dict = {}
        for name, metrics in result.metrics.items():
            entry[name] = {**metrics.as_dict(),
                           "error_bound": {"ap": metrics.ap_bound, "auroc": metrics.auroc_bound,
                                           "fpr95": metrics.fpr95_bound},
                           "positives": metrics.positives, "negatives": metrics.negatives}
            if name in result.per_image:
                entry[name]["per_image_mean"] = result.per_image[name]
            if name in result.open_miou:
                entry[name]["open_miou"] = result.open_miou[name]
        for name, components in result.components.items():  # SCORE+meta has no pixel metrics
            entry.setdefault(name, {})["components"] = components.as_dict()
        if result.miou is not None:
            entry["miou"] = result.miou
            entry["pixel_accuracy"] = result.pixel_accuracy
        entry["images"] = result.images
        entry["skipped_without_anomaly"] = result.skipped
        datasets[result.name] = entry
    return {"datasets": datasets, "meta": meta or {}}


def write_json(results: list[DatasetResult], path: str | Path, meta: dict | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_to_json(results, meta), indent=2) + "\n")


def markdown_table(results: list[DatasetResult]) -> str:
    """Rows = scores, columns = datasets, cells 'AP / AUROC / FPR95' in %."""
    score_names = list(dict.fromkeys(n for r in results for n in r.metrics))
    header = "| AP / AUROC / FPR95 % | " + " | ".join(
        f"{r.name} ({'IDM' if r.kind == 'cityscapes' else 'OOD'})" for r in results) + " |"
    lines = [header, "|---" * (len(results) + 1) + "|"]
    for name in score_names:
        cells = []
        for result in results:
            m = result.metrics.get(name)
            cells.append("-" if m is None else f"{m.ap:.2f} / {m.auroc:.2f} / {m.fpr95:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    with_components = [r for r in results if r.components]
    if with_components:
        lines += ["", "| sIoU / PPV / mean F1 % (components) | " + " | ".join(
            r.name for r in with_components) + " |", "|---" * (len(with_components) + 1) + "|"]
        for name in dict.fromkeys(n for r in with_components for n in r.components):
            cells = [f"{c.siou:.2f} / {c.ppv:.2f} / {c.mean_f1:.2f}"
                     if (c := r.components.get(name)) else "-" for r in with_components]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for result in results:
        if result.miou is not None:
            lines.append(f"\n{result.name}: mIoU {result.miou:.2f}, pixel accuracy "
                         f"{result.pixel_accuracy:.2f}"
                         + "".join(f", open-mIoU[{k}] {v:.2f}"
                                   for k, v in result.open_miou.items()))
    return "\n".join(lines)


def curve_style(name: str) -> tuple[str, str]:
    """(the score a curve post-processes, or the score itself; its line style)."""
    for suffix, style in LINE_STYLES.items():
        if name.endswith(suffix):
            return name.removesuffix(suffix), style
    return name, "-"


def save_plots(results: list[DatasetResult], directory: str | Path) -> list[Path]:
    """One ROC and one PR figure per dataset, every score a curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        for kind, (x_key, y_key, x_label, y_label) in {
            "roc": ("fpr", "tpr", "false positive rate", "true positive rate"),
            "pr": ("recall", "precision", "recall", "precision"),
        }.items():
            figure, axis = plt.subplots(figsize=(5, 4.5))
            bases = list(dict.fromkeys(curve_style(n)[0] for n in result.curves))
            for name, curve in result.curves.items():
                metric = result.metrics[name]
                value = metric.auroc if kind == "roc" else metric.ap
                base, style = curve_style(name)
                axis.plot(curve[x_key], curve[y_key], label=f"{name} ({value:.1f})",
                          color=plt.cm.tab10(bases.index(base) % 10), linestyle=style)
            axis.set(xlabel=x_label, ylabel=y_label, xlim=(0, 1), ylim=(0, 1.02),
                     title=f"{result.name} - {kind.upper()}")
            axis.legend(fontsize=7)
            figure.tight_layout()
            path = directory / f"{result.name}_{kind}.png"
            figure.savefig(path, dpi=100)
            plt.close(figure)
            written.append(path)
    return written
