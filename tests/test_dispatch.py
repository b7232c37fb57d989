import pytest

from cardionets.errors import BackendUnavailable
from cardionets.ops.dispatch import Op


def make_op():
    op = Op("toy")
    calls = []

    @op.register("fast", env_check=lambda: ["fast library missing"])
    def fast(x):
        calls.append("fast")
        return x

    @op.register("medium", input_check=lambda x: [] if x >= 0 else ["negative input"])
    def medium(x):
        calls.append("medium")
        return x + 1

    @op.register("reference")
    def reference(x):
        calls.append("reference")
        return x + 1

    return op, calls


def test_auto_takes_first_without_reasons_and_records_rejections():
    op, calls = make_op()
    chosen, rejected = op.select(3)
    assert chosen.name == "medium"
    assert rejected == {"fast": ["fast library missing"]}
    assert op(3) == 4 and calls == ["medium"]


def test_auto_falls_back_on_input_reasons():
    op, calls = make_op()
    assert op(-1) == 0
    assert calls == ["reference"]


def test_explicit_choice_raises_with_reasons():
    op, _ = make_op()
    with pytest.raises(BackendUnavailable, match="fast library missing"):
        op(1, backend="fast")
    with pytest.raises(BackendUnavailable, match="negative input"):
        op(-1, backend="medium")
    with pytest.raises(BackendUnavailable, match="has no backend 'nope'"):
        op(1, backend="nope")


def test_environment_override(monkeypatch):
    op, calls = make_op()
    monkeypatch.setenv("CARDIONETS_BACKEND_TOY", "reference")
    assert op(1) == 2 and calls == ["reference"]
    monkeypatch.setenv("CARDIONETS_BACKEND_TOY", "fast")
    with pytest.raises(BackendUnavailable, match="CARDIONETS_BACKEND_TOY"):
        op(1)
    # the argument wins over the environment
    assert op(1, backend="medium") == 2


def test_global_override_only_applies_where_the_backend_exists(monkeypatch):
    op, calls = make_op()
    monkeypatch.setenv("CARDIONETS_BACKEND", "reference")
    op(1)
    assert calls == ["reference"]
    monkeypatch.setenv("CARDIONETS_BACKEND", "triton")  # toy has none: ignored
    op(1)
    assert calls[-1] == "medium"


def test_explain_and_environment_report():
    op, _ = make_op()
    text = op.explain(-1)
    assert "-> reference" in text and "negative input" in text
    assert op.environment_report()[0] == ("fast", ["fast library missing"])


def test_all_backends_rejected_lists_every_reason():
    op = Op("strict")
    op.register("a", env_check=lambda: ["no a"])(lambda: 0)
    op.register("b", env_check=lambda: ["no b"])(lambda: 0)
    with pytest.raises(BackendUnavailable, match="a: no a; b: no b"):
        op()
