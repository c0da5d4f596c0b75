/* tritoncompat's optional accelerator: the cache-hit path of a 3.x generated launcher, in C.
 *
 * An ``Accel`` object wraps one kernel's generated Python launcher (``py``) and is installed in
 * its place. A call first tries the plain hit in C: bind the arguments to the kernel's
 * parameters, build the *same* fast key tuple the Python launcher builds (the rare value kinds
 * are keyed by the very Python helpers it calls), find the entry (lookup(): a repeat of the last
 * key found skips hashing it while the dict is unchanged), check what the Python
 * launcher checks, and call the compiled kernel's launcher. Anything else -- a miss, a launch
 * hook, pre-run hooks, a stale driver, a binding problem, a value the key helpers reject, an
 * exception before the hit is counted -- is "not handled": nothing was launched or counted,
 * and the call goes to ``py`` with the same arguments, which does everything again in Python.
 * So the Python launcher stays the reference, and this file only ever serves launches it would
 * serve as a hit, with the key it would compute.
 *
 * Compiled on first use by tritoncompat/_accel.py with the C compiler Triton itself needs
 * (TRITONCOMPAT_ACCEL=0 keeps everything in Python).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if PY_VERSION_HEX < 0x03090000
#error "tritoncompat's accelerator needs Python 3.9+ (vectorcall)"
#endif

#define MAX_PARAMS 256

/* The roles of the launch ABI the accelerator fills, in the order of backends/_common.py's
 * ACCEL_CALL_ROLES / ACCEL_ENTRY_ROLES. Their positions come from the layout (AccelSpec.call_slots,
 * .entry_items): the layout itself is written once, in backends/_common.py (LAYOUT_3X). */
enum { CALL_GRID_X, CALL_GRID_Y, CALL_GRID_Z, CALL_STREAM, CALL_FUNCTION, CALL_PACKED_METADATA,
       CALL_LAUNCH_METADATA, CALL_ENTER_HOOK, CALL_EXIT_HOOK, CALL_ROLES };
enum { ENTRY_COMPILED, ENTRY_NATIVE_KEY, ENTRY_CONTAINER, ENTRY_RUN, ENTRY_FUNCTION, ENTRY_PACKED_METADATA, ENTRY_DIRECT,
       ENTRY_ROLES };
#define MAX_CALL_WIDTH 16

static PyObject *str_data_ptr, *str_dtype, *str_enter, *str_exit, *str_calls, *str_stages, *str_pre_run_hooks,
    *str_used_global_vals, *str_tc_prefix;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *py;            /* the generated Python launcher: the reference, and every non-hit */
    PyObject *names;         /* tuple of the kernel's parameter names (str) */
    PyObject *defaults;      /* tuple: each parameter's default, or `required` */
    PyObject *required;      /* the marker of a parameter without default */
    PyObject *constexpr;     /* per parameter: True a constexpr, None an int keyed by its range class
                              * alone (_common.INT_CLASS: a do_not_specialize one, 3.3+), False a value */
    Py_ssize_t n;
    PyObject *fn;            /* the JITFunction */
    PyObject *entries;       /* dict: fast key -> entry */
    PyObject *hit;           /* cache.hits.__next__ */
    PyObject *tensor;        /* torch.Tensor (exact type test) */
    PyObject *float_key;     /* the key of a float argument */
    PyObject *value_key;     /* _common.value_key(v, tensor, tuples) */
    PyObject *tuples;        /* bool: tuple arguments specialised per item */
    PyObject *constexpr_key; /* _common.constexpr_key(v) */
    PyObject *injected;      /* injected(options) -> the key's tail of injected (value, type) items */
    PyObject *injected_program; /* None, or the same values as steps (_common.injected_program) */
    Py_ssize_t instrumentation; /* negative index in the key of a value that sends launches native, 0: none */
    PyObject *driver_config, *driver_attr, *driver;
    PyObject *get_device, *get_stream;
    PyObject *hooks;         /* where launch_enter_hook / launch_exit_hook live */
    int hook_chains;         /* 3.5+: HookChain objects, idle when both have no .calls */
    int stages_hook;         /* 3.7+: add_stages_inspection_hook sends launches native */
    PyObject *verify;        /* None, or verify(entry, dev, grid, args, options) */
    PyObject *native_attr;   /* where Triton keeps its compiled kernels per device: device_caches (3.3+), cache (3.0-3.2) */
    int nested;              /* 3.3+: a device's entry is a tuple, its [0] the {key: kernel} dict; 3.0-3.2: the dict */
    PyObject *launched;      /* tuple of bools: which parameters the launcher takes (3.0-3.2: no constexprs) */
    PyObject *empty_dict;    /* the options of a launch that passed none (never mutated) */
    Py_ssize_t call_width;   /* the launcher's arguments before the kernel's */
    Py_ssize_t call_slot[CALL_ROLES];   /* where each CALL_* role goes among them */
    Py_ssize_t entry_width;  /* the items of a cache entry */
    Py_ssize_t entry_item[ENTRY_ROLES]; /* where each ENTRY_* role is in it */
    /* The last key found in ``entries`` (see lookup()): a repeat of it skips hashing the key and
     * probing the dict while the dict is unchanged. */
    PyObject *memo_key;      /* strong, or NULL */
    PyObject *memo_entry;    /* borrowed: ``entries`` holds it while memo_version is current */
    uint64_t memo_version;
} Accel;

/* The object fields of an Accel read from its AccelSpec (attribute name, offset, exact type or NULL). */
static const struct {
    const char *name;
    Py_ssize_t offset;
    PyTypeObject *type;
} accel_fields[] = {
    {"names", offsetof(Accel, names), &PyTuple_Type},
    {"defaults", offsetof(Accel, defaults), &PyTuple_Type},
    {"required", offsetof(Accel, required), NULL},
    {"constexpr", offsetof(Accel, constexpr), &PyTuple_Type},
    {"fn", offsetof(Accel, fn), NULL},
    {"entries", offsetof(Accel, entries), &PyDict_Type},
    {"hit", offsetof(Accel, hit), NULL},
    {"tensor", offsetof(Accel, tensor), NULL},
    {"float_key", offsetof(Accel, float_key), NULL},
    {"value_key", offsetof(Accel, value_key), NULL},
    {"tuples", offsetof(Accel, tuples), NULL},
    {"constexpr_key", offsetof(Accel, constexpr_key), NULL},
    {"injected", offsetof(Accel, injected), NULL},
    {"injected_program", offsetof(Accel, injected_program), NULL},
    {"driver_config", offsetof(Accel, driver_config), NULL},
    {"driver_attr", offsetof(Accel, driver_attr), &PyUnicode_Type},
    {"driver", offsetof(Accel, driver), NULL},
    {"get_device", offsetof(Accel, get_device), NULL},
    {"get_stream", offsetof(Accel, get_stream), NULL},
    {"hooks", offsetof(Accel, hooks), NULL},
    {"verify", offsetof(Accel, verify), NULL},
    {"native_attr", offsetof(Accel, native_attr), &PyUnicode_Type},
    {"launched", offsetof(Accel, launched), &PyTuple_Type},
};
#define ACCEL_FIELDS ((Py_ssize_t)(sizeof(accel_fields) / sizeof(accel_fields[0])))
#define FIELD(self, f) (*(PyObject **)((char *)(self) + accel_fields[f].offset))

/* The pointers the key read from tensor arguments (data_ptr()), for the own launch to reuse. */
typedef struct {
    unsigned long long value[MAX_PARAMS];
    char read[MAX_PARAMS];
} Pointers;

/* PyLong_AsUnsignedLongLong (the same values, the same OverflowError), by the digit loop of
 * PyLong_AsUnsignedLong where unsigned long has 64 bits: before 3.12 the long long variant goes
 * through _PyLong_AsByteArray for every multi-digit int, which every device pointer is. */
static unsigned long long as_unsigned_64(PyObject *v)
{
#if ULONG_MAX == 0xffffffffffffffffULL
    return PyLong_AsUnsignedLong(v);
#else
    return PyLong_AsUnsignedLongLong(v);
#endif
}

/* Key item of a non-constexpr argument: what the generated expression (or value_key) gives.
 * NULL with an exception set when it raises. A tensor's data_ptr() goes to *ptr / *read. */
static PyObject *value_item(Accel *self, PyObject *v, unsigned long long *ptr_out, char *read, int classes_only)
{
    PyTypeObject *t = Py_TYPE(v);
    if ((PyObject *)t == self->tensor) {
        PyObject *ptr = PyObject_CallMethodNoArgs(v, str_data_ptr);
        if (ptr == NULL)
            return NULL;
        if (!PyLong_Check(ptr)) {
            Py_DECREF(ptr);
            return PyObject_CallFunctionObjArgs(self->value_key, v, self->tensor, self->tuples, NULL);
        }
        /* the value Triton's getPointer reads (PyLong_AsUnsignedLongLong), when it has one; its
         * low bits are the key's alignment test */
        unsigned long long low = as_unsigned_64(ptr);
        if (low == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            low = PyLong_AsUnsignedLongLongMask(ptr);
        } else {
            *ptr_out = low;
            *read = 1;
        }
        Py_DECREF(ptr);
        if (low == (unsigned long long)-1 && PyErr_Occurred())
            return NULL;
        if (low & 15)
            return PyObject_CallFunctionObjArgs(self->value_key, v, self->tensor, self->tuples, NULL);
        return PyObject_GetAttr(v, str_dtype);
    }
    if (t == &PyLong_Type) {
        /* _common.INT_CODE: 16 for 1, else (divisible by 16) + 2 * range class */
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred())
            return NULL;
        long code;
        if (overflow == 0) {
            if (classes_only) /* _common.INT_CLASS */
                return PyLong_FromLong((x >= -0x80000000LL && x <= 0x7fffffffLL) ? 0 : 2);
            if (x == 1)
                return PyLong_FromLong(16);
            code = ((x & 15) == 0) + ((x >= -0x80000000LL && x <= 0x7fffffffLL) ? 0 : 2);
        } else {
            unsigned long long low = PyLong_AsUnsignedLongLongMask(v);
            if (low == (unsigned long long)-1 && PyErr_Occurred())
                return NULL;
            int cls = 6;
            if (overflow > 0) {
                PyObject *ux = PyLong_FromUnsignedLongLong(0xffffffffffffffffULL);
                if (ux == NULL)
                    return NULL;
                int le = PyObject_RichCompareBool(v, ux, Py_LE);
                Py_DECREF(ux);
                if (le < 0)
                    return NULL;
                cls = le ? 4 : 6;
            }
            code = classes_only ? cls : ((low & 15) == 0) + cls;
        }
        return PyLong_FromLong(code);
    }
    if (t == &PyFloat_Type) {
        Py_INCREF(self->float_key);
        return self->float_key;
    }
    return PyObject_CallFunctionObjArgs(self->value_key, v, self->tensor, self->tuples, NULL);
}

