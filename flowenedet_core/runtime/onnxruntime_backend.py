"""An exported graph on onnxruntime (CPU; the CUDA provider when the onnxruntime-gpu build is
installed and asked for)."""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import RuntimeBackendError
from ..export.onnx_export import read_graph_info
from .base import stage_means, stage_of_kernel


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, path: str | Path, threads: int | None = None,
                 providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> None:
        try:
            import onnxruntime
        except ImportError as error:
            raise RuntimeBackendError("backend onnxruntime needs `pip install onnxruntime`"
                                      ) from error
        self._onnxruntime = onnxruntime
        self.path = Path(path)
        self.info, self.stage_of_node = read_graph_info(self.path)
        self.image_size = self.info.image_size
        self.output_names = self.info.outputs
        self.threads = threads
        self.providers = providers
        self.session = self._session(profiling=False)
        self.device = f"{self.session.get_providers()[0]}" + (
            f" ({threads} threads)" if threads else "")

    def _session(self, profiling: bool):
        options = self._onnxruntime.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.enable_profiling = profiling
        if profiling:  # never into the working directory, even when a run is interrupted
            options.profile_file_prefix = str(Path(tempfile.gettempdir()) / "flowenedet_ort")
        try:
            return self._onnxruntime.InferenceSession(str(self.path), options,
                                                      providers=list(self.providers))
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph types
            raise RuntimeBackendError(f"onnxruntime cannot load {self.path}: "
                                      f"{str(error).splitlines()[0]}") from error

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.session.run(list(self.output_names),
                                   {"image": np.ascontiguousarray(images)})
        return dict(zip(self.output_names, outputs, strict=True))

    def profile(self, images: np.ndarray, repeats: int) -> dict[str, float]:
        """onnxruntime's own profiler: per-node kernel times of `repeats` runs after a warm-up
        run, summed per stage."""
        session = self._session(profiling=True)
        feed = {"image": np.ascontiguousarray(images)}
        for _ in range(repeats + 1):
            session.run(list(self.output_names), feed)
        path = session.end_profiling()
        try:
            events = json.loads(Path(path).read_text())
        finally:
            os.unlink(path)
        runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
        warmup_end = runs[0]["ts"] + runs[0]["dur"] if runs else 0
        totals: dict[str, float] = defaultdict(float)
        for event in events:
            if (event.get("cat") == "Node" and event["name"].endswith("_kernel_time")
                    and event["ts"] >= warmup_end):
                node = event["name"].removesuffix("_kernel_time")
                totals[stage_of_kernel(node, self.stage_of_node)] += event["dur"] / 1e3
        return stage_means(totals, repeats)
