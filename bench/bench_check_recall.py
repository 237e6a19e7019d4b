"""Recall and false alarms of each ``pt.check`` rule on faults injected into the real data.

For each real dataset of ``tests/data`` (COCO, CrowdPose, AI Challenger, OneHand10K,
Horse-10, AP-10K: 37 instances) and each seed, every eligible instance gets one fault of a
kind (``tests/_faults.py``: a swapped left/right pair, a moved joint, a duplicated person,
a point outside the image...); the rule meant for it should report that instance. Prints,
per fault kind: how many were injected and found (recall), findings of the rule elsewhere
in the faulty tables (false alarms), and what each rule reports on the clean data.

    python bench/bench_check_recall.py --seeds 5
"""

import argparse
import collections
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import _faults
from tests._data import data_path

import posetable as pt
from posetable.errors import PosetableWarning

DATASETS = ("coco_kpts", "crowdpose", "aic", "onehand10k", "horse10", "ap10k")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    store = tempfile.mkdtemp(prefix="check-recall-")
    tables = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PosetableWarning)
        for name in DATASETS:
            folder = data_path(name)
            tables[name] = pt.Table.from_coco(
                folder / "annotations.json", folder / "images", name=name, store=store
            )
    instances = sum(len(row["keypoints"]) for t in tables.values() for row in t)
    clean = {name: pt.check(t) for name, t in tables.items()}
    counts: collections.Counter[str] = collections.Counter()
    for findings in clean.values():
        for f in findings.to_pylist():
            if f["severity"] != "info":
                counts[f["rule"]] += 1
    print(f"clean data: {instances} instances in {len(tables)} datasets")
    print(f"{'fault':24} {'rule':28} {'found':>13} {'recall':>7} {'false alarms':>13}")
    for kind, (_, rule, _) in _faults.FAULTS.items():
        found = injected = extra = 0
        for seed in range(args.seeds):
            for name, table in tables.items():
                edited, truth = _faults.inject(table, kind, seed)
                if edited is None:
                    continue
                hits = _faults.found_at(pt.check(edited, rules=[rule]), rule)
                want = {(r, i) for r, i, _ in truth}
                found += len(want & hits)
                injected += len(want)
                extra += len(hits - want - _faults.found_at(clean[name], rule))
        print(
            f"{kind:24} {rule:28} {found:>6} of {injected:<4} {found / max(injected, 1):7.2f} "
            f"{extra:>13}"
        )
    print("findings on the clean data, per rule:", dict(counts))


if __name__ == "__main__":
    main()
