#!/usr/bin/env python
"""cnnaudit's speed and memory, and the usual way of answering the same questions, measured
in one run on one machine (issue 10). Run from anywhere:

    python benchmarks/run.py            # full run (a few minutes)
    python benchmarks/run.py --quick    # fewer repetitions
    python benchmarks/run.py --profile  # also print cProfile hotspots of the slow paths

The models are built once with TensorFlow into benchmarks/.cache/ (see models.py). The
benchmark process itself never imports TensorFlow: every "usual way" step runs in a fresh
process (workers.py), timed from outside with time.perf_counter around subprocess.run.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import platform
import pstats
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
PY = sys.executable
WORKERS = str(BENCH / "workers.py")
BOARD = "nano33"
ONE_LINER = ("28x28x1 conv64k3:relu maxpool2 conv64k3:relu maxpool2 flatten dense128:relu "
             "dropout0.5 dense10:softmax")

sys.path.insert(0, str(BENCH))
import models  # noqa: E402  (no TensorFlow at import time)

# Quiet TensorFlow's C++ logging in the usual-way processes (does not change their timing).
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
NO_COPIES = {"CNNAUDIT_CACHE_DIR": "/dev/null/no-copies"}  # cnnaudit/datafile.py


# --------------------------------------------------------------------------- helpers


def cnnaudit_cmd() -> list[str]:
    script = Path(PY).with_name("cnnaudit")
    return [str(script)] if script.exists() else [PY, "-m", "cnnaudit"]


def run(cmd: Sequence[str], ok: Sequence[int] = (0,), env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True,
                          env={**ENV, **(env or {})}, check=False)
    if proc.returncode not in ok:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                         f"{proc.stderr[-3000:]}")
    return proc


def bench_line(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")]
    return json.loads(lines[-1][6:]) if lines else {}


def timed(cmd: Sequence[str], n: int, ok: Sequence[int] = (0,), warmup: int = 1
          ) -> dict[str, Any]:
    """Median wall time of n fresh processes (after `warmup` untimed ones)."""
    for _ in range(warmup):
        run(cmd, ok)
    times, proc = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        proc = run(cmd, ok)
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "min": min(times), "max": max(times),
            "runs": n, "proc": proc}


Case = tuple[list[str], Sequence[int]] | tuple[list[str], Sequence[int], dict[str, str]]


def timed_rounds(cmds: dict[str, Case], n: int) -> dict[str, dict[str, Any]]:
    """`timed` for several commands in rounds: one warm-up round, then n rounds of each
    command once, so a few noisy seconds on a shared machine fall on every command alike
    instead of on all runs of one. A case is (command, exit codes[, extra environment])."""
    for cmd, ok, *env in cmds.values():
        run(cmd, ok, *env)
    times: dict[str, list[float]] = {key: [] for key in cmds}
    procs: dict[str, subprocess.CompletedProcess[str]] = {}
    for _ in range(n):
        for key, (cmd, ok, *env) in cmds.items():
            t0 = time.perf_counter()
            procs[key] = run(cmd, ok, *env)
            times[key].append(time.perf_counter() - t0)
    return {key: {"median": statistics.median(t), "min": min(t), "max": max(t), "runs": n,
                  "proc": procs[key]} for key, t in times.items()}


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def kib(n: float | None) -> str:
    return "-" if n is None else f"{n / 1024:,.1f} KiB"


def mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:,.1f} MiB"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), line, *(fmt.format(*map(str, r)) for r in rows)])


def section(title: str) -> None:
    print(f"\n## {title}\n", flush=True)


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    versions = {}
    for pkg in ("cnnaudit", "typer", "rich", "pydantic", "PyYAML", "numpy", "h5py",
                "flatbuffers", "tensorflow", "keras", "tflite-micro"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_bytes": ram,
            "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "loadavg_start": os.getloadavg()}


def print_machine(m: dict[str, Any]) -> None:
    section("Machine")
    ram = f"{m['ram_bytes'] / 2**30:.1f} GiB" if m["ram_bytes"] else "unknown"
    print(f"CPU      {m['cpu']}, {m['cores']} logical cores, RAM {ram}")
    print(f"Python   {m['python']} ({PY})  on {m['platform']}")
    print("Packages " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v))
    load = m["loadavg_start"]
    print(f"Load     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) at start")
    if load[0] > 0.5 * (m["cores"] or 1):
        print("WARNING  the machine is busy: timings will be slower and noisier than usual")


# --------------------------------------------------------------------------- cold start


MINIMAL_TYPER_APP = """import typer

