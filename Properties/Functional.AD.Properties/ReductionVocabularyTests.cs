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
}
