"""libdevice functions written in Triton language, for where no libdevice serves them.

``tritoncompat.language.libdevice`` jits one of these (on first use, under the mode Triton is in)
when the installed release's libdevice lacks the name (``max`` / ``min`` left with ``tl.math`` in
3.0) and under ``TRITON_INTERPRET=1``, whose interpreter has no libdevice on any release
("extern_elementwise not supported in interpreter mode"). Each is self-contained (they are jitted
one by one, so none may call another) and is tested against torch in the interpreter
(tests/test_compat_language.py). Float inputs; the formulas keep float32 accuracy near 0 where
the naive ones cancel (Kahan's expm1 / log1p corrections).
"""
import triton.language as tl

IMPLEMENTED = ("abs", "acosh", "asinh", "atanh", "cbrt", "cos", "cosh", "erf", "erfinv", "exp", "exp10", "expm1",
               "fast_expf", "fast_logf", "hypot", "isinf", "isnan", "log", "log10", "log1p", "max",
               "min", "rsqrt", "sin", "sinh", "sqrt", "tanh")


def abs(arg0):
    return tl.abs(arg0)


def exp(arg0):
    return tl.exp(arg0)


def fast_expf(arg0):
    return tl.exp(arg0)


def log(arg0):
    return tl.log(arg0)


def fast_logf(arg0):
    return tl.log(arg0)


def sqrt(arg0):
    return tl.sqrt(arg0)


def sin(arg0):
    return tl.sin(arg0)


def cos(arg0):
    return tl.cos(arg0)


def rsqrt(arg0):
    return 1.0 / tl.sqrt(arg0)


def exp10(arg0):
    return tl.exp(arg0 * 2.302585092994046)


def log10(arg0):
    return tl.log(arg0) * 0.4342944819032518


def cbrt(arg0):
    r = tl.exp(tl.log(tl.abs(arg0)) / 3.0)
    return tl.where(arg0 < 0, -r, r)


def expm1(arg0):
    u = tl.exp(arg0)
    um1 = u - 1.0
    fixed = um1 * arg0 / tl.log(u)          # Kahan: the rounding of u cancels out
    fixed = tl.where(um1 == -1.0, -1.0, fixed)
    fixed = tl.where((u == u + u) & (u > 1.0), u, fixed)     # u is +inf
    return tl.where(um1 == 0.0, arg0, fixed)


def log1p(arg0):
    u = 1.0 + arg0
    d = u - 1.0
    fixed = tl.log(u) * arg0 / d            # Goldberg: the rounding of 1 + x cancels out
    fixed = tl.where((u == u + u) & (u > 1.0), u, fixed)     # u is +inf
    return tl.where(d == 0.0, arg0, fixed)


def tanh(arg0):
    a = tl.abs(arg0)
    u = tl.exp(-2.0 * a)
    um1 = u - 1.0
    em1 = um1 * (-2.0 * a) / tl.log(u)      # expm1(-2|x|), Kahan
    em1 = tl.where(um1 == -1.0, -1.0, em1)     # u tiny or subnormal: its log is too coarse
    em1 = tl.where(um1 == 0.0, -2.0 * a, em1)
    t = -em1 / (2.0 + em1)
    return tl.where(arg0 < 0, -t, t)


def sinh(arg0):
    a = tl.abs(arg0)
    u = tl.exp(a)
    um1 = u - 1.0
    e = um1 * a / tl.log(u)                 # expm1(|x|), Kahan
    e = tl.where((u == u + u) & (u > 1.0), u, e)
    e = tl.where(um1 == 0.0, a, e)
    s = 0.5 * (e + e / (e + 1.0))
    return tl.where(arg0 < 0, -s, s)


def cosh(arg0):
    e = tl.exp(tl.abs(arg0))
    return 0.5 * (e + 1.0 / e)


def atanh(arg0):
    a = tl.abs(arg0)
    y = 2.0 * a / (1.0 - a)
    u = 1.0 + y
    d = u - 1.0
    l = tl.log(u) * y / d                   # log1p(y), Goldberg
    l = tl.where((u == u + u) & (u > 1.0), u, l)
    l = tl.where(d == 0.0, y, l)
    r = 0.5 * l
    return tl.where(arg0 < 0, -r, r)


def asinh(arg0):
    a = tl.abs(arg0)
    y = a + a * a / (1.0 + tl.sqrt(1.0 + a * a))
    u = 1.0 + y
    d = u - 1.0
    l = tl.log(u) * y / d                   # log1p(y), Goldberg
    l = tl.where(d == 0.0, y, l)
    l = tl.where(a > 1e18, tl.log(a) + 0.6931471805599453, l)
    return tl.where(arg0 < 0, -l, l)


def acosh(arg0):
    return tl.log(arg0 + tl.sqrt((arg0 - 1.0) * (arg0 + 1.0)))


def hypot(arg0, arg1):
    a = tl.abs(arg0)
    b = tl.abs(arg1)
    big = tl.where(a > b, a, b)       # where, not maximum: 2.2 - 2.3's interpreters lack it
    small = tl.where(a > b, b, a)
    r = small / tl.where(big == 0.0, 1.0, big)
    return big * tl.sqrt(1.0 + r * r)


def erf(arg0):
    # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7
    a = tl.abs(arg0)
    t = 1.0 / (1.0 + 0.3275911 * a)
    p = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t
    r = 1.0 - p * tl.exp(-a * a)
    return tl.where(arg0 < 0, -r, r)


def erfinv(arg0):
    # M. Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011), single precision
    w = -tl.log((1.0 - arg0) * (1.0 + arg0))
    ws = w - 2.5
    p1 = 2.81022636e-08
    p1 = 3.43273939e-07 + p1 * ws
    p1 = -3.5233877e-06 + p1 * ws
    p1 = -4.39150654e-06 + p1 * ws
    p1 = 0.00021858087 + p1 * ws
    p1 = -0.00125372503 + p1 * ws
    p1 = -0.00417768164 + p1 * ws
    p1 = 0.246640727 + p1 * ws
    p1 = 1.50140941 + p1 * ws
    wl = tl.sqrt(w) - 3.0
    p2 = -0.000200214257
    p2 = 0.000100950558 + p2 * wl
    p2 = 0.00134934322 + p2 * wl
    p2 = -0.00367342844 + p2 * wl
    p2 = 0.00573950773 + p2 * wl
    p2 = -0.0076224613 + p2 * wl
    p2 = 0.00943887047 + p2 * wl
    p2 = 1.00167406 + p2 * wl
    p2 = 2.83297682 + p2 * wl
    r = tl.where(w < 5.0, p1, p2) * arg0
    return tl.where(tl.abs(arg0) == 1.0, arg0 / 0.0, r)


def max(arg0, arg1):
    # 2.x tl.math.max: __nv_fmaxf (a NaN operand yields the other one) / __nv_max / __nv_umax /
    # __nv_llmax by dtype
    m = tl.where(arg0 > arg1, arg0, arg1)
    m = tl.where(arg1 != arg1, arg0, m)
    return tl.where(arg0 != arg0, arg1, m)


def min(arg0, arg1):
    m = tl.where(arg0 < arg1, arg0, arg1)
    m = tl.where(arg1 != arg1, arg0, m)
    return tl.where(arg0 != arg0, arg1, m)


def isnan(arg0):
    return tl.where(arg0 != arg0, 1, 0)         # int32, as __nv_isnanf (not .to: 2.2 - 2.3's interpreters)


def isinf(arg0):
    return tl.where((arg0 == arg0 + arg0) & (arg0 != 0.0), 1, 0)     # only +-inf doubles to itself
