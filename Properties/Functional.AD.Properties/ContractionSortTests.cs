using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Einsum, TensorDot, Outer and Kron against an einsum written here as loops over every assignment of the letters, and
/// sorting against List.Sort of (value, index) pairs; eagerly, in the Jit, and their gradients against float64 central
/// differences. Vmap, dtypes and Torch run from the spec lines (Specs.Contractions.cs).
/// </summary>
public class ContractionSortTests
{
    static Tensor Rand(int seed, params int[] shape)
    {
        var rng = new Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        return new Tensor(Enumerable.Range(0, n).Select(_ => Math.Round(rng.NextDouble() * 4 - 2, 3)).ToArray(), shape);
    }

    /// <summary>Einsum by definition: every assignment of every letter, the product of the operands added at the output index.</summary>
    static double[] LoopEinsum(string spec, Tensor[] xs, out int[] outDims)
    {
        var parts = spec.Split("->");
        var terms = parts[0].Split(',');
        var letters = string.Concat(terms).Distinct().ToArray();
        var size = new Dictionary<char, int>();
        for (int i = 0; i < terms.Length; i++)
            for (int a = 0; a < terms[i].Length; a++) size[terms[i][a]] = xs[i].Dims[a];
        outDims = parts[1].Select(ch => size[ch]).ToArray();
        var data = xs.Select(x => x.ToDoubleArray()).ToArray();
        var r = new double[outDims.Aggregate(1, (a, b) => a * b)];
        var val = new Dictionary<char, int>();
        int total = letters.Aggregate(1, (a, ch) => a * size[ch]);
        for (int e = 0; e < total; e++)
        {
            int rest = e;
            foreach (var ch in letters.Reverse()) { val[ch] = rest % size[ch]; rest /= size[ch]; }
            double p = 1;
            for (int i = 0; i < terms.Length; i++)
            {
                int off = 0;
                for (int a = 0; a < terms[i].Length; a++) off = off * xs[i].Dims[a] + val[terms[i][a]];
                p *= data[i][off];
            }
            int o = 0;
            for (int a = 0; a < parts[1].Length; a++) o = o * outDims[a] + val[parts[1][a]];
            r[o] += p;
        }
        return r;
    }

