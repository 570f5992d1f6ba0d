using System.Linq.Expressions;
using Xunit;

namespace Functional.AD.Properties;

public record MlpParams(Tensor W, Tensor B);

/// <summary>Vmap composed with Grad and with itself, conditionals, axisSize, printing, and every bad input's message.</summary>
public class VmapTests
{
    static Tensor Rand(int seed, params int[] shape)
    {
        var r = new Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        return new Tensor(Enumerable.Range(0, n).Select(_ => r.NextDouble() * 2 - 1).ToArray(), shape);
    }

    static Tensor Row(Tensor x, int i) => Np.Take(x, new Tensor(new[] { (double)i }), 0) is var t ? Np.Reshape(t, x.Shape.Skip(1).ToArray()) : t;

    static readonly Expression<Func<MlpParams, Tensor, Tensor, Tensor>> Loss = (p, x, y) =>
        Np.Let(Np.Tanh(Np.Dot(p.W, x) + p.B) - y, d => Np.Sum(d * d, null, false));

    [Fact]
    public void Vmap_of_grad_gives_per_example_gradients()
    {
        var p = new MlpParams(Rand(1, 3, 4), Rand(2, 3));
        Tensor xs = Rand(3, 5, 4), ys = Rand(4, 5, 3);
        var perExample = Loss.Grad().Vmap([null, 0, 0]).Compile()(p, xs, ys);
        var single = Loss.Grad().Compile();
        Assert.Equal([5, 3, 4], perExample.W.Shape);
        for (int i = 0; i < 5; i++)
        {
            var g = single(p, Row(xs, i), Row(ys, i));
            Assert.True(Row(perExample.W, i).AllClose(g.W, 1e-12, 1e-14), $"example {i}: W");
            Assert.True(Row(perExample.B, i).AllClose(g.B, 1e-12, 1e-14), $"example {i}: B");
        }
    }

    [Fact]
    public void Grad_of_a_function_that_uses_vmap_inside_is_the_mean_of_per_example_gradients()
    {
        var batched = Loss.Vmap([null, 0, 0]);
        Expression<Func<MlpParams, Tensor, Tensor, Tensor>> mean = (p, xs, ys) => Np.Mean(batched.Invoke(p, xs, ys), null, false);
        var p0 = new MlpParams(Rand(5, 3, 4), Rand(6, 3));
        Tensor xs = Rand(7, 6, 4), ys = Rand(8, 6, 3);
        var g = mean.Grad().Compile()(p0, xs, ys);
        var single = Loss.Grad().Compile();
        var gs = Enumerable.Range(0, 6).Select(i => single(p0, Row(xs, i), Row(ys, i))).ToArray();
        var w = gs.Select(x => x.W).Aggregate(Np.Add) / 6.0;
        var b = gs.Select(x => x.B).Aggregate(Np.Add) / 6.0;
        Assert.True(g.W.AllClose(w, 1e-12, 1e-14), $"{g.W} vs {w}");
        Assert.True(g.B.AllClose(b, 1e-12, 1e-14));
        // and against finite differences of the vmapped function itself
        Expression<Func<MlpParams, Tensor>> atData = p => mean.Invoke(p, xs, ys);
        var r = GradCheck.Check(atData, p0);
        Assert.True(r.Ok, r.ToString());
    }