/* Key item of a constexpr argument: ints as themselves, else constexpr_key(v). */
static PyObject *constexpr_item(Accel *self, PyObject *v)
{
    if (Py_TYPE(v) == &PyLong_Type) {
        Py_INCREF(v);
        return v;
    }
    if (v == Py_None || Py_TYPE(v) == &PyBool_Type) {
        /* constexpr_key: (type, value) */
        return PyTuple_Pack(2, (PyObject *)Py_TYPE(v), v);
    }
    return PyObject_CallOneArg(self->constexpr_key, v);
}

/* _common.options_key: ((k, v) if type(v) is int else (k, type(v), repr(v)) for each option, in order) */
static PyObject *options_item(PyObject *options)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v, *key = PyTuple_New(PyDict_GET_SIZE(options));
    if (key == NULL)
        return NULL;
    while (PyDict_Next(options, &pos, &k, &v)) {
        PyObject *item;
        if (Py_TYPE(v) == &PyLong_Type) {
            item = PyTuple_Pack(2, k, v);
        } else {
            PyObject *r = PyObject_Repr(v);
            item = r == NULL ? NULL : PyTuple_Pack(3, k, (PyObject *)Py_TYPE(v), r);
            Py_XDECREF(r);
        }
        if (item == NULL || i >= PyTuple_GET_SIZE(key)) { /* the dict changed under a repr() */
            Py_XDECREF(item);
            Py_DECREF(key);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "options changed while keyed");
            return NULL;
        }
        PyTuple_SET_ITEM(key, i++, item);
    }
    if (i != PyTuple_GET_SIZE(key)) {
        Py_DECREF(key);
        PyErr_SetString(PyExc_RuntimeError, "options changed while keyed");
        return NULL;
    }
    return key;
}

/* Bind (grid, *args, **kwargs) to the kernel's parameters as the generated def does: vals[i]
 * (borrowed), *options (a new dict of the other keywords, in order, or NULL). 1: bound; 0: the
 * Python launcher must decide (a binding error, a generated name); -1: an exception is set. */
static int bind(Accel *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **vals,
                PyObject **options)
{
    Py_ssize_t n = self->n, i;
    *options = NULL;
    if (nargs < 1 || nargs - 1 > n)
        return 0;
    for (i = 0; i < n; i++)
        vals[i] = i < nargs - 1 ? args[1 + i] : NULL;
    if (kwnames != NULL) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames), j;
        for (j = 0; j < nkw; j++) {
            PyObject *name = PyTuple_GET_ITEM(kwnames, j), *value = args[nargs + j];
            Py_ssize_t at = -1;
            for (i = 0; i < n && at < 0; i++)
                if (PyTuple_GET_ITEM(self->names, i) == name)
                    at = i;
            for (i = 0; i < n && at < 0 && !PyUnicode_CHECK_INTERNED(name); i++) /* names are interned */
                if (PyUnicode_Compare(PyTuple_GET_ITEM(self->names, i), name) == 0)
                    at = i;
            if (at >= 0) {
                if (vals[at] != NULL)
                    goto not_bound; /* given twice: the Python launcher raises TypeError */
                vals[at] = value;
                continue;
            }
            if (PyUnicode_Tailmatch(name, str_tc_prefix, 0, 4, -1) == 1)
                goto not_bound; /* a generated name (_tc_grid): the Python launcher decides */
            if (*options == NULL && (*options = PyDict_New()) == NULL)
                return -1;
            if (PyDict_SetItem(*options, name, value) < 0)
                goto fail;
        }
    }
    for (i = 0; i < n; i++)
        if (vals[i] == NULL) {
            vals[i] = PyTuple_GET_ITEM(self->defaults, i);
            if (vals[i] == self->required)
                goto not_bound; /* missing argument: the Python launcher raises TypeError */
        }
    return 1;
not_bound:
    Py_CLEAR(*options);
    return 0;
fail:
    Py_CLEAR(*options);
    return -1;
}

/* <chain> of an injected value: (object, attr, ...), each attribute read in turn. New reference. */
static PyObject *chain_value(PyObject *chain)
{
    PyObject *v = PyTuple_GET_ITEM(chain, 0);
    Py_INCREF(v);
    for (Py_ssize_t i = 1; v != NULL && i < PyTuple_GET_SIZE(chain); i++)
        Py_SETREF(v, PyObject_GetAttr(v, PyTuple_GET_ITEM(chain, i)));
    return v;
}

/* One step of injected_program, evaluated as the generated expression evaluates it: ("get_or",
 * name, attr, chain) is ``options.get(name, fn.<attr>) or <chain>`` (fn.<attr> read first, as the
 * call's argument is), ("chain", chain) is ``<chain>``. New reference, or NULL with an exception. */
static PyObject *injected_value(Accel *self, PyObject *step, PyObject *options)
{
    if (PyTuple_GET_SIZE(step) == 2)
        return chain_value(PyTuple_GET_ITEM(step, 1));
    PyObject *fallback = PyObject_GetAttr(self->fn, PyTuple_GET_ITEM(step, 2)), *v;
    if (fallback == NULL)
        return NULL;
    v = PyDict_GetItemWithError(options, PyTuple_GET_ITEM(step, 1));
    if (v == NULL && PyErr_Occurred()) {
        Py_DECREF(fallback);
        return NULL;
    }
    v = v != NULL ? v : fallback;
    Py_INCREF(v);
    Py_DECREF(fallback);
    int truth = PyObject_IsTrue(v);
    if (truth != 0) {
        if (truth < 0)
            Py_CLEAR(v);
        return v;
    }
    Py_DECREF(v);
    return chain_value(PyTuple_GET_ITEM(step, 3));
}

/* The key's tail: each injected value and its type, as the generated _tc_injected returns them. */
static PyObject *injected_tail(Accel *self, PyObject *options)
{
    if (self->injected_program == Py_None)
        return PyObject_CallOneArg(self->injected, options);
    Py_ssize_t k = PyTuple_GET_SIZE(self->injected_program);
    PyObject *tail = PyTuple_New(2 * k);
    for (Py_ssize_t i = 0; tail != NULL && i < k; i++) {
        PyObject *v = injected_value(self, PyTuple_GET_ITEM(self->injected_program, i), options);
        if (v == NULL) {
            Py_CLEAR(tail);
            break;
        }
        Py_INCREF(Py_TYPE(v));
        PyTuple_SET_ITEM(tail, 2 * i, v);
        PyTuple_SET_ITEM(tail, 2 * i + 1, (PyObject *)Py_TYPE(v));
    }
    return tail;
}

/* The fast key of bound arguments, exactly as the Python launcher builds it:
 * (dev, one item per parameter, options key or (), injected values and their types).
 * 1: *dev and *key set (new references); 0: the driver changed; -1: an exception is set. */
static int make_key(Accel *self, PyObject **vals, PyObject *options, PyObject **dev, PyObject **key, Pointers *ptrs)
{
    Py_ssize_t n = self->n, i, ntail;
    PyObject *obj, *tail;
    *dev = *key = NULL;
    /* the driver Triton uses now is the one the launcher was generated for */
    if ((obj = PyObject_GetAttr(self->driver_config, self->driver_attr)) == NULL)
        return -1;
    Py_DECREF(obj); /* only its identity is compared */
    if (obj != self->driver)
        return 0;
    if ((*dev = PyObject_CallNoArgs(self->get_device)) == NULL)
        return -1;
    if ((tail = injected_tail(self, options ? options : self->empty_dict)) == NULL)
        goto fail;
    if (!PyTuple_CheckExact(tail)) {
        Py_DECREF(tail);
        PyErr_SetString(PyExc_TypeError, "injected values are not a tuple");
        goto fail;
    }
    ntail = PyTuple_GET_SIZE(tail);
    if ((*key = PyTuple_New(2 + n + ntail)) == NULL) {
        Py_DECREF(tail);
        goto fail;
    }
    Py_INCREF(*dev);
    PyTuple_SET_ITEM(*key, 0, *dev);
    for (i = 0; i < ntail; i++) { /* set first: a failure below leaves no NULL slot behind it */
        Py_INCREF(PyTuple_GET_ITEM(tail, i));
        PyTuple_SET_ITEM(*key, 2 + n + i, PyTuple_GET_ITEM(tail, i));
    }
    Py_DECREF(tail);
    for (i = 0; i < n; i++) {
        ptrs->read[i] = 0;
        obj = PyTuple_GET_ITEM(self->constexpr, i) == Py_True
                  ? constexpr_item(self, vals[i])
                  : value_item(self, vals[i], &ptrs->value[i], &ptrs->read[i],
                               PyTuple_GET_ITEM(self->constexpr, i) == Py_None);
        if (obj == NULL)
            goto fail;
        PyTuple_SET_ITEM(*key, 1 + i, obj);
    }
    obj = options != NULL ? options_item(options) : PyTuple_New(0);
    if (obj == NULL)
        goto fail;
    PyTuple_SET_ITEM(*key, 1 + n, obj);
    return 1;
fail:
    Py_CLEAR(*dev);
    Py_CLEAR(*key); /* tuple dealloc skips NULL slots */
    return -1;
}

