"""Starts a run from another's checkpoints, so that an experiment trains on while the run it came
from stays as it was, to be compared with.

    /usr/bin/python3 models/branch.py --from runs/cpu --out runs/cpu-more
    /usr/bin/python3 models/train.py --out runs/cpu-more --set steps=N --set schedule_start=S

The datasets (latents.pt, edits.pt, twins.pt), which train.py writes once and only reads after, are hard
links; every other file is copied: a phase that trains on rewrites its checkpoint in place, which
through a link would rewrite the original run's, and the logs must carry every sitting before
the branch (model_card.py reads the training time from them). Samples stay behind.
"""
from __future__ import annotations

import argparse
import os
import shutil

SHARED = ("latents.pt", "edits.pt", "twins.pt")


def branch(source: str, out: str) -> list[str]:
    """Fills `out` (new or empty) from the run in `source`; returns the names it linked."""
    if not os.path.exists(os.path.join(source, "config.json")):
        raise SystemExit(f"branch: {source} is not a run (no config.json)")
    if os.path.exists(out) and os.listdir(out):
        raise SystemExit(f"branch: {out} exists and is not empty")
    os.makedirs(out, exist_ok=True)
    linked = []
    for name in sorted(os.listdir(source)):
        src, dst = os.path.join(source, name), os.path.join(out, name)
        if not os.path.isfile(src) or name.endswith(".part"):
            continue
        if name in SHARED:
            try:
                os.link(src, dst)
                linked.append(name)
                continue
            except OSError:  # another file system: a copy does as well
                pass
        shutil.copy2(src, dst)
    return linked


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", required=True, help="the run to start from")
    parser.add_argument("--out", required=True, help="the new run's folder (new or empty)")
    args = parser.parse_args()
    linked = branch(args.source, args.out)
    print(f"branch: {args.out} from {args.source}" + (f" ({', '.join(linked)} linked)" if linked else ""))
