"""Time mlplab's training step against PyTorch (CPU) and a hand-written NumPy floor.

Usage::

    python benchmarks/bench_train_step.py                  # the table (≤ 8 minutes on 2 cores)
    python benchmarks/bench_train_step.py --quick          # smoke run (about a minute)
    python benchmarks/bench_train_step.py --configs small,deep50 --threads 1 --rounds 5

Each number is measured in a fresh process per (library, configuration, optimizer, thread
count): ``step_worker.py`` imports only the library it times, with ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` set before anything loads. (In one process,
OpenMP's and OpenBLAS's worker threads spin against each other after every call and the
libraries slow each other down.) The processes run in rounds, the libraries' order rotating
from one round to the next; a row reports the **minimum over the rounds of each process's
median** step time, and its ratios come from those. Beside them, mlplab/floor is also
measured *paired*: both steps in one process, in alternating blocks (both are NumPy on one
BLAS, so no foreign threads are in the way), the median of the rounds' ratios — immune to the
machine's speed drifting from one process to the next. Configurations (ReLU, softmax cross-entropy,
float32, one fixed batch, the same Kaiming weights in every library; see ``configs.py``):

    small      784-100-10               B128
    deep50     784-100×49-10            B128   (the lecture's 50-layer net)
    deep50-bn  the same with BatchNorm1d after each hidden Linear (no floor)
    wide       784-1024-1024-10         B128
    big        4096×3-10                B512

with SGD (momentum 0.9) and Adam, at 1 thread and at all cores. Also: a GEMM table (GF/s of
NumPy's and PyTorch's matmul on each step's shapes, ``gemm_worker.py``), ``fit`` per batch,
the Hessian-vector product against a gradient, tiny-op overhead and ``import mlplab``. The
environment (CPU model, ISA flags, NumPy/BLAS/PyTorch versions) goes into the JSON, by default
``benchmarks/results/bench-<time>.json`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from configs import (  # noqa: E402
    CONFIGS,
    GOAL_VS_FLOOR,
    GOAL_VS_TORCH_1,
    GOAL_VS_TORCH_N,
)

LIBS = ("mlplab", "torch", "floor")
#: configurations whose mlplab/floor ratio is also measured in one process (``--what paired``):
#: no batch norm (the floor has none), and not ``big`` (seconds a step)
PAIRED = ("small", "deep50", "wide")
OPTS = ("sgd", "adam")


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    src = HERE.parent / "src"
    env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_worker(script: str, args: list[str], threads: int, timeout: float = 600) -> dict[str, Any]:
    """Run a worker in a fresh interpreter and return its JSON line (or the error)."""
    cmd = [sys.executable, str(HERE / script), *args, "--threads", str(threads)]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=worker_env(threads), timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s: {' '.join(cmd[1:])}"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail}"}
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------ the table


def train_steps(
    configs: list[str], threads: list[int], rounds: int, libs: list[str], quick: bool
) -> list[dict[str, Any]]:
    """Every (config, opt, threads) with every library, one process each, ``rounds`` times."""
    jobs = [(c, o, t) for c in configs for o in OPTS for t in threads]
    medians: dict[tuple[str, str, str, int], list[float]] = {}
    notes: dict[tuple[str, str, str, int], str] = {}
    first_loss: dict[tuple[str, str, str, int], float] = {}
    paired: dict[tuple[str, str, int], list[float]] = {}
    start = time.perf_counter()
    for r in range(rounds):
        for j, (config, opt, t) in enumerate(jobs):
            order = libs[(r + j) % len(libs) :] + libs[: (r + j) % len(libs)]
            for lib in order:
                key = (lib, config, opt, t)
                if key in notes:
                    continue
                args = ["--lib", lib, "--config", config, "--opt", opt] + ["--quick"] * quick
                out = run_worker("step_worker.py", args, t)
                if "median_ms" in out:
                    medians.setdefault(key, []).append(out["median_ms"])
                    print(f"    {lib:6} {config:9} {opt:4} {t} thr: {out['median_ms']:9.2f} ms")
                    first_loss[key] = out.get("first")
                else:
                    notes[key] = out.get("skipped") or out.get("error", "?")
            if {"mlplab", "floor"} <= set(libs) and config in PAIRED:
                args = ["--lib", "mlplab", "--what", "paired", "--config", config, "--opt", opt]
                out = run_worker("step_worker.py", args + ["--quick"] * quick, t)
                if "mlplab/floor" in out:
                    paired.setdefault((config, opt, t), []).append(out["mlplab/floor"])
        print(f"  round {r + 1}/{rounds} done ({time.perf_counter() - start:.0f} s)", flush=True)
    rows = []
    for config, opt, t in jobs:
        keys = {lib: (lib, config, opt, t) for lib in libs}
        ms = {lib: min(medians[k]) for lib, k in keys.items() if k in medians}
        row: dict[str, Any] = {"config": config, "opt": opt, "threads": t, "ms": ms}
        row["medians_ms"] = {lib: medians.get(k) for lib, k in keys.items()}
        row["notes"] = {lib: notes[k] for lib, k in keys.items() if k in notes}
        row["first_loss"] = {lib: first_loss.get(k) for lib, k in keys.items()}
        for a, b in (("mlplab", "torch"), ("mlplab", "floor"), ("floor", "torch")):
            if a in ms and b in ms:
                row[f"{a}/{b}"] = ms[a] / ms[b]
        if (config, opt, t) in paired:
            row["paired_ratios"] = paired[(config, opt, t)]
            row["paired mlplab/floor"] = statistics.median(paired[(config, opt, t)])
        rows.append(row)
    return rows


def verdicts(row: dict[str, Any], all_cores: int) -> tuple[str, str]:
    """'ok'/'MISS' for mlplab/torch and mlplab/floor against issue 14's goals."""
    config, t = row["config"], row["threads"]
    vt = row.get("mlplab/torch")
    goal: float | None
    if t == 1:
        goal = GOAL_VS_TORCH_1.get(config)
    elif config in GOAL_VS_TORCH_N:
        goal = GOAL_VS_TORCH_N[config]
    else:
        goal = row["floor/torch"] + 0.05 if "floor/torch" in row else None
    ok_t = "" if vt is None or goal is None else ("ok" if vt <= goal else "MISS")
    vf = row.get("mlplab/floor")
    ok_f = "" if vf is None else ("ok" if vf <= GOAL_VS_FLOOR else "MISS")
    return (f"{ok_t} (≤{goal:.2f})" if goal is not None and ok_t else ok_t), ok_f


