"""The reasons of a replayed bag: counts, the per-frame timeline, and — when the bag records what
each stretch is (`make-bag --expect`, `make-drive`) — a confusion matrix of expected against
given reasons. The expectation lives in the bag's custom_data as JSON, a list of
[first stamp ns, last stamp ns, reason]."""

from __future__ import annotations

import json
from typing import Protocol

from flowenedet_core.errors import DataError

from ..frame_reason import REASONS

EXPECTED_REASON_KEY = "flowenedet.expected_reason"


class ReasonRecord(Protocol):
    frame_reason: str
    expected_reason: str | None


def expected_reasons(custom: dict[str, str]) -> list[tuple[int, int, str]]:
    """The stretches a bag's custom_data declares (none: an empty list)."""
    text = custom.get(EXPECTED_REASON_KEY)
    if not text:
        return []
    try:
        stretches = [(int(first), int(last), str(kind)) for first, last, kind in json.loads(text)]
    except (ValueError, TypeError) as error:
        raise DataError(f"custom_data {EXPECTED_REASON_KEY} is not a list of [first_ns, "
                        f"last_ns, reason]: {error}") from None
    unknown = {kind for _, _, kind in stretches} - set(REASONS)
    if unknown:
        raise DataError(f"custom_data {EXPECTED_REASON_KEY}: unknown reason(s) "
                        f"{', '.join(sorted(unknown))}; expected {', '.join(REASONS)}")
    return stretches


def encode_expected(stretches: list[tuple[int, int, str]]) -> dict[str, str]:
    """custom_data entry for a bag whose stretches are known."""
    return {EXPECTED_REASON_KEY: json.dumps([list(s) for s in stretches])}


def reason_summary(records: list[ReasonRecord]) -> dict:
    """{"counts", "timeline", and with expectations "confusion" (expected -> given -> frames)
    and "accuracy" (share of labelled frames whose reason is the expected one)}."""
    given = [r.frame_reason for r in records]
    summary: dict = {"counts": {kind: given.count(kind) for kind in REASONS if kind in given},
                     "timeline": given}
    labelled = [(r.expected_reason, r.frame_reason) for r in records
                if r.expected_reason is not None]
    if labelled:
        matrix = {expected: {kind: 0 for kind in REASONS} for expected in REASONS}
        for expected, kind in labelled:
            matrix[expected][kind] += 1
        summary["confusion"] = {expected: row for expected, row in matrix.items()
                                if any(row.values())}
        summary["accuracy"] = sum(e == k for e, k in labelled) / len(labelled)
    return summary


def confusion_table(confusion: dict[str, dict[str, int]]) -> str:
    """A markdown table: rows expected, columns given."""
    lines = ["| expected \\ given | " + " | ".join(REASONS) + " |",
             "|---" * (len(REASONS) + 1) + "|"]
    lines += [f"| {expected} | " + " | ".join(str(row[kind]) for kind in REASONS) + " |"
              for expected, row in confusion.items()]
    return "\n".join(lines)
