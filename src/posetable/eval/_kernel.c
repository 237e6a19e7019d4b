/* posetable.eval._kernel: the hot loops of pycocotools' keypoint evaluation, in C.
 *
 * The numpy engine (_engine.py) is the reference and the fallback; this module computes the
 * same numbers bit for bit, per (image, category) group instead of over padded arrays:
 *
 *   screen()      candidate (prediction, ground truth) pairs of each group, pairs that
 *                 provably cannot reach the lowest OKS threshold dropped, and for the others
 *                 the terms -e of pycocotools' OKS (its exact operations, in its order);
 *                 numpy's exp then turns the terms into exp(-e), so exp is numpy's own;
 *   finish()      each pair's OKS: the terms summed in numpy's pairwise order, divided by
 *                 the count, as np.sum(...) / n; pairs below the threshold removed;
 *   greedy()      pycocotools' evaluateImg matching for every area range and threshold;
 *   accumulate()  pycocotools' accumulate for one maxDets value;
 *   cell_sums()   each (image, category) cell's sampled precision as if evaluated alone,
 *                 summed (the per-image AP of the metric tables);
 *   pair_errors() the label-error finder's e of (ground truth, prediction) pairs, as
 *                 labeled and mirrored (posetable._label_flat's numpy operations, in order);
 *   pair_sums()   its OKS from numpy's exp(-e): the kept terms summed in numpy's pairwise
 *                 order, divided by the count.
 *
 * Arrays come in through the buffer protocol (C-contiguous, dtypes fixed by the Python
 * wrapper _native.py; lengths are checked here). Floating point follows IEEE double with no
 * contraction or reassociation (built with -ffp-contract=off, never -ffast-math).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUFS 24
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)0)
#endif
/* max(v, 0) inline (fmax is a libm call where NaN semantics are kept; no NaN reaches here) */
#define POSITIVE(v) ((v) > 0.0 ? (v) : 0.0)
#define EPS 2.220446049250313e-16 /* np.spacing(1) */

typedef struct {
    Py_buffer views[MAX_BUFS];
    int count;
} Buffers;

static void release(Buffers *bufs) {
    for (int i = 0; i < bufs->count; i++) PyBuffer_Release(&bufs->views[i]);
    bufs->count = 0;
}

/* The data of `obj` (C-contiguous), which must hold at least `count` items of `itemsize`. */
static void *take(Buffers *bufs, PyObject *obj, Py_ssize_t count, Py_ssize_t itemsize,
                  int writable, const char *name) {
    Py_buffer *view = &bufs->views[bufs->count];
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return NULL;
    bufs->count++;
    if (view->itemsize != itemsize || view->len < count * itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected at least %zd items of %zd bytes, got %zd bytes",
                     name, count, itemsize, view->len);
        return NULL;
    }
    return view->buf;
}

static Py_ssize_t items(PyObject *obj, Py_ssize_t itemsize, const char *name) {
    Py_buffer view;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS) < 0) return -1;
    Py_ssize_t n = view.len / itemsize;
    int bad = view.itemsize != itemsize;
    PyBuffer_Release(&view);
    if (bad) {
        PyErr_Format(PyExc_ValueError, "%s: expected items of %zd bytes", name, itemsize);
        return -1;
    }
    return n;
}

/* numpy's pairwise summation of a contiguous double array (np.add.reduce on 1-D data):
 * a left fold below 8 values, 8 running sums up to 128, halves (multiples of 8) above. */
