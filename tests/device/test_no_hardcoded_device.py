"""Nothing computes on a hard-coded device.

Two checks (see elsewhere.py for the harness):

* static: no ``.cuda()``, no device literal (``device="..."``, ``torch.device("...")``,
  ``.to("cuda")``, ``torch.autocast("cpu")``) anywhere in the package or the kernels outside the
  device policy itself (``cardionets/device/``);
* dynamic: the device policy is pointed at a second device (ELSEWHERE) and real workloads run to
  the end there -- the four training stages, the generator's three, generation and the Python API.
  Every tensor made on a default or literal device that meets the policy's tensors raises; the
  results must equal the same work on the CPU, and the run records must name the device.
"""
from __future__ import annotations

import ast
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from elsewhere import ELSEWHERE, DeviceViolation, elsewhere

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "train"))
from toy_data import MICRO, toy_splits  # noqa: E402

FRAMES, SIZE = 10, 32
VAE = {"channels": [8, 16], "res_blocks": 1, "groups": 4, "stem": [2, 4, 4], "time_down": [False],
       "frames": FRAMES, "size": SIZE}


# -- static ------------------------------------------------------------------------------------
def _literal_device_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        if name == "cuda" and isinstance(f, ast.Attribute) and not node.args:
            found.append(f"{where}: .cuda()")
        for kw in node.keywords:
            if kw.arg == "device" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                found.append(f"{where}: device={kw.value.value!r}")
        first = node.args[0] if node.args else None
        literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
        if literal and name in ("device", "autocast") and isinstance(f, ast.Attribute):
            found.append(f"{where}: {name}({first.value!r})")
        if literal and name == "to" and first.value.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta"):
            found.append(f"{where}: .to({first.value!r})")
    return found


def test_no_device_literals_outside_the_device_policy():
    files = [p for p in sorted((ROOT / "cardionets").rglob("*.py")) if "device" not in p.relative_to(ROOT).parts[1:2]]
    files += sorted((ROOT / "kernels").rglob("*.py"))
    assert len(files) > 100
    bad = [hit for p in files for hit in _literal_device_calls(p)]
    assert not bad, "device literals outside cardionets/device/:\n" + "\n".join(bad)


def test_the_static_check_finds_literals(tmp_path):
    src = ROOT / "cardionets" / "_probe_for_test.py"
    try:
        src.write_text("import torch\nx = torch.zeros(2, device='cuda')\ny = x.cuda()\nz = x.to('cpu')\n"
                       "with torch.autocast('cpu'):\n    pass\n")
        assert len(_literal_device_calls(src)) == 4
    finally:
        src.unlink()


# -- dynamic: the harness has teeth ------------------------------------------------------------
def test_a_default_device_tensor_meeting_the_device_raises():
    with elsewhere() as mode:
        x = torch.randn(3, 4).to(ELSEWHERE)
        assert x.device == ELSEWHERE and (x * 2).device == ELSEWHERE
        assert torch.zeros(4, device=x.device).device == ELSEWHERE  # device from the inputs: fine
        assert float((x + torch.tensor(1.0)).sum()) == pytest.approx(float(x.cpu().sum()) + 12)  # host scalar: fine
        with pytest.raises(DeviceViolation, match="aten.add"):
            x + torch.ones(3, 4)  # a tensor on the default device
        with pytest.raises(TypeError):
            x.numpy()  # as on CUDA: numpy needs an explicit .cpu()
        assert mode.ops_elsewhere > 0


# -- dynamic: real workloads -------------------------------------------------------------------
@pytest.fixture
def policy_elsewhere(monkeypatch):
    """Every device *spec* (``auto``, ``cpu``, ``cuda``... as configs and flags give it) resolves to
    ELSEWHERE; an explicit ``torch.device`` is kept (to compute the same thing on the host)."""
    import cardionets.device.policy as P

    monkeypatch.setattr(P, "resolve_device", lambda spec="auto": spec if isinstance(spec, torch.device) else ELSEWHERE)
    monkeypatch.setenv("CARDIONETS_BACKEND_WEIGHTED_INFONCE", "reference")  # the interpreted Triton loss is slow


