import numpy as np
import pytest

from cardionets.errors import InputError
from cardionets.eval.interpret import patch_similarity


def test_patch_similarity_matches_loop():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 8))
    t = rng.normal(size=(3, 36, 8))
    sim = patch_similarity(z, t)
    assert sim.shape == (3, 6, 6)
    for i in range(3):
        for p in range(36):
            c = z[i] @ t[i, p] / np.linalg.norm(z[i]) / np.linalg.norm(t[i, p])
            assert sim[i, p // 6, p % 6] == pytest.approx(c)
    t[1, 7] = 5 * z[1]
    assert patch_similarity(z, t)[1, 1, 1] == pytest.approx(1.0)
    with pytest.raises(InputError, match="square"):
        patch_similarity(z, t[:, :37 - 2])
