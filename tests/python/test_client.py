"""The Python client against a real ovseg-server on the demo model (scripts/test_python_client.sh)."""
import os
import socket
import subprocess
import time

import grpc
import numpy as np
import pytest
from PIL import Image

import ovseg
from ovseg.masks import decode_rle

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
LABELS = ["gravel", "red striped star", "red dotted cross", "green circle", "blue dotted heart",
          ["grass", "lawn"]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    port = free_port()
    config = open(os.path.join(ROOT, "configs/server.pbtxt")).read()
    config = config.replace("127.0.0.1:50051", f"127.0.0.1:{port}")
    config = config.replace('metrics_address: "127.0.0.1:9464"', 'metrics_address: "none"')
    config = config.replace('http_address: "127.0.0.1:8080"', 'http_address: "none"')
    config = config.replace('checkpoint_dir: "checkpoints"',
                            f'checkpoint_dir: "{tmp}/ckpt" token_file: "{tmp}/token"')
    (tmp / "token").write_text(ADMIN_TOKEN)
    (tmp / "server.pbtxt").write_text(config)
    process = subprocess.Popen([os.path.join(ROOT, "build/server/ovseg-server"), "--config",
                                str(tmp / "server.pbtxt")], cwd=ROOT,
                               stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT)
    address = f"127.0.0.1:{port}"
    with ovseg.Client(address, timeout=5) as client:
        for _ in range(240):
            try:
                if client.health() == "SERVING":
                    break
            except ovseg.OvsegError:
                pass
            assert process.poll() is None, (tmp / "server.log").read_text()
            time.sleep(0.5)
    yield address
    process.terminate()
    process.wait(timeout=60)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The demo's scene (ovseg-synth seed 7), saved as PNG so that file and array agree."""
    out = tmp_path_factory.mktemp("world")
    subprocess.run([os.path.join(ROOT, "build/tools/ovseg-synth"), "--out", str(out), "--train",
                    "0", "--val", "1", "--seed", "7", "--threads", "1"], check=True,
                   capture_output=True)
    pixels = np.asarray(Image.open(out / "val/images/000001.jpg").convert("RGB"))
    Image.fromarray(pixels).save(out / "scene.png")
    return out / "scene.png", pixels


def test_segment_a_path_returns_decoded_masks_that_match_the_servers_areas(server, scene):
    path, pixels = scene
    with ovseg.Client(server) as client:
        result = client.segment(str(path), LABELS)
    assert len(result) > 0
    assert result.masks.shape == (len(result), pixels.shape[0], pixels.shape[1])
    assert result.masks.dtype == bool
    # Areas and boxes come from the server; the masks from our RLE decoder: they agree.
    np.testing.assert_array_equal(result.masks.sum(axis=(1, 2)), result.areas)
    for mask, (x0, y0, x1, y1) in zip(result.masks, result.boxes_xyxy.astype(int)):
        ys, xs = np.nonzero(mask)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)
    names = ["grass" if i == 5 else LABELS[i] for i in result.label_indices]
    assert result.labels == names  # a synonym list is labelled by its first name
    assert result.model_version and result.timings["total"] > 0
    assert np.all((result.scores > 0) & (result.scores <= 1))


def test_an_array_a_pil_image_and_bytes_give_the_same_answer(server, scene):
    path, pixels = scene
    with ovseg.Client(server) as client:
        from_path = client.segment(path, LABELS)
        from_array = client.segment(pixels, LABELS)
        from_pil = client.segment(Image.fromarray(pixels), LABELS)
        from_bytes = client.segment(path.read_bytes(), LABELS)
    for other in (from_array, from_pil, from_bytes):
        assert other.labels == from_path.labels
        np.testing.assert_array_equal(other.masks, from_path.masks)


def test_registered_vocabularies_regions_and_coco_results(server, scene):
    path, pixels = scene
    with ovseg.Client(server) as client:
        vocabulary = client.register_vocabulary(LABELS)
        result = client.segment(path, vocabulary_id=vocabulary, task="semantic")
        assert len(result) > 0
        # Classify our own regions: the first answer's masks, as arrays and as RLE.
        region_masks = result.masks[:2]
        rle = result.to_coco(image_id=7, category_ids=[101, 102, 103, 104, 105, 106])
        by_region = client.segment(path, LABELS, regions=[region_masks[0], rle[1]["segmentation"]],
                                   task="instance", score_threshold=0)
        assert {m.tobytes() for m in by_region.masks} <= {region_masks[0].tobytes(),
                                                         region_masks[1].tobytes()}
    assert all(isinstance(r["image_id"], int) and r["category_id"] in range(101, 107)
               for r in rle)
    decoded = decode_rle(rle[0]["segmentation"]["counts"], *rle[0]["segmentation"]["size"])
    np.testing.assert_array_equal(decoded, result.masks[0])


def test_errors_carry_the_servers_code_and_message(server, scene):
    path, _ = scene
    with ovseg.Client(server) as client:
        with pytest.raises(ovseg.OvsegError) as refused:
            client.segment(b"not an image", LABELS)
        assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "image" in refused.value.message
        with pytest.raises(ovseg.OvsegError) as unknown:
            client.segment(path, vocabulary_id="no-such-vocabulary")
        assert unknown.value.code == grpc.StatusCode.NOT_FOUND
        assert client.health("liveness") == "SERVING"
        assert client.model_info().embedding_dim > 0
    with pytest.raises(ValueError, match="task"):
        ovseg.Client(server).segment(path, LABELS, task="panoptik")
    with pytest.raises(ValueError, match="H x W x 3"):
        ovseg.Client(server).segment(np.zeros((4, 4), np.uint8), LABELS)


