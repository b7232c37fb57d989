"""diffusion_sample: schedule facts, the head's shapes, and every backend against the reference
(same weights, condition and noise -> same samples within 1e-4 in fp32)."""
from __future__ import annotations

import copy

import pytest
import torch

from cardionets.models.diffusion_head import (DiffusionHeadConfig, SimpleMLPAdaLN, diffusion_head_tiny, eps_error_gain,
                                              sampling_schedule, selfcheck_init_, space_timesteps)
from cardionets.ops import diffusion_sample


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny matmuls: a second intra-op thread only adds spin-wait latency on a loaded 2-core box."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_respacing_rules():
    keep = space_timesteps(1000, 100, "even")  # improved DDPM's rule
    assert len(keep) == 100 and keep[0] == 0 and keep[-1] == 999 and keep[1] == 10
    assert space_timesteps(1000, 100) == list(range(0, 1000, 10))  # default "stride": DDIM's even stride
    assert space_timesteps(1000, 1000) == list(range(1000)) == space_timesteps(1000, 1000, "even")
    s = sampling_schedule(100, 1000)
    assert s.timesteps[0] == 990 and s.timesteps[-1] == 0
    # the default rule leaves out t = 999 (capped beta), whose first step multiplies eps errors by 316
    assert eps_error_gain(sampling_schedule(100, 1000, "even"))[0] > 300
    assert eps_error_gain(s).max() < 2.0
    # last step: posterior mean is the predicted x0
    assert abs(float(s.coef1[-1]) - 1.0) < 1e-12 and abs(float(s.coef2[-1])) < 1e-12
    assert torch.all(s.log_beta >= s.post_logvar - 1e-12)


def test_head_shapes_and_zero_init():
    head = SimpleMLPAdaLN(DiffusionHeadConfig(token_dim=8, cond_dim=12, width=32, depth=2))
    x, t, c = torch.randn(5, 8), torch.randint(0, 1000, (5,)), torch.randn(5, 12)
    out = head(x, t, c)
    assert out.shape == (5, 16)
    assert torch.count_nonzero(out) == 0  # zero-initialised output layer (MAR)


def _setup(n, guided, steps, seed=0):
    g = torch.Generator().manual_seed(seed)
    head = selfcheck_init_(diffusion_head_tiny().eval(), g)
    cond = torch.randn(n * (2 if guided else 1), head.cfg.cond_dim, generator=g)
    noise = torch.randn(steps, n, head.cfg.token_dim, generator=g)
    return head, cond, noise


def _check(backend, n, guided, steps, temperature=0.9):
    head, cond, noise = _setup(n, guided, steps)
    kw = dict(num_steps=steps, cfg_scale=3.0 if guided else 1.0, temperature=temperature, noise=noise)
    ref = diffusion_sample(head, cond, backend="reference", **kw)
    got = diffusion_sample(head, cond, backend=backend, **kw)
    truth = diffusion_sample(copy.deepcopy(head).double(), cond.double(), backend="reference",
                             **{**kw, "noise": noise.double()})
    assert got.shape == (n, head.cfg.token_dim) and torch.isfinite(got).all()
    assert ref.abs().max() < 10  # the self-check weights keep samples O(1)
    err, err_ref = (got.double() - truth).abs().max().item(), (ref.double() - truth).abs().max().item()
    assert err <= 2 * err_ref + 1e-5, f"{backend}: err {err:.3g} vs fp32 reference {err_ref:.3g}"
    if steps == 100:
        assert (got - ref).abs().max() <= 1e-4


@pytest.mark.parametrize("guided", [False, True])
@pytest.mark.parametrize("n", [1, 7])
def test_cpu_matches_reference(guided, n):
    _check("cpu", n, guided, 100)


@pytest.mark.interpreter
def test_generator_streams_agree():
    """Every backend consumes a generator identically (the triton loop draws the whole stream up front
    into its static noise buffer, in the same order)."""
    head, cond, _ = _setup(4, True, 30)
    outs = [diffusion_sample(head, cond, num_steps=30, cfg_scale=2.0, generator=torch.Generator().manual_seed(5),
                             backend=be) for be in ("reference", "cpu", "triton")]
    assert (outs[0] - outs[1]).abs().max() <= 1e-4 and (outs[0] - outs[2]).abs().max() <= 1e-4


def test_cuda_graphs_only_for_cuda_tensors(monkeypatch):
    from cardionets.ops._diffusion_sample_triton import GRAPHS_ENV, graphs_wanted

    assert graphs_wanted(torch.device("cpu")) == (False, "inputs on cpu: CUDA graphs need CUDA tensors")
    assert graphs_wanted(torch.device("cuda", 0))[0]
    monkeypatch.setenv(GRAPHS_ENV, "0")
    assert graphs_wanted(torch.device("cuda", 0)) == (False, f"{GRAPHS_ENV}=0")


def test_rejects_bad_inputs():
    head, cond, noise = _setup(3, True, 10)
    with pytest.raises(ValueError, match="even"):
        diffusion_sample(head, cond[:5], num_steps=10, cfg_scale=2.0)
    with pytest.raises(ValueError, match="noise"):
        diffusion_sample(head, cond, num_steps=12, cfg_scale=2.0, noise=noise)


@pytest.mark.interpreter
@pytest.mark.parametrize("guided,n,steps", [(True, 3, 20), (False, 2, 10)])
def test_triton_matches_reference(guided, n, steps):
    _check("triton", n, guided, steps)


@pytest.mark.interpreter
@pytest.mark.slow
def test_triton_100_steps():
    _check("triton", 5, True, 100)


@pytest.mark.gpu
def test_triton_cuda_graph_capture(monkeypatch):
    """The fused loop has no host sync: even launched eagerly (its own graphs off) it can be captured in
    a CUDA graph by the caller and replayed (test_gpu.py checks the backend's own graphs)."""
    from cardionets.ops._diffusion_sample_triton import GRAPHS_ENV

    monkeypatch.setenv(GRAPHS_ENV, "0")
    dev = torch.device("cuda", torch.cuda.current_device())
    head, cond, noise = _setup(180, True, 100)
    head, cond, noise = head.to(dev), cond.to(dev), noise.to(dev)
    kw = dict(num_steps=100, cfg_scale=3.0, temperature=1.0, noise=noise)
    ref = diffusion_sample(head, cond, backend="reference", **kw)
    eager = diffusion_sample(head, cond, backend="triton", **kw)  # warm-up: compiles the kernels
    assert (eager - ref).abs().max() <= 1e-4
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = diffusion_sample(head, cond, backend="triton", **kw)
    graph.replay()
    torch.cuda.synchronize()
    assert (captured - ref).abs().max() <= 1e-4
