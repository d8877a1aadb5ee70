"""One-pass evaluation of many uncertainty scores, and its JSON / markdown / plot reports."""

from .evaluator import DatasetResult, EvalOptions, evaluate
from .report import markdown_table, results_to_json, save_plots, write_json

__all__ = ["DatasetResult", "EvalOptions", "evaluate", "markdown_table", "results_to_json",
           "save_plots", "write_json"]
