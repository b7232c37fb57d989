"""Screening at a million records: throughput over time, flat memory, kill at half way and resume
with exactly one row per input, and the merge.

    python -m bench.bench_screen_million [--records 1000000] [--kill-at 0.5] [--model none|micro|tiny]

* inputs: a folder tree of hard links (no data copied), 1,000 inputs per folder, built from the
  real fixtures (25 CinC WFDB-MAT records, the 15-lead PTB record, the CardioSoft / HL7 / Sierra XML
  and both DICOM files), ``--subjects`` synthetic WFDB records (``cardionets synth``), ``.npz``
  arrays, and bad inputs (a record whose signal file is truncated, random bytes): per 1,000 inputs
  930 synthetic, 45 CinC, 5 PTB, 6 XML, 4 DICOM, 3 NumPy, 7 bad. Every hard-linked header keeps
  naming its source's signal file, which is linked once into each folder, so the walk must tell a
  record's signal files from inputs (``cardionets.screen.inputs``) at full scale.
* run: ``cardionets screen ROOT --out OUT`` in a child process (``--model none``: ``--preprocess-only``,
  i.e. read + native preprocessing + quality rows; ``micro`` / ``tiny``: an untrained screening model
  of that size), sampled every second: committed rows (from the shards' footers), records/s and the
  child's resident memory (VmRSS). At ``--kill-at`` of the inputs the child is SIGKILLed; a second
  child resumes the same OUT to the end.
* checks: the merged ``screen.parquet`` holds exactly one row per input (the set of paths equals
  the walk's), the resident memory after start-up stays within 10% of its value at 5% progress.
* merge: ``ShardStore.merge`` in a child process, wall time and peak memory.

Results: bench/results/screen_million.{json,md}. The work folder (``--work``, default a temporary
one) needs about 1 GB per million records for the shards and the directory entries.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PER_FOLDER = {"synthetic": 930, "cinc": 45, "ptb": 5, "xml": 6, "dicom": 4, "npz": 3, "bad": 7}


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------
def _sources(work: Path, subjects: int) -> dict[str, list[tuple[Path, list[Path]]]]:
    """kind -> [(entry file, signal files it needs beside it)]."""
    from cardionets.data.synth import write_cohort
    from cardionets.fixtures import fixture_dir

    fx = fixture_dir()
    synth = work / "synth"
    if not (synth / "ecg").exists():
        write_cohort(synth, n=subjects, seed=0, preset="ukb", workers=1, progress=False)
    src: dict[str, list[tuple[Path, list[Path]]]] = {
        "synthetic": [(h, [h.with_suffix(".dat")]) for h in sorted((synth / "ecg").glob("*.hea"))],
        "cinc": [(h, [h.with_suffix(".mat")]) for h in sorted((fx / "ecg" / "cinc2021").glob("*.hea"))],
        "ptb": [(fx / "ecg" / "ptb" / "s0010_re.hea",
                 [fx / "ecg" / "ptb" / "s0010_re.dat", fx / "ecg" / "ptb" / "s0010_re.xyz"])],
        "xml": [(fx / "ecg" / "formats" / n, []) for n in ("cardiosoft_ukb_style.xml", "hl7_aecg_example.xml",
                                                          "philips_sierra_1.xml")],
        "dicom": [(fx / "ecg" / "formats" / n, []) for n in ("dicom_waveform_ge_style.dcm",
                                                            "dicom_waveform_mortara.dcm")],
    }
    extra = work / "extra"
    extra.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(5000) / 500.0
    sig = np.stack([np.sin(2 * np.pi * (1 + 0.1 * j) * t) for j in range(12)]).astype(np.float32)
    np.savez(extra / "array.npz", signal=sig, fs=np.float64(500.0))
    src["npz"] = [(extra / "array.npz", [])]
    h0 = src["synthetic"][0][0]
    (extra / "cut.dat").write_bytes(h0.with_suffix(".dat").read_bytes()[:30000])
    (extra / "cut.hea").write_text(h0.read_text().replace(f"{h0.stem}.dat", "cut.dat"))
    (extra / "noise.bin").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    src["bad"] = [(extra / "cut.hea", [extra / "cut.dat"]), (extra / "noise.bin", [])]
    return src


def make_inputs(work: Path, records: int, subjects: int) -> tuple[Path, int]:
    """ROOT/f000123/<inputs> hard links; returns (ROOT, number of inputs)."""
    root = work / "inputs"
    done_marker = work / f"inputs.complete-{records}"
    if done_marker.exists():
        return root, records
    if root.exists():
        shutil.rmtree(root)
    src = _sources(work, subjects)
    n, folder_index = 0, 0
    while n < records:
        d = root / f"f{folder_index:06d}"
        d.mkdir(parents=True)
        linked: set[str] = set()
        for kind, count in PER_FOLDER.items():
            for k in range(count):
                if n >= records:
                    break
                entry, needs = src[kind][(folder_index * count + k) % len(src[kind])]
                for s in needs:
                    if s.name not in linked:
                        os.link(s, d / s.name)
                        linked.add(s.name)
                os.link(entry, d / f"r{n:07d}_{entry.name}")
                n += 1
        folder_index += 1
    done_marker.write_text("")
    return root, records


# ---------------------------------------------------------------------------------------------
# a monitored screening child
# ---------------------------------------------------------------------------------------------
def _rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Committed:
    """Rows in the committed shards of OUT, counted incrementally from the shards' footers."""

    def __init__(self, out: Path):
        self.dir = out / "shards"
        self.seen: dict[str, int] = {}

    def count(self) -> int:
        import pyarrow.parquet as pq

        if self.dir.exists():
            for f in os.listdir(self.dir):
                if f.startswith("part-") and f not in self.seen:
                    try:
                        self.seen[f] = pq.read_metadata(self.dir / f).num_rows
                    except Exception:  # noqa: BLE001 -- being renamed / not complete yet
                        continue
        return sum(self.seen.values())


