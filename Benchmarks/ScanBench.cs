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

    static readonly Dictionary<int, Expression<Func<Tensor, Tensor, Tensor, Tensor>>> unrolled = new();

    /// <summary>The same, unrolled: the step inlined once per row (rows read with Np.Take).</summary>
    public static Expression<Func<Tensor, Tensor, Tensor, Tensor>> Unrolled(int steps)
    {
        lock (unrolled)
        {
            if (!unrolled.TryGetValue(steps, out var f)) unrolled[steps] = f = BuildUnrolled(steps);
            return f;
        }
    }

    static Expression<Func<Tensor, Tensor, Tensor, Tensor>> BuildUnrolled(int steps)
    {
        var xs = Expression.Parameter(typeof(Tensor), "xs");
        var h0 = Expression.Parameter(typeof(Tensor), "h0");
        var w = Expression.Parameter(typeof(Tensor), "w");
        var take = typeof(Np).GetMethod(nameof(Np.Take))!;
        Expression h = h0;
        for (int i = 0; i < steps; i++)
        {
            var x = Expression.Call(take, xs, Expression.Constant(Tensor.Scalar(i, DType.Float64)), Expression.Constant(0));
            h = new Inline(Step.Parameters[0], h, Step.Parameters[1], x, Step.Parameters[2], w).Visit(Step.Body);
        }
        var sum = Expression.Call(typeof(Np).GetMethod(nameof(Np.Sum), [typeof(Tensor), typeof(int?), typeof(bool)])!, h, Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        return Expression.Lambda<Func<Tensor, Tensor, Tensor, Tensor>>(sum, xs, h0, w);
    }

    sealed class Inline(ParameterExpression a, Expression ea, ParameterExpression b, Expression eb, ParameterExpression c, Expression ec) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => node == a ? ea : node == b ? eb : node == c ? ec : node;
    }

    public static (Tensor Xs, Tensor H0, Tensor W) Inputs(int steps)
    {
        var rng = new Random(0);
        Tensor R(params int[] shape) => Reshape(Tensor.FromArray(Enumerable.Range(0, shape.Aggregate(1, (p, d) => p * d)).Select(_ => rng.NextDouble() - 0.5).ToArray(), DType.Float64), shape);
        return (R(steps, Hidden), R(Hidden), R(Hidden));
    }
}

/// <summary>
/// Transform + compile + first call of the recurrence, Scan vs unrolled (warm). At 1,000 steps the unrolled rows
/// use the un-jitted path (<c>Compile()</c>): when this benchmark was written the CPU jit could not compile that
/// program (InvalidProgramException from the CLR); it now falls back to the plain compiled expression for a program
/// too large for one method. At 100 steps both are jitted too.
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ScanCompile
{
    Tensor xs = null!, h0 = null!, w = null!;

    [Params(100, 1000)]
    public int Steps;

    [GlobalSetup]
    public void Setup() => (xs, h0, w) = ScanModel.Inputs(Steps);

    [Benchmark(Baseline = true, Description = "unrolled: f.Compile() + call"), BenchmarkCategory("value")]
    public Tensor UnrolledCompile() => ScanModel.Unrolled(Steps).Compile()(xs, h0, w);

    [Benchmark(Description = "unrolled: Ad.Jit(f) + first call"), BenchmarkCategory("value")]
    public Tensor UnrolledJit() => Steps > 100 ? throw new NotSupportedException("the CPU jit fails on this program") : Ad.Jit(ScanModel.Unrolled(Steps))(xs, h0, w);

    [Benchmark(Description = "Np.Scan: Ad.Jit(f) + first call"), BenchmarkCategory("value")]
    public Tensor ScanJit() => Ad.Jit(ScanModel.Looped)(xs, h0, w);

    [Benchmark(Baseline = true, Description = "unrolled: Ad.Grad(f).Compile() + call"), BenchmarkCategory("gradient")]
    public Tensor UnrolledGradCompile() => Ad.Grad(ScanModel.Unrolled(Steps)).Compile()(xs, h0, w);

    [Benchmark(Description = "unrolled: Ad.Jit(Ad.Grad(f)) + first call"), BenchmarkCategory("gradient")]
    public Tensor UnrolledGradJit() => Steps > 100 ? throw new NotSupportedException("the CPU jit fails on this program") : Ad.Jit(Ad.Grad(ScanModel.Unrolled(Steps)))(xs, h0, w);

    [Benchmark(Description = "Np.Scan: Ad.Grad(f).Compile() + call"), BenchmarkCategory("gradient")]
    public Tensor ScanGradCompile() => Ad.Grad(ScanModel.Looped).Compile()(xs, h0, w);

    [Benchmark(Description = "Np.Scan: Ad.Jit(Ad.Grad(f)) + first call"), BenchmarkCategory("gradient")]
    public Tensor ScanGradJit() => Ad.Jit(Ad.Grad(ScanModel.Looped))(xs, h0, w);
}