/* ``entries``' version: it changes whenever the dict does. 3.12+: a dict watcher counts the
 * changes of every watched ``entries`` dict (any kernel's miss re-checks every memo); before 3.12:
 * the dict's own ma_version_tag, which CPython moves on every change. */
#if PY_VERSION_HEX >= 0x030C0000
static int dict_watcher = -1; /* -1: no watcher could be added; the memo stays off */
static uint64_t watched_changes = 1;

static int on_entries_changed(PyDict_WatchEvent event, PyObject *dict, PyObject *key, PyObject *new_value)
{
    watched_changes++;
    return 0;
}

static int memo_on(void) { return dict_watcher >= 0; }
static uint64_t entries_version(Accel *self) { return watched_changes; }
#else
static int memo_on(void) { return 1; }
static uint64_t entries_version(Accel *self) { return ((PyDictObject *)self->entries)->ma_version_tag; }
#endif

/* Do two key items make the dict find the same entry? Identical objects do; so do equal exact
 * ints, strs and floats, and tuples of such items, whose equal values have equal hashes (the dict
 * compares hashes, then ==). Anything else: no (lookup() asks the dict). No Python code runs. */
static int same_item(PyObject *a, PyObject *b, int depth)
{
    if (a == b)
        return 1;
    PyTypeObject *t = Py_TYPE(a);
    if (t != Py_TYPE(b))
        return 0;
    if (t == &PyTuple_Type) {
        Py_ssize_t n = PyTuple_GET_SIZE(a);
        if (n != PyTuple_GET_SIZE(b) || depth > 16) /* deeper (nested tuple arguments): ask the dict */
            return 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (!same_item(PyTuple_GET_ITEM(a, i), PyTuple_GET_ITEM(b, i), depth + 1))
                return 0;
        return 1;
    }
    if (t == &PyLong_Type || t == &PyUnicode_Type || t == &PyFloat_Type)
        return PyObject_RichCompareBool(a, b, Py_EQ) == 1; /* cannot fail for these exact types */
    return 0;
}

/* entries.get(key), borrowed (NULL: a miss, or an exception is set). A key that is the last one
 * found, item for item (same_item), while ``entries`` has not changed since, is that entry without
 * hashing or probing: the dict would find the very same slot. */
static PyObject *lookup(Accel *self, PyObject *key)
{
    if (self->memo_key != NULL && self->memo_version == entries_version(self) && same_item(self->memo_key, key, 0))
        return self->memo_entry;
    PyObject *entry = PyDict_GetItemWithError(self->entries, key);
    if (entry != NULL && memo_on()) {
        /* the version after the lookup (an item's __eq__ may have run code): entries[key] is
         * entry in exactly this version of the dict */
        self->memo_entry = entry;
        self->memo_version = entries_version(self);
        Py_INCREF(key);
        Py_XSETREF(self->memo_key, key); /* set before the old key goes: its release may run code */
    }
    return entry;
}

/* The compiled kernel of an entry, a new reference, or NULL (no error set) once Triton dropped it
 * and it died: the entry holds it weakly (JitState.entry), so that a kernel deleted from Triton's
 * cache (vLLM unloading modules) is not kept alive, nor its module loaded (3.8+). */
static PyObject *entry_compiled(Accel *self, PyObject *entry)
{
    PyObject *ref = PyTuple_GET_ITEM(entry, self->entry_item[ENTRY_COMPILED]), *obj;
    if (!PyWeakref_Check(ref))
        return NULL;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyWeakref_GetRef(ref, &obj) < 0) {
        PyErr_Clear();
        return NULL;
    }
    return obj;
#else
    obj = PyWeakref_GetObject(ref);
    if (obj == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (obj == Py_None)
        return NULL;
    Py_INCREF(obj);
    return obj;
#endif
}

/* Is this hit one the Python launcher serves itself? 1: no, launch here; 0: yes (launch hooks,
 * pre-run hooks, a stages hook, instrumentation, Triton's cache no longer holding the entry's
 * kernel, globals to check); -1: an exception is set. */
static int plain_hit(Accel *self, PyObject *key, PyObject *dev, PyObject *entry)
{
    PyObject *obj, *enter, *exit_, *held;
    int truth, idle = 1;

    if ((enter = PyObject_GetAttr(self->hooks, str_enter)) == NULL)
        return -1;
    if ((exit_ = PyObject_GetAttr(self->hooks, str_exit)) == NULL) {
        Py_DECREF(enter);
        return -1;
    }
    if (self->hook_chains) { /* 3.5+: idle when neither chain has calls */
        PyObject *chains[2] = {enter, exit_};
        for (int c = 0; c < 2 && idle == 1; c++) {
            obj = PyObject_GetAttr(chains[c], str_calls);
            truth = obj == NULL ? -1 : PyObject_IsTrue(obj);
            Py_XDECREF(obj);
            if (truth < 0)
                idle = -1;
            else
                idle = !truth;
        }
    } else { /* 3.0-3.4: None when not installed */
        idle = enter == Py_None && exit_ == Py_None;
    }
    Py_DECREF(enter);
    Py_DECREF(exit_);
    if (idle != 1)
        return idle;
    if ((obj = PyObject_GetAttr(self->fn, str_pre_run_hooks)) == NULL)
        return -1;
    truth = PyObject_IsTrue(obj);
    Py_DECREF(obj);
    if (truth != 0)
        return truth < 0 ? -1 : 0;
    if (self->stages_hook) { /* 3.7+ */
        if ((obj = PyObject_GetAttr(self->hooks, str_stages)) == NULL)
            return -1;
        Py_DECREF(obj);
        if (obj != Py_None)
            return 0;
    }
    if (self->instrumentation) { /* 3.6+ */
        truth = PyObject_IsTrue(PyTuple_GET_ITEM(key, PyTuple_GET_SIZE(key) + self->instrumentation));
        if (truth != 0)
            return truth < 0 ? -1 : 0;
    }
    /* entry (LAYOUT_3X.entry): Triton's own cache must still hold the container and, in it, the
     * compiled kernel */
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != self->entry_width)
        return 0;
    if ((obj = PyObject_GetAttr(self->fn, self->native_attr)) == NULL)
        return -1;
    held = PyDict_Check(obj) ? PyDict_GetItemWithError(obj, dev) : NULL; /* .get(): no __missing__ */
    Py_DECREF(obj);
    if (held == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (held != PyTuple_GET_ITEM(entry, self->entry_item[ENTRY_CONTAINER]))
        return 0;
    if (self->nested) {
        if (!PyTuple_Check(held) || PyTuple_GET_SIZE(held) < 1)
            return 0;
        held = PyTuple_GET_ITEM(held, 0);
    }
    if (!PyDict_Check(held))
        return 0;
    held = PyDict_GetItemWithError(held, PyTuple_GET_ITEM(entry, self->entry_item[ENTRY_NATIVE_KEY]));
    if (held == NULL)
        return PyErr_Occurred() ? -1 : 0;
    obj = entry_compiled(self, entry);
    Py_XDECREF(obj); /* only compared: Triton's dict holds it */
    if (obj == NULL || held != obj)
        return 0;
    /* Triton's guard on the globals the kernel used: the Python launcher runs it */
    if ((obj = PyObject_GetAttr(self->fn, str_used_global_vals)) == NULL)
        return -1;
    truth = PyObject_IsTrue(obj);
    Py_DECREF(obj);
    return truth < 0 ? -1 : !truth;
}

/* ------------------------------------------------------------------------------------------
 * The own launch (Triton 3.3 - 3.9; backends/_direct.py decides which compiled kernels get one)
 *
 * What Triton's C launcher of those releases (3.3-3.6: generated per kernel; 3.7+: driver.c's
 * shared launchKernel) does for an idle hit, done here without its Python wrapper and argument
 * parsing: the current context as ensureCudaContext() makes it, each parameter converted as the
 * launcher converts it (3.3-3.6: its PyArg_ParseTuple format; 3.7+: its extractor) and stored in
 * the type the launcher stores it in, each non-null pointer checked and translated by cuPointerGetAttribute,
 * the scratch pointers the release appends (None: 0), then cuLaunchKernelEx (cuLaunchKernel on
 * 3.3 without a cooperative grid) with the same configuration. Any value whose conversion would
 * fail, any pointer the driver refuses, any driver call before the launch that fails: nothing is
 * launched and the call goes to Triton's launcher, which raises its own error (a "hand-off").
 * The driver entry points come from the libcuda.so.1 Triton's launchers use (already loaded by
 * then; under the CPU tests, the fake one).
 * ------------------------------------------------------------------------------------------ */

/* CUDA's ABI (cuda.h, 12.x): laid out here so this file needs no CUDA header. */
typedef struct {
    unsigned int id;
    char pad[4];
    union {
        char pad[64];
        int cooperative;
        int programmatic_stream_serialization;
    } value;
} cu_launch_attribute;
typedef struct {
    unsigned int grid_x, grid_y, grid_z, block_x, block_y, block_z, shared;
    void *stream;
    cu_launch_attribute *attrs;
    unsigned int num_attrs;
} cu_launch_config;
typedef char cu_abi_check[(sizeof(cu_launch_attribute) == 72 && offsetof(cu_launch_attribute, value) == 8 &&
                           sizeof(cu_launch_config) == 56 && offsetof(cu_launch_config, num_attrs) == 48) ? 1 : -1];
