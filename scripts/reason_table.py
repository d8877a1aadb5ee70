"""The reason on replayed bags under a parameter file, with and without a component meta
classifier (docs/reason.md "Real frames"): per bag, how many frames read each reason, and the
counts the docs' bars are stated in — object frames read `object` or `object+scene`, degraded
frames `scene` or `object+scene`, clean frames false `scene` / false `object`. What a frame
should read comes from the bag (`make-bag --expect`; anomaly bags: object where the frame has
anomaly pixels, none elsewhere). The reason is computed from the replayed maps and the camera
frames of the bag that was replayed, exactly as the node computes it, so one replay serves any
thresholds.

    .venv/bin/python scripts/reason_table.py --thresholds runs/reason-real-msp/thresholds.yaml \\
        [--meta META.json] RoadAnomaly21=runs/reason-real-msp/RoadAnomaly21-replay/bag ...
"""

from __future__ import annotations

import argparse
from collections import Counter

from flowenedet_core.metrics.meta_classifier import MetaClassifier
from flowenedet_ros.bags.calibrate_reason import read_frames, reason_settings, reasons
from flowenedet_ros.bags.reader import BagSource
from flowenedet_ros.bags.reason_summary import expected_reasons
from flowenedet_ros.frame_reason import NONE, OBJECT, OBJECT_AND_SCENE, REASONS, SCENE
from flowenedet_ros.parameter_file import load_parameter_file

ROLES = {OBJECT: "anomaly", NONE: "inlier", SCENE: "degraded"}

def role_of(path: str) -> str:
    """inlier / degraded / anomaly, from what the bag says its frames are."""
    with BagSource(path) as source:
        kinds = {kind for _, _, kind in expected_reasons(source.contents.custom)}
    if OBJECT in kinds:
        return "anomaly"
    if kinds == {NONE}:
        return "inlier"
    if kinds == {SCENE}:
        return "degraded"
    raise SystemExit(f"{path}: says its frames are {sorted(kinds) or 'nothing'}; make it with "
                     "`flowenedet make-bag --expect`")

def bar(expected: list[str], given: list[str]) -> str:
    """The count the docs state for this kind of bag."""
    pairs = list(zip(expected, given, strict=True))
    objects = [g for e, g in pairs if e == OBJECT]
    scenes = [g for e, g in pairs if e == SCENE]
    clean = [g for e, g in pairs if e == NONE]
    parts = []
    if objects:
        parts.append(f"object {sum(g in (OBJECT, OBJECT_AND_SCENE) for g in objects)}"
                     f"/{len(objects)}")
    if scenes:
        parts.append(f"scene {sum(g in (SCENE, OBJECT_AND_SCENE) for g in scenes)}"
                     f"/{len(scenes)}")
    if clean:
        parts.append(f"false scene {sum(g in (SCENE, OBJECT_AND_SCENE) for g in clean)}, "
                     f"false object {sum(g in (OBJECT, OBJECT_AND_SCENE) for g in clean)} "
                     f"of {len(clean)}")
    return "; ".join(parts)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", required=True, help="node parameter file")
    parser.add_argument("--meta", default=None, help="component meta classifier (meta.json)")
    parser.add_argument("--meta-thresholds", default=None,
                        help="parameter file chosen with the meta classifier (default: "
                             "--thresholds)")
    parser.add_argument("bags", nargs="+", help="NAME=REPLAYED_BAG")
    args = parser.parse_args()
    variants = [("rule", None, load_parameter_file(args.thresholds))]
    if args.meta:
        variants.append(("rule + meta", MetaClassifier.load(args.meta),
                         load_parameter_file(args.meta_thresholds or args.thresholds)))
    print("| bag | variant | frames | " + " | ".join(REASONS[:4]) + " | bar |")
    print("|---" * 8 + "|")
    for item in args.bags:
        name, path = item.split("=", 1)
        role = role_of(path)
        for variant, classifier, values in variants:
            frames = read_frames(path, role, values["pixel_threshold"], values["roi"],
                                 classifier=classifier)
            given = reasons(frames, reason_settings(values))
            counts = Counter(given)
            print(f"| {name} | {variant} | {len(frames)} | "
                  + " | ".join(str(counts[kind]) for kind in REASONS[:4])
                  + f" | {bar([f.expected for f in frames], given)} |")

if __name__ == "__main__":
    main()