app = typer.Typer()


@app.command()
def check(model: str, board: str = "nano33") -> None:
    print(model, board)


@app.command()
def other() -> None:
    pass


app()
"""


def cold_start(n: int) -> dict[str, Any]:
    section(f"Cold start: one fresh process per command, median of {n} (+1 warm-up), the "
            "commands run in rounds")
    (CACHE / "minimal_typer_app.py").write_text(MINIMAL_TYPER_APP)
    cli = cnnaudit_cmd()
    c = CACHE
    cases: list[tuple[str, str, list[str], str]] = [
        ("python -c pass", "pass", [PY, "-c", "pass"], ""),
        ('python -c "import typer, rich"', "typer_rich", [PY, "-c", "import typer, rich"], ""),
        ("minimal Typer app: 1 command, 1 str argument", "typer_app",
         [PY, str(CACHE / "minimal_typer_app.py"), "check", "x"], ""),
        ("check spec_mnv1.yaml", "yaml", [*cli, "check", str(c / "spec_mnv1.yaml")], ""),
        ("check <one-liner fashion CNN>", "oneliner", [*cli, "check", ONE_LINER], ""),
        ("check mnv2_035_96.keras", "keras", [*cli, "check", str(c / "mnv2_035_96.keras")], ""),
        ("check mnv2_035_96.h5", "h5", [*cli, "check", str(c / "mnv2_035_96.h5")], ""),
        ("check mnv2_035_96.h5, board files parsed (no copies)", "h5_nocopy",
         [*cli, "check", str(c / "mnv2_035_96.h5")], ""),
        ("check resnet50_224.keras", "keras_big",
         [*cli, "check", str(c / "resnet50_224.keras")], ""),
        ("check mnv1_025_96_int8.tflite", "tflite",
         [*cli, "check", str(c / "mnv1_025_96_int8.tflite")], ""),
        ("check mnv2_100_224_f32.tflite", "tflite_big",
         [*cli, "check", str(c / "mnv2_100_224_f32.tflite")], ""),
    ]
    results: dict[str, Any] = {}
    rows = []
    checks = {key: "check" in cmd and key != "typer_app" for _, key, cmd, _ in cases}
    timings = timed_rounds({
        key: ([*cmd, "--board", BOARD, "-f", "json"] if checks[key] else cmd,
              (0, 1) if checks[key] else (0,), NO_COPIES if key.endswith("_nocopy") else {})
        for _, key, cmd, _ in cases}, n)
    for label, key, _, _ in cases:
        is_check = checks[key]
        r = timings[key]
        answer = ""
        if is_check:
            model = json.loads(r["proc"].stdout)["model"]
            r["params"], r["arena_bytes"] = model["params"], model["arena_bytes"]
            answer = f"{model['params']:,} params, arena {kib(model['arena_bytes'])}"
        del r["proc"]
        results[key] = r
        rows.append([label, ms(r["median"]), ms(r["min"]), ms(r["max"]), answer])
    print(table(rows, ["command (cnnaudit ... --board nano33 -f json)", "median", "min", "max",
                       "answer"]))
    print("(the warm-up round leaves JSON copies of the board profile and kernel families in "
          "the user's cache folder,\n as any earlier run does; 'no copies' points "
          "CNNAUDIT_CACHE_DIR at a folder that cannot exist, so PyYAML parses them each time)")
    return results


def cold_start_ratios(cold: dict[str, Any]) -> None:
    print()
    rows = []
    pass_, typer_rich = cold["pass"]["median"], cold["typer_rich"]["median"]
    for key in ("yaml", "oneliner", "keras", "h5", "h5_nocopy", "keras_big", "tflite",
                "tflite_big"):
        m = cold[key]["median"]
        rows.append([key, ms(m), f"{m / pass_:.1f}x", f"{m / typer_rich:.1f}x",
                     ms(m - typer_rich)])
    print(table(rows, ["format", "median", "/ python -c pass", "/ import typer,rich",
                       "above typer+rich"]))
    app = cold["typer_app"]["median"]
    print(f"\n(a minimal Typer app with one str argument takes {ms(app)}: typer "
          f"{metadata.version('typer')} parses arguments through pydantic)")


def cold_split(n: int) -> dict[str, Any]:
    section(f"Where a cold check spends its time (the CLI's steps timed one by one in a fresh "
            f"process, median of {n})")
    files = ("spec_mnv1.yaml", "mnv2_035_96.keras", "mnv2_035_96.h5", "resnet50_224.keras",
             "mnv1_025_96_int8.tflite", "mnv2_100_224_f32.tflite")
    per: dict[str, dict[str, list[float]]] = {}
    order: list[str] = []
    for name in files:
        per[name] = {}
        for _ in range(n):
            steps = bench_line(run([PY, WORKERS, "coldsplit", str(CACHE / name)]))["steps"]
            for step, seconds in steps:
                label = re.sub(r": (keras_file|tflite_file|yaml_spec).*", "", step)
                if label not in order:
                    order.append(label)
                per[name].setdefault(label, []).append(seconds)
    out = {name: {k: statistics.median(v) for k, v in steps.items()}
           for name, steps in per.items()}
    rows = [[label, *(ms(out[f][label]) if label in out[f] else "" for f in files)]
            for label in order]
    rows.append(["total (after the interpreter's own start)",
                 *(ms(sum(out[f].values())) for f in files)])
    short = ["spec yaml", "mnv2 .keras", "mnv2 .h5", "resnet50 .keras", "mnv1 int8",
             "mnv2 f32 .tflite"]
    print(table(rows, ["step", *short]))
    return out


# --------------------------------------------------------------------------- API rate


def spec_no_bn() -> dict[str, Any]:
    """The same network written with relu6 as each convolution's activation and no batch
    norm: 30 nodes (input, 27 convolutions, pooling, dense), the issue's "about 30 layers"."""
    spec = models.mobilenet_v1_spec()
    out: list[Any] = []
    for layer in spec["layers"]:
        if isinstance(layer, dict) and "batch_norm" in layer:
            continue
        if layer == "relu6":
            kind, args = next(iter(out[-1].items()))
            out[-1] = {kind: {**args, "activation": "relu6"}}
            continue
        out.append(layer)
    return {**spec, "name": "mobilenet_v1_025_96_nobn", "layers": out}


