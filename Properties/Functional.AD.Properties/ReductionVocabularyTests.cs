using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// The reduction vocabulary (Prims.Reductions.cs, Np.Reductions.cs) against independent oracles: plain loops over the
/// elements for the values (eagerly (Compile()) and under the jit), the definition of JAX's rule for the
/// derivative of a maximum with ties (the cotangent split evenly among all the tied maxima of a block), finite
/// differences in float64 for the rest, and typed errors for bad axes. (Vmap, Torch and the dtypes run from the spec
/// lines, Specs.Reductions.cs.)
/// </summary>
public class ReductionVocabularyTests
{
    static readonly int[] Shape = [3, 4, 5];

    static Tensor Random(int seed, params int[] shape)
    {
        var rng = new System.Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        return Reshape(new Tensor(Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 4 - 2).ToArray()), shape);
    }

    /// <summary>
    /// The oracle: every output index of a reduction of <paramref name="x"/> over <paramref name="axes"/> (normalised),
    /// the elements of its block gathered by plain loops over the flat index, and <paramref name="f"/> of them.
    /// </summary>
    static double[] Loops(Tensor x, int[] axes, Func<List<double>, double> f)
    {
        var dims = x.Dims; int r = dims.Length;
        var ax = axes.Select(a => a < 0 ? a + r : a).ToHashSet();
        var data = x.ToDoubleArray();
        var blocks = new SortedDictionary<long, List<double>>();
        for (int flat = 0; flat < data.Length; flat++)
        {
            // the output's flat index: x's index with the reduced axes dropped
            long rem = flat, key = 0, scale = 1;
            var idx = new int[r];
            for (int d = r - 1; d >= 0; d--) { idx[d] = (int)(rem % dims[d]); rem /= dims[d]; }
            for (int d = r - 1; d >= 0; d--)
                if (!ax.Contains(d)) { key += idx[d] * scale; scale *= dims[d]; }
            if (!blocks.TryGetValue(key, out var list)) blocks[key] = list = new List<double>();
            list.Add(data[flat]);
        }
        return blocks.Values.Select(f).ToArray();
    }

    static double Variance(List<double> v, double ddof)
    {
        double m = 0; foreach (var a in v) m += a; m /= v.Count;
        double s = 0; foreach (var a in v) s += (a - m) * (a - m);
        return s / (v.Count - ddof);
    }

    static int[] KeptDims(int[] dims, int[] axes, bool keep)
    {
        var ax = axes.Select(a => a < 0 ? a + dims.Length : a).ToHashSet();
        return keep ? dims.Select((d, i) => ax.Contains(i) ? 1 : d).ToArray() : dims.Where((_, i) => !ax.Contains(i)).ToArray();
    }

    public static IEnumerable<object[]> AxesCases =>
        from name in new[] { "Sum", "Mean", "Max", "Min", "LogSumExp", "Var", "Var1", "Std1", "Norm", "Any", "All" }
        from axes in new[] { new[] { 0, 2 }, new[] { -1, -3 }, new[] { 0, 1, 2 }, new[] { 1 } }
        from keep in new[] { false, true }
        select new object[] { name, axes, keep };

    static (Expression<Func<Tensor, Tensor>> F, Func<List<double>, double> Oracle) Case(string name, Axes a, bool keep) => name switch
    {
        "Sum" => (x => Sum(x, a, keep), v => v.Sum()),
        "Mean" => (x => Mean(x, a, keep), v => v.Sum() / v.Count),
        "Max" => (x => Max(x, a, keep), v => v.Max()),
        "Min" => (x => Min(x, a, keep), v => v.Min()),
        "LogSumExp" => (x => LogSumExp(x, a, keep), v => { double m = v.Max(); return m + Math.Log(v.Sum(e => Math.Exp(e - m))); }),
        "Var" => (x => Var(x, a, keep), v => Variance(v, 0)),
        "Var1" => (x => Var(x, a, keep, 1), v => Variance(v, 1)),
        "Std1" => (x => Std(x, a, keep, 1), v => Math.Sqrt(Variance(v, 1))),
        "Norm" => (x => Norm(x, a, keep), v => Math.Sqrt(v.Sum(e => e * e))),
        "Any" => (x => Any(Floor(x), a, keep), v => v.Any(e => Math.Floor(e) != 0) ? 1 : 0),
        _ => (x => All(Floor(x), a, keep), v => v.All(e => Math.Floor(e) != 0) ? 1 : 0),
    };

    /// <summary>Each reduction over several axes equals plain loops over its blocks, eagerly (Compile()) and under the jit, with the shape numpy gives.</summary>
    [Theory]
    [MemberData(nameof(AxesCases))]
    public void Reductions_over_several_axes_equal_loops_over_their_blocks(string name, int[] axes, bool keep)
    {
        var x = Random(axes.Length * 7 + (keep ? 1 : 0), Shape);
        var (f, oracle) = Case(name, Axes.Of(axes), keep);
        var want = Loops(x, axes, oracle);
        var dims = KeptDims(Shape, axes, keep);
        foreach (var (how, run) in new (string, Func<Tensor, Tensor>)[] { ("eager", f.Compile()), ("Jit", f.Jit()) })
        {
            var y = run(x);
            Assert.Equal(dims, y.Dims);
            var got = y.ToDoubleArray();
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= 1e-12 * Math.Max(1, Math.Abs(want[i])), $"{name} over [{string.Join(", ", axes)}] keepdims {keep} ({how}) at {i}: {got[i]:R}, want {want[i]:R}");
        }
    }

    // ---------------------------------------------------------------- derivatives

    /// <summary>
    /// JAX's rule for a maximum with ties: the cotangent is split evenly among every tied maximum of the block, across
    /// all the reduced axes (not per axis, which would give 1/4, 1/4, 1/2 here); the same for Min, and for one axis.
    /// The oracle is the rule's definition: 1/k at each of the k maximising positions, 0 elsewhere.
    /// </summary>
    [Fact]
    public void Max_and_min_over_several_axes_split_the_cotangent_evenly_among_all_ties()
    {
        var x = new Tensor(new[,] { { 5.0, 5.0 }, { 5.0, 1.0 } });
        Expression<Func<Tensor, Tensor>> max = v => Max(v, Axes.Of(0, 1), false);
        Expression<Func<Tensor, Tensor>> maxKeep = v => Sum(Max(v, Axes.Of(-1, -2), true), null, false);
        Expression<Func<Tensor, Tensor>> min = v => Min(-v, Axes.Of(0, 1), false);
        double third = 1.0 / 3;
        foreach (var (f, sign) in new[] { (max, 1.0), (maxKeep, 1.0), (min, -1.0) })
        {
            var g = f.Grad();
            foreach (var run in new[] { g.Compile(), g.Jit() })
                Assert.Equal(new[] { third * sign, third * sign, third * sign, 0 }, run(x).ToDoubleArray());
        }
        // along one axis: rows [5, 5] and [5, 1] give [1/2, 1/2] and [1, 0]
        Expression<Func<Tensor, Tensor>> rows = v => Sum(Min(-v, 1, false), null, false);
        Assert.Equal(new[] { -0.5, -0.5, -1, 0 }, rows.Grad().Compile()(x).ToDoubleArray());
        // a 3-D block with ties spread over three axes: 4 tied maxima, 1/4 each
        var y = Reshape(new Tensor(new[] { 2.0, 7, 7, 1, 7, 0, 3, 7 }), [2, 2, 2]);
        Expression<Func<Tensor, Tensor>> all3 = v => Max(v, Axes.Of(0, 1, 2), false);
        Assert.Equal(new[] { 0, 0.25, 0.25, 0, 0.25, 0, 0, 0.25 }, all3.Grad().Jit()(y).ToDoubleArray());
    }

    public static IEnumerable<object[]> GradientCases =>
        from name in new[] { "Sum", "Mean", "Max", "Min", "LogSumExp", "Var", "Var1", "Std1", "Norm" }
        from axes in new[] { new[] { 0, 2 }, new[] { -1, -2 }, new[] { 0, 1, 2 } }
        from keep in new[] { false, true }
        select new object[] { name, axes, keep };

    /// <summary>Every reduction's gradient (of a weighted sum of its outputs) agrees with central differences in float64, at distinct elements.</summary>
    [Theory]
    [MemberData(nameof(GradientCases))]
    public void Gradients_of_reductions_over_several_axes_match_finite_differences(string name, int[] axes, bool keep)
    {
        var x = Random(100 + axes.Length, Shape);
        var (f, _) = Case(name, Axes.Of(axes), keep);
        var w = Random(7, KeptDims(Shape, axes, keep));
        var body = Expression.Call(typeof(Np).GetMethod(nameof(Np.Sum), [typeof(Tensor), typeof(int?), typeof(bool)])!,
            Expression.Multiply(f.Body, Expression.Constant(w)), Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        var loss = Expression.Lambda<Func<Tensor, Tensor>>(body, f.Parameters);
        GradCheck.Check(loss, x, tolerance: 1e-6).Assert();
    }

    /// <summary>
    /// A vector norm's gradient against finite differences (ord 1 and ∞ away from their kinks; ord 3), and ord 2 equals
    /// <c>x / ‖x‖</c>; Min's gradient at a tie with one element excluded by NaN-free ties; Argmin takes the first minimum.
    /// </summary>
    [Fact]
    public void Vector_norms_have_their_gradients_and_argmin_takes_the_first_minimum()
    {
        var x = new Tensor(new[,] { { 0.5, -1.5, 2.0 }, { -0.25, 3.0, 1.0 } });
        foreach (var ord in new[] { 1.0, 2.0, 3.0, double.PositiveInfinity, double.NegativeInfinity })
        {
            Expression<Func<Tensor, Tensor>> f = v => Sum(VectorNorm(v, ord, 1, false) * new Tensor(new[] { 1.0, -2.0 }), null, false);
            GradCheck.Check(f, x).Assert();
            var rows = new[] { new[] { 0.5, -1.5, 2.0 }, new[] { -0.25, 3.0, 1.0 } };
            var want = rows.Select(r => ord switch
            {
                double.PositiveInfinity => r.Max(Math.Abs),
                double.NegativeInfinity => r.Min(Math.Abs),
                _ => Math.Pow(r.Sum(e => Math.Pow(Math.Abs(e), ord)), 1 / ord),
            }).ToArray();
            Expression<Func<Tensor, Tensor>> g = v => VectorNorm(v, ord, 1, false);
            var got = g.Jit()(x).ToDoubleArray();
            for (int i = 0; i < 2; i++) Assert.True(Math.Abs(got[i] - want[i]) <= 1e-14 * want[i], $"ord {ord} row {i}: {got[i]:R}, want {want[i]:R}");
        }
        Expression<Func<Tensor, Tensor>> l2 = v => VectorNorm(v, 2, null, false);
        var norm = Math.Sqrt(x.ToDoubleArray().Sum(e => e * e));
        Assert.Equal(x.ToDoubleArray().Select(e => e / norm).ToArray(), l2.Grad().Jit()(x).ToDoubleArray(), (a, b) => Math.Abs(a - b) < 1e-15);

        var t = new Tensor(new[,] { { 3.0, 1.0, 1.0 }, { 2.0, 2.0, 0.5 } });
        Expression<Func<Tensor, Tensor>> am = v => Argmin(v, 1);
        Expression<Func<Tensor, Tensor>> amAll = v => Argmin(v);
        Assert.Equal(new[] { 1, 2 }, am.Jit()(t).ToArray<int>());
        Assert.Equal(new[] { 1, 2 }, Argmin(t, 1).ToArray<int>());
        Assert.Equal(new[] { 5 }, amAll.Jit()(t).ToArray<int>());
        Assert.Equal(DType.Int32, Argmin(t).DType);
    }

    /// <summary>Any and All on floats (NaN counts as non-zero), ints and bools, eagerly and under the jit, against loops; they give bools.</summary>
    [Fact]
    public void Any_and_all_take_every_dtype_and_give_bools()
    {
        var f = new Tensor(new[,] { { 0.0, double.NaN }, { 0.0, 0.0 } });
        Expression<Func<Tensor, Tensor>> any = v => Any(v, 1, false);
        Expression<Func<Tensor, Tensor>> all = v => All(v, Axes.Of(0, 1), true);
        foreach (var x in new[] { f, f.AsType(DType.Float32), new Tensor(new[,] { { 0.0, 3 }, { 0, 0 } }).AsType(DType.Int32), new Tensor(new[,] { { 0.0, 1 }, { 0, 0 } }).AsType(DType.Bool) })
        {
            foreach (var run in new[] { any.Compile(), any.Jit() })
            {
                var r = run(x);
                Assert.Equal(DType.Bool, r.DType);
                Assert.Equal(new[] { 1.0, 0.0 }, r.ToDoubleArray());
            }
            foreach (var run in new[] { all.Compile(), all.Jit() })
            {
                var r = run(x);
                Assert.Equal(new[] { 1, 1 }, r.Dims);
                Assert.Equal(new[] { 0.0 }, r.ToDoubleArray());
            }
        }
        Expression<Func<Tensor, Tensor>> allOnes = v => All(v);
        Assert.Equal(new[] { 1.0 }, allOnes.Jit()(new Tensor(new[] { 1.0, -2, double.NaN })).ToDoubleArray());
    }

    // ---------------------------------------------------------------- errors

    /// <summary>Bad axes are typed errors naming the call and the shape (eager), or the call (when an expression is read).</summary>
    [Fact]
    public void Bad_axes_are_typed_errors_naming_the_call()
    {
        var x = Random(1, 2, 3);
        var e = Assert.Throws<ShapeException>(() => Sum(x, Axes.Of(0, 2), false));
        Assert.Contains("Np.Sum(x: float64[2,3], axes: Axes.Of(0, 2), keepdims: false)", e.Message);
        Assert.Contains("axis 2 is out of range for rank 2", e.Message);
        e = Assert.Throws<ShapeException>(() => Max(x, Axes.Of(1, -1), true));
        Assert.Contains("name an axis twice", e.Message);
        e = Assert.Throws<ShapeException>(() => Var(x, Axes.Of(), false));
        Assert.Contains("no axes given", e.Message);

        Expression<Func<Tensor, Tensor>> mixed = v => Sum(v, Axes.Of(0, -1), false);
        var u = Assert.Throws<UnsupportedExpressionException>(() => mixed.Jit()(x));
        Assert.Contains("Np.Sum(x, Axes.Of(0, -1), false)", u.Message);
        Assert.Contains("all non-negative or all negative", u.Message);
        // with keepdims, mixed signs read (the rank is not needed)
        Expression<Func<Tensor, Tensor>> mixedKeep = v => Sum(v, Axes.Of(0, -1), true);
        Assert.Equal(Sum(x, null, true).ToDoubleArray(), mixedKeep.Jit()(x).ToDoubleArray());
        Expression<Func<Tensor, Tensor>> twice = v => Mean(v, Axes.Of(1, 1), true);
        Assert.Contains("twice", Assert.Throws<UnsupportedExpressionException>(() => twice.Jit()(x)).Message);
        Expression<Func<Tensor, Tensor>> outOfRange = v => Max(v, Axes.Of(0, 5), false);
        Assert.Throws<ShapeException>(() => outOfRange.Jit()(x));
        Assert.Throws<ArgumentOutOfRangeException>(() => VectorNorm(x, 0, null, false));
        Expression<Func<Tensor, Tensor>> badOrd = v => VectorNorm(v, -1, null, false);
        Assert.Throws<ArgumentOutOfRangeException>(() => badOrd.Jit()(x));
    }
}
