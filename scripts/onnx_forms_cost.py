"""What FED's graph forms (flowenedet_core/fed/onnx_forms.py) save in onnxruntime: each operation
exported as PyTorch's operator and in its graph form, then FED's whole head (energy input, flow,
base distribution) both ways; median milliseconds of --repeats runs on --threads onnxruntime
threads (one by default), as JSON.

    .venv/bin/python scripts/onnx_forms_cost.py --grid 128x256 --classes 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import time
from collections.abc import Iterator

import numpy as np
import onnxruntime
import torch
from torch import nn

from flowenedet_core.data.transforms import parse_size
from flowenedet_core.fed import FEDConfig, FlowEneDet, SMLStatistics, blocks, onnx_forms


@contextlib.contextmanager
def operator_forms() -> Iterator[None]:
    """Export PyTorch's own operators instead of the graph forms."""
    saved = onnx_forms.building_onnx_graph
    onnx_forms.building_onnx_graph = lambda: False
    try:
        yield
    finally:
        onnx_forms.building_onnx_graph = saved


class Apply(nn.Module):
    def __init__(self, function) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.function(x)
        return torch.cat(out, dim=1) if isinstance(out, tuple) else out


def median_ms(module: nn.Module, x: torch.Tensor, repeats: int, graph_forms: bool,
              threads: int) -> float:
    with contextlib.nullcontext() if graph_forms else operator_forms():
        proto = torch.onnx.export(module.eval(), (x,), dynamo=True, verbose=False).model_proto
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(proto.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.numpy()}
    for _ in range(10):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - started) * 1e3)
    return float(np.median(times))


class FEDHead(nn.Module):
    """Logits on FED's grid -> p(m = 1): an untrained FED-U's whole head."""

    def __init__(self, classes: int, margin: bool, condition_prior: bool = False) -> None:
        super().__init__()
        names = tuple(f"class{i}" for i in range(classes))
        statistics = SMLStatistics(names, (0.0,) * classes, (1.0,) * classes, (1,) * classes)
        config = FEDConfig(margin=margin, condition_prior=condition_prior)
        self.detector = FlowEneDet(config, statistics)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        stride = self.detector.config.flow_stride
        size = (stride * logits.shape[2], stride * logits.shape[3])
        return self.detector.score(logits, None, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=parse_size, default=(128, 256))
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the exporter's chatter
    torch.manual_seed(0)
    height, width = args.grid
    logits = torch.randn(1, args.classes, height, width) * 3
    cases = {"channel_max": (Apply(onnx_forms.channel_max), logits),
             "channel_top2": (Apply(onnx_forms.channel_top2), logits),
             "channel_sum": (Apply(onnx_forms.channel_sum), logits)}
    for channels in (2, 4):
        conv = blocks.SpatialConv(channels, 7)
        cases[f"conv7x7_{channels}ch"] = (conv, torch.randn(1, channels, height, width))
        mixing = blocks.PointwiseConv(channels, channels)
        cases[f"pointwise_{channels}ch"] = (mixing, torch.randn(1, channels, height, width))
    cases["fed_u_head"] = (FEDHead(args.classes, margin=False), logits)
    cases["fed_u_margin_head"] = (FEDHead(args.classes, margin=True), logits)
    cases["fed_u_margin_prior_head"] = (FEDHead(args.classes, margin=True, condition_prior=True),
                                        logits)
    results = {name: {"operator_ms": median_ms(module, x, args.repeats, False, args.threads),
                      "graph_form_ms": median_ms(module, x, args.repeats, True, args.threads)}
               for name, (module, x) in cases.items()}
    print(json.dumps({"grid": [height, width], "classes": args.classes, "threads": args.threads,
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
