using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// numpy's <c>...</c> (Ix.Ellipsis), <c>None</c> (Ix.NewAxis), integer index tensors and bool masks inside the indexer,
/// against element maps written here by hand (output position to x position, numpy's definition); eagerly, compiled,
/// under the jit, under Vmap (against a loop), with gradients against float64 central differences, and the typed errors
/// for what is refused (a mask inside a jitted function, two ellipses, NewAxis in an update).
/// </summary>
public class IndexingVocabularyTests
{
    static readonly Tensor X = new(Enumerable.Range(0, 24).Select(i => Math.Round(Math.Sin(i + 1) * 2, 4)).ToArray(), [2, 3, 4]);

    static double At(Tensor x, params int[] i)
    {
        int off = 0;
        for (int a = 0; a < i.Length; a++) off = off * x.Dims[a] + i[a];
        return x.ToDoubleArray()[off];
    }

    /// <summary>Every output position of <paramref name="dims"/> in row-major order.</summary>
    static IEnumerable<int[]> Positions(int[] dims)
    {
        int n = dims.Aggregate(1, (a, b) => a * b);
        for (int k = 0; k < n; k++)
        {
            var p = new int[dims.Length];
            for (int a = dims.Length - 1, r = k; a >= 0; r /= dims[a], a--) p[a] = r % dims[a];
            yield return p;
        }
    }

    static readonly (string Name, Expression<Func<Tensor, Tensor>> F, int[] Dims, Func<int[], int[]> Source)[] Cases =
    [
        ("x[..., 1]", x => x[Ix.Ellipsis, 1], [2, 3], o => [o[0], o[1], 1]),
        ("x[0, ...]", x => x[0, Ix.Ellipsis], [3, 4], o => [0, o[0], o[1]]),
        ("x[None]", x => x[Ix.NewAxis], [1, 2, 3, 4], o => [o[1], o[2], o[3]]),
        ("x[:, None, 1]", x => x[Ix.All, Ix.NewAxis, 1], [2, 1, 4], o => [o[0], 1, o[2]]),
        ("x[..., None]", x => x[Ix.Ellipsis, Ix.NewAxis], [2, 3, 4, 1], o => [o[0], o[1], o[2]]),
        ("x[1, ..., None, 1:3]", x => x[1, Ix.Ellipsis, Ix.NewAxis, Ix.Range(1, 3)], [3, 1, 2], o => [1, o[0], 1 + o[2]]),
        ("x[None, ..., None, -1]", x => x[Ix.NewAxis, Ix.Ellipsis, Ix.NewAxis, -1], [1, 2, 3, 1], o => [o[1], o[2], 3]),
        ("x[..., ::-2]", x => x[Ix.Ellipsis, Ix.Every(-2)], [2, 3, 2], o => [o[0], o[1], 3 - 2 * o[2]]),
        ("x[...]", x => x[Ix.Ellipsis], [2, 3, 4], o => o),
        ("x[0, 1, 2, ...]", x => x[0, 1, 2, Ix.Ellipsis], [], _ => [0, 1, 2]),
    ];

    public static IEnumerable<object[]> Names => Cases.Select(c => new object[] { c.Name });