def fmt(x: float | None, spec: str = "8.2f") -> str:
    return format(x, spec) if x is not None else "-".rjust(int(spec.split(".")[0]))


def print_table(rows: list[dict[str, Any]], all_cores: int) -> list[str]:
    lines = [
        "| config | opt | threads | mlplab ms | torch ms | floor ms | mlplab/torch | "
        "mlplab/floor | paired mlplab/floor | floor/torch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ms = row["ms"]
        ok_t, ok_f = verdicts(row, all_cores)
        vp = row.get("paired mlplab/floor")
        ok_p = "" if vp is None else ("ok" if vp <= GOAL_VS_FLOOR else "MISS")
        lines.append(
            f"| {row['config']} | {row['opt']} | {row['threads']} | {fmt(ms.get('mlplab'))} | "
            f"{fmt(ms.get('torch'))} | {fmt(ms.get('floor'))} | "
            f"{fmt(row.get('mlplab/torch'), '4.2f')} {ok_t} | "
            f"{fmt(row.get('mlplab/floor'), '4.2f')} {ok_f} | {fmt(vp, '4.2f')} {ok_p} | "
            f"{fmt(row.get('floor/torch'), '4.2f')} |"
        )
        for lib, note in row["notes"].items():
            lines.append(f"|   | {lib}: {note} |")
    print("\n".join(lines), flush=True)
    return lines


# ------------------------------------------------------------------------------------ extras


def gemm_table(configs: list[str], threads: list[int], quick: bool) -> dict[str, Any]:
    """GF/s per shape, NumPy and PyTorch, one process per (library, threads)."""
    out: dict[str, Any] = {}
    for t in threads:
        for lib in ("numpy", "torch"):
            args = ["--lib", lib, "--configs", ",".join(configs)] + ["--quick"] * quick
            out[f"{lib}@{t}"] = run_worker("gemm_worker.py", args, t)
    lines = ["| config | product | m×k×n | " + " | ".join(f"{k} GF/s" for k in out) + " |"]
    lines.append("|---" * (3 + len(out)) + "|")
    first = next((v for v in out.values() if "rows" in v), None)
    for i, base in enumerate(first["rows"] if first else []):
        cells = [f"{v['rows'][i]['gflops']:.0f}" if "rows" in v else "-" for v in out.values()]
        lines.append(
            f"| {base['config']} | {base['role']} | {base['m']}×{base['k']}×{base['n']} | "
            + " | ".join(cells)
            + " |"
        )
    print("\n".join(lines), flush=True)
    out["table"] = lines
    return out


def extras(threads: list[int], rounds: int, quick: bool, ms: dict[tuple, float]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    # fit: seconds per batch over an epoch of 16 batches, against the bare step of the table
    fit_rows = []
    for config in ("small", "deep50"):
        for opt in OPTS:
            for t in threads:
                runs = [
                    run_worker(
                        "step_worker.py",
                        ["--lib", "mlplab", "--what", "fit", "--config", config, "--opt", opt]
                        + ["--quick"] * quick,
                        t,
                    )
                    for _ in range(max(1, rounds // 2))
                ]
                good = [r["median_ms"] for r in runs if "median_ms" in r]
                step = ms.get(("mlplab", config, opt, t))
                row = {"config": config, "opt": opt, "threads": t, "step_ms": step}
                row["fit_ms"] = min(good, default=None)
                if good and step:
                    row["fit/step"] = min(good) / step
                fit_rows.append(row)
                print(
                    f"fit {config} {opt} {t} thr: {fmt(row['fit_ms'])} ms/batch "
                    f"(bare step {fmt(step)}; fit/step {fmt(row.get('fit/step'), '4.2f')})",
                    flush=True,
                )
    result["fit"] = fit_rows
    result["hvp"] = hv = hvp_rounds(rounds, quick)
    print(
        "HVP on 784-100-10 B128, 1 thread, median over processes of each one's hvp/grad: "
        + ", ".join(
            f"{lib} {fmt(v.get('hvp/grad'), '4.2f')} ({fmt(v.get('hvp_ms'), '4.2f')} ms against "
            f"{fmt(v.get('grad_ms'), '4.2f')})"
            for lib, v in hv.items()
        )
        + " (goal ≤ 4)",
        flush=True,
    )
    tiny = {}
    for lib in ("mlplab", "torch"):
        tiny[lib] = run_worker(
            "step_worker.py", ["--lib", lib, "--what", "tiny"] + ["--quick"] * quick, 1
        )
    result["tiny"] = tiny
    print(
        "tiny ops (1000 adds, forward+backward): "
        + ", ".join(f"{lib} {v.get('median_ms', 0):.2f} ms" for lib, v in tiny.items()),
        flush=True,
    )
    result["import"] = import_time(3 if quick else 7)
    print(
        f"import: numpy {result['import']['numpy']:.3f} s, "
        f"mlplab {result['import']['mlplab']:.3f} s (goal < 0.3 s)",
        flush=True,
    )
    sweep = HERE / "bench_sweep.py"
    result["sweep"] = (
        f"run python {sweep.relative_to(HERE.parent)}" if sweep.exists() else "not yet"
    )
    return result


def hvp_rounds(rounds: int, quick: bool) -> dict[str, Any]:
    """The HVP against a gradient, one process per library and round, the order rotating.

    Each process times both in alternating blocks, so its ratio compares them in the same
    stretch of machine time; a library's ratio is the median of its processes' ratios, its
    times the minimum of their block minima.
    """
    runs: dict[str, list[dict[str, Any]]] = {"mlplab": [], "torch": []}
    for r in range(rounds):
        for lib in list(runs)[r % 2 :] + list(runs)[: r % 2]:
            out = run_worker(
                "step_worker.py", ["--lib", lib, "--what", "hvp"] + ["--quick"] * quick, 1
            )
            if "hvp/grad" in out:
                runs[lib].append(out)
    result: dict[str, Any] = {}
    for lib, outs in runs.items():
        if not outs:
            result[lib] = {"error": "no run finished"}
            continue
        result[lib] = {
            "hvp/grad": statistics.median(o["hvp/grad"] for o in outs),
            "ratios": [o["hvp/grad"] for o in outs],
            "hvp_ms": min(o["hvp"]["median_ms"] for o in outs),
            "grad_ms": min(o["grad"]["median_ms"] for o in outs),
        }
    return result


def import_time(repeats: int) -> dict[str, float]:
    code = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"
    out = {}
    for module in ("numpy", "mlplab"):
        times = []
        for _ in range(repeats):
            done = subprocess.run(
                [sys.executable, "-c", code.format(m=module)],
                capture_output=True,
                text=True,
                env=worker_env(1),
                check=True,
            )
            times.append(float(done.stdout.strip()))
        out[module] = statistics.median(times)
    return out


# ------------------------------------------------------------------------------- environment


def environment() -> dict[str, Any]:
    """CPU model, ISA flags and library versions (asked of a fresh NumPy process)."""
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.processor()):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx512_bf16", "amx_tile"}  # fmt: skip
    isa = sorted(flags & wanted)
    probe = (
        "import json, numpy, threadpoolctl; print(json.dumps({'numpy': numpy.__version__, "
        "'blas': [{k: i.get(k) for k in ('internal_api', 'version', 'architecture', "
        "'num_threads', 'filepath')} for i in threadpoolctl.threadpool_info()]}))"
    )
    np_info = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
    )

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpu": model,
        "isa": isa,
        "cores": cpu_count(),
        "python": platform.python_version(),
        **np_info,
        "torch": version("torch"),
        "mlplab": version("mlplab"),
        "threadpoolctl": version("threadpoolctl"),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "loadavg_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps, 1 round: a smoke run")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset")
    parser.add_argument("--threads", default=None, help="thread counts, e.g. 1,2 [1,all cores]")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of processes [3]")
    parser.add_argument("--libs", default=",".join(LIBS), help="comma-separated subset")
    parser.add_argument("--json", type=Path, help="[benchmarks/results/bench-<time>.json]")
    parser.add_argument("--no-gemm", action="store_true", help="skip the GEMM table")
    parser.add_argument("--no-extras", action="store_true", help="skip fit, HVP, tiny, import")
    args = parser.parse_args(argv)
    configs = [c for c in args.configs.split(",") if c]
    bad = [c for c in configs if c not in CONFIGS]
    if bad:
        parser.error(f"--configs: unknown {bad}; choose from {list(CONFIGS)}")
    libs = [lib for lib in args.libs.split(",") if lib]
    if any(lib not in LIBS for lib in libs):
        parser.error(f"--libs: unknown {libs}; choose from {list(LIBS)}")
    if args.threads is None:
        threads = sorted({1, cpu_count()})
    else:
        try:
            threads = sorted({int(t) for t in args.threads.split(",")})
        except ValueError:
            parser.error(f"--threads: expected integers like 1,2, got {args.threads!r}")
        if threads[0] < 1:
            parser.error(f"--threads: each count must be >= 1, got {args.threads!r}")
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if rounds < 1:
        parser.error(f"--rounds must be >= 1, got {rounds}")
    if "torch" in libs and metadata_missing("torch"):
        print("note: torch is not installed: its columns are skipped")
        libs.remove("torch")

    env = environment()
    blas = ", ".join(f"{b.get('internal_api')} {b.get('version')}" for b in env["blas"])
    print(
        f"{env['cpu']} ({', '.join(env['isa'])}; {env['cores']} cores), numpy {env['numpy']} "
        f"({blas}), "
        f"torch {env['torch']}, load {env['loadavg_start']}",
        flush=True,
    )
    results: dict[str, Any] = {"environment": env, "quick": args.quick, "rounds": rounds}
    start = time.perf_counter()
    rows = train_steps(configs, threads, rounds, libs, args.quick)
    results["train_step"] = rows
    results["table"] = print_table(rows, cpu_count())
    if not args.no_gemm:
        results["gemm"] = gemm_table(configs, threads, args.quick)
    if not args.no_extras:
        ms = {("mlplab", r["config"], r["opt"], r["threads"]): r["ms"].get("mlplab") for r in rows}
        results["extras"] = extras(threads, rounds, args.quick, ms)
    env["loadavg_end"] = os.getloadavg()
    results["wall_s"] = time.perf_counter() - start
    path = args.json or HERE / "results" / time.strftime("bench-%Y%m%d-%H%M%S.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, default=float))
    tmp.replace(path)
    print(f"wrote {path} ({results['wall_s']:.0f} s)")
    return 0


def metadata_missing(dist: str) -> bool:
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        return True
    return False


if __name__ == "__main__":
    raise SystemExit(main())
