"""A plain, loop-by-loop reading of coco-analyze's definitions (matteorr/coco-analyze,
``pycocotools/cocoanalyze.py`` and ``analysisAPI/errorsAPImpact.py``), on top of
pycocotools itself, to check posetable's vectorised ``pt.diagnose`` against.

Written from the definitions, one prediction and one keypoint at a time, and slow on
purpose: pycocotools does every matching and every AP, as it does inside coco-analyze.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math

import numpy as np

JITTER_LOW, JITTER_HIGH = 0.5, 0.85
EPS = np.spacing(1)


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


def coco_eval(gt_doc: dict, results: list[dict], sigmas, thresholds=None, max_dets=20):
    """A pycocotools COCOeval after ``evaluate()`` (not accumulated)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with _quiet():
        gt = COCO()
        gt.dataset = copy.deepcopy(gt_doc)
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(results)) if results else COCO()
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        if thresholds is not None:
            ev.params.iouThrs = np.asarray(thresholds, float)
        ev.params.maxDets = [max_dets]
        ev.evaluate()
    return ev


def ap_of(gt_doc: dict, results: list[dict], sigmas) -> float:
    """pycocotools' AP .50:.95 (area all, 20 detections)."""
    ev = coco_eval(gt_doc, results, sigmas)
    with _quiet():
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def _all_area(ev) -> list[dict]:
    area = ev.params.areaRng[0]
    return [e for e in ev.evalImgs if e is not None and e["aRng"] == area]


def classify(gt_doc: dict, results: list[dict], sigmas, flips) -> dict[int, dict]:
    """Result index -> {"gt": gt id, "errors": {k: class}, "fixed": {k: (x, y)}}."""
    ev = coco_eval(gt_doc, results, sigmas, thresholds=[0.1])
    dts = ev.cocoDt.anns
    gts = ev.cocoGt.anns
    sig = np.asarray(sigmas, float)
    out: dict[int, dict] = {}
    for e in _all_area(ev):
        for slot, dt_id in enumerate(e["dtIds"]):
            gt_id = int(e["dtMatches"][0][slot])
            if gt_id == 0 or gts[gt_id]["num_keypoints"] == 0:
                continue
            dt = dts[dt_id]
            gt = gts[gt_id]
            others = [a for a in ev.cocoGt.imgToAnns[e["image_id"]] if a["id"] != gt_id]
            people = [gt, *others]
            rows = [(p, False) for p in people]
            if flips is not None:
                rows += [(p, True) for p in people]
            k = len(sig)
            d = np.asarray(dt["keypoints"], float).reshape(k, 3)
            errors, fixed = {}, {}
            g = np.asarray(gt["keypoints"], float).reshape(k, 3)
            for j in range(k):
                if g[j, 2] == 0:
                    continue
                best, arg = -math.inf, -1
                for r, (person, mirrored) in enumerate(rows):
                    p = np.asarray(person["keypoints"], float).reshape(k, 3)
                    src = flips[j] if mirrored else j
                    if p[src, 2] == 0:
                        term = -1.0
                    else:
                        d2 = (d[j, 0] - p[src, 0]) ** 2 + (d[j, 1] - p[src, 1]) ** 2
                        term = math.exp(-d2 / (2 * sig[j]) ** 2 / (person["area"] + EPS) / 2)
                    if term > best:
                        best, arg = term, r
                best = max(best, 0.0)
                own, inverted = arg == 0, flips is not None and arg == len(people)
                if own and best >= JITTER_HIGH:
                    errors[j] = "good"
                elif own and best >= JITTER_LOW:
                    errors[j] = "jitter"
                elif best < JITTER_LOW:
                    errors[j] = "miss"
                elif inverted:
                    errors[j] = "inversion"
                else:
                    errors[j] = "swap"
                t = {"jitter": JITTER_HIGH, "miss": JITTER_LOW}.get(errors[j], best)
                t = t + EPS * (t == 0) - EPS * (t == 1)
                shift = math.sqrt(-math.log(t) * 2 * gt["area"] * sig[j] ** 2)
                fixed[j] = (g[j, 0] + shift, g[j, 1])
            out[dt_id - 1] = {  # pycocotools numbers results 1..N in file order
                "gt": gt_id,
                "errors": errors,
                "fixed": fixed,
            }
    return out


