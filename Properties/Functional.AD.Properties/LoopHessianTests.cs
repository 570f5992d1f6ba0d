using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Second derivatives through loops: the derivative of a Scan or Fold is made of Scans, which differentiate again.
/// Hessians, Hessian-vector products and Grad(Grad(...)) through a loop are checked against the same function
/// unrolled (no loop node) and against central differences of the gradient, in float64, on Compile() and Jit.
/// </summary>
public class LoopHessianTests
{
    static Tensor T(params double[] v) => Tensor.FromArray(v, DType.Float64);
    static Tensor Xs => Tensor.FromArray(new double[,] { { 0.3, -0.7, 1.1 }, { 0.2, 0.5, -0.4 }, { -1.0, 0.1, 0.6 }, { 0.8, -0.3, 0.0 } }, DType.Float64);
    static Tensor H => T(0.1, -0.2, 0.4);
    static Tensor W => T(0.9, 0.5, -0.4);

    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Step = (c, x, w) => Tanh(w * c + x);
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Out = (c, x, w) => Sin(c) * x + w;
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Loss = (c, ys, w) => Sum(c * c) + Sum(ys * ys * 0.5);

    static void Close(Tensor a, Tensor b, double tol, string what)
    {
        var x = a.ToDoubleArray(); var y = b.ToDoubleArray();
        Assert.Equal(b.Shape, a.Shape);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"{what}: element {i}: {x[i]} vs {y[i]}");
    }

    /// <summary>The Hessian of <paramref name="f"/> at <paramref name="x"/> by central differences of its gradient (float64).</summary>
    static Tensor FdHessian(Func<Tensor, Tensor> grad, Tensor x, double eps = 1e-5)
    {
        var v = x.ToDoubleArray();
        int n = v.Length;
        var h = new double[n, n];
        for (int j = 0; j < n; j++)
        {
            var p = (double[])v.Clone(); p[j] += eps;
            var m = (double[])v.Clone(); m[j] -= eps;
            var gp = grad(Tensor.FromArray(p, DType.Float64)).ToDoubleArray();
            var gm = grad(Tensor.FromArray(m, DType.Float64)).ToDoubleArray();
            for (int i = 0; i < n; i++) h[i, j] = (gp[i] - gm[i]) / (2 * eps);
        }
        return Tensor.FromArray(h, DType.Float64);
    }

    // the Scan loss as a function of one argument (k: 0 xs flattened is not used; 1 the initial carry h, 2 the weights w)
    static Expression<Func<Tensor, Tensor>> Of(Expression<Func<Tensor, Tensor, Tensor, Tensor>> f, int k)
    {
        var xs = Xs; var h = H; var w = W;
        return k switch
        {
            1 => a => f.Invoke(xs, a, w),
            _ => a => f.Invoke(xs, h, a),
        };
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Scan_hessian_matches_the_unrolled_program_and_central_differences(int k)
    {
        var looped = Of(Unroll.Looped(Step, Out, Loss), k);
        var unrolled = Of(Unroll.Scan(4, Step, Out, Loss), k);
        var at = k == 1 ? H : W;
        var expected = unrolled.Hessian().Compile()(at);
        Close(looped.Hessian().Compile()(at), expected, 1e-10, "eager Hessian vs unrolled");
        Close(looped.Hessian().Jit()(at), expected, 1e-10, "jit Hessian vs unrolled");
        Close(expected, FdHessian(looped.Grad().Compile(), at), 1e-6, "Hessian vs central differences");
    }

    [Fact]
    public void Scan_hvp_and_grad_of_grad_match_the_unrolled_program()
    {
        var looped = Of(Unroll.Looped(Step, Out, Loss), 2);
        var unrolled = Of(Unroll.Scan(4, Step, Out, Loss), 2);
        var v = T(0.3, -1.2, 0.7);
        Close(looped.Hvp().Compile()(W, v), unrolled.Hvp().Compile()(W, v), 1e-10, "Hvp eager");
        Close(looped.Hvp().Jit()(W, v), unrolled.Hvp().Compile()(W, v), 1e-10, "Hvp jit");
        // Grad(Grad(...)) of a scalar function of the scan: the gradient's sum, differentiated again
        Expression<Func<Tensor, Tensor>> g = a => Sum(looped.Grad().Invoke(a) * a);
        Expression<Func<Tensor, Tensor>> gu = a => Sum(unrolled.Grad().Invoke(a) * a);
        Close(g.Grad().Compile()(W), gu.Grad().Compile()(W), 1e-10, "Grad(Grad) eager");
        Close(g.Grad().Jit()(W), gu.Grad().Compile()(W), 1e-10, "Grad(Grad) jit");
    }

    static readonly Expression<Func<Tensor, Tensor>> FoldLoss = x => Sum(Np.Fold(3, x, (double i, Tensor c) => Sin(c) * x + i * 0.1) * x);
    static readonly Expression<Func<Tensor, Tensor>> FoldUnrolled = x =>
        Sum(Let(Sin(x) * x + 0.0, c1 => Let(Sin(c1) * x + 0.1, c2 => Sin(c2) * x + 0.2)) * x);

    [Fact]
    public void Fold_hessian_and_hvp_match_the_unrolled_program_and_central_differences()
    {
        var x = T(0.4, -0.9, 1.3);
        var expected = FoldUnrolled.Hessian().Compile()(x);
        Close(FoldLoss.Hessian().Compile()(x), expected, 1e-10, "eager Hessian vs unrolled");
        Close(FoldLoss.Hessian().Jit()(x), expected, 1e-10, "jit Hessian vs unrolled");
        Close(expected, FdHessian(FoldLoss.Grad().Compile(), x), 1e-6, "Hessian vs central differences");
        var v = T(1.0, 0.5, -2.0);
        Close(FoldLoss.Hvp().Jit()(x, v), FoldUnrolled.Hvp().Compile()(x, v), 1e-10, "Hvp");
    }

    [Fact]
    public void Grad_of_grad_of_a_scalar_fold_matches_the_unrolled_program_and_central_differences()
    {
        Expression<Func<double, double>> f = w => Np.Fold(4, w, (double i, double c) => c * c * 0.3 + Math.Sin(w * c) + i * 0.01);
        Expression<Func<double, double>> u = w =>
            Let(w * w * 0.3 + Math.Sin(w * w), c1 => Let(c1 * c1 * 0.3 + Math.Sin(w * c1) + 0.01, c2 => Let(c2 * c2 * 0.3 + Math.Sin(w * c2) + 0.02, c3 => c3 * c3 * 0.3 + Math.Sin(w * c3) + 0.03)));
        foreach (var w in new[] { 0.3, -0.7, 1.1 })
        {
            double expected = u.Grad().Grad().Compile()(w);
            Assert.Equal(expected, f.Grad().Grad().Compile()(w), 1e-10);
            Assert.Equal(expected, f.Grad().Grad().Jit()(w), 1e-10);
            var g = f.Grad().Compile();
            Assert.Equal(expected, (g(w + 1e-5) - g(w - 1e-5)) / 2e-5, 1e-5);
            // third order too: the derivative loops' derivatives are loops
            Assert.Equal(u.Grad().Grad().Grad().Compile()(w), f.Grad().Grad().Grad().Compile()(w), 1e-9);
        }
    }

    // a While whose trip count the data decides: c = c * (1 + w^2) + 0.5 while Sum(c) < 50
    static Expression<Func<Tensor, Tensor>> WhileLoss(Tensor h) => w => Sum(Sin(While(c => Sum(c) < 50, c => c * (1 + w * w) + 0.5, h)) * w);

    /// <summary>The same function unrolled for the trip count the loop runs at <paramref name="w"/> (constant nearby, so its derivatives are the loop's).</summary>
    static Expression<Func<Tensor, Tensor>> WhileUnrolled(Tensor h, Tensor w)
    {
        int trips = 0;
        for (var c = h; (double)Sum(c) < 50; trips++) c = c * (1 + w * w) + 0.5;
        Assert.True(trips > 3, $"the test needs a loop that runs several trips ({trips})");
        var pw = Expression.Parameter(typeof(Tensor), "w");
        Expression<Func<Tensor, Tensor, Tensor>> step = (c, ww) => c * (1 + ww * ww) + 0.5;
        Expression<Func<Tensor, Tensor, Tensor>> loss = (c, ww) => Sum(Sin(c) * ww);
        Expression e = Expression.Constant(h);
        for (int i = 0; i < trips; i++) e = Unroll.Inline(step, e, pw);
        return Expression.Lambda<Func<Tensor, Tensor>>(Unroll.Inline(loss, e, pw), pw);
    }

    [Fact]
    public void While_hessian_hvp_and_grad_of_grad_match_the_unrolled_program_and_central_differences()
    {
        var h = T(0.5, 1.0, -0.25);
        var w = T(0.4, -0.3, 0.6);
        var looped = WhileLoss(h);
        var unrolled = WhileUnrolled(h, w);
        var expected = unrolled.Hessian().Compile()(w);
        Close(looped.Hessian().Compile()(w), expected, 1e-10, "eager Hessian vs unrolled");
        Close(looped.Hessian().Jit()(w), expected, 1e-10, "jit Hessian vs unrolled");
        Close(expected, FdHessian(looped.Grad().Compile(), w, 1e-6), 1e-5, "Hessian vs central differences");
        var v = T(0.3, -1.2, 0.7);
        Close(looped.Hvp().Jit()(w, v), unrolled.Hvp().Compile()(w, v), 1e-10, "Hvp");
        Expression<Func<Tensor, Tensor>> g = a => Sum(looped.Grad().Invoke(a) * a);
        Expression<Func<Tensor, Tensor>> gu = a => Sum(unrolled.Grad().Invoke(a) * a);
        Close(g.Grad().Jit()(w), gu.Grad().Compile()(w), 1e-10, "Grad(Grad)");
    }

    [Fact]
    public void Second_derivative_of_newtons_square_root_through_a_while_is_minus_a_quarter_a_to_the_minus_three_halves()
    {
        Expression<Func<double, double>> sqrt = a => While((double y) => Math.Abs(y * y - a) > 1e-12 * a, (double y) => 0.5 * (y + a / y), a);
        foreach (var a in new[] { 2.0, 9.0, 0.5 })
        {
            double expected = -0.25 * Math.Pow(a, -1.5);
            Assert.Equal(expected, sqrt.Grad().Grad().Compile()(a), 1e-7);
            Assert.Equal(expected, sqrt.Grad().Grad().Jit()(a), 1e-7);
        }
    }
}

