"""`--data` specs: `[NAME=]KIND:DIR[:SPLIT[:CORRUPTION:SEVERITY]]` -> datasets.

- `anomaly:DIR` - an anomaly folder (images/ + labels_masks/)
- `cityscapes:DIR:SPLIT` - a Cityscapes tree
- `cityscapes-c:DIR:SPLIT:CORRUPTION:SEVERITY` - the same with an `imagecorruptions` corruption
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .corruptions import CorruptedFolder
from .datasets import AnomalyFolder, CityscapesFolder, LabelledFolder

KINDS = ("anomaly", "cityscapes", "cityscapes-c")


def parse_data_spec(spec: str) -> LabelledFolder:
    name, _, body = spec.rpartition("=") if "=" in spec.split(":", 1)[0] else ("", "", spec)
    kind, _, rest = body.partition(":")
    parts = rest.split(":")
    if kind not in KINDS or not rest:
        raise DataError(f"--data {spec!r}: expected [NAME=]KIND:DIR[:SPLIT], KIND one of "
                        f"{', '.join(KINDS)}")
    root = Path(parts[0])
    if kind == "anomaly":
        if len(parts) != 1:
            raise DataError(f"--data {spec!r}: anomaly takes only a folder")
        return AnomalyFolder(name or root.name, root)
    if len(parts) < 2:
        raise DataError(f"--data {spec!r}: {kind} needs a split, e.g. {kind}:{root}:val")
    split = parts[1]
    if kind == "cityscapes":
        if len(parts) != 2:
            raise DataError(f"--data {spec!r}: cityscapes takes DIR:SPLIT")
        return CityscapesFolder(name or f"cityscapes-{split}", root, split)
    if len(parts) != 4:
        raise DataError(f"--data {spec!r}: cityscapes-c takes DIR:SPLIT:CORRUPTION:SEVERITY")
    corruption, severity = parts[2], parts[3]
    if not severity.isdigit():
        raise DataError(f"--data {spec!r}: severity {severity!r} is not an integer 1-5")
    base = CityscapesFolder(f"cityscapes-{split}", root, split)
    return CorruptedFolder(base, corruption, int(severity),
                           name or f"cityscapes-{split}-{corruption}{severity}")
