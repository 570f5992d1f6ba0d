using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// numpy's axis=None spellings (Sort, Argsort, Cumsum, Cumprod, Cummax, CumLogSumExp on x flattened) and array_split,
/// against oracles written here: plain loops over the row-major elements, a sort of (value, index) pairs with NaN last,
/// and array_split's piece boundaries from numpy's definition; eagerly, compiled, under the jit, under Vmap (against a
/// loop of the unbatched function), and their gradients against float64 central differences.
/// </summary>
public class FlattenedVocabularyTests
{
    static Tensor Random(int seed, params int[] shape)
    {
        var rng = new System.Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        return new Tensor(Enumerable.Range(0, n).Select(_ => Math.Round(rng.NextDouble() * 4 - 2, 3)).ToArray(), shape);
    }

    static double LogAddExp(double a, double b) { double m = Math.Max(a, b); return m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m)); }

    /// <summary>The running op over a flat array (from the end when reversed): the oracle of a scan with axis null.</summary>
    static double[] FlatScan(double[] x, bool reverse, Func<double, double, double> op)
    {
        var r = new double[x.Length];
        double acc = 0;
        for (int s = 0; s < x.Length; s++)
        {
            int j = reverse ? x.Length - 1 - s : s;
            acc = s == 0 ? x[j] : op(acc, x[j]);
            r[j] = acc;
        }
        return r;
    }

    static (Expression<Func<Tensor, Tensor>> F, Func<double, double, double> Op) Scan(string name, bool reverse) => name switch
    {
        "Cumsum" => (x => Cumsum(x, null, reverse), (a, b) => a + b),
        "Cumprod" => (x => Cumprod(x, null, reverse), (a, b) => a * b),
        "Cummax" => (x => Cummax(x, null, reverse), Math.Max),
        _ => (x => CumLogSumExp(x, null, reverse), LogAddExp),
    };

    public static IEnumerable<object[]> ScanCases =>
        from name in new[] { "Cumsum", "Cumprod", "Cummax", "CumLogSumExp" }
        from reverse in new[] { false, true }
        select new object[] { name, reverse };

    static void Close(double[] want, double[] got, double tol, string what)
    {
        Assert.True(want.Length == got.Length, $"{what}: {got.Length} elements, want {want.Length}");
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - got[i]) <= tol * Math.Max(1, Math.Abs(want[i])), $"{what} at {i}: {got[i]:R}, want {want[i]:R}");
    }

    [Theory]
    [MemberData(nameof(ScanCases))]
    public void Scans_with_a_null_axis_run_over_the_flattened_elements_everywhere(string name, bool reverse)
    {
        var x = Random(reverse ? 3 : 4, 3, 2, 2);
        var (f, op) = Scan(name, reverse);
        var want = FlatScan(x.ToDoubleArray(), reverse, op);
        var eager = f.Compile()(x);
        Assert.Equal(new[] { 12 }, eager.Dims);
        Close(want, eager.ToDoubleArray(), 1e-12, $"{name} eager");
        Close(want, f.Jit()(x).ToDoubleArray(), 1e-12, $"{name} Jit");
        var w = Random(9, 12);
        Expression<Func<Tensor, Tensor>> loss = v => Sum(f.Invoke(v) * w, null, false);
        GradCheck.Check(loss, x, tolerance: 1e-6).Assert();
        // Vmap flattens each example: a loop of the oracle over the batch
        var xs = Random(5, 4, 3, 2);
        var batched = f.Vmap([0]).Jit()(xs);
        Assert.Equal(new[] { 4, 6 }, batched.Dims);
        var all = xs.ToDoubleArray();
        var loop = Enumerable.Range(0, 4).SelectMany(b => FlatScan(all[(b * 6)..((b + 1) * 6)], reverse, op)).ToArray();
        Close(loop, batched.ToDoubleArray(), 1e-12, $"{name} Vmap");
        var gb = loss.Grad().Vmap([0]).Jit()(Random(6, 2, 3, 2, 2));
        var g0 = loss.Grad().Compile()(Take(Random(6, 2, 3, 2, 2), new Tensor(1.0), 0));
        Close(g0.ToDoubleArray(), gb.ToDoubleArray()[12..], 1e-12, $"{name} Vmap of Grad");
    }

    [Fact]
    public void The_default_axis_of_cumsum_is_null_and_integer_scans_stay_exact()
    {
        var m = new Tensor(new double[,] { { 1, 2 }, { 3, 4 } });
        Assert.Equal(new[] { 1.0, 3, 6, 10 }, Cumsum(m).ToDoubleArray());
        Assert.Equal(new[] { 1.0, 2, 6, 24 }, Cumprod(m).ToDoubleArray());
        Assert.Equal(new[] { 4.0, 6 }, Cumsum(m, 0)[1].ToDoubleArray());   // an int axis keeps the axis form
        var big = new Tensor(new double[,] { { 16777216, 1 }, { 1, 3 } }).AsType(DType.Int32);
        Expression<Func<Tensor, Tensor>> cs = v => Cumsum(v, null, false);
        foreach (var run in new[] { cs.Compile(), cs.Jit() })
        {
            var s = run(big);
            Assert.Equal(DType.Int32, s.DType);
            Assert.Equal(new[] { 16777216, 16777217, 16777218, 16777221 }, s.ToArray<int>());
        }
        var counted = Cumsum(new Tensor(new double[,] { { 1, 0 }, { 1, 1 } }).AsType(DType.Bool));
        Assert.Equal(DType.Int32, counted.DType);
        Assert.Equal(new[] { 1, 1, 2, 3 }, counted.ToArray<int>());
        // a scalar flattens to one element, as jnp.cumsum does
        Assert.Equal(new[] { 1 }, Cumsum(new Tensor(2.5)).Dims);
        var e = Assert.Throws<ShapeException>(() => Cumsum(m, 2));
        Assert.Contains("axis", e.Message);
    }

    /// <summary>The stable order of a flat array with NaN last: the indices of a sort of (value, index) pairs.</summary>
    static int[] FlatOrder(double[] v) =>
        Enumerable.Range(0, v.Length).OrderBy(i => double.IsNaN(v[i]) ? 1 : 0).ThenBy(i => double.IsNaN(v[i]) ? 0 : v[i]).ThenBy(i => i).ToArray();

    [Fact]
    public void Sort_and_argsort_with_a_null_axis_order_the_flattened_elements_and_the_gradient_permutes_back()
    {
        var x = new Tensor(new double[,] { { 3, double.NaN, 1 }, { 3, -0.5, 2 } });
        var order = FlatOrder(x.ToDoubleArray());
        Expression<Func<Tensor, Tensor>> arg = v => Argsort(v, null);
        Expression<Func<Tensor, Tensor>> sort = v => Sort(v, null);
        foreach (var run in new[] { arg.Compile(), arg.Jit() })
        {
            var a = run(x);
            Assert.Equal(DType.Int32, a.DType);
            Assert.Equal(order, a.ToArray<int>());
        }
        var flat = x.ToDoubleArray();
        foreach (var run in new[] { sort.Compile(), sort.Jit() })
        {
            var s = run(x).ToDoubleArray();
            Assert.Equal(order.Select(i => flat[i]).Take(5), s.Take(5));
            Assert.True(double.IsNaN(s[5]));
        }
        // the gradient of Σ w·sort(x): element order[j] receives w[j] (by hand from the oracle's order)
        var y = Random(2, 2, 3);
        var w = new Tensor(new[] { 1.0, 2, 3, 4, 5, 6 });
        Expression<Func<Tensor, Tensor>> loss = v => Sum(Sort(v, null) * w, null, false);
        var want = new double[6];
        var yOrder = FlatOrder(y.ToDoubleArray());
        for (int j = 0; j < 6; j++) want[yOrder[j]] = j + 1;
        Assert.Equal(want, loss.Grad().Jit()(y).ToDoubleArray());
        Assert.Equal(new[] { 2, 3 }, loss.Grad().Compile()(y).Dims);
        GradCheck.Check(loss, y).Assert();
        // under Vmap each example is flattened and sorted: a loop of the oracle
        var ys = Random(3, 3, 2, 2);
        var got = sort.Vmap([0]).Jit()(ys);
        Assert.Equal(new[] { 3, 4 }, got.Dims);
        var all = ys.ToDoubleArray();
        var loop = Enumerable.Range(0, 3).SelectMany(b => { var v = all[(b * 4)..((b + 1) * 4)]; return FlatOrder(v).Select(i => v[i]); }).ToArray();
        Assert.Equal(loop, got.ToDoubleArray());
        // an int axis keeps the axis form; an axis out of range is a typed error naming the call
        Assert.Equal(new[] { 2, 3 }, Sort(y, (int?)1).Dims);
        var e = Assert.Throws<ShapeException>(() => Argsort(y, (int?)2));
        Assert.Contains("Np.Argsort", e.Message);
    }

    /// <summary>numpy's array_split by its definition: n % s pieces of n / s + 1, then pieces of n / s, as (start, length).</summary>
    static (int Start, int Length)[] Pieces(int n, int s)
    {
        var r = new (int, int)[s];
        int at = 0;
        for (int i = 0; i < s; i++)
        {
            int len = n / s + (i < n % s ? 1 : 0);
            r[i] = (at, len);
            at += len;
        }
        return r;
    }

    [Theory]
    [InlineData(7, 3)]
    [InlineData(6, 3)]
    [InlineData(2, 4)]
    [InlineData(5, 1)]
    public void ArraySplit_gives_numpys_uneven_pieces_eagerly_in_expressions_and_under_transforms(int n, int sections)
    {
        var x = Random(n, 2, n);
        var data = x.ToDoubleArray();
        var pieces = ArraySplit(x, sections, 1);
        var want = Pieces(n, sections);
        Assert.Equal(sections, pieces.Length);
        for (int i = 0; i < sections; i++)
        {
            Assert.Equal(new[] { 2, want[i].Length }, pieces[i].Dims);
            var expect = Enumerable.Range(0, 2).SelectMany(r => data[(r * n + want[i].Start)..(r * n + want[i].Start + want[i].Length)]).ToArray();
            Assert.Equal(expect, pieces[i].ToDoubleArray());
        }
        // inside an expression: piece i weighted by i + 1, so each piece's gradient is its own constant
        var w = new Tensor(Enumerable.Range(0, sections).Select(i => i + 1.0).ToArray());
        Expression<Func<Tensor, Tensor>> f = v => Sum(ArraySplit(v, sections, -1)[0], null, false) + 2.0 * Sum(ArraySplit(v, sections, -1)[sections - 1], null, false);
        double eager = pieces[0].ToDoubleArray().Sum() + 2 * pieces[^1].ToDoubleArray().Sum();
        Assert.Equal(eager, f.Compile()(x).ToDoubleArray()[0], 1e-12);
        Assert.Equal(eager, f.Jit()(x).ToDoubleArray()[0], 1e-12);
        var g = f.Grad().Jit()(x).ToDoubleArray();
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < n; j++)
            {
                double expect = (j < want[0].Length ? 1 : 0) + (j >= want[^1].Start && j < want[^1].Start + want[^1].Length ? 2 : 0);
                if (sections == 1) expect = 3;
                Assert.Equal(expect, g[r * n + j]);
            }
        GradCheck.Check(f, x).Assert();
        Expression<Func<Tensor, Tensor>> last = v => ArraySplit(v, sections, 0)[sections - 1] * 3.0;
        var xs = Random(8, 3, n);
        var batched = last.Vmap([0]).Jit()(xs);
        var loop = Stack(Enumerable.Range(0, 3).Select(b => last.Compile()(Take(xs, new Tensor((double)b), 0))).ToArray(), 0);
        Assert.Equal(loop.Dims, batched.Dims);
        Assert.Equal(loop.ToDoubleArray(), batched.ToDoubleArray());
    }

    [Fact]
    public void ArraySplit_refuses_bad_input_with_typed_errors()
    {
        var x = Random(1, 5);
        Assert.Contains("sections must be 1 or more", Assert.Throws<ArgumentOutOfRangeException>(() => ArraySplit(x, 0, 0)).Message);
        Assert.Contains("Np.ArraySplit", Assert.Throws<ShapeException>(() => ArraySplit(x, 2, 1)).Message);
        Expression<Func<Tensor, Tensor>> outside = v => ArraySplit(v, 2, 0)[2];
        var e = Assert.Throws<UnsupportedExpressionException>(() => outside.Jit());
        Assert.Contains("outside the 2 pieces", e.Message);
        Expression<Func<Tensor, Tensor>> zero = v => ArraySplit(v, 0, 0)[0];
        var z = Assert.ThrowsAny<Exception>(() => zero.Jit()(x));
        Assert.Contains("sections must be 1 or more", z.Message + z.InnerException?.Message);
        // split indices: the same pieces as Np.Split
        Assert.Equal(Split(x, new[] { 1, 3 }, 0)[1].ToDoubleArray(), ArraySplit(x, new[] { 1, 3 }, 0)[1].ToDoubleArray());
        Expression<Func<Tensor, Tensor>> idx = v => ArraySplit(v, new[] { 1, 3 }, 0)[2];
        Assert.Equal(x.ToDoubleArray()[3..], idx.Jit()(x).ToDoubleArray());
    }
}