#define CU_LAUNCH_ATTRIBUTE_COOPERATIVE 2
#define CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION 6
#define CU_POINTER_ATTRIBUTE_DEVICE_POINTER 3

static struct {
    int state; /* 0: not loaded, 1: loaded, -1: failed (error[] says why) */
    char error[200];
    int (*launch_ex)(const cu_launch_config *, void *, void **, void **);
    int (*launch)(void *, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void *, void **,
                  void **);
    int (*pointer_attribute)(void *, int, unsigned long long);
    int (*ctx_get_current)(void **);
    int (*device_get)(int *, int);
    int (*primary_ctx_retain)(void **, int);
    int (*ctx_set_current)(void *);
    int (*error_string)(int, const char **);
} cu;

/* dlopen("libcuda.so.1") as Triton's launchers do; 0, or -1 with an exception set. Under the GIL. */
static int cu_load(void)
{
    if (cu.state == 0) {
        void *lib = dlopen("libcuda.so.1", RTLD_LAZY);
        struct {
            const char *name;
            void **slot;
        } table[] = {{"cuLaunchKernelEx", (void **)&cu.launch_ex},
                     {"cuLaunchKernel", (void **)&cu.launch},
                     {"cuPointerGetAttribute", (void **)&cu.pointer_attribute},
                     {"cuCtxGetCurrent", (void **)&cu.ctx_get_current},
                     {"cuDeviceGet", (void **)&cu.device_get},
                     {"cuDevicePrimaryCtxRetain", (void **)&cu.primary_ctx_retain},
                     {"cuCtxSetCurrent", (void **)&cu.ctx_set_current},
                     {"cuGetErrorString", (void **)&cu.error_string}};
        cu.state = 1;
        if (lib == NULL) {
            snprintf(cu.error, sizeof(cu.error), "cannot open libcuda.so.1");
            cu.state = -1;
        }
        for (size_t i = 0; cu.state == 1 && i < sizeof(table) / sizeof(table[0]); i++)
            if ((*table[i].slot = dlsym(lib, table[i].name)) == NULL) {
                snprintf(cu.error, sizeof(cu.error), "libcuda.so.1 has no %s", table[i].name);
                cu.state = -1;
            }
    }
    if (cu.state < 0) {
        PyErr_SetString(PyExc_RuntimeError, cu.error);
        return -1;
    }
    return 0;
}

/* How each parameter goes to the kernel: skipped (a constexpr), a pointer, an integer as
 * PyArg_ParseTuple's format converts it, a float as the release stores it. The names are
 * _accel_c.DIRECT_CODES, which backends/_direct.py maps Triton's types to. */
enum { D_SKIP, D_PTR, D_b, D_h, D_i, D_L, D_B, D_H, D_I, D_K, D_X8, D_X16, D_X32, D_XU8, D_XU16, D_XU32, D_XU64,
       D_f, D_d, D_FP16, D_BF16, D_FP32, D_FP64, D_CODES };
static const char *const direct_code_names[D_CODES] = {
    "skip", "pointer", "b", "h", "i", "L", "B", "H", "I", "K",      /* 3.3-3.6: PyArg_ParseTuple formats */
    "x8", "x16", "x32", "xu8", "xu16", "xu32", "xu64",             /* 3.7+: driver.c's extractI8 ... extractU64 */
    "f", "d", "pack_fp16", "pack_bf16", "pack_fp32", "pack_fp64"}; /* floats (3.7+ extractFP16 ... = pack_*) */

typedef struct {
    PyObject_HEAD
    unsigned long long function;
    unsigned int block_x, shared;
    int cooperative, pdl, plain; /* plain (3.3): cuLaunchKernel unless cooperative */
    int scratch;                 /* zero scratch pointers appended (3.3-3.4: 1, 3.5-3.6: 2) */
    Py_ssize_t n;
    unsigned char code[MAX_PARAMS];
    PyObject *handoff; /* called with no argument when a launch is handed to Triton's launcher */
} Direct;

/* The bytes of one argument as the launcher stores it (little-endian, in an 8-byte slot).
 * 1: stored; 0: a value Triton's launcher must convert itself (no exception set). */
static int direct_store(int code, PyObject *v, unsigned long long ptr, int ptr_read, uint64_t *slot)
{
    *slot = 0;
    if (code == D_PTR) {
        unsigned long long p;
        if (ptr_read)
            p = ptr;
        else if (v == Py_None)
            p = 0;
        else if (PyLong_CheckExact(v)) {
            p = as_unsigned_64(v);
            if (p == (unsigned long long)-1 && PyErr_Occurred())
                goto fail;
        } else
            return 0; /* another object with data_ptr(): Triton's launcher calls it */
        if (p != 0) {
            unsigned long long device_ptr = 0;
            if (cu.pointer_attribute(&device_ptr, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, p) != 0)
                return 0; /* a CPU tensor or unreachable memory: Triton's launcher raises */
            p = device_ptr;
        }
        memcpy(slot, &p, 8);
        return 1;
    }
    if (code >= D_f) { /* "f" / "d" / pack_*: PyFloat_AsDouble of a float or an int */
        double x;
        if (PyFloat_CheckExact(v))
            x = PyFloat_AS_DOUBLE(v);
        else if (PyLong_CheckExact(v) || PyBool_Check(v)) {
            x = PyLong_AsDouble(v);
            if (x == -1.0 && PyErr_Occurred())
                goto fail;
        } else
            return 0;
        if (code == D_f || code == D_FP32) { /* 3.3 "f" (a C float, also for fp16/bf16); pack_fp32 */
            float f = (float)x;
            memcpy(slot, &f, 4);
        } else if (code == D_d || code == D_FP64) {
            memcpy(slot, &x, 8);
        } else if (code == D_BF16) {
            float f = (float)x;
            uint32_t u;
            memcpy(&u, &f, 4);
            uint16_t h = (uint16_t)(u >> 16);
            memcpy(slot, &h, 2);
        } else { /* D_FP16: PyFloat_Pack2, little-endian; out of range: Triton's launcher decides */
#if PY_VERSION_HEX >= 0x030B0000
            if (PyFloat_Pack2(x, (char *)slot, 1) < 0)
#else
            if (_PyFloat_Pack2(x, (unsigned char *)slot, 1) < 0)
#endif
                goto fail;
        }
        return 1;
    }
    if (!PyLong_CheckExact(v) && !PyBool_Check(v))
        return 0; /* __index__ objects, floats (TypeError), ...: Triton's launcher */
    if (code >= D_X8 && code <= D_X32) { /* 3.7+: PyLong_AsLong, truncated to the width */
        long x = PyLong_AsLong(v);
        if (x == -1 && PyErr_Occurred())
            goto fail;
        if (code == D_X8) {
            int8_t b = (int8_t)x;
            memcpy(slot, &b, 1);
        } else if (code == D_X16) {
            int16_t h = (int16_t)x;
            memcpy(slot, &h, 2);
        } else {
            int32_t w = (int32_t)x;
            memcpy(slot, &w, 4);
        }
        return 1;
    }
    if (code >= D_XU8 && code <= D_XU64) { /* 3.7+: PyLong_AsUnsignedLong(Long): negative raises */
        unsigned long long u = code == D_XU64 ? PyLong_AsUnsignedLongLong(v) : PyLong_AsUnsignedLong(v);
        if (u == (unsigned long long)-1 && PyErr_Occurred())
            goto fail;
        if (code != D_XU64 && u == (unsigned long)-1 && PyErr_Occurred())
            goto fail;
        if (code == D_XU8) {
            uint8_t b = (uint8_t)u;
            memcpy(slot, &b, 1);
        } else if (code == D_XU16) {
            uint16_t h = (uint16_t)u;
            memcpy(slot, &h, 2);
        } else if (code == D_XU32) {
            uint32_t w = (uint32_t)u;
            memcpy(slot, &w, 4);
        } else {
            memcpy(slot, &u, 8);
        }
        return 1;
    }
    if (code == D_B || code == D_H || code == D_I || code == D_K) { /* no overflow check: masked */
        unsigned long long u = code == D_K ? PyLong_AsUnsignedLongLongMask(v) : PyLong_AsUnsignedLongMask(v);
        if (u == (unsigned long long)-1 && PyErr_Occurred())
            goto fail;
        if (code == D_B) {
            uint8_t b = (uint8_t)u;
            memcpy(slot, &b, 1);
        } else if (code == D_H) {
            uint16_t h = (uint16_t)u;
            memcpy(slot, &h, 2);
        } else if (code == D_I) {
            uint32_t w = (uint32_t)u;
            memcpy(slot, &w, 4);
        } else {
            memcpy(slot, &u, 8);
        }
        return 1;
    }
    long long x = PyLong_AsLongLong(v); /* "L"; "b", "h", "i" check their range (else OverflowError) */
    if (x == -1 && PyErr_Occurred())
        goto fail;
    if (code == D_b) { /* unsigned char: 0..255 */
        if (x < 0 || x > UCHAR_MAX)
            return 0;
        uint8_t b = (uint8_t)x;
        memcpy(slot, &b, 1);
    } else if (code == D_h) {
        if (x < SHRT_MIN || x > SHRT_MAX)
            return 0;
        int16_t h = (int16_t)x;
        memcpy(slot, &h, 2);
    } else if (code == D_i) {
        if (x < INT_MIN || x > INT_MAX)
            return 0;
        int32_t w = (int32_t)x;
        memcpy(slot, &w, 4);
    } else {
        memcpy(slot, &x, 8);
    }
    return 1;
fail:
    PyErr_Clear();
    return 0;
}