def _cfg(stage: str, out: Path, **over):
    from cardionets.train import load_config

    base = {"encoder": dict(MICRO), "mae": {"decoder_width": 32, "decoder_depth": 1}, "epochs": 1, "batch_size": 8,
            "eval_batch_size": 16, "out_dir": str(out), "progress": False, "log_every": 1, "device": "cpu"}
    base.update(over)
    return load_config(stage, "tiny", overrides=base)


def test_training_stages_on_the_policy_device(policy_elsewhere, tmp_path):
    from cardionets.train import align, finetune, pretrain_cmr, pretrain_ecg
    from cardionets.train.checkpoint import load_tensors

    toy = toy_splits(16, 8, 8)
    with elsewhere() as mode:
        cmr = pretrain_cmr(_cfg("pretrain_cmr", tmp_path / "cmr"), datasets=toy)
        pretrain_ecg(_cfg("pretrain_ecg", tmp_path / "ssl"), datasets=toy)
        align(_cfg("align", tmp_path / "align", align={"cmr_from": str(cmr.run_dir)}), datasets=toy)
        ft = finetune(_cfg("finetune", tmp_path / "ft", finetune={"task": "disease:CM", "init": "cardionets",
                                                                    "init_from": str(tmp_path / "align")}),
                      datasets=toy)
    assert mode.ops_elsewhere > 1000
    for run in ("cmr", "ssl", "align", "ft"):
        info = json.loads((tmp_path / run / "config.json").read_text())
        assert info["runtime"]["device"] == "meta", run
        assert info["config"]["device"] == "cpu"  # what was asked; the runtime record says what ran
    rt = json.loads((tmp_path / "align" / "fit.json").read_text())["runtime"]
    assert rt["backends"]["weighted_infonce"] == {"reference": rt["backends"]["weighted_infonce"]["reference"]}
    assert "attention" in rt["backends"]
    saved = load_tensors(tmp_path / "ft" / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in saved.values() if v.is_floating_point())
    assert 0.0 <= ft.test["auc"] <= 1.0  # the held-out evaluation ran on the device too


class _Paired(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int, crops: bool = False):
        g = np.random.default_rng(seed)
        self.size = g.uniform(5, 10, n)
        self.ecg = (g.normal(0, 1, (n, 12, 2250)) * self.size[:, None, None] / 10).astype(np.float32)
        self.crops = crops

    def __len__(self):
        return len(self.size)

    def __getitem__(self, i):
        yy, xx = np.mgrid[0:SIZE, 0:SIZE]
        r = self.size[i] * (1 + 0.2 * np.cos(2 * np.pi * np.arange(FRAMES) / FRAMES))
        cine = np.where(np.hypot(yy - SIZE / 2, xx - SIZE / 2)[None] < r[:, None, None], 0.8, -0.7)
        ecg = torch.from_numpy(self.ecg[i])
        return {"subject_id": f"S{i:03d}", "ecg": torch.stack([ecg, ecg]) if self.crops else ecg,
                "cmr": torch.from_numpy(cine.astype(np.float32)), "phenotypes": torch.zeros(3),
                "labels": torch.zeros(4), "cm_subtype": torch.tensor(-1)}


def _align_run(run: Path) -> Path:
    from cardionets.models import ECGEncoder, ProjectionHead, ecg_config
    from cardionets.train.checkpoint import save_model

    torch.manual_seed(0)
    enc, proj = ECGEncoder(ecg_config("tiny", **MICRO)), ProjectionHead(32, 16)
    state = {f"encoder.{k}": v for k, v in enc.state_dict().items()}
    state.update({f"projector.{k}": v for k, v in proj.state_dict().items()})
    save_model(run, state, {"config": {"stage": "align", "align": {"proj_hidden": 0}}, "kind": "align",
                            "ecg_encoder": asdict(enc.cfg), "cmr_encoder": {"width": 16}})
    return run


