"""`cardionets screen`: score many ECG files into a Parquet dataset, one row per input record.

Inputs are files (any supported format, detected from content), directories (walked recursively)
or manifests (.csv / .parquet with a `path` column). Each row holds the record id and path, the
predicted phenotypes (`phenotype.<name>`), disease probabilities (`prob.<name>`), quality flags,
the model version and `error` (null, or why the record could not be scored). Output: OUT/shards/
(atomic Parquet shards), OUT/summary.json, and OUT/screen.parquet with --merge.

Resumable: rerunning with the same --out skips every record already written, also after a crash
or SIGKILL. `--engine ray` runs the same stages on Ray Data (local Ray, or a cluster with
--ray-address / RAY_ADDRESS). See docs/screening.md.

Devices: --device auto (the default) runs the model on CUDA when a GPU is visible (64 records per
batch there). --precision tensorrt runs a TensorRT engine (--trt-engine FILE from `cardionets export
--format tensorrt`, or one built into OUT on first use for this model and GPU); --precision onnx uses
ONNX Runtime's TensorRT / CUDA execution providers on a GPU when the installed onnxruntime has them.
summary.json and the printed summary say which runtime ran.
"""
from __future__ import annotations

import argparse

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("screen", help="batch-screen ECG files/directories/manifests into Parquet (resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="ECG file, directory or manifest (.csv/.parquet)")
    p.add_argument("--model", required=True, help="fine-tuned run directory or a directory of runs")
    p.add_argument("--out", required=True, help="output directory (Parquet shards; rerun to resume)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local threads (default) or Ray Data (pip install 'cardionets[distributed]')")
    p.add_argument("--precision", choices=["fp32", "bf16", "int8", "onnx", "tensorrt"], default="fp32",
                   help="fp32 eager (default), bf16 autocast (CPU or CUDA), int8 dynamic quantisation of Linear "
                        "layers (CPU), ONNX Runtime (needs --onnx or exports one into OUT; CUDA / TensorRT "
                        "providers on a GPU), or a TensorRT engine (CUDA; --trt-engine or built into OUT)")
    p.add_argument("--onnx", default=None, help="exported model for --precision onnx (default: export to OUT/model.onnx)")
    p.add_argument("--trt-engine", default=None, metavar="FILE",
                   help="TensorRT engine for --precision tensorrt (default: OUT/model.engine, built on first use)")
    add_device_argument(p, extra_help="where the model runs")
    p.add_argument("--batch-size", type=int, default=None,
                   help="records per model batch (default: as many as keep one activation tensor in the L2 "
                        "caches of the model threads, e.g. 3 for tiny and 1 for base at 2 threads here; "
                        "see docs/screening.md)")
    p.add_argument("--shard-size", type=int, default=1024, help="rows per committed Parquet shard (default 1024)")
    p.add_argument("--readers", type=int, default=1, help="reader/preprocess threads (default 1)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--n-crops", type=int, default=3, help="evaluation crops per record (default 3)")
    p.add_argument("--merge", action="store_true", help="also write OUT/screen.parquet (all shards, one row per input)")
    p.add_argument("--limit", type=int, default=None, help="score at most this many new records (then stop)")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")
    p.add_argument("--ray-actors", type=int, default=1, help="model actors in the Ray actor pool (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..screen import screen

    onnx_path = args.onnx
    if args.precision == "onnx" and onnx_path is None:
        from ..export.onnx import export_onnx
        from ..screen import load_screen_model

        onnx_path = Path(args.out) / "model.onnx"
        if not onnx_path.exists():
            export_onnx(load_screen_model(args.model), onnx_path, n_crops=args.n_crops)
    s = screen(args.inputs, args.model, args.out, engine=args.engine, precision=args.precision,
               batch_size=args.batch_size, shard_size=args.shard_size, readers=args.readers, threads=args.threads,
               n_crops=args.n_crops, merge=args.merge, onnx_path=onnx_path, progress=not args.no_progress,
               limit=args.limit, ray_address=args.ray_address, ray_actors=args.ray_actors, device=args.device,
               engine_path=args.trt_engine)
    print(s.text())
    return 0
