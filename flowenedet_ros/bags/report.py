"""A replay's report: summary.json, and report.html with its PNGs (input with the anomaly
components' boxes / segmentation / uncertainty / OOD mask of the most and least confident frames,
the flag and reason timeline with the image evidence of each frame beside it, the reason
confusion matrix and PR and ROC curves when the bag was labelled). Self-contained folder: open
report.html in any browser."""

from __future__ import annotations

import html
import json
from pathlib import Path

import cv2
import numpy as np

from ..frame_reason import REASONS
from ..image_evidence import DIRECTION, STATISTICS
from .reason_summary import confusion_table
from .replay import ReplayResult

REASON_COLOURS = {"none": "tab:green", "object": "tab:orange", "scene": "tab:purple",
                  "object+scene": "tab:red", "input": "tab:gray"}
EVIDENCE_COLOURS = ("tab:blue", "tab:cyan", "tab:olive", "black", "gold", "tab:brown")

PANELS = (("input", "input"), ("segmentation/color", "segmentation"),
          ("uncertainty", "uncertainty"), ("ood_mask", "OOD mask"))


def write_report(result: ReplayResult, directory: str | Path) -> Path:
    """Writes summary.json, report.html and PNGs under `directory`; returns the HTML path."""
    directory = Path(directory)
    (directory / "frames").mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
    figures = [_timeline_figure(result, directory / "flag_timeline.png")]
    if result.curves is not None:
        figures.append(_curves_figure(result, directory / "curves.png"))
    sections = [_overview(result.summary), _confusion(result.summary["reason"]),
                "".join(f'<figure><img src="{name}" alt="{name}"></figure>' for name in figures)]
    if result.gallery is not None:
        for title, frames in (("Least confident frames", result.gallery.least_confident()),
                              ("Most confident frames", result.gallery.most_confident())):
            sections.append(_frames_section(title, frames, result, directory))
    problems = result.summary["problems"]
    if problems:
        sections.append("<h2>Problems</h2><ul>" + "".join(
            f"<li>{html.escape(p)}</li>" for p in problems) + "</ul>")
    page = directory / "report.html"
    page.write_text(_PAGE.format(title=html.escape(Path(result.summary["bag"]).name),
                                 body="\n".join(sections)))
    return page


def _overview(summary: dict) -> str:
    frames, latency, flag = summary["frames"], summary["latency_ms"], summary["flag"]
    rows = [("bag", summary["bag"]), ("camera topic", summary["camera_topic"]),
            ("backend", summary["backend"]),
            ("frames", f"{frames['read']} read: {frames['served']} served, "
                       f"{frames['dropped']} dropped, {frames['failed']} failed; "
                       f"{frames['lost']} never recorded (gaps in the camera's stamps)"),
            ("latency", f"mean {latency.get('mean', float('nan')):.1f} ms, "
                        f"p99 {latency.get('p99', float('nan')):.1f} ms"),
            ("flag", f"raised on {flag['raised_frames']} of {frames['read']} frames; "
                     + ", ".join(f"{'rose' if t['raised'] else 'cleared'} at frame {t['frame']}"
                                 for t in flag["transitions"][:12])),
            ("flag parameters", ", ".join(f"{k} {v}" for k, v in flag["parameters"].items())),
            ("reason", ", ".join(f"{k} {v}" for k, v in summary["reason"]["counts"].items())
             + (f"; the expected one on {100 * summary['reason']['accuracy']:.1f} % of the "
                "labelled frames" if "accuracy" in summary["reason"] else ""))]
    metrics = summary.get("metrics")
    if metrics and "ap" in metrics:
        what = "anomaly pixels" if metrics["label_kind"] == "anomaly" else "misclassified pixels"
        text = (f"{what}: AP {metrics['ap']:.2f} %, AUROC {metrics['auroc']:.2f} %, "
                f"FPR95 {metrics['fpr95']:.2f} % over {metrics['frames']} frames")
        if "miou" in metrics:
            text += f"; mIoU {metrics['miou']:.2f} %"
        rows.append(("metrics", text))
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                               for k, v in rows) + "</table>"


