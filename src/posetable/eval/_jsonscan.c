/* posetable.eval._jsonscan: COCO keypoint files straight into columns, in C.
 *
 * A strict JSON scanner that walks a whole COCO ground-truth document or results list once,
 * checks its syntax (RFC 8259: strings, UTF-8, escapes, numbers, literals, nesting) and
 * keeps only the fields evaluation needs, each appended to a flat column: ids as int64,
 * numbers as the same double Python's ``json`` gives pycocotools (correctly rounded: an
 * exact fast path, a long-double path whose one ambiguous case is detected, and otherwise
 * Python's own ``PyOS_string_to_double``), and each number list split into its (x, y)
 * pairs and its third values.
 *
 * It never reports a problem: anything it does not vouch for (invalid JSON, a NaN literal,
 * a string id, a float id, a null where a number belongs, a duplicate key, a key with an
 * escape, nesting past 1,024, a number Python would read otherwise) makes it return None,
 * and the Python readers (_io.py), which name every problem precisely, read the file.
 *
 * The scan runs without the GIL (two files are read at once on two cores); over an mmap of
 * the file (``drop=True``) the pages already scanned are handed back to the kernel as it
 * goes, so the file's bytes never sit in memory whole.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#include <sys/mman.h>
#include <unistd.h>
#endif

#define MAX_DEPTH 1024
#define DROP_EVERY (8u << 20)

/* ---------------------------------------------------------------------------------------- */
/* Column: a growing malloc'd array that Python sees through the buffer protocol           */

typedef struct {
    char *data;
    size_t len; /* bytes */
    size_t cap;
} Buf;