    [Fact]
    public void Vmap_of_vmap_is_a_double_loop()
    {
        Expression<Func<Tensor, Tensor, Tensor>> mv = (a, v) => Np.Tanh(Np.Dot(a, v)) * Np.Sum(v, null, false);
        var inner = mv.Vmap([null, 0]);                  // a: [m,k], vs: [B1,k] -> [B1,m]
        var outer = inner.Vmap([2, 1], outAxes: [-1]);   // as: [m,k,B2], vs: [B1,B2,k] -> [B1,m,B2]
        Tensor a = Rand(9, 3, 4, 2), v = Rand(10, 5, 2, 4);
        var got = outer.Compile()(a, v);
        Assert.Equal([5, 3, 2], got.Shape);
        var f = mv.Compile();
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 2; j++)
            {
                var ai = Np.Reshape(Np.Take(a, new Tensor(new[] { (double)j }), 2), [3, 4]);
                var vij = Np.Reshape(Np.Take(Row(v, i), new Tensor(new[] { (double)j }), 0), [4]);
                var want = f(ai, vij);
                var have = Np.Reshape(Np.Take(Row(got, i), new Tensor(new[] { (double)j }), 1), [3]);
                Assert.True(have.AllClose(want, 1e-12, 1e-14), $"({i},{j}): {have} vs {want}");
            }
    }

    [Fact]
    public void Grad_of_vmap_of_vmap_and_vmap_of_grad_of_vmap_agree_with_loops()
    {
        // per-example gradient (outer vmap) of a loss that itself averages over an inner vmap
        var inner = Loss.Vmap([null, 0, 0]);
        Expression<Func<MlpParams, Tensor, Tensor, Tensor>> groupLoss = (p, xs, ys) => Np.Mean(inner.Invoke(p, xs, ys), null, false);
        var perGroup = groupLoss.Grad().Vmap([null, 0, 0]).Compile();
        var p0 = new MlpParams(Rand(11, 3, 4), Rand(12, 3));
        Tensor xs = Rand(13, 2, 3, 4), ys = Rand(14, 2, 3, 3);
        var got = perGroup(p0, xs, ys);
        var one = groupLoss.Grad().Compile();
        for (int gi = 0; gi < 2; gi++)
        {
            var want = one(p0, Row(xs, gi), Row(ys, gi));
            Assert.True(Row(got.W, gi).AllClose(want.W, 1e-12, 1e-14));
            Assert.True(Row(got.B, gi).AllClose(want.B, 1e-12, 1e-14));
        }
    }

    [Fact]
    public void A_conditional_on_unbatched_data_batches_its_branches()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, c) => (double)Np.Sum(c, null, false) > 0 ? Np.Sin(x) * c : x - Np.Sum(c, null, false);
        var vf = f.Vmap([1, null]).Compile();
        var xs = Rand(15, 3, 4);
        foreach (var c in new[] { Rand(16, 3), -Np.Abs(Rand(17, 3)) - 0.1, Np.Abs(Rand(18, 3)) + 0.1 })
        {
            var got = vf(xs, c);
            var plain = f.Compile();
            for (int i = 0; i < 4; i++)
            {
                var want = plain(Np.Reshape(Np.Take(xs, new Tensor(new[] { (double)i }), 1), [3]), c);
                Assert.True(Row(got, i).AllClose(want, 1e-12, 1e-14));
            }
        }
    }

    [Fact]
    public void Where_with_a_batched_condition_is_a_select()
    {
        Expression<Func<Tensor, Tensor>> f = x => Np.Where(Np.Sum(x, null, false) > 0, x, -x);
        var got = f.Vmap([0]).Compile()(new Tensor(new[,] { { 1.0, 2 }, { -3.0, 1 } }));
        Assert.True(got.AllClose(new Tensor(new[,] { { 1.0, 2 }, { 3.0, -1 } })));
    }

    [Fact]
    public void AxisSize_broadcasts_an_unbatched_function_and_shows_batch_counts()
    {
        Expression<Func<Tensor, Tensor>> f = x => x * 2;
        var got = f.Vmap([null], axisSize: 3).Compile()(new Tensor(new[] { 1.0, 2 }));
        Assert.Equal([3, 2], got.Shape);
        Assert.True(got.AllClose(new Tensor(new[,] { { 2.0, 4 }, { 2.0, 4 }, { 2.0, 4 } })));
        Expression<Func<Tensor, Tensor, Tensor>> dot = (a, b) => Np.Dot(a, b);
        var shown = Ad.Show(dot.Vmap([0, null]));
        Assert.Contains("Np.Dot(", shown);
        Assert.Contains("Lax.Batched(1, ", shown);
    }

    // ------------------------------------------------------------------ bad input

    static readonly Expression<Func<Tensor, Tensor, Tensor>> Add = (x, y) => x + y;

    [Fact]
    public void InAxes_of_the_wrong_length_names_the_arguments()
    {
        var e = Assert.Throws<VmapException>(() => Add.Vmap([0]));
        Assert.Contains("inAxes has 1 entries", e.Message);
        Assert.Contains("takes 2 arguments (x, y)", e.Message);
    }

    [Fact]
    public void An_axis_out_of_range_names_the_argument_and_its_shape()
    {
        var f = Add.Vmap([0, 2]).Compile();
        var e = Assert.Throws<VmapException>(() => f(Np.Ones([3, 2]), Np.Ones([3, 2])));
        Assert.Contains("axis 2 of argument `y`", e.Message);
        Assert.Contains("float32[3,2] (rank 2)", e.Message);
        Assert.Contains("accepted axes are -2 .. 1", e.Message);
    }

    [Fact]
    public void Batch_sizes_that_disagree_name_both_arguments_and_sizes()
    {
        var f = Add.Vmap([0, 1]).Compile();
        var e = Assert.Throws<VmapException>(() => f(Np.Ones([3, 4]), Np.Ones([3, 4])));
        Assert.Contains("argument `x` has size 3 on axis 0", e.Message);
        Assert.Contains("argument `y` has size 4 on axis 1", e.Message);
        var g = Add.Vmap([0, null], axisSize: 5).Compile();
        var e2 = Assert.Throws<VmapException>(() => g(Np.Ones([3]), Np.Ones([3])));
        Assert.Contains("axisSize is 5", e2.Message);
        Assert.Contains("argument `x` has size 3", e2.Message);
    }

    [Fact]
    public void OutAxes_that_do_not_fit_are_rejected()
    {
        Expression<Func<Tensor, (Tensor, Tensor)>> two = x => Np.Tuple(x, x * 2);
        var e = Assert.Throws<VmapException>(() => two.Vmap([0], outAxes: [0, 1, 0]));
        Assert.Contains("outAxes has 3 entries", e.Message);
        Assert.Contains("returns 2 leaves", e.Message);
        var e2 = Assert.Throws<VmapException>(() => two.Vmap([0], outAxes: [0, null]));
        Assert.Contains("output leaf `result.Item2` depends on the batched arguments", e2.Message);
        var f = two.Vmap([0], outAxes: [3]).Compile();
        var e3 = Assert.Throws<ShapeException>(() => f(Np.Ones([2, 3])));
        Assert.Contains("out axis 3", e3.Message);
        Assert.Contains("out of range", e3.Message);
    }

    [Fact]
    public void No_batched_argument_and_no_axis_size_is_an_error()
    {
        var e = Assert.Throws<VmapException>(() => Add.Vmap([null, null]));
        Assert.Contains("no argument", e.Message);
        Assert.Contains("axisSize", e.Message);
    }

    /// <summary>Oracle: a loop of the unbatched function over the rows of <paramref name="xs"/>, stacked.</summary>
    static Tensor Loop(Func<Tensor, Tensor> f, Tensor xs) =>
        Np.Stack(Enumerable.Range(0, xs.Shape[0]).Select(i => f(Np.Reshape(Np.Take(xs, new Tensor(new[] { (double)i }), 0), xs.Shape.Skip(1).ToArray()))).ToArray(), 0);

    [Fact]
    public void A_double_computed_from_a_batched_value_is_one_value_per_example()
    {
        Expression<Func<Tensor, Tensor>> f = x => x * Math.Sin((double)Np.Sum(x, null, false)) + Math.Exp(-(double)Np.Max(x, null, false));
        var xs = Rng.Normal(PrngKey.Create(3), [5, 3], DType.Float64);
        var want = Loop(f.Compile(), xs);
        Assert.True(f.Vmap([0]).Compile()(xs).AllClose(want, 1e-12, 1e-12));
        Assert.True(Ad.Jit(f.Vmap([0]))(xs).AllClose(want, 1e-12, 1e-12));
    }

    [Fact]
    public void A_batched_condition_runs_both_branches_and_selects_per_example()
    {
        // c ? a : b with c computed from the batched argument: as JAX does, both branches run and the condition selects
        Expression<Func<Tensor, Tensor>> f = x => (double)Np.Sum(x, null, false) > 0 && (double)Np.Max(x, null, false) < 1.5
            ? x * 2.0 : Np.Sin(x) - 1.0;
        var xs = Rng.Normal(PrngKey.Create(4), [16, 3], DType.Float64);
        var want = Loop(f.Compile(), xs);
        var vm = f.Vmap([0]);
        Assert.True(vm.Compile()(xs).AllClose(want, 1e-12, 1e-12), Ad.Show(vm));
        Assert.True(Ad.Jit(vm)(xs).AllClose(want, 1e-12, 1e-12));
        // per-example gradients through the conditional, against a loop of the unbatched gradient
        Expression<Func<Tensor, Tensor>> loss = x => Np.Sum((double)Np.Sum(x, null, false) > 0 ? x * x : Np.Sin(x), null, false);
        var g = loss.Grad();
        var gw = Loop(g.Compile(), xs);
        Assert.True(g.Vmap([0]).Compile()(xs).AllClose(gw, 1e-12, 1e-12));
        Assert.True(Ad.Jit(g.Vmap([0]))(xs).AllClose(gw, 1e-12, 1e-12));
        // a C# scalar in one branch meets a batched one in the other
        Expression<Func<Tensor, Tensor>> h = x => Np.Sum(x, null, false) * ((double)Np.Sum(x, null, false) > 0 ? (double)Np.Max(x, null, false) : 0.5);
        Assert.True(h.Vmap([0]).Compile()(xs).AllClose(Loop(h.Compile(), xs), 1e-12, 1e-12));
    }

    [Fact]
    public void A_batched_double_where_csharp_needs_one_value_names_the_subexpression()
    {
        Expression<Func<double, Tensor, Tensor>> g = (d, x) => x * d;
        var e2 = Assert.Throws<VmapException>(() => g.Vmap([0, null]));
        Assert.Contains("argument `d`", e2.Message);
        Assert.Contains("pass a Tensor", e2.Message);

        Expression<Func<Tensor, double>> h = x => (double)Np.Sum(x, null, false);
        var e3 = Assert.Throws<VmapException>(() => h.Vmap([null], outAxes: [0], axisSize: 2));
        Assert.Contains("output leaf `result`", e3.Message);
        Assert.Contains("return a Tensor", e3.Message);
    }

    [Fact]
    public void A_double_argument_held_fixed_is_fine()
    {
        Expression<Func<double, Tensor, Tensor>> g = (d, x) => x * d + Math.Exp(d);
        var got = g.Vmap([null, 0]).Compile()(0.5, new Tensor(new[] { 1.0, 2 }));
        Assert.True(got.AllClose(new Tensor(new[] { 0.5 + Math.Exp(0.5), 1 + Math.Exp(0.5) }), 1e-6));
        // and its gradient through the batch (w.r.t. the double)
        var vg = g.Vmap([null, 0]);
        Expression<Func<double, Tensor, Tensor>> total = (d, xs) => Np.Sum(vg.Invoke(d, xs), null, false);
        double dd = total.Grad().Compile()(0.5, new Tensor(new[] { 1.0, 2 }));
        Assert.Equal(3 + 2 * Math.Exp(0.5), dd, 5);
    }

    [Fact]
    public void Per_leaf_axes_batch_one_leaf_of_a_pytree_along_its_own_axis_and_hold_another_fixed()
    {
        // W batched along its axis 1 (the batch sits between its rows and columns), B the same for every example
        var p = new MlpParams(Rand(11, 3, 5, 4), Rand(12, 3));
        var xs = Rand(13, 5, 4);
        Expression<Func<MlpParams, Tensor, Tensor>> f = (q, x) => Np.Tanh(Np.Dot(q.W, x) + q.B);
        var got = f.Vmap([0, 0], leafAxes: new Dictionary<string, int?> { ["q.W"] = 1, ["q.B"] = null }).Compile()(p, xs);
        var plain = f.Compile();
        Assert.Equal([5, 3], got.Shape);
        for (int i = 0; i < 5; i++)
        {
            var w = Np.Reshape(Np.Take(p.W, new Tensor(new[] { (double)i }), 1), [3, 4]);
            var want = plain(new MlpParams(w, p.B), Row(xs, i));
            Assert.True(Row(got, i).AllClose(want, 1e-12, 1e-14), $"example {i}");
        }
        // and through the jit (the batch loop reads W's per-example slices)
        var jitted = Ad.Jit(f.Vmap([0, 0], leafAxes: new Dictionary<string, int?> { ["q.W"] = 1, ["q.B"] = null }))(p, xs);
        Assert.True(jitted.AllClose(got, 1e-12, 1e-14));
    }

    [Fact]
    public void Per_leaf_axes_naming_no_leaf_is_an_error_that_lists_the_leaves()
    {
        Expression<Func<MlpParams, Tensor, Tensor>> f = (q, x) => Np.Dot(q.W, x) + q.B;
        var e = Assert.Throws<VmapException>(() => f.Vmap([null, 0], leafAxes: new Dictionary<string, int?> { ["q.Bias"] = 0 }));
        Assert.Contains("`q.Bias`", e.Message);
        Assert.Contains("`q.W`, `q.B`, `x`", e.Message);
    }
}
