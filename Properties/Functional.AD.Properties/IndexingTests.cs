using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Indexing and slicing (x[...], x.At(...), Lax.DynamicSlice, Lax.DynamicUpdateSlice) against oracles written here as
/// loops over C# arrays with numpy's definitions (a point removes its axis, a range start, start + step, ... before
/// stop, negative positions counted from the end; JAX's clamping of dynamic starts), eagerly and read inside
/// expressions (plain Compile and the Jit), with the typed errors. Finite differences, Vmap, the dtypes and Torch run
/// from the spec lines (Specs.Indexing.cs).
/// </summary>
public class IndexingTests
{
    static readonly double[,] M = { { 0, 1, 2, 3, 4 }, { 10, 11, 12, 13, 14 }, { 20, 21, 22, 23, 24 } };
    static Tensor X => new(M);

    /// <summary>numpy's range of positions for start/stop/step on an axis of length n (both bounds inside the axis here).</summary>
    static List<int> Positions(int? start, int? stop, int step, int n)
    {
        int Norm(int i) => i < 0 ? i + n : i;
        var r = new List<int>();
        if (step > 0) for (int i = start is { } s ? Norm(s) : 0; i < (stop is { } e ? Norm(e) : n); i += step) r.Add(i);
        else for (int i = start is { } s ? Norm(s) : n - 1; i > (stop is { } e ? Norm(e) : -1); i += step) r.Add(i);
        return r;
    }

    static double[] Rows(IEnumerable<int> rows, IEnumerable<int> cols) => rows.SelectMany(i => cols.Select(j => M[i, j])).ToArray();

    public static IEnumerable<object[]> RangeCases =>
    [
        [1, 4, 1, 0, 3, 2], [0, 5, 2, null!, null!, -1], [-4, -1, 1, 2, 0, -1], [null!, null!, -2, 1, null!, 1], [3, 3, 1, -3, 3, 1],
    ];

    [Theory]
    [MemberData(nameof(RangeCases))]
    public void Ranges_read_numpys_positions_eagerly_and_inside_expressions(int? c0, int? c1, int cs, int? r0, int? r1, int rs)
    {
        var rows = Positions(r0, r1, rs, 3); var cols = Positions(c0, c1, cs, 5);
        var expected = Rows(rows, cols);
        var eager = X[Ix.Range(r0, r1, rs), Ix.Range(c0, c1, cs)];
        Assert.Equal(new[] { rows.Count, cols.Count }, eager.Shape);
        Assert.Equal(expected, eager.ToDoubleArray());
        Expression<Func<Tensor, Tensor>> f = x => x[Ix.Range(r0, r1, rs), Ix.Range(c0, c1, cs)];
        Assert.Equal(expected, f.Compile()(X).ToDoubleArray());
        Assert.Equal(expected, Ad.Jit(f)(X).ToDoubleArray());
    }

    [Fact]
    public void Points_remove_their_axis_and_count_from_the_end()
    {
        Expression<Func<Tensor, Tensor>> f = x => x[1] + x[Ix.FromEnd(1)] * 100 + x[-3, 2] * 10000;
        var expected = Enumerable.Range(0, 5).Select(j => M[1, j] + M[2, j] * 100 + M[0, 2] * 10000).ToArray();
        Assert.Equal(expected, Ad.Jit(f)(X).ToDoubleArray());
        Assert.Equal(expected, f.Compile()(X).ToDoubleArray());
        Assert.Equal(0, X[2, 4].Rank);
        Assert.Equal(24.0, (double)X[2, 4]);
        Assert.Equal(24.0, X.Item(2, 4));
    }

    [Fact]
    public void A_whole_index_gives_the_same_values_and_the_jit_a_fresh_tensor()
    {
        var x = X;
        Expression<Func<Tensor, Tensor>> f = t => t[Ix.All, Ix.Range(0, 5)];
        var y = Ad.Jit(f)(x);
        Assert.NotSame(x, y);
        Assert.Equal(x.ToDoubleArray(), y.ToDoubleArray());
        Assert.Equal(x.ToDoubleArray(), f.Compile()(x).ToDoubleArray());
    }

    [Fact]
    public void An_index_computed_from_an_argument_is_refused_when_read()
    {
        Expression<Func<Tensor, int, Tensor>> f = (t, i) => t[i];
        var e = Assert.ThrowsAny<Exception>(() => Ad.Grad(f));
        Assert.Contains("must be a constant known when the expression is read", e.Message);
    }

    [Fact]
    public void Captured_Index_and_Range_values_read_as_Ix()
    {
        System.Range middle = 1..^1;
        System.Index last = ^1;
        Expression<Func<Tensor, Tensor>> f = x => x[last, middle];
        var expected = new[] { M[2, 1], M[2, 2], M[2, 3] };
        Assert.Equal(expected, Ad.Jit(f)(X).ToDoubleArray());
        Assert.Equal(expected, X[^1, 1..^1].ToDoubleArray());
    }

