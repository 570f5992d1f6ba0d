using System.Linq.Expressions;
using Xunit;
using Xunit.Abstractions;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Intermediates of large tensors kept in per-call arenas, and bias rows fused into elementwise loops: the jitted
/// gradient of a small tanh MLP against plain <c>Compile()</c> of the same expression (eager kernels, a fresh array per
/// node), called again and from 8 threads at once, with the returned gradients checked to stay unchanged afterwards.
/// </summary>
public class JitArenaTests(ITestOutputHelper output)
{
    /// <summary>The net's parameters (a test twin of the benchmark's MLP, smaller).</summary>
    public record Mlp(Tensor W1, Tensor B1, Tensor W2, Tensor B2);

    static readonly Expression<Func<Mlp, Tensor, Tensor, Tensor>> Loss = (p, x, y) =>
        -Mean(Sum(y * LogSoftmax(MatMul(Tanh(MatMul(x, p.W1) + p.B1), p.W2) + p.B2, -1), -1, false), null, false);

    static (Tensor, Tensor, Tensor, Tensor) Tup(Mlp m) => (m.W1, m.B1, m.W2, m.B2);

    static Tensor Normal(int seed, int[] shape, DType t, double scale = 1) => Rng.Normal(PrngKey.Create(seed), shape, t) * scale;

    static (Mlp P, Tensor X, Tensor Y) Case(int seed, DType t, int batch = 32) =>
        (new Mlp(Normal(seed, [40, 64], t, 0.2), Normal(seed + 1, [64], t), Normal(seed + 2, [64, 16], t, 0.2), Normal(seed + 3, [16], t)),
         Normal(seed + 4, [batch, 40], t),
         OneHot(new Tensor(Enumerable.Range(0, batch).Select(k => (double)((k * 7 + seed) % 16)).ToArray()), 16, t));

    /// <summary>
    /// Reshape and Transpose may return a view of their operand (a transpose that moves only length-1 axes shares the
    /// storage), so the arena looks through them: an intermediate read only through a view is pooled, one that reaches
    /// a result through a view is not.
    /// </summary>
    [Fact]
    public void Results_that_are_views_of_intermediates_stay_fresh_and_intermediates_read_through_views_are_pooled_correctly()
    {
        Expression<Func<Tensor, Tensor, (Tensor, Tensor, Tensor)>> f = (x, w) => Np.Tuple(
            Reshape(Tanh(x) * 2 + 1, new[] { 1, 64, 16 }),                                    // returned through a reshape
            Transpose(Reshape(MatMul(x, w), new[] { 64, 1, 8 }), new[] { 1, 0, 2 }),           // through a view-transpose
            Sum(Transpose(Reshape(Exp(x * 0.1), new[] { 64, 1, 16 }), new[] { 1, 0, 2 }) * 3, null, false));   // read only
        var plain = f.Compile();
        var jitted = f.Jit();
        var (x1, w1) = (Normal(1, [64, 16], DType.Float32), Normal(2, [16, 8], DType.Float32));
        var (x2, w2) = (Normal(3, [64, 16], DType.Float32), Normal(4, [16, 8], DType.Float32));
        var first = jitted(x1, w1);
        var copy = Tree.Map(g => g * 1.0, first);
        Assert.Null(JitTests.Differ(plain(x1, w1), first));
        for (int i = 0; i < 3; i++) Assert.Null(JitTests.Differ(plain(x2, w2), jitted(x2, w2)));
        Assert.Null(JitTests.Differ(copy, first));
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Mlp_gradient_with_pooled_intermediates_equals_compile_and_its_outputs_stay_fresh(DType t)
    {
        var grad = Ad.Grad(Loss);
        var plain = grad.Compile();
        var jitted = grad.Jit();
        var (p1, x1, y1) = Case(1, t);
        var (p2, x2, y2) = Case(11, t);
        var first = jitted(p1, x1, y1);
        var firstCopy = Tree.Map(g => g * 1.0, first);
        Assert.Null(JitTests.Differ(Tup(plain(p1, x1, y1)), Tup(first)));
        for (int i = 0; i < 3; i++) Assert.Null(JitTests.Differ(Tup(plain(p2, x2, y2)), Tup(jitted(p2, x2, y2))));   // arena reused
        Assert.Null(JitTests.Differ(Tup(firstCopy), Tup(first)));   // later calls did not write into an earlier result
        var listing = Ad.Show(grad, p1, x1, y1);
        output.WriteLine(listing);
        Assert.Contains("p.B1 + ", listing.Split('\n').First(l => l.Contains("p.B1 + ")));
        Assert.Contains("fused", listing.Split('\n').First(l => l.Contains("p.B1 + ")));   // the bias row joins the tanh loop
        Assert.Contains("gemm", listing);
    }

    [Fact]
    public void Mlp_gradient_called_from_8_threads_at_once_gives_each_its_own_result()
    {
        var grad = Ad.Grad(Loss);
        var plain = grad.Compile();
        var jitted = grad.Jit();
        var cases = Enumerable.Range(0, 4).Select(k => Case(100 + 10 * k, DType.Float32)).ToArray();
        var expected = cases.Select(c => plain(c.P, c.X, c.Y)).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var barrier = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(th => new Thread(() =>
        {
            barrier.SignalAndWait();
            for (int r = 0; r < 30; r++)
            {
                int i = (th + r) % cases.Length;
                if (JitTests.Differ(Tup(expected[i]), Tup(jitted(cases[i].P, cases[i].X, cases[i].Y))) is { } d) failures.Add($"thread {th}, case {i}: {d}");
            }
        })).ToList();
        threads.ForEach(x => x.Start());
        threads.ForEach(x => x.Join());
        Assert.Empty(failures);
    }

    [Theory]
    [InlineData(DType.Float32, 5, 24)]
    [InlineData(DType.Float64, 7, 12)]
    [InlineData(DType.Float32, 3, 20)]    // a row of 20 floats is not a multiple of the vector width: not fused, still equal
    public void A_bias_row_broadcast_against_a_matrix_is_fused_and_equals_compile(DType t, int rows, int cols)
    {
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> f = (x, b, c) => Tanh(x * 2.0 + b) * c - b;
        var x = Normal(3, [rows, cols], t);
        var b = Normal(4, [cols], t);
        var c = Normal(5, [1, cols], t);
        Assert.Null(JitTests.Differ(f.Compile()(x, b, c), f.Jit()(x, b, c)));
        var listing = Ad.Show(f, x, b, c);
        output.WriteLine(listing);
        bool fits = cols % (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? 64 / DTypes.ItemSize(t) : 32 / DTypes.ItemSize(t)) == 0;
        Assert.Equal(fits, !listing.Contains("eager"));
    }
}