def run_child(cmd: list[str], out: Path, kill_at: int | None, log: list[dict], label: str) -> dict:
    """Run ``cmd``, sample it every second, SIGKILL it once ``kill_at`` rows are committed."""
    committed = Committed(out)
    start_rows = committed.count()
    t0 = time.perf_counter()
    logs = out.parent / f"child-{label.split()[0]}.log"
    with open(logs, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    killed, first_row_s, status, ru = False, None, None, None
    while True:
        time.sleep(1.0)
        rows = committed.count()
        rss = _rss_kib(proc.pid)
        now = time.perf_counter() - t0
        if first_row_s is None and rows > start_rows:
            first_row_s = now
        log.append({"run": label, "t_s": round(now, 2), "rows": rows,
                    "rss_mib": round(rss / 1024, 1) if rss else None})
        if kill_at is not None and rows >= kill_at and not killed:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"label": label, "killed": killed, "returncode": proc.returncode, "wall_s": time.perf_counter() - t0,
            "rows_before": start_rows, "rows_after": committed.count(), "first_row_s": first_row_s,
            "peak_rss_mib": round(ru.ru_maxrss / 1024, 1), "output_tail": logs.read_text()[-2000:]}


# ---------------------------------------------------------------------------------------------
def _merge_child(out: Path) -> dict:
    code = ("import json, sys, time\nfrom cardionets.screen import ShardStore\nt = time.perf_counter()\n"
            f"s = ShardStore({str(out)!r}).lock()\np = s.merge()\n"
            "print(json.dumps({'merge_s': time.perf_counter() - t, 'path': str(p)}))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(proc.pid, 0)
    got = json.loads(proc.stdout.read().strip().splitlines()[-1])
    got["peak_rss_mib"] = round(ru.ru_maxrss / 1024, 1)
    return got


def _steady_rss(log: list[dict], total: int) -> dict:
    """Per run: RSS once 5% of the run's records are committed (start-up done: inputs listed, model
    loaded, shards verified) and its maximum afterwards."""
    out = {}
    for label in sorted({e["run"] for e in log}):
        pts = [e for e in log if e["run"] == label and e["rss_mib"]]
        if not pts:
            continue
        start = pts[0]["rows"]
        base = next((e for e in pts if e["rows"] >= start + 0.05 * (total - start)), None)
        if base is None:
            continue
        after = [e["rss_mib"] for e in pts if e["t_s"] >= base["t_s"]]
        out[label] = {"rss_at_5pct_mib": base["rss_mib"], "max_after_mib": max(after),
                      "growth": max(after) / base["rss_mib"] - 1.0}
    return out


def _throughput(log: list[dict], window_s: float = 60.0) -> list[dict]:
    rows = []
    for label in sorted({e["run"] for e in log}):
        pts = [e for e in log if e["run"] == label]
        last = pts[0]
        for e in pts[1:]:
            if e["t_s"] - last["t_s"] >= window_s:
                rows.append({"run": label, "t_s": e["t_s"], "rows": e["rows"],
                             "records_per_s": (e["rows"] - last["rows"]) / (e["t_s"] - last["t_s"]),
                             "rss_mib": e["rss_mib"]})
                last = e
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--kill-at", type=float, default=0.5, help="fraction of the inputs at which the first run is killed")
    ap.add_argument("--model", choices=["none", "micro", "tiny"], default="none",
                    help="none: --preprocess-only; micro (width 32, depth 1) or tiny: an untrained screening model")
    ap.add_argument("--subjects", type=int, default=200, help="synthetic WFDB records behind the inputs")
    ap.add_argument("--readers", type=int, default=1)
    ap.add_argument("--shard-size", type=int, default=4096)
    ap.add_argument("--work", default=None, help="work folder (kept; default: a temporary one, removed)")
    ap.add_argument("--results", default="bench/results", help="where screen_million.{json,md} go")
    args = ap.parse_args(argv)

    work = Path(args.work or tempfile.mkdtemp(prefix="bench_million_"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    root, n = make_inputs(work, args.records, args.subjects)
    setup_s = time.perf_counter() - t
    out = work / "out"
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "cardionets", "screen", str(root), "--out", str(out), "--no-progress",
           "--readers", str(args.readers), "--shard-size", str(args.shard_size)]
    if args.model == "none":
        cmd.append("--preprocess-only")
    else:
        from cardionets.screen.untrained import write_untrained_model

        extra = dict(width=32, depth=1, heads=2) if args.model == "micro" else {}
        cmd += ["--model", str(write_untrained_model(work / f"model_{args.model}", "tiny", **extra)), "--threads", "1"]
    load = os.getloadavg()
    log: list[dict] = []
    first = run_child(cmd, out, int(args.kill_at * n), log, "first (killed)")
    second = run_child(cmd, out, None, log, "resume")
    merge = _merge_child(out)
    import pyarrow.parquet as pq

    from cardionets.screen import expand_inputs

    paths = pq.read_table(out / "screen.parquet", columns=["path"]).column("path").to_pylist()
    expected = {it.path for it in expand_inputs([root], out=out)}
    check = {"inputs": len(expected), "rows": len(paths), "unique_paths": len(set(paths)),
             "rows_equal_inputs": set(paths) == expected and len(paths) == len(expected)}
    summary = json.loads((out / "summary.json").read_text())
    result = {"records": n, "model": args.model, "readers": args.readers, "shard_size": args.shard_size,
              "setup_s": setup_s, "load_average_at_start": load, "cpu": _cpu(), "first": first, "resume": second,
              "merge": merge, "check": check, "rss": _steady_rss(log, n), "throughput": _throughput(log),
              "resume_summary": summary, "date": time.strftime("%Y-%m-%d %H:%M"), "timeline": log}
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / "screen_million.json").write_text(json.dumps(result, indent=1, default=str))
    (results / "screen_million.md").write_text(_markdown(result))
    print(_markdown(result))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if check["rows_equal_inputs"] else 1


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + f" ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return "unknown"


def _markdown(r: dict) -> str:
    f, s, m = r["first"], r["resume"], r["merge"]
    lines = [f"# screen_million: {r['records']:,} inputs, model {r['model']}, {r['readers']} reader thread(s)", "",
             f"{r['date']}, {r['cpu']}, load average at start {r['load_average_at_start'][0]:.2f}", "",
             "| run | wall s | rows before | rows after | first new row after s | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|"]
    for x in (f, s):
        lines.append(f"| {x['label']} | {x['wall_s']:.0f} | {x['rows_before']:,} | {x['rows_after']:,} | "
                     f"{x['first_row_s'] or 0:.0f} | {x['peak_rss_mib'] or '-'} |")
    lines += ["", f"merge: {m['merge_s']:.1f} s, peak RSS {m['peak_rss_mib']} MiB", "",
              f"check: {r['check']}", "", "| run | RSS at 5% MiB | max after MiB | growth |", "|---|---:|---:|---:|"]
    for label, v in r["rss"].items():
        lines.append(f"| {label} | {v['rss_at_5pct_mib']} | {v['max_after_mib']} | {100 * v['growth']:.1f}% |")
    lines += ["", "| run | t s | rows | records/s (last minute) | RSS MiB |", "|---|---:|---:|---:|---:|"]
    for v in r["throughput"]:
        lines.append(f"| {v['run']} | {v['t_s']:.0f} | {v['rows']:,} | {v['records_per_s']:.0f} | {v['rss_mib']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