    [Fact]
    public void At_updates_leave_x_unchanged_and_match_loops()
    {
        var x = X;
        var v = new Tensor(new[] { 7.0, 8.0 });
        Expression<Func<Tensor, Tensor, Tensor>> set = (a, b) => a.At(Ix.All, Ix.Range(1, 5, 2)).Set(b);
        Expression<Func<Tensor, Tensor, Tensor>> add = (a, b) => a.At(0, Ix.Range(3, 5)).Add(b);
        Expression<Func<Tensor, Tensor, Tensor>> mul = (a, b) => a.At(2, Ix.Range(0, 2)).Mul(b);
        Expression<Func<Tensor, Tensor, Tensor>> min = (a, b) => a.At(1, Ix.Range(0, 2)).Min(b);
        Expression<Func<Tensor, Tensor, Tensor>> max = (a, b) => a.At(1, Ix.Range(0, 2)).Max(b);
        double[,] Expect(Action<double[,]> change) { var m = (double[,])M.Clone(); change(m); return m; }
        var cases = new (Expression<Func<Tensor, Tensor, Tensor>> F, double[,] Want)[]
        {
            (set, Expect(m => { for (int i = 0; i < 3; i++) { m[i, 1] = 7; m[i, 3] = 8; } })),
            (add, Expect(m => { m[0, 3] += 7; m[0, 4] += 8; })),
            (mul, Expect(m => { m[2, 0] *= 7; m[2, 1] *= 8; })),
            (min, Expect(m => { m[1, 0] = Math.Min(m[1, 0], 7); m[1, 1] = Math.Min(m[1, 1], 8); })),
            (max, Expect(m => { m[1, 0] = Math.Max(m[1, 0], 7); m[1, 1] = Math.Max(m[1, 1], 8); })),
        };
        foreach (var (f, want) in cases)
        {
            var flat = want.Cast<double>().ToArray();
            Assert.Equal(flat, f.Compile()(x, v).ToDoubleArray());
            Assert.Equal(flat, Ad.Jit(f)(x, v).ToDoubleArray());
        }
        Assert.Equal(M.Cast<double>().ToArray(), x.ToDoubleArray());
    }

    [Fact]
    public void Set_sends_x_the_cotangent_zeroed_at_the_part_and_v_the_part()
    {
        // L = sum(w * x.At(1).Set(v)): dL/dx = w with row 1 zeroed, dL/dv = w's row 1
        var w = new Tensor(new[,] { { 1.0, 2, 3 }, { 4, 5, 6 } });
        Expression<Func<Tensor, Tensor, Tensor>> loss = (x, v) => Sum(w * x.At(1).Set(v));
        Expression<Func<Tensor, Tensor, Tensor>> lossV = (v, x) => Sum(w * x.At(1).Set(v));
        var x0 = Zeros([2, 3], DType.Float64); var v0 = new Tensor(new[] { 1.0, 1, 1 });
        Assert.Equal(new[] { 1.0, 2, 3, 0, 0, 0 }, Ad.Jit(Ad.Grad(loss))(x0, v0).ToDoubleArray());
        Assert.Equal(new[] { 4.0, 5, 6 }, Ad.Jit(Ad.Grad(lossV))(v0, x0).ToDoubleArray());
        // Add: x gets the whole cotangent, a scalar v the sum of the part's
        Expression<Func<Tensor, Tensor, Tensor>> addX = (x, v) => Sum(w * x.At(Ix.All, 0).Add(v));
        Expression<Func<Tensor, Tensor, Tensor>> addV = (v, x) => Sum(w * x.At(Ix.All, 0).Add(v));
        Assert.Equal(w.ToDoubleArray(), Ad.Jit(Ad.Grad(addX))(x0, new Tensor(2.0)).ToDoubleArray());
        Assert.Equal(5.0, (double)Ad.Jit(Ad.Grad(addV))(Tensor.Scalar(2.0, DType.Float64), x0));
    }