    [Theory]
    [MemberData(nameof(Names))]
    public void Ellipsis_and_NewAxis_select_numpys_elements_eagerly_in_the_jit_under_vmap_and_grad(string name)
    {
        var (_, f, dims, source) = Cases.Single(c => c.Name == name);
        foreach (var (how, run) in new (string, Func<Tensor, Tensor>)[] { ("eager", f.Compile()), ("Jit", f.Jit()) })
        {
            var y = run(X);
            Assert.True(dims.SequenceEqual(y.Dims), $"{name} ({how}): shape [{string.Join(",", y.Dims)}], want [{string.Join(",", dims)}]");
            var got = y.ToDoubleArray();
            int k = 0;
            foreach (var o in Positions(dims)) Assert.Equal(At(X, source(o)), got[k++]);
        }
        var w = new Tensor(Enumerable.Range(0, dims.Aggregate(1, (a, b) => a * b)).Select(i => i + 1.0).ToArray(), dims);
        Expression<Func<Tensor, Tensor>> loss = v => Sum(f.Invoke(v) * w, null, false);
        // the gradient puts each weight back at the element it read (by hand), and matches central differences
        var want = new double[24];
        int j = 0;
        foreach (var o in Positions(dims))
        {
            var s = source(o);
            want[(s[0] * 3 + s[1]) * 4 + s[2]] += w.ToDoubleArray()[j++];
        }
        Assert.Equal(want, loss.Grad().Jit()(X).ToDoubleArray());
        GradCheck.Check(loss, X).Assert();
        // Vmap over a leading batch axis: a loop of the unbatched function
        var xs = Stack([X, X * 2.0, X - 1.0], 0);
        var batched = f.Vmap([0]).Jit()(xs);
        var loop = Stack(Enumerable.Range(0, 3).Select(b => f.Compile()(Take(xs, new Tensor((double)b), 0))).ToArray(), 0);
        Assert.Equal(loop.Dims, batched.Dims);
        Assert.Equal(loop.ToDoubleArray(), batched.ToDoubleArray());
    }

