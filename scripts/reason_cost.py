"""Cost of the anomaly components + the reason per frame on real maps (docs/performance.md,
"The flag's reason"): the pipeline's model-size uncertainty and labels of real frames, then
`frame_reason` timed on each, best of --repeats, on one thread.

    .venv/bin/python scripts/reason_cost.py --weights ../shared/data/erfnet/erfnet_cityscapes.pth \
        --fed runs/fed-u --data anomaly:../shared/data/anomaly/RoadAnomaly21 \
        --data cityscapes-c:../shared/data/cityscapes:val:fog:3 \
        --params runs/reason-real/thresholds.yaml
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from flowenedet_core.data.spec import parse_data_spec
from flowenedet_ros.frame_reason import frame_reason
from flowenedet_ros.parameter_file import load_parameter_file
from flowenedet_ros.pipeline_factory import create_pipeline, reason_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--fed", default="")
    parser.add_argument("--data", action="append", required=True)
    parser.add_argument("--params", default=None, help="node parameter file (thresholds)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    values = load_parameter_file(args.params, {"backbone": "erfnet", "weights": args.weights,
                                               "fed": args.fed, "backend": "onnxruntime"})
    pipeline, config = create_pipeline(values), reason_config(values)
    per_frame, reasons = [], []
    for spec in args.data:
        for sample in parse_data_spec(spec):
            prediction = pipeline.infer(sample.image)
            maps = prediction.model_uncertainty, prediction.model_labels
            best = np.inf
            for _ in range(args.repeats):
                started = time.perf_counter()
                reason, _ = frame_reason(*maps, config)
                best = min(best, time.perf_counter() - started)
            per_frame.append(best * 1e3)
            reasons.append(reason)
    times = np.asarray(per_frame)
    result = {"frames": len(times), "size": list(pipeline.image_size),
              "ms_median": float(np.median(times)), "ms_p90": float(np.percentile(times, 90)),
              "ms_max": float(times.max()), "reasons": reasons}
    print(json.dumps({k: v for k, v in result.items() if k != "reasons"}))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