    [Fact]
    public void Dynamic_starts_are_floored_and_clamped_as_in_jax()
    {
        var x = new Tensor(new[] { 1.0, 2, 3, 4, 5 });
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, s) => Lax.DynamicSlice(a, new[] { s }, new[] { 2 });
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> g = (a, u, s) => Lax.DynamicUpdateSlice(a, u, new[] { s });
        var jf = Ad.Jit(f); var jg = Ad.Jit(g);
        var u = new Tensor(new[] { 8.0, 9 });
        foreach (var (s, start) in new[] { (1.0, 1), (2.7, 2), (-3.0, 0), (4.0, 3), (100.0, 3) })
        {
            var want = new[] { x.Item(start), x.Item(start + 1) };
            Assert.Equal(want, jf(x, s).ToDoubleArray());
            Assert.Equal(want, f.Compile()(x, s).ToDoubleArray());
            var upd = x.ToDoubleArray(); upd[start] = 8; upd[start + 1] = 9;
            Assert.Equal(upd, jg(x, u, s).ToDoubleArray());
        }
    }

    [Fact]
    public void Static_out_of_range_is_a_shape_error_naming_the_subexpression_and_the_accepted_positions()
    {
        var x = Ones([3, 4], DType.Float32);
        var e = Assert.Throws<ShapeException>(() => x[3]);
        Assert.Contains("float32[3,4]", e.Message);
        Assert.Contains("accepted positions are 0 .. 2", e.Message);
        e = Assert.Throws<ShapeException>(() => x[Ix.All, Ix.Range(1, 6)]);
        Assert.Contains("accepted bounds are 0 .. 4", e.Message);
        e = Assert.Throws<ShapeException>(() => x[0, 0, 0]);
        Assert.Contains("3 indices for a tensor of rank 2", e.Message);
        Expression<Func<Tensor, Tensor>> f = t => Tanh(t[Ix.FromEnd(5)]);
        var ex = Assert.ThrowsAny<Exception>(() => Ad.Jit(f)(x));
        Assert.Contains("Ix.FromEnd(5)", ex.Message);
        Assert.Contains("float32[3,4]", ex.Message);
        Assert.Contains("accepted positions", ex.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ix.Range(0, 3, 0));
    }
}

/// <summary>Np.TakeAlongAxis against numpy's definition written as loops, and its typed errors.</summary>
public class TakeAlongAxisTests
{
    [Fact]
    public void TakeAlongAxis_reads_x_at_the_indices_along_the_axis()
    {
        var m = new double[,] { { 10, 20, 30 }, { 40, 50, 60 } };
        var x = new Tensor(m);
        var idx = new Tensor(new[] { 2, 0, -1, 1 }, [2, 2]);
        var expected = new double[] { m[0, 2], m[0, 0], m[1, 2], m[1, 1] };
        Assert.Equal(expected, Np.TakeAlongAxis(x, idx, 1).ToDoubleArray());
        System.Linq.Expressions.Expression<Func<Tensor, Tensor>> f = t => Np.TakeAlongAxis(t, idx, -1);
        Assert.Equal(expected, Ad.Jit(f)(x).ToDoubleArray());
        // axis 0, indices broadcast over the columns: out[i, j] = x[idx[i, 0], j]
        var rows = new Tensor(new[] { 1, 0, 1 }, [3, 1]);
        var want0 = new[] { 1, 0, 1 }.SelectMany(r => Enumerable.Range(0, 3).Select(j => m[r, j])).ToArray();
        Assert.Equal(want0, Np.TakeAlongAxis(x, rows, 0).ToDoubleArray());
    }

    [Fact]
    public void TakeAlongAxis_refuses_other_ranks_lengths_and_indices()
    {
        var x = Np.Ones([2, 3], DType.Float32);
        var e = Assert.Throws<ShapeException>(() => Np.TakeAlongAxis(x, new Tensor(new[] { 0, 1 }), 1));
        Assert.Contains("x's rank 2", e.Message);
        e = Assert.Throws<ShapeException>(() => Np.TakeAlongAxis(x, new Tensor(new[] { 0, 1, 2 }, [3, 1]), 1));
        Assert.Contains("accepted: x's length 2 or 1", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Np.TakeAlongAxis(x, new Tensor(new[] { 3, 0 }, [2, 1]), 1));
    }
}

/// <summary>Lax.GatherAxes (numpy's x[rows, cols] with integer arrays) against loops, with traced indices under the Jit.</summary>
public class GatherAxesTests
{
    [Fact]
    public void GatherAxes_reads_x_at_broadcast_rows_and_columns()
    {
        var m = new double[,] { { 0, 1, 2, 3 }, { 10, 11, 12, 13 }, { 20, 21, 22, 23 } };
        var x = new Tensor(m);
        var rows = new Tensor(new[] { 2, -3 }, [2, 1]);
        var cols = new Tensor(new[] { 0, 3, -1 });
        var want = new[] { 2, 0 }.SelectMany(r => new[] { 0, 3, 3 }.Select(c => m[r, c])).ToArray();
        Assert.Equal(want, Lax.GatherAxes(x, [rows, cols]).ToDoubleArray());
        System.Linq.Expressions.Expression<Func<Tensor, Tensor, Tensor, Tensor>> f = (t, r, c) => Lax.GatherAxes(t, new[] { r, c });
        Assert.Equal(want, Ad.Jit(f)(x, rows, cols).ToDoubleArray());
        Assert.Equal(new[] { 2, 3 }, Ad.Jit(f)(x, rows, cols).Shape);
        // one index tensor: whole rows
        Assert.Equal(new[] { m[1, 0], m[1, 1], m[1, 2], m[1, 3] }, Lax.GatherAxes(x, [new Tensor(new[] { 1 })]).ToDoubleArray());
        var e = Assert.Throws<ShapeException>(() => Lax.GatherAxes(x, [new Tensor(new[] { 0, 1 }), new Tensor(new[] { 0, 1, 2 })]));
        Assert.Contains("do not broadcast", e.Message);
    }
}
