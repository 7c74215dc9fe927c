/* rANS coding of symbols with per-symbol integer tables, in CompressAI's stream format.
 *
 * The stream is exactly what CompressAI's `RansEncoder.encode_with_indexes` writes for
 * symbols inside the alphabet (64-bit state, 32-bit little-endian words, 16-bit tables,
 * the state flushed first; F. Giesen's rans64): files written by either coder read with
 * the other. What differs is the interface and the checks:
 *
 * - symbols, table rows and tables are read from buffers (NumPy arrays), not converted
 *   from Python lists, and the tables are handed over once rather than once per pass;
 * - a decoder keeps its state between calls, so a file coded in several passes is read
 *   pass by pass with the tables of each chosen from the passes before it;
 * - reading is bounded by the stream (no padding); for nodecode's codecs the escape symbol
 *   is an error rather than a request for a stream-chosen number of raw bits, and for
 *   CompressAI's models (`decode_escaped`) escapes decode as CompressAI decodes them but
 *   within the stream and at most as long as an encoder writes; `canonical()` says whether
 *   the stream is the encoding of what was decoded (the decoder began in the encoder's
 *   range, ended in its initial state and read every word), which is exactly when
 *   re-encoding the symbols would give the same bytes, at no cost.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define PRECISION 16
#define STATE_LOW (1ull << 31)    /* the state's lower bound, and the encoder's start */
#define STATE_HIGH (1ull << 63)   /* states the encoder can reach are below this */

typedef struct {
    Py_buffer view;
    const int32_t *data;
    Py_ssize_t n;
} Int32Array;

/* A read-only C-contiguous buffer of int32 (format 'i' or 'l' of size 4). */
static int int32_array(PyObject *obj, Int32Array *out, const char *what) {
    if (PyObject_GetBuffer(obj, &out->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        return -1;
    }
    const char *f = out->view.format ? out->view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (out->view.itemsize != 4 || (*f != 'i' && *f != 'l') || f[1] != '\0') {
        PyErr_Format(PyExc_TypeError, "%s must be an int32 array", what);
        PyBuffer_Release(&out->view);
        return -1;
    }
    out->data = (const int32_t *)out->view.buf;
    out->n = out->view.len / 4;
    return 0;
}

/* Why a CDF row of `length` entries cannot be coded with (NULL if it can): it must run from
 * 0 to 2^16 and give every symbol a frequency of at least 1. */
static const char *table_problem(const int32_t *cdf, Py_ssize_t length) {
    if (cdf[0] != 0 || cdf[length - 1] != (1 << PRECISION)) {
        return "a table does not run from 0 to 65536";
    }
    for (Py_ssize_t j = 0; j + 1 < length; j++) {
        if (cdf[j + 1] <= cdf[j]) return "a table gives a symbol no probability";
    }
    return NULL;
}

/* Tables: integer CDFs (rows × width), checked once and copied, so each coding call
 * only indexes them. */
typedef struct {
    PyObject_HEAD
    int32_t *cdfs;
    Py_ssize_t rows, width;
} Tables;

static int Tables_init(Tables *self, PyObject *args, PyObject *kwargs) {
    PyObject *cdfs_obj;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "On", &cdfs_obj, &width)) return -1;
    Int32Array cdfs;
    if (int32_array(cdfs_obj, &cdfs, "tables") < 0) return -1;
    int ok = 0;
    if (width < 3 || cdfs.n == 0 || cdfs.n % width != 0) {
        PyErr_SetString(PyExc_ValueError, "tables must be rows of at least 3 entries");
        goto done;
    }
    for (Py_ssize_t r = 0; r < cdfs.n / width; r++) {
        const char *problem = table_problem(cdfs.data + r * width, width);
        if (problem) {
            PyErr_SetString(PyExc_ValueError, problem);
            goto done;
        }
    }
    int32_t *copy = PyMem_Malloc(cdfs.n * sizeof(int32_t));
    if (!copy) {
        PyErr_NoMemory();
        goto done;
    }
    memcpy(copy, cdfs.data, cdfs.n * sizeof(int32_t));
    PyMem_Free(self->cdfs);
    self->cdfs = copy;
    self->rows = cdfs.n / width;
    self->width = width;
    ok = 1;