/* A grid value as the "i" format converts it: 1, or 0 (Triton's launcher decides). */
static int direct_int(PyObject *v, int *out)
{
    if (!PyLong_CheckExact(v))
        return 0;
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (x < INT_MIN || x > INT_MAX)
        return 0;
    *out = (int)x;
    return 1;
}

/* A launch made ready: what the driver is handed. */
typedef struct {
    int grid[3];
    unsigned long long stream;
    Py_ssize_t count;
    uint64_t slots[MAX_PARAMS + 2];
    void *params[MAX_PARAMS + 2];
} Prepared;

/* Everything Triton's launcher does before the launch. 1: ready; 0: hand off (nothing done that
 * Triton's launcher would not do too, no exception set). */
static int direct_prepare(Direct *d, PyObject **g, PyObject *stream_obj, PyObject **vals, Pointers *ptrs, Prepared *p)
{
    void *ctx = NULL;
    for (int k = 0; k < 3; k++)
        if (!direct_int(g[k], &p->grid[k]))
            return 0;
    if (!PyLong_CheckExact(stream_obj))
        return 0;
    p->stream = PyLong_AsUnsignedLongLongMask(stream_obj); /* "K" */
    if (p->stream == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    /* ensureCudaContext(): the primary context of device 0 when none is current */
    if (cu.ctx_get_current(&ctx) != 0)
        return 0;
    if (ctx == NULL) {
        int device;
        if (cu.device_get(&device, 0) != 0 || cu.primary_ctx_retain(&ctx, device) != 0 || cu.ctx_set_current(ctx) != 0)
            return 0;
    }
    p->count = 0;
    for (Py_ssize_t i = 0; i < d->n; i++) {
        if (d->code[i] == D_SKIP)
            continue;
        if (!direct_store(d->code[i], vals[i], ptrs->value[i], ptrs->read[i], &p->slots[p->count]))
            return 0;
        p->params[p->count] = &p->slots[p->count];
        p->count++;
    }
    for (int s = 0; s < d->scratch; s++) { /* global_scratch (3.3+), profile_scratch (3.5+): None */
        p->slots[p->count] = 0;
        p->params[p->count] = &p->slots[p->count];
        p->count++;
    }
    long long blocks = (long long)p->grid[0] * p->grid[1] * p->grid[2];
    if (blocks > INT_MAX || blocks < INT_MIN)
        return 0; /* Triton's int product overflows: its launcher decides */
    return 1;
}

/* The launch itself (the GIL released, as Triton's launcher releases it). 1: done (an empty grid
 * launches nothing, as in Triton); -1: the launch's CUDA error, raised as Triton raises it. */
static int direct_fire(Direct *d, Prepared *p)
{
    int rc;
    if ((long long)p->grid[0] * p->grid[1] * p->grid[2] <= 0)
        return 1;
    if (d->plain && !d->cooperative) { /* 3.3 */
        Py_BEGIN_ALLOW_THREADS
        rc = cu.launch((void *)(uintptr_t)d->function, p->grid[0], p->grid[1], p->grid[2], d->block_x, 1, 1, d->shared,
                       (void *)(uintptr_t)p->stream, p->params, NULL);
        Py_END_ALLOW_THREADS
    } else { /* the attributes in the launcher's order: PDL (3.4+), then cooperative */
        cu_launch_attribute attrs[2];
        cu_launch_config config = {(unsigned)p->grid[0], (unsigned)p->grid[1], (unsigned)p->grid[2], d->block_x, 1, 1,
                                   d->shared, (void *)(uintptr_t)p->stream, attrs, 0};
        memset(attrs, 0, sizeof(attrs));
        if (d->pdl) {
            attrs[config.num_attrs].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
            attrs[config.num_attrs++].value.programmatic_stream_serialization = 1;
        }
        if (d->cooperative) {
            attrs[config.num_attrs].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
            attrs[config.num_attrs++].value.cooperative = 1;
        }
        Py_BEGIN_ALLOW_THREADS
        rc = cu.launch_ex(&config, (void *)(uintptr_t)d->function, p->params, NULL);
        Py_END_ALLOW_THREADS
    }
    if (rc != 0) { /* gpuAssert() */
        const char *text = NULL;
        cu.error_string(rc, &text);
        PyErr_Format(PyExc_RuntimeError, "Triton Error [CUDA]: %s", text ? text : "unknown error");
        return -1;
    }
    return 1;
}

/* The own launch of a hit. 1: done; -1: its CUDA error is raised; 0: handed off (nothing
 * launched, no exception set: the caller calls Triton's launcher, and direct->handoff). */
static int direct_launch(Direct *d, PyObject **g, PyObject *stream_obj, PyObject **vals, Pointers *ptrs)
{
    Prepared p;
    if (!direct_prepare(d, g, stream_obj, vals, ptrs, &p))
        return 0;
    return direct_fire(d, &p);
}

/* Direct(function, num_warps, shared, cooperative, pdl, plain, scratch, codes, handoff) */
static PyObject *Direct_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    unsigned long long function;
    int num_warps, shared, cooperative, pdl, plain, scratch;
    Py_buffer codes;
    PyObject *handoff;
    if ((kwds != NULL && PyDict_GET_SIZE(kwds)) ||
        !PyArg_ParseTuple(args, "Kiipppiy*O:Direct", &function, &num_warps, &shared, &cooperative, &pdl, &plain,
                          &scratch, &codes, &handoff)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "Direct() takes no keyword arguments");
        return NULL;
    }
    if (codes.len > MAX_PARAMS || num_warps <= 0 || num_warps > 32 || shared < 0 || scratch < 0 || scratch > 2 ||
        !PyCallable_Check(handoff)) {
        PyBuffer_Release(&codes);
        PyErr_SetString(PyExc_ValueError, "Direct: a launch this accelerator cannot make");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < codes.len; i++)
        if (((unsigned char *)codes.buf)[i] >= D_CODES) {
            PyBuffer_Release(&codes);
            PyErr_SetString(PyExc_ValueError, "Direct: unknown parameter code");
            return NULL;
        }
    if (cu_load() < 0) {
        PyBuffer_Release(&codes);
        return NULL;
    }
    Direct *self = (Direct *)type->tp_alloc(type, 0);
    if (self == NULL) {
        PyBuffer_Release(&codes);
        return NULL;
    }
    self->function = function;
    self->block_x = 32u * (unsigned)num_warps;
    self->shared = (unsigned)shared;
    self->cooperative = cooperative;
    self->pdl = pdl;
    self->plain = plain;
    self->scratch = scratch;
    self->n = codes.len;
    memcpy(self->code, codes.buf, (size_t)codes.len);
    PyBuffer_Release(&codes);
    Py_INCREF(handoff);
    self->handoff = handoff;
    return (PyObject *)self;
}

static int Direct_traverse(Direct *self, visitproc visit, void *arg)
{
    Py_VISIT(self->handoff);
    return 0;
}

static int Direct_clear(Direct *self)
{
    Py_CLEAR(self->handoff);
    return 0;
}

static void Direct_dealloc(Direct *self)
{
    PyObject_GC_UnTrack(self);
    Direct_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* direct.loop(grid, stream, args, n, checked=False): the bench's driver loop. ``args`` (one value
 * per kernel parameter) are converted and checked once; then n launches of the same parameters,
 * each only the cuLaunchKernelEx / cuLaunchKernel call (checked: each also redoes what Triton's
 * launcher does first: the context, the conversions, a cuPointerGetAttribute per pointer).
 * Returns how many launched (fewer: handed off). */
static PyObject *Direct_loop(Direct *self, PyObject *args)
{
    PyObject *grid, *stream_obj, *values;
    Py_ssize_t n;
    int checked = 0;
    if (!PyArg_ParseTuple(args, "O!OO!n|p:loop", &PyTuple_Type, &grid, &stream_obj, &PyTuple_Type, &values, &n,
                          &checked))
        return NULL;
    if (PyTuple_GET_SIZE(grid) != 3 || PyTuple_GET_SIZE(values) != self->n) {
        PyErr_SetString(PyExc_ValueError, "loop(grid of 3, stream, one value per parameter, n)");
        return NULL;
    }
    Pointers ptrs;
    memset(&ptrs, 0, sizeof(ptrs));
    PyObject **vals = &PyTuple_GET_ITEM(values, 0), **g = &PyTuple_GET_ITEM(grid, 0);
    for (Py_ssize_t i = 0; i < self->n; i++) /* the key's data_ptr(): the loop reads it itself */
        if (self->code[i] == D_PTR && vals[i] != Py_None && !PyLong_CheckExact(vals[i])) {
            PyObject *p = PyObject_CallMethodNoArgs(vals[i], str_data_ptr);
            if (p == NULL)
                return NULL;
            ptrs.value[i] = as_unsigned_64(p);
            Py_DECREF(p);
            if (PyErr_Occurred())
                return NULL;
            ptrs.read[i] = 1;
        }
    /* prepared once (conversions, pointer checks), then only the driver call */
    Prepared p;
    Py_ssize_t done = 0;
    if (!direct_prepare(self, g, stream_obj, vals, &ptrs, &p))
        return PyLong_FromSsize_t(0);
    for (; done < n; done++) {
        if (checked && !direct_prepare(self, g, stream_obj, vals, &ptrs, &p)) /* the checks each time */
            break;
        if (direct_fire(self, &p) < 0)
            return NULL;
    }
    return PyLong_FromSsize_t(done);
}

static PyMethodDef Direct_methods[] = {
    {"loop", (PyCFunction)Direct_loop, METH_VARARGS, "loop(grid, stream, args, n, checked=False): n own launches in a C loop"},
    {NULL}};

