using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Functional.AD;
using static Functional.AD.Np;

namespace Benchmarks;

/// <summary>
/// A recurrence over 1,000 steps, h' = tanh(w * h + x_t) with h of 16 float64 values, loss sum(h_final): written
/// with Np.Scan (one loop node, its body a sub-graph) and as the unrolled expression (the body inlined 1,000 times).
/// </summary>
public static class ScanModel
{
    public const int Steps = 1000, Hidden = 16;

    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Step = (h, x, w) => Tanh(w * h + x);

    /// <summary>(xs, h0, w) =&gt; Sum(Np.Scan(xs, h0, (h, x) =&gt; (step, h)).Carry).</summary>
    public static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Looped =
        (xs, h0, w) => Sum(Scan(xs, h0, (Tensor h, Tensor x) => Tuple(Tanh(w * h + x), h)).Item1);

    /// <summary>The same, unrolled: the step inlined once per row (rows read with Np.Take).</summary>
    public static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Unrolled = BuildUnrolled();

    static Expression<Func<Tensor, Tensor, Tensor, Tensor>> BuildUnrolled()
    {
        var xs = Expression.Parameter(typeof(Tensor), "xs");
        var h0 = Expression.Parameter(typeof(Tensor), "h0");
        var w = Expression.Parameter(typeof(Tensor), "w");
        var take = typeof(Np).GetMethod(nameof(Np.Take))!;
        Expression h = h0;
        for (int i = 0; i < Steps; i++)
        {
            var x = Expression.Call(take, xs, Expression.Constant(Tensor.Scalar(i, DType.Float64)), Expression.Constant(0));
            h = new Inline(Step.Parameters[0], h, Step.Parameters[1], x, Step.Parameters[2], w).Visit(Step.Body);
        }
        var sum = Expression.Call(typeof(Np).GetMethod(nameof(Np.Sum))!, h, Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        return Expression.Lambda<Func<Tensor, Tensor, Tensor, Tensor>>(sum, xs, h0, w);
    }

    sealed class Inline(ParameterExpression a, Expression ea, ParameterExpression b, Expression eb, ParameterExpression c, Expression ec) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => node == a ? ea : node == b ? eb : node == c ? ec : node;
    }

    public static (Tensor Xs, Tensor H0, Tensor W) Inputs()
    {
        var rng = new Random(0);
        Tensor R(params int[] shape) => Reshape(Tensor.FromArray(Enumerable.Range(0, shape.Aggregate(1, (p, d) => p * d)).Select(_ => rng.NextDouble() - 0.5).ToArray(), DType.Float64), shape);
        return (R(Steps, Hidden), R(Hidden), R(Hidden));
    }
}

/// <summary>Transform + compile + first call of the 1,000-step recurrence, Scan vs unrolled (warm).</summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ScanCompile
{
    Tensor xs = null!, h0 = null!, w = null!;

    [GlobalSetup]
    public void Setup() => (xs, h0, w) = ScanModel.Inputs();

    [Benchmark(Baseline = true, Description = "unrolled: Ad.Jit(f) + first call"), BenchmarkCategory("value")]
    public Tensor UnrolledJit() => Ad.Jit(ScanModel.Unrolled)(xs, h0, w);

    [Benchmark(Description = "Np.Scan: Ad.Jit(f) + first call"), BenchmarkCategory("value")]
    public Tensor ScanJit() => Ad.Jit(ScanModel.Looped)(xs, h0, w);

    [Benchmark(Baseline = true, Description = "unrolled: Ad.Jit(Ad.Grad(f)) + first call"), BenchmarkCategory("gradient")]
    public Tensor UnrolledGradJit() => Ad.Jit(Ad.Grad(ScanModel.Unrolled))(xs, h0, w);

    [Benchmark(Description = "Np.Scan: Ad.Jit(Ad.Grad(f)) + first call"), BenchmarkCategory("gradient")]
    public Tensor ScanGradJit() => Ad.Jit(Ad.Grad(ScanModel.Looped))(xs, h0, w);
}

/// <summary>Run time of the jitted 1,000-step recurrence and of its gradient, Scan vs unrolled.</summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ScanRun
{
    Tensor xs = null!, h0 = null!, w = null!;
    Func<Tensor, Tensor, Tensor, Tensor> unrolled = null!, looped = null!, unrolledGrad = null!, loopedGrad = null!;

    [GlobalSetup]
    public void Setup()
    {
        (xs, h0, w) = ScanModel.Inputs();
        unrolled = Ad.Jit(ScanModel.Unrolled);
        looped = Ad.Jit(ScanModel.Looped);
        unrolledGrad = Ad.Jit(Ad.Grad(ScanModel.Unrolled));
        loopedGrad = Ad.Jit(Ad.Grad(ScanModel.Looped));
        // same values (the benchmark is meaningless otherwise)
        if (Math.Abs((double)unrolled(xs, h0, w) - (double)looped(xs, h0, w)) > 1e-9) throw new InvalidOperationException("Scan and unrolled values differ.");
        var d = (unrolledGrad(xs, h0, w) - loopedGrad(xs, h0, w)).ToDoubleArray();
        if (d.Any(v => Math.Abs(v) > 1e-9)) throw new InvalidOperationException("Scan and unrolled gradients differ.");
    }

    [Benchmark(Baseline = true, Description = "unrolled, jitted"), BenchmarkCategory("value")]
    public Tensor Unrolled() => unrolled(xs, h0, w);

    [Benchmark(Description = "Np.Scan, jitted"), BenchmarkCategory("value")]
    public Tensor Looped() => looped(xs, h0, w);

    [Benchmark(Baseline = true, Description = "unrolled, gradient, jitted"), BenchmarkCategory("gradient")]
    public Tensor UnrolledGrad() => unrolledGrad(xs, h0, w);

    [Benchmark(Description = "Np.Scan, gradient, jitted"), BenchmarkCategory("gradient")]
    public Tensor LoopedGrad() => loopedGrad(xs, h0, w);
}
