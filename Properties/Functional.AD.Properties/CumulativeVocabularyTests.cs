using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// The product and cumulative vocabulary (Prims.Cumulative.cs, Np.Cumulative.cs) against independent oracles: plain
/// loops over each line for the values (eagerly and under the jit, integers exactly), hand-written products of the
/// other elements for the derivatives at zeros (one zero, two zeros, and the second derivative), the definition of
/// the running maximum's rule at ties, float64 finite differences, and float64 values for float32 at large arguments.
/// (Vmap, Torch, the dtypes and the generic properties run from the spec lines, Specs.Cumulative.cs.)
/// </summary>
public class CumulativeVocabularyTests
{
    static Tensor Random(int seed, int[] shape, double lo = -2, double hi = 2)
    {
        var rng = new System.Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        return new Tensor(Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * rng.NextDouble()).ToArray(), shape);
    }

    /// <summary>The oracle of a scan: each line along <paramref name="axis"/> of a row-major [d0, d1, d2] tensor, accumulated by <paramref name="op"/> with plain loops.</summary>
    static double[] ScanLoops(double[] x, int[] dims, int axis, bool reverse, Func<double, double, double> op)
    {
        var r = new double[x.Length];
        int n = dims[axis], inner = dims.Skip(axis + 1).Aggregate(1, (a, b) => a * b), outer = x.Length / (n * inner);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double acc = 0;
                for (int s = 0; s < n; s++)
                {
                    int j = reverse ? n - 1 - s : s, at = (o * n + j) * inner + i;
                    acc = s == 0 ? x[at] : op(acc, x[at]);
                    r[at] = acc;
                }
            }
        return r;
    }

    static double LogAddExp(double a, double b) { double m = Math.Max(a, b); return m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m)); }

    public static IEnumerable<object[]> ScanCases =>
        from name in new[] { "Cumsum", "Cumprod", "Cummax", "CumLogSumExp" }
        from axis in new[] { 0, 1, -1 }
        from reverse in new[] { false, true }
        select new object[] { name, axis, reverse };

    static (Expression<Func<Tensor, Tensor>> F, Func<double, double, double> Op) Scan(string name, int axis, bool reverse) => name switch
    {
        "Cumsum" => (x => Cumsum(x, axis, reverse), (a, b) => a + b),
        "Cumprod" => (x => Cumprod(x, axis, reverse), (a, b) => a * b),
        "Cummax" => (x => Cummax(x, axis, reverse), Math.Max),
        _ => (x => CumLogSumExp(x, axis, reverse), LogAddExp),
    };

    /// <summary>Each scan equals plain loops over its lines, eagerly (Compile()) and under the jit, and its gradient matches float64 differences.</summary>
    [Theory]
    [MemberData(nameof(ScanCases))]
    public void Scans_equal_loops_over_their_lines_and_their_gradients_match_finite_differences(string name, int axis, bool reverse)
    {
        int[] dims = [3, 4, 2];
        var x = Random(axis + 10 * (reverse ? 1 : 0), dims);
        var (f, op) = Scan(name, axis, reverse);
        var want = ScanLoops(x.ToDoubleArray(), dims, axis < 0 ? axis + 3 : axis, reverse, op);
        foreach (var (how, run) in new (string, Func<Tensor, Tensor>)[] { ("eager", f.Compile()), ("Jit", f.Jit()) })
        {
            var got = run(x);
            Assert.Equal(dims, got.Dims);
            var g = got.ToDoubleArray();
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(g[i] - want[i]) <= 1e-12 * Math.Max(1, Math.Abs(want[i])), $"{name} axis {axis} reverse {reverse} ({how}) at {i}: {g[i]:R}, want {want[i]:R}");
        }
        var w = Random(99, dims);
        Expression<Func<Tensor, Tensor>> loss = v => Sum(f.Invoke(v) * w, null, false);
        GradCheck.Check(loss, x, tolerance: 1e-6).Assert();
    }

    /// <summary>Integer scans are exact (beyond 2^24, where float32 would round) and keep their dtype; a running sum of bools counts them in int32.</summary>
    [Fact]
    public void Integer_scans_are_exact_and_bools_count()
    {
        var big = new Tensor(new[] { 16777216.0, 1, 1, 3 }).AsType(DType.Int32);
        foreach (var run in new Func<Tensor, Tensor>[] { v => Cumsum(v, 0), ((Expression<Func<Tensor, Tensor>>)(v => Cumsum(v, 0, false))).Jit() })
        {
            var s = run(big);
            Assert.Equal(DType.Int32, s.DType);
            Assert.Equal(new[] { 16777216, 16777217, 16777218, 16777221 }, s.ToArray<int>());
        }
        var l = new Tensor(new[] { 3.0, -2, 5, 0, 7 }).AsType(DType.Int64);
        Assert.Equal(new long[] { 3, -6, -30, 0, 0 }, Cumprod(l, 0).ToArray<long>());
        Assert.Equal(new long[] { 7, 7, 7, 7, 7 }, Cummax(l, 0, true).ToArray<long>());
        Assert.Equal(DType.Int64, Prod(l, Axes.Of(0), false).DType);
        Assert.Equal(new[] { 3 * 4 * 5 * 6 * 7 * 8 * 9 }, Prod(new Tensor(new[] { 3.0, 4, 5, 6, 7, 8, 9 }).AsType(DType.Int32), 0, true).ToArray<int>());
        var b = new Tensor(new[] { 1.0, 0, 1, 1 }).AsType(DType.Bool);
        var counted = Cumsum(b, 0);
        Assert.Equal(DType.Int32, counted.DType);
        Assert.Equal(new[] { 1, 1, 2, 3 }, counted.ToArray<int>());
        Assert.Equal(DType.Bool, Cummax(b, 0).DType);
        Assert.Equal(DType.Float32, CumLogSumExp(b, 0).DType);
    }

    // ---------------------------------------------------------------- products at zeros

    /// <summary>The product of the elements of <paramref name="x"/> other than those at <paramref name="skip"/>.</summary>
    static double Others(double[] x, params int[] skip)
    {
        double p = 1;
        for (int k = 0; k < x.Length; k++) if (!skip.Contains(k)) p *= x[k];
        return p;
    }

    public static IEnumerable<object[]> ZeroCases =>
        from zeros in new[] { new int[0], new[] { 2 }, new[] { 0 }, new[] { 5 }, new[] { 1, 4 }, new[] { 0, 3, 5 } }
        select new object[] { zeros };

    /// <summary>
    /// The gradient of Prod is the product of the other elements, computed here by hand: with one zero only the zero's
    /// position has a non-zero gradient (the product of the others), with two or more every gradient is zero; the jit
    /// and the eager call agree exactly. Without zeros, it also matches float64 differences.
    /// </summary>
    [Theory]
    [MemberData(nameof(ZeroCases))]
    public void Prod_gradient_is_the_product_of_the_others_with_zeros(int[] zeros)
    {
        var v = Random(3, [6], 0.5, 2).ToDoubleArray();
        foreach (var z in zeros) v[z] = 0;
        var x = new Tensor(v);
        Expression<Func<Tensor, Tensor>> prod = t => Prod(t);
        Expression<Func<Tensor, Tensor>> prodAxis = t => Prod(t, 0, false);
        var want = Enumerable.Range(0, v.Length).Select(j => Others(v, j)).ToArray();
        if (zeros.Length == 1) Assert.True(want[zeros[0]] != 0 && want.Where((_, j) => j != zeros[0]).All(g => g == 0));
        if (zeros.Length >= 2) Assert.All(want, g => Assert.Equal(0, g));
        foreach (var f in new[] { prod, prodAxis })
            foreach (var run in new[] { f.Grad().Compile(), f.Grad().Jit() })
            {
                var got = run(x).ToDoubleArray();
                for (int j = 0; j < v.Length; j++)
                    Assert.True(Math.Abs(got[j] - want[j]) <= 1e-14 * Math.Max(1, Math.Abs(want[j])), $"zeros [{string.Join(",", zeros)}] at {j}: {got[j]:R}, want {want[j]:R}");
            }
        if (zeros.Length == 0) GradCheck.Check(prod, x, tolerance: 1e-7).Assert();
    }

    /// <summary>The Hessian of Prod at zeros is right too: entry (a, b) is the product of the elements other than a and b (non-zero for the pair of zeros when there are two).</summary>
    [Theory]
    [MemberData(nameof(ZeroCases))]
    public void Prod_hessian_is_the_product_of_the_others_with_zeros(int[] zeros)
    {
        var v = Random(4, [6], 0.5, 2).ToDoubleArray();
        foreach (var z in zeros) v[z] = 0;
        Expression<Func<Tensor, Tensor>> prod = t => Prod(t);
        var h = prod.Hessian().Jit()(new Tensor(v)).ToDoubleArray();
        for (int a = 0; a < 6; a++)
            for (int b = 0; b < 6; b++)
            {
                double want = a == b ? 0 : Others(v, a, b);
                Assert.True(Math.Abs(h[a * 6 + b] - want) <= 1e-14 * Math.Max(1, Math.Abs(want)), $"zeros [{string.Join(",", zeros)}] at ({a}, {b}): {h[a * 6 + b]:R}, want {want:R}");
            }
    }

    /// <summary>
    /// The gradient of Σ w·Cumprod(x) at zeros against the hand oracle <c>Σ_{i ≥ j} w[i] Π_{k ≤ i, k ≠ j} x[k]</c>, both
    /// directions, along an axis of a matrix (one row with a zero, one with two, one with none).
    /// </summary>
    [Fact]
    public void Cumprod_gradient_is_exact_with_zeros()
    {
        var rows = new[] { new[] { 1.5, 0, 2, -1.25, 0.75 }, new[] { 0, 1.5, 2, 0, 3 }, new[] { 1.1, -0.9, 1.3, 0.7, 2 } };
        var x = new Tensor(rows.SelectMany(r => r).ToArray(), [3, 5]);
        var w = Random(8, [3, 5]);
        var wv = w.ToDoubleArray();
        foreach (var reverse in new[] { false, true })
        {
            Expression<Func<Tensor, Tensor>> loss = t => Sum(Cumprod(t, 1, reverse) * w, null, false);
            var want = new double[15];
            for (int r = 0; r < 3; r++)
                for (int j = 0; j < 5; j++)
                    for (int i = 0; i < 5; i++)
                    {
                        if (reverse ? i > j : i < j) continue;
                        double p = 1;
                        for (int k = 0; k < 5; k++)
                            if (k != j && (reverse ? k >= i : k <= i)) p *= rows[r][k];
                        want[r * 5 + j] += wv[r * 5 + i] * p;
                    }
            foreach (var run in new[] { loss.Grad().Compile(), loss.Grad().Jit() })
            {
                var got = run(x).ToDoubleArray();
                for (int j = 0; j < 15; j++)
                    Assert.True(Math.Abs(got[j] - want[j]) <= 1e-13 * Math.Max(1, Math.Abs(want[j])), $"reverse {reverse} at {j}: {got[j]:R}, want {want[j]:R}");
            }
        }
    }

    // ---------------------------------------------------------------- the running maximum at ties

    /// <summary>
    /// The cotangent of each running maximum goes to the first position of that maximum (JAX's choice): with
    /// x = [1, 3, 3, 2, 5, 5, 0] the outputs are [1, 3, 3, 3, 5, 5, 5], so position 1 gets w1 + w2 + w3, position 4 gets
    /// w4 + w5 + w6, and the tied later positions get nothing. Reversed, the first position from the end.
    /// </summary>
    [Fact]
    public void Cummax_sends_the_cotangent_to_the_first_position_of_the_running_max()
    {
        var x = new Tensor(new[] { 1.0, 3, 3, 2, 5, 5, 0 });
        var w = new Tensor(new[] { 1.0, 2, 4, 8, 16, 32, 64 });
        Expression<Func<Tensor, Tensor>> fwd = t => Sum(Cummax(t, 0, false) * w, null, false);
        Expression<Func<Tensor, Tensor>> rev = t => Sum(Cummax(t, -1, true) * w, null, false);
        foreach (var run in new[] { fwd.Grad().Compile(), fwd.Grad().Jit() })
            Assert.Equal(new[] { 1.0, 2 + 4 + 8, 0, 0, 16 + 32 + 64, 0, 0 }, run(x).ToDoubleArray());
        // reversed: outputs [5, 5, 5, 5, 5, 5, 0]; the first 5 from the end is position 5
        foreach (var run in new[] { rev.Grad().Compile(), rev.Grad().Jit() })
            Assert.Equal(new[] { 0.0, 0, 0, 0, 0, 1 + 2 + 4 + 8 + 16 + 32, 64 }, run(x).ToDoubleArray());
    }

    // ---------------------------------------------------------------- large arguments

    /// <summary>
    /// CumLogSumExp in float32 at arguments near 1e3 (where e^x overflows) is finite and equals the float64 values
    /// computed by shifting; its gradient (a running softmax e^(x - y)) equals the float64 one within what float32 can
    /// hold of x - y at that magnitude (its spacing at 1000 is 6.1e-5, so e^(x - y) carries that relative error).
    /// </summary>
    [Fact]
    public void CumLogSumExp_is_stable_in_float32_at_large_arguments()
    {
        var v = new[] { 1000.0, 1001, 999.5, 1003, -1000, 1003 };
        var x = new Tensor(v).AsType(DType.Float32);
        var want = new double[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            double m = v.Take(i + 1).Max();
            want[i] = m + Math.Log(v.Take(i + 1).Sum(e => Math.Exp(e - m)));
        }
        Expression<Func<Tensor, Tensor>> f = t => CumLogSumExp(t, 0, false);
        foreach (var run in new[] { f.Compile(), f.Jit() })
        {
            var got = run(x);
            Assert.Equal(DType.Float32, got.DType);
            var g = got.ToDoubleArray();
            for (int i = 0; i < v.Length; i++) Assert.True(Math.Abs(g[i] - want[i]) <= 1e-6 * Math.Abs(want[i]), $"at {i}: {g[i]:R}, want {want[i]:R}");
        }
        // d/dx[j] of Σ_i w[i] y[i] = Σ_{i ≥ j} w[i] e^(x[j] - y[i])
        var w = new[] { 0.5, -1, 2, 0.25, 1, -0.75 };
        var gw = new double[v.Length];
        for (int j = 0; j < v.Length; j++)
            for (int i = j; i < v.Length; i++) gw[j] += w[i] * Math.Exp(v[j] - want[i]);
        var wt = new Tensor(w).AsType(DType.Float32);
        Expression<Func<Tensor, Tensor>> loss = t => Sum(CumLogSumExp(t, 0, false) * wt, null, false);
        foreach (var run in new[] { loss.Grad().Compile(), loss.Grad().Jit() })
        {
            var g = run(x).ToDoubleArray();
            for (int j = 0; j < v.Length; j++) Assert.True(Math.Abs(g[j] - gw[j]) <= 1.5e-4 * Math.Max(1, Math.Abs(gw[j])), $"gradient at {j}: {g[j]:R}, want {gw[j]:R}");
        }
    }

    // ---------------------------------------------------------------- errors

    /// <summary>An axis out of range is a ShapeException naming the call and the shape.</summary>
    [Fact]
    public void An_axis_out_of_range_names_the_call_and_the_shape()
    {
        var x = new Tensor(new double[6], [2, 3]);
        var e = Assert.Throws<ShapeException>(() => Cumsum(x, 2, true));
        Assert.Contains("Np.Cumsum(x: float64[2,3], axis: 2, reverse: true)", e.Message);
        Expression<Func<Tensor, Tensor>> f = t => Cummax(t, -3, false);
        var j = Assert.Throws<ShapeException>(() => f.Jit()(x));
        Assert.Contains("Cummax", j.Message);
        var p = Assert.Throws<ShapeException>(() => Prod(x, Axes.Of(1, 1), false));
        Assert.Contains("Np.Prod", p.Message);
    }
}
