"""WFDB reading: the native C++ reader against wfdb.rdrecord on format-16 records (12 x 5000).

    python -m bench.bench_wfdb [--reads 1000] [--quick]

Each provider reads every record and drops it, as a screening loop does (read -> preprocess ->
discard). Records: the CinC fixtures (.mat, format 16 behind a MATLAB header) and the same signals
re-written as plain format-16 .dat records; cycled to --reads reads (files are in the page cache).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from cardionets import native  # noqa: E402
from cardionets.io import read_ecg  # noqa: E402
from cardionets.io.ecg_wfdb import read_wfdb_many  # noqa: E402

from cardionets.fixtures import fixture_dir  # noqa: E402

from .harness import Report, compare  # noqa: E402


def fixture_records() -> list[Path]:
    root = fixture_dir()
    return sorted((root / "ecg" / "cinc2021").glob("*.hea"))


def write_dat_records(heas: list[Path], out: Path) -> list[Path]:
    import wfdb

    paths = []
    for h in heas:
        rec = wfdb.rdrecord(str(h.with_suffix("")), physical=False)
        name = h.stem + "_dat"
        wfdb.wrsamp(name, fs=rec.fs, units=rec.units, sig_name=rec.sig_name, d_signal=rec.d_signal,
                    fmt=["16"] * rec.n_sig, adc_gain=rec.adc_gain, baseline=rec.baseline, write_dir=str(out))
        paths.append(out / f"{name}.hea")
    return paths


def main(argv: list[str] | None = None) -> None:
    import wfdb

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reads", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="100 reads, one repeat")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args(argv)
    n = 100 if args.quick else args.reads
    heas = fixture_records()
    if not heas:
        raise SystemExit("the CinC fixtures (tests/fixtures/ecg/cinc2021) are needed for this benchmark")
    C = native.load()
    report = Report("wfdb")
    with tempfile.TemporaryDirectory() as tmp:
        sets = {"CinC .mat (format 16 +24)": heas, "plain .dat (format 16)": write_dat_records(heas, Path(tmp))}
        for label, recs in sets.items():
            paths = [str(recs[i % len(recs)]) for i in range(n)]
            names = [p[:-4] for p in paths]
            nbytes = sum(Path(p).with_suffix(".mat" if "CinC" in label else ".dat").stat().st_size for p in paths)

            def stream(fn, items):
                def run():
                    for it in items:
                        fn(it)
                return run

            providers = {
                "wfdb.rdrecord": stream(wfdb.rdrecord, names),
                "cardionets.io.read_ecg": stream(read_ecg, paths),
                "native _C.wfdb_read": stream(C.wfdb_read, paths),
                "native read_wfdb_many (1 thread, batch)": lambda: read_wfdb_many(paths, threads=1),
                "native read_wfdb_many (2 threads, batch)": lambda: read_wfdb_many(paths, threads=2),
            }
            report.add(compare(f"read {n} records, {label}, 12 x 5000", providers, reference="wfdb.rdrecord",
                               params={"reads": n, "distinct_records": len(recs)}, items=n,
                               bytes_moved=2 * nbytes, peaks=report.peaks, warmup=1,
                               repeats=1 if args.quick else 2))
    report.write(args.out)


if __name__ == "__main__":
    main()