static PyTypeObject DirectType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tritoncompat._accel_c.Direct",
    .tp_basicsize = sizeof(Direct),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The own launch of one compiled kernel (see _accel.c and backends/_direct.py).",
    .tp_new = Direct_new,
    .tp_traverse = (traverseproc)Direct_traverse,
    .tp_clear = (inquiry)Direct_clear,
    .tp_dealloc = (destructor)Direct_dealloc,
    .tp_methods = Direct_methods,
};

/* The launch of a plain hit (counted here): verification, stream, grid, the compiled kernel's
 * launcher with None metadata and hooks. The compiled kernel, or NULL with the launch's own
 * exception. */
static PyObject *launch_hit(Accel *self, PyObject **vals, PyObject *options, PyObject *dev, PyObject *entry,
                            PyObject *compiled, PyObject *grid, Pointers *ptrs)
{
    Py_ssize_t n = self->n, i, glen, nlaunched = 0;
    PyObject *obj, *stream, *g[3] = {NULL, NULL, NULL}, *launch_args[MAX_PARAMS + MAX_CALL_WIDTH], *result = NULL;

    if ((obj = PyObject_CallNoArgs(self->hit)) == NULL)
        return NULL;
    Py_DECREF(obj);
    if (self->verify != Py_None) {
        PyObject *params = PyTuple_New(n);
        if (params == NULL)
            return NULL;
        for (i = 0; i < n; i++) {
            Py_INCREF(vals[i]);
            PyTuple_SET_ITEM(params, i, vals[i]);
        }
        PyObject *vargs[5] = {entry, dev, grid, params, options ? options : self->empty_dict};
        obj = PyObject_Vectorcall(self->verify, vargs, 5, NULL);
        Py_DECREF(params);
        if (obj == NULL)
            return NULL;
        Py_DECREF(obj);
    }
    if ((stream = PyObject_CallOneArg(self->get_stream, dev)) == NULL)
        return NULL;
    Py_INCREF(grid);
    if (PyCallable_Check(grid)) { /* a fresh dict of every parameter */
        PyObject *meta = PyDict_New();
        for (i = 0; meta != NULL && i < n; i++)
            if (PyDict_SetItem(meta, PyTuple_GET_ITEM(self->names, i), vals[i]) < 0)
                Py_CLEAR(meta);
        obj = meta == NULL ? NULL : PyObject_CallOneArg(grid, meta);
        Py_XDECREF(meta);
        Py_SETREF(grid, obj);
        if (grid == NULL)
            goto done;
    }
    /* _tc_grid[0], _tc_grid[1] if _tc_n > 1 else 1, _tc_grid[2] if _tc_n > 2 else 1 */
    if ((glen = PyObject_Length(grid)) < 0)
        goto done;
    for (int d = 0; d < 3; d++) {
        if (d < glen && (PyTuple_CheckExact(grid) || PyList_CheckExact(grid))) { /* their grid[d] */
            g[d] = PySequence_Fast_GET_ITEM(grid, d);
            Py_INCREF(g[d]);
        } else if (d == 0 || d < glen) { /* grid[d], as the Python launcher indexes it (any mapping too) */
            PyObject *index = PyLong_FromLong(d);
            g[d] = index == NULL ? NULL : PyObject_GetItem(grid, index);
            Py_XDECREF(index);
        } else {
            g[d] = PyLong_FromLong(1);
        }
        if (g[d] == NULL)
            goto done;
    }
    /* the own launch, when the entry has one (backends/_direct.py) */
    obj = PyTuple_GET_ITEM(entry, self->entry_item[ENTRY_DIRECT]);
    if (Py_TYPE(obj) == &DirectType) {
        int rc = direct_launch((Direct *)obj, g, stream, vals, ptrs);
        if (rc != 0) {
            if (rc == 1) {
                result = compiled;
                Py_INCREF(result);
            }
            goto done;
        }
        if ((obj = PyObject_CallNoArgs(((Direct *)obj)->handoff)) == NULL) /* counted: Triton's launcher */
            goto done;
        Py_DECREF(obj);
    }
    /* the launcher call, in the layout's order; idle hooks: None metadata and hooks */
    const Py_ssize_t *slot = self->call_slot, width = self->call_width;
    launch_args[slot[CALL_GRID_X]] = g[0];
    launch_args[slot[CALL_GRID_Y]] = g[1];
    launch_args[slot[CALL_GRID_Z]] = g[2];
    launch_args[slot[CALL_STREAM]] = stream;
    launch_args[slot[CALL_FUNCTION]] = PyTuple_GET_ITEM(entry, self->entry_item[ENTRY_FUNCTION]);
    launch_args[slot[CALL_PACKED_METADATA]] = PyTuple_GET_ITEM(entry, self->entry_item[ENTRY_PACKED_METADATA]);
    launch_args[slot[CALL_LAUNCH_METADATA]] = launch_args[slot[CALL_ENTER_HOOK]] = launch_args[slot[CALL_EXIT_HOOK]] = Py_None;
    for (i = 0; i < n; i++)
        if (PyTuple_GET_ITEM(self->launched, i) == Py_True)
            launch_args[width + nlaunched++] = vals[i];
    obj = PyObject_Vectorcall(PyTuple_GET_ITEM(entry, self->entry_item[ENTRY_RUN]), launch_args, width + nlaunched, NULL);
    if (obj == NULL)
        goto done;
    Py_DECREF(obj);
    result = compiled;
    Py_INCREF(result);
done:
    Py_XDECREF(g[0]);
    Py_XDECREF(g[1]);
    Py_XDECREF(g[2]);
    Py_XDECREF(grid);
    Py_DECREF(stream);
    return result;
}

/* 1: the launch went through here (*result is its value, or NULL with the exception to raise);
 * 0 / 2: not handled, nothing launched or counted, no exception set (2: the arguments bind to
 * the parameters, so the Python launcher's binding cannot fail); -1: an exception that is not an
 * Exception (KeyboardInterrupt, ...) is set and must propagate. */
static int try_hit(Accel *self, PyObject *const *args, size_t nargsf, PyObject *kwnames, PyObject **result)
{
    PyObject *vals[MAX_PARAMS], *options = NULL, *dev = NULL, *key = NULL, *entry = NULL, *compiled = NULL;
    Pointers ptrs;
    int status = bind(self, args, PyVectorcall_NARGS(nargsf), kwnames, vals, &options), bound = status == 1;

    if (status == 1 && args[0] == Py_None)
        status = 0; /* no grid: Triton's own assertion */
    if (status == 1)
        status = make_key(self, vals, options, &dev, &key, &ptrs);
    if (status == 1) {
        entry = lookup(self, key);
        Py_XINCREF(entry);
        status = entry != NULL ? 1 : PyErr_Occurred() ? -1 : 0; /* 0: a miss */
    }
    if (status == 1)
        status = plain_hit(self, key, dev, entry);
    if (status == 1 && (compiled = entry_compiled(self, entry)) == NULL)
        status = 0; /* held strongly for the launch, as Triton's run holds it */
    if (status == 1) {
        *result = launch_hit(self, vals, options, dev, entry, compiled, args[0], &ptrs);
    } else if (status < 0 && PyErr_ExceptionMatches(PyExc_Exception)) {
        PyErr_Clear(); /* the Python launcher meets it again and decides */
        status = bound ? 2 : 0;
    } else if (status == 0 && bound) {
        status = 2;
    }
    Py_XDECREF(options);
    Py_XDECREF(dev);
    Py_XDECREF(key);
    Py_XDECREF(entry);
    Py_XDECREF(compiled);
    return status;
}

static PyObject *Accel_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Accel *self = (Accel *)op;
    PyObject *result = NULL;
    int status = try_hit(self, args, nargsf, kwnames, &result);
    if (status == 1)
        return result;
    if (status < 0)
        return NULL;
    return PyObject_Vectorcall(self->py, args, nargsf, kwnames);
}

/* Accel(py, spec): ``py`` the generated Python launcher, ``spec`` a backends._common.AccelSpec. */
static int read_positions(PyObject *spec, const char *name, Py_ssize_t *out, Py_ssize_t count, Py_ssize_t bound)
{
    PyObject *seq = PyObject_GetAttrString(spec, name);
    int ok = seq != NULL && PyTuple_Check(seq) && PyTuple_GET_SIZE(seq) == count;
    for (Py_ssize_t i = 0; ok && i < count; i++) {
        out[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(seq, i));
        ok = !(out[i] == -1 && PyErr_Occurred()) && out[i] >= 0 && out[i] < bound;
    }
    Py_XDECREF(seq);
    if (!ok && !PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "Accel: spec.%s is not %zd positions below %zd", name, count, bound);
    return ok ? 0 : -1;
}

static int read_flag(PyObject *spec, const char *name, int *out)
{
    PyObject *obj = PyObject_GetAttrString(spec, name);
    *out = obj == NULL ? -1 : PyObject_IsTrue(obj);
    Py_XDECREF(obj);
    return *out < 0 ? -1 : 0;
}

