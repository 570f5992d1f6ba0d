using System.Linq.Expressions;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Fused elementwise chains of large tensors (one vector loop per chain) against plain <c>Compile()</c> of the same
/// expression (eager TensorPrimitives kernels, one fresh array per node), and the listing saying they were fused.
/// </summary>
public class JitFusionTests(ITestOutputHelper output)
{
    /// <summary>A long chain: arithmetic, exp, log, tanh, sigmoid, abs, sqrt, a comparison and a select, with broadcast scalars.</summary>
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Chain = (x, y, s) =>
        Tanh(x * y + 2.0) * Exp(-x) - Sigmoid(y) / (1 + Abs(x)) + Log(1 + x * x) * s
        + Where(Greater(x, y), Sqrt(Abs(y)), -x) - StopGradient(x) / (s + 3.0);

    /// <summary>An intermediate (a) is also returned and another (b) feeds a reduction: both must be written.</summary>
    static readonly Expression<Func<Tensor, Tensor, (Tensor, Tensor)>> TwoOutputs = (x, y) =>
        Let(x * y + 1.0, a => Let(Exp(-a) * x, b => new ValueTuple<Tensor, Tensor>(a, Sum(b, null, false) + Sum(Tanh(b) - y, null, false))));

    static Tensor Normal(int seed, int[] shape, DType t) => Rng.Normal(PrngKey.Create(seed), shape, t);

    static int FusedLines(string listing, out int chains)
    {
        chains = Regex.Matches(listing, @"fused #(\d+)").Select(m => m.Groups[1].Value).Distinct().Count();
        return listing.Split('\n').Count(l => l.Contains("fused #"));
    }

    [Theory]
    [InlineData(DType.Float32, 100, 100)]
    [InlineData(DType.Float64, 100, 100)]
    [InlineData(DType.Float32, 3, 3337)]   // 10,011 elements: a scalar tail after the vector lanes
    [InlineData(DType.Float64, 3, 3337)]
    public void A_long_elementwise_chain_is_fused_into_one_loop_and_equals_compile(DType t, int rows, int cols)
    {
        var x = Normal(1, [rows, cols], t);
        var y = Normal(2, [rows, cols], t);
        foreach (var s in new[] { new Tensor(0.5).AsType(t), new Tensor(new[] { 0.25 }).AsType(t) })   // rank 0 and size 1
        {
            var expected = Chain.Compile()(x, y, s);
            var actual = Chain.Jit()(x, y, s);
            Assert.Null(JitTests.Differ(expected, actual));
        }
        var listing = Ad.Show(Chain, x, y, new Tensor(0.5).AsType(t));
        output.WriteLine(listing);
        int lines = FusedLines(listing, out int chains);
        Assert.Equal(1, chains);
        Assert.True(lines >= 20, $"expected the whole chain fused, got {lines} fused nodes");
        Assert.DoesNotContain("eager", listing);
    }

    /// <summary>A convolution's bias and activation: a per-channel operand, broadcast along the leading and trailing axes.</summary>
    static readonly Expression<Func<Tensor, Tensor, Tensor>> BiasRelu = (x, b) => Relu(x * 2.0 + b) - Sigmoid(b * x);

