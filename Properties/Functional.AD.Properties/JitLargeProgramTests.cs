using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// A program too large for one CLR method: the gradient of a recurrence unrolled over 1,000 steps (found by the Scan
/// benchmark: the specialised code threw InvalidProgramException from the CLR). The jit now runs such a program as the
/// plain compiled expression behind its shape guard; the answer must equal <c>Compile()</c> and the Scan form's gradient.
/// </summary>
public class JitLargeProgramTests
{
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Step = (h, x, w) => Tanh(w * h + x);

    sealed class Inline(ParameterExpression a, Expression ea, ParameterExpression b, Expression eb, ParameterExpression c, Expression ec) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => node == a ? ea : node == b ? eb : node == c ? ec : node;
    }

    static Expression<Func<Tensor, Tensor, Tensor, Tensor>> Unrolled(int steps)
    {
        var xs = Expression.Parameter(typeof(Tensor), "xs");
        var h0 = Expression.Parameter(typeof(Tensor), "h0");
        var w = Expression.Parameter(typeof(Tensor), "w");
        Expression h = h0;
        for (int i = 0; i < steps; i++)
        {
            var x = Expression.Call(typeof(Np).GetMethod(nameof(Np.Take))!, xs, Expression.Constant(Tensor.Scalar(i, DType.Float64)), Expression.Constant(0));
            h = new Inline(Step.Parameters[0], h, Step.Parameters[1], x, Step.Parameters[2], w).Visit(Step.Body);
        }
        var sum = Expression.Call(typeof(Np).GetMethod(nameof(Np.Sum), [typeof(Tensor), typeof(int?), typeof(bool)])!, h, Expression.Constant(null, typeof(int?)), Expression.Constant(false));
        return Expression.Lambda<Func<Tensor, Tensor, Tensor, Tensor>>(sum, w, h0, xs);   // w first: Ad.Grad differentiates it
    }

    [Fact]
    public void The_jitted_gradient_of_a_1000_step_unrolled_recurrence_equals_compile_and_the_scan_gradient()
    {
        var r = new Random(0);
        Tensor R(params int[] shape) => new Tensor(Enumerable.Range(0, shape.Aggregate(1, (p, d) => p * d)).Select(_ => r.NextDouble() - 0.5).ToArray(), shape);
        var (xs, h0, w) = (R(1000, 16), R(16), R(16));
        var f = Unrolled(1000);
        var jitted = Ad.Jit(Ad.Grad(f));
        var gw = jitted(w, h0, xs);
        var cw = Ad.Grad(f).Compile()(w, h0, xs);
        Assert.True(gw.AllClose(cw, 1e-12, 1e-14), $"{gw} vs {cw}");
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> looped = (c, b, a) => Sum(Scan(a, b, (Tensor h, Tensor x) => Tuple(Tanh(c * h + x), h)).Item1, null, false);
        var lw = Ad.Grad(looped).Compile()(w, h0, xs);
        Assert.True(gw.AllClose(lw, 1e-9, 1e-12), $"{gw} vs {lw}");
        Assert.True(gw.ToDoubleArray().Any(v => Math.Abs(v) > 1e-6), "a gradient that is not all zeros");
        // the same delegate again: the shape guard passes, no second compile
        Assert.True(jitted(w, h0, xs).AllClose(gw, 0, 0));
        Assert.Equal(1, Ad.JitCompilations(jitted));
        Assert.Contains("too large for the CLR", Ad.Show(Ad.Grad(f), w, h0, xs));
    }
}
