"""Run the fuzz tests with many more examples than CI does, and say what was run and found.

The fuzz tests (``tests/data/test_fuzz_idx.py``, ``tests/test_fuzz_load.py``,
``tests/train/test_fuzz_checkpoint.py``) read ``MLPLAB_FUZZ_SCALE``: each hypothesis test runs
``scale`` times its CI number of examples (about 1,200 in all at scale 1), with fresh random
examples instead of CI's fixed ones. This script runs them at a larger scale, one file after the
other, and prints per test the examples run, how many failed, and the first failure's error.

Usage::

    python scripts/fuzz.py                  # scale 85: about 100,000 examples
    python scripts/fuzz.py --scale 5 --only idx
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "idx": "tests/data/test_fuzz_idx.py",
    "load": "tests/test_fuzz_load.py",
    "checkpoint": "tests/train/test_fuzz_checkpoint.py",
}
_TEST = re.compile(r"^(\S+\.py::\S+):\s*$")
_COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid")


def run(target: str, scale: int) -> tuple[list[tuple[str, int, int]], int, str]:
    """Run one target's file; return ([(test, passing, failing)], pytest exit code, tail)."""
    env = os.environ | {"MLPLAB_FUZZ_SCALE": str(scale)}
    argv = [sys.executable, "-m", "pytest", TARGETS[target], "-p", "no:cacheprovider",
            "--hypothesis-show-statistics", "-o", "addopts=", "-q", "--tb=line"]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    counts: dict[str, list[int]] = {}
    for line in done.stdout.splitlines():
        if match := _TEST.match(line.strip()):
            test = counts.setdefault(match.group(1).split("::")[-1], [0, 0])
        elif match := _COUNTS.search(line):  # every phase: reuse, generate, shrink
            test[0] += int(match.group(1))
            test[1] += int(match.group(2))
    stats = [(name, passing, failing) for name, (passing, failing) in counts.items()]
    failures = [line for line in done.stdout.splitlines() if line.startswith(("E ", "/"))]
    return stats, done.returncode, "\n".join(failures[:5])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=85, help="multiple of CI's examples")
    parser.add_argument("--only", choices=sorted(TARGETS), action="append")
    args = parser.parse_args()
    if args.scale < 1:
        parser.error(f"--scale must be >= 1, got {args.scale}")
    total, status = 0, 0
    for target in args.only or list(TARGETS):
        start = time.monotonic()
        stats, code, tail = run(target, args.scale)
        seconds = time.monotonic() - start
        examples = sum(p + f for _, p, f in stats)
        total += examples
        print(f"{target}: {examples} examples in {seconds:.0f} s, pytest exit {code}")
        for test, passing, failing in stats:
            print(f"  {test}: {passing + failing} examples, {failing} failing")
        if code != 0:
            status = 1
            print("  found:\n    " + (tail or "(see pytest output)").replace("\n", "\n    "))
    print(f"total: {total} examples")
    return status


if __name__ == "__main__":
    sys.exit(main())