    [Theory]
    [InlineData(DType.Float32, new[] { 4, 16, 8, 8 }, new[] { 16, 1, 1 }, true)]
    [InlineData(DType.Float64, new[] { 4, 16, 8, 8 }, new[] { 16, 1, 1 }, true)]
    [InlineData(DType.Float32, new[] { 3, 5, 2, 16 }, new[] { 1, 5, 1, 1 }, true)]    // leading 1s; inner 32
    [InlineData(DType.Float64, new[] { 4, 2, 3, 16 }, new[] { 2, 3, 1 }, true)]       // a span of two axes; inner 16
    [InlineData(DType.Float32, new[] { 7, 3, 16, 1 }, new[] { 3, 16, 1 }, true)]      // trailing 1s in both: a row operand (inner 1)
    [InlineData(DType.Float16, new[] { 4, 16, 8, 8 }, new[] { 16, 1, 1 }, true)]     // a half operand, widened once
    [InlineData(DType.BFloat16, new[] { 4, 16, 8, 8 }, new[] { 16, 1, 1 }, true)]
    [InlineData(DType.Float32, new[] { 4, 16, 3, 3 }, new[] { 16, 1, 1 }, false)]     // inner 9: not a multiple of the lanes
    public void A_per_channel_operand_joins_the_fused_loop_and_equals_compile(DType t, int[] xs, int[] bs, bool fused)
    {
        var x = Normal(11, xs, t);
        var b = Normal(12, bs, t);
        // a fused half loop computes in float32 and rounds once: the float32 computation rounded, exactly
        bool half = t is DType.Float16 or DType.BFloat16;
        var expected = half ? BiasRelu.Compile()(x.AsType(DType.Float32), b.AsType(DType.Float32)).AsType(t) : BiasRelu.Compile()(x, b);
        Assert.Null(JitTests.Differ(expected, BiasRelu.Jit()(x, b)));
        var listing = Ad.Show(BiasRelu, x, b);
        output.WriteLine(listing);
        int lines = FusedLines(listing, out int chains);
        if (fused)
        {
            Assert.Equal(1, chains);
            Assert.DoesNotContain("eager", listing);
        }
        else Assert.Contains("eager", listing);
        // its gradient too (the bias's cotangent is a reduction over the broadcast axes)
        Expression<Func<Tensor, Tensor, Tensor>> loss = (b, x) => Sum(BiasRelu.Invoke(x, b) * x, null, false);
        var g = Ad.Grad(loss);
        if (!half) Assert.Null(JitTests.Differ(g.Compile()(b, x), g.Jit()(b, x)));
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void Chain_members_used_outside_the_chain_are_written_and_equal_compile(DType t)
    {
        var x = Normal(3, [10000], t);
        var y = Normal(4, [10000], t);
        Assert.Null(JitTests.Differ(TwoOutputs.Compile()(x, y), TwoOutputs.Jit()(x, y)));
        var listing = Ad.Show(TwoOutputs, x, y);
        output.WriteLine(listing);
        Assert.Contains("written", listing);
        Assert.True(FusedLines(listing, out _) >= 4);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void The_gradient_of_a_long_chain_is_fused_and_equals_compile(DType t)
    {
        Expression<Func<Tensor, Tensor, Tensor>> loss = (x, y) => Sum(Tanh(x * y + 2.0) * Exp(-x) - Sigmoid(y) / (1 + Abs(x)) + Log(1 + x * x), null, false);
        var g = Ad.Grad(loss);
        var x = Normal(5, [100, 100], t);
        var y = Normal(6, [100, 100], t);
        Assert.Null(JitTests.Differ(g.Compile()(x, y), g.Jit()(x, y)));
        var listing = Ad.Show(g, x, y);
        output.WriteLine(listing);
        Assert.True(FusedLines(listing, out _) >= 10);
    }

    /// <summary>
    /// The gradient of a sum or a mean: reverse mode broadcasts the scalar cotangent to the summed shape
    /// (<c>Lax.ExpandReduced</c>, <c>Lax.ExpandReducedMean</c>) and multiplies it into the next step; the jit reads the scalar inside that step's loop, and the broadcast tensor is
    /// not made. Where the broadcast is returned, or where nothing else gives the step its shape (two broadcasts added),
    /// a tensor is still made. Each against plain <c>Compile()</c> (eager kernels, no rewrite).
    /// </summary>
    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void The_scalar_cotangent_of_a_sum_is_read_as_a_scalar_not_broadcast_into_a_tensor(DType t)
    {
        var x = Normal(9, [64, 100], t);
        var w = Normal(10, [64, 100], t);
        void ReadAsScalar(Expression<Func<Tensor, Tensor, Tensor>> loss)
        {
            var g = Ad.Grad(loss);
            Assert.Null(JitTests.Differ(g.Compile()(x, w), g.Jit()(x, w)));
            var listing = Ad.Show(g, x, w);
            output.WriteLine(listing);
            Assert.DoesNotContain("ExpandReduced", listing);
        }
        ReadAsScalar((x, w) => Sum(Relu(x * w) + Tanh(x), null, false) * Sum(w, null, false));
        // a mean's transpose: the element divided by the count, then read as a scalar (the same division the eager
        // Lax.ExpandReducedMean makes before it expands)
        ReadAsScalar((x, w) => Mean(Relu(x * w) + Tanh(x), null, false) * Sum(w, null, false));

        // the gradient of Sum(v) * Sum(v) is two broadcasts added: the sum's shape comes from them alone
        Expression<Func<Tensor, Tensor>> square = v => Sum(v, null, false) * Sum(v, null, false);
        var gs = Ad.Grad(square);
        var got = gs.Jit()(x);
        Assert.Equal(x.Shape.ToArray(), got.Shape.ToArray());
        Assert.Null(JitTests.Differ(gs.Compile()(x), got));
        var listing2 = Ad.Show(gs, x);
        output.WriteLine(listing2);
        Assert.Contains("ExpandReduced", listing2);

        // a broadcast that is itself returned
        var shape = w.Aval;
        Expression<Func<Tensor, Tensor, (Tensor, Tensor)>> both = (v, u) =>
            new ValueTuple<Tensor, Tensor>(Lax.ExpandReduced(Sum(v, null, false), shape, null, false), u * Lax.ExpandReduced(Sum(v, null, false), shape, null, false));
        Assert.Null(JitTests.Differ(both.Compile()(x, w), both.Jit()(x, w)));
    }

    [Fact]
    public void Small_tensors_stay_unrolled_and_mixed_shapes_are_not_fused_together()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, r) => Exp(x * 2.0) + r;   // r [100] broadcast against x [100, 100]
        var x = Normal(7, [100, 100], DType.Float32);
        var r = Normal(8, [100], DType.Float32);
        Assert.Null(JitTests.Differ(f.Compile()(x, r), f.Jit()(x, r)));
        Assert.Contains("unrolled", Ad.Show(f, Normal(7, [2, 2], DType.Float32), Normal(8, [2], DType.Float32)));
    }
}