static double pairwise_sum(const double *a, Py_ssize_t n) {
    if (n < 8) {
        double res = 0.;
        for (Py_ssize_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        Py_ssize_t i;
        for (int j = 0; j < 8; j++) r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    Py_ssize_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* np.sum of a contiguous 1-D double array: the reduction starts from the identity +0.0 (so
 * a sum of only -0.0 is +0.0) and adds the pairwise sum of all n values. */
static double numpy_sum(const double *a, Py_ssize_t n) { return 0.0 + pairwise_sum(a, n); }

/* ---------------------------------------------------------------------------------------- */
/* screen                                                                                   */

/* Whether any of the n indices v lies outside [0, limit). */
static int any_outside(const int64_t *v, Py_ssize_t n, Py_ssize_t limit) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (v[i] < 0 || v[i] >= limit) return 1;
    return 0;
}

static const char extents_doc[] =
    "extents(dt_kp, ev_dt, gt_kp, gt_labeled, gt_box, K, dt_extent, gt_extent, gt_count)\n\n"
    "x0, y0, x1, y1 around every point of each evaluated prediction (dt_kp[ev_dt[i]]) and\n"
    "around the labeled points of each ground truth (pycocotools' 3x box where it has none),\n"
    "and each ground truth's count of labeled points. Keypoints are (N, K, 2).";

static PyObject *extents(PyObject *self, PyObject *args) {
    PyObject *o_dkp, *o_ev, *o_gkp, *o_lab, *o_box, *o_dext, *o_gext, *o_gcount;
    Py_ssize_t K;
    if (!PyArg_ParseTuple(args, "OOOOOnOOO", &o_dkp, &o_ev, &o_gkp, &o_lab, &o_box, &K, &o_dext,
                          &o_gext, &o_gcount))
        return NULL;
    Py_ssize_t E = items(o_ev, 8, "ev_dt"), G = items(o_gcount, 8, "gt_count");
    Py_ssize_t D2K = items(o_dkp, 8, "dt_kp");
    if (E < 0 || G < 0 || D2K < 0) return NULL;
    if (K < 1) {
        PyErr_SetString(PyExc_ValueError, "extents: K must be >= 1");
        return NULL;
    }
    const Py_ssize_t D = D2K / (2 * K);
    Buffers b = {.count = 0};
    const int64_t *ev = take(&b, o_ev, E, 8, 0, "ev_dt");
    double *dext = ev ? take(&b, o_dext, 4 * E, 8, 1, "dt_extent") : NULL;
    double *gext = dext ? take(&b, o_gext, 4 * G, 8, 1, "gt_extent") : NULL;
    int64_t *gcount = gext ? take(&b, o_gcount, G, 8, 1, "gt_count") : NULL;
    const double *gkp = gcount ? take(&b, o_gkp, G * K * 2, 8, 0, "gt_kp") : NULL;
    const uint8_t *lab = gkp ? take(&b, o_lab, G * K, 1, 0, "gt_labeled") : NULL;
    const double *box = lab ? take(&b, o_box, 4 * G, 8, 0, "gt_box") : NULL;
    const double *dkp = box ? take(&b, o_dkp, D * K * 2, 8, 0, "dt_kp") : NULL;
    if (!dkp) {
        release(&b);
        return NULL;
    }
    if (any_outside(ev, E, D)) {
        release(&b);
        PyErr_SetString(PyExc_ValueError, "extents: ev_dt index out of range");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t e = 0; e < E; e++) {
        const double *p = dkp + ev[e] * K * 2;
        double x0 = p[0], y0 = p[1], x1 = p[0], y1 = p[1];
        for (Py_ssize_t k = 1; k < K; k++) {
            double x = p[2 * k], y = p[2 * k + 1];
            x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
            y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
        }
        dext[4 * e] = x0, dext[4 * e + 1] = y0, dext[4 * e + 2] = x1, dext[4 * e + 3] = y1;
    }
    for (Py_ssize_t g = 0; g < G; g++) {
        const double *p = gkp + g * K * 2;
        const uint8_t *l = lab + g * K;
        double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
        int64_t n = 0;
        for (Py_ssize_t k = 0; k < K; k++) {
            if (!l[k]) continue;
            double x = p[2 * k], y = p[2 * k + 1];
            x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
            y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            n++;
        }
        if (n == 0) {
            const double *bb = box + 4 * g;
            x0 = bb[0] - bb[2], x1 = bb[0] + bb[2] * 2;
            y0 = bb[1] - bb[3], y1 = bb[1] + bb[3] * 2;
        }
        gcount[g] = n;
        gext[4 * g] = x0, gext[4 * g + 1] = y0, gext[4 * g + 2] = x1, gext[4 * g + 3] = y1;
    }
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

typedef struct {
    Py_ssize_t K, D, G, E, n_sorted, n_groups, cap, term_cap;
    const double *dkp, *gkp, *area, *var; /* keypoints (N, K, 2) */
    const uint8_t *lab;
    const int64_t *ev_dt, *gev, *glo, *ghi, *gsorted;
    const double *dext, *gext;
    const int64_t *gcount;
    double min_oks;
    /* outputs */
    int64_t *pev, *pgt, *poff, *pn;
    double *pval, *terms;
    int64_t *zero_at; /* positions in terms of terms that are exactly 0 (e >= 746) */
    double *d2;       /* scratch (K,) */
} Screen;

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

/* Pairs of groups first, first + 1, ... (before last) until the next might not fit the outputs;
 * returns the next group, or -1 (bad index) / -2 (the first group does not fit). */
MULTIVERSION static Py_ssize_t screen_groups(const Screen *c, Py_ssize_t first, Py_ssize_t last,
                                             Py_ssize_t *n_pairs,
                                             Py_ssize_t *n_terms, Py_ssize_t *n_zero) {
    const Py_ssize_t K = c->K, cap = c->cap, term_cap = c->term_cap;
    const double *restrict dkp = c->dkp, *restrict gkp = c->gkp, *restrict area = c->area,
                           *restrict var = c->var, *restrict dext = c->dext,
                           *restrict gext = c->gext;
    const uint8_t *restrict lab = c->lab;
    const int64_t *restrict ev_dt = c->ev_dt, *restrict gev = c->gev, *restrict glo = c->glo,
                            *restrict ghi = c->ghi, *restrict gsorted = c->gsorted,
                            *restrict gcount = c->gcount;
    int64_t *restrict pev = c->pev, *restrict pgt = c->pgt, *restrict poff = c->poff,
                      *restrict pn = c->pn, *restrict zero_at = c->zero_at;
    double *restrict pval = c->pval, *restrict terms = c->terms, *restrict d2 = c->d2;
    const int screening = c->min_oks > 0;
    double var_max = 0;
    for (Py_ssize_t k = 0; k < K; k++) var_max = var[k] > var_max ? var[k] : var_max;
    const double log_keep = screening ? -log(c->min_oks) * (1.0 + 1e-6) : 0;
    Py_ssize_t np_ = 0, nt = 0, nz = 0, grp = first;
    for (; grp < last; grp++) {
        if (gev[grp] < 0 || gev[grp] > gev[grp + 1] || gev[grp + 1] > c->E || glo[grp] < 0 ||
            glo[grp] > ghi[grp] || ghi[grp] > c->n_sorted)
            return -1;
        Py_ssize_t need = (gev[grp + 1] - gev[grp]) * (ghi[grp] - glo[grp]);
        if (np_ + need > cap || nt + need * K > term_cap) {
            if (grp == first) return -2;
            break;
        }
        for (int64_t j = glo[grp]; j < ghi[grp]; j++)
            if (gsorted[j] < 0 || gsorted[j] >= c->G) return -1;
        if (grp + 1 < last) { /* the next group's rows: scattered in memory, fetched early */
            for (int64_t e = gev[grp + 1]; e < gev[grp + 2] && e < c->E; e++) {
                int64_t d = ev_dt[e];
                if (d >= 0 && d < c->D)
                    for (Py_ssize_t off = 0; off < 2 * K; off += 8) PREFETCH(dkp + d * K * 2 + off);
            }
            for (int64_t j = glo[grp + 1]; j < ghi[grp + 1] && j < c->n_sorted; j++) {
                int64_t g = gsorted[j];
                if (g < 0 || g >= c->G) continue;
                for (Py_ssize_t off = 0; off < 2 * K; off += 8) PREFETCH(gkp + g * K * 2 + off);
                PREFETCH(gext + 4 * g);
                PREFETCH(lab + g * K);
            }
        }
        for (int64_t e = gev[grp]; e < gev[grp + 1]; e++) {
            const int64_t d = ev_dt[e];
            if (d < 0 || d >= c->D) return -1;
            const double *restrict pd = dkp + d * K * 2;
            const double de0 = dext[4 * e], de1 = dext[4 * e + 1], de2 = dext[4 * e + 2],
                         de3 = dext[4 * e + 3];
            for (int64_t j = glo[grp]; j < ghi[grp]; j++) {
                const int64_t g = gsorted[j];
                const double *ge = gext + 4 * g;
                const double scale = area[g] + EPS;
                const int64_t k1 = gcount[g];
                if (screening && scale > 0) {
                    /* every distance is at least the gap between the two extents, and every
                     * term is below min_oks when the gap exceeds its radius for the largest
                     * sigma: exp(-e) < min_oks <=> d**2 > -ln(min_oks) * 2 * var * scale */
                    double gap_x = POSITIVE(ge[0] - de2) + POSITIVE(de0 - ge[2]);
                    double gap_y = POSITIVE(ge[1] - de3) + POSITIVE(de1 - ge[3]);
                    if (gap_x * gap_x + gap_y * gap_y > log_keep * 2.0 * var_max * scale + 1e-9)
                        continue;
                }
                if (k1 == 0 && de0 >= ge[0] && de2 <= ge[2] && de1 >= ge[1] && de3 <= ge[3] &&
                    scale > 0) {
                    /* every point inside the 3x box: each e is 0, the mean of K ones is 1 */
                    pev[np_] = e, pgt[np_] = j, poff[np_] = nt, pn[np_] = 0, pval[np_++] = 1.0;
                    continue;
                }
                const uint8_t *restrict mask = lab + g * K;
                if (k1 > 0) {
                    const double *restrict pg = gkp + g * K * 2;
                    for (Py_ssize_t k = 0; k < K; k++) {
                        double ddx = pd[2 * k] - pg[2 * k], ddy = pd[2 * k + 1] - pg[2 * k + 1];
                        d2[k] = ddx * ddx + ddy * ddy;
                    }
                } else {
                    /* distance outside the ground truth's box grown by one width / height */
                    for (Py_ssize_t k = 0; k < K; k++) {
                        double x = pd[2 * k], y = pd[2 * k + 1];
                        double ddx = POSITIVE(ge[0] - x) + POSITIVE(x - ge[2]);
                        double ddy = POSITIVE(ge[1] - y) + POSITIVE(y - ge[3]);
                        d2[k] = ddx * ddx + ddy * ddy;
                    }
                }
                /* pycocotools' e = (dx**2 + dy**2) / vars / (area + eps) / 2 for every point
                 * (a loop the compiler vectorises), then the labeled ones (all K without any)
                 * kept, negated, without branches. exp(-e) is exactly 0 for e >= 746, where
                 * numpy's exp takes a slow path: such a term holds 0.0 (fast) and its position
                 * is listed, to be set to 0 after exp */
                for (Py_ssize_t k = 0; k < K; k++) d2[k] = d2[k] / var[k] / scale / 2;
                double *restrict out = terms + nt;
                Py_ssize_t m = 0;
                for (Py_ssize_t k = 0; k < K; k++) {
                    const double e_k = d2[k];
                    const int zero = e_k >= 746.0;
                    out[m] = zero ? 0.0 : -e_k;
                    zero_at[nz] = nt + m;
                    const int keep = k1 == 0 || mask[k];
                    nz += zero & keep;
                    m += keep;
                }
                pev[np_] = e, pgt[np_] = j, poff[np_] = nt, pn[np_] = m, pval[np_++] = 0.0;
                nt += m;
            }
        }
    }
    *n_pairs = np_, *n_terms = nt, *n_zero = nz;
    return grp;
}

static const char screen_doc[] =
    "screen(dt_kp, gt_kp, gt_labeled, gt_area, variances, ev_dt, group_ev, gt_lo, gt_hi,\n"
    "       gt_sorted, dt_extent, gt_extent, gt_count, min_oks, first_group, end_group,\n"
    "       pair_ev, pair_pos, pair_off, pair_n, pair_val, terms, zero_at)\n"
    "-> (next_group, n_pairs, n_terms, n_zero)\n\n"
    "Candidate pairs of groups first_group, ... before end_group (evaluated slots\n"
    "group_ev[i]:group_ev[i+1] against ground truth gt_sorted[gt_lo[i]:gt_hi[i]]) in (slot,\n"
    "ground-truth order) order, as many whole groups as the outputs hold; pair_pos is the\n"
    "ground truth's position in gt_sorted. Keypoints are (N, K, 2); extents and counts come\n"
    "from extents(). With min_oks > 0, pairs whose OKS is provably below it are left out.\n"
    "Each pair gets its terms -e at terms[pair_off:pair_off+pair_n] (pair_n 0: pair_val holds\n"
    "the OKS). Terms at zero_at[:n_zero] are exactly 0 after exp (they hold 0.0 for numpy's\n"
    "exp to run fast; set them to 0 after it).";

static PyObject *screen(PyObject *self, PyObject *args) {
    PyObject *o_dkp, *o_gkp, *o_lab, *o_area, *o_var, *o_ev_dt, *o_gev, *o_glo, *o_ghi,
        *o_gsorted, *o_dext, *o_gext, *o_gcount, *o_pev, *o_pgt, *o_poff, *o_pn, *o_pval,
        *o_terms, *o_zero;
    Py_ssize_t first, last;
    Screen c;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOdnnOOOOOOO", &o_dkp, &o_gkp, &o_lab, &o_area, &o_var,
                          &o_ev_dt, &o_gev, &o_glo, &o_ghi, &o_gsorted, &o_dext, &o_gext,
                          &o_gcount, &c.min_oks, &first, &last, &o_pev, &o_pgt, &o_poff, &o_pn, &o_pval,
                          &o_terms, &o_zero))
        return NULL;
    c.K = items(o_var, 8, "variances");
    c.G = items(o_area, 8, "gt_area");
    c.E = items(o_ev_dt, 8, "ev_dt");
    Py_ssize_t NG1 = items(o_gev, 8, "group_ev");
    c.n_sorted = items(o_gsorted, 8, "gt_sorted");
    c.cap = items(o_pev, 8, "pair_ev");
    c.term_cap = items(o_terms, 8, "terms");
    Py_ssize_t D2K = items(o_dkp, 8, "dt_kp");
    if (c.K < 0 || c.G < 0 || c.E < 0 || NG1 < 0 || c.n_sorted < 0 || c.cap < 0 ||
        c.term_cap < 0 || D2K < 0)
        return NULL;
    if (c.K == 0 || NG1 < 1 || first < 0 || first > last || last > NG1 - 1) {
        PyErr_SetString(PyExc_ValueError, "screen: need K >= 1, group_ev of length >= 1 and "
                                          "0 <= first_group <= end_group <= number of groups");
        return NULL;
    }
    const Py_ssize_t K = c.K, G = c.G, E = c.E;
    c.D = D2K / (2 * K), c.n_groups = NG1 - 1;
    Buffers b = {.count = 0};
    c.dkp = take(&b, o_dkp, c.D * K * 2, 8, 0, "dt_kp");
    c.gkp = c.dkp ? take(&b, o_gkp, G * K * 2, 8, 0, "gt_kp") : NULL;
    c.lab = c.gkp ? take(&b, o_lab, G * K, 1, 0, "gt_labeled") : NULL;
    c.area = c.lab ? take(&b, o_area, G, 8, 0, "gt_area") : NULL;
    c.var = c.area ? take(&b, o_var, K, 8, 0, "variances") : NULL;
    c.ev_dt = c.var ? take(&b, o_ev_dt, E, 8, 0, "ev_dt") : NULL;
    c.gev = c.ev_dt ? take(&b, o_gev, NG1, 8, 0, "group_ev") : NULL;
    c.glo = c.gev ? take(&b, o_glo, c.n_groups, 8, 0, "gt_lo") : NULL;
    c.ghi = c.glo ? take(&b, o_ghi, c.n_groups, 8, 0, "gt_hi") : NULL;
    c.gsorted = c.ghi ? take(&b, o_gsorted, c.n_sorted, 8, 0, "gt_sorted") : NULL;
    c.dext = c.gsorted ? take(&b, o_dext, 4 * E, 8, 0, "dt_extent") : NULL;
    c.gext = c.dext ? take(&b, o_gext, 4 * G, 8, 0, "gt_extent") : NULL;
    c.gcount = c.gext ? take(&b, o_gcount, G, 8, 0, "gt_count") : NULL;
    c.pev = c.gcount ? take(&b, o_pev, c.cap, 8, 1, "pair_ev") : NULL;
    c.pgt = c.pev ? take(&b, o_pgt, c.cap, 8, 1, "pair_pos") : NULL;
    c.poff = c.pgt ? take(&b, o_poff, c.cap, 8, 1, "pair_off") : NULL;
    c.pn = c.poff ? take(&b, o_pn, c.cap, 8, 1, "pair_n") : NULL;
    c.pval = c.pn ? take(&b, o_pval, c.cap, 8, 1, "pair_val") : NULL;
    c.terms = c.pval ? take(&b, o_terms, c.term_cap, 8, 1, "terms") : NULL;
    c.zero_at = c.terms ? take(&b, o_zero, c.term_cap, 8, 1, "zero_at") : NULL;
    double *scratch = c.zero_at ? malloc(sizeof(double) * K) : NULL;
    if (!scratch) {
        if (c.zero_at) PyErr_NoMemory();
        release(&b);
        return NULL;
    }
    c.d2 = scratch;
    Py_ssize_t next, n_pairs = 0, n_terms = 0, n_zero = 0;
    Py_BEGIN_ALLOW_THREADS
    next = screen_groups(&c, first, last, &n_pairs, &n_terms, &n_zero);
    Py_END_ALLOW_THREADS
    free(scratch);
    release(&b);
    if (next < 0) {
        PyErr_SetString(PyExc_ValueError, next == -1 ? "screen: index out of range in the groups"
                                                     : "screen: outputs too small for a group");
        return NULL;
    }
    return Py_BuildValue("nnnn", next, n_pairs, n_terms, n_zero);
}

/* ---------------------------------------------------------------------------------------- */
/* finish                                                                                   */

static const char finish_doc[] =
    "finish(terms, n_pairs, min_oks, pair_ev, pair_pos, pair_off, pair_n, pair_val) -> n_kept\n\n"
    "pair_val = sum(terms[off:off+n]) / n for pairs with n > 0 (terms already exp(-e)); with\n"
    "min_oks > -inf, only pairs whose OKS reaches it are kept (compacted in place).";

static PyObject *finish(PyObject *self, PyObject *args) {
    PyObject *o_terms, *o_pev, *o_pgt, *o_poff, *o_pn, *o_pval;
    Py_ssize_t n_pairs;
    double min_oks;
    if (!PyArg_ParseTuple(args, "OndOOOOO", &o_terms, &n_pairs, &min_oks, &o_pev, &o_pgt, &o_poff,
                          &o_pn, &o_pval))
        return NULL;
    Py_ssize_t n_terms = items(o_terms, 8, "terms");
    if (n_terms < 0) return NULL;
    Buffers b = {.count = 0};
    const double *terms = take(&b, o_terms, n_terms, 8, 0, "terms");
    int64_t *pev = terms ? take(&b, o_pev, n_pairs, 8, 1, "pair_ev") : NULL;
    int64_t *pgt = pev ? take(&b, o_pgt, n_pairs, 8, 1, "pair_pos") : NULL;
    int64_t *poff = pgt ? take(&b, o_poff, n_pairs, 8, 1, "pair_off") : NULL;
    int64_t *pn = poff ? take(&b, o_pn, n_pairs, 8, 1, "pair_n") : NULL;
    double *pval = pn ? take(&b, o_pval, n_pairs, 8, 1, "pair_val") : NULL;
    if (!pval) {
        release(&b);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n_pairs; i++)
        if (pn[i] < 0 || poff[i] < 0 || poff[i] + pn[i] > n_terms) {
            release(&b);
            PyErr_SetString(PyExc_ValueError, "finish: term range out of bounds");
            return NULL;
        }
    int filter = min_oks > -INFINITY;
    Py_ssize_t kept = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n_pairs; i++) {
        double v = pn[i] ? numpy_sum(terms + poff[i], pn[i]) / (double)pn[i] : pval[i];
        if (filter && !(v >= min_oks)) continue;
        pev[kept] = pev[i], pgt[kept] = pgt[i], poff[kept] = poff[i], pn[kept] = pn[i];
        pval[kept++] = v;
    }
    Py_END_ALLOW_THREADS
    release(&b);
    return PyLong_FromSsize_t(kept);
}