    static void Close(double[] want, double[] got)
    {
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], got[i], 1e-9);
    }

    public static IEnumerable<object[]> Cases =>
    [
        ["bij,bjk->bik", new[] { new[] { 2, 3, 4 }, new[] { 2, 4, 5 } }],
        ["ij,jk,kl->il", new[] { new[] { 2, 6 }, new[] { 6, 5 }, new[] { 5, 3 } }],
        ["ij,jk,kl,lm->mi", new[] { new[] { 2, 3 }, new[] { 3, 4 }, new[] { 4, 2 }, new[] { 2, 3 } }],
        ["ii->", new[] { new[] { 4, 4 } }],
        ["ii->i", new[] { new[] { 3, 3 } }],
        ["iij,jk->ik", new[] { new[] { 3, 3, 2 }, new[] { 2, 4 } }],
        ["ij->ji", new[] { new[] { 2, 3 } }],
        ["ijk->j", new[] { new[] { 2, 3, 4 } }],
        ["i,j->ij", new[] { new[] { 3 }, new[] { 4 } }],
        ["ijk,ik->j", new[] { new[] { 2, 3, 4 }, new[] { 2, 4 } }],
        ["ab,cd->", new[] { new[] { 2, 3 }, new[] { 3, 2 } }],
        ["abc,cab,bca->b", new[] { new[] { 2, 3, 4 }, new[] { 4, 2, 3 }, new[] { 3, 4, 2 } }],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Einsum_matches_loops_eagerly_in_the_jit_and_its_gradient_matches_central_differences(string spec, int[][] shapes)
    {
        var xs = shapes.Select((s, i) => Rand(10 + i, s)).ToArray();
        var want = LoopEinsum(spec, xs, out var dims);
        var got = Einsum(spec, xs);
        Assert.Equal(dims, got.Dims);
        Assert.Equal(want.Length, got.Size);
        var g = got.ToDoubleArray();
        for (int i = 0; i < want.Length; i++) Assert.Equal(want[i], g[i], 1e-9);
        var w = Rand(99, dims);
        if (xs.Length == 1)
        {
            Expression<Func<Tensor, Tensor>> f = a => Sum(Einsum(spec, a) * w, null, false);
            Assert.Equal(f.Compile()(xs[0]).ToDoubleArray()[0], f.Jit()(xs[0]).ToDoubleArray()[0], 1e-9);
            GradCheck.Check(f, xs[0]).Assert();
        }
        else if (xs.Length == 2)
        {
            Expression<Func<(Tensor, Tensor), Tensor>> f = p => Sum(Einsum(spec, p.Item1, p.Item2) * w, null, false);
            Assert.Equal(f.Compile()((xs[0], xs[1])).ToDoubleArray()[0], f.Jit()((xs[0], xs[1])).ToDoubleArray()[0], 1e-9);
            GradCheck.Check(f, (xs[0], xs[1])).Assert();
        }
        else if (xs.Length == 3)
        {
            Expression<Func<(Tensor, Tensor, Tensor), Tensor>> f = p => Sum(Einsum(spec, p.Item1, p.Item2, p.Item3) * w, null, false);
            Assert.Equal(f.Compile()((xs[0], xs[1], xs[2])).ToDoubleArray()[0], f.Jit()((xs[0], xs[1], xs[2])).ToDoubleArray()[0], 1e-9);
            GradCheck.Check(f, (xs[0], xs[1], xs[2])).Assert();
        }
    }

    [Fact]
    public void The_pair_with_the_smallest_result_is_contracted_first()
    {
        // a [100,2] b [2,100] c [100,2]: a·b would be [100,100]; b·c is [2,2], then a·(bc) [100,2]
        static Aval F(params int[] d) => new(d, DType.Float64);
        Assert.Equal([(1, 2), (0, 1)], EinsumEngine.Order("ij,jk,kl->il", [F(100, 2), F(2, 100), F(100, 2)]));
        // the mirror image: [2,100] [100,2] [2,100] contracts the first two first
        Assert.Equal([(0, 1), (0, 1)], EinsumEngine.Order("ij,jk,kl->il", [F(2, 100), F(100, 2), F(2, 100)]));
        // and the result is the same either way (against the loops)
        var xs = new[] { Rand(1, 30, 2), Rand(2, 2, 30), Rand(3, 30, 2) };
        Close(LoopEinsum("ij,jk,kl->il", xs, out _), Einsum("ij,jk,kl->il", xs).ToDoubleArray());
    }

    [Fact]
    public void TensorDot_Outer_and_Kron_match_loop_einsums()
    {
        var a = Rand(1, 2, 3, 4); var b = Rand(2, 3, 4, 5);
        Close(LoopEinsum("ijk,jkl->il", [a, b], out _), TensorDot(a, b, 2).ToDoubleArray());
        var c = Rand(3, 4, 3);
        Close(LoopEinsum("ijk,kj->i", [a, c], out _), TensorDot(a, c, new[] { 2, 1 }, new[] { 0, 1 }).ToDoubleArray());
        Expression<Func<Tensor, Tensor, Tensor>> td = (x, y) => TensorDot(x, y, new[] { -1, -2 }, new[] { 0, 1 });
        Assert.Equal(TensorDot(a, c, new[] { 2, 1 }, new[] { 0, 1 }).ToDoubleArray(), td.Jit()(a, c).ToDoubleArray());
        var u = Rand(4, 2, 2); var v = Rand(5, 3);
        Close(LoopEinsum("i,j->ij", [Reshape(u, [-1]), v], out _), Outer(u, v).ToDoubleArray());
        var k = Kron(new Tensor(new double[,] { { 1, 2 }, { 3, 4 } }), new Tensor(new double[,] { { 0, 1 }, { 1, 0 } }));
        Assert.Equal(new[] { 0.0, 1, 0, 2, 1, 0, 2, 0, 0, 3, 0, 4, 3, 0, 4, 0 }, k.ToDoubleArray());
        // Kron by definition, ranks 3 and 2 (b gets a leading size-1 axis): out[i*1+0, j*p+k, l*q+m] = a[i,j,l] b[k,m]
        var ka = Rand(6, 2, 3, 2); var kb = Rand(7, 2, 3);
        var kr = Kron(ka, kb);
        Assert.Equal(new[] { 2, 6, 6 }, kr.Dims);
        var loop = LoopEinsum("ijl,km->ijklm", [ka, kb], out _);
        Close(loop, kr.ToDoubleArray());
        Expression<Func<(Tensor, Tensor), Tensor>> kf = p => Sum(Kron(p.Item1, p.Item2) * Rand(8, 2, 6, 6), null, false);
        GradCheck.Check(kf, (ka, kb)).Assert();
        Assert.Equal(kf.Compile()((ka, kb)).ToDoubleArray()[0], kf.Jit()((ka, kb)).ToDoubleArray()[0], 1e-9);
    }

    [Fact]
    public void Bad_specs_give_typed_errors_naming_the_spec_and_the_shapes()
    {
        var a = Rand(1, 2, 3); var b = Rand(2, 4, 5);
        var e = Assert.Throws<ShapeException>(() => Einsum("ij,jk->ik", a, b));
        Assert.Contains("ij,jk->ik", e.Message);
        Assert.Contains("[2,3]", e.Message);
        Assert.Contains("'j' has size 3", e.Message);
        var r = Assert.Throws<ShapeException>(() => Einsum("ijk->i", a));
        Assert.Contains("rank 2", r.Message);
        var p = Assert.Throws<ShapeException>(() => Einsum("ij,j->ik", a, Rand(3, 3)));
        Assert.Contains("'k' appears in no operand", p.Message);
        Assert.Contains("ij,j->ik", p.Message);
        Assert.Contains("[3]", p.Message);
        var c = Assert.Throws<ShapeException>(() => Einsum("i$j", a));
        Assert.Contains("'$' is not a subscript", c.Message);
        Assert.Contains("[2,3]", c.Message);
        var o = Assert.Throws<ShapeException>(() => Einsum("ij,jk->ik", a));
        Assert.Contains("2 operand(s) but 1", o.Message);
        // inside an expression a bad spec is refused when the expression is read, naming it
        Expression<Func<Tensor, Tensor>> f = x => Einsum("ii->iq", x);
        var u = Assert.Throws<UnsupportedExpressionException>(() => f.Jit());
        Assert.Contains("ii->iq", u.Message);
        Expression<Func<Tensor, Tensor, Tensor>> td = (x, y) => TensorDot(x, y, new[] { 0, -1 }, new[] { 0, 1 });
        Assert.Contains("all non-negative or all negative", Assert.Throws<UnsupportedExpressionException>(() => td.Jit()).Message);
    }

    [Fact]
    public void Sort_is_stable_with_NaN_last_and_TopK_and_SearchSorted_match_numpy()
    {
        var x = new Tensor(new[] { 3.0, double.NaN, 1, 3, -0.0, 0.0, 2 });
        Assert.Equal(new[] { 4.0, 5, 2, 6, 0, 3, 1 }, Argsort(x).ToDoubleArray());
        var s = Sort(x).ToDoubleArray();
        Assert.Equal(new[] { -0.0, 0, 1, 2, 3, 3 }, s[..6]);
        Assert.True(double.IsNaN(s[6]));
        Assert.Equal(DType.Int32, Argsort(x).DType);
        var (vals, idx) = TopK(new Tensor(new[] { 1.0, 5, 3, 5 }), 3);
        Assert.Equal(new[] { 5.0, 5, 3 }, vals.ToDoubleArray());
        Assert.Equal(new[] { 1.0, 3, 2 }, idx.ToDoubleArray());
        var sorted = new Tensor(new[] { 1.0, 2, 2, 3 });
        Assert.Equal(new[] { 1.0, 4, 0 }, SearchSorted(sorted, new Tensor(new[] { 2.0, 5, 0 })).ToDoubleArray());
        Assert.Equal(new[] { 3.0, 4, 0 }, SearchSorted(sorted, new Tensor(new[] { 2.0, 5, 0 }), "right").ToDoubleArray());
        // inside an expression: TopK's two results, the values differentiable, the indices not
        Expression<Func<Tensor, Tensor>> top = v => Sum(TopK(v, 2).Item1 * new Tensor(new[] { 10.0, 1 }), null, false) + Sum(TopK(v, 2).Item2.AsType(DType.Float64), null, false);
        var xv = new Tensor(new[] { 0.5, 2.0, -1.0, 1.5 });
        Assert.Equal(new[] { 0.0, 10, 0, 1 }, top.Grad().Jit()(xv).ToDoubleArray());
        Assert.Equal(top.Compile()(xv).ToDoubleArray(), top.Jit()(xv).ToDoubleArray());
        // the sort's gradient is the cotangent permuted back
        Expression<Func<Tensor, Tensor>> sw = v => Sum(Sort(v, -1) * new Tensor(new[] { 1.0, 2, 3, 4 }), null, false);
        Assert.Equal(new[] { 2.0, 4, 1, 3 }, sw.Grad().Jit()(xv).ToDoubleArray());
        GradCheck.Check(sw, xv).Assert();
    }

    [Fact]
    public void Vmap_of_einsum_with_an_unbatched_operand_and_of_a_batched_searchsorted_matches_a_loop()
    {
        var ws = Rand(7, 3, 4);
        Expression<Func<Tensor, Tensor>> f = x => Einsum("i,ij->j", x, ws);
        var xs = Rand(8, 5, 3);
        var batched = Ad.Vmap(f, inAxes: [0]).Jit()(xs).ToDoubleArray();
        var loop = Enumerable.Range(0, 5).SelectMany(i => Einsum("i,ij->j", Reshape(Take(xs, new Tensor(new[] { i }), 0), [3]), ws).ToDoubleArray()).ToArray();
        for (int i = 0; i < loop.Length; i++) Assert.Equal(loop[i], batched[i], 1e-9);
        Expression<Func<Tensor, Tensor, Tensor>> ss = (s, v) => SearchSorted(s, v, "left");
        var sb = Sort(Rand(9, 3, 6), -1); var vb = Rand(10, 3, 4);
        var got = Ad.Vmap(ss, inAxes: [0, 0]).Jit()(sb, vb).ToDoubleArray();
        var want = Enumerable.Range(0, 3).SelectMany(i => SearchSorted(Reshape(Take(sb, new Tensor(new[] { i }), 0), [6]), Reshape(Take(vb, new Tensor(new[] { i }), 0), [4])).ToDoubleArray()).ToArray();
        Assert.Equal(want, got);
    }
}
