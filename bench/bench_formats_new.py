"""Time the new format readers against each tool's own reader, in the same run.

DeepLabCut: ``Table.from_dlc`` (parse, check, build the table and write it to a store)
against pandas' ``read_csv(header=[0, 1, 2, 3], index_col=[0, 1, 2])`` of the same file
(the parse only, which is what DeepLabCut itself does to load labels). The file is the real
multi-animal example, its rows repeated with a fixed layout to a larger size in a temporary
folder (``--rows``). Prints the seconds of each (best of ``--repeat``) and the ratio.

Run: ``python bench/bench_formats_new.py [--rows 20000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402
from tests._data import data_path  # noqa: E402

import posetable as pt  # noqa: E402


def _best(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def _dlc_project(rows: int, folder: Path) -> Path:
    source = data_path("dlc") / "multi_mouse"
    project = folder / "multi_mouse"
    shutil.copytree(source, project)
    csv = project / "labeled-data/m3v1mp4short/CollectedData_dlc_team.csv"
    lines = csv.read_text().splitlines(keepends=True)
    header, body = lines[:4], lines[4:]
    out = list(header)
    for i in range(rows):  # each row names one of the 7 real frames (their sizes are real)
        cells = body[i % len(body)].split(",", 3)
        out.append(",".join([cells[0], cells[1], f"{cells[2]}", cells[3]]))
    csv.write_text("".join(out))
    return project


def bench_dlc(rows: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = _dlc_project(rows, Path(tmp))
        csv = project / "labeled-data/m3v1mp4short/CollectedData_dlc_team.csv"
        counter = [0]

        def ours() -> None:
            counter[0] += 1
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pt.Table.from_dlc(project, name=f"t{counter[0]}", store=Path(tmp) / "store")

        def theirs() -> None:
            pd.read_csv(csv, header=[0, 1, 2, 3], index_col=[0, 1, 2])

        mine, peer = _best(ours, repeat), _best(theirs, repeat)
        print(
            f"dlc  {rows:>7} rows  posetable.from_dlc {mine:.3f}s  "
            f"pandas.read_csv {peer:.3f}s  ratio {mine / peer:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench_dlc(args.rows, args.repeat)
    print("sleap: not measured (no SLEAP reader yet)")


if __name__ == "__main__":
    main()
