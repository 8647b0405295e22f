"""Segments an image for the labels given and prints each segment.

    python client/python/examples/segment_image.py 127.0.0.1:50051 scene.jpg "green circle,gravel"
"""
import sys

import ovseg


def main(address: str, image: str, labels: str) -> None:
    with ovseg.Client(address) as client:
        result = client.segment(image, labels.split(","), task="panoptic")
    print(result)
    for label, score, area, box in zip(result.labels, result.scores, result.areas,
                                       result.boxes_xyxy):
        print(f"{label:<24} {score:.2f}  {area:6d} px  box {box.astype(int).tolist()}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
