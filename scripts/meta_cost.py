"""Cost of the meta classifier per frame on a model-size map holding N components, median and p99
of --repeats runs on one thread, as JSON: `classify_ms` (the components' metrics and the
logistic regression, what it adds where components are already found, as in the node) and
`keep_ms` (`MetaClassifier.keep`: also labelling the components and writing the filtered map).

    .venv/bin/python scripts/meta_cost.py --components 20 --size 512x1024
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from flowenedet_core.data.transforms import parse_size
from flowenedet_core.metrics.meta_classifier import (
    FEATURES,
    component_features,
    fit_logistic,
    label_components,
)


def synthetic_map(size: tuple[int, int], components: int, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Uncertainty with `components` separate blobs of 50-2000 pixels, on road-and-sky labels."""
    rng = np.random.default_rng(seed)
    height, width = size
    uncertainty = rng.uniform(0, 0.3, size).astype(np.float32)
    labels = np.full(size, 10, np.uint8)
    labels[height // 3:] = 0
    cell_w = width // components
    for index in range(components):
        radius = int(rng.integers(4, 25))
        centre = (index * cell_w + cell_w // 2, int(rng.integers(radius, height - radius)))
        cv2.circle(uncertainty, centre, min(radius, cell_w // 2 - 1), float(rng.uniform(0.6, 1)),
                   -1)
    return uncertainty, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=20)
    parser.add_argument("--size", type=parse_size, default=(512, 1024))
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    uncertainty, labels = synthetic_map(args.size, args.components)
    rows = np.random.default_rng(1).normal(size=(64, len(FEATURES)))
    classifier = fit_logistic(rows, (rows[:, 0] > 0).astype(float), "fed")
    anomalous = uncertainty > 0.5
    regions, stats = label_components(anomalous)
    ids = np.arange(1, len(stats))
    assert len(ids) == args.components, f"{len(ids)} components drawn"

    def classify() -> None:
        classifier.probabilities(component_features(regions, stats, ids, uncertainty, labels,
                                                    0.5))

    result = {"components": args.components, "size": list(args.size)}
    for name, function in (("classify_ms", classify),
                           ("keep_ms", lambda: classifier.keep(uncertainty, labels, 0.5))):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            function()
            times.append(1000 * (time.perf_counter() - start))
        result[name] = {"median": round(float(np.median(times)), 3),
                        "p99": round(float(np.percentile(times, 99)), 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
