using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

public record XorNet(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

/// <summary>
/// The jit's batch loop: batched nodes with tiny per-example work run as one loop over the batch around unrolled
/// per-example code (vector lanes of consecutive examples where every node has a vector form). The oracle is a loop of
/// the single-example gradient, compiled without the jit.
/// </summary>
public class JitBatchLoopTests
{
    static readonly Expression<Func<XorNet, Tensor, Tensor, Tensor>> Loss = (q, a, t) =>
        Let(1.0 / (1 + Exp(-(Dot(q.W2, Tanh(Dot(q.W1, a) + q.B1)) + q.B2))), o => -t * Log(o) - (1 - t) * Log(1 - o));

    static Tensor Rand(Random r, DType dt, params int[] shape) =>
        new Tensor(Enumerable.Range(0, shape.Aggregate(1, (x, y) => x * y)).Select(_ => r.NextDouble() * 2 - 1).ToArray(), shape).AsType(dt);

    static Tensor Row(Tensor x, int i) => Reshape(Take(x, new Tensor(new[] { (double)i }), 0), x.Shape.Skip(1).ToArray());

    [Theory]
    [InlineData(1, DType.Float32)]
    [InlineData(3, DType.Float64)]
    [InlineData(8, DType.Float32)]
    [InlineData(13, DType.Float32)]
    [InlineData(13, DType.Float64)]
    [InlineData(17, DType.Float32)]
    [InlineData(33, DType.Float32)]
    [InlineData(100, DType.Float32)]
    public void Jitted_per_example_gradients_equal_a_loop_of_single_gradients(int batch, DType dt)
    {
        var r = new Random(batch);
        var p = new XorNet(Rand(r, dt, 3, 2), Rand(r, dt, 3), Rand(r, dt, 3), Rand(r, dt));
        var xs = Rand(r, dt, batch, 2);
        var ys = new Tensor(Enumerable.Range(0, batch).Select(i => (double)(i % 2)).ToArray()).AsType(dt);
        var jitted = Ad.Jit(Ad.Vmap(Ad.Grad(Loss), inAxes: [null, 0, 0]));
        var single = Ad.Grad(Loss).Compile();
        var g = jitted(p, xs, ys);
        double tol = dt == DType.Float32 ? 1e-5 : 1e-12;
        for (int i = 0; i < batch; i++)
        {
            var want = single(p, Row(xs, i), Row(ys, i));
            foreach (var (name, got, w) in new[] { ("W1", g.W1, want.W1), ("B1", g.B1, want.B1), ("W2", g.W2, want.W2), ("B2", g.B2, want.B2) })
            {
                Assert.Equal(dt, got.DType);
                Assert.True(Row(got, i).AllClose(w, tol, tol), $"example {i} of {batch}, {name}: {Row(got, i)} vs {w}");
            }
        }
    }

    [Theory]
    [InlineData(37, DType.Float32, true)]
    [InlineData(10, DType.Float64, false)]
    [InlineData(3, DType.Float64, true)]
    [InlineData(16, DType.Float32, false)]
    public void The_mean_or_sum_over_the_batch_inside_one_jitted_call_equals_a_loop(int batch, DType dt, bool mean)
    {
        var r = new Random(batch);
        var p = new XorNet(Rand(r, dt, 3, 2), Rand(r, dt, 3), Rand(r, dt, 3), Rand(r, dt));
        var xs = Rand(r, dt, batch, 2);
        var ys = new Tensor(Enumerable.Range(0, batch).Select(i => (double)(i % 2)).ToArray()).AsType(dt);
        var vg = Ad.Vmap(Ad.Grad(Loss), inAxes: [null, 0, 0]);
        Expression<Func<XorNet, Tensor, Tensor, XorNet>> reduce = mean
            ? (q, a, t) => Let(vg.Invoke(q, a, t), g => new XorNet(Mean(g.W1, 0, false), Mean(g.B1, 0, false), Mean(g.W2, 0, false), Mean(g.B2, 0, false)))
            : (q, a, t) => Let(vg.Invoke(q, a, t), g => new XorNet(Sum(g.W1, 0, false), Sum(g.B1, 0, false), Sum(g.W2, 0, false), Sum(g.B2, 0, false)));
        var got = Ad.Jit(reduce)(p, xs, ys);
        var single = Ad.Grad(Loss).Compile();
        var sum = Enumerable.Range(0, batch).Select(i => single(p, Row(xs, i), Row(ys, i))).Aggregate((u, v) => new XorNet(u.W1 + v.W1, u.B1 + v.B1, u.W2 + v.W2, u.B2 + v.B2));
        double k = mean ? 1.0 / batch : 1.0;
        double tol = dt == DType.Float32 ? 1e-5 : 1e-12;
        foreach (var (name, g, w) in new[] { ("W1", got.W1, sum.W1), ("B1", got.B1, sum.B1), ("W2", got.W2, sum.W2), ("B2", got.B2, sum.B2) })
        {
            Assert.Equal(dt, g.DType);
            Assert.Equal(w.Shape, g.Shape);
            Assert.True(g.AllClose(w * k, tol, tol), $"{name}: {g} vs {w * k}");
        }
        if (batch >= 8)
            Assert.Contains("accumulated in the batch loop", Ad.Show(reduce, p, xs, ys));
    }

    [Fact]
    public void The_listing_shows_the_batch_loop_and_its_vector_lanes()
    {
        var p = new XorNet(Np.Zeros([3, 2]), Np.Zeros([3]), Np.Zeros([3]), Np.Zeros([]));
        var listing = Ad.Show(Ad.Vmap(Ad.Grad(Loss), inAxes: [null, 0, 0]), p, Np.Zeros([100, 2]), Np.Zeros([100]));
        Assert.Contains("batch loop (100 examples", listing);
        Assert.Contains("in the batch loop", listing);
        if (Fusion.Enabled) Assert.Contains($"{Fusion.Width(typeof(float)).Lanes} per vector", listing);
    }

    [Fact]
    public void One_batch_loop_delegate_called_from_8_threads_with_mixed_batch_sizes_gives_the_sequential_results()
    {
        var r = new Random(3);
        var p = new XorNet(Rand(r, DType.Float32, 3, 2), Rand(r, DType.Float32, 3), Rand(r, DType.Float32, 3), Rand(r, DType.Float32));
        var jitted = Ad.Jit(Ad.Vmap(Ad.Grad(Loss), inAxes: [null, 0, 0]));
        var inputs = Enumerable.Range(0, 16).Select(k => (X: Rand(r, DType.Float32, 5 + k % 4 * 7, 2), Y: Rand(r, DType.Float32, 5 + k % 4 * 7))).ToArray();
        var expected = inputs.Select(x => jitted(p, x.X, x.Y)).ToArray();
        var got = new XorNet[inputs.Length];
        Parallel.For(0, 8, t => { for (int rep = 0; rep < 20; rep++) for (int k = t; k < inputs.Length; k += 8) got[k] = jitted(p, inputs[k].X, inputs[k].Y); });
        for (int k = 0; k < inputs.Length; k++)
            Assert.True(got[k].W1.AllClose(expected[k].W1, 0, 0) && got[k].B2.AllClose(expected[k].B2, 0, 0), $"input {k}");
    }

    /// <summary>
    /// Fuzz finding (the "Jit of Vmap vs Compile" oracle, 20,000-program run): a constant operand of a batched node
    /// (here Take's indices) carries Vmap's size-1 batch axis, folded into the constant; the per-example code must
    /// drop that axis (it indexed with a [1, 3] tensor and failed at specialisation).
    /// </summary>
    [Fact]
    public void A_constant_operand_of_a_batched_node_loses_its_size_1_batch_axis_per_example()
    {
        Expression<Func<Tensor, Tensor>> f = x => Take(Take(BroadcastTo(Mean(x, null, false), new[] { 3 }), new Tensor(new[] { 1.0, 0.0, 1.0 }), 0), new Tensor(new[] { 1.0, 2.0 }), 0);
        var xs = new Tensor(Enumerable.Range(0, 20).Select(i => i * 0.37).ToArray(), [10, 2]);
        var got = Ad.Jit(Ad.Vmap(f, inAxes: [0]))(xs);
        var plain = f.Compile();
        for (int i = 0; i < 10; i++)
            Assert.True(Row(got, i).AllClose(plain(Row(xs, i)), 1e-14, 1e-14), $"example {i}");
    }

    /// <summary>A C# double held fixed meets the batch as a weak rank-0 tensor: the batch loop reads it once, for every example.</summary>
    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void A_double_held_fixed_is_shared_by_every_example_of_the_batch_loop(DType dt)
    {
        Expression<Func<double, Tensor, Tensor>> g = (d, x) => Tanh(x * d + Math.Exp(d)) * x;
        var vg = Ad.Vmap(g, inAxes: [null, 0]);
        var xs = new Tensor(Enumerable.Range(0, 22).Select(i => 0.1 * i - 1).ToArray(), [11, 2]).AsType(dt);
        var got = Ad.Jit(vg)(0.37, xs);
        var plain = g.Compile();
        double tol = dt == DType.Float32 ? 1e-6 : 1e-14;
        for (int i = 0; i < 11; i++)
            Assert.True(Row(got, i).AllClose(plain(0.37, Row(xs, i)), tol, tol), $"example {i}: {Row(got, i)} vs {plain(0.37, Row(xs, i))}");
        Assert.Equal(dt, got.DType);
        Assert.Contains("batch loop (11 examples", Ad.Show(vg, 0.37, xs));
    }
}