/* ---------------------------------------------------------------------------------------- */
/* greedy                                                                                   */

static const char greedy_doc[] =
    "greedy(pair_ev, pair_pos, pair_val, n_pairs, thresholds, gt_ignore, crowd, id_zero,\n"
    "       gt_sorted, dt_area, area_ranges, t_lo, t_hi, dt_gt, dt_ignore, tp, fp)\n\n"
    "pycocotools' evaluateImg matching. Pairs are grouped by evaluated slot (slots of one\n"
    "group in score order), each slot's pairs in ground-truth file order; ground truth is\n"
    "named by its position in gt_sorted (what screen() gives), and gt_ignore (A, P), crowd\n"
    "and id_zero are in that order, so matching reads memory group by group. Outputs are\n"
    "(A, T, E): matched ground truth (its index, gt_sorted[position]; -1 none), dtIgnore,\n"
    "TP, FP, filled for thresholds t_lo <= t < t_hi (columns are independent: ranges may run\n"
    "in parallel).";

static PyObject *greedy(PyObject *self, PyObject *args) {
    PyObject *o_pev, *o_pgt, *o_pval, *o_thr, *o_gign, *o_crowd, *o_id0, *o_sorted, *o_darea,
        *o_rng, *o_dtgt, *o_dign, *o_tp, *o_fp;
    Py_ssize_t n_pairs, t_lo, t_hi;
    if (!PyArg_ParseTuple(args, "OOOnOOOOOOOnnOOOO", &o_pev, &o_pgt, &o_pval, &n_pairs, &o_thr,
                          &o_gign, &o_crowd, &o_id0, &o_sorted, &o_darea, &o_rng, &t_lo, &t_hi,
                          &o_dtgt, &o_dign, &o_tp, &o_fp))
        return NULL;
    Py_ssize_t T = items(o_thr, 8, "thresholds");
    Py_ssize_t G = items(o_crowd, 1, "crowd");
    Py_ssize_t E = items(o_darea, 8, "dt_area");
    Py_ssize_t A2 = items(o_rng, 8, "area_ranges");
    if (T < 0 || G < 0 || E < 0 || A2 < 0) return NULL;
    if (t_lo < 0 || t_lo > t_hi || t_hi > T) {
        PyErr_SetString(PyExc_ValueError, "greedy: need 0 <= t_lo <= t_hi <= T");
        return NULL;
    }
    Py_ssize_t A = A2 / 2;
    Buffers b = {.count = 0};
    const int64_t *pev = take(&b, o_pev, n_pairs, 8, 0, "pair_ev");
    const int64_t *pgt = pev ? take(&b, o_pgt, n_pairs, 8, 0, "pair_pos") : NULL;
    const double *pval = pgt ? take(&b, o_pval, n_pairs, 8, 0, "pair_val") : NULL;
    const double *thr = pval ? take(&b, o_thr, T, 8, 0, "thresholds") : NULL;
    const uint8_t *gign = thr ? take(&b, o_gign, A * G, 1, 0, "gt_ignore") : NULL;
    const uint8_t *crowd = gign ? take(&b, o_crowd, G, 1, 0, "crowd") : NULL;
    const uint8_t *id0 = crowd ? take(&b, o_id0, G, 1, 0, "id_zero") : NULL;
    const int64_t *gsorted = id0 ? take(&b, o_sorted, G, 8, 0, "gt_sorted") : NULL;
    const double *darea = gsorted ? take(&b, o_darea, E, 8, 0, "dt_area") : NULL;
    const double *rng = darea ? take(&b, o_rng, A * 2, 8, 0, "area_ranges") : NULL;
    int64_t *dtgt = rng ? take(&b, o_dtgt, A * T * E, 8, 1, "dt_gt") : NULL;
    uint8_t *dign = dtgt ? take(&b, o_dign, A * T * E, 1, 1, "dt_ignore") : NULL;
    uint8_t *tp = dign ? take(&b, o_tp, A * T * E, 1, 1, "tp") : NULL;
    uint8_t *fp = tp ? take(&b, o_fp, A * T * E, 1, 1, "fp") : NULL;
    if (!fp) {
        release(&b);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n_pairs; i++)
        if (pev[i] < 0 || pev[i] >= E || pgt[i] < 0 || pgt[i] >= G ||
            (i && pev[i] < pev[i - 1])) {
            release(&b);
            PyErr_SetString(PyExc_ValueError, "greedy: pair indices out of range or unsorted");
            return NULL;
        }
    uint8_t *taken = calloc((size_t)(G > 0 ? G : 1) * (size_t)(T > 0 ? T : 1), 1);
    if (!taken) {
        release(&b);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t a = 0; a < A; a++) {
        const uint8_t *ign = gign + a * G;
        double lo = rng[2 * a], hi = rng[2 * a + 1];
        memset(taken, 0, (size_t)G * (size_t)T);
        Py_ssize_t p = 0;
        for (Py_ssize_t e = 0; e < E; e++) {
            Py_ssize_t p0 = p;
            while (p < n_pairs && pev[p] == e) p++;
            const int outside = darea[e] < lo || darea[e] > hi;
            if (p == p0) { /* no candidate: unmatched at every threshold */
                for (Py_ssize_t t = t_lo; t < t_hi; t++) {
                    Py_ssize_t at = (a * T + t) * E + e;
                    dtgt[at] = -1, dign[at] = (uint8_t)outside, tp[at] = 0;
                    fp[at] = (uint8_t)!outside;
                }
                continue;
            }
            for (Py_ssize_t t = t_lo; t < t_hi; t++) {
                /* pycocotools scans ground truth non-ignored first (file order within each),
                 * keeps the last one of the highest OKS >= t among those not taken (crowd
                 * regions never are), and looks at ignored ones only when it found none */
                int64_t m = -1, m_ign = -1;
                double best = thr[t], best_ign = thr[t];
                for (Py_ssize_t q = p0; q < p; q++) {
                    const int64_t g = pgt[q];
                    const double v = pval[q];
                    const int free_ = !taken[g * T + t] || crowd[g];
                    const int is_ign = ign[g];
                    const int better = free_ && !is_ign && v >= best;
                    const int better_ign = free_ && is_ign && v >= best_ign;
                    best = better ? v : best, m = better ? g : m;
                    best_ign = better_ign ? v : best_ign, m_ign = better_ign ? g : m_ign;
                }
                if (m < 0) m = m_ign;
                Py_ssize_t at = (a * T + t) * E + e;
                int ignored = 0, hit = 0;
                if (m >= 0) {
                    taken[m * T + t] = 1;
                    ignored = ign[m];
                    hit = !id0[m];
                }
                if (!hit && outside) ignored = 1;
                dtgt[at] = m >= 0 ? gsorted[m] : -1;
                dign[at] = (uint8_t)ignored;
                tp[at] = (uint8_t)(hit && !ignored);
                fp[at] = (uint8_t)(!hit && !ignored);
            }
        }
    }
    Py_END_ALLOW_THREADS
    free(taken);
    release(&b);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------- */
/* accumulate                                                                               */

/* One cell and threshold of pycocotools' accumulate, over the cell's nd slots in pool
 * order. Recall tp / npig changes only at true positives, and so does the running maximum
 * of precision tp / (fp + tp + eps) from the right (precision only falls between them):
 * pycocotools' envelope and its 101 samples read positions where a TP lands (or position
 * 0, for a threshold of 0). So only those positions are computed, with pycocotools' own
 * arithmetic: rc / pr (the envelope) / at (the position) of each TP; returns their count,
 * and the TP count in *tps. */
static Py_ssize_t envelope(const uint8_t *tp_row, const uint8_t *fp_row, const int64_t *slots,
                           Py_ssize_t nd, int64_t n_gt, double *rc, double *pr, Py_ssize_t *at,
                           int64_t *tps_out) {
    int64_t tps = 0, fps = 0;
    Py_ssize_t n_tp = 0;
    for (Py_ssize_t i = 0; i < nd; i++) {
        int64_t slot = slots[i];
        fps += fp_row[slot];
        if (tp_row[slot]) {
            tps++;
            double tp_sum = (double)tps, fp_sum = (double)fps;
            rc[n_tp] = tp_sum / (double)n_gt;
            pr[n_tp] = tp_sum / (fp_sum + tp_sum + EPS);
            at[n_tp++] = i;
        }
    }
    for (Py_ssize_t i = n_tp - 1; i > 0; i--)
        if (pr[i] > pr[i - 1]) pr[i - 1] = pr[i];
    *tps_out = tps;
    return n_tp;
}

/* The samples of one envelope: q[r] the precision at the first position whose recall
 * reaches rec[r] (searchsorted left; 0 past the final recall), pos[r] that position (-1
 * there). Recall at position 0 is >= a threshold <= rc there. */
static void sample_envelope(Py_ssize_t nd, Py_ssize_t n_tp, const double *rc, const double *pr,
                            const Py_ssize_t *at, const double *rec, Py_ssize_t R, double *q,
                            Py_ssize_t *pos) {
    Py_ssize_t i = 0;
    double first_rc = n_tp && at[0] == 0 ? rc[0] : 0.0;
    double top = n_tp ? pr[0] : 0.0; /* envelope at position 0 */
    for (Py_ssize_t r = 0; r < R; r++) {
        if (nd && rec[r] <= first_rc) {
            q[r] = top, pos[r] = 0;
            continue;
        }
        if (r && rec[r] < rec[r - 1]) i = 0; /* thresholds out of order */
        while (i < n_tp && rc[i] < rec[r]) i++;
        q[r] = i < n_tp ? pr[i] : 0.0;
        pos[r] = i < n_tp ? at[i] : -1;
    }
}

/* The work arrays of one pool's precision envelope: recall, precision and positions for up
 * to `width` predictions, the sampled precision and its positions at R recall points. */
typedef struct {
    double *pr, *rc, *q;
    Py_ssize_t *at, *pos;
} Scratch;

static void scratch_free(Scratch *w) { free(w->pr), free(w->rc), free(w->q), free(w->at), free(w->pos); }

static int scratch_alloc(Scratch *w, Py_ssize_t width, Py_ssize_t R) {
    width = width > 0 ? width : 1, R = R > 0 ? R : 1;
    w->pr = malloc(sizeof(double) * width), w->rc = malloc(sizeof(double) * width);
    w->at = malloc(sizeof(Py_ssize_t) * width);
    w->q = malloc(sizeof(double) * R), w->pos = malloc(sizeof(Py_ssize_t) * R);
    if (w->pr && w->rc && w->at && w->q && w->pos) return 1;
    scratch_free(w);
    return 0;
}

/* What is wrong with a pool of evaluated positions (each in [0, E)) split by C1 bounds
 * (non-decreasing, within the pool) whose groups each need a count counts[c] > 0 (the first
 * n_counts of them; none when counts is NULL); NULL when nothing is. */
static const char *pool_error(const int64_t *pool, Py_ssize_t n_pool, Py_ssize_t E,
                              const int64_t *bounds, Py_ssize_t C1, const int64_t *counts,
                              Py_ssize_t n_counts) {
    if (any_outside(pool, n_pool, E)) return "pool index out of range";
    for (Py_ssize_t c = 0; c < C1; c++)
        if (bounds[c] < 0 || bounds[c] > n_pool || (c && bounds[c] < bounds[c - 1]))
            return "bad group bounds";
    for (Py_ssize_t c = 0; counts && c < n_counts; c++)
        if (counts[c] <= 0) return "a group without ground truth counted";
    return NULL;
}

static const char accumulate_doc[] =
    "accumulate(tp, fp, pool, cat_bounds, pool_scores, npig, recall_thresholds, m, n_m,\n"
    "           precision, recall, scores)\n\n"
    "pycocotools' accumulate for maxDets index m: tp/fp (A, T, E); pool = evaluated slots by\n"
    "category, then score (stable), cat_bounds (C+1) into it, pool_scores their scores;\n"
    "npig (C, A). Fills the cells with npig > 0 of precision / scores (T, R, C, A, M) and\n"
    "recall (T, C, A, M).";

static PyObject *accumulate(PyObject *self, PyObject *args) {
    PyObject *o_tp, *o_fp, *o_pool, *o_bounds, *o_pscore, *o_npig, *o_rec, *o_prec, *o_recall,
        *o_scores;
    Py_ssize_t m, M, T;
    if (!PyArg_ParseTuple(args, "OOOOOOOnnnOOO", &o_tp, &o_fp, &o_pool, &o_bounds, &o_pscore,
                          &o_npig, &o_rec, &T, &m, &M, &o_prec, &o_recall, &o_scores))
        return NULL;
    Py_ssize_t C1 = items(o_bounds, 8, "cat_bounds");
    Py_ssize_t R = items(o_rec, 8, "recall_thresholds");
    Py_ssize_t n_pool = items(o_pool, 8, "pool");
    Py_ssize_t CA = items(o_npig, 8, "npig");
    Py_ssize_t ATE = items(o_tp, 1, "tp");
    if (C1 < 1 || R < 0 || n_pool < 0 || CA < 0 || ATE < 0 || T < 1 || m < 0 || m >= M) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "accumulate: bad sizes");
        return NULL;
    }
    Py_ssize_t C = C1 - 1, A = C ? CA / C : 0;
    Py_ssize_t E = (A && T) ? ATE / (A * T) : 0;
    Buffers b = {.count = 0};
    const uint8_t *tp = take(&b, o_tp, A * T * E, 1, 0, "tp");
    const uint8_t *fp = tp ? take(&b, o_fp, A * T * E, 1, 0, "fp") : NULL;
    const int64_t *pool = fp ? take(&b, o_pool, n_pool, 8, 0, "pool") : NULL;
    const int64_t *bounds = pool ? take(&b, o_bounds, C1, 8, 0, "cat_bounds") : NULL;
    const double *pscore = bounds ? take(&b, o_pscore, n_pool, 8, 0, "pool_scores") : NULL;
    const int64_t *npig = pscore ? take(&b, o_npig, C * A, 8, 0, "npig") : NULL;
    const double *rec = npig ? take(&b, o_rec, R, 8, 0, "recall_thresholds") : NULL;
    double *prec = rec ? take(&b, o_prec, T * R * C * A * M, 8, 1, "precision") : NULL;
    double *recall = prec ? take(&b, o_recall, T * C * A * M, 8, 1, "recall") : NULL;
    double *scores = recall ? take(&b, o_scores, T * R * C * A * M, 8, 1, "scores") : NULL;
    if (!scores) {
        release(&b);
        return NULL;
    }
    const char *bad = pool_error(pool, n_pool, E, bounds, C1, NULL, 0);
    if (bad) {
        release(&b);
        PyErr_Format(PyExc_ValueError, "accumulate: %s", bad);
        return NULL;
    }
    Scratch w;
    if (!scratch_alloc(&w, n_pool, R)) {
        release(&b);
        return PyErr_NoMemory();
    }
    double *pr = w.pr, *rc = w.rc, *q = w.q;
    Py_ssize_t *at = w.at, *pos = w.pos;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t c = 0; c < C; c++) {
        Py_ssize_t c0 = bounds[c], nd = bounds[c + 1] - bounds[c];
        for (Py_ssize_t a = 0; a < A; a++) {
            int64_t n_gt = npig[c * A + a];
            if (n_gt <= 0) continue;
            for (Py_ssize_t t = 0; t < T; t++) {
                const uint8_t *tp_row = tp + (a * T + t) * E;
                const uint8_t *fp_row = fp + (a * T + t) * E;
                int64_t tps;
                Py_ssize_t n_tp = envelope(tp_row, fp_row, pool + c0, nd, n_gt, rc, pr, at, &tps);
                /* the final recall, tp / npig at the last position (+0.0 without a TP or a
                 * prediction, as pycocotools' 0) */
                recall[((t * C + c) * A + a) * M + m] = (double)tps / (double)n_gt;
                sample_envelope(nd, n_tp, rc, pr, at, rec, R, q, pos);
                for (Py_ssize_t r = 0; r < R; r++) {
                    Py_ssize_t cell = (((t * R + r) * C + c) * A + a) * M + m;
                    prec[cell] = q[r];
                    scores[cell] = pos[r] >= 0 ? pscore[c0 + pos[r]] : 0.0;
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    scratch_free(&w);
    release(&b);
    Py_RETURN_NONE;
}

static const char cell_sums_doc[] =
    "cell_sums(tp, fp, pool, cell_bounds, npig, recall_thresholds, n_thresholds, sums)\n\n"
    "Each cell evaluated alone, as accumulate would with the cell as its own category (one\n"
    "area range, one maxDets): sums[c] = the sampled precision added over thresholds, then\n"
    "recall points, in that order from +0.0 (the rows of a (T * R, cells) block added in\n"
    "order, as numpy sums it over axis 0). tp / fp (T, E); pool = slots by cell then rank,\n"
    "cell_bounds (C+1) into it; npig (C) > 0.";

static PyObject *cell_sums(PyObject *self, PyObject *args) {
    PyObject *o_tp, *o_fp, *o_pool, *o_bounds, *o_npig, *o_rec, *o_sums;
    Py_ssize_t T;
    if (!PyArg_ParseTuple(args, "OOOOOOnO", &o_tp, &o_fp, &o_pool, &o_bounds, &o_npig, &o_rec,
                          &T, &o_sums))
        return NULL;
    Py_ssize_t C1 = items(o_bounds, 8, "cell_bounds");
    Py_ssize_t R = items(o_rec, 8, "recall_thresholds");
    Py_ssize_t n_pool = items(o_pool, 8, "pool");
    Py_ssize_t TE = items(o_tp, 1, "tp");
    if (C1 < 1 || R < 0 || n_pool < 0 || TE < 0 || T < 1) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "cell_sums: bad sizes");
        return NULL;
    }
    Py_ssize_t C = C1 - 1, E = TE / T;
    Buffers b = {.count = 0};
    const uint8_t *tp = take(&b, o_tp, T * E, 1, 0, "tp");
    const uint8_t *fp = tp ? take(&b, o_fp, T * E, 1, 0, "fp") : NULL;
    const int64_t *pool = fp ? take(&b, o_pool, n_pool, 8, 0, "pool") : NULL;
    const int64_t *bounds = pool ? take(&b, o_bounds, C1, 8, 0, "cell_bounds") : NULL;
    const int64_t *npig = bounds ? take(&b, o_npig, C, 8, 0, "npig") : NULL;
    const double *rec = npig ? take(&b, o_rec, R, 8, 0, "recall_thresholds") : NULL;
    double *sums = rec ? take(&b, o_sums, C, 8, 1, "sums") : NULL;
    if (!sums) {
        release(&b);
        return NULL;
    }
    const char *bad = pool_error(pool, n_pool, E, bounds, C1, npig, C);
    if (bad) {
        release(&b);
        PyErr_Format(PyExc_ValueError, "cell_sums: %s", bad);
        return NULL;
    }
    Py_ssize_t widest = 1;
    for (Py_ssize_t c = 0; c < C; c++)
        if (bounds[c + 1] - bounds[c] > widest) widest = bounds[c + 1] - bounds[c];
    Scratch w;
    if (!scratch_alloc(&w, widest, R)) {
        release(&b);
        return PyErr_NoMemory();
    }
    double *pr = w.pr, *rc = w.rc, *q = w.q;
    Py_ssize_t *at = w.at, *pos = w.pos;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t c = 0; c < C; c++) {
        Py_ssize_t c0 = bounds[c], nd = bounds[c + 1] - bounds[c];
        double total = 0.0;
        for (Py_ssize_t t = 0; t < T; t++) {
            int64_t tps;
            Py_ssize_t n_tp =
                envelope(tp + t * E, fp + t * E, pool + c0, nd, npig[c], rc, pr, at, &tps);
            sample_envelope(nd, n_tp, rc, pr, at, rec, R, q, pos);
            for (Py_ssize_t r = 0; r < R; r++) total += q[r];
        }
        sums[c] = total;
    }
    Py_END_ALLOW_THREADS
    scratch_free(&w);
    release(&b);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------- */
/* argsort                                                                                  */

/* ---------------------------------------------------------------------------------------- */
/* the label-error finder's pair OKS (posetable._label_flat.PairOks)                        */

/* np.maximum(0.0, v): 0.0 where 0.0 >= v, else v (NaN stays NaN) */
#define NP_MAX0(v) (0.0 >= (v) ? 0.0 : (v))

static const char pair_errors_doc[] =
    "pair_errors(gt_kp, gt_labeled, gt_k1, gt_box, eps_area, dt_kp, variances, flips, gi, di,\n"
    "            e, e_flip)\n\n"
    "pycocotools' per-keypoint e of the pairs (gt[gi[i]], dt[di[i]]) into e (M, K), and with\n"
    "the ground truth mirrored by flips into e_flip: d^2 / variance / (area + eps) / 2 as\n"
    "_label_flat computes it (ground truth without labeled points: its 3x-box distance, the\n"
    "same in both). Keypoints are (N, K, 2), eps_area is area + np.spacing(1).";

static PyObject *pair_errors(PyObject *self, PyObject *args) {
    PyObject *o_gkp, *o_lab, *o_k1, *o_box, *o_eps, *o_dkp, *o_var, *o_flips, *o_gi, *o_di;
    PyObject *o_e, *o_ef;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOO", &o_gkp, &o_lab, &o_k1, &o_box, &o_eps, &o_dkp,
                          &o_var, &o_flips, &o_gi, &o_di, &o_e, &o_ef))
        return NULL;
    Py_ssize_t K = items(o_var, 8, "variances"), G = items(o_k1, 8, "gt_k1");
    Py_ssize_t M = items(o_gi, 8, "gi"), D2K = items(o_dkp, 8, "dt_kp");
    if (K < 0 || G < 0 || M < 0 || D2K < 0) return NULL;
    if (K < 1) {
        PyErr_SetString(PyExc_ValueError, "pair_errors: K must be >= 1");
        return NULL;
    }
    const Py_ssize_t D = D2K / (2 * K);
    Buffers b = {.count = 0};
    const double *gkp = take(&b, o_gkp, G * K * 2, 8, 0, "gt_kp");
    const uint8_t *lab = gkp ? take(&b, o_lab, G * K, 1, 0, "gt_labeled") : NULL;
    const int64_t *k1 = lab ? take(&b, o_k1, G, 8, 0, "gt_k1") : NULL;
    const double *box = k1 ? take(&b, o_box, 4 * G, 8, 0, "gt_box") : NULL;
    const double *eps = box ? take(&b, o_eps, G, 8, 0, "eps_area") : NULL;
    const double *dkp = eps ? take(&b, o_dkp, D * K * 2, 8, 0, "dt_kp") : NULL;
    const double *var = dkp ? take(&b, o_var, K, 8, 0, "variances") : NULL;
    const int64_t *flips = var ? take(&b, o_flips, K, 8, 0, "flips") : NULL;
    const int64_t *gi = flips ? take(&b, o_gi, M, 8, 0, "gi") : NULL;
    const int64_t *di = gi ? take(&b, o_di, M, 8, 0, "di") : NULL;
    double *e = di ? take(&b, o_e, M * K, 8, 1, "e") : NULL;
    double *ef = e ? take(&b, o_ef, M * K, 8, 1, "e_flip") : NULL;
    if (!ef) {
        release(&b);
        return NULL;
    }
    const char *bad = NULL;
    if (any_outside(flips, K, K)) bad = "pair_errors: flips index out of range";
    else if (any_outside(gi, M, G) || any_outside(di, M, D))
        bad = "pair_errors: gi or di index out of range";
    if (bad) {
        release(&b);
        PyErr_SetString(PyExc_ValueError, bad);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < M; i++) {
        const int64_t g = gi[i];
        const double *gp = gkp + g * K * 2, *dp = dkp + di[i] * K * 2;
        const double area = eps[g];
        double *out = e + i * K, *out_flip = ef + i * K;
        if (k1[g] > 0) {
            for (Py_ssize_t k = 0; k < K; k++) {
                const double dx = dp[2 * k], dy = dp[2 * k + 1];
                double ex = dx - gp[2 * k], ey = dy - gp[2 * k + 1];
                ex = ex * ex, ey = ey * ey;
                out[k] = (ex + ey) / var[k] / area / 2.0;
                const int64_t f = flips[k];
                ex = dx - gp[2 * f], ey = dy - gp[2 * f + 1];
                ex = ex * ex, ey = ey * ey;
                out_flip[k] = (ex + ey) / var[k] / area / 2.0;
            }
        } else { /* pycocotools' 3x box around the ground truth's box */
            const double *bx = box + 4 * g;
            const double w = bx[2] - bx[0], h = bx[3] - bx[1];
            const double x0 = bx[0] - w, x1 = bx[0] + 2.0 * w;
            const double y0 = bx[1] - h, y1 = bx[1] + 2.0 * h;
            for (Py_ssize_t k = 0; k < K; k++) {
                const double dx = dp[2 * k], dy = dp[2 * k + 1];
                const double ox = NP_MAX0(x0 - dx) + NP_MAX0(dx - x1);
                const double oy = NP_MAX0(y0 - dy) + NP_MAX0(dy - y1);
                out[k] = out_flip[k] = (ox * ox + oy * oy) / var[k] / area / 2.0;
            }
        }
    }
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