    [Fact]
    public void Ellipsis_works_in_updates_and_the_printed_derivative_spells_it()
    {
        var v = new Tensor(new[] { 10.0, 20, 30 });
        var set = X.At(Ix.Ellipsis, 1).Set(v).ToDoubleArray();
        var data = X.ToDoubleArray();
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 4; k++)
                    Assert.Equal(k == 1 ? v.ToDoubleArray()[j] : data[(i * 3 + j) * 4 + k], set[(i * 3 + j) * 4 + k]);
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, u) => Sum(x.At(Ix.Ellipsis, 1).Add(u) * x, null, false);
        Assert.Equal(f.Compile()(X, v).ToDoubleArray()[0], f.Jit()(X, v).ToDoubleArray()[0], 1e-12);
        GradCheck.Check((Expression<Func<Tensor, Tensor>>)(x => Sum(x.At(Ix.Ellipsis, 1).Add(v) * x, null, false)), X).Assert();
        Expression<Func<Tensor, Tensor>> g = x => Sum(x[Ix.Ellipsis, Ix.NewAxis, 2] * x[Ix.Ellipsis, Ix.NewAxis, 2], null, false);
        Assert.Contains("Ix.Ellipsis", Ad.Show(g.Grad()));
    }

    [Fact]
    public void Bad_ellipsis_and_newaxis_lists_give_typed_errors_naming_the_index()
    {
        var two = Assert.Throws<ShapeException>(() => X[Ix.Ellipsis, 0, Ix.Ellipsis]);
        Assert.Contains("may appear once", two.Message);
        Assert.Contains("[2,3,4]", two.Message);
        var many = Assert.Throws<ShapeException>(() => X[0, 0, 0, 0, Ix.Ellipsis]);
        Assert.Contains("4 indices for a tensor of rank 3", many.Message);
        // in an update a new axis is numpy's x[None, 0] = v: the value broadcasts to the part's shape [1, 3, 4]
        var row = X.At(Ix.NewAxis, 0).Set(Full([1, 3, 4], 7.0)).ToDoubleArray();
        Assert.Equal(Enumerable.Repeat(7.0, 12).Concat(X.ToDoubleArray()[12..]), row);
        var upd = Assert.Throws<ShapeException>(() => X.At(Ix.NewAxis, 0).Set(Full([2, 3, 4], 7.0)));
        Assert.Contains("does not broadcast to the part's shape [1,3,4]", upd.Message);
        Expression<Func<Tensor, Tensor>> f = x => x[Ix.Ellipsis, 1, Ix.Ellipsis];
        var inJit = Assert.Throws<ShapeException>(() => f.Jit()(X));
        Assert.Contains("may appear once", inJit.Message);
        Assert.Contains("Ix.Ellipsis", inJit.Message);
    }

    [Fact]
    public void Integer_index_tensors_gather_as_numpy_eagerly_in_expressions_and_under_transforms()
    {
        var idx = new Tensor(new double[,] { { 1, 0 }, { -1, 1 } }).AsType(DType.Int32);
        // x[idx]: out[a, b, j, k] = x[idx[a, b], j, k] (idx -1 is the last)
        var y = X[idx];
        Assert.Equal(new[] { 2, 2, 3, 4 }, y.Dims);
        int[] rows = [1, 0, 1, 1];
        var got = y.ToDoubleArray();
        int n = 0;
        foreach (var o in Positions([2, 2, 3, 4])) Assert.Equal(At(X, rows[o[0] * 2 + o[1]], o[2], o[3]), got[n++]);
        // x[:, idx] is Take along axis 1; x[rows, cols] reads x[rows[i], cols[i]]
        var cols = new Tensor(new[] { 2.0, 0, 1 }).AsType(DType.Int32);
        var mid = X[Ix.All, cols];
        Assert.Equal(new[] { 2, 3, 4 }, mid.Dims);
        n = 0;
        foreach (var o in Positions([2, 3, 4])) Assert.Equal(At(X, o[0], (int)cols.ToDoubleArray()[o[1]], o[2]), mid.ToDoubleArray()[n++]);
        var r = new Tensor(new[] { 1.0, 0, 1 }).AsType(DType.Int32);
        var pair = X[r, cols];
        Assert.Equal(new[] { 3, 4 }, pair.Dims);
        n = 0;
        foreach (var o in Positions([3, 4])) Assert.Equal(At(X, (int)r.ToDoubleArray()[o[0]], (int)cols.ToDoubleArray()[o[0]], o[1]), pair.ToDoubleArray()[n++]);
        // inside expressions: the same values compiled and jitted, gradients against central differences, Vmap against a loop
        Expression<Func<Tensor, Tensor, Tensor>> take = (x, i) => x[i] * 2.0;
        Expression<Func<Tensor, Tensor, Tensor>> along = (x, i) => x[Ix.All, i];
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> both = (x, i, j) => x[i, j, Ix.All];
        Assert.Equal(X[idx].ToDoubleArray().Select(v => v * 2), take.Jit()(X, idx).ToDoubleArray());
        Assert.Equal(mid.ToDoubleArray(), along.Jit()(X, cols).ToDoubleArray());
        Assert.Equal(pair.ToDoubleArray(), both.Jit()(X, r, cols).ToDoubleArray());
        Assert.Equal(pair.ToDoubleArray(), both.Compile()(X, r, cols).ToDoubleArray());
        GradCheck.Check((Expression<Func<Tensor, Tensor>>)(x => Sum(x[idx] * x[idx], null, false)), X).Assert();
        GradCheck.Check((Expression<Func<Tensor, Tensor>>)(x => Sum(Sin(x[r, cols]), null, false)), X).Assert();
        var xs = Stack([X, X * 3.0], 0);
        var batched = Ad.Vmap(along, inAxes: [0, null]).Jit()(xs, cols);
        var loop = Stack([along.Compile()(X, cols), along.Compile()(X * 3.0, cols)], 0);
        Assert.Equal(loop.ToDoubleArray(), batched.ToDoubleArray());
        var perExample = Stack([cols, r], 0);
        var bi = Ad.Vmap(along, inAxes: [0, 0]).Jit()(xs, perExample);
        var li = Stack([along.Compile()(X, cols), along.Compile()(X * 3.0, r)], 0);
        Assert.Equal(li.ToDoubleArray(), bi.ToDoubleArray());
    }

    [Fact]
    public void A_bool_mask_selects_eagerly_and_inside_a_jitted_function_is_a_typed_error_pointing_to_where()
    {
        var m2 = new Tensor(new double[,] { { 1, 0, 1 }, { 0, 0, 1 } }).AsType(DType.Bool);
        var sel = X[m2];
        Assert.Equal(new[] { 3, 4 }, sel.Dims);
        int[][] kept = [[0, 0], [0, 2], [1, 2]];
        var got = sel.ToDoubleArray();
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 4; k++) Assert.Equal(At(X, kept[i][0], kept[i][1], k), got[i * 4 + k]);
        var m1 = new Tensor(new double[] { 0, 1, 1, 0 }).AsType(DType.Bool);
        var cols = X[Ix.All, Ix.All, m1];
        Assert.Equal(new[] { 2, 3, 2 }, cols.Dims);
        Assert.Equal(At(X, 1, 2, 2), cols.ToDoubleArray()[^1]);
        // the un-jitted baseline (Compile) indexes eagerly; the jit, and the gradient, refuse it naming x[m] and pointing to Np.Where
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, m) => Sum(x[m], null, false);
        Assert.Equal(sel.ToDoubleArray().Sum(), f.Compile()(X, m2).ToDoubleArray()[0], 1e-12);
        var e = Assert.Throws<ShapeException>(() => f.Jit()(X, m2));
        Assert.Contains("x[m]", e.Message);
        Assert.Contains("Np.Where", e.Message);
        Assert.Contains("mask", e.Message);
        var g = Assert.Throws<ShapeException>(() => Ad.Grad(f).Jit()(X, m2));
        Assert.Contains("Np.Where", g.Message);
        // the suggested spelling works and has the expected gradient (the mask itself)
        Expression<Func<Tensor, Tensor, Tensor>> where = (x, m) => Sum(Where(m[Ix.Ellipsis, Ix.NewAxis], x, 0.0), null, false);
        Assert.Equal(sel.ToDoubleArray().Sum(), where.Jit()(X, m2).ToDoubleArray()[0], 1e-12);
        var gw = Ad.Grad(where).Jit()(X, m2).ToDoubleArray();
        n0(gw, m2);
        // Np.Take and Lax.GatherAxes refuse bool indices eagerly too
        Assert.Contains("Np.Where", Assert.Throws<ShapeException>(() => Take(X, m1, 2)).Message);
        Assert.Contains("Np.Where", Assert.Throws<ShapeException>(() => Lax.GatherAxes(X, [m1])).Message);
        // a mask that does not fit x, and a mask mixed with a range, are typed errors
        Assert.Contains("x's lengths", Assert.Throws<ShapeException>(() => X[m1]).Message);
        Assert.Contains("Ix.All", Assert.Throws<ShapeException>(() => X[Ix.Range(0, 1), m1]).Message);

        static void n0(double[] grad, Tensor mask)
        {
            var mv = mask.ToArray<bool>();
            for (int i = 0; i < grad.Length; i++) Assert.Equal(mv[i / 4] ? 1.0 : 0.0, grad[i]);
        }
    }

    [Fact]
    public void Index_tensors_mixed_with_other_indices_inside_an_expression_are_refused_when_read()
    {
        var idx = new Tensor(new[] { 1.0, 0 }).AsType(DType.Int32);
        Expression<Func<Tensor, Tensor, Tensor>> mixed = (x, i) => x[i, Ix.Range(0, 2)];
        var e = Assert.Throws<UnsupportedExpressionException>(() => mixed.Jit());
        Assert.Contains("Ix.All", e.Message);
        Expression<Func<Tensor, Tensor, Tensor>> update = (x, i) => x.At(i).Set(0.0);
        Assert.Contains("Lax.ScatterAdd", Assert.Throws<UnsupportedExpressionException>(() => update.Jit()).Message);
        // eagerly the two-step spelling the error suggests gives the same as numpy's mixed index
        var twoStep = X[idx][Ix.All, Ix.Range(0, 2)];
        Assert.Equal(new[] { 2, 2, 4 }, twoStep.Dims);
        Assert.Equal(At(X, 1, 1, 3), twoStep.ToDoubleArray()[7]);
    }
}
