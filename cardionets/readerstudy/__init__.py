"""Reader-study kit (the paper's Fig. 6): can readers tell real cine CMR from generated ones, and how
do they diagnose a disease from them compared with the model?

* :func:`make_pack` (``cardionets reader-study make``): a blinded, randomised pack of real and
  generated cines rendered identically, a case sheet to fill in, and the key kept apart
  (:mod:`.pack`, :mod:`.sources`, :mod:`.sheet`, :mod:`.blinding`);
* :func:`score_sheets` (``cardionets reader-study score``): filled sheets against the key: accuracy,
  confusion matrices, Wilson intervals, inter-reader kappa, reader vs model with McNemar's test
  (:mod:`.score`, :mod:`.statistics`, :mod:`.report`).

docs/reader_study.md describes a study from start to end.
"""
from __future__ import annotations

from .pack import PackSettings, load_key, make_pack
from .report import table_markdown, write_results
from .score import score_sheets

__all__ = ["PackSettings", "load_key", "make_pack", "score_sheets", "table_markdown", "write_results"]
