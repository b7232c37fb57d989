"""`cardionets export`: write the screening model (ECG encoder(s) + heads) for other runtimes.

  --format onnx      ONNX, opset 17, dynamic batch, checked with ONNX Runtime against PyTorch
  --format tensorrt  ONNX (as above) + a TensorRT engine (needs tensorrt and an NVIDIA GPU)
  --format aoti      AOTInductor .pt2 package (Python: torch._inductor.aoti_load_package;
                     C++: torch::inductor::AOTIModelPackageLoader, see examples/cpp)

Input [batch, n_crops, 12, crop_len] float32 (crops preprocessed with the model's spec, by default
3 x 2250 samples at 250 Hz); outputs phenotypes [batch, P] and disease probabilities [batch, D];
names, the model version and the preprocessing spec are in <output>.json (and the spec, one
"key value" line each, in <output>.preprocess.txt for the C++ example). See docs/export.md.

--device: the GPU that builds a TensorRT engine (engines are specific to the GPU model), or the
device an AOTInductor package is compiled for (a CUDA .pt2 runs only there). The ONNX graph is
device-independent (traced on the host).
"""
from __future__ import annotations

import argparse

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export the screening model as ONNX, a TensorRT engine or an AOTInductor .pt2",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="fine-tuned run directory or a directory of runs")
    p.add_argument("--format", choices=["onnx", "tensorrt", "aoti"], required=True, help="what to write")
    p.add_argument("--out", required=True, help="output file (.onnx / .engine / .pt2)")
    p.add_argument("--n-crops", type=int, default=None,
                   help="crops per record (static; default: the model's preprocessing spec, 3)")
    p.add_argument("--fp32", action="store_true", help="TensorRT: build in fp32 (default fp16)")
    p.add_argument("--max-batch", type=int, default=64, help="largest batch (TensorRT profile / AOTI dynamic dim)")
    p.add_argument("--verify", default=None, metavar="ECG",
                   help="ONNX/AOTI: also compare with PyTorch on this ECG file (max abs difference)")
    add_device_argument(p, extra_help="TensorRT: the GPU that builds the engine; aoti: compile for this device; "
                                      "onnx: unused (the graph is device-independent)")
    p.set_defaults(func=run)


def _verify_input(path: str | None, spec):
    import numpy as np

    if path is None:
        from ..export.reference import example_input

        return example_input(2, spec).numpy()
    from ..dsp import preprocess_ecg
    from ..io import read_ecg

    return np.asarray(preprocess_ecg(read_ecg(path), spec=spec).signal, np.float32)[None]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np

    from ..device.policy import resolve_device
    from ..screen import load_screen_model
    from ..export.reference import export_spec, reference_outputs

    device = resolve_device(args.device)
    model = load_screen_model(args.model)
    spec = export_spec(model, n_crops=args.n_crops)
    out = Path(args.out)
    x = _verify_input(args.verify, spec)
    if args.format in ("onnx", "tensorrt"):
        from ..export.onnx import export_onnx, verify_onnx

        onnx_path = out if args.format == "onnx" else out.with_suffix(".onnx")
        export_onnx(model, onnx_path, spec=spec)
        print(f"wrote {onnx_path} (ONNX Runtime vs PyTorch max abs diff {verify_onnx(model, onnx_path, x):.2e})")
        if args.format == "tensorrt":
            from ..export.tensorrt import build_engine

            build_engine(onnx_path, out, fp16=not args.fp32, max_batch=args.max_batch, device=device)
            print(f"wrote {out} (built on {device})")
    else:
        from ..export.aoti import export_aoti, load_aoti, run_aoti

        pkg = export_aoti(model, out, spec=spec, max_batch=max(args.max_batch, x.shape[0]), device=device)
        got, ref = run_aoti(load_aoti(pkg), x, device=device), reference_outputs(model, x)
        diff = max(float(np.abs(g - r).max()) for g, r in zip(got, ref))
        print(f"wrote {pkg} (AOTInductor vs PyTorch max abs diff {diff:.2e})")
    return 0