static int buf_grow(Buf *b, size_t extra) {
    size_t need = b->len + extra;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1u << 16;
    while (cap < need) cap *= 2;
    char *data = realloc(b->data, cap);
    if (data == NULL) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

#define PUSH(buf, type, value, fail_label)                                 \
    do {                                                                   \
        if ((buf)->len + sizeof(type) > (buf)->cap &&                      \
            buf_grow((buf), sizeof(type)) < 0)                             \
            goto fail_label;                                               \
        memcpy((buf)->data + (buf)->len, &(type){(value)}, sizeof(type)); \
        (buf)->len += sizeof(type);                                        \
    } while (0)

typedef struct {
    PyObject_HEAD char *data;
    Py_ssize_t len;
    Py_ssize_t itemsize;
    char format[2];
    Py_ssize_t exports; /* buffers handed out and not released: its memory may not move */
} Column;

static void column_dealloc(Column *self) {
    free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int column_getbuffer(Column *self, Py_buffer *view, int flags) {
    static char empty = 0;
    int r = PyBuffer_FillInfo(view, (PyObject *)self, self->data ? self->data : &empty,
                              self->len, 0, flags);
    if (r == 0) self->exports++;
    return r;
}

static void column_releasebuffer(Column *self, Py_buffer *view) {
    (void)view;
    self->exports--;
}

static PyBufferProcs column_buffer = {(getbufferproc)column_getbuffer,
                                      (releasebufferproc)column_releasebuffer};

static PyTypeObject ColumnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "posetable.eval._jsonscan.Column",
    .tp_basicsize = sizeof(Column),
    .tp_dealloc = (destructor)column_dealloc,
    .tp_as_buffer = &column_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A column read by the scanner (bytes; read it with numpy.frombuffer).",
};

/* A Column taking over the memory of `b` (shrunk to its length); NULL on error. */
static PyObject *column_from(Buf *b) {
    Column *col = PyObject_New(Column, &ColumnType);
    if (col == NULL) return NULL;
    if (b->len && b->len < b->cap) {
        char *data = realloc(b->data, b->len);
        if (data != NULL) b->data = data;
    }
    col->data = b->data;
    col->len = (Py_ssize_t)b->len;
    col->exports = 0;
    b->data = NULL;
    b->len = b->cap = 0;
    return (PyObject *)col;
}

/* ---------------------------------------------------------------------------------------- */
/* The scanner                                                                              */

typedef struct {
    const unsigned char *p, *end;
    const unsigned char *base; /* start of the mapping, for dropping pages */
    const unsigned char *kept; /* first byte not yet handed back */
    int drop;
    int oom;
    PyThreadState *save; /* the released GIL's thread state */
    /* a part of a results list (two or more parts are scanned at once): */
    const unsigned char *stop; /* the prefix part ends where an element starts here */
    int resume;                /* positioned at an element after a ',' of the list */
} Scan;

static void maybe_drop(Scan *s) {
#if !defined(_WIN32) && defined(MADV_DONTNEED)
    if (!s->drop || (size_t)(s->p - s->kept) < DROP_EVERY) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t from = ((uintptr_t)s->kept + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t upto = ((uintptr_t)s->p & ~((uintptr_t)page - 1));
    if (upto > from + (uintptr_t)page) {
        upto -= (uintptr_t)page; /* keep the page being read */
        madvise((void *)from, upto - from, MADV_DONTNEED);
        s->kept = (const unsigned char *)upto;
    }
#else
    (void)s;
#endif
}

static inline void ws(Scan *s) {
    const unsigned char *p = s->p, *end = s->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    s->p = p;
}

static inline int peek(Scan *s) { return s->p < s->end ? *s->p : -1; }

static inline int eat(Scan *s, unsigned char c) {
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 1;
    }
    return 0;
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* A string starting at the quote: its raw bytes in [*start, *start + *len); *escaped when it
 * holds a backslash. Checks escapes (lone surrogates refused), control bytes and UTF-8. */
static int string(Scan *s, const unsigned char **start, size_t *len, int *escaped) {
    const unsigned char *p = s->p + 1, *end = s->end;
    *start = p;
    *escaped = 0;
    for (;;) {
        while (p < end && *p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) p++;
        if (p >= end) return -1;
        unsigned c = *p;
        if (c == '"') break;
        if (c < 0x20) return -1;
        if (c == '\\') {
            *escaped = 1;
            if (p + 1 >= end) return -1;
            unsigned e = p[1];
            if (e == 'u') {
                unsigned u;
                if (p + 6 > end || hex4(p + 2, &u) < 0) return -1;
                p += 6;
                if (u >= 0xDC00 && u <= 0xDFFF) return -1;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned lo;
                    if (p + 6 > end || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return -1;
                    p += 6;
                }
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p += 2;
            } else {
                return -1;
            }
            continue;
        }
        /* UTF-8: no overlong forms, no surrogates, at most U+10FFFF */
        if (c >= 0xC2 && c <= 0xDF) {
            if (p + 2 > end || (p[1] & 0xC0) != 0x80) return -1;
            p += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (p + 3 > end || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return -1;
            if (c == 0xE0 && p[1] < 0xA0) return -1;
            if (c == 0xED && p[1] > 0x9F) return -1;
            p += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (p + 4 > end || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                (p[3] & 0xC0) != 0x80)
                return -1;
            if (c == 0xF0 && p[1] < 0x90) return -1;
            if (c == 0xF4 && p[1] > 0x8F) return -1;
            p += 4;
        } else {
            return -1;
        }
    }
    *len = (size_t)(p - *start);
    s->p = p + 1;
    return 0;
}

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if LDBL_MANT_DIG == 64
static long double POW10L[28];
#endif

static const uint64_t POW10I[9] = {1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u,
                                   100000000u};

/* The run of decimal digits at p (at most 8 counted when 8 bytes can be read at once):
 * *value accumulates it (value * 10^n + its digits, wrapping like the byte loop), returns
 * its end. Eight bytes are read with one load and their digits told apart and summed with
 * a few multiplications (no branch per digit); a run of 8 continues a byte at a time. */
static inline const unsigned char *digit_run(const unsigned char *p, const unsigned char *end,
                                             uint64_t *value) {
    uint64_t m = *value;
#if defined(__GNUC__) || defined(__clang__)
    if (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        x = __builtin_bswap64(x);
#endif
        uint64_t t = x - 0x3030303030303030ull; /* each byte minus '0' (a borrow only
                                                   reaches bytes after a non-digit) */
        uint64_t bad = (t | (t + 0x7676767676767676ull)) & 0x8080808080808080ull;
        int n = bad ? __builtin_ctzll(bad) >> 3 : 8;
        if (n > 0) {
            uint64_t v = n == 8 ? t : t << (8 * (8 - n)); /* leading zeros: n digits' value */
            v = v * 10 + (v >> 8);
            v = (((v & 0x000000FF000000FFull) * 0x000F424000000064ull) +
                 (((v >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >>
                32;
            m = m * POW10I[n] + v;
            p += n;
        }
        if (n < 8) {
            *value = m;
            return p;
        }
    }
#endif
    unsigned dg;
    while (p < end && (dg = (unsigned)(*p - '0')) < 10) {
        m = m * 10 + dg;
        p++;
    }
    *value = m;
    return p;
}

/* Python's own correctly rounded parse of the number's text (with the GIL taken back). */
static int slow_double(Scan *s, const unsigned char *from, size_t n, double *out) {
    char text[400];
    if (n >= sizeof(text)) return -1;
    memcpy(text, from, n);
    text[n] = 0;
    PyEval_RestoreThread(s->save);
    char *endp = NULL;
    double v = PyOS_string_to_double(text, &endp, NULL);
    int bad = (v == -1.0 && PyErr_Occurred()) || endp != text + n;
    if (PyErr_Occurred()) PyErr_Clear();
    s->save = PyEval_SaveThread();
    if (bad) return -1;
    *out = v;
    return 0;
}

/* A JSON number: *out its double (as Python's float() of its text, or float() of the int for
 * an integer literal); *is_int / *ival when it is an integer literal within int64. */
static int number(Scan *s, double *out, int *is_int, int64_t *ival) {
    const unsigned char *p = s->p, *end = s->end, *from = p;
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end) return -1;
    /* one pass over the digits: m accumulates the significant ones (the integer part, no
     * leading zero but "0", then the fraction past the zeros that lead it when the integer
     * part is 0), nd counts them (m is only used when nd <= 19: it cannot have wrapped),
     * nf counts the fraction's digits */
    uint64_t m = 0;
    ptrdiff_t nd = 0, nf = 0;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        const unsigned char *i0 = p;
        p = digit_run(p, end, &m);
        nd = p - i0;
    } else {
        return -1;
    }
    int frac = 0;
    if (p < end && *p == '.') {
        p++;
        frac = 1;
        const unsigned char *f0 = p;
        if (nd == 0)
            while (p < end && *p == '0') p++;
        const unsigned char *sig = p;
        p = digit_run(p, end, &m);
        nd += p - sig;
        nf = p - f0;
        if (nf == 0) return -1;
    }
    int expo = 0, x = 0, eneg = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        expo = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || (unsigned)(*p - '0') >= 10) return -1;
        while (p < end && (unsigned)(*p - '0') < 10) {
            if (x < 100000) x = x * 10 + (*p - '0');
            p++;
        }
    }
    s->p = p;
    if (nd > 19) {
        *is_int = 0;
        return slow_double(s, from, (size_t)(p - from), out);
    }
    if (!frac && !expo) {
        *is_int = neg ? m <= (uint64_t)INT64_MAX + 1 : m <= (uint64_t)INT64_MAX;
        if (*is_int) *ival = neg ? (int64_t)(0 - m) : (int64_t)m;
        double v = (double)m; /* correctly rounded, as Python's int -> float */
        *out = m == 0 ? 0.0 : (neg ? -v : v); /* Python: float(int("-0")) is +0.0 */
        return 0;
    }
    *is_int = 0;
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    int e10 = (eneg ? -x : x) - (int)nf;
    if (m <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)m; /* exact */
        d = e10 < 0 ? d / POW10[-e10] : d * POW10[e10]; /* one rounding of exact operands */
        *out = neg ? -d : d;
        return 0;
    }
#if LDBL_MANT_DIG == 64
    if (e10 >= -27 && e10 <= 27) {
        long double v = (long double)m; /* exact: m < 2^64 */
        v = e10 < 0 ? v / POW10L[-e10] : v * POW10L[e10];
        /* One rounding to 64 bits; rounding that to 53 can only differ from rounding the
         * exact value when it lands exactly on a halfway point of doubles. */
        int ex;
        long double fr = frexpl(v, &ex);
        uint64_t bits = (uint64_t)ldexpl(fr, 64);
        if ((bits & 0x7FF) != 0x400 && ex > -1000 && ex < 1000) {
            double d = (double)v;
            *out = neg ? -d : d;
            return 0;
        }
    }
#endif
    return slow_double(s, from, (size_t)(p - from), out);
}

/* Past a JSON number whose value is not needed (its grammar checked all the same). */
static int skip_number(Scan *s) {
    const unsigned char *p = s->p, *end = s->end;
    if (p < end && *p == '-') p++;
    if (p >= end) return -1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && (unsigned)(*p - '0') < 10) p++;
    } else {
        return -1;
    }
    if (p < end && *p == '.') {
        const unsigned char *f0 = ++p;
        while (p < end && (unsigned)(*p - '0') < 10) p++;
        if (p == f0) return -1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const unsigned char *e0 = p;
        while (p < end && (unsigned)(*p - '0') < 10) p++;
        if (p == e0) return -1;
    }
    s->p = p;
    return 0;
}

