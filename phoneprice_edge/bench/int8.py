"""int8 checks of a benchmark: the int8 share of each artifact, and int8 artifacts that are no
smaller or no faster than the fp32 artifact of the same target (int8 that does not pay)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phoneprice_edge.artifact import Manifest

# an int8 artifact whose p50 is above this fraction of its fp32 sibling's is "not faster"
NOT_FASTER = 0.95


def share_of(manifest: Manifest | None) -> float | None:
    """The int8 share of the weight MACs recorded at export (None: float or not recorded)."""
    share = manifest.fact("int8_share") if manifest is not None else None
    if not isinstance(share, dict):
        return None
    v = share.get("int8_mac_share")
    return float(v) if isinstance(v, int | float) else None


def int8_flags(results: list[dict[str, Any]], files: dict[str, dict[str, str]]) -> list[str]:
    """One line per int8 artifact that holds the same files as, or runs no faster than, the
    fp32 artifact of its target timed in the same run (same device, threads and batch)."""
    by_key = {(r["artifact"], r["device"], int(r["threads"]), int(r["batch_size"])): r
              for r in results}
    arts = {r["artifact"]: (r["target"], r["precision"]) for r in results}
    fp32 = {t: a for a, (t, p) in arts.items() if p == "fp32"}
    flags = []
    for art, (target, prec) in sorted(arts.items()):
        base = fp32.get(target)
        if prec != "int8" or base is None:
            continue
        if files.get(art) and sorted(files[art].values()) == sorted(files.get(base, {}).values()):
            flags.append(f"{art}: its files are byte-identical to {base} (int8 in name only)")
        slow = []
        for (a, dev, thr, b), r in sorted(by_key.items()):
            ref = by_key.get((base, dev, thr, b))
            if a == art and ref and ref["p50_us"] > 0 and r["p50_us"] > NOT_FASTER * ref["p50_us"]:
                slow.append(f"b={b} {r['p50_us'] / ref['p50_us']:.2f}x")
        if slow:
            flags.append(f"{art}: not faster than {base} ({', '.join(slow)} of its p50)")
    return flags
