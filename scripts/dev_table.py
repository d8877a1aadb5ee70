"""Print the dev-set side of an ablation (scripts/study-dev.sh or scripts/real-model.sh) as one
markdown table: per score, AP / FPR95 on each anomaly set raw and post-processed, per-image
misclassification AP on the Cityscapes frames, and component mean F1 without and with the meta
classifier. A FED row is marked where it beats every baseline in both AP and FPR95 (none is
marked in a file without baselines).

    .venv/bin/python scripts/dev_table.py runs/study/erfnet/dev.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BASELINES = ("msp", "maxlogit", "energy", "entropy", "sml")
ANOMALY_SETS = ("RoadAnomaly21", "FS_Static")
IDM_SET = "cityscapes-val"
POST = ("", "+bs")  # FED against the baselines, and FED+bs against their +bs


def pair(entry: dict | None) -> tuple[float, float] | None:
    return (entry["ap"], entry["fpr95"]) if entry and "ap" in entry else None


def beats_baselines(datasets: dict, score: str, dataset: str, suffix: str) -> bool:
    mine = pair(datasets[dataset].get(score + suffix))
    if mine is None:
        return False
    others = [o for o in (pair(datasets[dataset].get(b + suffix)) for b in BASELINES) if o]
    return bool(others) and all(mine[0] > o[0] and mine[1] < o[1] for o in others)


def component_f1(datasets: dict, dataset: str, score: str) -> str:
    cells = []
    for name in (score, score + "+meta"):
        components = datasets[dataset].get(name, {}).get("components")
        cells.append(f"{components['mean_f1']:.1f}" if components else "-")
    return " / ".join(cells)


def main(path: Path) -> None:
    datasets = json.loads(path.read_text())["datasets"]
    sets = [d for d in ANOMALY_SETS if d in datasets]
    scores = [s for s in datasets[sets[0]]
              if not s.endswith(("+bs", "+gs", "+meta")) and isinstance(datasets[sets[0]][s], dict)
              and "ap" in datasets[sets[0]][s]]
    header = ["score"] + [f"{d}{p} AP / FPR95" for d in sets for p in POST]
    header += [f"{IDM_SET} IDM AP (per image)"] + [f"{d} mean F1 / +meta" for d in sets]
    print("| " + " | ".join(header) + " |")
    print("|---" * len(header) + "|")
    for score in scores:
        cells = []
        for dataset in sets:
            for suffix in POST:
                found = pair(datasets[dataset].get(score + suffix))
                mark = (" **wins**" if score not in BASELINES
                        and beats_baselines(datasets, score, dataset, suffix) else "")
                cells.append(f"{found[0]:.2f} / {found[1]:.2f}{mark}" if found else "-")
        idm = datasets.get(IDM_SET, {}).get(score, {}).get("per_image_mean")
        cells.append(f"{idm['ap']:.2f}" if idm else "-")
        cells += [component_f1(datasets, dataset, score) for dataset in sets]
        print(f"| {score} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