static int literal(Scan *s, const char *word, size_t n) {
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return -1;
    s->p += n;
    return 0;
}

/* Skip any value (checked as strictly as the rest). */
static int skip(Scan *s) {
    unsigned char stack[MAX_DEPTH];
    int depth = 0;
    for (;;) {
        ws(s);
        int c = peek(s);
        if (c == '{' || c == '[') {
            if (depth >= MAX_DEPTH) return -1;
            stack[depth++] = (unsigned char)c;
            s->p++;
            ws(s);
            int close = c == '{' ? '}' : ']';
            if (peek(s) == close) {
                s->p++;
                depth--;
                goto after_value;
            }
            if (c == '{') {
                const unsigned char *k;
                size_t kl;
                int esc;
                if (peek(s) != '"' || string(s, &k, &kl, &esc) < 0 || !eat(s, ':')) return -1;
            }
            continue;
        }
        if (c == '"') {
            const unsigned char *k;
            size_t kl;
            int esc;
            if (string(s, &k, &kl, &esc) < 0) return -1;
        } else if (c == 't') {
            if (literal(s, "true", 4) < 0) return -1;
        } else if (c == 'f') {
            if (literal(s, "false", 5) < 0) return -1;
        } else if (c == 'n') {
            if (literal(s, "null", 4) < 0) return -1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (skip_number(s) < 0) return -1;
        } else {
            return -1;
        }
    after_value:
        for (;;) {
            if (depth == 0) return 0;
            ws(s);
            int top = stack[depth - 1];
            int c2 = peek(s);
            if (c2 == ',') {
                s->p++;
                if (top == '{') {
                    const unsigned char *k;
                    size_t kl;
                    int esc;
                    ws(s);
                    if (peek(s) != '"' || string(s, &k, &kl, &esc) < 0 || !eat(s, ':'))
                        return -1;
                }
                break; /* the next value */
            }
            if (c2 == (top == '{' ? '}' : ']')) {
                s->p++;
                depth--;
                continue;
            }
            return -1;
        }
    }
}