static int read_size(PyObject *spec, const char *name, Py_ssize_t *out)
{
    PyObject *obj = PyObject_GetAttrString(spec, name);
    *out = obj == NULL ? -1 : PyLong_AsSsize_t(obj);
    Py_XDECREF(obj);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* injected_program: None, or a tuple of ("chain", chain) / ("get_or", str, str, chain) steps, a chain
 * being (object, str, ...). 0, or -1 with a ValueError. */
static int check_program(PyObject *program)
{
    if (program == Py_None)
        return 0;
    int ok = PyTuple_CheckExact(program);
    for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE(program); i++) {
        PyObject *step = PyTuple_GET_ITEM(program, i), *chain;
        Py_ssize_t size = PyTuple_CheckExact(step) ? PyTuple_GET_SIZE(step) : 0;
        ok = size == 2 || (size == 4 && PyUnicode_CheckExact(PyTuple_GET_ITEM(step, 1)) &&
                           PyUnicode_CheckExact(PyTuple_GET_ITEM(step, 2)));
        chain = ok ? PyTuple_GET_ITEM(step, size - 1) : NULL;
        ok = ok && PyTuple_CheckExact(chain) && PyTuple_GET_SIZE(chain) >= 2;
        for (Py_ssize_t j = 1; ok && j < PyTuple_GET_SIZE(chain); j++)
            ok = PyUnicode_CheckExact(PyTuple_GET_ITEM(chain, j));
    }
    if (!ok)
        PyErr_SetString(PyExc_ValueError, "Accel: spec.injected_program is not a program of steps");
    return ok ? 0 : -1;
}

static PyObject *Accel_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *py, *spec;
    if ((kwds != NULL && PyDict_GET_SIZE(kwds)) || !PyArg_ParseTuple(args, "OO:Accel", &py, &spec)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "Accel(py, spec) takes no keyword arguments");
        return NULL;
    }
    Accel *self = (Accel *)type->tp_alloc(type, 0); /* zeroed: a failure below clears what was set */
    if (self == NULL)
        return NULL;
    self->vectorcall = Accel_vectorcall;
    Py_INCREF(py);
    self->py = py;
    for (Py_ssize_t f = 0; f < ACCEL_FIELDS; f++) {
        PyObject *obj = PyObject_GetAttrString(spec, accel_fields[f].name);
        if (obj == NULL)
            goto fail;
        FIELD(self, f) = obj;
        if (accel_fields[f].type != NULL && !PyObject_TypeCheck(obj, accel_fields[f].type)) {
            PyErr_Format(PyExc_TypeError, "Accel: spec.%s must be a %s", accel_fields[f].name,
                         accel_fields[f].type->tp_name);
            goto fail;
        }
    }
    if (read_flag(spec, "hook_chains", &self->hook_chains) < 0 || read_flag(spec, "stages_hook", &self->stages_hook) < 0 ||
        read_flag(spec, "nested", &self->nested) < 0 || read_size(spec, "instrumentation", &self->instrumentation) < 0 ||
        read_size(spec, "call_width", &self->call_width) < 0 || read_size(spec, "entry_width", &self->entry_width) < 0)
        goto fail;
    if (self->call_width < CALL_ROLES || self->call_width > MAX_CALL_WIDTH || self->entry_width < ENTRY_ROLES) {
        PyErr_SetString(PyExc_ValueError, "Accel: a launch layout this accelerator cannot fill");
        goto fail;
    }
    if (read_positions(spec, "call_slots", self->call_slot, CALL_ROLES, self->call_width) < 0 ||
        read_positions(spec, "entry_items", self->entry_item, ENTRY_ROLES, self->entry_width) < 0)
        goto fail;
    self->n = PyTuple_GET_SIZE(self->names);
    self->empty_dict = PyDict_New();
    if (self->empty_dict == NULL || PyTuple_GET_SIZE(self->defaults) != self->n ||
        PyTuple_GET_SIZE(self->constexpr) != self->n || PyTuple_GET_SIZE(self->launched) != self->n ||
        self->n > MAX_PARAMS || self->instrumentation > 0 || !PyCallable_Check(self->py)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "Accel: inconsistent parameters");
        goto fail;
    }
    for (Py_ssize_t i = 0; i < self->n; i++)
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(self->names, i))) {
            PyErr_SetString(PyExc_TypeError, "Accel: parameter names must be str");
            goto fail;
        }
    /* interned copies: an interned keyword that is none of them by identity is none of them (bind) */
    PyObject *interned = PyTuple_New(self->n);
    if (interned == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < self->n; i++) {
        PyObject *name = PyTuple_GET_ITEM(self->names, i);
        Py_INCREF(name);
        PyUnicode_InternInPlace(&name);
        PyTuple_SET_ITEM(interned, i, name);
    }
    Py_SETREF(self->names, interned);
    if (check_program(self->injected_program) < 0)
        goto fail;
    if (!PyDict_CheckExact(self->entries)) {
        PyErr_SetString(PyExc_TypeError, "Accel: spec.entries must be a dict");
        goto fail;
    }
#if PY_VERSION_HEX >= 0x030C0000
    if (dict_watcher >= 0 && PyDict_Watch(dict_watcher, self->entries) < 0)
        goto fail;
#endif
    return (PyObject *)self;
fail:
    Py_DECREF(self);
    return NULL;
}

static int Accel_traverse(Accel *self, visitproc visit, void *arg)
{
    Py_VISIT(self->py);
    for (Py_ssize_t f = 0; f < ACCEL_FIELDS; f++)
        Py_VISIT(FIELD(self, f));
    Py_VISIT(self->empty_dict);
    Py_VISIT(self->memo_key);
    return 0;
}

static int Accel_clear(Accel *self)
{
    Py_CLEAR(self->memo_key);
    Py_CLEAR(self->py);
    for (Py_ssize_t f = 0; f < ACCEL_FIELDS; f++)
        Py_CLEAR(FIELD(self, f));
    Py_CLEAR(self->empty_dict);
    return 0;
}

static void Accel_dealloc(Accel *self)
{
    PyObject_GC_UnTrack(self);
    Accel_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* accel.key(grid, *args, **kwargs): the fast key the C path computes for a launch, or None
 * where it leaves the launch to the Python launcher before keying (tests compare it with the
 * key the Python launcher looks up). */
static PyObject *Accel_key(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Accel *self = (Accel *)op;
    PyObject *vals[MAX_PARAMS], *options = NULL, *dev = NULL, *key = NULL;
    Pointers ptrs;
    int status = bind(self, args, PyVectorcall_NARGS(nargsf), kwnames, vals, &options);
    if (status == 1)
        status = make_key(self, vals, options, &dev, &key, &ptrs);
    Py_XDECREF(options);
    Py_XDECREF(dev);
    if (status < 0)
        return NULL;
    if (status == 0)
        Py_RETURN_NONE;
    return key;
}

static PyMethodDef Accel_methods[] = {
    {"key", (PyCFunction)(void (*)(void))Accel_key, METH_FASTCALL | METH_KEYWORDS,
     "key(grid, *args, **kwargs): the fast key the C path computes (None: left to the Python launcher)"},
    {NULL}};

static PyObject *Accel_get_py(Accel *self, void *closure)
{
    Py_INCREF(self->py);
    return self->py;
}

static PyObject *Accel_get_globals(Accel *self, void *closure)
{
    return PyObject_GetAttrString(self->py, "__globals__");
}

static PyObject *Accel_get_name(Accel *self, void *closure)
{
    return PyObject_GetAttrString(self->py, "__name__");
}

static PyGetSetDef Accel_getset[] = {
    {"py", (getter)Accel_get_py, NULL, "the generated Python launcher this object serves hits for", NULL},
    {"__wrapped__", (getter)Accel_get_py, NULL, NULL, NULL},
    {"__globals__", (getter)Accel_get_globals, NULL, "the Python launcher's globals", NULL},
    {"__name__", (getter)Accel_get_name, NULL, NULL, NULL},
    {NULL}};

static PyTypeObject AccelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tritoncompat._accel_c.Accel",
    .tp_basicsize = sizeof(Accel),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A kernel's launcher: hits in C, everything else through its generated Python launcher.",
    .tp_new = Accel_new,
    .tp_traverse = (traverseproc)Accel_traverse,
    .tp_clear = (inquiry)Accel_clear,
    .tp_dealloc = (destructor)Accel_dealloc,
    .tp_vectorcall_offset = offsetof(Accel, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_getset = Accel_getset,
    .tp_methods = Accel_methods,
};

/* launch(kernel, grid, *args, **kwargs): tritoncompat.launch with its dispatch in C. A kernel
 * whose launcher is an Accel gets its plain hits served without a Python frame; a bound launch
 * the Accel does not serve goes to the Accel's Python launcher, and a launcher that is a Python
 * function is called directly, as launch() would call them; everything else (stream=/device=, no
 * launcher yet, a binding problem) goes to the Python launch() this wraps. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *py;   /* tritoncompat._launch.launch (or fast_launch, for patched kernel[grid]) */
    PyObject *attr; /* where a kernel keeps its launcher (_launch.ATTR) */
    int placement;  /* stream= / device= are launch()'s (not the patched kernel[grid]'s) */
    PyObject *runs; /* list: the class attributes the fast path reproduces (_common.NATIVE), or NULL */
    PyObject *kept; /* where 2.1 keeps a kernel's generated run (_slot.TRITON_RUN_ATTR) */
    PyObject *ok_type;     /* the last kernel class whose run / __getitem__ were found native ... */
    unsigned int ok_tag;   /* ... at this version tag of it (any change of the class or a base moves it) */
} Launch;

static PyObject *str_stream, *str_device, *str_run, *str_getitem;

static int is_native(Launch *self, PyObject *value)
{
    Py_ssize_t n = PyList_GET_SIZE(self->runs);
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyList_GET_ITEM(self->runs, i) == value)
            return 1;
    return 0;
}

/* Natively kernel[grid](...) calls type(kernel).__getitem__, which calls kernel.run: 1 when both
 * are ones the fast path reproduces (no run in the instance dict, or 2.1's generated one kept
 * there; the class's run and __getitem__ in `runs`), else 0 (the Python side then goes through
 * whatever replaced them). No error is left set. backends/_common.py intact() is the same test. */
