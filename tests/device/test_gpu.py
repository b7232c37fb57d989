"""The real GPU paths (skipped without CUDA; run by bench/gpu_check.sh on a GPU machine).

Training on CUDA with mixed precision and the fast backends, the prefetcher, the diffusion sampler's
CUDA graphs and generation agreeing with the CPU."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.gpu

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "train"))
from toy_data import MICRO, toy_splits  # noqa: E402


@pytest.fixture
def cuda(monkeypatch):
    monkeypatch.delenv("CARDIONETS_BACKEND_WEIGHTED_INFONCE", raising=False)  # tests/train forces the reference
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    return torch.device("cuda", torch.cuda.current_device())


def _cfg(stage, out, **over):
    from cardionets.train import load_config

    base = {"encoder": dict(MICRO, heads=2), "mae": {"decoder_width": 32, "decoder_depth": 1}, "epochs": 1,
            "batch_size": 8, "eval_batch_size": 16, "out_dir": str(out), "progress": False, "device": "cuda"}
    base.update(over)
    return load_config(stage, "tiny", overrides=base)


def test_training_stages_on_cuda_with_autocast_and_fast_backends(cuda, tmp_path):
    from cardionets.train import align, finetune, pretrain_cmr, pretrain_ecg

    toy = toy_splits(16, 8, 8)
    cmr = pretrain_cmr(_cfg("pretrain_cmr", tmp_path / "cmr"), datasets=toy)
    pretrain_ecg(_cfg("pretrain_ecg", tmp_path / "ssl"), datasets=toy)
    align(_cfg("align", tmp_path / "align", align={"cmr_from": str(cmr.run_dir)}), datasets=toy)
    ft = finetune(_cfg("finetune", tmp_path / "ft", finetune={"task": "phenotypes"}), datasets=toy)
    assert np.isfinite(ft.fit.best_val) and "r2_mean" in ft.test
    rt = json.loads((tmp_path / "align" / "fit.json").read_text())["runtime"]
    assert rt["device"].startswith("cuda") and rt["autocast"] in ("bf16", "fp16")
    assert "triton" in rt["backends"]["weighted_infonce"]
    flash = any(b == "flash" for b in rt["backends"]["attention"])
    try:
        import flash_attn  # noqa: F401

        assert flash, rt["backends"]
    except ImportError:
        assert "sdpa" in rt["backends"]["attention"]


def test_fp16_autocast_with_gradient_scaler(cuda, tmp_path):
    from cardionets.train import pretrain_ecg

    out = pretrain_ecg(_cfg("pretrain_ecg", tmp_path / "fp16", precision="fp16"), datasets=toy_splits(16, 8, 8))
    assert np.isfinite(out.fit.best_val)
    state = json.loads((tmp_path / "fp16" / "checkpoints" / "last" / "state.json").read_text())
    assert state["loop"]["grad_scaler"]["scale"] > 0
    assert json.loads((tmp_path / "fp16" / "fit.json").read_text())["runtime"]["grad_scaler"] is True


def test_prefetcher_delivers_on_the_gpu(cuda):
    from cardionets.device import DevicePolicy, DevicePrefetcher

    pol = DevicePolicy.create(cuda, "fp32")
    loader = torch.utils.data.DataLoader(torch.arange(40.0).reshape(10, 4), batch_size=3, **pol.loader_kwargs(2))
    got = list(DevicePrefetcher(loader, pol))
    assert all(b.device == cuda for b in got)
    assert torch.equal(torch.cat(got).cpu(), torch.arange(40.0).reshape(10, 4))


def test_diffusion_sampler_cuda_graph_replay(cuda):
    from cardionets.models.diffusion_head import diffusion_head_tiny, selfcheck_init_
    from cardionets.ops import diffusion_sample
    from cardionets.ops.diffusion_sample import head_plan

    g = torch.Generator().manual_seed(0)
    head = selfcheck_init_(diffusion_head_tiny().eval(), g).to(cuda)
    cond = torch.randn(2 * 180, head.cfg.cond_dim, generator=g).to(cuda)
    kw = dict(num_steps=100, cfg_scale=3.0, temperature=1.0)
    ref = diffusion_sample(head, cond, backend="reference", generator=torch.Generator().manual_seed(7), **kw)
    first = diffusion_sample(head, cond, backend="triton", generator=torch.Generator().manual_seed(7), **kw)
    again = diffusion_sample(head, cond, backend="triton", generator=torch.Generator().manual_seed(7), **kw)
    loops = head_plan(head, cuda, 100, 1000).__dict__["graph_loops"]
    assert len(loops) == 1 and next(iter(loops.values())).graph is not None  # captured once, replayed
    assert (first - ref).abs().max() <= 1e-3 and torch.equal(first, again)


def test_generation_on_cuda_matches_the_cpu(cuda):
    from cardionets.generate.pipeline import CineGenerator, GenerationSettings
    from cardionets.models.diffusion_head import randomize_
    from cardionets.models.mar import build_mar
    from cardionets.models.vae3d import build_vae

    torch.manual_seed(0)
    vae = build_vae("tiny", channels=[8, 16], res_blocks=1, groups=4, frames=10, size=32, stem=[2, 4, 4],
                    time_down=[False]).eval()
    C, T, H, W = vae.cfg.latent_shape
    mar = build_mar("tiny", width=32, depth=1, heads=2, head_width=512, head_depth=1, cond_dim=16,
                    latent_channels=C, latent_size=(T, H, W), sampling_steps=10).eval()
    randomize_(mar.head, torch.Generator().manual_seed(1))
    cond = torch.randn(3, 16)
    s = GenerationSettings(steps=4, seed=2, batch_size=2)
    here = CineGenerator(vae, mar, device="cpu").generate(cond, s)
    there = CineGenerator(vae, mar, device=cuda).generate(cond, s)
    assert there.shape == here.shape and np.abs(there - here).max() <= 2e-3


def test_screening_on_cuda_with_each_runtime(cuda, tmp_path):
    """fp32 / bf16 eager on the GPU, a TensorRT engine built on the fly, ONNX Runtime with its CUDA
    providers: the same rows as the CPU within each precision's tolerance."""
    import pandas as pd

    from cardionets.data.synth import write_cohort
    from cardionets.screen import screen
    from cardionets.screen.untrained import write_untrained_model

    model = write_untrained_model(tmp_path / "model", "tiny", seed=1, width=32, depth=1, heads=2)
    write_cohort(tmp_path / "cohort", n=16, seed=5, preset="enriched", workers=1, progress=False)
    ecg = tmp_path / "cohort" / "ecg"

    def probs(out, **kw):
        s = screen([ecg], model, tmp_path / out, progress=False, merge=True, **kw)
        df = pd.read_parquet(tmp_path / out / "screen.parquet").sort_values("path")
        assert len(df) == 16 and df["error"].isna().all(), df["error"].dropna().head()
        return s, df[[c for c in df.columns if c.startswith("prob.")]].to_numpy()

    _, ref = probs("cpu", device="cpu")
    s, got = probs("fp32", device="cuda")
    assert s.device.startswith("cuda") and s.runtime == f"torch fp32 on {s.device}" and abs(got - ref).max() <= 1e-4
    assert abs(probs("bf16", device="cuda", precision="bf16")[1] - ref).max() <= 0.05
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        pass
    else:
        s, got = probs("trt", device="cuda", precision="tensorrt")
        assert s.runtime.startswith("TensorRT") and abs(got - ref).max() <= 1e-2  # fp16 engine
    import onnxruntime as ort

    from cardionets.export.onnx import export_onnx
    from cardionets.screen import load_screen_model

    onnx_path = export_onnx(load_screen_model(model), tmp_path / "m.onnx")
    s, got = probs("onnx", device="cuda", precision="onnx", onnx_path=onnx_path)
    assert abs(got - ref).max() <= 1e-3
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert "CUDAExecutionProvider" in s.runtime