/* A list of numbers: values at positions 0, 1 (mod 3) to `xy`, at 2 (mod 3) to `third` (or
 * all to `xy` when `third` is NULL); *count the number of values. `results`: a results
 * list's numbers, refused when not finite (a literal past the doubles' range: the readers
 * name it), the third values kept as float32 (what a run keeps of them). */
static int number_list(Scan *s, Buf *xy, Buf *third, int64_t *count, int results) {
    int64_t n = 0;
    s->p++; /* '[' */
    ws(s);
    if (peek(s) == ']') {
        s->p++;
        *count = 0;
        return 0;
    }
    for (;;) {
        ws(s);
        double d;
        int is_int;
        int64_t iv;
        int c = peek(s);
        if (!(c == '-' || (c >= '0' && c <= '9')) || number(s, &d, &is_int, &iv) < 0) return -1;
        if (results && !isfinite(d)) return -1;
        if (third != NULL && n % 3 == 2) {
            if (results)
                PUSH(third, float, (float)d, oom); /* rounded to nearest, as numpy's astype */
            else
                PUSH(third, double, d, oom);
        } else {
            PUSH(xy, double, d, oom);
        }
        n++;
        ws(s);
        c = peek(s);
        if (c == ',') {
            s->p++;
            continue;
        }
        if (c == ']') {
            s->p++;
            break;
        }
        return -1;
    }
    *count = n;
    return 0;
oom:
    s->oom = 1;
    return -1;
}

/* An integer id (a JSON integer literal within int64). */
static int integer(Scan *s, int64_t *out) {
    ws(s);
    int c = peek(s);
    if (!(c == '-' || (c >= '0' && c <= '9'))) return -1;
    double d;
    int is_int;
    if (number(s, &d, &is_int, out) < 0 || !is_int) return -1;
    return 0;
}

/* A finite-or-not number (the Python side checks finiteness). */
static int real(Scan *s, double *out) {
    ws(s);
    int c = peek(s);
    if (!(c == '-' || (c >= '0' && c <= '9'))) return -1;
    int is_int;
    int64_t iv;
    return number(s, out, &is_int, &iv);
}

/* The fields of one object, by name. */
typedef struct {
    const char *name;
    size_t len;
} Key;

static int key_index(const unsigned char *k, size_t kl, const Key *keys, int n) {
    for (int i = 0; i < n; i++)
        if (keys[i].len == kl && memcmp(keys[i].name, k, kl) == 0) return i;
    return -1;
}

/* Iterate an object: for each key, *field is its index in `keys` (-1 for others, which the
 * caller skips); returns 1 while there is a key, 0 at the end, -1 on an error. `first` says
 * whether the '{' is still to be read. Duplicate known keys are refused via `seen`. */