static int tag_valid(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030D0000
    return tp->tp_version_tag != 0; /* 3.13+: 0 is the invalid tag, the flag is gone */
#else
    return PyType_HasFeature(tp, Py_TPFLAGS_VALID_VERSION_TAG) && tp->tp_version_tag != 0;
#endif
}

static int run_intact(Launch *self, PyObject *kernel, PyObject *dict)
{
    PyObject *own = PyDict_GetItemWithError(dict, str_run);
    if (own != NULL ? own != PyDict_GetItemWithError(dict, self->kept) : PyErr_Occurred() != NULL) {
        PyErr_Clear();
        return 0;
    }
    /* The class part, known for this class at this version tag: setting or deleting any attribute
     * of the class or of a base invalidates the tag (PyType_Modified), and `runs` only grows */
    PyTypeObject *tp = Py_TYPE(kernel);
    if ((PyObject *)tp == self->ok_type && tp->tp_version_tag == self->ok_tag && tag_valid(tp))
        return 1;
    /* borrowed, through the type's attribute cache; NULL: none (2.1's JITFunction has no run) */
    PyObject *run = _PyType_Lookup(tp, str_run);
    PyObject *getitem = _PyType_Lookup(tp, str_getitem);
    int ok = is_native(self, run != NULL ? run : Py_None) && is_native(self, getitem != NULL ? getitem : Py_None);
    if (ok && tag_valid(tp)) {
        Py_INCREF(tp);
        Py_XSETREF(self->ok_type, (PyObject *)tp);
        self->ok_tag = tp->tp_version_tag;
    }
    return ok;
}

static PyObject *Launch_vectorcall(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Launch *self = (Launch *)op;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *dict, *fast, *result = NULL;
    int status;

    if (nargs < 2)
        goto python;
    if (kwnames != NULL && self->placement)
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(kwnames); j++) {
            PyObject *name = PyTuple_GET_ITEM(kwnames, j);
            if (name == str_stream || name == str_device)
                goto python; /* placement keywords: launch() decides */
            if (PyUnicode_CHECK_INTERNED(name)) /* another interned str: not equal to these two */
                continue;
            if (PyUnicode_Compare(name, str_stream) == 0 || PyUnicode_Compare(name, str_device) == 0)
                goto python;
        }
    if (Py_TYPE(args[0])->tp_dictoffset == 0)
        goto python;
    if ((dict = PyObject_GenericGetDict(args[0], NULL)) == NULL) {
        PyErr_Clear();
        goto python;
    }
    if (self->runs != NULL && !run_intact(self, args[0], dict)) {
        Py_DECREF(dict);
        goto python; /* kernel.run replaced: the Python side calls through it */
    }
    fast = PyDict_GetItemWithError(dict, self->attr);
    Py_XINCREF(fast);
    Py_DECREF(dict);
    if (fast != NULL && PyFunction_Check(fast)) {
        /* a Python launcher (a memo, a forwarder, a 2.x / 3.0 launcher): called as launch() calls
         * it; a TypeError with no traceback at all was raised binding the call, before any of its
         * code ran, and launch() turns that into Triton's own error */
        result = PyObject_Vectorcall(fast, args + 1, nargs - 1, kwnames);
        Py_DECREF(fast);
        if (result == NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            if (tb == NULL) {
                Py_XDECREF(type);
                Py_XDECREF(value);
                goto python;
            }
            PyErr_Restore(type, value, tb);
        }
        return result;
    }
    if (fast == NULL || Py_TYPE(fast) != &AccelType) {
        Py_XDECREF(fast);
        PyErr_Clear();
        goto python;
    }
    status = try_hit((Accel *)fast, args + 1, nargs - 1, kwnames, &result);
    if (status == 2) /* bound, not a plain hit: the kernel's Python launcher, as launch() calls it */
        result = PyObject_Vectorcall(((Accel *)fast)->py, args + 1, nargs - 1, kwnames);
    Py_DECREF(fast);
    if (status != 0)
        return result;
python:
    return PyObject_Vectorcall(self->py, args, nargsf, kwnames);
}

static PyObject *Launch_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *py, *attr, *runs = NULL, *kept = NULL;
    int placement = 1;
    if (!PyArg_ParseTuple(args, "OU|pO!U:Launch", &py, &attr, &placement, &PyList_Type, &runs, &kept))
        return NULL;
    if (runs != NULL && kept == NULL) {
        PyErr_SetString(PyExc_TypeError, "Launch: runs needs the name of the kept run");
        return NULL;
    }
    Launch *self = (Launch *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = Launch_vectorcall;
    Py_INCREF(py);
    Py_INCREF(attr);
    Py_XINCREF(runs);
    Py_XINCREF(kept);
    self->py = py;
    self->attr = attr;
    self->placement = placement;
    self->runs = runs;
    self->kept = kept;
    return (PyObject *)self;
}

static int Launch_traverse(Launch *self, visitproc visit, void *arg)
{
    Py_VISIT(self->py);
    Py_VISIT(self->attr);
    Py_VISIT(self->runs);
    Py_VISIT(self->kept);
    Py_VISIT(self->ok_type);
    return 0;
}

static int Launch_clear(Launch *self)
{
    Py_CLEAR(self->py);
    Py_CLEAR(self->attr);
    Py_CLEAR(self->runs);
    Py_CLEAR(self->kept);
    Py_CLEAR(self->ok_type);
    return 0;
}

static void Launch_dealloc(Launch *self)
{
    PyObject_GC_UnTrack(self);
    Launch_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Launch_getattro(PyObject *op, PyObject *name)
{
    /* __doc__, __name__, __module__, __qualname__, __signature__ ... of the Python launch() */
    PyObject *found = PyObject_GenericGetAttr(op, name);
    if (found != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError))
        return found;
    PyErr_Clear();
    return PyObject_GetAttr(((Launch *)op)->py, name);
}

static PyObject *Launch_get_wrapped(Launch *self, void *closure)
{
    Py_INCREF(self->py);
    return self->py;
}

static PyObject *Launch_get_doc(Launch *self, void *closure)
{
    return PyObject_GetAttrString(self->py, "__doc__");
}

static PyObject *Launch_repr(Launch *self)
{
    return PyUnicode_FromString("<tritoncompat.launch (compiled dispatch)>");
}

static PyGetSetDef Launch_getset[] = {
    {"__wrapped__", (getter)Launch_get_wrapped, NULL, "the Python launch() this dispatches to", NULL},
    {"__doc__", (getter)Launch_get_doc, NULL, NULL, NULL},
    {NULL}};

static PyTypeObject LaunchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "tritoncompat._accel_c.Launch",
    .tp_basicsize = sizeof(Launch),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = Launch_new,
    .tp_traverse = (traverseproc)Launch_traverse,
    .tp_clear = (inquiry)Launch_clear,
    .tp_dealloc = (destructor)Launch_dealloc,
    .tp_vectorcall_offset = offsetof(Launch, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_getattro = Launch_getattro,
    .tp_getset = Launch_getset,
    .tp_repr = (reprfunc)Launch_repr,
};

static PyMethodDef module_methods[] = {
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef accel_module = {
    PyModuleDef_HEAD_INIT, "tritoncompat._accel_c", "tritoncompat's optional accelerator (see _accel.c).", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__accel_c(void)
{
#define INTERN(var, text)                                        \
    if ((var = PyUnicode_InternFromString(text)) == NULL)        \
        return NULL;
    INTERN(str_data_ptr, "data_ptr");
    INTERN(str_dtype, "dtype");
    INTERN(str_enter, "launch_enter_hook");
    INTERN(str_exit, "launch_exit_hook");
    INTERN(str_calls, "calls");
    INTERN(str_stages, "add_stages_inspection_hook");
    INTERN(str_pre_run_hooks, "pre_run_hooks");
    INTERN(str_used_global_vals, "used_global_vals");
    INTERN(str_tc_prefix, "_tc_");
    INTERN(str_stream, "stream");
    INTERN(str_device, "device");
    INTERN(str_run, "run");
    INTERN(str_getitem, "__getitem__");
#undef INTERN
    if (PyType_Ready(&AccelType) < 0 || PyType_Ready(&LaunchType) < 0 || PyType_Ready(&DirectType) < 0)
        return NULL;
#if PY_VERSION_HEX >= 0x030C0000
    if (dict_watcher < 0 && (dict_watcher = PyDict_AddWatcher(on_entries_changed)) < 0)
        PyErr_Clear(); /* every watcher taken: no memo, every hit hashes its key */
#endif
    PyObject *m = PyModule_Create(&accel_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&AccelType);
    if (PyModule_AddObject(m, "Accel", (PyObject *)&AccelType) < 0) {
        Py_DECREF(&AccelType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&LaunchType);
    if (PyModule_AddObject(m, "Launch", (PyObject *)&LaunchType) < 0) {
        Py_DECREF(&LaunchType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&DirectType);
    if (PyModule_AddObject(m, "Direct", (PyObject *)&DirectType) < 0) {
        Py_DECREF(&DirectType);
        Py_DECREF(m);
        return NULL;
    }
    PyObject *codes = PyTuple_New(D_CODES);
    for (int c = 0; codes != NULL && c < D_CODES; c++) {
        PyObject *name = PyUnicode_FromString(direct_code_names[c]);
        if (name == NULL)
            Py_CLEAR(codes);
        else
            PyTuple_SET_ITEM(codes, c, name);
    }
    if (codes == NULL || PyModule_AddObject(m, "DIRECT_CODES", codes) < 0) {
        Py_XDECREF(codes);
        Py_DECREF(m);
        return NULL;
    }
    /* the most parameters an Accel serves (a wider kernel keeps its Python launcher) */
    if (PyModule_AddIntConstant(m, "MAX_PARAMS", MAX_PARAMS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