static const char pair_sums_doc[] =
    "pair_sums(terms, terms_flip, gt_labeled, gt_k1, flips, gi, oks, oks_flip)\n\n"
    "OKS of each pair from its terms exp(-e) (M, K): the terms of the ground truth's labeled\n"
    "points (mirrored by flips for terms_flip; all K where it has none) summed in numpy's\n"
    "pairwise order, over that count.";

static PyObject *pair_sums(PyObject *self, PyObject *args) {
    PyObject *o_t, *o_tf, *o_lab, *o_k1, *o_flips, *o_gi, *o_oks, *o_oksf;
    if (!PyArg_ParseTuple(args, "OOOOOOOO", &o_t, &o_tf, &o_lab, &o_k1, &o_flips, &o_gi, &o_oks,
                          &o_oksf))
        return NULL;
    Py_ssize_t K = items(o_flips, 8, "flips"), G = items(o_k1, 8, "gt_k1");
    Py_ssize_t M = items(o_gi, 8, "gi");
    if (K < 0 || G < 0 || M < 0) return NULL;
    if (K < 1) {
        PyErr_SetString(PyExc_ValueError, "pair_sums: K must be >= 1");
        return NULL;
    }
    Buffers b = {.count = 0};
    const double *t = take(&b, o_t, M * K, 8, 0, "terms");
    const double *tf = t ? take(&b, o_tf, M * K, 8, 0, "terms_flip") : NULL;
    const uint8_t *lab = tf ? take(&b, o_lab, G * K, 1, 0, "gt_labeled") : NULL;
    const int64_t *k1 = lab ? take(&b, o_k1, G, 8, 0, "gt_k1") : NULL;
    const int64_t *flips = k1 ? take(&b, o_flips, K, 8, 0, "flips") : NULL;
    const int64_t *gi = flips ? take(&b, o_gi, M, 8, 0, "gi") : NULL;
    double *oks = gi ? take(&b, o_oks, M, 8, 1, "oks") : NULL;
    double *oksf = oks ? take(&b, o_oksf, M, 8, 1, "oks_flip") : NULL;
    if (!oksf) {
        release(&b);
        return NULL;
    }
    const char *bad = NULL;
    if (any_outside(flips, K, K)) bad = "pair_sums: flips index out of range";
    else if (any_outside(gi, M, G)) bad = "pair_sums: gi index out of range";
    double *row = bad ? NULL : malloc((size_t)(2 * K) * sizeof(double));
    if (bad || !row) {
        release(&b);
        if (bad) PyErr_SetString(PyExc_ValueError, bad);
        else PyErr_NoMemory();
        return NULL;
    }
    double *row_flip = row + K;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < M; i++) {
        const int64_t g = gi[i];
        const double *ti = t + i * K, *tfi = tf + i * K;
        if (k1[g] > 0) { /* unlabeled points' terms are 0.0, then the row's np.sum */
            const uint8_t *l = lab + g * K;
            for (Py_ssize_t k = 0; k < K; k++) {
                row[k] = l[k] ? ti[k] : 0.0;
                row_flip[k] = l[flips[k]] ? tfi[k] : 0.0;
            }
            oks[i] = numpy_sum(row, K) / (double)k1[g];
            oksf[i] = numpy_sum(row_flip, K) / (double)k1[g];
        } else {
            oks[i] = oksf[i] = numpy_sum(ti, K) / (double)K;
        }
    }
    Py_END_ALLOW_THREADS
    free(row);
    release(&b);
    Py_RETURN_NONE;
}