def fixed_results(results: list[dict], classes: dict[int, dict], error: str) -> list[dict]:
    """The results with every point of class ``error`` moved where its fix puts it."""
    out = copy.deepcopy(results)
    for index, info in classes.items():
        kp = out[index]["keypoints"]
        for j, name in info["errors"].items():
            if name == error:
                kp[3 * j], kp[3 * j + 1] = info["fixed"][j]
    return out


def rescored(gt_doc: dict, results: list[dict], sigmas) -> list[dict]:
    """coco-analyze's optimal scores: best OKS with a non-ignored gt, then soft-NMS."""
    ev = coco_eval(gt_doc, results, sigmas, max_dets=len(results) + 1)
    sig = np.asarray(sigmas, float)
    variances = (sig * 2) ** 2
    best = {}
    for e in _all_area(ev):
        ious = ev.ious[(e["image_id"], e["category_id"])]
        dts = sorted(ev._dts[e["image_id"], e["category_id"]], key=lambda d: -d["score"])
        gts = ev._gts[e["image_id"], e["category_id"]]
        for i, d in enumerate(dts):
            values = [ious[i, j] for j, g in enumerate(gts) if not g["ignore"]] if len(ious) else []
            best[d["id"]] = max(values) if values else 0.0
    out = copy.deepcopy(results)
    by_image: dict[int, list[int]] = {}
    for n, d in enumerate(ev.cocoDt.dataset["annotations"]):
        by_image.setdefault(d["image_id"], []).append(n)
    for members in by_image.values():
        remaining = [(n, best[ev.cocoDt.dataset["annotations"][n]["id"]]) for n in members]
        while remaining:
            remaining.sort(key=lambda item: -item[1])
            m, score = remaining.pop(0)
            out[m]["score"] = score
            mk = np.asarray(results[m]["keypoints"], float).reshape(-1, 3)
            m_area = np.ptp(mk[:, 0]) * np.ptp(mk[:, 1])
            kept = []
            for n, s in remaining:
                nk = np.asarray(results[n]["keypoints"], float).reshape(-1, 3)
                n_area = np.ptp(nk[:, 0]) * np.ptp(nk[:, 1])
                d2 = (nk[:, 0] - mk[:, 0]) ** 2 + (nk[:, 1] - mk[:, 1]) ** 2
                e = d2 / variances / (0.5 * (m_area + n_area) + EPS) / 2
                oks = float(np.sum(np.exp(-e)) / e.shape[0])
                kept.append((n, s * math.exp(-(oks**2) / 0.5)))
            remaining = kept
    return out


def background_aps(gt_doc: dict, results: list[dict], sigmas) -> tuple[float, float]:
    """AP after ignoring background false positives, then false negatives too."""
    ev = coco_eval(gt_doc, results, sigmas)
    thresholds = ev.params.iouThrs
    images = [e for e in ev.evalImgs if e is not None]
    all_range = ev.params.areaRng[0]
    for t in range(len(thresholds)):
        for e in images:
            if e["aRng"] != all_range:
                continue
            for slot in range(len(e["dtIds"])):
                if e["dtMatches"][t][slot] == 0:
                    e["dtIgnore"][t][slot] = True
    with _quiet():
        ev.accumulate()
    fp = ev.eval["precision"][:, :, :, 0, 0].copy()
    fp_ap = float(np.mean(fp[fp > -1]))
    per_threshold = []
    for t in range(len(thresholds)):
        matched = {int(g) for e in images if e["aRng"] == all_range for g in e["dtMatches"][t]}
        for e in images:
            if e["aRng"] != all_range:
                continue
            for slot, gt_id in enumerate(e["gtIds"]):
                if gt_id not in matched:
                    e["gtIgnore"][slot] = 1
        with _quiet():
            ev.accumulate()
        per_threshold.append(ev.eval["precision"][t, :, :, 0, 0].copy())
    fn = np.stack(per_threshold)
    return fp_ap, float(np.mean(fn[fn > -1]))
