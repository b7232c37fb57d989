"""A PNG of what the model sees, for a person to check a cine's preprocessing: the source's first
frame (canonically oriented) with the crop box and the heart centre, the model input at its
first frame and at the frame that differs most from it (about end-systole), and where the input
moves (temporal SD) with its centre against the input's centre."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .cmr import CineInput


def write_preview(res: CineInput, path: str | Path, title: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    x = res.x
    rep = res.report
    diff = ((x - x[0]) ** 2).mean(axis=(1, 2))
    k = int(np.argmax(diff))
    fig, ax = plt.subplots(1, 4, figsize=(13.5, 3.8))
    if res.source_image is not None:
        ax[0].imshow(res.source_image, cmap="gray")
        box = rep["crop_box"]
        r0, r1 = box["rows"]
        c0, c1 = box["cols"]
        ax[0].add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0, r1 - r0, fill=False, ec="#ffcc00", lw=1.5))
        hr, hc = rep["heart_centre_px"]
        ax[0].plot([hc], [hr], "+", color="#ff4040", ms=12, mew=2)
        ax[0].set_title("source, frame 1, crop box", fontsize=9)
    ax[1].imshow(x[0], cmap="gray", vmin=-1, vmax=1)
    ax[1].set_title("model input, frame 1", fontsize=9)
    ax[2].imshow(x[k], cmap="gray", vmin=-1, vmax=1)
    ax[2].set_title(f"model input, frame {k + 1} (most change)", fontsize=9)
    ax[3].imshow(x.std(axis=0), cmap="magma")
    mr, mc = rep["input_motion_centre_px"]
    n = x.shape[-1]
    ax[3].plot([(n - 1) / 2], [(n - 1) / 2], "+", color="white", ms=12, mew=1.5)
    ax[3].plot([mc], [mr], "x", color="#40ff40", ms=9, mew=2)
    ax[3].set_title(f"motion (SD over time): centre {rep['input_motion_offset_px']:.1f} px off", fontsize=9)
    for a in ax:
        a.set_xticks([])
        a.set_yticks([])
    view = rep["view"]
    head = title or Path(rep["file"]).name
    warn = "" if view["ok"] else f"  --  VIEW: {view['name']} ({'not 4-chamber'})"
    fig.suptitle(f"{head}: {rep['orientation']['transform']} | view {view['view']}{warn}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


__all__ = ["write_preview"]
