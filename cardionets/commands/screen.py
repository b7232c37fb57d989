"""`cardionets screen`: score many ECG files into a Parquet dataset, one row per input file.

Inputs are files (any supported format, detected from content), directories (walked recursively;
hidden entries and the output directory are skipped, signal files belong to their WFDB header's row)
or manifests (.csv / .parquet with a `path` column). Each row holds the record id and path, the
predicted phenotypes (`phenotype.<name>`), disease probabilities (`prob.<name>`), quality flags,
the model version, the precision and `error` (null, or why the record could not be scored).
Output: OUT/shards/ (atomic Parquet shards), OUT/run.json (the run manifest), OUT/summary.json,
and OUT/screen.parquet with --merge.

--model is a run directory, a directory of runs with one run per task (several runs for one task
are refused: name the runs you mean), or several run directories; the run serving each task is
printed. --preprocess-only reads and preprocesses without a model (quality rows).

Resumable: rerunning with the same --out skips every record already written, also after a crash
or SIGKILL; a damaged shard is quarantined and its records redone. A rerun with another model,
precision, engine or preprocessing is refused (it would mix results), and so is a second run on an
--out another run is writing. `--engine ray` runs the same stages on Ray Data (local Ray, or a
cluster with --ray-address / RAY_ADDRESS). Exit status: 0 when every record was scored, 1 when some
records got an error row (the summary counts them by reason), 2 when the run was refused.
See docs/screening.md.

Devices: --device auto (the default) runs the model on CUDA when a GPU is visible (64 records per
batch there). --precision tensorrt runs a TensorRT engine (--trt-engine FILE from `cardionets export
--format tensorrt`, or one built into OUT on first use for this model and GPU); --precision onnx uses
ONNX Runtime's TensorRT / CUDA execution providers on a GPU when the installed onnxruntime has them.
summary.json and the printed summary say which runtime ran.
"""
from __future__ import annotations

import argparse
import logging

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("screen", help="batch-screen ECG files/directories/manifests into Parquet (resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="ECG file, directory or manifest (.csv/.parquet)")
    p.add_argument("--model", nargs="+", default=None, metavar="RUN",
                   help="fine-tuned run directory, a directory of runs (one per task), or several run directories")
    p.add_argument("--preprocess-only", action="store_true",
                   help="no model: read and preprocess every input, rows with quality flags and errors only")
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
    p.add_argument("--n-crops", type=int, default=None,
                   help="evaluation crops per record (default: the model's preprocessing spec, 3)")
    p.add_argument("--merge", action="store_true", help="also write OUT/screen.parquet (all shards, one row per input)")
    p.add_argument("--limit", type=int, default=None, help="score at most this many new records (then stop)")
    p.add_argument("--include-hidden", action="store_true",
                   help="also screen hidden files and directories (names starting with '.') of input folders")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: RAY_ADDRESS or a local Ray)")
    p.add_argument("--ray-actors", type=int, default=1, help="model actors in the Ray actor pool (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..screen import screen

    if logging.getLogger("cardionets.screen").getEffectiveLevel() > logging.INFO:
        logging.getLogger("cardionets.screen").setLevel(logging.INFO)  # the model choice, quarantines, ...
    if bool(args.model) == bool(args.preprocess_only):
        raise InputError("give either --model RUN... or --preprocess-only")
    model = None if args.preprocess_only else (args.model[0] if len(args.model) == 1 else args.model)
    s = screen(args.inputs, model, args.out, engine=args.engine, precision=args.precision,
               batch_size=args.batch_size, shard_size=args.shard_size, readers=args.readers, threads=args.threads,
               n_crops=args.n_crops, merge=args.merge, onnx_path=args.onnx, progress=not args.no_progress,
               limit=args.limit, ray_address=args.ray_address, ray_actors=args.ray_actors, device=args.device,
               engine_path=args.trt_engine, include_hidden=args.include_hidden)
    print(s.text())
    return 1 if s.errors else 0
