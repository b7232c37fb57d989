"""Cine geometry: the image plane in patient coordinates, a canonical display orientation, and the
view check.

Coordinates are DICOM patient coordinates (LPS: +x patient left, +y posterior, +z superior).
A plane is given by two unit vectors: ``right`` (the direction of increasing column index, i.e.
along a row) and ``down`` (increasing row index). DICOM's ImageOrientationPatient holds exactly
these; a NIfTI affine (RAS) gives them from its first two columns with x and y negated.

**Canonical orientation** (:func:`canonical_transform`): of the eight flips/transposes of the
pixel grid, the one whose screen-right points most towards the patient's left and whose
screen-down points most towards posterior (then inferior) -- the radiological display of a
4-chamber view: ventricles and apex up, atria down, the left heart on the image right. This is
the layout of the synthetic cohort's cines, so real and synthetic inputs agree.

**View check** (:func:`check_view`), from what the metadata allows, strongest evidence first:
1. the series description (UK Biobank ``CINE_segmented_LAX_4Ch``, ``CINE_segmented_SAX_b5``, ...;
   :data:`VIEW_PATTERNS`);
2. several parallel slices (a stack: short-axis stacks come this way);
3. the plane's orientation: a short-axis plane is perpendicular to the LV long axis, which points
   from base to apex to the patient's left, anterior and inferior (:data:`LV_LONG_AXIS`, roughly
   45 degrees from each body axis); a plane whose normal lies within ~37 degrees of it
   (|cos| >= :data:`SHORT_AXIS_COS`) is called short-axis. Long-axis planes (2/3/4-chamber)
   contain that axis (|cos| near 0). Anatomy varies by +-15-20 degrees, so this only flags; it
   cannot tell the 2-, 3- and 4-chamber planes apart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

L = np.array([1.0, 0.0, 0.0])
P = np.array([0.0, 1.0, 0.0])
I = np.array([0.0, 0.0, -1.0])  # noqa: E741 -- inferior
LV_LONG_AXIS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)       # left, anterior, inferior (LPS)
SHORT_AXIS_COS = 0.8

# (view, pattern on the lower-cased description), first match wins
VIEW_PATTERNS: list[tuple[str, str]] = [
    ("4ch", r"4\s*-?\s*ch|four[\s_-]*chamber|4[\s_-]*chamber|\bhla\b"),
    ("2ch", r"2\s*-?\s*ch|two[\s_-]*chamber|2[\s_-]*chamber|\bvla\b"),
    ("3ch", r"3\s*-?\s*ch|three[\s_-]*chamber|3[\s_-]*chamber|lvot"),
    ("short-axis", r"sax|short[\s_-]*axis|(?:^|[_\s])sa(?:[_\s]|$)"),
    ("other", r"(?:^|[_\s])ao(?:[_\s]|$)|aort|flow|tagging|t1map|shmolli|scout|locali[sz]er"),
]

VIEW_NAMES = {"4ch": "4-chamber long axis", "2ch": "2-chamber long axis", "3ch": "3-chamber / LVOT",
              "short-axis": "short axis", "other": "not a cardiac cine view", "unknown": "unknown"}


def classify_description(description: str | None) -> str | None:
    """The view a series description names ("4ch", "2ch", "3ch", "short-axis", "other") or None."""
    d = (description or "").strip().lower()
    if not d:
        return None
    for view, pat in VIEW_PATTERNS:
        if re.search(pat, d):
            return view
    return None


def axes_from_iop(iop) -> tuple[np.ndarray, np.ndarray] | None:
    """(right, down) unit vectors in LPS from DICOM ImageOrientationPatient, or None if unusable."""
    try:
        v = np.asarray([float(x) for x in iop], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if v.shape != (6,) or not np.isfinite(v).all():
        return None
    return _unit_pair(v[:3], v[3:])


def axes_from_affine(affine) -> tuple[np.ndarray, np.ndarray] | None:
    """(right, down) in LPS from a NIfTI affine (RAS): data axis 0 is the image column index
    (screen right), axis 1 the row index (screen down)."""
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (4, 4) or not np.isfinite(a).all():
        return None
    flip = np.array([-1.0, -1.0, 1.0])
    return _unit_pair(a[:3, 0] * flip, a[:3, 1] * flip)


def _unit_pair(r: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    nr, nd = np.linalg.norm(r), np.linalg.norm(d)
    if nr < 1e-6 or nd < 1e-6:
        return None
    r, d = r / nr, d / nd
    if abs(float(r @ d)) > 0.1:                     # not an orthogonal in-plane pair
        return None
    return r, d


@dataclass(frozen=True)
class GridTransform:
    """transpose, then flip rows / columns, of a [t, rows, cols] array."""
    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    def describe(self) -> str:
        parts = [n for n, on in (("transpose", self.transpose), ("flip rows", self.flip_rows),
                                 ("flip columns", self.flip_cols)) if on]
        return ", ".join(parts) or "none"

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """A view of ``frames`` [t, rows, cols] in the transformed grid (no copy)."""
        x = frames.transpose(0, 2, 1) if self.transpose else frames
        if self.flip_rows:
            x = x[:, ::-1, :]
        if self.flip_cols:
            x = x[:, :, ::-1]
        return x

    def spacing(self, spacing: tuple[float, float]) -> tuple[float, float]:
        return (spacing[1], spacing[0]) if self.transpose else spacing

    def axes(self, right: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r, d = (down, right) if self.transpose else (right, down)
        return (-r if self.flip_cols else r), (-d if self.flip_rows else d)


def canonical_transform(right: np.ndarray, down: np.ndarray) -> GridTransform:
    """The flip/transpose putting screen-right towards patient left and screen-down towards
    posterior (then inferior); the identity wins ties."""
    best, best_score = GridTransform(), -np.inf
    for tr in (False, True):
        for fr in (False, True):
            for fc in (False, True):
                t = GridTransform(tr, fr, fc)
                r, d = t.axes(right, down)
                score = float(r @ L + d @ P + 0.5 * (d @ I))
                if score > best_score + 1e-9:
                    best, best_score = t, score
    return best


def direction_name(v: np.ndarray) -> str:
    """'L', 'PI', ... the patient directions a unit vector mostly points to (components >= 0.4)."""
    names = (("L", "R"), ("P", "A"), ("S", "I"))
    out = "".join(pos if c > 0 else neg for c, (pos, neg) in zip(v, names) if abs(c) >= 0.4)
    return out or "oblique"


@dataclass
class ViewCheck:
    view: str                                  # 4ch | 2ch | 3ch | short-axis | other | unknown
    source: str                                # what decided it
    ok: bool                                   # fit for the 4-chamber model input
    warnings: list[str] = field(default_factory=list)
    long_axis_cos: float | None = None

    def to_dict(self) -> dict:
        return {"view": self.view, "name": VIEW_NAMES.get(self.view, self.view), "source": self.source,
                "ok": self.ok, "warnings": list(self.warnings), "normal_vs_lv_long_axis_cos": self.long_axis_cos}


def check_view(description: str | None, n_slices: int, axes: tuple[np.ndarray, np.ndarray] | None) -> ViewCheck:
    """Classify the cine's view (module docstring) and say whether it fits the 4-chamber model."""
    cos = None
    if axes is not None:
        normal = np.cross(axes[0], axes[1])
        cos = round(float(abs(normal @ LV_LONG_AXIS)), 3)
    named = classify_description(description)
    warnings: list[str] = []
    if named is not None:
        check = ViewCheck(named, f"series description {description!r}", named == "4ch", warnings, cos)
    elif n_slices > 1:
        check = ViewCheck("short-axis", f"a stack of {n_slices} parallel slices", False, warnings, cos)
    elif cos is not None and cos >= SHORT_AXIS_COS:
        check = ViewCheck("short-axis", f"plane orientation (normal at |cos| {cos:.2f} to the typical LV long "
                                        f"axis; >= {SHORT_AXIS_COS} means short axis)", False, warnings, cos)
    else:
        src = ("plane orientation (contains the typical LV long axis)" if cos is not None else
               "no series description or plane geometry")
        check = ViewCheck("unknown", src, True, warnings, cos)
    if named == "4ch" and n_slices > 1:
        warnings.append(f"described as 4-chamber but holds {n_slices} slice positions")
    if not check.ok:
        warnings.append(f"this is a {VIEW_NAMES.get(check.view, check.view)} cine ({check.source}); the model was "
                        "trained on 4-chamber long-axis cines, so its outputs for it are not meaningful")
    elif named == "4ch" and cos is not None and cos >= SHORT_AXIS_COS:
        warnings.append(f"described as 4-chamber but the plane lies like a short-axis slice (|cos| {cos:.2f})")
    return check


__all__ = ["GridTransform", "LV_LONG_AXIS", "SHORT_AXIS_COS", "VIEW_NAMES", "VIEW_PATTERNS", "ViewCheck",
           "axes_from_affine", "axes_from_iop", "canonical_transform", "check_view", "classify_description",
           "direction_name"]
