#!/usr/bin/env python3
"""Markdown tables from `ovseg-eval analyse` reports (docs/analysis.md), one row per report.

usage: scripts/analysis_table.py NAME=out/x/analysis.json [NAME=...]
"""
import json
import sys


def cell(value):
    return "-" if value is None else f"{value:.1f}"


def main(pairs):
    rows = []
    for pair in pairs:
        name, path = pair.split("=", 1)
        rows.append((name, json.load(open(path))))
    print("| model | PQ | PQ seen / unseen | mIoU | mIoU seen / unseen | oracle masks: PQ, mIoU "
          "| region top-1 things (seen / unseen) | stuff | oracle classifier: PQ, mIoU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in rows:
        e, m, c = r["end_to_end"], r["oracle_masks"], r["oracle_classifier"]
        top1 = m["regions"]["top1"]
        print(f"| {name} | {cell(e['PQ']['all'])} | {cell(e['PQ']['seen'])} / {cell(e['PQ']['unseen'])} "
              f"| {cell(e['mIoU']['all'])} | {cell(e['mIoU']['seen'])} / {cell(e['mIoU']['unseen'])} "
              f"| {cell(m['PQ']['all'])}, {cell(m['mIoU']['all'])} "
              f"| {cell(top1['things']['percent'])} ({cell(top1['seen_things']['percent'])} / "
              f"{cell(top1['unseen_things']['percent'])}) "
              f"| {cell(top1['stuff']['percent'])} "
              f"| {cell(c['PQ']['all'])}, {cell(c['mIoU']['all'])} |")
    print()
    print("| model | AR@100 IoU 0.5 all / seen / unseen | AR@100 IoU 0.75 | CLIP crops top-1 things / stuff "
          "| CLIP things seen / unseen | words right (region): colour / pattern / shape |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in rows:
        p = r.get("proposal_recall", {})
        a5, a75 = p.get("AR@100_IoU0.50"), p.get("AR@100_IoU0.75")
        clip = r.get("clip_crops", {}).get("top1")
        w = r["oracle_masks"]["regions"]["word_positions"]
        ar = (f"{cell(a5['all']['percent'])} / {cell(a5['seen']['percent'])} / {cell(a5['unseen']['percent'])}"
              if a5 else "-")
        print(f"| {name} | {ar} | {cell(a75['all']['percent']) if a75 else '-'} "
              f"| {cell(clip['things']['percent']) + ' / ' + cell(clip['stuff']['percent']) if clip else '-'} "
              f"| {cell(clip['seen_things']['percent']) + ' / ' + cell(clip['unseen_things']['percent']) if clip else '-'} "
              f"| {cell(w['colour'])} / {cell(w['pattern'])} / {cell(w['shape'])} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