def rate(fn: Callable[[], Any], seconds: float, batches: int = 5) -> dict[str, float]:
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        fn()
        n += 1
    per_batch = max(1, int(n / (time.perf_counter() - t0) * seconds / batches))
    rates = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            fn()
        rates.append(per_batch / (time.perf_counter() - t0))
    return {"per_s": statistics.median(rates), "ms": 1e3 / statistics.median(rates),
            "calls": per_batch * batches}


def candidates(base: dict[str, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` distinct variants of a spec, as a search loop proposes them: every convolution's
    filters drawn from a few widths, the input size from a few resolutions."""
    import random

    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    while len(out) < n:
        layers = []
        for layer in base["layers"]:
            if isinstance(layer, dict) and "conv2d" in layer:
                args = dict(layer["conv2d"])
                args["filters"] = rng.choice((8, 16, 24, 32, 48, 64))
                layer = {"conv2d": args}
            layers.append(layer)
        side = rng.choice((64, 80, 96, 112))
        spec = {**base, "input": [side, side, base["input"][2]], "layers": layers}
        if repr(spec) not in seen:
            seen.add(repr(spec))
            out.append(spec)
    return out


def stream_rate(specs: list[dict[str, Any]], boards: list[Any]) -> dict[str, float]:
    """Each spec audited once, in order: no answer comes from the report cache."""
    import cnnaudit

    t0 = time.perf_counter()
    for spec in specs:
        cnnaudit.audit(spec, boards)
    per_s = len(specs) / (time.perf_counter() - t0)
    return {"per_s": per_s, "ms": 1e3 / per_s, "calls": len(specs)}


def api_rate(seconds: float) -> dict[str, Any]:
    import cnnaudit
    from cnnaudit import frontends

    section("Python API in a loop (one process, boards preloaded)")
    boards = cnnaudit.load_boards()
    nano = [boards[BOARD]]
    spec84 = models.mobilenet_v1_spec()
    spec29 = spec_no_bn()
    graph = frontends.load(spec84)
    graph29 = frontends.load(spec29)
    n84, n29 = (len(cnnaudit.audit(s, nano).layers) for s in (spec84, spec29))
    cases = [
        ("audit84", f"audit(spec dict, [Board]): MobileNetV1 spec, {n84} layers (BN+relu6), "
         "the same spec again (report cache)", lambda: cnnaudit.audit(spec84, nano)),
        ("audit29", f"audit(spec dict, [Board]): same net, {n29} layers (relu6 fused, no BN), "
         "the same spec again (report cache)", lambda: cnnaudit.audit(spec29, nano)),
        ("ids84", f"audit(spec dict, ['{BOARD}']): board ids, {n84} layers",
         lambda: cnnaudit.audit(spec84, [BOARD])),
        ("file84", f"audit('spec_mnv1.yaml', [Board]): {n84} layers, from the file",
         lambda: cnnaudit.audit(str(CACHE / "spec_mnv1.yaml"), nano)),
        ("frontend84", f"  of which frontends.load(spec dict), {n84} layers",
         lambda: frontends.load(spec84)),
        ("analyse84", f"analyse(graph, [Board]) (never cached), {n84} layers",
         lambda: cnnaudit.analyse(graph, nano)),
        ("analyse29", f"analyse(graph, [Board]) (never cached), {n29} layers",
         lambda: cnnaudit.analyse(graph29, nano)),
        ("pipeline29", f"analyse(frontends.load(spec dict), [Board]): audit() without its "
         f"report cache, {n29} layers", lambda: cnnaudit.analyse(frontends.load(spec29), nano)),
        ("load_boards", "load_boards() (17 YAML profiles)", cnnaudit.load_boards),
    ]
    out: dict[str, Any] = {"layers84": n84, "layers29": n29}
    rows = []
    for key, label, fn in cases:
        r = rate(fn, seconds)
        out[key] = r
        rows.append([label, f"{r['per_s']:,.0f}/s", f"{r['ms']:.2f} ms"])
    for key, base, n_layers in (("stream84", spec84, n84), ("stream29", spec29, n29)):
        # a search loop's first candidates meet new layers (cold per-layer memos); later
        # ones are new networks made of layers met before (warm), never a cached report
        first = max(600, int(300 * seconds))
        specs = candidates(base, first * 5)
        for suffix, part, what in (("", specs[:first], "the first"),
                                   ("_warm", specs[first:], "the next")):
            r = stream_rate(part, nano)
            out[key + suffix] = r
            rows.append([f"audit(spec dict, [Board]): {what} {len(part):,} distinct candidates "
                         f"of the {n_layers}-layer net, each once", f"{r['per_s']:,.0f}/s",
                         f"{r['ms']:.2f} ms"])
    print(table(rows, ["call", "rate", "per call"]))
    return out


def file_audits(n: int) -> dict[str, Any]:
    """In-process audit time of each file (imports already done): the frontend's own cost."""
    import cnnaudit

    section(f"In-process audit of each file (imports done, median of {n})")
    nano = [cnnaudit.load_boards()[BOARD]]
    rows, out = [], {}
    for name in ("spec_mnv1.yaml", "mnv2_035_96.keras", "mnv2_035_96.h5", "resnet50_224.keras",
                 "mnv1_025_96_int8.tflite", "mnv2_100_224_f32.tflite"):
        path = str(CACHE / name)
        cnnaudit.audit(path, nano)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            report = cnnaudit.audit(path, nano)
            times.append(time.perf_counter() - t0)
        out[name] = {"median": statistics.median(times), "layers": len(report.layers),
                     "file_bytes": (CACHE / name).stat().st_size}
        rows.append([name, mib(out[name]["file_bytes"]), len(report.layers),
                     ms(out[name]["median"])])
    print(table(rows, ["file", "size", "layers", "audit()"]))
    return out


# --------------------------------------------------------------------------- memory


def peak_memory(keras_rss: dict[str, int], tflm_rss: dict[str, int]) -> dict[str, Any]:
    section("Peak memory of one audit (fresh process each; imports done before measuring)")
    rows, out = [], {}
    for name in ("spec_mnv1.yaml", "mnv1_025_96_int8.tflite", "mnv2_035_96.keras",
                 "mnv2_035_96.h5", "mnv2_100_224_f32.tflite", "resnet50_224.keras"):
        path = str(CACHE / name)
        rss = bench_line(run([PY, WORKERS, "peakmem", path]))
        trace = bench_line(run([PY, WORKERS, "peakmem", path, "--trace"]))
        size = (CACHE / name).stat().st_size
        usual = keras_rss.get(name) or tflm_rss.get(name)
        out[name] = {"file_bytes": size, "nodes": rss["nodes"],
                     "maxrss_kib": rss["maxrss_kib"],
                     "audit_rss_kib": rss["maxrss_kib"] - rss["rss_before_audit_kib"],
                     "anon_added_kib": rss.get("anon_added_kib"),
                     "tracemalloc_peak": trace["tracemalloc_peak_bytes"],
                     "usual_maxrss_kib": usual}
        anon = rss.get("anon_added_kib")
        rows.append([name, mib(size), rss["nodes"], mib(rss["maxrss_kib"] * 1024),
                     mib(out[name]["audit_rss_kib"] * 1024),
                     "-" if anon is None else mib(anon * 1024),
                     mib(trace["tracemalloc_peak_bytes"]), mib(usual * 1024) if usual else "-"])
    print(table(rows, ["file", "size", "layers", "peak RSS", "peak RSS added by audit",
                       "heap kept after", "tracemalloc peak", "usual way peak RSS"]))
    print("(peak RSS counts the file pages the kernel maps in while a .tflite is memory-mapped;"
          "\n they are page cache, released when the map closes. 'heap kept after' is RssAnon"
          "\n after the audit minus before; tracemalloc peak is the Python heap's peak.\n"
          " Usual way: Keras load_model + summary for .keras, TFLM interpreter for .tflite.)")
    return out


# --------------------------------------------------------------------------- usual way


def keras_path(n: int) -> dict[str, Any]:
    """Keras load_model + summary, each run paired with a cold `cnnaudit check` of the same
    file right after it: the ratio then compares runs made under the same load (on a shared
    machine either one alone moves by 1.5x between minutes)."""
    section(f"The usual way, Keras: keras.saving.load_model(path) + model.summary(), "
            f"fresh process, median of {n}, each run followed by a cold cnnaudit check")
    rows, out = [], {}
    for name in ("mnv2_035_96.keras", "mnv2_035_96.h5", "resnet50_224.keras"):
        got = timed_rounds({
            "keras": ([PY, WORKERS, "keras-summary", str(CACHE / name)], (0,)),
            "cnnaudit": ([*cnnaudit_cmd(), "check", str(CACHE / name), "--board", BOARD,
                          "-f", "json"], (0, 1))}, n)
        r, c = got["keras"], got["cnnaudit"]
        b = bench_line(r.pop("proc"))
        r["params"], r["maxrss_kib"] = b.get("params"), b.get("maxrss_kib")
        r["cnnaudit_params"] = json.loads(c.pop("proc").stdout)["model"]["params"]
        r["cnnaudit"] = c
        out[name] = r
        rows.append([name, ms(r["median"]), ms(r["min"]), ms(r["max"]), f"{r['params']:,}",
                     mib(r["maxrss_kib"] * 1024), ms(c["median"]),
                     f"{r['median'] / c['median']:.1f}x"])
    print(table(rows, ["model", "median", "min", "max", "params", "peak RSS",
                       "cnnaudit (paired)", "ratio"]))
    return out


def arena_search(path: Path) -> tuple[int, int]:
    """Smallest arena (1 KiB resolution) the TFLM interpreter allocates the model in, found
    by bisection; one fresh process per probe (this runtime aborts when an interpreter is
    created after a failed allocation). Returns (bytes, probes)."""
    probes = 0

    def fits(size: int) -> bool:
        nonlocal probes
        probes += 1
        return bench_line(run([PY, WORKERS, "tflm-probe", str(path), str(size)]))["ok"]

    lo, hi = 0, max(10 * path.stat().st_size, 64 * 1024)  # the runtime's default guess
    while not fits(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1024:
        mid = (lo + hi) // 2 // 16 * 16
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi, probes


def tflm_path(n: int) -> dict[str, Any]:
    section(f"The usual way, TFLite Micro: convert, then find the arena; median of {n}")
    out: dict[str, Any] = {}
    tmp = CACHE / "tmp-convert-spec.tflite"
    r = timed([PY, WORKERS, "convert-spec", str(tmp)], n)
    r.pop("proc")
    out["convert_spec"] = r
    rows = [["convert the spec's network to int8 (build in Keras + TFLiteConverter)",
             ms(r["median"]), ms(r["min"]), ms(r["max"]), "", ""]]
    for name in ("spec_mnv1_int8.tflite", "mnv1_025_96_int8.tflite", "mnv2_100_224_f32.tflite"):
        path = CACHE / name
        times, found, probes = [], 0, 0
        for _ in range(n):
            t0 = time.perf_counter()
            found, probes = arena_search(path)
            times.append(time.perf_counter() - t0)
        rec = timed([PY, WORKERS, "tflm-record", str(path)], n)
        proc = rec.pop("proc")
        m = re.search(r"Arena allocation total (\d+) bytes", proc.stdout + proc.stderr)
        recorded = int(m.group(1)) if m else None
        rec["arena_bytes"], rec["maxrss_kib"] = recorded, bench_line(proc).get("maxrss_kib")
        search = {"median": statistics.median(times), "min": min(times), "max": max(times),
                  "runs": n, "arena_bytes": found, "probes": probes}
        out[name] = {"search": search, "record": rec}
        rows.append([f"{name}: arena bisection ({probes} probes, 1 KiB)", ms(search["median"]),
                     ms(search["min"]), ms(search["max"]), kib(found), ""])
        rows.append([f"{name}: one interpreter, RecordingMicroAllocator total",
                     ms(rec["median"]), ms(rec["min"]), ms(rec["max"]), kib(recorded),
                     mib(rec["maxrss_kib"] * 1024)])
    print(table(rows, ["step", "median", "min", "max", "arena (TFLM)", "peak RSS"]))
    print("(TFLM here is the x86-64 Python build: its persistent structures use 64-bit "
          "pointers, so its arena is a little larger than on a 32-bit MCU)")
    return out


# --------------------------------------------------------------------------- ratios, targets


def summary(res: dict[str, Any]) -> None:
    section("Ratios (usual way / cnnaudit, same machine, same run) and the issue's targets")
    cold, rows = res["cold"], []
    kp = res.get("keras")
    if kp:
        for name in ("mnv2_035_96.keras", "mnv2_035_96.h5", "resnet50_224.keras"):
            u, c = kp[name]["median"], kp[name]["cnnaudit"]["median"]
            same = "yes" if kp[name]["params"] == kp[name]["cnnaudit_params"] else "NO"
            rows.append([f"Keras load_model+summary vs cnnaudit check (paired): {name}",
                         ms(u), ms(c), f"{u / c:.1f}x", same])
    tp = res.get("tflm")
    if tp:
        conv = tp["convert_spec"]["median"]
        spec = tp["spec_mnv1_int8.tflite"]
        c = cold["yaml"]["median"]
        rows.append(["convert + TFLM arena bisection vs cnnaudit check spec_mnv1.yaml",
                     ms(conv + spec["search"]["median"]), ms(c),
                     f"{(conv + spec['search']['median']) / c:.1f}x", "arena"])
        rows.append(["convert + one TFLM interpreter vs cnnaudit check spec_mnv1.yaml",
                     ms(conv + spec["record"]["median"]), ms(c),
                     f"{(conv + spec['record']['median']) / c:.1f}x", "arena"])
        for name, key in (("mnv1_025_96_int8.tflite", "tflite"),
                          ("mnv2_100_224_f32.tflite", "tflite_big")):
            for how, label in (("search", "arena bisection"), ("record", "one interpreter")):
                u, c = tp[name][how]["median"], cold[key]["median"]
                rows.append([f"TFLM {label} vs cnnaudit check: {name}", ms(u), ms(c),
                             f"{u / c:.1f}x", "arena"])
    if rows:
        print(table(rows, ["comparison", "usual", "cnnaudit", "ratio", "same answer"]))
    if tp:
        print()
        arows = []
        for name, key in (("spec_mnv1_int8.tflite", "yaml"), ("mnv1_025_96_int8.tflite",
                                                              "tflite"),
                          ("mnv2_100_224_f32.tflite", "tflite_big")):
            got = cold[key]["arena_bytes"]
            ref = tp[name]["record"]["arena_bytes"] or tp[name]["search"]["arena_bytes"]
            src = "spec_mnv1.yaml" if key == "yaml" else name
            arows.append([f"{src} (TFLM measured on {name})", kib(got), kib(ref),
                          f"{(got - ref) / ref:+.1%}"])
        print(table(arows, ["arena", "cnnaudit", "TFLM", "difference"]))

    section("Targets")
    api = res["api"]
    fa = res["files"]
    checks = []
    if kp:
        worst = min(kp[n]["median"] / kp[n]["cnnaudit"]["median"] for n in (
            "mnv2_035_96.keras", "mnv2_035_96.h5", "resnet50_224.keras"))
        checks.append(("cnnaudit >= 20x faster than the Keras path (worst model, paired runs)",
                       f"{worst:.1f}x", worst >= 20))
    for n, key, how in (("layers84", "audit84", "same spec again"),
                        ("layers29", "audit29", "same spec again"),
                        ("layers29", "pipeline29", "same spec, no report cache"),
                        ("layers84", "stream84", "distinct candidates, the first"),
                        ("layers29", "stream29", "distinct candidates, the first"),
                        ("layers84", "stream84_warm", "distinct candidates, the next"),
                        ("layers29", "stream29_warm", "distinct candidates, the next")):
        checks.append((f"API >= 1,000 audits/s, {api[n]}-layer spec, {how}",
                       f"{api[key]['per_s']:,.0f}/s", api[key]["per_s"] >= 1000))
    for name, key in (("mnv2_100_224_f32.tflite", "tflite_big"),
                      ("resnet50_224.keras", "keras_big")):
        checks.append((f"{name} audited well under 1 s (cold CLI)",
                       ms(cold[key]["median"]), cold[key]["median"] < 0.5))
        checks.append((f"{name} audited well under 1 s (in-process audit())",
                       ms(fa[name]["median"]), fa[name]["median"] < 0.5))
    mem = res.get("memory", {})
    for name in ("mnv2_100_224_f32.tflite", "resnet50_224.keras"):
        if name in mem:
            m = mem[name]
            frac = m["tracemalloc_peak"] / m["file_bytes"]
            checks.append((f"{name}: audit's Python heap peak small against the file",
                           f"{mib(m['tracemalloc_peak'])} = {frac:.1%} of {mib(m['file_bytes'])}",
                           frac < 0.05))
    print(table([[c, v, "met" if ok else "MISSED"] for c, v, ok in checks],
                ["target", "measured", "status"]))
    print("('well under 1 s' is read as < 0.5 s; 'small' as < 5 % of the file)")


# --------------------------------------------------------------------------- profile


def hotspots(prof: cProfile.Profile | str, root: str, limit: int = 22,
             keep: tuple[str, ...] = ("/cnnaudit/",)) -> list[tuple[str, int, float, float]]:
    """(function, calls, cumulative seconds, share of `root`'s cumulative time), largest
    first, for the functions whose file matches `keep`."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    rows, total = [], None
    for (file, line, func), (_cc, nc, _tt, ct, _callers) in stats.items():
        if func == root and "/cnnaudit/" in file:
            total = ct if total is None else max(total, ct)
        if any(k in file for k in keep):
            short = file.split("/cnnaudit/", 1)[-1] if "/cnnaudit/" in file else Path(file).name
            rows.append((f"{short}:{line}({func})", nc, ct))
    total = total or max(r[2] for r in rows)
    rows.sort(key=lambda r: -r[2])
    return [(f, n, ct, ct / total) for f, n, ct in rows[:limit]]


def print_hotspots(title: str, rows: list[tuple[str, int, float, float]], per: int = 1
                   ) -> None:
    print(f"### {title}\n")
    print(table([[f, f"{n:,}", f"{ct / per * 1e3:.2f} ms", f"{share:.0%}"]
                 for f, n, ct, share in rows],
                ["function", "calls", "cumulative per audit", "share"]))
    print()


def profile() -> dict[str, Any]:
    import cnnaudit

    section("Profiles (cProfile: absolute times are inflated by the profiler; the shares are "
            "what count)")
    nano = [cnnaudit.load_boards()[BOARD]]
    spec = models.mobilenet_v1_spec()
    out: dict[str, Any] = {}

    cnnaudit.audit(spec, nano)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(200):
        cnnaudit.audit(spec, nano)
    prof.disable()
    out["api"] = hotspots(prof, "audit", 30)
    print_hotspots("audit(spec dict, [Board]) x 200, MobileNetV1 spec", out["api"], per=200)

    big = {"resnet50_224.keras": ("/cnnaudit/", "zipfile.py", "h5py/_hl/group.py"),
           "mnv2_035_96.keras": ("/cnnaudit/", "zipfile.py", "h5py/_hl/group.py"),
           "mnv2_100_224_f32.tflite": ("/cnnaudit/",)}
    for name, keep in big.items():
        prof = cProfile.Profile()
        prof.enable()
        cnnaudit.audit(str(CACHE / name), nano)
        prof.disable()
        out[name] = hotspots(prof, "audit", 14, keep)
        print_hotspots(f"audit('{name}', [Board]), imports done", out[name])

    cold = CACHE / "tmp-cold.prof"
    run([PY, "-m", "cProfile", "-o", str(cold), "-m", "cnnaudit", "check",
         str(CACHE / "spec_mnv1.yaml"), "--board", BOARD, "-f", "json"], ok=(0, 1))
    out["cold"] = hotspots(str(cold), "<module>", 16,
                           ("/cnnaudit/", "yaml/__init__.py", "typer/_adapters.py",
                            "typer/_coercion.py", "typer/main.py"))
    print_hotspots("cold: python -m cnnaudit check spec_mnv1.yaml --board nano33 -f json "
                   "(share of the whole run of cnnaudit/__main__.py)", out["cold"])
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="fresh processes per cnnaudit case")
    ap.add_argument("--usual-runs", type=int, default=5, help="runs per usual-way case")
    ap.add_argument("--seconds", type=float, default=2.0, help="time per API rate case")
    ap.add_argument("--quick", action="store_true", help="--runs 3 --usual-runs 1 --seconds 1")
    ap.add_argument("--skip-usual", action="store_true", help="skip Keras and TFLite Micro")
    ap.add_argument("--profile", action="store_true", help="print cProfile hotspots too")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    ap.add_argument("--no-bytecode", action="store_true",
                    help="do not compile cnnaudit's bytecode caches first")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.usual_runs, args.seconds = 3, 1, 1.0

    if not all((CACHE / f).exists() for f in models.FILES):
        print("building the models with TensorFlow (once) ...", file=sys.stderr, flush=True)
        run([PY, str(BENCH / "models.py"), str(CACHE)])

    if not args.no_bytecode:
        # As `pip install` does: every dependency here has its bytecode caches, and a
        # checkout whose environment sets PYTHONDONTWRITEBYTECODE would otherwise compile
        # all of cnnaudit in every fresh process.
        import compileall

        compileall.compile_dir(str(ROOT / "cnnaudit"), quiet=1)
    print("# cnnaudit benchmark (benchmarks/run.py)")
    caches = "not written" if args.no_bytecode else "written first, as pip install does"
    print(f"(cnnaudit's bytecode caches: {caches})")
    res: dict[str, Any] = {"machine": machine(), "args": {k: str(v) for k, v in
                                                          vars(args).items()}}
    print_machine(res["machine"])
    print("\nModels (benchmarks/.cache/):")
    for name, what in models.FILES.items():
        print(f"  {name:26s} {mib((CACHE / name).stat().st_size):>10}  {what}")
    print(f"  {'one-liner':26s} {'':>10}  {ONE_LINER}")

    res["cold"] = cold_start(args.runs)
    cold_start_ratios(res["cold"])
    res["cold_split"] = cold_split(max(3, args.runs // 2))
    res["api"] = api_rate(args.seconds)
    res["files"] = file_audits(args.runs)
    if not args.skip_usual:
        res["keras"] = keras_path(args.usual_runs)
        res["tflm"] = tflm_path(args.usual_runs)
    keras_rss = {k: v["maxrss_kib"] for k, v in res.get("keras", {}).items()}
    tflm_rss = {k: v["record"]["maxrss_kib"] for k, v in res.get("tflm", {}).items()
                if k.endswith(".tflite")}
    res["memory"] = peak_memory(keras_rss, tflm_rss)
    summary(res)
    res["machine"]["loadavg_end"] = os.getloadavg()
    load = res["machine"]["loadavg_end"]
    print(f"\nLoad average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.profile:
        res["profile"] = profile()
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