done:
    PyBuffer_Release(&cdfs.view);
    return ok ? 0 : -1;
}

static void Tables_dealloc(Tables *self) {
    PyMem_Free(self->cdfs);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject TablesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "nodecode.bitstream._rans.Tables",
    .tp_basicsize = sizeof(Tables),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Tables(cdfs, width): integer CDF rows, each from 0 to 2^16, checked once.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Tables_init,
    .tp_dealloc = (destructor)Tables_dealloc,
};

static const char *ROW_RANGE = "a table row is out of range";
static const char *STREAM_ENDS = "the stream ends before its symbols do";
static const char *NOT_CANONICAL = "the stream is not the encoding of the symbols it decodes to";

/* encode(symbols, rows, tables) -> bytes: symbol i under table rows[i]; each symbol must
 * lie in [0, width - 2) (the last entry is CompressAI's escape symbol). */
static PyObject *encode(PyObject *self, PyObject *args) {
    PyObject *symbols_obj, *rows_obj, *result = NULL;
    Tables *tables;
    if (!PyArg_ParseTuple(args, "OOO!", &symbols_obj, &rows_obj, &TablesType, &tables)) return NULL;
    if (!tables->cdfs) {
        PyErr_SetString(PyExc_ValueError, "the tables were not initialised");
        return NULL;
    }
    Int32Array symbols, rows;
    if (int32_array(symbols_obj, &symbols, "symbols") < 0) return NULL;
    if (int32_array(rows_obj, &rows, "rows") < 0) goto fail_symbols;
    if (rows.n != symbols.n) {
        PyErr_SetString(PyExc_ValueError, "symbols and rows differ in length");
        goto done;
    }
    const Py_ssize_t n = symbols.n, width = tables->width;
    const Py_ssize_t capacity = n + 2; /* at most one word per symbol, two to flush */
    uint32_t *words = PyMem_Malloc(capacity * sizeof(uint32_t));
    if (!words) {
        PyErr_NoMemory();
        goto done;
    }
    uint32_t *ptr = words + capacity;
    uint64_t x = STATE_LOW;
    for (Py_ssize_t i = n - 1; i >= 0; i--) {
        const int32_t row = rows.data[i], s = symbols.data[i];
        if (row < 0 || row >= tables->rows) {
            PyErr_SetString(PyExc_ValueError, ROW_RANGE);
            goto fail_words;
        }
        if (s < 0 || s >= width - 2) {
            PyErr_SetString(PyExc_ValueError, "a symbol is outside the alphabet");
            goto fail_words;
        }
        const int32_t *cdf = tables->cdfs + (Py_ssize_t)row * width;
        const uint64_t start = (uint64_t)cdf[s], freq = (uint64_t)(cdf[s + 1] - cdf[s]);
        if (x >= ((STATE_LOW >> PRECISION) << 32) * freq) {
            *--ptr = (uint32_t)x;
            x >>= 32;
        }
        x = ((x / freq) << PRECISION) + (x % freq) + start;
    }
    *--ptr = (uint32_t)(x >> 32);
    *--ptr = (uint32_t)x;
    /* Words little-endian, as CompressAI stores them on the machines it runs on. */
    const Py_ssize_t used = words + capacity - ptr;
    result = PyBytes_FromStringAndSize(NULL, used * 4);
    if (result) {
        unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
        for (Py_ssize_t k = 0; k < used; k++) {
            const uint32_t w = ptr[k];
            out[4 * k] = w & 0xff;
            out[4 * k + 1] = (w >> 8) & 0xff;
            out[4 * k + 2] = (w >> 16) & 0xff;
            out[4 * k + 3] = w >> 24;
        }
    }
fail_words:
    PyMem_Free(words);
done:
    PyBuffer_Release(&rows.view);
fail_symbols:
    PyBuffer_Release(&symbols.view);
    return result;
}