def test_generator_training_and_generation_on_the_policy_device(policy_elsewhere, tmp_path):
    from cardionets.generate.loading import load_cross_decoder
    from cardionets.generate.pipeline import CineGenerator, GenerationSettings
    from cardionets.generate.report import evaluate_generation
    from cardionets.generate.training import load_generator_config, train

    align_run = _align_run(tmp_path / "align")
    data = (_Paired(4, 0), _Paired(3, 1, crops=True))
    common = {"epochs": 1, "batch_size": 2, "eval_batch_size": 3, "progress": False, "optim.ema_decay": 0.0}
    mar_model = {"width": 32, "depth": 1, "heads": 2, "head_width": 32, "head_depth": 1, "diffusion_steps": 50,
                 "sampling_steps": 3}
    stages = {"vae": {"gen.model": {**VAE, "arch": "3d"}},
              "generator": {"gen.model": mar_model, "gen.vae_from": str(tmp_path / "vae"),
                            "gen.align_from": str(align_run)},
              "cross_decoder": {"gen.model": {"seed_channels": 8, "hidden_channels": 8, "vae": VAE},
                                "gen.align_from": str(align_run)}}
    ds = _Paired(3, 2, crops=True)
    ecg = torch.stack([ds[i]["ecg"] for i in range(3)])
    settings = GenerationSettings(steps=3, seed=3, batch_size=2, sampling_steps=3)
    with elsewhere() as mode:
        for stage, over in stages.items():
            cfg = load_generator_config(stage, "tiny", overrides={**common, **over, "out_dir": str(tmp_path / stage)})
            _, summary = train(cfg, data)
            assert summary["status"] == "completed" and np.isfinite(summary["best_val_loss"]), stage
        gen = CineGenerator.from_runs(tmp_path / "generator", device="auto")
        assert gen.device == ELSEWHERE
        there = gen.generate(gen.embed(ecg), settings)
        res = evaluate_generation(gen, ds, tmp_path / "eval", settings=settings,
                                  cross=load_cross_decoder(tmp_path / "cross_decoder")[0], n_strips=1, progress=False)
    assert mode.ops_elsewhere > 1000 and res["device"] == "meta"
    assert json.loads((tmp_path / "generator" / "config.json").read_text())["runtime"]["device"] == "meta"
    # the same seed gives the same cines on every device: the generator's randomness lives on the host
    here_gen = CineGenerator.from_runs(tmp_path / "generator", device=torch.device("cpu"))
    here = here_gen.generate(here_gen.embed(ecg), settings)
    assert there.shape == (3, FRAMES, SIZE, SIZE) and np.abs(there - here).max() <= 1e-5


def test_python_api_on_the_policy_device(policy_elsewhere, tmp_path):
    from cardionets import CardioNets
    from cardionets.train import finetune

    toy = toy_splits(16, 8, 8)
    x = np.stack([toy[2][i]["ecg"].numpy() for i in range(2)])  # [2, 3, 12, 2250]
    with elsewhere() as mode:
        finetune(_cfg("finetune", tmp_path / "ft"), datasets=toy)
    here = CardioNets.from_pretrained(tmp_path / "ft", device=torch.device("cpu")).predict(x)
    with elsewhere() as mode:
        cn = CardioNets.from_pretrained(tmp_path / "ft", device="cuda")  # any spec: the policy says ELSEWHERE
        there = cn.predict(x)
        feat = cn.encode(x)
    assert cn.device == ELSEWHERE and mode.ops_elsewhere > 100 and feat.shape[0] == 2
    for a, b in zip(here, there):
        for name, v in a["phenotypes"].items():
            assert b["phenotypes"][name] == pytest.approx(v, abs=1e-5)
