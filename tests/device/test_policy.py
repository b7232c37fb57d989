"""The device policy's decisions, with CUDA simulated where a GPU would be needed: which device a spec
means, which autocast dtype and scaler, DDP's backend and per-rank device, pinned loading, the
prefetcher, the config keys, and --device on every command that computes."""
from __future__ import annotations

import argparse

import pytest
import torch

import cardionets.device.policy as P
from cardionets.device import DevicePolicy, DevicePrefetcher, autocast_dtype, parse_device_spec, resolve_device
from cardionets.errors import InputError

CUDA0, CUDA1 = torch.device("cuda", 0), torch.device("cuda", 1)


@pytest.fixture
def two_gpus(monkeypatch):
    """PyTorch believes two GPUs are visible (nothing is allocated on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)


def test_spec_spelling():
    assert [parse_device_spec(s) for s in ("auto", " CPU", "cuda", "cuda:3")] == ["auto", "cpu", "cuda", "cuda:3"]
    for bad in ("gpu", "cuda:", "cuda:x", "cpu:0", ""):
        with pytest.raises(InputError, match="auto, cpu, cuda"):
            parse_device_spec(bad)


def test_resolve_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == resolve_device(None) == resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="no CUDA device is visible"):
        resolve_device("cuda")
    with pytest.raises(InputError, match="no CUDA device is visible"):
        resolve_device(CUDA1)
    assert resolve_device(torch.device("meta")) == torch.device("meta")  # any torch.device from the API


def test_resolve_with_gpus(two_gpus, monkeypatch):
    assert resolve_device("auto") == resolve_device("cuda") == CUDA0
    assert resolve_device("cuda:1") == CUDA1 and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="only 2 CUDA device"):
        resolve_device("cuda:2")
    monkeypatch.setenv("WORLD_SIZE", "2")  # under torchrun: one GPU per process
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("auto") == resolve_device("cuda") == resolve_device("cuda:1") == CUDA1
    with pytest.raises(InputError, match="LOCAL_RANK"):
        resolve_device("cuda:0")


def test_autocast_policy(monkeypatch):
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "auto") is None and autocast_dtype(cpu, "fp32") is None  # CPU keeps fp32
    assert autocast_dtype(cpu, "bf16") is torch.bfloat16  # what precision: bf16 did before: CPU autocast
    with pytest.raises(InputError, match="fp16 needs a CUDA device"):
        autocast_dtype(cpu, "fp16")
    with pytest.raises(InputError, match="precision must be"):
        autocast_dtype(cpu, "int8")
    monkeypatch.setattr(P, "cuda_has_bf16", lambda d: True)
    assert autocast_dtype(CUDA0, "auto") is torch.bfloat16 and autocast_dtype(CUDA0, "fp16") is torch.float16
    assert autocast_dtype(CUDA0, "fp32") is None
    monkeypatch.setattr(P, "cuda_has_bf16", lambda d: False)  # e.g. a T4 or V100
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla T4")
    assert autocast_dtype(CUDA0, "auto") is torch.float16
    with pytest.raises(InputError, match="Tesla T4 has no native bf16"):
        autocast_dtype(CUDA0, "bf16")


def test_policy_facts_on_cpu_and_cuda(monkeypatch):
    cpu = DevicePolicy.create("cpu", "auto")
    assert (cpu.device, cpu.amp_dtype, cpu.precision_in_use, cpu.ddp_backend) == (torch.device("cpu"), None, "fp32", "gloo")
    assert cpu.loader_kwargs(0) == {"num_workers": 0, "pin_memory": False}
    assert cpu.loader_kwargs(4) == {"num_workers": 4, "pin_memory": False, "prefetch_factor": 2}
    assert cpu.grad_scaler() is None and cpu.ddp_kwargs() == {}
    assert DevicePolicy.create("cpu", "bf16").precision_in_use == "bf16"
    rec = cpu.describe()
    assert rec["device"] == "cpu" and rec["autocast"] is None and rec["pin_memory"] is False
    cuda = DevicePolicy(CUDA1, "auto", torch.float16)
    assert cuda.pin_memory and cuda.loader_kwargs(2)["pin_memory"] and cuda.ddp_backend == "nccl"
    assert cuda.ddp_kwargs() == {"device_ids": [1], "output_device": 1}
    assert cuda.precision_in_use == "fp16"
    assert DevicePolicy(CUDA0, "auto", torch.bfloat16).grad_scaler() is None  # bf16 needs no scaler


def test_policy_moves_batches_and_keeps_other_values():
    pol = DevicePolicy.create("cpu", "fp32")
    batch = {"ecg": torch.ones(2, 3), "subject_id": ["a", "b"], "pair": (torch.zeros(1), torch.ones(1)), "k": 3}
    out = pol.to(batch)
    assert out["subject_id"] == ["a", "b"] and out["k"] == 3 and isinstance(out["pair"], tuple)
    assert torch.equal(out["ecg"], batch["ecg"])
    loader = torch.utils.data.DataLoader(torch.arange(10.0), batch_size=4, **pol.loader_kwargs(0))
    fetched = list(DevicePrefetcher(loader, pol))
    assert len(DevicePrefetcher(loader, pol)) == 3 and torch.equal(torch.cat(fetched), torch.arange(10.0))


def test_ddp_backend_follows_the_device(monkeypatch):
    from cardionets.train import distributed as D

    calls = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(D.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(D.dist, "init_process_group", lambda **kw: calls.append(("init", kw["backend"])))
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(("set_device", d)))
    try:
        assert D.init(CUDA1).local_rank == 1
        assert calls == [("set_device", CUDA1), ("init", "nccl")] and D._COLLECTIVE_DEVICE == [CUDA1]
        calls.clear()
        D.init(torch.device("cpu"))
        assert calls == [("init", "gloo")] and D._COLLECTIVE_DEVICE == []
    finally:
        D._COLLECTIVE_DEVICE.clear()


def test_config_keys_are_checked():
    from cardionets.train import load_config

    cfg = load_config("align", "tiny", overrides={"device": "cuda:1", "precision": "fp16"})
    assert (cfg.device, cfg.precision) == ("cuda:1", "fp16")
    assert load_config("finetune", "tiny").precision == "auto" and load_config("finetune", "tiny").device == "auto"
    with pytest.raises(InputError, match="auto, cpu, cuda"):
        load_config("finetune", "tiny", overrides={"device": "gpu"})
    with pytest.raises(InputError, match="precision must be"):
        load_config("finetune", "tiny", overrides={"precision": "fp8"})


def test_backend_usage_is_counted():
    from cardionets.ops import attention
    from cardionets.ops.dispatch import count_backends

    q = torch.randn(1, 2, 5, 8)
    with count_backends() as used:
        attention(q, q, q)
        attention(q, q, q, backend="reference")
    assert used["attention"]["reference"] == 1 and sum(used["attention"].values()) == 2


# -- the command line --------------------------------------------------------------------------
COMPUTING = {"demo", "pretrain-cmr", "pretrain-ecg", "align", "finetune", "train-vae", "train-generator", "generate",
             "evaluate-generation", "screen", "export", "reproduce", "evaluate"}
# file reading, cohort ingestion, data synthesis, data profiles, reader-study packs and scores: numpy
# and the native library, no torch devices
HOST_ONLY = {"read-ecg", "read-cmr", "synth", "ingest", "profile", "reader-study"}


def _subparsers():
    from cardionets.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_computing_command_takes_device():
    subs = _subparsers()
    assert set(subs) == COMPUTING | HOST_ONLY | {"info"}, "classify the new command here"
    for name in sorted(COMPUTING | {"info"}):
        opts = {o for a in subs[name]._actions for o in a.option_strings}
        assert "--device" in opts, f"`cardionets {name}` has no --device"
        dev = next(a for a in subs[name]._actions if "--device" in a.option_strings)
        assert dev.type("CUDA:1") == "cuda:1", name
        with pytest.raises(argparse.ArgumentTypeError):
            dev.type("gpu")


def test_benchmarks_take_device():
    import bench.bench_attention as ba
    import bench.bench_diffusion_sample as bd
    import bench.bench_screen as bs
    import bench.bench_screen_quant as bq
    import bench.bench_weighted_infonce as bw
    import bench.gpu_check as gc

    for mod in (ba, bd, bw, bs, bq, gc):
        with pytest.raises(SystemExit) as exc:
            mod.main(["--device", "gpu"])
        assert exc.value.code == 2


def test_missing_cuda_is_a_clear_error(monkeypatch, capsys):
    from cardionets.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["info", "--device", "cuda"]) == 2
    assert "no CUDA device is visible to PyTorch" in capsys.readouterr().err
