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

With `--edge-cut N` the uncertain pixels on the camera frame's edges (Canny at 0.66 / 1.33 of the
blurred frame's median grey, dilated N times by 3x3) are removed before the regions are formed:
whether the object's own outline would part it from the scene around it, for a rule that cut
components along image edges. The camera frames are read from the bag the replay was made from.
With `--road-holes` only uncertain pixels in holes of the predicted drivable region (regions of
other classes that do not reach the frame's top row) are kept: whether an object on the road is
enclosed by road in the model's own segmentation, for a rule that looked for such holes.

    .venv/bin/python scripts/object_separation.py --pixel-threshold 0.5 \\
        RoadAnomaly21=runs/reason-real-oe/RoadAnomaly21-replay/bag ...
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from flowenedet_core.metrics.ranking import RankingAccumulator
from flowenedet_ros.anomaly_components import DRIVABLE_CLASSES
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.records import (
    SOURCE_BAG_KEY,
    SOURCE_CAMERA_KEY,
    anomaly_label_topic,
    image_array,
    output_topics,
    stamp_ns,
)

ANOMALY, VOID = 1, 255
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)

def maps(path: str, with_camera: bool = False
         ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]]:
    """(uncertainty, truth, camera frame or None, labels) of every frame with anomaly pixels, in
    stamp order, all at the uncertainty's size."""
    uncertainty_topic = output_topics()["uncertainty"]
    segmentation_topic = output_topics()["segmentation"]
    with BagSource(path) as source:
        custom = source.contents.custom
        label_topic = anomaly_label_topic(custom)
        if label_topic is None:
            raise SystemExit(f"{path}: no anomaly labels; replay a bag made with "
                             "`flowenedet make-bag --data anomaly:...`")
        frames: dict[int, dict[str, np.ndarray]] = {}
        names = {uncertainty_topic: "uncertainty", label_topic: "truth",
                 segmentation_topic: "labels"}
        for item in source.messages(set(names)):
            name = names[item.topic]
            frames.setdefault(stamp_ns(item.message.header), {})[name] = image_array(item.message)
    if with_camera:
        with BagSource(custom[SOURCE_BAG_KEY]) as source:
            for item in source.messages({custom[SOURCE_CAMERA_KEY]}):
                frames.get(stamp_ns(item.message.header), {})["camera"] = image_array(
                    item.message)
    triples = []
    for stamp in sorted(frames):
        frame = frames[stamp]
        if {"uncertainty", "truth", "labels"} <= frame.keys() and (frame["truth"] == ANOMALY).any():
            size = frame["uncertainty"].shape[::-1]
            truth, labels = (cv2.resize(frame[name], size, interpolation=cv2.INTER_NEAREST)
                             for name in ("truth", "labels"))
            camera = frame.get("camera")
            triples.append((frame["uncertainty"].astype(np.float32), truth,
                            None if camera is None else
                            cv2.resize(camera, size, interpolation=cv2.INTER_AREA), labels))
    return triples

def image_edges(camera: np.ndarray, dilations: int) -> np.ndarray:
    """Canny edges of the blurred grey frame, thresholds from its median, dilated."""
    grey = cv2.cvtColor(camera, cv2.COLOR_RGB2GRAY) if camera.ndim == 3 else camera
    grey = cv2.GaussianBlur(grey, (5, 5), 0)
    median = float(np.median(grey))
    edges = cv2.Canny(grey, 0.66 * median, 1.33 * median)
    return cv2.dilate(edges, np.ones((3, 3), np.uint8), iterations=dilations) > 0

def road_holes(labels: np.ndarray) -> np.ndarray:
    """Pixels of the regions of non-drivable classes that do not reach the frame's top row: what
    the model's segmentation encloses by road and sidewalk (or by the frame's sides and bottom)."""
    other = ~np.isin(labels, DRIVABLE_CLASSES)
    _, regions = cv2.connectedComponents(other.astype(np.uint8), connectivity=8)
    return other & ~np.isin(regions, regions[0])

def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """AUROC of anomaly pixels against ring pixels, by the evaluator's own metric."""
    accumulator = RankingAccumulator()
    accumulator.update(np.concatenate([positive, negative]),
                       np.arange(len(positive) + len(negative)) < len(positive))
    return accumulator.compute().auroc / 100

def touching_iou(uncertainty: np.ndarray, anomaly: np.ndarray, valid: np.ndarray,
                 threshold: float, cut: np.ndarray) -> float:
    """IoU of the anomaly with the uncertain regions (8-connected, `cut` pixels left out) that
    touch it."""
    uncertain = (uncertainty > threshold) & ~cut
    _, labels = cv2.connectedComponents(uncertain.astype(np.uint8), connectivity=8)
    touched = np.unique(labels[anomaly & (labels > 0)])
    union = np.isin(labels, touched) & valid
    return float((union & anomaly).sum() / (union | anomaly).sum())

def separation(uncertainty: np.ndarray, truth: np.ndarray, ring: float,
               pixel_threshold: float, cut: np.ndarray) -> dict[str, float]:
    anomaly = truth == ANOMALY
    valid = truth != VOID
    radius = max(1, round(ring * truth.shape[0]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    around = cv2.dilate(anomaly.astype(np.uint8), kernel).astype(bool) & ~anomaly & valid
    ious = [touching_iou(uncertainty, anomaly, valid, t, cut) for t in THRESHOLDS]
    best = int(np.argmax(ious))
    return {"anomaly_share": float(anomaly.mean()),
            "inside": float(uncertainty[anomaly].mean()),
            "ring": float(uncertainty[around].mean()),
            "auroc_vs_ring": auroc(uncertainty[anomaly], uncertainty[around]),
            "oracle_iou": ious[best], "oracle_threshold": float(THRESHOLDS[best]),
            "iou_at_pixel_threshold": touching_iou(uncertainty, anomaly, valid,
                                                   pixel_threshold, cut)}

def cut_pixels(camera: np.ndarray | None, labels: np.ndarray, edge_cut: int,
               holes_only: bool) -> np.ndarray:
    """The pixels left out of the uncertain regions before they are formed."""
    cut = image_edges(camera, edge_cut) if edge_cut else np.zeros(labels.shape, bool)
    return cut | ~road_holes(labels) if holes_only else cut

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ring", type=float, default=0.05,
                        help="ring width around the anomaly, share of the frame height")
    parser.add_argument("--pixel-threshold", type=float, default=0.5)
    parser.add_argument("--edge-cut", type=int, default=0, metavar="N",
                        help="leave out the camera frame's edges, dilated N times (0: off)")
    parser.add_argument("--road-holes", action="store_true",
                        help="keep only the holes of the predicted drivable region")
    parser.add_argument("bags", nargs="+", help="NAME=REPLAYED_BAG")
    args = parser.parse_args()
    print("| bag | frames | anomaly % of frame | uncertainty inside / ring | AUROC vs ring | "
          f"oracle IoU (threshold) | IoU at {args.pixel_threshold} | frames with oracle IoU "
          ">= 0.5 |")
    print("|---" * 8 + "|")
    for item in args.bags:
        name, path = item.split("=", 1)
        rows = [separation(u, t, args.ring, args.pixel_threshold,
                           cut_pixels(camera, labels, args.edge_cut, args.road_holes))
                for u, t, camera, labels in maps(path, with_camera=args.edge_cut > 0)]

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
