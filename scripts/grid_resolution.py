"""How much of a score's misclassification (IDM) and anomaly AP survives FED's grid: each
baseline computed once from the logits at the evaluation resolution (as `flowenedet eval` does)
and once from the logits area-averaged onto the grid FED's flow runs on (input size /
--flow-stride, what FED's energy input is computed from), its map upsampled back bilinearly.
The second is the resolution any score made on that grid is held to; the drop between the two is
what the grid costs, apart from what FED models. Prints the table and writes --json.

    .venv/bin/python scripts/grid_resolution.py --backbone erfnet \
        --weights ../shared/data/erfnet/erfnet_cityscapes.pth \
        --data val=cityscapes:../shared/data/cityscapes:val \
        --data ra21=anomaly:../shared/data/anomaly/RoadAnomaly21
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

import torch

from flowenedet_core.backbones.base import resample
from flowenedet_core.cli.common import add_backbone_arguments, load_backbone
from flowenedet_core.data.spec import parse_data_spec
from flowenedet_core.evaluation.evaluator import EvalOptions, evaluate
from flowenedet_core.evaluation.report import markdown_table
from flowenedet_core.scores import Score, ScoreFunction, ScoreInputs, resolve_scores


def on_grid(function: ScoreFunction, stride: int) -> ScoreFunction:
    """`function` computed from the logits area-averaged onto the stride-`stride` grid."""

    def score(inputs: ScoreInputs) -> torch.Tensor:
        height, width = inputs.input_size
        grid = (height // stride, width // stride)
        coarse = dataclasses.replace(inputs, logits=resample(inputs.output.logits.float(), grid))
        return inputs.upsample(function(coarse))

    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backbone_arguments(parser)
    parser.add_argument("--data", action="append", required=True, help="as `flowenedet eval`")
    parser.add_argument("--scores", default="msp,maxlogit,energy,entropy")
    parser.add_argument("--flow-stride", type=int, default=4, help="FEDConfig.flow_stride")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    loaded = load_backbone(args)
    full = resolve_scores(args.scores.split(","))
    scores = full + [Score(f"{s.name}@grid", on_grid(s.function, args.flow_stride),
                           f"{s.description}, on FED's grid") for s in full]
    results = evaluate(loaded.model, [parse_data_spec(spec) for spec in args.data], scores,
                       options=EvalOptions(input_size=loaded.input_size), progress=False)
    print(markdown_table(results))
    if args.json:
        rows = {r.name: {name: {"ap": m.ap, "fpr95": m.fpr95,
                                **({"per_image_ap": r.per_image[name]["ap"]}
                                   if name in r.per_image else {})}
                         for name, m in r.metrics.items()} for r in results}
        args.json.write_text(json.dumps({"flow_stride": args.flow_stride,
                                         "input_size": list(loaded.input_size),
                                         "data": args.data, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
