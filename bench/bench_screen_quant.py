"""Metric change of the screening precisions on a synthetic test split.

    python -m bench.bench_screen_quant --run RUN --cohort COHORT [--threads 2]

RUN is a `cardionets finetune --task phenotypes` run on COHORT (a `cardionets synth` cohort); its
test_predictions.npz names the held-out test subjects. Their ECGs are screened with every precision
(fp32, bf16, int8 dynamic, ONNX Runtime) and R^2 per phenotype against the cohort's ground truth is
compared with fp32's. ``--device cuda``: fp32, bf16, ONNX Runtime (CUDA providers) and a TensorRT
engine on the GPU. Results: bench/results/screen_quant.{md,json} (screen_quant_cuda.* on a GPU).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from .harness import add_device_flag, bench_device


def r2(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    ss_res = np.nansum((y - pred) ** 2, axis=0)
    ss_tot = np.nansum((y - np.nanmean(y, axis=0)) ** 2, axis=0)
    return 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--cohort", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"), help="results folder")
    add_device_flag(ap)
    args = ap.parse_args(argv)
    device = bench_device(args.device)
    import pandas as pd
    import torch

    from cardionets.dsp import preprocess_ecg
    from cardionets.export.onnx import export_onnx
    from cardionets.io import read_ecg
    from cardionets.run_record import read_run
    from cardionets.screen.model import load_screen_model, make_runner

    torch.set_num_threads(args.threads)
    cohort, run = Path(args.cohort), Path(args.run)
    from cardionets.data import Cohort

    # test_predictions.npz holds positions *within the test split*; the split itself is rebuilt from the
    # run's seed, exactly as training did, and maps them to cohort rows (using the positions directly as
    # cohort rows would score the first subjects of the cohort, mostly training subjects).
    seed = int(read_run(run).config["seed"])
    pos = np.load(run / "test_predictions.npz")["index"]
    rows = np.asarray(Cohort(cohort).datasets("ecg", seed=seed)["test"].indices)[pos]
    subjects = pd.read_parquet(cohort / "subjects.parquet")
    phen = pd.read_parquet(cohort / "phenotypes.parquet").set_index("subject_id")
    test = subjects.iloc[rows]
    model = load_screen_model(run)
    x = np.stack([preprocess_ecg(read_ecg(cohort / p), spec=model.spec).signal for p in test["ecg_path"]]).astype(np.float32)
    y = phen.loc[test["subject_id"], model.phenotype_names].to_numpy(np.float64)
    work = Path(tempfile.mkdtemp())
    onnx_path = export_onnx(model, work / "m.onnx")
    engine = None
    if device.type == "cuda":
        from cardionets.screen.engines import engine_for

        engine = engine_for(model, work, device)
    res = {}
    for prec in ("fp32", "bf16", "onnx", "tensorrt") if engine else ("fp32", "bf16", "int8", "onnx"):
        p, _ = make_runner(model, prec, onnx_path=onnx_path, threads=args.threads, device=device, engine_path=engine)(x)
        scores = r2(p.astype(np.float64), y)
        res[prec] = {"r2_mean": float(np.nanmean(scores)), "r2_per_phenotype": scores.tolist()}
    base = res["fp32"]["r2_mean"]
    lines = [f"# screening precisions on the synthetic test split ({len(test)} subjects, run {run.name})", "",
             "| precision | mean R^2 (82 phenotypes) | change vs fp32 | max per-phenotype change |", "|---|---|---|---|"]
    for prec, v in res.items():
        d = np.nanmax(np.abs(np.asarray(v["r2_per_phenotype"]) - np.asarray(res["fp32"]["r2_per_phenotype"])))
        lines.append(f"| {prec} | {v['r2_mean']:.4f} | {v['r2_mean'] - base:+.4f} | {d:.4f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "screen_quant" if device.type == "cpu" else f"screen_quant_{device.type}"
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    (out / f"{name}.json").write_text(json.dumps({"n_test": int(len(test)), "device": str(device), "results": res},
                                                 indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