static int next_key(Scan *s, int *first, const Key *keys, int n, unsigned *seen, int *field) {
    if (*first) {
        ws(s);
        if (peek(s) != '{') return -1;
        s->p++;
        ws(s);
        if (peek(s) == '}') {
            s->p++;
            return 0;
        }
        *first = 0;
    } else {
        ws(s);
        int c = peek(s);
        if (c == '}') {
            s->p++;
            return 0;
        }
        if (c != ',') return -1;
        s->p++;
        ws(s);
    }
    const unsigned char *k;
    size_t kl;
    int esc;
    if (peek(s) != '"' || string(s, &k, &kl, &esc) < 0 || !eat(s, ':')) return -1;
    *field = key_index(k, kl, keys, n);
    if (esc) {
        /* a key spelled with escapes could be one of ours in disguise: not ours to read */
        return -1;
    }
    if (*field >= 0) {
        if (*seen & (1u << *field)) return -1; /* JSON readers keep the last: rare, refused */
        *seen |= 1u << *field;
    }
    ws(s);
    return 1;
}

/* Iterate an array: 1 while there is an element (positioned at it), 0 at the end. */
static int next_item(Scan *s, int *first) {
    ws(s);
    if (*first) {
        if (peek(s) != '[') return -1;
        s->p++;
        ws(s);
        *first = 0;
        if (peek(s) == ']') {
            s->p++;
            return 0;
        }
        return 1;
    }
    int c = peek(s);
    if (c == ']') {
        s->p++;
        return 0;
    }
    if (c != ',') return -1;
    s->p++;
    ws(s);
    return 1;
}

static int at_end(Scan *s) {
    ws(s);
    return s->p == s->end;
}

/* ---------------------------------------------------------------------------------------- */
/* Ground truth                                                                             */

enum { G_IMG_ID, G_CAT_ID, G_CAT_KPT, G_ANN_ID, G_ANN_IMG, G_ANN_CAT, G_KP_XY, G_KP_V, G_KP_N,
       G_BOX, G_BOX_N, G_AREA, G_CROWD, G_NKPT, G_PRESENT, G_COLUMNS };
static const char *G_NAMES[G_COLUMNS] = {
    "image_ids", "category_ids", "category_keypoints", "ids", "image", "category",
    "xy", "v", "kp_count", "box", "box_count", "area", "iscrowd", "num_keypoints", "present"};

static const Key TOP_KEYS[] = {{"images", 6}, {"annotations", 11}, {"categories", 10}};
static const Key ID_KEY[] = {{"id", 2}};
static const Key CAT_KEYS[] = {{"id", 2}, {"keypoints", 9}};
static const Key ANN_KEYS[] = {{"id", 2},    {"image_id", 8}, {"category_id", 11},
                               {"keypoints", 9}, {"bbox", 4},  {"area", 4},
                               {"iscrowd", 7}, {"num_keypoints", 13}};

static int ids_list(Scan *s, Buf *out) {
    int first = 1, r;
    while ((r = next_item(s, &first)) == 1) {
        int f = 1, field, k;
        unsigned seen = 0;
        int64_t id = 0;
        while ((k = next_key(s, &f, ID_KEY, 1, &seen, &field)) == 1) {
            if (field == 0) {
                if (integer(s, &id) < 0) return -1;
            } else if (skip(s) < 0) {
                return -1;
            }
        }
        if (k < 0 || !(seen & 1)) return -1;
        PUSH(out, int64_t, id, oom);
    }
    return r;
oom:
    s->oom = 1;
    return -1;
}

static int categories(Scan *s, Buf *ids, Buf *kpts) {
    int first = 1, r;
    while ((r = next_item(s, &first)) == 1) {
        int f = 1, field, k;
        unsigned seen = 0;
        int64_t id = 0, count = -1;
        while ((k = next_key(s, &f, CAT_KEYS, 2, &seen, &field)) == 1) {
            if (field == 0) {
                if (integer(s, &id) < 0) return -1;
            } else if (field == 1) {
                int c = peek(s);
                if (c == 'n') {
                    if (literal(s, "null", 4) < 0) return -1;
                } else if (c == '[') { /* count the names */
                    int fi = 1, ri;
                    count = 0;
                    while ((ri = next_item(s, &fi)) == 1) {
                        if (skip(s) < 0) return -1;
                        count++;
                    }
                    if (ri < 0) return -1;
                } else {
                    return -1;
                }
            } else if (skip(s) < 0) {
                return -1;
            }
        }
        if (k < 0 || !(seen & 1)) return -1;
        PUSH(ids, int64_t, id, oom);
        PUSH(kpts, int64_t, count, oom);
    }
    return r;
oom:
    s->oom = 1;
    return -1;
}

