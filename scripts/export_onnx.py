"""Export a PyTorch model and its batch for `hessrank estimate --onnx`.

    from export_onnx import export
    export(model, {"x": x}, targets, "out")          # writes out/model.onnx and out/data.safetensors

`model` is any nn.Module, called as model(**inputs); `inputs` maps the forward's argument names to
the fixed batch the loss is computed on; `targets` is what `--loss` compares the output with
(regression targets for mse; integer labels [N] or probabilities [N, C] for cross-entropy; None
with --loss graph, when the model returns its own scalar loss). BatchNorm runs as the model's mode
says: model.eval() exports running statistics, model.train() the statistics of the batch.

The export keeps every parameter a named initializer (do_constant_folding=False), so hessrank's
parameters, `--params` globs and `--per-layer` layers are the state_dict's keys, and keeps equal
tensors apart (keep_initializers_as_inputs=True; PyTorch's exporter otherwise merges, say, every
fresh BatchNorm's weight of ones into one initializer).

Run as a script for a demonstration: python3 scripts/export_onnx.py OUT_DIR (needs torch, onnx,
safetensors).
"""

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file


def export(model, inputs, targets, out_dir, opset=17):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(inputs)
    mode = torch.onnx.TrainingMode.TRAINING if model.training else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, tuple(inputs[n] for n in names), str(out / "model.onnx"), dynamo=False,
                      do_constant_folding=False, opset_version=opset, input_names=names, training=mode,
                      keep_initializers_as_inputs=True)
    tensors = {n: t.detach().contiguous() for n, t in inputs.items()}
    if targets is not None:
        tensors["targets"] = targets.detach().contiguous()
    save_file(tensors, out / "data.safetensors")
    return out / "model.onnx", out / "data.safetensors"


if __name__ == "__main__":
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3)).eval()
    x = torch.randn(64, 10)
    labels = torch.randint(0, 3, (64,))
    onnx_file, data = export(net, {"x": x}, labels, sys.argv[1] if len(sys.argv) > 1 else "mlp-onnx")
    print(f"hessrank estimate --onnx {onnx_file} --data {data} --loss cross-entropy --validate")
