"""ONNX export vs PyTorch on real fixtures; the TensorRT contract (ops, static shapes) and builder path."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from cardionets.data.schema import DISEASES
from cardionets.errors import BackendUnavailable
from cardionets.screen import load_screen_model

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def onnx_file(export_model_dir, tmp_path_factory):
    from cardionets.export import export_onnx

    return export_onnx(load_screen_model(export_model_dir), tmp_path_factory.mktemp("onnx") / "model.onnx")


def test_onnx_matches_pytorch_on_real_records(export_model_dir, onnx_file, real_batch):
    from cardionets.export import verify_onnx

    m = load_screen_model(export_model_dir)
    for x in (real_batch, real_batch[:1], real_batch[1:4]):  # dynamic batch
        assert verify_onnx(m, onnx_file, x) <= 1e-4


def test_tensorrt_contract(onnx_file):
    from cardionets.export import OPSET, TENSORRT_OPS, check_onnx_for_tensorrt, graph_ops, io_shapes

    import onnx

    assert onnx.load(str(onnx_file)).opset_import[0].version == OPSET == 17
    assert graph_ops(onnx_file) <= TENSORRT_OPS
    shapes = io_shapes(onnx_file)
    assert shapes == {"ecg": ["batch", 3, 12, 2250], "phenotypes": ["batch", 82], "probabilities": ["batch", len(DISEASES)]}
    assert check_onnx_for_tensorrt(onnx_file)["shapes"] == shapes


def test_tensorrt_guard_and_builder_path(onnx_file, tmp_path, monkeypatch):
    from cardionets.export import build_engine

    if "tensorrt" not in sys.modules:
        monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails like an absent package
        with pytest.raises(BackendUnavailable, match=r"needs tensorrt.*cardionets\[gpu\]"):
            build_engine(onnx_file, tmp_path / "m.engine")
    # a stand-in tensorrt module records the calls, so the whole builder path up to the build runs here
    calls = []

    class Obj:
        def __init__(self, name):
            self.name = name

        def __getattr__(self, attr):
            def f(*a, **k):
                calls.append((f"{self.name}.{attr}", a))
                if attr == "parse":
                    return True
                if attr == "build_serialized_network":
                    return b"ENGINE"
                return Obj(attr)
            return f

    fake = types.SimpleNamespace(Logger=lambda *a: Obj("logger"), Builder=lambda *a: Obj("builder"),
                                 OnnxParser=lambda *a: Obj("parser"), MemoryPoolType=types.SimpleNamespace(WORKSPACE=0),
                                 BuilderFlag=types.SimpleNamespace(FP16=1))
    fake.Logger.WARNING = 2
    fake.Logger = type("Logger", (), {"WARNING": 2, "__new__": lambda cls, *a: Obj("logger")})
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailable, match="CUDA GPU"):
        build_engine(onnx_file, tmp_path / "m.engine")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    out = build_engine(onnx_file, tmp_path / "m.engine", max_batch=32)
    assert out.read_bytes() == b"ENGINE"
    names = [c[0] for c in calls]
    assert "create_optimization_profile.set_shape" in names and "builder.build_serialized_network" in names
    prof = next(a for n, a in calls if n == "create_optimization_profile.set_shape")
    assert prof == ("ecg", (1, 3, 12, 2250), (16, 3, 12, 2250), (32, 3, 12, 2250))
    assert ("create_builder_config.set_flag", (1,)) in calls  # fp16


def test_export_cli_onnx(export_model_dir, real_data, tmp_path, capsys):
    from cardionets.cli import main

    out = tmp_path / "cli.onnx"
    assert main(["export", "--model", str(export_model_dir), "--format", "onnx", "--out", str(out),
                 "--verify", str(real_data / "ecg" / "cinc2021" / "HR06000.hea")]) == 0
    text = capsys.readouterr().out
    diff = float(text.rsplit("diff", 1)[1].strip(" )\n"))
    assert out.exists() and diff <= 1e-4
