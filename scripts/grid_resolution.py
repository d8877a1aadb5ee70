"""How much of a score's misclassification (IDM) and anomaly AP survives FED's grid: each
baseline computed once from the logits at the evaluation resolution (as `flowenedet eval` does)
and once from the logits area-averaged onto the grid FED's flow runs on (input size /
--flow-stride, what FED's energy input is computed from), its map upsampled back bilinearly.
The second is the resolution any score made on that grid is held to; the drop between the two is
what the grid costs, apart from what FED models.

With --fed NAME=DIR, a trained FED too, as it is (`NAME`) and with MSP's detail restored
(`NAME+detail`): logit p = logit p_FED + logit MSP - logit MSP@grid, i.e. FED decides on its
grid and the part of MSP's full-resolution map that the grid's area average removes (thin
structures, class boundaries, where misclassifications gather) is added back, with unit weight
(no fitted parameter). It asks whether the grid, not the flow, is what keeps FED under MSP.

With --probe-fit DATA, a probe too: a class-balanced logistic regression over exactly what FED-U
with the margin sees per pixel (its energy input and margin condition on the grid, raw logits),
fitted on the misclassified vs correct pixels of DATA's frames (`probe@grid`). It tells whether
those inputs, pointwise, carry the misclassification ranking the flow fails to learn from the
same frames. Prints the table and writes --json.

    .venv/bin/python scripts/grid_resolution.py --backbone erfnet \
        --weights ../shared/data/erfnet/erfnet_cityscapes.pth \
        --data val=cityscapes:../shared/data/cityscapes:val \
        --data ra21=anomaly:../shared/data/anomaly/RoadAnomaly21 \
        --probe-fit "cityscapes:../shared/data/cityscapes:train@!4::5"
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from flowenedet_core.backbones.base import Backbone, resample
from flowenedet_core.checkpoint import load_checkpoint
from flowenedet_core.cli.common import add_backbone_arguments, load_backbone
from flowenedet_core.data.spec import parse_data_spec
from flowenedet_core.data.transforms import resize_label
from flowenedet_core.evaluation.evaluator import EvalOptions, evaluate
from flowenedet_core.evaluation.report import markdown_table
from flowenedet_core.fed.detector import energy_on_grid, margin_on_grid
from flowenedet_core.scores import (
    Score,
    ScoreFunction,
    ScoreInputs,
    fed_score,
    msp,
    resolve_scores,
)


def on_grid(function: ScoreFunction, stride: int) -> ScoreFunction:
    """`function` computed from the logits area-averaged onto the stride-`stride` grid."""

    def score(inputs: ScoreInputs) -> torch.Tensor:
        height, width = inputs.input_size
        grid = (height // stride, width // stride)
        coarse = dataclasses.replace(inputs, logits=resample(inputs.output.logits.float(), grid))
        return inputs.upsample(function(coarse))

    return score


def with_detail(function: ScoreFunction, stride: int) -> ScoreFunction:
    """`function`'s probability map plus, in logit space, MSP's detail that FED's grid loses."""
    coarse_msp = on_grid(msp, stride)

    def logit(p: torch.Tensor) -> torch.Tensor:
        return torch.logit(p.clamp(1e-6, 1 - 1e-6))

    def score(inputs: ScoreInputs) -> torch.Tensor:
        return torch.sigmoid(logit(function(inputs)) + logit(msp(inputs))
                             - logit(coarse_msp(inputs)))

    return score


def fed_u_inputs(logits: torch.Tensor, grid: tuple[int, int], num_classes: int) -> torch.Tensor:
    """(B, C, H, W) raw logits -> (B, 4, h, w): FED-U's energy input and its margin condition."""
    return torch.cat([energy_on_grid(logits, grid, None, num_classes),
                      margin_on_grid(logits, grid, num_classes)], dim=1)


@torch.no_grad()
def probe_pixels(backbone: Backbone, spec: str, input_size: tuple[int, int], stride: int
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """FED-U's inputs (N, 4) and m* = misclassified (N,) at every grid pixel of `spec`'s frames
    whose label (sampled at the grid pixel's centre, as the prediction) is not void."""
    grid = (input_size[0] // stride, input_size[1] // stride)
    features, targets = [], []
    for sample in tqdm(parse_data_spec(spec), desc="probe pixels", unit="img"):
        output = backbone(backbone.to_input(sample.image, input_size))
        logits = resample(output.logits.float(), input_size)
        label = torch.from_numpy(resize_label(sample.label, grid).astype(np.int64))
        predicted = logits[0, :backbone.num_classes, stride // 2::stride, stride // 2::stride]
        valid = label != 255
        features.append(fed_u_inputs(logits, grid, backbone.num_classes)[0][:, valid].T)
        targets.append((predicted.argmax(0) != label)[valid].float())
    return torch.cat(features), torch.cat(targets)


def fit_probe(features: torch.Tensor, targets: torch.Tensor, stride: int) -> ScoreFunction:
    """Class-balanced logistic regression on standardised inputs (L-BFGS); the score function
    that applies it on the grid."""
    mean, std = features.mean(0), features.std(0) + 1e-6
    design = (features - mean) / std
    weight = torch.where(targets > 0, 0.5 / targets.mean(), 0.5 / (1 - targets.mean()))
    linear = torch.nn.Linear(features.shape[1], 1)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(
            linear(design)[:, 0], targets, weight=weight)
        value.backward()
        return value

    optimizer.step(loss)
    logging.info("probe: weights %s on (log sigmoid(-E), log(1 - sigmoid(-E)), log(1 + margin), "
                 "log MSP), standardised", [round(w, 3) for w in linear.weight[0].tolist()])

    def score(inputs: ScoreInputs) -> torch.Tensor:
        height, width = inputs.input_size
        grid = (height // stride, width // stride)
        x = fed_u_inputs(inputs.output.logits, grid, inputs.num_classes)
        x = (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
        with torch.no_grad():
            logit = torch.einsum("bchw,c->bhw", x, linear.weight[0]) + linear.bias
        return inputs.upsample(torch.sigmoid(logit))

    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backbone_arguments(parser)
    parser.add_argument("--data", action="append", required=True, help="as `flowenedet eval`")
    parser.add_argument("--scores", default="msp,maxlogit,energy,entropy")
    parser.add_argument("--flow-stride", type=int, default=4, help="FEDConfig.flow_stride")
    parser.add_argument("--probe-fit", default=None,
                        help="a --data spec of frames to fit the probe on (e.g. the FED "
                             "training frames); none: no probe")
    parser.add_argument("--fed", action="append", default=[], metavar="NAME=DIR",
                        help="a trained FED: scored as it is and with MSP's detail (NAME+detail)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    loaded = load_backbone(args)
    full = resolve_scores(args.scores.split(","))
    scores = full + [Score(f"{s.name}@grid", on_grid(s.function, args.flow_stride),
                           f"{s.description}, on FED's grid") for s in full]
    for item in args.fed:
        name, _, directory = item.partition("=")
        fed = fed_score(name, load_checkpoint(Path(directory)).detector.eval())
        scores += [fed, Score(f"{name}+detail", with_detail(fed.function, args.flow_stride),
                              f"{fed.description}, with MSP's detail")]
    if args.probe_fit:
        pixels = probe_pixels(loaded.model, args.probe_fit, loaded.input_size, args.flow_stride)
        scores.append(Score("probe@grid", fit_probe(*pixels, args.flow_stride),
                            "logistic regression over FED-U's inputs"))
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
                                         "probe_fit": args.probe_fit,
                                         "data": args.data, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
