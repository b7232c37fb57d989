"""Screening throughput: `cardionets screen` end to end vs a plain baseline pipeline, tiny and base models.

    python -m bench.bench_screen [--records 2000] [--base-records 48] [--baseline-records 40] [--threads 2]

* cohort: ``cardionets synth`` subjects (``--subjects``, default 200), their WFDB ECGs hard-linked
  into copies until there are ``--records`` record files (synth writes a cine per subject too, which
  would dominate the set-up time; every copy is still read and preprocessed from its own file).
* models: untrained screening models (phenotypes + diseases runs, each with its own encoder, as
  ``cardionets finetune`` produces) of the tiny and base encoder presets.
* ours: :func:`cardionets.screen.screen` (native reader + native preprocessing on a reader thread,
  batched fp32 inference, Parquet shards) -- records/s, wall time, read+preprocess vs model time.
* baseline, same run, same records: ``wfdb.rdrecord`` + scipy (``resample_poly``, ``sosfiltfilt``)
  + eager fp32 PyTorch at batch 1.
* the encoders' achieved GFLOP/s (analytic FLOPs of every encoder forward / model time) as a
  fraction of this machine's measured fp32 GEMM peak (bench/machine.py) at the same thread count.
* model-only time per precision (fp32, bf16 autocast, int8 dynamic, ONNX Runtime) on one batch,
  and the int8 / bf16 output deviation from fp32 on the cohort's records.

``--device cuda`` runs the models (screen, precisions, sweep, baseline model) on the GPU; the
precisions there are fp32, bf16, ONNX Runtime (CUDA providers when present) and a TensorRT engine
built for the GPU (int8 dynamic quantisation is CPU-only).

Results: bench/results/screen.{md,json} (screen_cuda.* on a GPU). Figures depend on the machine's
load; say so when quoting.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .harness import add_device_flag, bench_device


def encoder_flops_per_crop(cfg) -> float:
    """Multiply-adds x 2 of one ECG encoder forward on one 12-lead crop."""
    D, L, P = cfg.width, 12 * (cfg.num_patches + 2), cfg.patch_size
    H = int(D * cfg.mlp_ratio)
    per_block = 2 * L * (4 * D * D + 2 * D * H) + 2 * 2 * L * L * D  # qkv+proj, mlp, QK^T and AV
    return float(cfg.depth * per_block + 2 * 12 * cfg.num_patches * P * D)


def make_cohort(root: Path, subjects: int, records: int) -> Path:
    from cardionets.data.synth import write_cohort

    src = root / "synth"
    if not (src / "ecg").exists():
        write_cohort(src, n=subjects, seed=0, preset="ukb", workers=2, progress=False)
    heas = sorted((src / "ecg").glob("*.hea"))
    out = root / "records"
    k = 0
    while k * len(heas) < records:
        d = out / f"copy{k:03d}"
        d.mkdir(parents=True, exist_ok=True)
        for h in heas[: records - k * len(heas)]:
            for f in (h, h.with_suffix(".dat")):
                if not (d / f.name).exists():
                    os.link(f, d / f.name)
        k += 1
    return out


def baseline(paths: list[Path], model, n_crops: int = 3, device=None) -> float:
    """records/s of wfdb.rdrecord + plain scipy filters + eager fp32 PyTorch at batch 1, with the
    model's preprocessing spec (rate, filters, crops, standardisation) written out in scipy calls."""
    import torch
    import wfdb
    from scipy import signal

    spec = model.spec.with_(n_crops=n_crops)
    L = spec.crop_len
    hp = signal.butter(spec.order, spec.highpass_hz, btype="highpass", fs=spec.fs, output="sos")
    lp = signal.butter(spec.order, spec.lowpass_hz, btype="lowpass", fs=spec.fs, output="sos")
    t0 = time.perf_counter()
    for p in paths:
        rec = wfdb.rdrecord(str(p.with_suffix("")))
        x = rec.p_signal.T.astype(np.float64)  # [12, T] mV
        up, down = int(spec.fs), int(rec.fs)
        g = np.gcd(up, down)
        x = signal.resample_poly(x, up // g, down // g, axis=-1)
        x = signal.sosfiltfilt(lp, signal.sosfiltfilt(hp, x, axis=-1), axis=-1)
        starts = np.round(np.linspace(0, x.shape[-1] - L, spec.n_crops)).astype(int)
        crops = np.stack([x[:, s:s + L] for s in starts])
        axes = (2,) if spec.per_lead else (1, 2)
        crops = (crops - crops.mean(axis=axes, keepdims=True)) / crops.std(axis=axes, keepdims=True)
        with torch.no_grad():
            phen, prob = model(torch.as_tensor(crops[None], dtype=torch.float32).to(device))
            phen.float().cpu(), prob.float().cpu()
    return len(paths) / (time.perf_counter() - t0)


def precision_times(model, x: np.ndarray, onnx_path: Path, threads: int, device=None, work: Path | None = None) -> dict:
    from cardionets.screen.model import make_runner

    out = {}
    ref = None
    cuda = device is not None and device.type == "cuda"
    engine = None
    if cuda:
        from cardionets.screen.engines import engine_for

        engine = engine_for(model, work, device, spec=model.spec.with_(n_crops=x.shape[1]))
    for prec in ("fp32", "bf16", "onnx", "tensorrt") if cuda else ("fp32", "bf16", "int8", "onnx"):
        run = make_runner(model, prec, onnx_path=onnx_path, threads=threads, device=device, engine_path=engine)
        run(x[:2])  # warm-up
        t0 = time.perf_counter()
        p, d = run(x)
        dt = time.perf_counter() - t0
        if ref is None:
            ref = (p, d)
        out[prec] = {"s_per_record": dt / len(x),
                     "max_abs_prob_diff_vs_fp32": float(np.abs(d - ref[1]).max()),
                     "max_rel_phenotype_diff_vs_fp32": float(np.abs(p - ref[0]).max() / np.abs(ref[0]).max())}
    return out


def batch_sweep(model, x: np.ndarray, batches: list[int], min_s: float = 2.0, device=None) -> dict:
    """Model-only fp32 seconds per record at each batch size (x: [n, crops, 12, 2250], n >= max batch)."""
    from cardionets.screen.model import make_runner

    run = make_runner(model, "fp32", device=device)
    out = {}
    for b in batches:
        run(x[:b])  # warm-up (allocator, thread pool)
        t0, n = time.perf_counter(), 0
        while n == 0 or time.perf_counter() - t0 < min_s:
            run(x[:b])
            n += b
        out[str(b)] = (time.perf_counter() - t0) / n
    return out


def run_size(size: str, records: Path, n_records: int, n_baseline: int, threads: int, work: Path, peak: float,
             progress: bool = False, batch_size: int | None = None, device=None) -> dict:
    import torch

    from cardionets.export.onnx import export_onnx
    from cardionets.screen import expand_inputs, load_screen_model, screen
    from cardionets.screen.records import load_chunk
    from cardionets.screen.untrained import write_untrained_model

    torch.set_num_threads(threads)
    mdir = write_untrained_model(work / f"model_{size}", size)
    model = load_screen_model(mdir)
    items = expand_inputs([records])[:n_records]
    manifest = work / f"manifest_{size}.csv"
    import pandas as pd

    pd.DataFrame({"path": [i.path for i in items], "record_id": [i.record_id for i in items]}).to_csv(manifest, index=False)
    out = work / f"out_{size}"
    if out.exists():
        shutil.rmtree(out)  # a rerun in the same --work measures every record again (screen would resume)
    s = screen([manifest], mdir, out, threads=threads, batch_size=batch_size, progress=progress, device=device)
    # read + preprocess alone on the same records (one thread, as in the pipeline's reader)
    sub = items[: min(len(items), 200)]
    t0 = time.perf_counter()
    loaded = load_chunk(sub, threads=1)
    rp_per_rec = (time.perf_counter() - t0) / len(sub)
    model_per_rec = s.model_s / max(s.processed, 1)
    flops_rec = encoder_flops_per_crop(model.phen.encoder.cfg) * 3 * (1 + len(model.dis))
    x = np.stack([l.crops for l in loaded[: 16 if size == "tiny" else 2]])
    onnx_path = export_onnx(model, work / f"model_{size}.onnx")
    prec = precision_times(model, x, onnx_path, threads, device, work)
    batches = [1, 2, 4, 8, 16] if size == "tiny" else [1, 2, 4]
    xs = np.stack([loaded[i % len(loaded)].crops for i in range(max(batches))])
    sweep = batch_sweep(model, xs, batches, device=device)
    base_paths = [Path(i.path) for i in items[:n_baseline]]
    base_rps = baseline(base_paths, model, device=device)
    return {
        "size": size, "records": s.processed, "threads": threads, "batch_size": s.batch_size, "wall_s": s.wall_s,
        "records_per_s": s.records_per_s, "baseline_records": len(base_paths), "baseline_records_per_s": base_rps,
        "speedup_vs_baseline": s.records_per_s / base_rps,
        "read_preprocess_s_per_record": rp_per_rec, "model_s_per_record": model_per_rec,
        "read_preprocess_share": rp_per_rec / (rp_per_rec + model_per_rec),
        "pipeline_reader_busy_s": s.read_preprocess_s, "pipeline_model_s": s.model_s,
        "encoder_gflop_per_record": flops_rec / 1e9, "encoder_gflops": flops_rec * s.processed / s.model_s / 1e9,
        "gemm_peak_gflops": peak, "fraction_of_peak": flops_rec * s.processed / s.model_s / 1e9 / peak,
        "precisions": prec, "batch_sweep_s_per_record": sweep,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=2000, help="records screened with the tiny model")
    ap.add_argument("--base-records", type=int, default=48, help="records screened with the base model")
    ap.add_argument("--baseline-records", type=int, default=40, help="records through the baseline pipeline")
    ap.add_argument("--subjects", type=int, default=200, help="synthetic subjects behind the records")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="results folder")
    ap.add_argument("--work", default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--sizes", default="tiny,base")
    ap.add_argument("--batch-size", type=int, default=None,
                    help="records per model batch (default: the screen's L2-sized choice, cardionets.screen.batching)")
    ap.add_argument("--progress", action="store_true", help="show the screen's progress bar (records/s, ETA) on stderr")
    add_device_flag(ap)
    args = ap.parse_args(argv)
    from bench.machine import gemm_gflops, gpu_peaks

    device = bench_device(args.device)

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_screen_"))
    work.mkdir(parents=True, exist_ok=True)
    records = make_cohort(work, args.subjects, max(args.records, args.base_records))
    peak = gpu_peaks(device)["gemm_fp32_gflops"] if device.type == "cuda" else gemm_gflops("float32", threads=args.threads)
    load = os.getloadavg()[0]
    results = []
    for size in args.sizes.split(","):
        n = args.records if size == "tiny" else args.base_records
        nb = args.baseline_records if size == "tiny" else max(2, args.baseline_records // 10)
        r = run_size(size, records, n, nb, args.threads, work, peak, progress=args.progress, batch_size=args.batch_size,
                     device=device)
        results.append(r)
        print(json.dumps(r, indent=1))
    lines = [f"# bench_screen ({args.threads} threads, device {device}, load average {load:.1f} at start; shared machine)", "",
             "| model | records | batch | records/s | baseline records/s | speed-up | read+preprocess share | "
             "encoder GFLOP/s | of fp32 GEMM peak |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['size']} | {r['records']} | {r.get('batch_size', 16)} | {r['records_per_s']:.2f} | "
                     f"{r['baseline_records_per_s']:.2f} | {r['speedup_vs_baseline']:.1f}x | {100 * r['read_preprocess_share']:.2f}% | "
                     f"{r['encoder_gflops']:.1f} | {100 * r['fraction_of_peak']:.0f}% of {r['gemm_peak_gflops']:.0f} |")
    lines += ["", "| model | precision | ms/record (model only; batch 16 tiny, 2 base) | max abs prob diff vs fp32 | "
              "max rel phenotype diff |", "|---|---|---|---|---|"]
    for r in results:
        for p, v in r["precisions"].items():
            lines.append(f"| {r['size']} | {p} | {1e3 * v['s_per_record']:.1f} | {v['max_abs_prob_diff_vs_fp32']:.2e} | "
                         f"{v['max_rel_phenotype_diff_vs_fp32']:.2e} |")
    cols = sorted({b for r in results for b in r["batch_sweep_s_per_record"]}, key=int)  # the swept batches
    lines += ["", "| model | " + " | ".join(f"batch {b}" for b in cols) + " |", "|---|" + "---|" * len(cols)]
    for r in results:
        sw = r["batch_sweep_s_per_record"]
        lines.append(f"| {r['size']} ms/record (model only, fp32) | "
                     + " | ".join(f"{1e3 * sw[b]:.1f}" if b in sw else "-" for b in cols) + " |")
    res = Path(args.out)
    res.mkdir(parents=True, exist_ok=True)
    name = "screen" if device.type == "cpu" else f"screen_{device.type}"
    (res / f"{name}.md").write_text("\n".join(lines) + "\n")
    (res / f"{name}.json").write_text(json.dumps({"load_average": load, "device": str(device), "results": results},
                                                 indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
