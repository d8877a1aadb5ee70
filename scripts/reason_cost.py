"""Cost of the reason per frame on real frames (docs/reason.md "Cost"): the image evidence on the
camera frame as it comes (Cityscapes and RoadAnomaly21 frames are 2 MP) and the whole reason
(`frame_reason`: anomaly components on the model-size maps, the meta classifier when given, the
image evidence, the rule), each timed --repeats times per frame on one thread; median and p99
over all calls, beside the pipeline's own time for the frame (backbone + score, median).

    .venv/bin/python scripts/reason_cost.py --weights ../shared/data/erfnet/erfnet_cityscapes.pth \\
        --score msp --data anomaly:../shared/data/anomaly/RoadAnomaly21 \\
        --data cityscapes-c:../shared/data/cityscapes:val:fog:3 \\
        --params runs/reason-real-msp/thresholds.yaml [--meta META.json]
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from flowenedet_core.data.spec import parse_data_spec
from flowenedet_core.metrics.meta_classifier import MetaClassifier
from flowenedet_ros.frame_reason import frame_reason
from flowenedet_ros.image_evidence import image_evidence
from flowenedet_ros.parameter_file import load_parameter_file
from flowenedet_ros.pipeline_factory import create_pipeline, reason_config


def _timed(call, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1e3)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    return {"median_ms": float(np.median(times)), "p99_ms": float(np.percentile(times, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--fed", default="")
    parser.add_argument("--score", default="msp")
    parser.add_argument("--data", action="append", required=True)
    parser.add_argument("--params", default=None, help="node parameter file (thresholds)")
    parser.add_argument("--meta", default=None, help="component meta classifier (meta.json)")
    parser.add_argument("--threads", type=int, default=1, help="the backbone's CPU threads")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    values = load_parameter_file(args.params, {
        "backbone": "erfnet", "weights": args.weights, "fed": args.fed, "score": args.score,
        "backend": "onnxruntime", "threads": args.threads})
    pipeline, config = create_pipeline(values), reason_config(values)
    classifier = MetaClassifier.load(args.meta) if args.meta else None
    evidence, reason, model, sizes = [], [], [], set()
    for spec in args.data:
        for sample in parse_data_spec(spec):
            image = sample.image
            sizes.add(f"{image.shape[1]}x{image.shape[0]}")
            prediction = pipeline.infer(image)
            model.append(prediction.timings["total"])
            maps = prediction.model_uncertainty, prediction.model_labels
            evidence += _timed(lambda image=image: image_evidence(image), args.repeats)
            reason += _timed(lambda image=image, maps=maps: frame_reason(
                image, *maps, config, classifier), args.repeats)
    result = {"frames": len(model), "camera_sizes": sorted(sizes),
              "model_input": list(pipeline.image_size), "meta_classifier": bool(classifier),
              "image_evidence": _summary(evidence), "reason": _summary(reason),
              "pipeline_median_ms": float(np.median(model))}
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