static int annotations(Scan *s, Buf *col) {
    int first = 1, r;
    while ((r = next_item(s, &first)) == 1) {
        int f = 1, field, k;
        unsigned seen = 0;
        int64_t id = 0, img = 0, cat = 0, kp_n = -1, box_n = -1;
        double area = 0, crowd = 0, nkpt = 0;
        while ((k = next_key(s, &f, ANN_KEYS, 8, &seen, &field)) == 1) {
            switch (field) {
            case 0:
                if (integer(s, &id) < 0) return -1;
                break;
            case 1:
                if (integer(s, &img) < 0) return -1;
                break;
            case 2:
                if (integer(s, &cat) < 0) return -1;
                break;
            case 3:
                if (peek(s) != '[' ||
                    number_list(s, &col[G_KP_XY], &col[G_KP_V], &kp_n, 0) < 0)
                    return -1;
                break;
            case 4:
                if (peek(s) == 'n') {
                    if (literal(s, "null", 4) < 0) return -1; /* null: no box, as a missing one */
                } else if (peek(s) != '[' || number_list(s, &col[G_BOX], NULL, &box_n, 0) < 0) {
                    return -1;
                }
                break;
            case 5:
                if (real(s, &area) < 0) return -1;
                break;
            case 6:
                if (real(s, &crowd) < 0) return -1;
                break;
            case 7:
                if (real(s, &nkpt) < 0) return -1;
                break;
            default:
                if (skip(s) < 0) return -1;
            }
        }
        if (k < 0 || (seen & 7) != 7 || !(seen & 8)) return -1;
        PUSH(&col[G_ANN_ID], int64_t, id, oom);
        PUSH(&col[G_ANN_IMG], int64_t, img, oom);
        PUSH(&col[G_ANN_CAT], int64_t, cat, oom);
        PUSH(&col[G_KP_N], int64_t, kp_n, oom);
        PUSH(&col[G_BOX_N], int64_t, box_n, oom);
        PUSH(&col[G_AREA], double, area, oom);
        PUSH(&col[G_CROWD], double, crowd, oom);
        PUSH(&col[G_NKPT], double, nkpt, oom);
        PUSH(&col[G_PRESENT], uint8_t, (uint8_t)(seen >> 5), oom); /* area, iscrowd, num_kpts */
        maybe_drop(s);
    }
    return r;
oom:
    s->oom = 1;
    return -1;
}

