using System.Linq.Expressions;
using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// The values of the elementwise vocabulary against independent oracles: .NET's <c>Math</c> in double, quadrature,
/// series, identities and definitions; accuracy in float32 at the arguments where naive forms lose every digit; exact
/// integer floor division and modulus against their definition; and the C# scalar spellings read in double code.
/// (Derivatives against finite differences, Vmap, Jit and the dtypes run from the spec lines, Specs.Elementwise.cs.)
/// </summary>
public class ElementwiseVocabularyTests
{
    static Tensor T64(params double[] v) => new(v);
    static Tensor T32(params double[] v) => new Tensor(v).AsType(DType.Float32);

    /// <summary>Relative error, with an absolute floor of <paramref name="floor"/>.</summary>
    static double Err(double got, double want, double floor = 0) =>
        double.IsNaN(want) ? (double.IsNaN(got) ? 0 : double.PositiveInfinity)
        : got == want ? 0 : Math.Abs(got - want) / Math.Max(floor, Math.Abs(want));

    static void Near(Func<Tensor, Tensor> f, double[] xs, Func<double, double> oracle, double tol, DType dtype, string what, double floor = 0)
    {
        var got = f(new Tensor(xs).AsType(dtype)).ToDoubleArray();
        for (int i = 0; i < xs.Length; i++)
        {
            double want = oracle(dtype == DType.Float32 ? (float)xs[i] : xs[i]);
            Assert.True(Err(got[i], want, floor) <= tol, $"{what}({xs[i]:R}) in {dtype}: {got[i]:R}, want {want:R} (error {Err(got[i], want, floor):G3})");
        }
    }

    // ---------------------------------------------------------------- against Math in double

    public static IEnumerable<object[]> MathCases =>
    [
        ["Asin", -0.99, 0.99], ["Acos", -0.99, 0.99], ["Sinh", -20.0, 20.0], ["Cosh", -20.0, 20.0], ["Asinh", -1e6, 1e6],
        ["Acosh", 1.0, 1e6], ["Atanh", -0.999, 0.999], ["Tan", -1.5, 1.5], ["Cbrt", -1e3, 1e3],
    ];

    static (Func<Tensor, Tensor> Np, Func<double, double> Math) Pair(string name) => name switch
    {
        "Asin" => (Asin, Math.Asin), "Acos" => (Acos, Math.Acos), "Sinh" => (Sinh, Math.Sinh), "Cosh" => (Cosh, Math.Cosh),
        "Asinh" => (Asinh, Math.Asinh), "Acosh" => (Acosh, Math.Acosh), "Atanh" => (Atanh, Math.Atanh), "Tan" => (Tan, Math.Tan),
        _ => (Cbrt, Math.Cbrt),
    };

    /// <summary>Each function equals .NET's <c>Math</c> in float64, and its float32 value is Math's value rounded once.</summary>
    [Theory]
    [MemberData(nameof(MathCases))]
    public void Trigonometric_and_hyperbolic_functions_equal_math_in_double_and_round_once_in_float32(string name, double lo, double hi)
    {
        var (np, math) = Pair(name);
        var xs = Enumerable.Range(0, 101).Select(i => lo + (hi - lo) * i / 100).ToArray();
        Near(np, xs, math, 0, DType.Float64, name);
        Near(np, xs, x => (float)math(x), 0, DType.Float32, name);
    }

    [Fact]
    public void Atan2_and_hypot_equal_math_in_every_quadrant_and_hypot_does_not_overflow()
    {
        double[] ys = [1, -1, 0, 3, -2.5], xs = [1, 1, -1, -4, -0.5];
        var got = Atan2(T64(ys), T64(xs)).ToDoubleArray();
        for (int i = 0; i < ys.Length; i++) Assert.Equal(Math.Atan2(ys[i], xs[i]), got[i]);
        Assert.Equal(3 * Math.PI / 4, (double)Atan2(1.0, -1.0), 15);
        Assert.Equal(5.0, (double)Hypot(3.0, 4.0));
        Assert.Equal(Math.Sqrt(2) * 1e200, Hypot(T64(1e200), T64(1e200)).ToDoubleArray()[0], 1e186);
        Assert.Equal(Math.Sqrt(2) * 1e30f, Hypot(T32(1e30), T32(1e30)).ToDoubleArray()[0], 1e25);
    }

    // ---------------------------------------------------------------- accuracy where naive forms lose

