"""`flowenedet calibrate`: scene-flag and reason thresholds from replayed bags -> a node
parameter file."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from ..bags.calibrate import calibrate, read_sequence
from ..bags.calibrate_reason import FALSE_OBJECTS, FALSE_SCENES, choose_reason, read_frames
from ..parameter_file import write_parameter_file
from ..pipeline_factory import meta_classifier
from .model_parameters import add_parameter_arguments, parameter_values


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate", help="choose the scene-flag thresholds for a false-alarm target",
        description="Reads bags written by `flowenedet replay` or `flowenedet play --record`: "
                    "--inlier bags of in-distribution driving, optionally --anomaly bags with "
                    "anomaly labels, optionally --degraded bags (fog, noise; no objects). "
                    "Chooses pixel_threshold, scene_threshold and raise_frames so the flag's "
                    "false-alarm rate stays below --target with the best detection, then the "
                    "reason's component, image-evidence and scene thresholds (object on "
                    "anomaly frames, scene on degraded ones, none elsewhere; the image "
                    "evidence from the camera frames of the bags that were replayed), and "
                    "writes a parameter file the node loads as it is. With -p "
                    "meta_classifier:=FILE the components are those it keeps.")
    parser.add_argument("--inlier", action="append", type=Path, required=True,
                        help="replayed in-distribution bag (repeatable)")
    parser.add_argument("--anomaly", action="append", type=Path, default=[],
                        help="replayed bag with anomaly labels (repeatable)")
    parser.add_argument("--degraded", action="append", type=Path, default=[],
                        help="replayed bag of degraded driving without objects: fog, noise, "
                             "blur, low contrast (repeatable; for the reason's scene and "
                             "image-evidence thresholds)")
    add_parameter_arguments(parser)
    parser.add_argument("--fix-pixel-threshold", action="store_true",
                        help="keep pixel_threshold as given (-p pixel_threshold:=T) instead of "
                             "choosing it for the flag's detection on the anomaly bags")
    parser.add_argument("--false-objects", type=float, default=FALSE_OBJECTS,
                        help="share of the frames without objects on which the reason may "
                             f"say object (default {FALSE_OBJECTS})")
    parser.add_argument("--false-scenes", type=float, default=FALSE_SCENES,
                        help="share of the frames that are not degraded on which the reason may "
                             f"say scene (default {FALSE_SCENES})")
    parser.add_argument("--target", type=float, default=0.001,
                        help="flagged in-distribution frames per frame (default 0.001)")
    parser.add_argument("--out", type=Path, required=True, help="parameter file to write")
    parser.add_argument("--node", default="/flowenedet_node",
                        help="node whose topics the bags hold")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    values = parameter_values(args)
    inliers = [read_sequence(path, values, args.node) for path in args.inlier]
    anomalies = [read_sequence(path, values, args.node) for path in args.anomaly]
    choice = calibrate(inliers, anomalies, values, args.target,
                       fixed_pixel_threshold=args.fix_pixel_threshold)
    frames = sum(len(s.fractions) for s in inliers)
    chosen = {"pixel_threshold": choice.pixel_threshold,
              "scene_threshold": round(choice.scene_threshold, 6),
              "raise_frames": choice.raise_frames}
    roles = [("inlier", path) for path in args.inlier] + \
        [("degraded", path) for path in args.degraded] + \
        [("anomaly", path) for path in args.anomaly]
    classifier = meta_classifier(values)
    statistics = [frame for role, path in roles
                  for frame in read_frames(path, role, choice.pixel_threshold, values["roi"],
                                           args.node, classifier)]
    reason = choose_reason(statistics, {**values, **chosen}, args.false_objects,
                           args.false_scenes)
    chosen.update(reason.values)
    lines = [f"flowenedet calibrate: target <= {args.target} flagged frames per "
             f"in-distribution frame",
             f"in-distribution: {frames} frames of {', '.join(map(str, args.inlier))}",
             f"anomaly: {', '.join(map(str, args.anomaly)) or 'none'}",
             f"chosen: {chosen}",
             f"calibration false-alarm rate {choice.calibration_far:.4g}; guaranteed <= "
             f"{choice.far_bound:.4g} per frame, with 95 % confidence, for frames like these "
             f"({choice.windows} windows)",
             f"anomaly frames flagged {choice.detection_rate:.3f}, OOD-mask pixel F1 "
             f"{choice.pixel_f1:.3f}",
             f"degraded: {', '.join(map(str, args.degraded)) or 'none'}",
             f"reason: right on {reason.accuracy:.3f} of {len(statistics)} frames "
             f"(expected -> given: {reason.confusion})"]
    if choice.far_bound > args.target:
        lines.append(f"WARNING: {frames} frames cannot certify {args.target}; record more "
                     "in-distribution driving")
    write_parameter_file({**values, **chosen}, args.out, "\n".join(lines))
    report = args.out.with_suffix(".json")
    report.write_text(json.dumps({"choice": asdict(choice), "reason": asdict(reason),
                                  "target": args.target,
                                  "inlier": list(map(str, args.inlier)),
                                  "anomaly": list(map(str, args.anomaly)),
                                  "degraded": list(map(str, args.degraded))}, indent=2) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out} and {report}")
    return 0