def _confusion(reason: dict) -> str:
    """The confusion matrix as an HTML table (empty without expected reasons)."""
    if "confusion" not in reason:
        return ""
    rows = confusion_table(reason["confusion"]).splitlines()
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows if "---" not in row]
    return ("<h2>Reason: expected (rows) against given (columns)</h2><table>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                      for row in cells) + "</table>")


def _frames_section(title: str, frames, result: ReplayResult, directory: Path) -> str:
    rows = []
    for index, fraction, panels in frames:
        cells = []
        for key, caption in PANELS:
            name = f"frames/{index:06d}_{key.replace('/', '_')}.png"
            picture = _displayable(key, panels[key])
            if key == "input":
                picture = _with_boxes(picture, result.records[index].boxes,
                                      result.records[index].frame_shape)
            cv2.imwrite(str(directory / name), picture)
            cells.append(f'<figure><img src="{name}" alt="{caption}"><figcaption>{caption}'
                         "</figcaption></figure>")
        offset = result.records[index].stamp_s - result.records[0].stamp_s
        rows.append(f"<h3>frame {index} (t = {offset:.2f} s into the bag): {100 * fraction:.2f} "
                    f"% of pixels uncertain, reason {result.records[index].frame_reason}</h3>"
                    f"<div class=row>{''.join(cells)}</div>")
    return f"<h2>{title}</h2>" + "".join(rows)


def _with_boxes(picture: np.ndarray, boxes: list[tuple[int, int, int, int]],
                frame_shape: tuple[int, int]) -> np.ndarray:
    """The anomaly components' boxes (frame pixels) drawn on a thumbnail."""
    picture = np.ascontiguousarray(picture)
    scale = picture.shape[1] / frame_shape[1] if frame_shape[1] else 1.0
    for x, y, width, height in boxes:
        cv2.rectangle(picture, (round(x * scale), round(y * scale)),
                      (round((x + width) * scale), round((y + height) * scale)), (0, 165, 255), 2)
    return picture


def _displayable(key: str, array: np.ndarray) -> np.ndarray:
    """A panel as a BGR uint8 image for cv2.imwrite."""
    if key == "uncertainty":
        scaled = np.clip(array * 255.0, 0, 255).astype(np.uint8)
        return cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)
    if array.ndim == 3:
        return array[:, :, ::-1]
    return array


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _timeline_figure(result: ReplayResult, path: Path) -> str:
    plt = _pyplot()
    records = result.records
    figure, (axis, reasons, image) = plt.subplots(3, 1, figsize=(10, 6.4), sharex=True,
                                                  gridspec_kw={"height_ratios": (3, 1.2, 2.2)})
    if records:
        start = records[0].stamp_s
        times = np.array([r.stamp_s - start for r in records])
        fractions = np.array([r.uncertain_fraction for r in records])
        raised = np.array([r.raised for r in records])
        axis.plot(times, 100 * fractions, color="tab:blue", label="uncertain pixels")
        axis.fill_between(times, 0, 100, where=raised, step="post", color="tab:red",
                          alpha=0.15, label="low_confidence raised")
        threshold = result.summary["flag"]["parameters"]["scene_threshold"]
        axis.axhline(100 * threshold, color="tab:red", linestyle="--", label="scene_threshold")
        axis.set_ylim(0, max(5.0, 110 * float(np.nanmax(fractions, initial=threshold))))
        period = float(np.median(np.diff(times))) if len(times) > 1 else 0.1
        for row, kind in enumerate(REASONS):
            spans = [(t, period) for t, r in zip(times, records, strict=True)
                     if r.frame_reason == kind]
            reasons.broken_barh(spans, (row - 0.4, 0.8), color=REASON_COLOURS[kind])
        _evidence_panel(image, times, records, result.summary["image_evidence"]["thresholds"])
    reasons.set(yticks=range(len(REASONS)), yticklabels=REASONS,
                ylim=(-0.6, len(REASONS) - 0.4))
    image.set(xlabel="time in bag (s)", ylabel="image evidence", yscale="log")
    axis.set(ylabel="uncertain pixels (%)", title="scene flag and reason timeline")
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path.name


def _evidence_panel(axis, times: np.ndarray, records: list, thresholds: dict) -> None:
    """The image evidence of each frame over time, its thresholds dashed, degraded frames
    shaded (failed frames: gaps)."""
    for name, colour in zip(STATISTICS, EVIDENCE_COLOURS, strict=True):
        values = np.array([r.evidence.get(name, np.nan) for r in records])
        axis.plot(times, np.maximum(values, 1e-4), color=colour, label=name, linewidth=1)
        limit = thresholds[name]
        if limit > 0.0 and not (DIRECTION[name] == "high" and limit >= 1.0):  # off
            axis.axhline(limit, color=colour, linestyle="--", linewidth=0.8)
    degraded = np.array([bool(r.degraded_by) for r in records])
    axis.fill_between(times, 1e-4, 4, where=degraded, step="post", color="tab:gray", alpha=0.2,
                      label="image degraded")
    axis.set_ylim(1e-4, 4)
    axis.legend(loc="lower right", fontsize=7, ncol=6)


def _curves_figure(result: ReplayResult, path: Path) -> str:
    plt = _pyplot()
    curves, metrics = result.curves, result.summary["metrics"]
    figure, (pr, roc) = plt.subplots(1, 2, figsize=(10, 4))
    pr.plot(curves["recall"], curves["precision"], label=f"AP {metrics['ap']:.2f} %")
    pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
           title="precision-recall")
    roc.plot(curves["fpr"], curves["tpr"], label=f"AUROC {metrics['auroc']:.2f} %")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1),
            ylim=(0, 1.02), title="ROC")
    for axis in (pr, roc):
        axis.legend(loc="lower right" if axis is roc else "upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path.name


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>flowenedet replay: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
th, td {{ text-align: left; padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; }}
.row {{ display: flex; gap: 0.5em; }}
figure {{ margin: 0; }} img {{ max-width: 100%; }} .row figure {{ width: 24%; }}
figcaption {{ font-size: 0.8em; color: #555; }}
</style></head>
<body><h1>flowenedet replay: {title}</h1>
{body}
</body></html>
"""