    /// <summary>erfc x = 2/√π e^(-x²) ∫₀^∞ e^(-u² - 2xu) du (substituting t = x + u), by Simpson's rule on [0, 40/(x+1)]
    /// with 200,000 panels: an oracle that shares nothing with the continued fraction.</summary>
    static double ErfcByQuadrature(double x)
    {
        const int N = 200_000;
        double len = 40.0 / (Math.Max(x, 0) + 1), h = len / N, s = 0;
        for (int i = 0; i <= N; i++)
        {
            double u = i * h, w = i == 0 || i == N ? 1 : i % 2 == 1 ? 4 : 2;
            s += w * Math.Exp(-u * u - 2 * x * u);
        }
        return 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x) * s * h / 3;
    }

    [Fact]
    public void Erfc_is_accurate_in_its_tail_where_one_minus_erf_gives_zero()
    {
        double[] xs = [0, 0.3, 1, 1.9, 2, 2.5, 3, 4, 5, 7, 10, 15, 20, 26];
        Near(Erfc, xs, ErfcByQuadrature, 1e-12, DType.Float64, "Erfc");
        // float32: every digit where 1 - erf(x) is 0 (x > 4) and up to the underflow of the result
        Near(Erfc, [0.5, 2, 3, 4, 5, 7, 9], x => ErfcByQuadrature(x), 1e-6, DType.Float32, "Erfc");
        Assert.Equal(0.0, (1 - Erf(T32(5))).ToDoubleArray()[0]);
        // negative arguments: erfc(-x) = 2 - erfc(x)
        Near(Erfc, [-0.5, -2, -6], x => 2 - ErfcByQuadrature(-x), 1e-13, DType.Float64, "Erfc");
        // a known value: erfc(10) = 2.0884875837625447570e-45
        Assert.True(Err(Erfc(T64(10)).ToDoubleArray()[0], 2.0884875837625447570e-45) < 1e-14);
    }

    [Fact]
    public void ErfInv_inverts_erf_and_keeps_its_precision_near_one()
    {
        var ys = Enumerable.Range(-99, 199).Select(i => i / 100.0).ToArray();
        var x = ErfInv(T64(ys));
        Near(_ => Erf(x), ys, y => y, 1e-15, DType.Float64, "Erf(ErfInv)", floor: 1e-3);
        // near 1, through erfc: 1 - y is exact, so erfc(erfinv(y)) must give it back to relative precision
        double[] near1 = [1 - 1e-3, 1 - 1e-8, 1 - 1e-12, 1 - 1e-15];
        Near(t => Erfc(ErfInv(t)), near1, y => 1 - y, 1e-9, DType.Float64, "Erfc(ErfInv)");
        Near(t => Erfc(ErfInv(t)), [1 - Math.Pow(2, -24), 0.999], y => 1 - y, 1e-5, DType.Float32, "Erfc(ErfInv)");
        Assert.Equal([double.NegativeInfinity, double.PositiveInfinity], ErfInv(T64(-1, 1)).ToDoubleArray());
        Assert.True(ErfInv(T64(1.5, -2, double.NaN)).ToDoubleArray().All(double.IsNaN));
        // the derivative sqrt(pi)/2 e^(erfinv(y)^2) against the inverse function rule 1 / erf'(x)
        Expression<Func<Tensor, Tensor>> f = y => Sum(ErfInv(y), null, false);
        var g = f.Grad().Compile()(T64(0.3, -0.95)).ToDoubleArray();
        var xv = ErfInv(T64(0.3, -0.95)).ToDoubleArray();
        for (int i = 0; i < 2; i++) Assert.True(Err(g[i], 1 / (2 / Math.Sqrt(Math.PI) * Math.Exp(-xv[i] * xv[i]))) < 1e-13);
    }

    [Fact]
    public void LogAddExp_does_not_overflow_and_keeps_tiny_differences_in_float32()
    {
        // moderate arguments: the naive double formula is an oracle for float32
        double[] a = [0, 1, -3, 20, -50, 80], b = [0, -1, 2, 19.5, -49, -80];
        var got = LogAddExp(T32(a), T32(b)).ToDoubleArray();
        for (int i = 0; i < a.Length; i++)
        {
            double want = Math.Log(Math.Exp((float)a[i]) + Math.Exp((float)b[i]));
            Assert.True(Err(got[i], want) < 1e-7, $"LogAddExp({a[i]}, {b[i]}): {got[i]:R}, want {want:R}");
        }
        // large arguments: shift invariance logaddexp(a + c, b + c) = logaddexp(a, b) + c, where e^a overflows
        var big = LogAddExp(T64(1000, -1000, 1e308), T64(999, -1001, 1e308)).ToDoubleArray();
        Assert.Equal(1000 + Math.Log(1 + Math.Exp(-1)), big[0], 12);
        Assert.Equal(-1000 + Math.Log(1 + Math.Exp(-1)), big[1], 12);
        Assert.Equal(1e308 + Math.Log(2), big[2]);
        Assert.Equal(float.PositiveInfinity, (float)Log(Exp(T32(100)) + Exp(T32(100))).ToDoubleArray()[0]);
        Assert.Equal(100 + Math.Log(2), LogAddExp(T32(100), T32(100)).ToDoubleArray()[0], 5);
        // a tiny second term: log1p keeps e^-30 where log(1 + e^-30) is 0
        Assert.True(Err(LogAddExp(T32(0), T32(-30)).ToDoubleArray()[0], Math.Exp(-30) - Math.Exp(-60) / 2) < 1e-6);
        Assert.Equal(double.NegativeInfinity, LogAddExp(T64(double.NegativeInfinity), T64(double.NegativeInfinity)).ToDoubleArray()[0]);
    }

    [Fact]
    public void LogSigmoid_and_the_activations_keep_their_tails_in_float32()
    {
        // log sigmoid: x - log1p(e^x) for x < 0 (series e^x - e^2x/2 where e^x is tiny), -log1p(e^-x) for x > 0
        Near(LogSigmoid, [-1000, -100, -30], x => x - (Math.Exp(x) - Math.Exp(2 * x) / 2), 1e-7, DType.Float32, "LogSigmoid");
        Near(LogSigmoid, [20, 40, 80], x => -(Math.Exp(-x) - Math.Exp(-2 * x) / 2), 1e-6, DType.Float32, "LogSigmoid");
        Near(LogSigmoid, [-2, -0.5, 0, 0.5, 3], x => -Math.Log(1 + Math.Exp(-x)), 1e-7, DType.Float32, "LogSigmoid");
        Assert.Equal(0.0, Log(Sigmoid(T32(40))).ToDoubleArray()[0]);   // the naive form loses it
        // gelu, exact: x erfc(-x/sqrt 2)/2 with erfc by quadrature; its tail at large negative x
        Near(t => Gelu(t), [-12, -8, -3, -1, 0, 0.5, 2, 6], x => 0.5 * x * ErfcByQuadrature(-x / Math.Sqrt(2)), 2e-6, DType.Float32, "Gelu", floor: 1e-300);
        Near(t => Gelu(t), [-12, -3, 0.5, 6], x => 0.5 * x * ErfcByQuadrature(-x / Math.Sqrt(2)), 1e-12, DType.Float64, "Gelu", floor: 1e-300);
        // gelu, tanh form: x / (1 + e^(-2z)), z = sqrt(2/pi)(x + 0.044715 x^3), in double
        static double GeluTanh(double x) { double z = Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x); return x / (1 + Math.Exp(-2 * z)); }
        Near(t => Gelu(t, true), [-9, -5, -1, 0, 1, 4], GeluTanh, 1e-6, DType.Float32, "Gelu(approximate)");
        Near(t => Gelu(t, true), [-1, 0.3, 2], x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))), 1e-15, DType.Float64, "Gelu(approximate)");
        Near(Silu, [-80, -20, -1, 0, 2, 50], x => x / (1 + Math.Exp(-x)), 1e-7, DType.Float32, "Silu");
        Near(t => Elu(t, 1.5), [-1e-9, -1, -30, 0, 2], x => x > 0 ? x : 1.5 * (x > -1e-5 ? x + x * x / 2 : Math.Exp(x) - 1), 1e-7, DType.Float32, "Elu");
        Near(t => LeakyRelu(t, 0.1), [-3, -0.0, 0, 2], x => x >= 0 ? x : 0.1 * x, 1e-7, DType.Float32, "LeakyRelu");
    }

    [Fact]
    public void Inverse_hyperbolic_functions_are_accurate_near_their_edges_in_float32()
    {
        // acosh(1 + d) = sqrt(2d) (1 - d/12 + 3d^2/160 - ...) for small d; acosh x = ln 2x - 1/(4x^2) for large x
        float one = 1;
        double[] nearOne = [MathF.BitIncrement(one), 1 + 1e-6, 1 + 1e-4];
        Near(Acosh, nearOne, x => { double d = x - 1; return Math.Sqrt(2 * d) * (1 - d / 12 + 3 * d * d / 160); }, 1e-6, DType.Float32, "Acosh");
        Near(Acosh, [1e10, 1e30, 3e38], x => Math.Log(2) + Math.Log(x) - 1 / (4 * x * x), 1e-7, DType.Float32, "Acosh");
        // atanh x = x + x^3/3 + x^5/5 near 0; 0.5 ln((1 + x)/(1 - x)) near 1, where 1 - x is exact
        Near(Atanh, [1e-30, -1e-8, 1e-3], x => x + x * x * x / 3 + Math.Pow(x, 5) / 5, 1e-7, DType.Float32, "Atanh");
        Near(Atanh, [MathF.BitDecrement(one), 0.9999, -MathF.BitDecrement(one)], x => 0.5 * Math.Log((1 + x) / (1 - x)), 1e-7, DType.Float32, "Atanh");
        Near(Asinh, [1e-30, -1e-6, 1e20, -3e38], x => Math.Abs(x) < 1e-3 ? x - x * x * x / 6 : Math.Sign(x) * (Math.Log(2) + Math.Log(Math.Abs(x))), 1e-7, DType.Float32, "Asinh");
        Near(Rsqrt, [1e-30, 4, 1e30], x => 1 / Math.Sqrt(x), 1e-7, DType.Float32, "Rsqrt");
        Near(Cbrt, [-27, 1e-30, 8e30], x => Math.Sign(x) * Math.Exp(Math.Log(Math.Abs(x)) / 3), 1e-7, DType.Float32, "Cbrt");
    }

    // ---------------------------------------------------------------- the gamma family

    const double EulerGamma = 0.57721566490153286061;

    [Fact]
    public void Lgamma_equals_log_factorials_and_satisfies_the_recurrence_and_reflection()
    {
        double fact = 1;
        var ns = Enumerable.Range(1, 40).Select(n => (double)n).ToArray();
        var got = Lgamma(T64(ns)).ToDoubleArray();
        for (int n = 1; n <= 40; n++)
        {
            Assert.True(Math.Abs(got[n - 1] - Math.Log(fact)) <= 4e-15 * Math.Max(1, Math.Log(fact)), $"Lgamma({n}): {got[n - 1]:R}, want ln {fact} = {Math.Log(fact):R}");
            fact *= n;
        }
        Assert.Equal(0.5 * Math.Log(Math.PI), Lgamma(T64(0.5)).ToDoubleArray()[0], 14);
        // ln Gamma(x + 1) - ln Gamma(x) = ln |x| and ln Gamma(x) + ln Gamma(1 - x) = ln(pi / |sin pi x|), positive and negative x
        double[] xs = [0.01, 0.37, 1.5, 2.9, 7.3, 33.3, -0.3, -1.7, -5.5, -20.25];
        var lx = Lgamma(T64(xs)).ToDoubleArray();
        var lx1 = Lgamma(T64(xs.Select(x => x + 1).ToArray())).ToDoubleArray();
        var l1mx = Lgamma(T64(xs.Select(x => 1 - x).ToArray())).ToDoubleArray();
        for (int i = 0; i < xs.Length; i++)
        {
            Assert.True(Math.Abs(lx1[i] - lx[i] - Math.Log(Math.Abs(xs[i]))) < 1e-13 * Math.Max(1, Math.Abs(lx[i])), $"recurrence at {xs[i]}");
            Assert.True(Math.Abs(lx[i] + l1mx[i] - Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * xs[i])))) < 1e-12 * Math.Max(1, Math.Abs(lx[i])), $"reflection at {xs[i]}");
        }
        Assert.True(Lgamma(T64(0, -1, -7)).ToDoubleArray().All(double.IsPositiveInfinity));
        // relative precision at the roots 1 and 2: ln Γ(1 + e) = -γ e + ζ(2) e²/2, ln Γ(2 + e) = (1 - γ) e + (ζ(2) - 1) e²/2
        const double Zeta2 = 1.6449340668482264365;
        Near(Lgamma, [1 + 1e-10, 1 - 1e-9, 1 + 1e-6], x => -EulerGamma * (x - 1) + Zeta2 * (x - 1) * (x - 1) / 2, 1e-9, DType.Float64, "Lgamma");
        Near(Lgamma, [2 + 1e-10, 2 - 1e-9, 2 + 1e-6], x => (1 - EulerGamma) * (x - 2) + (Zeta2 - 1) * (x - 2) * (x - 2) / 2, 1e-9, DType.Float64, "Lgamma");
        Assert.Equal([0.0, 0.0], Lgamma(T64(1, 2)).ToDoubleArray());
    }

    [Fact]
    public void Digamma_has_its_known_values_and_is_the_derivative_of_lgamma()
    {
        // psi(n) = -gamma + H_(n-1); psi(1/2) = -gamma - 2 ln 2; psi(x + 1) - psi(x) = 1/x
        double h = 0;
        for (int n = 1; n <= 30; n++)
        {
            Assert.True(Err(Digamma(T64(n)).ToDoubleArray()[0], -EulerGamma + h, 1) < 2e-15, $"Digamma({n})");
            h += 1.0 / n;
        }
        Assert.Equal(-EulerGamma - 2 * Math.Log(2), Digamma(T64(0.5)).ToDoubleArray()[0], 14);
        foreach (var x in new[] { 0.013, 0.7, 3.3, 50.5, -0.4, -3.75 })
            Assert.True(Math.Abs((double)(Digamma(x + 1.0) - Digamma(x)) - 1 / x) < 1e-12 * Math.Max(1, 1 / Math.Abs(x)), $"recurrence at {x}");
        // the derivative of lgamma: central differences of Lgamma, and Ad.Grad of Lgamma is Digamma
        foreach (var x in new[] { 0.3, 1.7, 9.5, -2.5 })
        {
            double step = 1e-5, fd = ((double)Lgamma(x + step) - (double)Lgamma(x - step)) / (2 * step);
            Assert.True(Err((double)Digamma(x), fd, 1) < 1e-8, $"Digamma({x}) against differences of Lgamma: {(double)Digamma(x):R}, {fd:R}");
        }
        Expression<Func<Tensor, Tensor>> lg = x => Sum(Lgamma(x), null, false);
        var xs = T64(0.3, 1.7, 9.5, -2.5);
        Assert.Equal(Digamma(xs).ToDoubleArray(), lg.Grad().Compile()(xs).ToDoubleArray());
    }

    /// <summary>ψ⁽ⁿ⁾(x) = (-1)ⁿ⁺¹ n! Σₖ 1/(x+k)ⁿ⁺¹ by its definition: 2·10⁶ terms, then the integral tail with its first
    /// Euler–Maclaurin correction (good for negative non-integer x too).</summary>
    static double PolygammaBySeries(int n, double x)
    {
        double sum = 0;
        const int N = 2_000_000;
        for (int k = N - 1; k >= 0; k--) sum += Math.Pow(x + k, -(n + 1));
        double z = x + N;
        sum += Math.Pow(z, -n) / n + Math.Pow(z, -(n + 1)) / 2;
        double fact = 1;
        for (int i = 2; i <= n; i++) fact *= i;
        return (n % 2 == 1 ? 1 : -1) * fact * sum;
    }

    [Fact]
    public void Polygamma_has_its_known_values_and_matches_its_series_and_the_differences_of_digamma()
    {
        Assert.Equal(Math.PI * Math.PI / 6, (double)Polygamma(1, 1.0), 14);
        Assert.Equal(Math.PI * Math.PI / 2, (double)Polygamma(1, 0.5), 13);
        Assert.True(Err((double)Polygamma(2, 1.0), -2 * 1.2020569031595942854) < 1e-14);   // -2 zeta(3)
        Assert.True(Err((double)Polygamma(3, 1.0), Math.Pow(Math.PI, 4) / 15) < 1e-14);     // 6 zeta(4)
        Assert.Equal((double)Digamma(2.5), (double)Polygamma(0, 2.5));
        foreach (var (n, x) in new[] { (1, 0.2), (1, 4.5), (2, 0.7), (3, 12.0), (5, 1.3), (1, -0.6), (2, -1.5), (3, -2.3), (4, -7.25) })
        {
            double want = PolygammaBySeries(n, x), got = (double)Polygamma(n, x);
            Assert.True(Err(got, want) < 1e-10, $"Polygamma({n}, {x}): {got:R}, series {want:R}");
        }
        // the derivative of digamma (and of polygamma) by central differences
        foreach (var (n, x) in new[] { (0, 0.8), (0, 3.1), (1, 0.9), (2, 2.2), (0, -1.3) })
        {
            double step = 1e-5;
            double fd = ((double)Polygamma(n, x + step) - (double)Polygamma(n, x - step)) / (2 * step);
            Assert.True(Err((double)Polygamma(n + 1, x), fd, 1) < 1e-7, $"Polygamma({n + 1}, {x}) against differences of order {n}");
        }
        // orders that are not non-negative integers give NaN; a tensor of orders broadcasts against x
        Assert.True(Polygamma(T64(-1, 1.5), T64(2)).ToDoubleArray().All(double.IsNaN));
        var orders = Polygamma(T64(0, 1, 2), T64(3.0)).ToDoubleArray();
        Assert.Equal([(double)Digamma(3.0), (double)Polygamma(1, 3.0), (double)Polygamma(2, 3.0)], orders);
    }

    /// <summary>Lgamma and Digamma differentiate twice: the second derivative of Lgamma is Polygamma(1, x), and the
    /// second derivative of Digamma is Polygamma(2, x), both against central differences of the first.</summary>
    [Fact]
    public void Lgamma_and_digamma_have_second_derivatives()
    {
        Expression<Func<Tensor, Tensor>> lg = x => Sum(Lgamma(x), null, false);
        Expression<Func<Tensor, Tensor>> dg = x => Sum(Digamma(x), null, false);
        var lg1 = lg.Grad(); var dg1 = dg.Grad();
        Expression<Func<Tensor, Tensor>> lgSum = x => Sum(lg1.Invoke(x), null, false);
        Expression<Func<Tensor, Tensor>> dgSum = x => Sum(dg1.Invoke(x), null, false);
        var xs = T64(0.4, 2.5, 11, -1.5);
        var lg2 = lgSum.Grad().Compile()(xs).ToDoubleArray();
        var dg2 = dgSum.Grad().Compile()(xs).ToDoubleArray();
        var x = xs.ToDoubleArray();
        for (int i = 0; i < x.Length; i++)
        {
            double step = 1e-5;
            Assert.True(Err(lg2[i], ((double)Digamma(x[i] + step) - (double)Digamma(x[i] - step)) / (2 * step), 1) < 1e-7, $"Lgamma'' at {x[i]}");
            Assert.True(Err(dg2[i], ((double)Polygamma(1, x[i] + step) - (double)Polygamma(1, x[i] - step)) / (2 * step), 1) < 1e-7, $"Digamma'' at {x[i]}");
            Assert.Equal((double)Polygamma(1, x[i]), lg2[i], 12);
        }
        // and the jit gives the same second derivative
        Assert.Equal(lg2, Ad.Jit(lgSum.Grad())(xs).ToDoubleArray());
    }

    // ---------------------------------------------------------------- rounding

    [Fact]
    public void Round_is_half_to_even_and_the_roundings_keep_integers_as_they_are()
    {
        double[] xs = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999999, 3.5000001, 1e300, -0.0];
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var r = Round(new Tensor(xs).AsType(dtype));
            var want = xs.Select(x => dtype == DType.Float32 ? (double)MathF.Round((float)x) : Math.Round(x)).ToArray();
            Assert.Equal(want, r.ToDoubleArray());
            Assert.Equal([0.0, 2, 2, -0.0, -2, -2, 2, 4], r.ToDoubleArray().Take(8).ToArray());
            Assert.Equal(xs.Select(x => Math.Floor(dtype == DType.Float32 ? (float)x : x)).ToArray(), Floor(new Tensor(xs).AsType(dtype)).ToDoubleArray());
            Assert.Equal(xs.Select(x => Math.Ceiling(dtype == DType.Float32 ? (float)x : x)).ToArray(), Ceil(new Tensor(xs).AsType(dtype)).ToDoubleArray());
            Assert.Equal(xs.Select(x => Math.Truncate(dtype == DType.Float32 ? (float)x : x)).ToArray(), Trunc(new Tensor(xs).AsType(dtype)).ToDoubleArray());
        }
        var ints = new Tensor(new[] { -3.0, 0, 7 }).AsType(DType.Int32);
        foreach (var f in new Func<Tensor, Tensor>[] { Floor, Ceil, Round, Trunc })
        {
            var y = f(ints);
            Assert.Equal(DType.Int32, y.DType);
            Assert.Equal([-3.0, 0, 7], y.ToDoubleArray());
        }
        // zero derivative, and the jit rounds as the eager kernel does (unrolled and fused)
        Expression<Func<Tensor, Tensor>> f2 = x => Sum(Round(x) * x + Floor(x) + Ceil(x) + Trunc(x), null, false);
        Assert.Equal(Round(T64(2.5, -1.5, 0.7)).ToDoubleArray(), f2.Grad().Compile()(T64(2.5, -1.5, 0.7)).ToDoubleArray());
        Expression<Func<Tensor, Tensor>> g = x => Round(x * 0.5) + Floor(x) * 0.25;
        foreach (var n in new[] { 7, 300 })
        {
            var x = new Tensor(Enumerable.Range(0, n).Select(i => i * 1.0 - n / 2).ToArray()).AsType(DType.Float32);
            Assert.Equal(g.Compile()(x).ToDoubleArray(), Ad.Jit(g)(x).ToDoubleArray());
        }
    }

    // ---------------------------------------------------------------- floored division and modulus

    /// <summary>(q, r) by the definition of floor division: a = q b + r with 0 ≤ r &lt; b (b &gt; 0) or b &lt; r ≤ 0 (b &lt; 0), in BigInteger.</summary>
    static (BigInteger Q, BigInteger R) FloorDivMod(BigInteger a, BigInteger b)
    {
        var q = BigInteger.Divide(a, b);           // truncated
        var r = a - q * b;
        if (r != 0 && (r < 0) != (b < 0)) { q -= 1; r += b; }
        Assert.Equal(a, q * b + r);
        Assert.True(b > 0 ? r >= 0 && r < b : r <= 0 && r > b);
        return (q, r);
    }

    [Fact]
    public void Integer_mod_and_floor_divide_are_exact_with_the_sign_of_the_divisor()
    {
        var rng = new System.Random(17);
        var a32 = Enumerable.Range(0, 400).Select(i => i < 8 ? new[] { int.MinValue, int.MaxValue, -7, 7, 0, -1, 1, int.MinValue + 1 }[i] : rng.Next(int.MinValue, int.MaxValue) >> rng.Next(0, 31)).ToArray();
        var b32 = Enumerable.Range(0, 400).Select(i => { int b; do b = rng.Next(-50, 50) * (i % 3 == 0 ? 1 : rng.Next(1, 1 << 20)); while (b == 0); return i < 8 ? new[] { 3, -3, 3, -3, 5, 2, -2, -1 }[i] : b; }).ToArray();
        foreach (var dtype in new[] { DType.Int32, DType.Int64 })
        {
            var ta = new Tensor(a32.Select(v => (double)v).ToArray()).AsType(dtype);
            var tb = new Tensor(b32.Select(v => (double)v).ToArray()).AsType(dtype);
            var mod = Mod(ta, tb); var div = FloorDivide(ta, tb);
            Assert.Equal(dtype, mod.DType); Assert.Equal(dtype, div.DType);
            var m = mod.ToDoubleArray(); var d = div.ToDoubleArray();
            for (int i = 0; i < a32.Length; i++)
            {
                var (q, r) = FloorDivMod(a32[i], b32[i]);
                // int32's MinValue // -1 wraps (numpy's int32 does too); int64 holds 2^31
                var qWant = dtype == DType.Int32 ? (double)unchecked((int)(long)q) : (double)q;
                Assert.True((double)r == m[i], $"Mod({a32[i]}, {b32[i]}) in {dtype}: {m[i]}, want {r}");
                Assert.True(qWant == d[i], $"FloorDivide({a32[i]}, {b32[i]}) in {dtype}: {d[i]}, want {qWant}");
            }
            // C#'s % (Remainder) is truncated: the sign of the dividend; Mod floored: the sign of the divisor
            var sa = new Tensor(new[] { -7.0, 7, -7, 7 }).AsType(dtype);
            var sb = new Tensor(new[] { 3.0, -3, -3, 3 }).AsType(dtype);
            Assert.Equal([-1.0, 1, -1, 1], Remainder(sa, sb).ToDoubleArray());
            Assert.Equal([2.0, -2, -1, 1], Mod(sa, sb).ToDoubleArray());
            Assert.Throws<DivideByZeroException>(() => Mod(ta, Zeros([1], dtype)));
            Assert.Throws<DivideByZeroException>(() => FloorDivide(ta, Zeros([1], dtype)));
        }
    }

    [Fact]
    public void Float_mod_and_floor_divide_follow_the_divisor_sign_and_recompose_the_dividend()
    {
        var pairs = from i in Gen.Choose(-1_000_000, 1_000_000) from j in Gen.Choose(-1_000_000, 1_000_000) select (A: i / 997.0, B: j == 0 ? 0.5 : j / 31_337.0);
        var prop = Prop.ForAll(pairs.ToArbitrary(), ab =>
        {
            var (a, b) = ab;
            double m = (double)Mod(a, b), q = (double)FloorDivide(a, b);
            bool signs = Math.Abs(m) < Math.Abs(b) && (m == 0 || Math.Sign(m) == Math.Sign(b));
            bool recomposes = q == Math.Floor(q) && Math.Abs(q * b + m - a) <= 1e-12 * Math.Max(1, Math.Abs(a));
            // q is the floor of a / b, unless a / b rounds onto an integer from below
            bool floor = q == Math.Floor(a / b) || Math.Abs(a / b - Math.Round(a / b)) < 1e-9;
            return (signs && recomposes && floor).Label($"a={a:R}, b={b:R}: Mod {m:R}, FloorDivide {q:R}");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500).WithQuietOnSuccess(true), prop);
        Assert.Equal([2.0, -2, -0.5, 0.5], Mod(T64(-7, 7, -0.5, 2.5), T64(3, -3, -1, 1)).ToDoubleArray());
        Assert.Equal([-3.0, -3, 0, 2], FloorDivide(T64(-7, 7, -0.5, 2.5), T64(3, -3, -1, 1)).ToDoubleArray());
        Assert.Equal([double.PositiveInfinity, double.NegativeInfinity], FloorDivide(T64(1, -1), T64(0)).ToDoubleArray());
        // float32 with a float64 oracle
        Assert.Equal((double)(float)ScalarMath.Mod(-7.25, 2.0), Mod(T32(-7.25), T32(2)).ToDoubleArray()[0]);
    }

    // ---------------------------------------------------------------- tests and scalar spellings

    [Fact]
    public void IsNan_and_IsFinite_give_bool_masks_on_every_dtype()
    {
        var x = T64(1, double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0);
        foreach (var dtype in new[] { DType.Float64, DType.Float32, DType.Float16, DType.BFloat16 })
        {
            var xd = x.AsType(dtype);
            Assert.Equal(DType.Bool, IsNan(xd).DType);
            Assert.Equal([false, true, false, false, false], IsNan(xd).ToArray<bool>());
            Assert.Equal([true, false, false, false, true], IsFinite(xd).ToArray<bool>());
        }
        var ints = new Tensor(new[] { 1.0, -5 }).AsType(DType.Int64);
        Assert.Equal([false, false], IsNan(ints).ToArray<bool>());
        Assert.Equal([true, true], IsFinite(ints).ToArray<bool>());
        // inside an expression, jitted (unrolled and fused), as a Where's mask
        Expression<Func<Tensor, Tensor>> clean = v => Where(IsFinite(v), v, 0.0) + Where(IsNan(v), 1.0, 0.0);
        foreach (var n in new[] { 5, 100 })
        {
            var v = new Tensor(Enumerable.Range(0, n).Select(i => i % 5 == 1 ? double.NaN : i % 5 == 2 ? double.PositiveInfinity : i).ToArray());
            var want = v.ToDoubleArray().Select(e => double.IsFinite(e) ? e : double.IsNaN(e) ? 1 : 0).ToArray();
            Assert.Equal(want, clean.Compile()(v).ToDoubleArray());
            Assert.Equal(want, Ad.Jit(clean)(v).ToDoubleArray());
        }
    }

    [Fact]
    public void Math_spellings_are_read_in_double_and_float_code_and_differentiated()
    {
        Expression<Func<double, double>> f = x => Math.Asin(x) + Math.Acos(x / 2) + Math.Sinh(x) * Math.Cosh(x) + Math.Tan(x) + Math.Atan2(x, 2)
            + Math.Asinh(x) + Math.Acosh(2 + x) + Math.Atanh(x / 3) + Math.Cbrt(1 + x) + double.Hypot(x, 3) + Math.Floor(x) + Math.Round(x * 3)
            + Math.Ceiling(x) + Math.Truncate(x) + (double.IsNaN(x) ? 1.0 : 0.0) + (double.IsFinite(x) ? 0.0 : 1.0) + ScalarMath.Lgamma(2 + x) + ScalarMath.Erfc(x);
        double x0 = 0.3;
        double want = 1 / Math.Sqrt(1 - x0 * x0) - 0.5 / Math.Sqrt(1 - x0 * x0 / 4) + Math.Cosh(2 * x0) + 1 / (Math.Cos(x0) * Math.Cos(x0)) + 2 / (4 + x0 * x0)
            + 1 / Math.Sqrt(x0 * x0 + 1) + 1 / Math.Sqrt((2 + x0) * (2 + x0) - 1) + (1.0 / 3) / (1 - x0 * x0 / 9) + 1 / (3 * Math.Cbrt(1 + x0) * Math.Cbrt(1 + x0))
            + x0 / Math.Sqrt(x0 * x0 + 9) + ScalarMath.Digamma(2 + x0) - 2 / Math.Sqrt(Math.PI) * Math.Exp(-x0 * x0);
        Assert.Equal(f.Compile()(x0), Ad.Jit(f)(x0), 12);
        Assert.True(Err(f.Grad().Compile()(x0), want) < 1e-13, $"{f.Grad().Compile()(x0):R} vs {want:R}");
        Expression<Func<float, float>> g = x => MathF.Asin(x) + MathF.Atan2(x, 2) + MathF.Round(x) + MathF.Cbrt(x + 1) + float.Hypot(x, 1) + (float.IsNaN(x) ? 1f : 0f);
        float y0 = 0.25f;
        float gw = 1 / MathF.Sqrt(1 - y0 * y0) + 2 / (4 + y0 * y0) + 1 / (3 * MathF.Cbrt(1 + y0) * MathF.Cbrt(1 + y0)) + y0 / MathF.Sqrt(y0 * y0 + 1);
        Assert.True(Math.Abs(g.Grad().Compile()(y0) - gw) < 1e-5);
    }

    [Fact]
    public void Gelu_with_a_constant_flag_reads_as_one_form_and_prints_as_it_is_written()
    {
        Expression<Func<Tensor, Tensor>> exact = x => Gelu(x, false), tanh = x => Gelu(x, true), plain = x => Gelu(x);
        var x = T64(-2, -0.5, 0.3, 1.7);
        Assert.Equal(plain.Compile()(x).ToDoubleArray(), exact.Compile()(x).ToDoubleArray());
        Assert.Equal(Ad.Show(plain), Ad.Show(exact));
        Assert.Contains("approximate: true", Ad.Show(tanh));
        Assert.DoesNotContain("approximate", Ad.Show(exact));
        Assert.NotEqual(exact.Compile()(x).ToDoubleArray(), tanh.Compile()(x).ToDoubleArray());
        Assert.Equal(tanh.Compile()(x).ToDoubleArray(), Ad.Jit(tanh)(x).ToDoubleArray());
        // the printed derivative of the tanh form is C# that computes what the derivative computes
        Expression<Func<Tensor, Tensor>> s = v => Sum(Gelu(v, true), null, false);
        Assert.Equal(s.Grad().Compile()(x).ToDoubleArray(), Ad.Jit(s.Grad())(x).ToDoubleArray());
    }
}
