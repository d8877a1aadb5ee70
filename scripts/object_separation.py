"""Could any component threshold part an anomaly from the scene around it? (docs/reason.md)

For every frame of a replayed anomaly bag (`flowenedet replay` of a bag made with
`make-bag --data anomaly:...`), from the uncertainty map and the ground-truth anomaly pixels:

- inside / ring: the mean uncertainty on the anomaly and on a ring around it (the anomaly
  dilated by `--ring` of the frame's height, void and the anomaly left out), and the AUROC of
  anomaly pixels against ring pixels: how far the map separates the object from its own
  surroundings, whatever the rest of the frame does;
- oracle IoU: the best, over pixel thresholds from 0.05 to 0.95, of the IoU between the anomaly
  and the union of the 8-connected uncertain regions that touch it, with the threshold chosen
  per frame by looking at the truth: an upper bound for any rule that keeps or drops whole
  components of one thresholded map; and the same IoU at `--pixel-threshold`.

    .venv/bin/python scripts/object_separation.py --pixel-threshold 0.5 \\
        RoadAnomaly21=runs/reason-real-oe/RoadAnomaly21-replay/bag ...
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from flowenedet_core.metrics.ranking import RankingAccumulator
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.records import anomaly_label_topic, image_array, output_topics, stamp_ns

ANOMALY, VOID = 1, 255
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)

def maps(path: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(uncertainty, truth) of every frame with anomaly pixels, in stamp order."""
    uncertainty_topic = output_topics()["uncertainty"]
    with BagSource(path) as source:
        label_topic = anomaly_label_topic(source.contents.custom)
        if label_topic is None:
            raise SystemExit(f"{path}: no anomaly labels; replay a bag made with "
                             "`flowenedet make-bag --data anomaly:...`")
        frames: dict[int, dict[str, np.ndarray]] = {}
        for item in source.messages({uncertainty_topic, label_topic}):
            name = "uncertainty" if item.topic == uncertainty_topic else "truth"
            frames.setdefault(stamp_ns(item.message.header), {})[name] = image_array(item.message)
    pairs = []
    for stamp in sorted(frames):
        frame = frames[stamp]
        if "uncertainty" in frame and "truth" in frame and (frame["truth"] == ANOMALY).any():
            truth = cv2.resize(frame["truth"], frame["uncertainty"].shape[::-1],
                               interpolation=cv2.INTER_NEAREST)
            pairs.append((frame["uncertainty"].astype(np.float32), truth))
    return pairs

def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """AUROC of anomaly pixels against ring pixels, by the evaluator's own metric."""
    accumulator = RankingAccumulator()
    accumulator.update(np.concatenate([positive, negative]),
                       np.arange(len(positive) + len(negative)) < len(positive))
    return accumulator.compute().auroc / 100

def touching_iou(uncertainty: np.ndarray, anomaly: np.ndarray, valid: np.ndarray,
                 threshold: float) -> float:
    """IoU of the anomaly with the uncertain regions (8-connected) that touch it."""
    _, labels = cv2.connectedComponents((uncertainty > threshold).astype(np.uint8), connectivity=8)
    touched = np.unique(labels[anomaly & (labels > 0)])
    union = np.isin(labels, touched) & valid
    return float((union & anomaly).sum() / (union | anomaly).sum())

def separation(uncertainty: np.ndarray, truth: np.ndarray, ring: float,
               pixel_threshold: float) -> dict[str, float]:
    anomaly = truth == ANOMALY
    valid = truth != VOID
    radius = max(1, round(ring * truth.shape[0]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    around = cv2.dilate(anomaly.astype(np.uint8), kernel).astype(bool) & ~anomaly & valid
    ious = [touching_iou(uncertainty, anomaly, valid, t) for t in THRESHOLDS]
    best = int(np.argmax(ious))
    return {"anomaly_share": float(anomaly.mean()),
            "inside": float(uncertainty[anomaly].mean()),
            "ring": float(uncertainty[around].mean()),
            "auroc_vs_ring": auroc(uncertainty[anomaly], uncertainty[around]),
            "oracle_iou": ious[best], "oracle_threshold": float(THRESHOLDS[best]),
            "iou_at_pixel_threshold": touching_iou(uncertainty, anomaly, valid,
                                                   pixel_threshold)}

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ring", type=float, default=0.05,
                        help="ring width around the anomaly, share of the frame height")
    parser.add_argument("--pixel-threshold", type=float, default=0.5)
    parser.add_argument("bags", nargs="+", help="NAME=REPLAYED_BAG")
    args = parser.parse_args()
    print("| bag | frames | anomaly % of frame | uncertainty inside / ring | AUROC vs ring | "
          f"oracle IoU (threshold) | IoU at {args.pixel_threshold} | frames with oracle IoU "
          ">= 0.5 |")
    print("|---" * 8 + "|")
    for item in args.bags:
        name, path = item.split("=", 1)
        rows = [separation(u, t, args.ring, args.pixel_threshold) for u, t in maps(path)]

        def median(key: str, rows: list[dict[str, float]] = rows) -> float:
            return float(np.median([row[key] for row in rows]))

        def span(key: str, scale: float = 1.0, rows: list[dict[str, float]] = rows) -> str:
            values = [row[key] * scale for row in rows]
            return f"{np.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"

        print(f"| {name} | {len(rows)} | {span('anomaly_share', 100)} | "
              f"{median('inside'):.2f} / {median('ring'):.2f} | {span('auroc_vs_ring')} | "
              f"{span('oracle_iou')} ({median('oracle_threshold'):.2f}) | "
              f"{span('iou_at_pixel_threshold')} | "
              f"{sum(row['oracle_iou'] >= 0.5 for row in rows)} / {len(rows)} |")

if __name__ == "__main__":
    main()