/// <summary>Run time of the compiled recurrence and of its gradient, Scan vs unrolled.</summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ScanRun
{
    Tensor xs = null!, h0 = null!, w = null!;
    Func<Tensor, Tensor, Tensor, Tensor> unrolled = null!, unrolledJit = null!, loopedJit = null!, unrolledGrad = null!, unrolledGradJit = null!, loopedGrad = null!, loopedGradJit = null!;

    [Params(100, 1000)]
    public int Steps;

    [GlobalSetup]
    public void Setup()
    {
        (xs, h0, w) = ScanModel.Inputs(Steps);
        var u = ScanModel.Unrolled(Steps);
        unrolled = u.Compile();
        unrolledGrad = Ad.Grad(u).Compile();
        unrolledJit = Steps > 100 ? (_, _, _) => throw new NotSupportedException("the CPU jit fails on this program") : Ad.Jit(u);
        unrolledGradJit = Steps > 100 ? (_, _, _) => throw new NotSupportedException("the CPU jit fails on this program") : Ad.Jit(Ad.Grad(u));
        loopedJit = Ad.Jit(ScanModel.Looped);
        loopedGrad = Ad.Grad(ScanModel.Looped).Compile();
        loopedGradJit = Ad.Jit(Ad.Grad(ScanModel.Looped));
        // same values (the benchmark is meaningless otherwise)
        if (Math.Abs((double)unrolled(xs, h0, w) - (double)loopedJit(xs, h0, w)) > 1e-9) throw new InvalidOperationException("Scan and unrolled values differ.");
        var d = (unrolledGrad(xs, h0, w) - loopedGradJit(xs, h0, w)).ToDoubleArray();
        if (d.Any(v => Math.Abs(v) > 1e-9)) throw new InvalidOperationException("Scan and unrolled gradients differ.");
    }

    [Benchmark(Baseline = true, Description = "unrolled, f.Compile()"), BenchmarkCategory("value")]
    public Tensor Unrolled() => unrolled(xs, h0, w);

    [Benchmark(Description = "unrolled, jitted"), BenchmarkCategory("value")]
    public Tensor UnrolledJit() => unrolledJit(xs, h0, w);

    [Benchmark(Description = "Np.Scan, jitted"), BenchmarkCategory("value")]
    public Tensor LoopedJit() => loopedJit(xs, h0, w);

    [Benchmark(Baseline = true, Description = "unrolled, Ad.Grad(f).Compile()"), BenchmarkCategory("gradient")]
    public Tensor UnrolledGrad() => unrolledGrad(xs, h0, w);

    [Benchmark(Description = "unrolled, gradient, jitted"), BenchmarkCategory("gradient")]
    public Tensor UnrolledGradJit() => unrolledGradJit(xs, h0, w);

    [Benchmark(Description = "Np.Scan, Ad.Grad(f).Compile()"), BenchmarkCategory("gradient")]
    public Tensor LoopedGrad() => loopedGrad(xs, h0, w);

    [Benchmark(Description = "Np.Scan, gradient, jitted"), BenchmarkCategory("gradient")]
    public Tensor LoopedGradJit() => loopedGradJit(xs, h0, w);
}
