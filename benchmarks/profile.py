"""``python -m benchmarks.profile [--conv] [--seeds 15] [--out DIR]``: where the nnjax epoch's time goes.

``--conv`` profiles the conv-AE workload instead (:mod:`benchmarks.conv_ae`: the epoch
``fit`` compiles, :func:`benchmarks.nnjax_conv.epoch_program`, variants ``alone``,
``vmap``, ``sequential``, ``chunks2`` at ``--seeds`` runs; 20 000 images by default).

Profiles the benchmark's own nnjax program (:func:`benchmarks.nnjax_mlp.build_program`,
the S-seed epoch the goal rows time) in two ways:

1. **Optimized HLO** (``compiled.as_text()``) of each variant (shared / per_seed order ×
   manual / autodiff backward): every ``dot``/``convolution`` XLA emits, with its operand
   and result shapes, contraction, FLOPs and whether it runs inside an XNNPACK/YNN
   ``__ynn_fusion`` or as a plain XLA dot; plus the fusion count (by kind), and the
   copies/transposes. Dots inside the 468-step ``while`` run once per training step.
2. **Trace** (``jax.profiler.trace(dir, create_perfetto_trace=True)``) of ``--epochs``
   epochs after a warm-up. ``perfetto_trace.json.gz`` is Chrome-trace JSON; on the CPU
   backend its complete (``ph: "X"``) events include one per executed thunk, named after
   its HLO instruction (``ynn_fusion.9``, ``dot.9``, ``multiply_add_fusion.15``, ...).
   Those are matched to the HLO and summed per instruction: total time, calls, share of
   all leaf-op time, the instruction's shape and the source line it came from (HLO
   stack-frame metadata). ``while``/``call``/``conditional`` thunks only contain others and
   are left out. If a backend emits no op-level events the summary says so.

Prints a Markdown summary and writes it, the HLO texts and the traces to ``--out``
(default: a new temporary directory; never ``benchmarks/results``). Timings are wall
seconds of whole epochs (median of ``--repeats``) measured in this process before tracing.
"""
from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import math
import os
import re
import statistics
import sys
import tempfile
from typing import NamedTuple, Optional

VARIANTS = ("shared", "shared_autodiff", "per_seed", "per_seed_autodiff")
CONV_VARIANTS = ("alone", "vmap", "sequential", "chunks2")   # benchmarks.nnjax_conv
CONTAINERS = ("while", "call", "conditional")