/// <summary>
/// <c>checkpoint: k</c> in the new form: the derivative of a checkpointed Scan is a Scan over segments of k rows whose
/// body re-runs the segment; the value and every derivative equal the plain loop's, and reverse mode stacks n/k carries.
/// </summary>
public class CheckpointedScanTests
{
    static Tensor T(params double[] v) => Tensor.FromArray(v, DType.Float64);
    static Tensor Xs10 => Reshape(Tensor.FromArray(Enumerable.Range(0, 30).Select(i => Math.Sin(i * 0.7)).ToArray(), DType.Float64), [10, 3]);
    static Tensor H => T(0.1, -0.2, 0.4);
    static Tensor W => T(0.9, 0.5, -0.4);

    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Step = (c, x, w) => Tanh(w * c + x);
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Out = (c, x, w) => Sum(Sin(c) * x, null, false);
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Loss = (c, ys, w) => Sum(c * c) + Sum(ys * ys * 0.5);

    static void Close(Tensor a, Tensor b, double tol, string what)
    {
        var x = a.ToDoubleArray(); var y = b.ToDoubleArray();
        Assert.Equal(b.Shape, a.Shape);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"{what}: element {i}: {x[i]} vs {y[i]}");
    }

    static Expression<Func<Tensor, Tensor>> ByW(Expression<Func<Tensor, Tensor, Tensor, Tensor>> f) { var xs = Xs10; var h = H; return w => f.Invoke(xs, h, w); }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(10)]
    [InlineData(20)]
    public void A_checkpointed_scan_has_the_value_gradient_and_hessian_of_the_plain_scan(int k)
    {
        var plain = Unroll.Looped(Step, Out, Loss);
        var ck = Unroll.Looped(Step, Out, Loss, checkpoint: k);
        Close(ck.Jit()(Xs10, H, W), plain.Compile()(Xs10, H, W), 1e-12, "value");
        Close(ck.Grad().Compile()(Xs10, H, W), plain.Grad().Compile()(Xs10, H, W), 1e-12, "d/dxs");
        Close(ck.Grad().Jit()(Xs10, H, W), plain.Grad().Compile()(Xs10, H, W), 1e-12, "d/dxs jit");
        Close(ByW(ck).Grad().Jit()(W), ByW(plain).Grad().Compile()(W), 1e-12, "d/dw");
        Close(ByW(ck).Hessian().Jit()(W), ByW(plain).Hessian().Compile()(W), 1e-10, "Hessian");
        Close(ByW(ck).Hessian().Compile()(W), ByW(plain).Hessian().Compile()(W), 1e-10, "Hessian eager");
    }

    /// <summary>The shapes of the results of the loops at the top level of <paramref name="f"/>'s graph, at the given inputs.</summary>
    static List<string> StackedShapes(LambdaExpression f, params Tensor[] args)
    {
        var g = Reader.Read(f).Graph;
        var av = ShapeInference.Run(g, args.Select(a => (Aval?)a.Aval).ToArray());
        return g.Nodes.Where(n => Tuples.IsProjection(n) && n.Args[0].Op == Prims.Scan && av[n] is not null).Select(n => av[n]!.ToString()).ToList();
    }

    [Fact]
    public void Reverse_mode_of_a_checkpointed_scan_stacks_one_carry_per_segment()
    {
        // 10 steps, carry of 3: the plain gradient stacks the 10 carries; with k = 3, the 3 carries at the starts of
        // the segments and the 1 carry of the tail (the k carries of a segment live only inside the backward loop's body)
        var plain = StackedShapes(Unroll.Looped(Step, Out, Loss).Grad(), Xs10, H, W);
        Assert.Contains(plain, s => s.EndsWith("[10,3]"));
        var ck = StackedShapes(Unroll.Looped(Step, Out, Loss, checkpoint: 3).Grad(), Xs10, H, W);
        Assert.DoesNotContain(ck, s => s.EndsWith("[10,3]"));
        Assert.Contains(ck, s => s.EndsWith("[3,3]"));
        Assert.Contains(ck, s => s.EndsWith("[1,3]"));
    }
}

