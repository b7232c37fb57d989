"""`cardionets evaluate-generation`: generated vs paired real cines on a cohort split.

Reports SSIM, PSNR, MAE and RMSE (scikit-image), phenotype agreement (blood-pool volume indices
measured on generated vs real cines: R^2, Pearson; with --phenotype-model, a fine-tuned CMR phenotype
regressor applied to both), CMR-encoder feature comparison (t-SNE, histograms,
Frechet distance; with --cmr-encoder), the cardiac cycle (ED / ES frames within 3 frames of the real
cine's, area-curve correlation) and block artefacts, for the MAR generator (one row per --temperature x
--cfg setting: the knob between a faithful sampler and a regressor) and, with --cross, the
deterministic cross-modal decoder baseline; reference rows: the VAE's reconstruction of the real cine
(vae_reconstruction, the ceiling of any decoded cine) and the training split's mean cine given to every
subject (train_mean_cine: what knowing the cohort but not the subject scores). With --matched-reference K,
two oracle rows with perfect phenotype knowledge: the real cine of the training subject whose 82
ground-truth phenotypes are nearest (matched_real_cine, a sampler) and the mean of the K nearest
(matched_mean_K, a regressor). Without --model only the reference rows are scored (the bounds of a
cohort before any generator is trained). Writes metrics.json, table.md, real-vs-generated strips and
the high-vs-low LV mass strip into --out."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..device.spec import add_device_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate-generation", help="image metrics, phenotype agreement and features of generated cines",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cohort", required=True, help="cohort directory")
    p.add_argument("--model", help="MAR run directory (omit to score only the reference rows)")
    p.add_argument("--vae", help="VAE run directory (default: the MAR's)")
    p.add_argument("--align", help="align run directory (default: the MAR's)")
    p.add_argument("--cross", help="cross-modal decoder run directory (the baseline)")
    p.add_argument("--cmr-encoder", help="pretrain_cmr run directory: compare CMR-encoder features")
    p.add_argument("--phenotype-model", help="finetune run (init cmr_ref, task phenotypes): a CMR phenotype model "
                   "applied to generated and real cines")
    p.add_argument("--split", choices=["train", "val", "test"], default="test", help="cohort split (default test)")
    p.add_argument("--n", type=int, help="evaluate only the first N subjects of the split")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--seed", type=int, default=0, help="generation seed (default 0); the split uses seed 0")
    p.add_argument("--steps", type=int, default=16, help="iterative decoding steps (default 16)")
    p.add_argument("--cfg", type=float, nargs="+", default=[1.0],
                   help="classifier-free guidance scale(s) (default 1); several give one row each")
    p.add_argument("--temperature", type=float, nargs="+", default=[1.0],
                   help="diffusion sampling temperature(s) (default 1); several give one row each")
    p.add_argument("--batch-size", type=int, default=8, help="cines generated together (default 8)")
    p.add_argument("--strips", type=int, default=4, help="subjects shown real vs generated (default 4)")
    p.add_argument("--mean-reference", type=int, default=200, metavar="N",
                   help="also score the mean cine of the first N training subjects as a reference row "
                        "(train_mean_cine; default 200, 0 = off)")
    p.add_argument("--matched-reference", type=int, default=0, metavar="K",
                   help="also score the phenotype-matched oracle rows: the nearest training subject's real cine "
                        "(matched_real_cine) and the mean of the K nearest (matched_mean_K); reads the training "
                        "cines they need (default 0 = off)")
    p.add_argument("--no-vae-reference", dest="vae_reference", action="store_false",
                   help="skip the vae_reconstruction row (each real cine through the generator's VAE)")
    add_device_argument(p, extra_help="generator, cross-modal decoder, CMR encoder and phenotype model run there")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data import Cohort
    from ..errors import InputError
    from ..generate.loading import load_cmr_phenotype_model, load_cross_decoder
    from ..generate.pipeline import CineGenerator, GenerationSettings
    from ..generate.report import evaluate_generation, mean_cine

    if args.model is None and (args.cross or args.vae or args.align):
        raise InputError("--cross, --vae and --align need --model (the MAR run whose aligned ECG embedding they use)")
    gen = CineGenerator.from_runs(args.model, args.vae, args.align, device=args.device) if args.model else None
    splits = Cohort(args.cohort).datasets("paired", seed=0, n_crops=3)
    ds = splits[args.split]
    ref = mean_cine(splits["train"], args.mean_reference) if args.mean_reference > 0 else None
    cross = load_cross_decoder(args.cross)[0] if args.cross else None
    enc = _cmr_encoder(args.cmr_encoder) if args.cmr_encoder else None
    pheno, names = (load_cmr_phenotype_model(args.phenotype_model, device=args.device) if args.phenotype_model
                    else (None, None))
    settings = [GenerationSettings(steps=args.steps, cfg_scale=c, temperature=t, seed=args.seed,
                                   batch_size=args.batch_size) for t in args.temperature for c in args.cfg]
    res = evaluate_generation(gen, ds, args.out, settings=settings, cross=cross, cmr_encoder=enc,
                              phenotype_model=pheno, phenotype_names=names, n=args.n,
                              n_strips=args.strips, reference_cine=ref, matched_k=args.matched_reference,
                              train_dataset=splits["train"], vae_reference=args.vae_reference and gen is not None,
                              device=args.device)
    print((args.out / "table.md").read_text())
    print(json.dumps({k: res[k] for k in ("strips",) if k in res}, indent=1))
    return 0


def _cmr_encoder(run_dir: str):
    from ..models import CMREncoder, CMREncoderConfig
    from ..train.tasks import load_encoder_from
    from ..train.checkpoint import load_run

    _, info = load_run(Path(run_dir))
    enc = CMREncoder(CMREncoderConfig(**info["cmr_encoder"]))
    load_encoder_from(run_dir, "pretrain_cmr", enc)
    return enc.eval()
