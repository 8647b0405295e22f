"""The `ovseg` CLI as a user runs it, against the real server of test_client.py: several
images from a directory and a glob with a progress line, overlays per image, and --json
COCO results that pycocotools loads and evaluates; bad command lines refused with exit 2."""
import json
import os
import subprocess

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from test_client import ROOT, server  # noqa: F401  (the module's server fixture)

CLI = os.path.join(ROOT, "build/client/ovseg")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three validation scenes of the synthetic world with their COCO panoptic annotation."""
    out = tmp_path_factory.mktemp("cli-world")
    subprocess.run([os.path.join(ROOT, "build/tools/ovseg-synth"), "--out", str(out), "--train",
                    "0", "--val", "3", "--seed", "5", "--threads", "1"], check=True,
                   capture_output=True)
    return out / "val"


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)


def test_directory_input_json_that_pycocotools_evaluates(server, world, tmp_path):  # noqa: F811
    panoptic = json.load(open(world / "panoptic.json"))
    categories = panoptic["categories"]
    labels = ",".join(c["name"] for c in categories)
    ids = ",".join(str(c["id"]) for c in categories)
    result = run("segment", f"--server={server}", str(world / "images"), "--labels", labels,
                 "--task", "instance", "--json", str(tmp_path / "results.json"),
                 "--coco_images", str(world / "panoptic.json"), "--category_ids", ids,
                 "--out", str(tmp_path / "overlays"), "--concurrency", "2")
    assert result.returncode == 0, result.stderr
    assert "ovseg segment" in result.stderr  # the progress line
    assert sorted(os.listdir(tmp_path / "overlays")) == ["000001.png", "000002.png", "000003.png"]
    # Ground truth as COCO instances (things of the panoptic annotation), then loadRes and
    # a full COCOeval: the ids the CLI wrote must be the annotation's.
    gt = {"images": panoptic["images"], "categories": categories, "annotations": []}
    for ann in panoptic["annotations"]:
        for seg in ann["segments_info"]:
            x, y, w, h = seg["bbox"]
            gt["annotations"].append({
                "id": len(gt["annotations"]) + 1, "image_id": ann["image_id"],
                "category_id": seg["category_id"], "bbox": seg["bbox"], "area": seg["area"],
                "iscrowd": 0, "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    open(tmp_path / "gt.json", "w").write(json.dumps(gt))
    coco = COCO(str(tmp_path / "gt.json"))
    detections = coco.loadRes(str(tmp_path / "results.json"))
    assert len(detections.getAnnIds()) > 0
    image_ids = {r["image_id"] for r in json.load(open(tmp_path / "results.json"))}
    assert image_ids <= {i["id"] for i in panoptic["images"]}
    evaluation = COCOeval(coco, detections, "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] >= 0  # AP computed (not -1: categories and images matched)


def test_glob_input_one_line_per_segment_with_its_file(server, world):  # noqa: F811
    result = run("segment", "--server", server, str(world / "images" / "00000[12].jpg"),
                 "--labels", "grass,water,red circle", "--quiet")
    assert result.returncode == 0, result.stderr
    files = {line.split("\t")[0] for line in result.stdout.splitlines()}
    assert files <= {str(world / "images" / "000001.jpg"), str(world / "images" / "000002.jpg")}
    assert len(files) == 2


def test_bad_command_lines_are_refused_with_a_message():
    for args, message in [(["segment", "--task", "semantically", "--labels", "a", "x.jpg"],
                           "--task"),
                          (["segment", "--labels", "a", "--timeout_s=soon", "x.jpg"],
                           "expected a number of seconds"),
                          (["segment", "--labelz", "a", "x.jpg"], "labelz"),
                          (["segment", "x.jpg"], "--labels or --vocabulary_id")]:
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    help_text = run("segment", "--help")
    assert help_text.returncode == 0 and "--mask_format" in help_text.stdout
    missing = run("segment", "--labels", "a", "/nonexistent/dir/")
    assert missing.returncode == 1 and "no such file" in missing.stderr
