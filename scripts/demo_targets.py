#!/usr/bin/env python3
"""The demo model's quality targets (issue 19, docs/results.md), checked on a report of
`scripts/analyse.sh` over the whole validation split: prints each figure against its
target and exits 1 if any is missed or the report is not of the 500 images with every
stage. Python 3's standard library only.

  scripts/analyse.sh --out out/analysis        # ~12-15 min on 2 vCPUs
  scripts/demo_targets.py out/analysis/analysis.json
"""
import json
import sys

# (what, path into the report, target in percent or points)
TARGETS = [
    ("CLIP on cut-out things, seen", ("clip_crops", "top1", "seen_things", "percent"), 90),
    ("CLIP on cut-out things, unseen", ("clip_crops", "top1", "unseen_things", "percent"), 75),
    ("oracle masks: things named right, seen",
     ("oracle_masks", "regions", "top1", "seen_things", "percent"), 90),
    ("oracle masks: things named right, unseen",
     ("oracle_masks", "regions", "top1", "unseen_things", "percent"), 70),
    ("proposal recall AR@100 IoU 0.5, seen",
     ("proposal_recall", "AR@100_IoU0.50", "seen", "percent"), 95),
    ("proposal recall AR@100 IoU 0.5, unseen",
     ("proposal_recall", "AR@100_IoU0.50", "unseen", "percent"), 85),
    ("end to end: PQ", ("end_to_end", "PQ", "all"), 50),
    ("end to end: mIoU", ("end_to_end", "mIoU", "all"), 60),
    ("end to end: unseen-class mIoU", ("end_to_end", "mIoU", "unseen"), 40),
]
IMAGES = 500


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    report = json.load(open(sys.argv[1]))
    missed = 0
    if report.get("images") != IMAGES:
        print(f"report covers {report.get('images')} images, the targets are set on {IMAGES}")
        missed += 1
    for what, path, target in TARGETS:
        value = report
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        ok = isinstance(value, (int, float)) and value >= target
        missed += not ok
        shown = f"{value:.1f}" if isinstance(value, (int, float)) else "missing"
        print(f"{'ok  ' if ok else 'MISS'} {what}: {shown} (target {target})")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
