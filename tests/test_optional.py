"""Optional dependencies go through cardionets.optional: a clear error naming the extra."""
import pytest

from cardionets.errors import BackendUnavailable
from cardionets.optional import install_hint, installed, require


def test_require_names_the_extra_to_install():
    assert require("json").dumps([1]) == "[1]"
    with pytest.raises(BackendUnavailable, match=r"--engine ray needs ray_not_here_pkg"):
        require("ray_not_here_pkg", "--engine ray")
    assert "cardionets[distributed]" in install_hint("ray.data")
    assert "cardionets[export]" in install_hint("onnxruntime")
    assert installed("numpy") and not installed("no_such_package_xyz") and not installed("no_such_pkg.sub")
