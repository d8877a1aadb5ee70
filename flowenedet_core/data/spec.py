"""`--data` specs: `[NAME=]KIND:DIR[:SPLIT[:CORRUPTION:SEVERITY]]` -> datasets.

- `anomaly:DIR` - an anomaly folder (images/ + labels_masks/)
- `cityscapes:DIR:SPLIT` - a Cityscapes tree
- `cityscapes-c:DIR:SPLIT:CORRUPTION:SEVERITY` - the same with an `imagecorruptions` corruption

Any spec may end in `@SLICE`, a Python slice of the sorted frame list (`@4::5`: every fifth frame
from the fifth), or `@!SLICE` for the frames the slice leaves out, so a hold-out split and its
complement are written as two specs of one folder.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .corruptions import CorruptedFolder
from .datasets import AnomalyFolder, CityscapesFolder, LabelledFolder

KINDS = ("anomaly", "cityscapes", "cityscapes-c")


def parse_data_spec(spec: str) -> LabelledFolder:
    body, at, selector = spec.rpartition("@")
    if not at:
        return parse_folder_spec(spec)
    return select_frames(parse_folder_spec(body), selector, spec)


def select_frames(dataset: LabelledFolder, selector: str, spec: str) -> LabelledFolder:
    """Keep the frames a slice selects (`!SLICE`: the others), in place of the full list."""
    complement = selector.startswith("!")
    parts = selector.lstrip("!").split(":")
    try:
        if not 1 <= len(parts) <= 3:
            raise ValueError
        chosen = slice(*(int(p) if p else None for p in parts)) if len(parts) > 1 else \
            slice(int(parts[0]), int(parts[0]) + 1 or None)
    except ValueError:
        raise DataError(f"--data {spec!r}: @{selector} is not a slice like @4::5 or @!4::5"
                        ) from None
    indices = range(len(dataset.pairs))[chosen]
    if complement:
        indices = [i for i in range(len(dataset.pairs)) if i not in set(indices)]
    dataset.pairs[:] = [dataset.pairs[i] for i in indices]  # in place: wrappers share the list
    if not dataset.pairs:
        raise DataError(f"--data {spec!r}: @{selector} selects no frame")
    dataset.name = dataset.name if "=" in spec.split(":", 1)[0] else f"{dataset.name}@{selector}"
    return dataset


def parse_folder_spec(spec: str) -> LabelledFolder:
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