static const char argsort_doc[] =
    "argsort(keys, order)\n\n"
    "order = the stable ascending argsort of keys (uint64), as np.argsort(kind='stable'):\n"
    "an LSD radix sort in 11-bit digits, digits that all keys share skipped.";

#define RADIX_BITS 11
#define RADIX (1 << RADIX_BITS)

static PyObject *argsort(PyObject *self, PyObject *args) {
    PyObject *o_keys, *o_order;
    if (!PyArg_ParseTuple(args, "OO", &o_keys, &o_order)) return NULL;
    Py_ssize_t n = items(o_keys, 8, "keys");
    if (n < 0) return NULL;
    Buffers b = {.count = 0};
    const uint64_t *keys = take(&b, o_keys, n, 8, 0, "keys");
    int64_t *order = keys ? take(&b, o_order, n, 8, 1, "order") : NULL;
    if (!order) {
        release(&b);
        return NULL;
    }
    size_t size = (size_t)(n > 0 ? n : 1);
    uint64_t *key_a = malloc(size * 8), *key_b = malloc(size * 8);
    int64_t *idx_b = malloc(size * 8);
    Py_ssize_t *count = malloc(sizeof(Py_ssize_t) * RADIX);
    if (!key_a || !key_b || !idx_b || !count) {
        free(key_a), free(key_b), free(idx_b), free(count);
        release(&b);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    uint64_t differ = 0; /* bits in which some key differs from the first */
    for (Py_ssize_t i = 0; i < n; i++) {
        order[i] = i, key_a[i] = keys[i];
        differ |= keys[i] ^ keys[0];
    }
    int64_t *idx_a = order;
    for (int shift = 0; shift < 64 && (differ >> shift); shift += RADIX_BITS) {
        if (!((differ >> shift) & (RADIX - 1))) continue;
        memset(count, 0, sizeof(Py_ssize_t) * RADIX);
        for (Py_ssize_t i = 0; i < n; i++) count[(key_a[i] >> shift) & (RADIX - 1)]++;
        Py_ssize_t total = 0;
        for (int d = 0; d < RADIX; d++) {
            Py_ssize_t c = count[d];
            count[d] = total, total += c;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_ssize_t at = count[(key_a[i] >> shift) & (RADIX - 1)]++;
            key_b[at] = key_a[i], idx_b[at] = idx_a[i];
        }
        uint64_t *kt = key_a;
        key_a = key_b, key_b = kt;
        int64_t *it = idx_a;
        idx_a = idx_b, idx_b = it;
    }
    if (idx_a != order) { /* an odd number of passes: the result is in the scratch array */
        memcpy(order, idx_a, (size_t)n * 8);
        idx_b = idx_a;
    }
    Py_END_ALLOW_THREADS
    free(key_a), free(key_b), free(idx_b), free(count);
    release(&b);
    Py_RETURN_NONE;
}

static PyObject *sum_pairwise(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS) < 0) return NULL;
    if (view.itemsize != 8) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pairwise_sum: need float64 data");
        return NULL;
    }
    double s = numpy_sum((const double *)view.buf, view.len / 8);
    PyBuffer_Release(&view);
    return PyFloat_FromDouble(s);
}

static PyMethodDef methods[] = {
    {"extents", extents, METH_VARARGS, extents_doc},
    {"screen", screen, METH_VARARGS, screen_doc},
    {"finish", finish, METH_VARARGS, finish_doc},
    {"greedy", greedy, METH_VARARGS, greedy_doc},
    {"accumulate", accumulate, METH_VARARGS, accumulate_doc},
    {"cell_sums", cell_sums, METH_VARARGS, cell_sums_doc},
    {"pair_errors", pair_errors, METH_VARARGS, pair_errors_doc},
    {"pair_sums", pair_sums, METH_VARARGS, pair_sums_doc},
    {"argsort", argsort, METH_VARARGS, argsort_doc},
    {"pairwise_sum", sum_pairwise, METH_O, "np.sum of a float64 buffer (numpy's pairwise order)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernel",
    "The hot loops of pycocotools-exact keypoint evaluation (see _native.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