static int scan_ground_truth(Scan *s, Buf *col) {
    int f = 1, field, k;
    unsigned seen = 0;
    while ((k = next_key(s, &f, TOP_KEYS, 3, &seen, &field)) == 1) {
        int r;
        if (field == 0) r = ids_list(s, &col[G_IMG_ID]);
        else if (field == 1) r = annotations(s, col);
        else if (field == 2) r = categories(s, &col[G_CAT_ID], &col[G_CAT_KPT]);
        else r = skip(s);
        if (r < 0) return -1;
    }
    if (k < 0 || seen != 7 || !at_end(s)) return -1;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Results                                                                                  */

enum { R_IMG, R_CAT, R_XY, R_THIRD, R_KP_N, R_SCORE, R_BOX, R_BOX_N, R_COLUMNS };
static const char *R_NAMES[R_COLUMNS] = {"image_ids", "category_ids", "xy", "third",
                                         "kp_count", "score", "box", "box_count"};
static const Key RES_KEYS[] = {
    {"image_id", 8}, {"category_id", 11}, {"keypoints", 9}, {"score", 5}, {"bbox", 4}};

static int scan_results(Scan *s, Buf *col) {
    int first = !s->resume, r;
    for (;;) {
        if (s->resume) { /* a later part: its first element needs no ',' before it */
            s->resume = 0;
            ws(s);
            r = 1;
        } else {
            r = next_item(s, &first);
        }
        if (r != 1) break;
        if (s->stop != NULL && s->p >= s->stop) /* the part ends: exactly at an element */
            return s->p == s->stop ? 0 : -1;
        int f = 1, field, k;
        unsigned seen = 0;
        int64_t img = 0, cat = 0, kp_n = -1, box_n = -1;
        double score = 0;
        while ((k = next_key(s, &f, RES_KEYS, 5, &seen, &field)) == 1) {
            switch (field) {
            case 0:
                if (integer(s, &img) < 0) return -1;
                break;
            case 1:
                if (integer(s, &cat) < 0) return -1;
                break;
            case 2:
                if (peek(s) != '[' || number_list(s, &col[R_XY], &col[R_THIRD], &kp_n, 1) < 0)
                    return -1;
                break;
            case 3:
                if (real(s, &score) < 0 || !isfinite(score)) return -1;
                break;
            case 4:
                if (peek(s) == 'n') {
                    if (literal(s, "null", 4) < 0) return -1;
                } else if (peek(s) != '[' || number_list(s, &col[R_BOX], NULL, &box_n, 1) < 0) {
                    return -1;
                }
                break;
            default:
                if (skip(s) < 0) return -1;
            }
        }
        if (k < 0 || (seen & 15) != 15) return -1;
        PUSH(&col[R_IMG], int64_t, img, oom);
        PUSH(&col[R_CAT], int64_t, cat, oom);
        PUSH(&col[R_KP_N], int64_t, kp_n, oom);
        PUSH(&col[R_SCORE], double, score, oom);
        PUSH(&col[R_BOX_N], int64_t, box_n, oom);
        maybe_drop(s);
    }
    /* a prefix part that reached the list's end never met its stop: not a part's boundary */
    if (r < 0 || s->stop != NULL || !at_end(s)) return -1;
    return 0;
oom:
    s->oom = 1;
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Python entry points                                                                      */

typedef int (*scanner)(Scan *, Buf *);

/* Room for each column of `ncol`, reserved before the scan (`want` bytes each), so that
 * the columns seldom move as they grow (two parts scanned at once each moving theirs
 * serialise on the process's memory map). Pages reserved and never written are never made
 * resident; a file of other proportions grows a column as before. */
static int reserve(Buf *col, const size_t *want, int ncol) {
    for (int i = 0; i < ncol; i++)
        if (want[i] && buf_grow(&col[i], want[i]) < 0) return -1;
    return 0;
}

/* The room of `bytes` of a results list, sized for a typical file: a number in ~8 bytes
 * of text, two in three of them x or y; an element in 128 bytes or more, its box's 32
 * bytes of doubles in ~250 bytes or more of its text. About 1.4x the text in all. */
static int reserve_results(Buf *col, size_t bytes) {
    if (bytes < (1u << 20)) return 0; /* small: growing is cheap */
    size_t per_element = bytes / 128 * sizeof(int64_t);
    size_t want[R_COLUMNS] = {per_element, per_element, bytes / 4 * 3, bytes / 5, per_element,
                              per_element, bytes / 8, per_element};
    return reserve(col, want, R_COLUMNS);
}

/* The same for a ground truth file: its keypoints' x and y in as many bytes as its text
 * (a point's "x,y,v," in 10 bytes or more of text is 24 of doubles), v in half that, the
 * columns of an annotation (or image) in 128 bytes or more of text; a file with
 * segmentations reserves more than it uses. */
static int reserve_ground_truth(Buf *col, size_t bytes) {
    if (bytes < (1u << 20)) return 0;
    size_t per_element = bytes / 128 * sizeof(int64_t);
    size_t want[G_COLUMNS];
    for (int i = 0; i < G_COLUMNS; i++) want[i] = per_element;
    want[G_CAT_ID] = want[G_CAT_KPT] = 0;
    want[G_KP_XY] = bytes;
    want[G_KP_V] = bytes / 2;
    want[G_BOX] = bytes / 4;
    want[G_PRESENT] = bytes / 128;
    return reserve(col, want, G_COLUMNS);
}

static PyObject *run(PyObject *args, scanner fn, const char **names, int ncol) {
    Py_buffer view;
    PyObject *data;
    int drop = 0;
    Py_ssize_t start = 0, stop = -1;
    if (!PyArg_ParseTuple(args, "O|pnn", &data, &drop, &start, &stop)) return NULL;
    if (fn != scan_results && (start != 0 || stop != -1)) {
        PyErr_SetString(PyExc_ValueError, "only a results list is scanned in parts");
        return NULL;
    }
    /* pages are handed back only of a file's mapping (anonymous memory would be zeroed) */
    drop = drop && strcmp(Py_TYPE(data)->tp_name, "mmap.mmap") == 0;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) return NULL;
    Buf *col = calloc((size_t)ncol, sizeof(Buf));
    if (col == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    if (start < 0 || start > view.len || stop < -1 || stop > view.len ||
        (stop >= 0 && stop <= start)) {
        PyBuffer_Release(&view);
        free(col);
        PyErr_SetString(PyExc_ValueError, "a part needs 0 <= start < stop <= len(data)");
        return NULL;
    }
    Scan s = {0};
    s.base = s.p = (const unsigned char *)view.buf;
    s.end = s.p + view.len;
    s.kept = s.p + start;
    s.drop = drop;
    if (start > 0) { /* a later part: at one of the list's elements */
        s.p += start;
        s.resume = 1;
    }
    if (stop >= 0) s.stop = s.base + stop;
    size_t span = (size_t)((stop >= 0 ? stop : view.len) - start);
    if ((fn == scan_results ? reserve_results(col, span) : reserve_ground_truth(col, span)) < 0) {
        PyBuffer_Release(&view);
        for (int i = 0; i < ncol; i++) free(col[i].data); /* what was reserved before */
        free(col);
        return PyErr_NoMemory();
    }
    s.save = PyEval_SaveThread();
    int r = fn(&s, col);
    PyEval_RestoreThread(s.save);
    PyBuffer_Release(&view);
    PyObject *out = NULL;
    if (s.oom) {
        PyErr_NoMemory();
    } else if (r < 0) {
        out = Py_None;
        Py_INCREF(out);
    } else {
        out = PyDict_New();
        for (int i = 0; out != NULL && i < ncol; i++) {
            PyObject *c = column_from(&col[i]);
            if (c == NULL || PyDict_SetItemString(out, names[i], c) < 0) Py_CLEAR(out);
            Py_XDECREF(c);
        }
    }
    for (int i = 0; i < ncol; i++) free(col[i].data);
    free(col);
    return out;
}

static PyObject *ground_truth(PyObject *self, PyObject *args) {
    return run(args, scan_ground_truth, G_NAMES, G_COLUMNS);
}

static PyObject *results(PyObject *self, PyObject *args) {
    return run(args, scan_results, R_NAMES, R_COLUMNS);
}

/* The columns of a file's parts as one: the first grown in place (realloc: its pages are
 * kept, not copied), the others' bytes appended and their memory freed (they are left
 * empty). So joining costs the later parts' bytes, not a second copy of every column. */
static PyObject *join(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "join takes a sequence of columns");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    size_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!Py_IS_TYPE(items[i], &ColumnType)) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "join takes columns of the scanner");
            return NULL;
        }
        Column *c = (Column *)items[i];
        if (c->exports > 0) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "a column read through a buffer cannot be joined");
            return NULL;
        }
        for (Py_ssize_t j = 0; j < i; j++) {
            if (items[j] == items[i]) {
                Py_DECREF(seq);
                PyErr_SetString(PyExc_ValueError, "a column cannot be joined to itself");
                return NULL;
            }
        }
        total += (size_t)c->len;
    }
    if (n == 0) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "join needs at least one column");
        return NULL;
    }
    Column *first = (Column *)items[0];
    char *data = first->data;
    if (total > (size_t)first->len) {
        data = realloc(first->data, total);
        if (data == NULL) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
    }
    size_t at = (size_t)first->len;
    for (Py_ssize_t i = 1; i < n; i++) {
        Column *c = (Column *)items[i];
        if (c->len) memcpy(data + at, c->data, (size_t)c->len);
        at += (size_t)c->len;
        free(c->data);
        c->data = NULL;
        c->len = 0;
    }
    first->data = data;
    first->len = (Py_ssize_t)total;
    Py_INCREF(first);
    Py_DECREF(seq);
    return (PyObject *)first;
}

