"""A ResNet for the ONNX end-to-end run: export it with its batch, and time PyTorch eager on the
same Langevin step (BENCHMARKS.md, "Any network through ONNX").

A CIFAR-style ResNet (3×3 stem, three stages of two basic blocks at 16, 32 and 64 channels,
stride-2 downsampling by 1×1 projections, BatchNorm in inference mode, global average pooling, a
linear head; 175,258 parameters) on 256 random 3×16×16 images, exported as the README tells
researchers to, with probability targets equal to its own softmax (cross-entropy's exact minimum). PyTorch eager is timed on the step hessrank runs: the cross-entropy's
gradient by autograd, then θ ← θ − η∇L + √η·σ·ξ, float32, on torch.get_num_threads() threads.

Run: python3 scripts/bench/onnx_resnet.py OUT_DIR [STEPS]   (needs torch, onnx, safetensors)
"""

import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from export_onnx import export  # noqa: E402


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.proj = None
        if stride != 1 or c_in != c_out:
            self.proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.proj is None else self.proj(x)))


class ResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers = []
        for c_in, c_out, stride in [(16, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 64, 2), (64, 64, 1)]:
            layers.append(Block(c_in, c_out, stride))
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1))


def main():
    out = Path(sys.argv[1])
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    torch.manual_seed(0)
    net = ResNet()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    net.eval()
    x = torch.randn(256, 3, 16, 16)
    with torch.no_grad():
        targets = torch.softmax(net(x), -1)
    export(net, {"x": x}, targets, out)
    params = [p for p in net.parameters()]
    print(f"{sum(p.numel() for p in params)} parameters")

    eta, sigma = 1e-3, 1e-5 ** 0.5
    def step():
        loss = F.cross_entropy(net(x), targets)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p.add_(g, alpha=-eta).add_(torch.randn_like(p), alpha=eta ** 0.5 * sigma)
        return loss
    for _ in range(5):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t) / steps
    print(f"PyTorch {torch.__version__} eager, {torch.get_num_threads()} threads, f32: {dt * 1e3:.1f} ms per step")


if __name__ == "__main__":
    main()
