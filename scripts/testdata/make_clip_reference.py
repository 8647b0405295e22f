#!/usr/bin/env python3
"""A tiny random CLIP in all three public layouts plus reference outputs computed with the
public implementations, for tests/unit/clip_model_test.cc.

  .tools-venv/bin/python scripts/testdata/make_clip_reference.py /work/.mirror/openai+CLIP/repo

needs torch, open_clip_torch, transformers, safetensors (tools environment). Writes
tests/data/clip_tiny/:
  openai.safetensors      OpenAI key names, fp32 (QuickGELU via openai/CLIP, GELU via open_clip)
  hf/model.safetensors    transformers CLIPModel.save_pretrained, with hf/config.json
  openai_fp16.pt          TorchScript archive with fp16 weights, like OpenAI's releases
  reference.json          token ids, outputs and the formula for the test images

Tiny sizes: widths 64 (one head), two blocks per tower, patch 8 at 32x32 (4x4 grid),
context 16, vocabulary 512, embedding 32. The end token is the largest id (511), as in
CLIP, so EOT pooling at the argmax applies unchanged.
"""
import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "clip_tiny")
EMBED, RES, LAYERS, WIDTH, PATCH, CTX, VOCAB = 32, 32, 2, 64, 8, 16, 512


def openai_module(repo):
    src = subprocess.check_output(["git", "-C", repo, "show", "HEAD:clip/model.py"])
    path = os.path.join(tempfile.mkdtemp(), "clip_model.py")
    open(path, "wb").write(src)
    spec = importlib.util.spec_from_file_location("clip_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def oa_preprocess(n_px):
    # openai/CLIP clip/clip.py _transform, written out (its module imports pkg resources).
    from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor
    return Compose([Resize(n_px, interpolation=InterpolationMode.BICUBIC), CenterCrop(n_px),
                    lambda image: image.convert("RGB"), ToTensor(),
                    Normalize((0.48145466, 0.4578275, 0.40821073),
                              (0.26862954, 0.26130258, 0.27577711))])


def images(n, h, w):
    # Reproduced bit for bit by the C++ test with the same torch ops.
    count = n * 3 * h * w
    return torch.sin(torch.arange(count, dtype=torch.float32) * 0.0137).reshape(n, 3, h, w)


def tokens():
    g = torch.Generator().manual_seed(7)
    rows = []
    for length in (3, 9, 14):
        body = torch.randint(1, 510, (length - 2,), generator=g).tolist()
        row = [510] + body + [511]
        rows.append(row + [0] * (CTX - len(row)))
    return torch.tensor(rows, dtype=torch.long)


def interpolate_pos(pos, gh, gw, mode):
    grid = int(round((pos.shape[0] - 1) ** 0.5))
    cls, patches = pos[:1], pos[1:]
    patches = patches.reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=(gh, gw), mode=mode, align_corners=False)
    return torch.cat([cls, patches.permute(0, 2, 3, 1).reshape(gh * gw, -1)], 0)


def openai_outputs(model, toks, imgs):
    with torch.no_grad():
        return model.encode_text(toks), model.encode_image(imgs)


def block_outputs(model, imgs):
    outs = []
    hooks = [b.register_forward_hook(lambda m, i, o: outs.append(o.permute(1, 0, 2)))
             for b in model.visual.transformer.resblocks]
    with torch.no_grad():
        model.encode_image(imgs)
    for h in hooks:
        h.remove()
    return outs  # [B, 1 + n, C] per block (OpenAI runs L, N, D)