/* A stream being decoded: its words, the next one to read, and the coder's state. Both
 * decoders below read through these functions, so both are bounded and checked alike. */
typedef struct {
    const unsigned char *data;
    Py_ssize_t words, next;
    uint64_t x;
    int began_in_range; /* the flushed state is one the encoder can write */
} Stream;

static uint32_t stream_word(const Stream *st, Py_ssize_t k) {
    const unsigned char *p = st->data + 4 * k;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Starts reading `bytes` (its flushed state first); the problem if it cannot be a stream. */
static const char *stream_start(Stream *st, PyObject *bytes) {
    const Py_ssize_t size = PyBytes_GET_SIZE(bytes);
    if (size % 4 != 0 || size < 8) return "the stream is not a whole number of words (at least two)";
    st->data = (const unsigned char *)PyBytes_AS_STRING(bytes);
    st->words = size / 4;
    st->x = (uint64_t)stream_word(st, 0) | (uint64_t)stream_word(st, 1) << 32;
    st->next = 2;
    st->began_in_range = st->x >= STATE_LOW && st->x < STATE_HIGH;
    return NULL;
}

/* Renormalization: a word is read when the state falls below its bound; -1 if none is left. */
static int stream_refill(Stream *st) {
    if (st->x < STATE_LOW) {
        if (st->next >= st->words) return -1;
        st->x = (st->x << 32) | stream_word(st, st->next++);
    }
    return 0;
}

/* The next symbol under `cdf` (whose last entry is 2^16); -1 if the stream ends first. */
static int stream_symbol(Stream *st, const int32_t *cdf, int32_t *symbol) {
    const uint64_t mask = (1u << PRECISION) - 1;
    const int32_t cum = (int32_t)(st->x & mask);
    int32_t s = 0;
    while (cdf[s + 1] <= cum) s++; /* the last entry, 2^16 > cum, ends the search */
    st->x = (uint64_t)(cdf[s + 1] - cdf[s]) * (st->x >> PRECISION) + (st->x & mask) -
            (uint64_t)cdf[s];
    *symbol = s;
    return stream_refill(st);
}

/* The next `bits` raw bits (CompressAI's bypass mode for escaped values). */
static int stream_bits(Stream *st, int bits, int32_t *value) {
    *value = (int32_t)(st->x & ((1u << bits) - 1));
    st->x >>= bits;
    return stream_refill(st);
}

/* Whether the stream is exactly the encoding of what was read: it began in the encoder's
 * range, ended in the encoder's initial state, and every word was read. */
static int stream_canonical(const Stream *st) {
    return st->began_in_range && st->x == STATE_LOW && st->next == st->words;
}

typedef struct {
    PyObject_HEAD
    PyObject *bytes; /* kept alive while `stream` points into it */
    Stream stream;
} Decoder;

static int Decoder_init(Decoder *self, PyObject *args, PyObject *kwargs) {
    PyObject *bytes;
    if (!PyArg_ParseTuple(args, "O!", &PyBytes_Type, &bytes)) return -1;
    const char *problem = stream_start(&self->stream, bytes);
    if (problem) {
        PyErr_SetString(PyExc_ValueError, problem);
        return -1;
    }
    Py_INCREF(bytes);
    Py_XSETREF(self->bytes, bytes);
    return 0;
}

static void Decoder_dealloc(Decoder *self) {
    Py_XDECREF(self->bytes);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* decode(rows, tables, out): the next len(rows) symbols into `out` (int32, writable). */
static PyObject *Decoder_decode(Decoder *self, PyObject *args) {
    PyObject *rows_obj, *out_obj, *result = NULL;
    Tables *tables;
    if (!PyArg_ParseTuple(args, "OO!O", &rows_obj, &TablesType, &tables, &out_obj)) return NULL;
    if (!self->bytes || !tables->cdfs) {
        PyErr_SetString(PyExc_ValueError, "the decoder or the tables were not initialised");
        return NULL;
    }
    Int32Array rows;
    Py_buffer out;
    if (int32_array(rows_obj, &rows, "rows") < 0) return NULL;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto fail_rows;
    if (out.itemsize != 4 || out.len / 4 != rows.n) {
        PyErr_SetString(PyExc_ValueError, "out must be an int32 array as long as rows");
        goto done;
    }
    int32_t *symbols = (int32_t *)out.buf;
    const Py_ssize_t width = tables->width;
    Stream st = self->stream; /* committed only if every symbol decodes */
    for (Py_ssize_t i = 0; i < rows.n; i++) {
        const int32_t row = rows.data[i];
        if (row < 0 || row >= tables->rows) {
            PyErr_SetString(PyExc_ValueError, ROW_RANGE);
            goto done;
        }
        int32_t s;
        const int ended = stream_symbol(&st, tables->cdfs + (Py_ssize_t)row * width, &s);
        if (s >= width - 2) { /* the escape symbol: nodecode's encoder never writes it */
            PyErr_SetString(PyExc_ValueError, "the stream decodes to symbols outside the alphabet");
            goto done;
        }
        if (ended) {
            PyErr_SetString(PyExc_ValueError, STREAM_ENDS);
            goto done;
        }
        symbols[i] = s;
    }
    self->stream = st;
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&out);
fail_rows:
    PyBuffer_Release(&rows.view);
    return result;
}

static PyObject *Decoder_canonical(Decoder *self, PyObject *Py_UNUSED(ignored)) {
    return PyBool_FromLong(self->bytes && stream_canonical(&self->stream));
}

static PyMethodDef Decoder_methods[] = {
    {"decode", (PyCFunction)Decoder_decode, METH_VARARGS,
     "decode(rows, tables, out): the next len(rows) symbols, symbol i under table rows[i]."},
    {"canonical", (PyCFunction)Decoder_canonical, METH_NOARGS,
     "Whether the stream is exactly the encoding of everything decoded so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "nodecode.bitstream._rans.Decoder",
    .tp_basicsize = sizeof(Decoder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Decoder(stream): reads a rANS stream in as many calls as it was coded in passes.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Decoder_init,
    .tp_dealloc = (destructor)Decoder_dealloc,
    .tp_methods = Decoder_methods,
};

#define BYPASS_BITS 4
#define MAX_BYPASS_CHUNKS 8 /* an int32 value's chunks: more cannot come from an encoder */

/* The value an escape codes (a count of 4-bit chunks, then the chunks), as CompressAI's
 * decoder reads it; the problem if the stream ends or no encoder could have written it.
 * A needless leading zero chunk decodes, but makes the stream not canonical. */
static const char *escaped_value(Stream *st, int32_t max_value, int32_t *value, int *canonical) {
    int32_t count, chunk;
    uint32_t raw = 0;
    if (stream_bits(st, BYPASS_BITS, &count) < 0) return STREAM_ENDS;
    if (count > MAX_BYPASS_CHUNKS) return "an escaped value is longer than any encoder writes";
    for (int32_t j = 0; j < count; j++) {
        if (stream_bits(st, BYPASS_BITS, &chunk) < 0) return STREAM_ENDS;
        raw |= (uint32_t)chunk << (BYPASS_BITS * j);
        if (j == count - 1 && chunk == 0) *canonical = 0;
    }
    if (raw > INT32_MAX) { /* an encoder's raw value is a non-negative int32 */
        return "an escaped value is longer than any encoder writes";
    }
    const int32_t half = (int32_t)(raw >> 1);
    *value = (raw & 1) ? -half - 1 : half + max_value;
    return NULL;
}

/* decode_escaped(stream, indexes, cdfs, width, lengths, offsets) -> int32 array as bytes:
 * CompressAI's `decode_with_indexes` for models whose streams use escapes (values beyond a
 * table, coded as raw 4-bit chunks), bounded by the stream: a stream that ends early, asks
 * for more chunks than an int32 has, or is not exactly the encoding of what it decodes to
 * (end state, every word read, no needless leading zero chunk) raises ValueError. */
static PyObject *decode_escaped(PyObject *self, PyObject *args) {
    PyObject *bytes, *indexes_obj, *cdfs_obj, *lengths_obj, *offsets_obj, *result = NULL;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "O!OOnOO", &PyBytes_Type, &bytes, &indexes_obj, &cdfs_obj,
                          &width, &lengths_obj, &offsets_obj)) {
        return NULL;
    }
    Int32Array indexes, cdfs, lengths, offsets;
    if (int32_array(indexes_obj, &indexes, "indexes") < 0) return NULL;
    if (int32_array(cdfs_obj, &cdfs, "tables") < 0) goto fail_indexes;
    if (int32_array(lengths_obj, &lengths, "lengths") < 0) goto fail_cdfs;
    if (int32_array(offsets_obj, &offsets, "offsets") < 0) goto fail_lengths;
    const char *problem = NULL;
    const Py_ssize_t tables = lengths.n;
    if (width < 3 || cdfs.n != tables * width || offsets.n != tables) {
        problem = "tables, lengths and offsets do not agree";
    }
    for (Py_ssize_t r = 0; r < tables && !problem; r++) {
        const int32_t length = lengths.data[r];
        if (length < 3 || length > width) problem = "a table's length is out of range";
        else problem = table_problem(cdfs.data + r * width, length);
    }
    Stream st;
    if (!problem) problem = stream_start(&st, bytes);
    if (problem) {
        PyErr_SetString(PyExc_ValueError, problem);
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, indexes.n * 4);
    if (!result) goto done;
    int32_t *out = (int32_t *)PyBytes_AS_STRING(result);
    int canonical = 1;
    for (Py_ssize_t i = 0; i < indexes.n && !problem; i++) {
        const int32_t row = indexes.data[i];
        if (row < 0 || row >= tables) {
            problem = ROW_RANGE;
            break;
        }
        const int32_t max_value = lengths.data[row] - 2;
        int32_t value;
        if (stream_symbol(&st, cdfs.data + (Py_ssize_t)row * width, &value) < 0) {
            problem = STREAM_ENDS;
        } else if (value == max_value) {
            problem = escaped_value(&st, max_value, &value, &canonical);
        }
        out[i] = value + offsets.data[row];
    }
    if (!problem && !(canonical && stream_canonical(&st))) problem = NOT_CANONICAL;
    if (problem) {
        PyErr_SetString(PyExc_ValueError, problem);
        Py_CLEAR(result);
    }
done:
    PyBuffer_Release(&offsets.view);
fail_lengths:
    PyBuffer_Release(&lengths.view);
fail_cdfs:
    PyBuffer_Release(&cdfs.view);
fail_indexes:
    PyBuffer_Release(&indexes.view);
    return result;
}

static PyMethodDef module_methods[] = {
    {"encode", encode, METH_VARARGS,
     "encode(symbols, rows, tables) -> bytes: symbol i under table rows[i]."},
    {"decode_escaped", decode_escaped, METH_VARARGS,
     "decode_escaped(stream, indexes, cdfs, width, lengths, offsets) -> bytes of int32: "
     "CompressAI's decode_with_indexes, escapes included, bounded and checked canonical."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_rans",
    .m_doc = "rANS coding in CompressAI's stream format.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__rans(void) {
    if (PyType_Ready(&TablesType) < 0 || PyType_Ready(&DecoderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Tables", (PyObject *)&TablesType) < 0 ||
        PyModule_AddObjectRef(m, "Decoder", (PyObject *)&DecoderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
