"""`cardionets generate`: synthetic cine CMR from 12-lead ECG files.

Each ECG (any format `cardionets.io.read_ecg` reads) is preprocessed (250 Hz, band-pass, 3 crops),
embedded by the aligned ECG encoder, decoded by the MAR in --steps iterative steps (cosine schedule,
random order from --seed, each token sampled by the diffusion head) and by the VAE. Writes per ECG
<name>.nii.gz (with the given pixel spacing and frame time), <name>.gif and <name>_strip.png (frames,
ED and ES marked), plus generation.json with the settings and timings. <name> is the file's stem, or
its path relative to the inputs' common folder when two inputs share a stem (never overwritten). An
ECG that cannot be read is reported on stderr and skipped; the exit status is then 1. Many ECGs are
generated in batches of --batch-size; each ECG's randomness is seeded from --seed and the ECG itself, so
the same seed and ECG give the same cine whatever else is generated with it."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate cine CMR (NIfTI, GIF, PNG strip) from ECG files",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ecg", nargs="*", metavar="ECG_FILE", help="ECG files (WFDB header, XML, DICOM, ...)")
    p.add_argument("--list", dest="ecg_list", help="text file with one ECG path per line (batch generation)")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--model", required=True, help="run directory of the trained MAR (`cardionets train-generator`)")
    p.add_argument("--vae", help="VAE run directory (default: the one the MAR was trained with)")
    p.add_argument("--align", help="align run directory (default: the one the MAR was trained with)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, default=16, help="iterative decoding steps (default 16)")
    p.add_argument("--cfg", type=float, default=1.0, help="classifier-free guidance scale (default 1 = off)")
    p.add_argument("--cfg-schedule", choices=["linear", "constant"], default="linear",
                   help="guidance ramp over the decoding steps (default linear, as MAR)")
    p.add_argument("--temperature", type=float, default=1.0, help="diffusion sampling temperature (default 1)")
    p.add_argument("--sampling-steps", type=int, help="diffusion steps per token (default: the model's, 100)")
    p.add_argument("--batch-size", type=int, default=4, help="ECGs generated together (default 4)")
    p.add_argument("--backend", default="auto", help="diffusion_sample backend: auto, triton, cpu, reference")
    add_device_argument(p, extra_help="the three models run there in fp32; on CUDA the sampler uses its fused "
                                      "Triton loop replayed as CUDA graphs")
    p.add_argument("--format", nargs="+", default=["nifti", "gif", "png"], choices=["nifti", "gif", "png"],
                   help="outputs per ECG (default: all three)")
    p.add_argument("--spacing", type=float, default=1.8, help="pixel spacing of the written NIfTI in mm (default 1.8)")
    p.add_argument("--frame-ms", type=float, default=20.0, help="frame duration in ms written to the NIfTI (default 20)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..device.policy import runtime_record
    from ..dsp import preprocess_ecg
    from ..errors import InputError, naming
    from ..generate.pipeline import CineGenerator, GenerationSettings, ecg_keys
    from ..generate.writers import write_cine_outputs
    from ..io import read_ecg
    from ..io.naming import output_names
    from ..ops.dispatch import count_backends

    paths = [Path(p) for p in args.ecg]
    if args.ecg_list:
        paths += [Path(line.strip()) for line in Path(args.ecg_list).read_text().splitlines() if line.strip()]
    if not paths:
        raise InputError("no ECG files given (positional ECG_FILE... or --list FILE)")
    gen = CineGenerator.from_runs(args.model, args.vae, args.align, device=args.device)
    crops, names, readable, failed = [], [], [], []
    for p, name in zip(paths, output_names(paths)):  # names never collide, even for equal stems
        try:
            x = preprocess_ecg(read_ecg(p), n_crops=3).signal  # [3, 12, 2250]; [1, 12, 2250] for exactly 9 s
            crops.append(np.repeat(x, 3, axis=0) if x.shape[0] == 1 else x)  # same crop mean, stacks with the rest
        except Exception as exc:  # noqa: BLE001 -- report, go on with the next ECG
            print(f"{p}: error: {naming(exc, p)}", file=sys.stderr)
            failed.append(str(p))
            continue
        names.append(name)
        readable.append(p)
    if not crops:
        raise InputError(f"none of the {len(paths)} ECG file(s) could be read (reasons above)")
    paths = readable
    settings = GenerationSettings(steps=args.steps, cfg_scale=args.cfg, cfg_schedule=args.cfg_schedule,
                                  temperature=args.temperature, sampling_steps=args.sampling_steps, seed=args.seed,
                                  batch_size=args.batch_size, backend=args.backend)
    timings: dict = {}
    t0 = time.perf_counter()
    with count_backends() as used:
        x = np.stack(crops)
        cines = gen.generate(gen.embed(x), settings, keys=ecg_keys(x), timings=timings, progress=True)
    seconds = time.perf_counter() - t0
    frames = gen.vae.cfg.frames
    written = []
    for name, cine in zip(names, cines):
        written += [str(p) for p in write_cine_outputs(args.out, name, cine, args.spacing, args.frame_ms,
                                                       tuple(args.format))]
    report = {"ecgs": [str(p) for p in paths], "unreadable": failed, "outputs": written,
              "settings": settings.__dict__, "seconds": seconds, "seconds_per_cine": seconds / len(paths),
              "timings_seconds": timings, "frames": frames,
              "models": {k: gen.info.get(k) for k in ("mar_dir", "vae_dir", "align_dir")},
              "runtime": runtime_record(gen.policy, backends=used)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "generation.json").write_text(json.dumps(report, indent=1))
    print(f"{len(paths)} cine(s) in {seconds:.1f} s ({seconds / len(paths):.1f} s per cine) on {gen.device} -> {args.out}")
    if failed:
        print(f"generate: {len(failed)} of {len(failed) + len(paths)} ECG file(s) could not be read", file=sys.stderr)
        return 1
    return 0
