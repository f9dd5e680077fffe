"""Count the CPU instructions of one training step with valgrind: a timing that load cannot move.

On a shared machine a 5% change in a step's time is lost in the noise, but the number of
instructions a step executes is the same in every run. This runs a loop of steps under
``valgrind --tool=cachegrind --cache-sim=no`` twice (``--steps`` and ``--steps + 200``) and
prints the difference divided by 200: instructions per step, start-up and imports cancelled.
On the overhead-only variant (width 8, batch 2: almost no arithmetic left) it measures the
per-node Python and the per-call NumPy overhead that separate mlplab from the floor::

    python benchmarks/count_instructions.py --lib mlplab --width 8 --depth 50 --opt sgd
    python benchmarks/count_instructions.py --lib floor --width 8 --depth 50 --opt sgd
    python benchmarks/count_instructions.py --lib mlplab --phase fb   # forward+loss+backward only

``--phase`` is ``f`` (zero_grad, forward, loss), ``fb`` (and backward) or ``fbs`` (the whole
step); differences between phases give each phase's count. One BLAS thread. Needs valgrind
(each count takes some 20-40 s); PYTHONPATH picks the mlplab to measure (an older checkout's
``src`` for an A/B).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

LOOP = """
import sys
sys.path.insert(0, {here!r})
from configs import make_batch, make_weights
lib, n, width, depth, opt, phase, batch = {args!r}
sizes = [784] + [width] * (depth - 1) + [10]
x, y = make_batch(784, batch)
if lib == "floor":
    from numpy_floor import FloorMLP
    weights, biases = make_weights(sizes)
    floor = FloorMLP(weights, biases, batch, opt)
    def step():
        floor.forward(x); floor.loss_and_seed(y)
        if "b" in phase: floor.backward(x)
        if "s" in phase: floor.update()
else:
    import mlplab
    from mlplab import nn
    from mlplab.optim import SGD, Adam
    mlplab.set_num_threads(1)
    model = nn.MLP(784, 10, width=sizes[1:-1] or None, depth=depth, rng=0)
    params = list(model.parameters())
    o = SGD(params, lr=0.01, momentum=0.9) if opt == "sgd" else Adam(params, lr=1e-3)
    loss_fn = nn.CrossEntropyLoss(); tx = mlplab.Tensor(x)
    o.zero_grad(); loss_fn(model(tx), y).backward(); o.step()
    def step():
        o.zero_grad(); loss = loss_fn(model(tx), y)
        if "b" in phase: loss.backward()
        if "s" in phase: o.step()
for _ in range(n):
    step()
"""


def instructions(args: argparse.Namespace, n: int) -> int:
    """Instructions valgrind counts for the whole process running ``n`` steps."""
    code = LOOP.format(
        here=str(HERE),
        args=(args.lib, n, args.width, args.depth, args.opt, args.phase, args.batch),
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    done = subprocess.run(
        [*cmd, sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    match = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if match is None:
        raise RuntimeError(
            f"count_instructions: no instruction count in valgrind's output:\n{done.stderr[-2000:]}"
        )
    return int(match.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", choices=["mlplab", "floor"], default="mlplab")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--opt", choices=["sgd", "adam"], default="sgd")
    parser.add_argument("--phase", choices=["f", "fb", "fbs"], default="fbs")
    parser.add_argument("--steps", type=int, default=10, help="warm-up steps of the baseline run")
    args = parser.parse_args(argv)
    for name in ("width", "depth", "batch", "steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    extra = 200
    per_step = (instructions(args, args.steps + extra) - instructions(args, args.steps)) / extra
    print(
        f"{args.lib} width {args.width} depth {args.depth} batch {args.batch} {args.opt} "
        f"phase {args.phase}: {per_step:,.0f} instructions per step"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
