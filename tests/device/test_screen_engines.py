"""Screening on a device: the TensorRT runtime runner (dynamic batch, address binding, chunking by the
profile, bad engines) and the on-the-fly engine build, with a stand-in ``tensorrt`` module that
executes the real screening model from the tensor addresses it is given; ONNX Runtime's providers per
device; clear errors without a GPU; every input exactly once in the shards, failed batches as error
rows. The real TensorRT / CUDA paths are in test_gpu.py (marked gpu)."""
from __future__ import annotations

import ctypes
import json
import sys
import types

import numpy as np
import pandas as pd
import pytest
import torch

from cardionets.errors import BackendUnavailable, CardioNetsError
from cardionets.screen import load_screen_model
from cardionets.export.reference import reference_outputs

MICRO = dict(width=32, depth=1, heads=2)
HOST = torch.device("cpu")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from cardionets.screen.untrained import write_untrained_model

    return write_untrained_model(tmp_path_factory.mktemp("m") / "model", "tiny", seed=3, **MICRO)


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from cardionets.data.synth import write_cohort

    out = tmp_path_factory.mktemp("c") / "cohort"
    write_cohort(out, n=12, seed=4, preset="enriched", workers=1, progress=False)
    return out / "ecg"


def _view(ptr: int, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return np.ctypeslib.as_array((ctypes.c_float * n).from_address(ptr)).reshape(shape)


class FakeTensorRT(types.ModuleType):
    """The parts of the TensorRT 10 Python API the builder and the runner use. Its engines run
    ``self.model`` (the fp32 screening model) on the memory at the bound addresses."""

    class Logger:
        WARNING = 2

        def __init__(self, *a):
            pass

    class TensorIOMode:
        INPUT, OUTPUT = "INPUT", "OUTPUT"

    MemoryPoolType = types.SimpleNamespace(WORKSPACE=0)
    BuilderFlag = types.SimpleNamespace(FP16=1)
    float32, float16 = "float32", "float16"

    def __init__(self, model=None, names=("ecg", "phenotypes", "probabilities"), fail_calls=()):
        super().__init__("tensorrt")
        self.__version__ = "10.fake"
        self.model, self.names, self.fail_calls = model, names, set(fail_calls)
        self.builds, self.shapes_set, self.executions = 0, [], 0
        fake = self

        class Builder:
            def __init__(self, logger):
                pass

            def create_network(self, flags):
                return object()

            def create_builder_config(self):
                return types.SimpleNamespace(set_memory_pool_limit=lambda *a: None, set_flag=lambda *a: None,
                                             add_optimization_profile=lambda p: None)

            def create_optimization_profile(self):
                prof = types.SimpleNamespace(shapes={})
                prof.set_shape = lambda name, lo, opt, hi: prof.shapes.update({name: [lo, opt, hi]})
                self.profile = prof
                return prof

            def build_serialized_network(self, network, config):
                fake.builds += 1
                return b"FAKE" + json.dumps(self.profile.shapes).encode()

        class OnnxParser:
            num_errors = 0

            def __init__(self, network, logger):
                pass

            def parse(self, data):
                return data[:4] != b"FAKE"

        class Runtime:
            def __init__(self, logger):
                pass

            def deserialize_cuda_engine(self, blob):
                return Engine(json.loads(blob[4:])) if blob[:4] == b"FAKE" else None

        class Engine:
            def __init__(self, profiles):
                self.profile = profiles["ecg"]
                self.num_io_tensors = 3

            def get_tensor_name(self, i):
                return fake.names[i]

            def get_tensor_mode(self, name):
                return fake.TensorIOMode.INPUT if name == fake.names[0] else fake.TensorIOMode.OUTPUT

            def get_tensor_dtype(self, name):
                return fake.float32

            def get_tensor_profile_shape(self, name, index):
                return self.profile

            def create_execution_context(self):
                return Context(self)

        class Context:
            def __init__(self, engine):
                self.engine, self.addr, self.shape = engine, {}, None

            def set_input_shape(self, name, shape):
                lo, _, hi = self.engine.profile
                fake.shapes_set.append(tuple(shape))
                self.shape = tuple(shape)
                return lo[0] <= shape[0] <= hi[0] and tuple(shape[1:]) == tuple(hi[1:])

            def set_tensor_address(self, name, ptr):
                self.addr[name] = ptr

            def get_tensor_shape(self, name):
                width = len(fake.model.phenotype_names) if name == "phenotypes" else len(fake.model.disease_names)
                return (self.shape[0], width)

            def execute_async_v3(self, stream):
                fake.executions += 1
                if fake.executions in fake.fail_calls:
                    return False
                x = _view(self.addr["ecg"], self.shape).copy()
                p, d = reference_outputs(fake.model, x)
                _view(self.addr["phenotypes"], p.shape)[...] = p
                _view(self.addr["probabilities"], d.shape)[...] = d
                return True

        self.Builder, self.OnnxParser, self.Runtime = Builder, OnnxParser, Runtime


def _engine(tmp_path, model, max_batch=2):
    """An engine file as the fake builder writes it (profile batch 1..max_batch)."""
    shapes = {"ecg": [[1, 3, 12, 2250], [1, 3, 12, 2250], [max_batch, 3, 12, 2250]]}
    path = tmp_path / "m.engine"
    path.write_bytes(b"FAKE" + json.dumps(shapes).encode())
    (tmp_path / "m.engine.json").write_text(json.dumps({"model_version": model.version}))
    return path


def _crops(paths):
    from cardionets.dsp import preprocess_ecg
    from cardionets.io import read_ecg

    return np.stack([preprocess_ecg(read_ecg(p)).signal for p in paths]).astype(np.float32)


def _batch(records, n):
    return _crops(sorted(records.glob("*.hea"))[:n])


def test_runner_binds_addresses_and_splits_by_the_profile(model_dir, records, tmp_path):
    from cardionets.export.trt_runtime import TensorRTRunner

    model = load_screen_model(model_dir)
    fake = FakeTensorRT(model)
    runner = TensorRTRunner(_engine(tmp_path, model, max_batch=2), HOST, fake)
    x = _batch(records, 5)
    p, d = runner(x)
    ref = reference_outputs(model, x)
    assert fake.shapes_set == [(2, 3, 12, 2250), (2, 3, 12, 2250), (1, 3, 12, 2250)]  # dynamic batch, chunked
    np.testing.assert_allclose(p, ref[0], rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(d, ref[1], atol=1e-6)
    assert "TensorRT 10.fake engine m.engine" in runner.describe and "batch 1..2" in runner.describe
    with pytest.raises(CardioNetsError, match="--n-crops must match"):
        runner(x[:, :1])


def test_bad_engines_are_named(model_dir, tmp_path):
    from cardionets.export.trt_runtime import TensorRTRunner

    model = load_screen_model(model_dir)
    with pytest.raises(CardioNetsError, match="not found"):
        TensorRTRunner(tmp_path / "missing.engine", HOST, FakeTensorRT(model))
    junk = tmp_path / "junk.engine"
    junk.write_bytes(b"not an engine")
    with pytest.raises(CardioNetsError, match="could not deserialise"):
        TensorRTRunner(junk, HOST, FakeTensorRT(model))
    other = FakeTensorRT(model, names=("input", "logits", "probabilities"))
    with pytest.raises(CardioNetsError, match="screening model exports input 'ecg'"):
        TensorRTRunner(_engine(tmp_path, model), HOST, other)


def test_without_tensorrt_or_gpu_the_errors_say_what_is_missing(model_dir, tmp_path, monkeypatch):
    from cardionets.export.tensorrt import load_engine
    from cardionets.screen.engines import engine_for, tensorrt_runner

    model = load_screen_model(model_dir)
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(BackendUnavailable, match=r"needs tensorrt.*cardionets\[gpu\]"):
        load_engine(_engine(tmp_path, model), HOST)
    monkeypatch.setitem(sys.modules, "tensorrt", FakeTensorRT(model))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(BackendUnavailable, match="needs a CUDA device; this run computes on cpu"):
        engine_for(model, tmp_path, HOST)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailable, match="needs a CUDA GPU"):
        tensorrt_runner(_engine(tmp_path, model), HOST, model.version)
    (tmp_path / "m.engine.json").write_text(json.dumps({"model_version": "0123abcd"}))
    with pytest.raises(CardioNetsError, match="built for model version 0123abcd"):
        tensorrt_runner(tmp_path / "m.engine", HOST, model.version)


def test_screen_tensorrt_builds_once_and_writes_every_record_once(model_dir, records, tmp_path, monkeypatch):
    """screen --precision tensorrt end to end: ONNX export + engine build into OUT on first use, reused on
    the next run; the runner's first two executions fail: the failed batch is scored again record by
    record, so only its first record (whose single call fails too) is an error row; a rerun skips
    every record already written (exactly once)."""
    pytest.importorskip("onnx")
    import cardionets.export.tensorrt as T
    from cardionets.cli import main

    model = load_screen_model(model_dir)
    fake = FakeTensorRT(model, fail_calls={1, 2})
    monkeypatch.setattr(T, "_import_tensorrt", lambda device=None: fake)  # the GPU checks are tested above
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    out = tmp_path / "out"
    args = ["screen", str(records), "--model", str(model_dir), "--out", str(out), "--precision", "tensorrt",
            "--device", "cpu", "--batch-size", "4", "--no-progress", "--merge"]
    assert main(args + ["--limit", "8"]) == 1  # finished, with an error row
    assert fake.builds == 1 and (out / "model.engine").is_file() and (out / "model.onnx").is_file()
    meta = json.loads((out / "model.engine.json").read_text())
    assert meta["model_version"] == model.version and meta["gpu"] == "Fake GPU" and meta["max_batch"] == 64
    assert main(args) == 0  # resume: the rest; the engine is reused, not rebuilt
    assert fake.builds == 1
    df = pd.read_parquet(out / "screen.parquet")
    assert len(df) == 12 and df["path"].is_unique
    failed = df[df["error"].notna()]
    assert len(failed) == 1 and failed["error"].str.startswith("model: CardioNetsError").all()
    assert "execute_async_v3 returned False" in failed["error"].iloc[0]
    ok = df[df["error"].isna()].sort_values("path")
    ref = reference_outputs(model, _crops(list(ok["path"][:2])))
    np.testing.assert_allclose(ok[[f"prob.{n}" for n in model.disease_names]].to_numpy(np.float32)[:2], ref[1],
                               atol=1e-5)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runtime"].startswith("TensorRT 10.fake engine model.engine") and summary["device"] == "cpu"


def test_onnx_runtime_providers_per_device():
    from cardionets.export.onnx import ort_providers

    cuda1 = torch.device("cuda", 1)
    every = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    providers, why = ort_providers(cuda1, every, "/cache")
    assert [p[0] for p in providers[:2]] == every[:2] and providers[2] == "CPUExecutionProvider"
    assert providers[0][1]["device_id"] == 1 and providers[0][1]["trt_engine_cache_path"] == "/cache"
    assert providers[1] == ("CUDAExecutionProvider", {"device_id": 1})
    assert ort_providers(cuda1, every[1:])[0][0] == ("CUDAExecutionProvider", {"device_id": 1})
    cpu_only, why = ort_providers(cuda1, ["CPUExecutionProvider"])
    assert cpu_only == ["CPUExecutionProvider"] and "pip install onnxruntime-gpu" in why
    assert ort_providers(HOST, every)[0] == ["CPUExecutionProvider"]


def test_onnx_runner_says_which_provider_ran(model_dir, records, tmp_path):
    pytest.importorskip("onnxruntime")
    from cardionets.export.onnx import export_onnx
    from cardionets.screen.model import make_runner

    model = load_screen_model(model_dir)
    runner = make_runner(model, "onnx", onnx_path=export_onnx(model, tmp_path / "m.onnx"), device="cpu")
    assert "CPUExecutionProvider" in runner.describe and "for device cpu" in runner.describe
    x = _batch(records, 2)
    assert np.abs(runner(x)[1] - reference_outputs(model, x)[1]).max() <= 1e-4


def test_torch_runners_follow_the_device(model_dir, records, monkeypatch):
    from cardionets.screen.model import make_runner

    model = load_screen_model(model_dir)
    run = make_runner(model, "fp32", device="cpu")
    assert run.describe == "torch fp32 on cpu"
    x = _batch(records, 2)
    assert np.abs(run(x)[0] - reference_outputs(model, x)[0]).max() == 0
    monkeypatch.setattr("cardionets.device.policy.resolve_device", lambda spec="auto": torch.device("cuda", 0))
    with pytest.raises(CardioNetsError, match="int8 .* runs on the CPU"):
        make_runner(model, "int8", device="cuda")