_COMP = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s*\(.*\{\s*$")
_INSTR = re.compile(r"^\s*(ROOT\s+)?%([\w.\-]+)\s*=\s*(.+?)\s+([\w\-]+)\((.*)$")
_SHAPE = re.compile(r"([a-z]+[0-9]*)\[([0-9,]*)\]")


# ------------------------------------------------------------------------ HLO parsing


class Instr(NamedTuple):
    name: str
    shape: str          # e.g. "f32[128,960]{1,0}" (tuple shapes kept as text)
    op: str
    rest: str           # the text after "op(" (operands, attributes)
    computation: str


def _dims(shape: str) -> tuple:
    m = _SHAPE.search(shape)
    return tuple(int(d) for d in m.group(2).split(",") if d) if m else ()


def _short_shape(shape: str) -> str:
    m = _SHAPE.search(shape)
    return f"{m.group(1)}[{m.group(2)}]" if m else shape[:40]


def _operands(rest: str) -> list:
    """Operand names of an instruction (the ``%names`` before the closing parenthesis)."""
    depth, out = 1, []
    for i, ch in enumerate(rest):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            out = re.findall(r"%([\w.\-]+)", rest[:i])
            break
    return out


def _attr(rest: str, key: str) -> Optional[str]:
    m = re.search(key + r"=\{([^}]*)\}", rest)
    return m.group(1) if m else None


class Hlo:
    """Instructions of an optimized HLO module, by name, with the fusion each fused
    computation belongs to and the source line (stack-frame metadata) of each."""

    def __init__(self, text: str):
        self.instrs: dict = {}
        comp = None
        for line in text.splitlines():
            m = _COMP.match(line)
            if m and "=" not in line.split("(")[0]:
                comp = m.group(2)
                continue
            m = _INSTR.match(line)
            if m and comp is not None:
                name = m.group(2)
                self.instrs[name] = Instr(name, m.group(3), m.group(4), m.group(5), comp)
        self.caller = {}  # fused/called computation -> the instruction that calls it
        for ins in self.instrs.values():
            for key in ("calls", "body", "to_apply"):
                m = re.search(key + r"=%([\w.\-]+)", ins.rest)
                if m:
                    self.caller.setdefault(m.group(1), ins)
        self._frames = self._stack_frames(text)

    # -- source lines ------------------------------------------------------------------
    @staticmethod
    def _stack_frames(text: str) -> dict:
        """stack_frame_id -> [innermost "file:line function", its callers ...]."""
        sections = {}
        cur = None
        for line in text.splitlines():
            if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
                cur = sections.setdefault(line, {})
                continue
            if cur is None:
                continue
            m = re.match(r"^(\d+) (.*)$", line)
            if not m:
                cur = None
                continue
            cur[int(m.group(1))] = m.group(2)
        files = {k: v.strip('"') for k, v in sections.get("FileNames", {}).items()}
        funcs = {k: v.strip('"') for k, v in sections.get("FunctionNames", {}).items()}
        locs = {}
        for k, v in sections.get("FileLocations", {}).items():
            f = re.search(r"file_name_id=(\d+)", v)
            fn = re.search(r"function_name_id=(\d+)", v)
            ln = re.search(r"\bline=(\d+)", v)
            if f and fn and ln:
                path = files.get(int(f.group(1)), "?")
                locs[k] = f"{path}:{ln.group(1)} {funcs.get(int(fn.group(1)), '?')}"
        frames = {}
        for k, v in sections.get("StackFrames", {}).items():
            loc = re.search(r"file_location_id=(\d+)", v)
            par = re.search(r"parent_frame_id=(\d+)", v)
            # the printed parent is one more than the parent's id (0: no parent)
            frames[k] = (locs.get(int(loc.group(1)), "?") if loc else "?",
                         int(par.group(1)) - 1 if par else 0)
        chains = {}
        for k in frames:
            chain, seen, cur_id = [], set(), k
            while cur_id in frames and cur_id not in seen:
                seen.add(cur_id)
                chain.append(frames[cur_id][0])
                cur_id = frames[cur_id][1]
            chains[k] = chain
        return chains

    def source(self, name: str, full: bool = False) -> str:
        """Innermost source line of an instruction (for a fusion: of its fused root), as
        ``dir/file.py:line function`` (``full``: the whole path)."""
        ins = self.instrs.get(name)
        if ins is None:
            return ""
        m = re.search(r"stack_frame_id=(\d+)", ins.rest)
        chain = self._frames.get(int(m.group(1)), []) if m else []
        if not chain:
            return ""
        return chain[0] if full else "/".join(chain[0].split("/")[-2:])

    def area(self, name: str) -> str:
        """Coarse origin of an instruction: Adam, Linear, loss, ReLU, batch gather, ...
        (under autodiff the transposed ops keep the forward's source line)."""
        src = self.source(name, full=True)
        for key, label in (("optax/", "optimizer (Adam)"), ("linear.py", "Linear"),
                           ("losses.py", "loss"), ("activations.py", "ReLU"),
                           ("epoch.py", "epoch (batch gather, scan)"),
                           ("nnjax_mlp.py", "epoch (order, loss)")):
            if key in src:
                return label
        op = self.instrs[name].op if name in self.instrs else ""
        return "layout copy" if name.startswith("copy") or op == "copy" else "other"

    # -- structure ---------------------------------------------------------------------
    def fusion_of(self, ins: Instr) -> Optional[Instr]:
        """The fusion instruction whose fused computation holds ``ins`` (or None)."""
        call = self.caller.get(ins.computation)
        return call if call is not None and call.op == "fusion" else None

    def trip_count(self, ins: Instr) -> int:
        """How often ``ins`` runs per call of the program: product of the known trip
        counts of the ``while`` loops around it (XLA's backend_config), 1 if none."""
        n, comp, seen = 1, ins.computation, set()
        while comp in self.caller and comp not in seen:
            seen.add(comp)
            call = self.caller[comp]
            if call.op == "while":
                m = re.search(r'"known_trip_count":\{"n":"(\d+)"\}', call.rest)
                n *= int(m.group(1)) if m else 1
            comp = call.computation
        return n

    def dots(self) -> list:
        out = []
        for ins in self.instrs.values():
            if ins.op not in ("dot", "convolution"):
                continue
            ops = _operands(ins.rest)
            shapes = [self.instrs[o].shape if o in self.instrs else "?" for o in ops]
            out_dims = _dims(ins.shape)
            lhs = _dims(shapes[0]) if shapes else ()
            contract = [int(c) for c in (_attr(ins.rest, "lhs_contracting_dims") or "").split(",")
                        if c]
            k = math.prod(lhs[c] for c in contract) if contract and lhs else 0
            fusion = self.fusion_of(ins)
            where = ins.name
            if fusion is not None:
                kind = "ynn" if "__ynn_fusion" in fusion.rest else "fusion"
                where = f"{fusion.name} ({kind})"
                ops_f = _operands(fusion.rest)
                # show the fusion's real operands (parameters inside are placeholders)
                shapes = [self.instrs[o].shape if o in self.instrs else "?" for o in ops_f]
            out.append({
                "thunk": fusion.name if fusion is not None else ins.name,
                "where": where,
                "out": _short_shape(ins.shape),
                "operands": [_short_shape(s) for s in shapes],
                "lhs_contract": _attr(ins.rest, "lhs_contracting_dims"),
                "rhs_contract": _attr(ins.rest, "rhs_contracting_dims"),
                "batch": _attr(ins.rest, "lhs_batch_dims"),
                "flops": 2 * math.prod(out_dims) * k,
                "per_call": self.trip_count(fusion if fusion is not None else ins),
                "source": self.source(ins.name),
            })
        return sorted(out, key=lambda d: (-d["per_call"], -d["flops"]))

    def fusion_counts(self) -> dict:
        c = collections.Counter()
        for ins in self.instrs.values():
            if ins.op == "fusion":
                m = re.search(r"kind=(\w+)", ins.rest)
                kind = m.group(1) if m else "?"
                if "__ynn_fusion" in ins.rest:
                    kind = "kCustom (ynn)"
                c[kind] += 1
        return dict(c)

    def copies(self, min_elements: int = 1024) -> list:
        """Layout changes inside ``while`` loops (the step loop, the shuffle's RNG loops):
        ``copy``/``transpose`` ops and fusions named after them, ≥ ``min_elements``."""
        return [ins for ins in self.instrs.values()
                if (ins.op in ("copy", "transpose")
                    or (ins.op == "fusion" and re.match(r"(copy|transpose)", ins.name)))
                and math.prod(_dims(ins.shape)) >= min_elements
                and self.fusion_of(ins) is None and self.trip_count(ins) > 1]


# ------------------------------------------------------------------------ trace parsing


def trace_ops(trace_dir: str, hlo: Hlo) -> tuple:
    """``(rows, total_us, n_events, n_threads)`` from the newest ``perfetto_trace.json.gz`` under
    ``trace_dir``: one row per HLO instruction that ran as a thunk (containers left out)."""
    files = sorted(glob.glob(os.path.join(trace_dir, "**", "perfetto_trace.json.gz"),
                             recursive=True), key=os.path.getmtime)
    if not files:
        raise FileNotFoundError(f"no perfetto_trace.json.gz under {trace_dir}")
    with gzip.open(files[-1], "rt") as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    dur, calls = collections.Counter(), collections.Counter()
    n, threads = 0, set()
    for e in events:
        if e.get("ph") != "X":
            continue
        n += 1
        name = e.get("name", "")
        ins = hlo.instrs.get(name)
        if ins is None or ins.op in CONTAINERS:
            continue
        dur[name] += float(e.get("dur", 0.0))
        calls[name] += 1
        threads.add(e.get("tid"))
    total = sum(dur.values())
    rows = [{"name": k, "us": v, "calls": calls[k], "share": v / total if total else 0.0,
             "shape": _short_shape(hlo.instrs[k].shape), "area": hlo.area(k),
             "source": hlo.source(k)} for k, v in dur.most_common()]
    return rows, total, n, len(threads)


# ------------------------------------------------------------------------ measuring


def profile_variant(variant: str, seeds: int, data, workload, out: str, repeats: int,
                    epochs: int, trace: bool) -> dict:
    import jax

    from benchmarks.common import timed
    from benchmarks.jax_plain import compile_program
    from benchmarks.nnjax_mlp import build_program

    if variant in CONV_VARIANTS:
        from benchmarks import conv_ae, nnjax_conv
        seeds = 1 if variant == "alone" else seeds
        data = data._replace(x=conv_ae.images(data.x), y=data.y[:min(len(data.y),
                                                                      conv_ae.N_IMAGES)])
        program = nnjax_conv.epoch_program(data.x, seeds, variant)
    else:
        program = build_program(workload, seeds, variant)
    compiled, x, y, _, _ = compile_program(program, data)   # as the benchmark times it
    text = compiled.as_text()
    with open(os.path.join(out, f"{variant}_S{seeds}.hlo.txt"), "w") as f:
        f.write(text)
    hlo = Hlo(text)
    res = {"variant": variant, "seeds": seeds, "dots": hlo.dots(),
           "fusions": hlo.fusion_counts(),
           "copies": [(c.name, _short_shape(c.shape), c.computation) for c in hlo.copies()]}

    def epochs_timed(carry, n):
        seconds = []
        for _ in range(n):
            t, (carry, _) = timed(lambda: jax.block_until_ready(compiled(carry, x, y)))
            seconds.append(t)
        return carry, seconds

    carry, _ = epochs_timed(program.carry, 1)                # warm-up
    carry, res["epoch_s"] = epochs_timed(carry, repeats)
    if trace:
        tdir = os.path.join(out, f"trace_{variant}_S{seeds}")
        with jax.profiler.trace(tdir, create_perfetto_trace=True):
            carry, traced = epochs_timed(carry, epochs)
        res["traced_wall_s"] = sum(traced)
        res["trace_dir"] = tdir
        res["ops"], res["op_total_us"], res["n_events"], res["op_threads"] = trace_ops(tdir,
                                                                                     hlo)
        res["traced_epochs"] = epochs
    return res


# ------------------------------------------------------------------------ report


def _fmt_flops(f: float) -> str:
    return f"{f / 1e6:.1f} M" if f < 1e9 else f"{f / 1e9:.2f} G"


def markdown(results: list, workload, top: int, source: str) -> str:
    what = (f"Workload {'-'.join(map(str, workload.sizes))}, batch {workload.batch}, "
            f"{workload.n_batches} steps per epoch")
    if results and results[0]["variant"] in CONV_VARIANTS:
        from benchmarks import conv_ae
        n = min(workload.n_images, conv_ae.N_IMAGES)
        what = (f"Workload: conv AE (benchmarks.conv_ae), {n} images, batch "
                f"{conv_ae.batch_size(n)}, {n // conv_ae.batch_size(n)} steps per epoch")
    lines = ["# nnjax epoch profile (`python -m benchmarks.profile`)", "",
             f"{what}; data: {source}.", ""]
    lines += ["| variant | S | median epoch s | s per seed-epoch | fusions | dots per step |"
              " dot GFLOP per step |", "|---|---|---|---|---|---|---|"]
    for r in results:
        med = statistics.median(r["epoch_s"]) if r["epoch_s"] else float("nan")
        step = [d for d in r["dots"] if d["per_call"] > 1]
        lines.append(f"| {r['variant']} | {r['seeds']} | {med:.3f} | {med / r['seeds']:.4f} | "
                     f"{sum(r['fusions'].values())} | {len(step)} | "
                     f"{sum(d['flops'] for d in step) / 1e9:.3f} |")
    for r in results:
        lines += ["", f"## {r['variant']}, S={r['seeds']}", "",
                  "Fusions by kind: " + ", ".join(f"{k} {v}" for k, v in
                                                  sorted(r["fusions"].items())) + ".", "",
                  "Dots/convolutions (×N: runs N times per epoch call):", "",
                  "| runs as | × | result | operands | contract (lhs; rhs) | batch | FLOPs |"
                  " source |", "|---|---|---|---|---|---|---|---|"]
        for d in r["dots"]:
            lines.append(f"| {d['where']} | {d['per_call']} | {d['out']} | "
                         f"{' · '.join(d['operands'])} | {d['lhs_contract']}; "
                         f"{d['rhs_contract']} | {d['batch'] or '–'} | "
                         f"{_fmt_flops(d['flops'])} | {d['source']} |")
        lines += ["", "Relayouts inside while loops (copy/transpose, ≥ 1024 elements; the "
                  "f32 ones run every step): " + (
                      ", ".join(f"{n} {s}" for n, s, _ in r["copies"]) or "none") + "."]
        if "ops" not in r:
            continue
        per_epoch = r["traced_wall_s"] / r["traced_epochs"]
        lines += ["", f"Trace: {r['traced_epochs']} epochs, {per_epoch:.3f} s per epoch "
                  f"while tracing; {r['n_events']} complete events; leaf-op (thunk) time "
                  f"{r['op_total_us'] / 1e6 / r['traced_epochs']:.3f} s per epoch, on "
                  f"{r.get('op_threads', '?')} thread(s) (the rest of the wall time: the "
                  f"thunk executor between ops, loop control, tracing)."]
        if not r["ops"]:
            lines += ["", "No op-level events in the trace (only runtime/Python events): "
                      "use a timing ablation instead."]
            continue
        areas = collections.Counter()
        for o in r["ops"]:
            areas[o["area"]] += o["us"]
        lines += ["", "By origin: " + ", ".join(
            f"{a} {100 * t / r['op_total_us']:.1f}%" for a, t in areas.most_common()) + ".",
            "", "| op | calls | ms per epoch | share | result | source |",
            "|---|---|---|---|---|---|"]
        for o in r["ops"][:top]:
            lines.append(f"| {o['name']} | {o['calls']} | "
                         f"{o['us'] / 1e3 / r['traced_epochs']:.1f} | "
                         f"{100 * o['share']:.1f}% | {o['shape']} | {o['source']} |")
    return "\n".join(lines) + "\n"


def parse(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile",
                                description=__doc__.split("\n\n")[1])
    p.add_argument("--seeds", type=int, default=None, help="runs (default 15; --conv 4)")
    p.add_argument("--conv", action="store_true",
                   help="profile the conv-AE workload (variants: " + ", ".join(CONV_VARIANTS)
                   + "; default --seeds 4, --n-images 20000)")
    p.add_argument("--variants", default=None,
                   help=f"comma-separated subset of {', '.join(VARIANTS)} (MLP) or of the"
                        " conv variants (--conv)")
    p.add_argument("--trace", default="all",
                   help="variants to trace: all, none, or a comma-separated subset")
    p.add_argument("--epochs", type=int, default=2, help="epochs inside each trace")
    p.add_argument("--repeats", type=int, default=3, help="timed epochs before tracing")
    p.add_argument("--n-images", type=int, default=None,
                   help="images (default 60 000; --conv 20 000)")
    p.add_argument("--data", choices=("auto", "mnist", "random"), default="auto")
    p.add_argument("--top", type=int, default=20, help="ops listed per traced variant")
    p.add_argument("--out", default=None, help="output directory (default: a temp dir)")
    return p.parse_args(argv)


def main(argv=None) -> str:
    args = parse(sys.argv[1:] if argv is None else argv)
    from benchmarks.common import Workload, load_data

    if args.seeds is None:
        args.seeds = 4 if args.conv else 15
    if args.n_images is None:
        args.n_images = 20_000 if args.conv else 60_000
    known = CONV_VARIANTS if args.conv else VARIANTS
    variants = [v.strip() for v in (args.variants or ",".join(known)).split(",") if v.strip()]
    if any(v not in known for v in variants):
        raise SystemExit(f"unknown variant(s) {[v for v in variants if v not in known]};"
                         f" choose from {', '.join(known)}")
    traced = (set() if args.trace == "none" else set(variants) if args.trace == "all"
              else {v.strip() for v in args.trace.split(",")})
    out = args.out or tempfile.mkdtemp(prefix="nnjax-profile-")
    if os.path.abspath(out).startswith(os.path.abspath(os.path.join("benchmarks", "results"))):
        raise SystemExit("write profiles elsewhere than benchmarks/results")
    os.makedirs(out, exist_ok=True)
    workload = Workload(n_images=args.n_images)
    data = load_data(args.n_images, args.data)
    results = []
    for v in variants:
        print(f"profiling {v} (S={args.seeds}) ...", file=sys.stderr, flush=True)
        results.append(profile_variant(v, args.seeds, data, workload, out, args.repeats,
                                       args.epochs, v in traced))
    text = markdown(results, workload, args.top, data.source.split(" (")[0])
    path = os.path.join(out, "profile.md")
    with open(path, "w") as f:
        f.write(text)
    with open(os.path.join(out, "profile.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    print(text)
    print(f"wrote {path}", file=sys.stderr)
    return path


if __name__ == "__main__":
    main()
