"""Print the recipe study of scripts/recipe-study.sh as a markdown table.

    .venv/bin/python scripts/study_table.py runs/study/erfnet

Per row: the training views' shares (misclassified among labelled pixels, real errors among the
m* = 1 pixels), then AP / FPR95 on the hold-out only: misclassification (per-image mean over the
20 held-out train frames at the input size and at 0.75x), synthetic objects pasted on their road
and real cut-outs of the proxy classes no outlier row trains on (pooled). `select` is the mean of
the APs of held-out IDM, synthetic objects and cut-outs, the rule recipes are chosen by (rows
evaluated before the cut-out set existed show `-` there and no `select`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SETS = (("heldout", "heldout.json", "per_image_mean"), ("heldout-small", "heldout-small.json",
        "per_image_mean"), ("pasted", "heldout.json", None), ("cutouts", "heldout.json", None))
SELECTED_BY = ("heldout", "pasted", "cutouts")
BASELINES = ("msp", "maxlogit", "energy", "entropy")
ORDER = ("today", "reference", "matched", "matched-raw", "covariate", "covariate-raw",
         "backbone-range", "fed-c-reference", "fed-c-matched", "fed-c-all-channels",
         "fed-c-covariate", "fed-c-covariate-raw", "margin-u", "oe-u", "oe-control-margin-u",
         "oe-c", "oe-control-c", "oe-control-margin-c")


def metrics(directory: Path, dataset: str, file: str, key: str | None, score: str
            ) -> tuple[float, float] | None:
    data = json.loads((directory / file).read_text())["datasets"].get(dataset)
    if data is None:
        return None
    values = data[score][key] if key else data[score]
    return values["ap"], values["fpr95"]


def row(name: str, directory: Path, score: str) -> str:
    cells, aps = [], []
    for dataset, file, key in SETS:
        found = metrics(directory, dataset, file, key, score)
        cells.append(f"{found[0]:.2f} / {found[1]:.2f}" if found else "-")
        if dataset in SELECTED_BY:
            aps.append(found[0] if found else None)
    shares, seconds = "", ""
    sidecar = directory / "fed.json"
    if score not in BASELINES and sidecar.is_file():
        views = json.loads(sidecar.read_text())["training"].get("views", {})
        if "outcome_shares" in views:
            share = views["outcome_shares"]
            shares = (f"{100 * share['misclassified_of_labelled']:.1f} / "
                      f"{100 * share['misclassified_of_positives']:.0f}")
        if (directory / "train_seconds").is_file():
            seconds = f"{int((directory / 'train_seconds').read_text()) / 60:.1f}"
    select = f"{sum(aps) / len(aps):.2f}" if None not in aps else "-"
    return f"| {name} | {shares} | {' | '.join(cells)} | {select} | {seconds} |"


def main(root: Path) -> None:
    print("| row | misclassified % of labelled / of m*=1 | hold-out IDM AP / FPR95 | "
          "hold-out 0.75x IDM | pasted objects AP / FPR95 | cut-outs AP / FPR95 | select | "
          "train min |")
    print("|---|---|---|---|---|---|---|---|")
    rows = sorted((p for p in root.iterdir() if (p / "heldout-small.json").is_file()),
                  key=lambda p: (ORDER.index(p.name) if p.name in ORDER else len(ORDER), p.name))
    for directory in rows:
        print(row(directory.name, directory, directory.name))
    if rows:
        for baseline in BASELINES:
            print(row(baseline, rows[0], baseline))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
