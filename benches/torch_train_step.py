#!/usr/bin/env python3
"""Training-step peer benchmark: burn (each CPU backend) vs PyTorch CPU.

The same network (SMN stage 1 / MTL: conv3x3-BN-ReLU-maxpool levels, two
heads flatten-fc-ReLU-fc with 10 and 40 outputs), the same batch and input
size, L2 landmark loss + BCE-with-logits attribute loss, momentum SGD
(lr 0.001, momentum 0.9, dampening 0). burn is timed by `smn bench-train`
(run from this script, same machine, same moment); PyTorch here.

    python3 benches/torch_train_step.py [--smn target/release/smn] [--preset micro] [--batch 32] [--steps 20]

Without `torch` installed (pip install torch), the PyTorch half is skipped
with a message and only the burn backends are compared.
"""
import argparse
import json
import os
import subprocess
import sys
import time

PRESETS = {
    "paper": (128, [32, 64, 128, 256], 256),
    "micro": (64, [16, 32, 32, 64], 64),
    "tiny": (32, [8, 16], 16),
}


def torch_rate(preset, batch, steps, threads):
    try:
        import torch
        import torch.nn as nn
    except Exception as e:  # ImportError, or a wheel without its native libraries
        print(f"SKIPPED PyTorch: torch is not importable ({e.__class__.__name__}: {e})", file=sys.stderr)
        return None
    if threads:
        torch.set_num_threads(threads)
    size, channels, hidden = PRESETS[preset]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin = [], 3
            for c in channels:
                layers += [nn.Conv2d(cin, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
                cin = c
            self.shared = nn.Sequential(*layers)
            flat = channels[-1] * (size >> len(channels)) ** 2
            self.heads = nn.ModuleList(
                [nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Linear(hidden, n)) for n in (10, 40)]
            )

        def forward(self, x):
            s = self.shared(x)
            return self.heads[0](s), self.heads[1](s)

    torch.manual_seed(7)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9, dampening=0.0)
    x = torch.randn(batch, 3, size, size)
    lm = torch.rand(batch, 10)
    attr = (torch.rand(batch, 40) > 0.5).float()
    bce = nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad()
        y_lm, y_attr = net(x)
        loss = ((y_lm - lm) ** 2).sum(dim=1).mean() + bce(y_attr, attr)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sec = (time.perf_counter() - start) / steps
    return {
        "backend": f"pytorch-{torch.__version__}-cpu",
        "threads": torch.get_num_threads(),
        "seconds_per_step": sec,
        "images_per_second": batch / sec,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    ap.add_argument("--smn", default=os.path.join(target, "release", "smn"))
    ap.add_argument("--preset", default="micro", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--backends", default="flex,ndarray")
    ap.add_argument("--threads", type=int, default=0, help="PyTorch threads (0: its default)")
    args = ap.parse_args()

    rows = []
    if os.path.exists(args.smn):
        cmd = [args.smn, "bench-train", "--backends", args.backends, "--preset", args.preset,
               "--batch", str(args.batch), "--steps", str(args.steps)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows += [json.loads(line) for line in out.splitlines() if line.strip()]
    else:
        print(f"SKIPPED burn: {args.smn} not found (cargo build --release -p smn-host)", file=sys.stderr)
    t = torch_rate(args.preset, args.batch, args.steps, args.threads)
    if t:
        rows.append(t)
    if not rows:
        return 1
    base = rows[-1]
    print(f"training step, preset {args.preset}, batch {args.batch}, {args.steps} timed steps")
    print(f"{'backend':<28} {'s/step':>9} {'img/s':>9} {'vs ' + base['backend']:>24}")
    for r in rows:
        print(f"{r['backend']:<28} {r['seconds_per_step']:>9.4f} {r['images_per_second']:>9.1f} "
              f"{r['images_per_second'] / base['images_per_second']:>23.2f}x")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