static PyObject *parse_number(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Scan s = {0};
    s.p = (const unsigned char *)view.buf;
    s.end = s.p + view.len;
    double d;
    int is_int;
    int64_t iv;
    s.save = PyEval_SaveThread();
    int r = number(&s, &d, &is_int, &iv);
    PyEval_RestoreThread(s.save);
    int whole = s.p == s.end;
    PyBuffer_Release(&view);
    if (r < 0 || !whole) Py_RETURN_NONE;
    return PyFloat_FromDouble(d);
}

static PyMethodDef methods[] = {
    {"ground_truth", ground_truth, METH_VARARGS,
     "ground_truth(data, drop=False) -> dict of columns | None\n\n"
     "A COCO keypoints ground-truth document's ids and annotation fields, or None when the\n"
     "Python reader must read it. drop: data is an mmap whose scanned pages may be dropped."},
    {"results", results, METH_VARARGS,
     "results(data, drop=False, start=0, stop=-1) -> dict of columns | None\n\n"
     "A COCO keypoint results list's fields, or None when the Python reader must read it.\n"
     "A part of the list: start > 0 is the offset of an element (after a ','), stop >= 0\n"
     "the offset where the part's elements end (where the next element starts); a part\n"
     "whose stop is not exactly where an element starts gives None."},
    {"join", join, METH_O,
     "join(columns) -> Column: the columns' bytes in order, in the first (grown in place);\n"
     "the others are left empty. A column read through a buffer cannot be joined."},
    {"parse_number", parse_number, METH_O,
     "parse_number(text) -> float | None: one JSON number as the scanner reads it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jsonscan",
    "COCO keypoint files straight into columns (see posetable.eval._coco_scan).", -1, methods,
};

PyMODINIT_FUNC PyInit__jsonscan(void) {
#if LDBL_MANT_DIG == 64
    POW10L[0] = 1.0L;
    for (int i = 1; i < 28; i++) POW10L[i] = POW10L[i - 1] * 10.0L; /* exact up to 1e27 */
#endif
    if (PyType_Ready(&ColumnType) < 0) return NULL;
    return PyModule_Create(&module);
}