/// <summary><c>checkpoint: k</c> on a While: differentiated as a While of segments of k guarded trips; the same value and derivatives.</summary>
public class CheckpointedWhileTests
{
    static Tensor T(params double[] v) => Tensor.FromArray(v, DType.Float64);

    static void Close(Tensor a, Tensor b, double tol, string what)
    {
        var x = a.ToDoubleArray(); var y = b.ToDoubleArray();
        Assert.Equal(b.Shape, a.Shape);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"{what}: element {i}: {x[i]} vs {y[i]}");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(50)]
    public void A_checkpointed_while_has_the_value_gradient_and_hessian_of_the_plain_while(int k)
    {
        var h = T(0.5, 1.0, -0.25);
        Expression<Func<Tensor, Tensor>> plain = w => Sum(Sin(While(c => Sum(c) < 50, c => c * (1 + w * w) + 0.5, h)) * w);
        Expression<Func<Tensor, Tensor>> ck = w => Sum(Sin(While(c => Sum(c) < 50, c => c * (1 + w * w) + 0.5, h, k)) * w);
        var w0 = T(0.4, -0.3, 0.6);
        Close(ck.Jit()(w0), plain.Compile()(w0), 1e-12, "value");
        Close(ck.Grad().Compile()(w0), plain.Grad().Compile()(w0), 1e-12, "gradient");
        Close(ck.Grad().Jit()(w0), plain.Grad().Compile()(w0), 1e-12, "gradient, jit");
        Close(ck.Hessian().Jit()(w0), plain.Hessian().Compile()(w0), 1e-10, "Hessian");
        // a loop that stops inside a segment: Newton's square root, whose trips past the end are guarded
        Expression<Func<Tensor, Tensor>> root = a => Sum(While(y => Max(Abs(y * y - a), null, false) > 1e-12, y => 0.5 * (y + a / y), a, k));
        var a0 = T(2.0, 9.0, 0.5);
        Close(root.Grad().Jit()(a0), 0.5 / Sqrt(a0), 1e-9, "d sqrt");
    }
}

/// <summary>A loop with several results runs once: the value and the gradient of a Scan read one forward loop.</summary>
public class LoopRunsOnceTests
{
    static int Scans(LambdaExpression f) => Reader.Read(f).Graph.Nodes.Count(n => n.Op == Prims.Scan);

    [Fact]
    public void The_gradient_of_a_scan_has_one_forward_loop_and_one_backward_loop()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (xs, w) =>
            Let(Scan(xs, w, (Tensor c, Tensor x) => Tuple(Tanh(w * c + x), c * x)), r => Sum(r.Item1) + Sum(r.Item2));
        Assert.Equal(1, Scans(f));                      // the carry and the ys: one node, two results
        Assert.Equal(2, Scans(f.Grad()));               // the forward loop emitting residuals, the reversed loop
        Assert.Equal(2, Scans(f.ValueAndGrad()));       // the value comes from the same forward loop
        Assert.Equal(2, Scans(f.Jvp()));                // forward mode: the loop with residuals and the tangent loop
    }
}