def to_hf(state):
    hf = {}
    for tower, prefix in (("text_model", "transformer.resblocks."),
                          ("vision_model", "visual.transformer.resblocks.")):
        for i in range(LAYERS):
            p, q = f"{prefix}{i}.", f"{tower}.encoder.layers.{i}."
            w, b = state[p + "attn.in_proj_weight"].chunk(3), state[p + "attn.in_proj_bias"].chunk(3)
            for k, name in enumerate("qkv"):
                hf[q + f"self_attn.{name}_proj.weight"] = w[k]
                hf[q + f"self_attn.{name}_proj.bias"] = b[k]
            pairs = {"attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1",
                     "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
            for a, h in pairs.items():
                for s in ("weight", "bias"):
                    hf[q + h + "." + s] = state[p + a + "." + s]
    hf["text_model.embeddings.token_embedding.weight"] = state["token_embedding.weight"]
    hf["text_model.embeddings.position_embedding.weight"] = state["positional_embedding"]
    for s in ("weight", "bias"):
        hf["text_model.final_layer_norm." + s] = state["ln_final." + s]
        hf["vision_model.pre_layrnorm." + s] = state["visual.ln_pre." + s]
        hf["vision_model.post_layernorm." + s] = state["visual.ln_post." + s]
    hf["vision_model.embeddings.class_embedding"] = state["visual.class_embedding"]
    hf["vision_model.embeddings.patch_embedding.weight"] = state["visual.conv1.weight"]
    hf["vision_model.embeddings.position_embedding.weight"] = state["visual.positional_embedding"]
    hf["text_projection.weight"] = state["text_projection"].t()
    hf["visual_projection.weight"] = state["visual.proj"].t()
    hf["logit_scale"] = state["logit_scale"]
    return {k: v.contiguous() for k, v in hf.items()}


def flat(t):
    return [float(x) for x in t.reshape(-1).tolist()]


def main():
    import open_clip
    import safetensors.torch
    from transformers import CLIPConfig, CLIPModel

    oa = openai_module(sys.argv[1])
    torch.manual_seed(0)
    model = oa.CLIP(EMBED, RES, LAYERS, WIDTH, PATCH, CTX, VOCAB, WIDTH, 1, LAYERS).float().eval()
    with torch.no_grad():  # Layer norms start at 1/0; move them so the test sees them.
        for name, p in model.named_parameters():
            if "ln" in name:
                p.add_(0.1 * torch.randn_like(p))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    os.makedirs(os.path.join(OUT, "hf"), exist_ok=True)
    safetensors.torch.save_file(state, os.path.join(OUT, "openai.safetensors"))

    toks, imgs = tokens(), images(2, RES, RES)
    ref = {"tokens": toks.tolist(), "image_formula": "sin(arange(n*3*h*w) * 0.0137)",
           "image_shape": [2, 3, RES, RES]}
    text, image = openai_outputs(model, toks, imgs)
    ref["openai_quickgelu"] = {"text": flat(text), "image": flat(image)}
    blocks = block_outputs(model, imgs[:1])
    ref["openai_blocks_image0"] = [flat(b) for b in blocks]

    for mode in ("bicubic", "bilinear"):
        m = copy.deepcopy(model)
        with torch.no_grad():
            m.visual.positional_embedding = torch.nn.Parameter(
                interpolate_pos(model.visual.positional_embedding, 6, 8, mode))
            ref[f"interpolated_{mode}_48x64"] = flat(m.encode_image(images(1, 48, 64)))

    # GELU: open_clip's CLIP, same weights.
    oc = open_clip.model.CLIP(
        EMBED, open_clip.model.CLIPVisionCfg(layers=LAYERS, width=WIDTH, patch_size=PATCH,
                                             image_size=RES, head_width=64),
        open_clip.model.CLIPTextCfg(context_length=CTX, vocab_size=VOCAB, width=WIDTH, heads=1,
                                    layers=LAYERS), quick_gelu=False).eval()
    missing = oc.load_state_dict(state, strict=False)
    assert not missing.unexpected_keys and all("attn_mask" in k for k in missing.missing_keys), missing
    with torch.no_grad():
        ref["openclip_gelu"] = {"text": flat(oc.encode_text(toks)), "image": flat(oc.encode_image(imgs))}

    # HuggingFace: the same weights under transformers' names, saved by transformers.
    config = CLIPConfig(
        text_config=dict(vocab_size=VOCAB, hidden_size=WIDTH, intermediate_size=4 * WIDTH,
                         num_attention_heads=1, num_hidden_layers=LAYERS,
                         max_position_embeddings=CTX, hidden_act="quick_gelu", eos_token_id=2),
        vision_config=dict(hidden_size=WIDTH, intermediate_size=4 * WIDTH, num_attention_heads=1,
                           num_hidden_layers=LAYERS, image_size=RES, patch_size=PATCH,
                           hidden_act="quick_gelu"),
        projection_dim=EMBED)
    hf = CLIPModel(config).eval()
    result = hf.load_state_dict(to_hf(state), strict=False)
    assert not result.unexpected_keys and all("position_ids" in k for k in result.missing_keys), result
    hf.save_pretrained(os.path.join(OUT, "hf"), safe_serialization=True)
    with torch.no_grad():
        ht, hi = hf.get_text_features(input_ids=toks), hf.get_image_features(pixel_values=imgs)
    ref["hf_quickgelu"] = {"text": flat(ht), "image": flat(hi)}
    assert torch.allclose(ht, text, atol=1e-5) and torch.allclose(hi, image, atol=1e-5)

    # TorchScript with fp16 weights, as OpenAI shipped them; reference from fp16-rounded weights.
    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.half().float())
    traced = torch.jit.trace(copy.deepcopy(rounded), (imgs, toks))  # .half() below must not touch `rounded`.
    traced.half()
    traced.save(os.path.join(OUT, "openai_fp16.pt"))
    t16, i16 = openai_outputs(rounded, toks, imgs)
    ref["torchscript_fp16_weights"] = {"text": flat(t16), "image": flat(i16)}

    # 8-bit images through OpenAI's own preprocess (PIL + torchvision), as ovseg-embed
    # reads PNGs: one at the model resolution, one that needs resize and centre crop.
    from PIL import Image
    import numpy as np
    preprocess = oa_preprocess(RES)
    for name, (w, h) in {"png_32x32": (32, 32), "png_48x40": (48, 40)}.items():
        pixels = np.array([[[min(255, 2 * x + 2 * y + 40 * c + (x * y) % 7) for c in range(3)]
                            for x in range(w)] for y in range(h)], dtype=np.uint8)
        with torch.no_grad():
            emb = model.encode_image(preprocess(Image.fromarray(pixels)).unsqueeze(0))
        ref[name] = {"formula": "min(255, 2x + 2y + 40c + (x*y) % 7)", "width": w, "height": h,
                     "image": flat(emb)}

    json.dump(ref, open(os.path.join(OUT, "reference.json"), "w"))


if __name__ == "__main__":
    main()