def test_semantic_map_and_overlay(server, scene):
    path, pixels = scene
    with ovseg.Client(server) as client:
        result = client.segment(path, LABELS, task="semantic", semantic_map=True)
        without = client.segment(path, LABELS, task="semantic")
    assert without.semantic_map is None
    label_map = result.semantic_map
    assert label_map.shape == pixels.shape[:2]
    for mask, index in zip(result.masks, result.label_indices):
        assert np.all(label_map[mask] == index)  # semantic segments do not overlap
    assert np.all(label_map[~result.masks.any(axis=0)] == -1)
    drawn = np.asarray(result.overlay(path))
    assert drawn.shape == pixels.shape
    inside = result.masks.any(axis=0)
    assert np.abs(drawn[inside].astype(int) - pixels[inside]).mean() > 5  # tinted
    # Away from the labels' text, pixels outside every mask are the image's own.
    far = ~inside
    far[: pixels.shape[0] // 8] = False
    assert np.array_equal(drawn[far & (np.arange(pixels.shape[1]) < 4)[None, :]],
                          pixels[far & (np.arange(pixels.shape[1]) < 4)[None, :]])


def test_the_asyncio_client_answers_as_the_synchronous_one(server, scene):
    import asyncio

    path, _ = scene

    async def run():
        async with ovseg.AsyncClient(server) as client:
            assert await client.health() == "SERVING"
            results = await asyncio.gather(*(client.segment(path, LABELS) for _ in range(3)))
            with pytest.raises(ovseg.OvsegError) as refused:
                await client.segment(b"not an image", LABELS)
            assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
            return results

    results = asyncio.run(run())
    with ovseg.Client(server) as client:
        expected = client.segment(path, LABELS)
    for r in results:
        assert r.labels == expected.labels
        np.testing.assert_array_equal(r.masks, expected.masks)


def test_admin_submit_list_activate(server, tmp_path):
    checkpoint = os.path.join(ROOT, "models/demo/fovseg.safetensors")
    with ovseg.AdminClient(server, ADMIN_TOKEN) as admin:
        info = admin.submit(checkpoint, name="python-client.safetensors")
        assert info.name == "python-client.safetensors" and info.num_tensors > 0
        assert "python-client.safetensors" in [c.name for c in admin.list()]
        version = admin.activate("python-client.safetensors")
        assert version
        assert [c.name for c in admin.list() if c.active] == ["python-client.safetensors"]
    with ovseg.Client(server) as client:
        assert client.model_info().model_version == version
    with ovseg.AdminClient(server, "wrong-token") as intruder:
        with pytest.raises(ovseg.OvsegError) as refused:
            intruder.list()
        assert refused.value.code in (grpc.StatusCode.UNAUTHENTICATED,
                                      grpc.StatusCode.PERMISSION_DENIED)


def test_rle_decoder_matches_a_hand_made_mask():
    # Column-major runs: 2 off, 3 on, 4 off on a 3 x 3 mask (pycocotools' layout).
    mask = decode_rle("234", 3, 3)
    expected = np.zeros((3, 3), bool)
    expected[2, 0] = expected[0, 1] = expected[1, 1] = True
    np.testing.assert_array_equal(mask, expected)


def test_reflection_and_json_as_grpcurl_uses_them(server, scene, tmp_path):
    """The README's grpcurl call, run as grpcurl runs it (grpcurl itself is neither a
    Debian package nor on PyPI): request.json made by the README's own printf line, the
    message types fetched by server reflection, the JSON parsed into them, a generic call."""
    import json

    from google.protobuf import json_format, message_factory
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase)

    path, _ = scene
    readme = open(os.path.join(ROOT, "README.md")).read().splitlines()
    start = next(i for i, line in enumerate(readme) if line.startswith("printf '{\"image\""))
    command = (readme[start].rstrip("\\") + readme[start + 1]).replace("x.jpg", str(path))
    command = command.replace("request.json", str(tmp_path / "request.json"))
    subprocess.run(["bash", "-c", command], check=True)
    assert any("grpcurl -plaintext -d @ 127.0.0.1:50051 ovseg.v1.Segmentation/Segment"
               in line for line in readme)

    channel = grpc.insecure_channel(server)
    database = ProtoReflectionDescriptorDatabase(channel)
    assert "ovseg.v1.Segmentation" in database.get_services()
    method = DescriptorPool(database).FindMethodByName("ovseg.v1.Segmentation.Segment")
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)
    request = json_format.Parse((tmp_path / "request.json").read_text(), request_type())
    call = channel.unary_unary("/ovseg.v1.Segmentation/Segment",
                               request_serializer=request_type.SerializeToString,
                               response_deserializer=response_type.FromString)
    reply = json.loads(json_format.MessageToJson(call(request, timeout=60)))
    assert reply["segments"], reply
    assert {s["label"] for s in reply["segments"]} <= {"cat", "dog"}
    channel.close()


def test_the_installed_package_is_typed():
    """PEP 561: the annotations reach type checkers (py.typed, and .pyi for the stubs)."""
    import importlib.resources

    assert importlib.resources.files("ovseg").joinpath("py.typed").is_file()
    assert importlib.resources.files("ovseg.v1").joinpath("segmentation_pb2.pyi").is_file()
