"""torch.onnx.export of a BertForSequenceClassification checkpoint folder, as most ONNX files on the
Hub were made (opset 14, constant folding), for bench/convert.ts to compare the converter's graph
with. Needs Debian's python3-torch (and numpy); never run in CI.

    /usr/bin/python3 bench/export_bert.py MODEL_DIR OUT.onnx

The forward pass follows transformers' modeling_bert.py (eager attention), written here by hand.
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info["dtype"]
        start, end = info["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"]).copy())
    return tensors


class Bert(torch.nn.Module):
    def __init__(self, sd, cfg):
        super().__init__()
        self.cfg = cfg
        self.names = list(sd)
        for i, name in enumerate(self.names):
            self.register_buffer(f"t{i}", sd[name])

    def forward(self, input_ids, attention_mask, token_type_ids):
        sd = {name: getattr(self, f"t{i}") for i, name in enumerate(self.names)}
        cfg = self.cfg
        eps = cfg["layer_norm_eps"]
        heads = cfg["num_attention_heads"]
        hidden = cfg["hidden_size"]
        d = hidden // heads

        def lin(x, name):
            return F.linear(x, sd[name + ".weight"], sd[name + ".bias"])

        def ln(x, name):
            return F.layer_norm(x, (hidden,), sd[name + ".weight"], sd[name + ".bias"], eps)

        def split(x):
            b, s, _ = x.shape
            return x.view(b, s, heads, d).permute(0, 2, 1, 3)

        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = (sd["bert.embeddings.word_embeddings.weight"][input_ids]
             + sd["bert.embeddings.token_type_embeddings.weight"][token_type_ids]
             + sd["bert.embeddings.position_embeddings.weight"][positions])
        x = ln(x, "bert.embeddings.LayerNorm")
        mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        for i in range(cfg["num_hidden_layers"]):
            p = f"bert.encoder.layer.{i}."
            q, k, v = (split(lin(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + mask
            ctx = torch.matmul(F.softmax(scores, dim=-1), v).permute(0, 2, 1, 3).flatten(2)
            a = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
            h = F.gelu(lin(a, p + "intermediate.dense"))
            x = ln(lin(h, p + "output.dense") + a, p + "output.LayerNorm")
        pooled = torch.tanh(lin(x[:, 0], "bert.pooler.dense"))
        return lin(pooled, "classifier")


def main():
    folder, out = sys.argv[1], sys.argv[2]
    cfg = json.load(open(f"{folder}/config.json"))
    model = Bert(read_safetensors(f"{folder}/model.safetensors"), cfg).eval()
    ids = torch.randint(5, cfg["vocab_size"], (2, 16))
    example = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {0: "batch_size", 1: "sequence_length"}
    torch.onnx.export(model, example, out, opset_version=14, do_constant_folding=True,
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "logits": {0: "batch_size"}})
    print(f"exported {out}")


if __name__ == "__main__":
    main()
