using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>Builds unrolled equivalents of loops as expression trees: the loop body inlined once per step.</summary>
public static class Unroll
{
    sealed class Subst(IReadOnlyDictionary<ParameterExpression, Expression> map) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => map.TryGetValue(node, out var e) ? e : node;
    }

    /// <summary>The body of <paramref name="l"/> with its parameters replaced by <paramref name="args"/>.</summary>
    public static Expression Inline(LambdaExpression l, params Expression[] args) =>
        new Subst(l.Parameters.Select((p, i) => (p, args[i])).ToDictionary(t => t.p, t => t.Item2)).Visit(l.Body);

    /// <summary>Row <paramref name="i"/> of <paramref name="xs"/>, as a readable call.</summary>
    public static Expression Row(Expression xs, int i) =>
        Expression.Call(typeof(Np).GetMethod(nameof(Np.Take))!, xs, Expression.Constant(Tensor.Scalar(i, DType.Float64)), Expression.Constant(0));

    /// <summary>
    /// The unrolled scan of <paramref name="step"/> (<c>(carry, x, w) =&gt; next</c>) and <paramref name="out"/>
    /// (<c>(carry, x, w) =&gt; y</c>) over <paramref name="n"/> rows, reduced by <paramref name="loss"/> (<c>(carry, ys, w) =&gt; scalar</c>):
    /// an expression <c>(xs, h, w) =&gt; loss(final carry, Stack(ys), w)</c>.
    /// </summary>
    public static Expression<Func<Tensor, Tensor, Tensor, Tensor>> Scan(int n, Expression<Func<Tensor, Tensor, Tensor, Tensor>> step,
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> @out, Expression<Func<Tensor, Tensor, Tensor, Tensor>> loss)
    {
        var xs = Expression.Parameter(typeof(Tensor), "xs");
        var h = Expression.Parameter(typeof(Tensor), "h");
        var w = Expression.Parameter(typeof(Tensor), "w");
        Expression c = h;
        var ys = new List<Expression>();
        for (int i = 0; i < n; i++)
        {
            ys.Add(Inline(@out, c, Row(xs, i), w));
            c = Inline(step, c, Row(xs, i), w);
        }
        var stacked = Expression.Call(typeof(Np).GetMethod(nameof(Np.Stack))!, Expression.NewArrayInit(typeof(Tensor), ys), Expression.Constant(0));
        return Expression.Lambda<Func<Tensor, Tensor, Tensor, Tensor>>(Inline(loss, c, stacked, w), xs, h, w);
    }

    /// <summary>The same loop written with <see cref="Np.Scan(Tensor, Tensor, Func{Tensor, Tensor, ValueTuple{Tensor, Tensor}}, int, int)"/>.</summary>
    public static Expression<Func<Tensor, Tensor, Tensor, Tensor>> Looped(Expression<Func<Tensor, Tensor, Tensor, Tensor>> step,
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> @out, Expression<Func<Tensor, Tensor, Tensor, Tensor>> loss, int checkpoint = 1)
    {
        var xs = Expression.Parameter(typeof(Tensor), "xs");
        var h = Expression.Parameter(typeof(Tensor), "h");
        var w = Expression.Parameter(typeof(Tensor), "w");
        var c = Expression.Parameter(typeof(Tensor), "c");
        var x = Expression.Parameter(typeof(Tensor), "x");
        var tuple = typeof(Np).GetMethods().Single(m => m.Name == nameof(Np.Tuple) && m.GetGenericArguments().Length == 2).MakeGenericMethod(typeof(Tensor), typeof(Tensor));
        var body = Expression.Lambda<Func<Tensor, Tensor, (Tensor, Tensor)>>(Expression.Call(tuple, Inline(step, c, x, w), Inline(@out, c, x, w)), c, x);
        var scan = Expression.Call(typeof(Np).GetMethod(nameof(Np.Scan), [typeof(Tensor), typeof(Tensor), typeof(Func<Tensor, Tensor, (Tensor, Tensor)>), typeof(int), typeof(int)])!,
            xs, h, body, Expression.Constant(-1), Expression.Constant(checkpoint));
        var r = Expression.Parameter(scan.Type, "r");
        var let = Expression.Lambda(Inline(loss, Expression.Field(r, "Item1"), Expression.Field(r, "Item2"), w), r);
        var call = Expression.Call(typeof(Np).GetMethod(nameof(Np.Let))!.MakeGenericMethod(scan.Type, typeof(Tensor)), scan, let);
        return Expression.Lambda<Func<Tensor, Tensor, Tensor, Tensor>>(call, xs, h, w);
    }
}

/// <summary>Np.Scan and Np.While against unrolled expressions, hand-derived derivatives and float64 central differences.</summary>
public class ScanWhileTests
{
    static Tensor T(params double[] v) => Tensor.FromArray(v, DType.Float64);
    static Tensor Xs => Tensor.FromArray(new double[,] { { 0.3, -0.7, 1.1 }, { 0.2, 0.5, -0.4 }, { -1.0, 0.1, 0.6 }, { 0.8, -0.3, 0.0 } }, DType.Float64);
    static Tensor H => T(0.1, -0.2, 0.4);
    static Tensor W => T(0.9, 0.5, -0.4);

    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Step = (c, x, w) => Tanh(w * c + x);
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Out = (c, x, w) => Sin(c) * x + w;
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> Loss = (c, ys, w) => Sum(c * c) + Sum(ys * ys * 0.5);

    static void Close(Tensor a, Tensor b, double tol = 1e-12)
    {
        var x = a.ToDoubleArray(); var y = b.ToDoubleArray();
        Assert.Equal(b.Shape, a.Shape);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"element {i}: {x[i]} vs {y[i]}");
    }

    [Fact]
    public void Scan_value_matches_unrolled_eager_compiled_and_jit()
    {
        var looped = Unroll.Looped(Step, Out, Loss);
        var unrolled = Unroll.Scan(4, Step, Out, Loss).Compile()(Xs, H, W);
        Close(looped.Compile()(Xs, H, W), unrolled);
        Close(looped.Jit()(Xs, H, W), unrolled);
        // the graph written back as C# (a value-and-gradient keeps the loop's value)
        Close(looped.ValueAndGrad().Compile()(Xs, H, W).Item1, unrolled);
        // eager Np.Scan, outside any expression
        var (c, ys) = Np.Scan(Xs, H, (h, x) => (Tanh(W * h + x), Sin(h) * x + W));
        Close(Sum(c * c) + Sum(ys * ys * 0.5), unrolled);
    }

    [Fact]
    public void Scan_gradients_match_unrolled_for_every_argument()
    {
        var looped = Unroll.Looped(Step, Out, Loss);
        var unrolled = Unroll.Scan(4, Step, Out, Loss);
        for (int k = 0; k < 3; k++)
        {
            var (f, u, a) = (Swap(looped, k), Swap(unrolled, k), Args(k));
            var expected = u.Grad().Compile()(a[0], a[1], a[2]);
            Close(f.Grad().Compile()(a[0], a[1], a[2]), expected);
            Close(f.Grad().Jit()(a[0], a[1], a[2]), expected);
        }
    }

    // the same function with argument k moved first (Grad differentiates the first argument); shapes: xs [4,3], h [3], w [3]
    static Expression<Func<Tensor, Tensor, Tensor, Tensor>> Swap(Expression<Func<Tensor, Tensor, Tensor, Tensor>> f, int k)
    {
        var ps = f.Parameters.ToArray();
        (ps[0], ps[k]) = (ps[k], ps[0]);
        return Expression.Lambda<Func<Tensor, Tensor, Tensor, Tensor>>(f.Body, ps);
    }

    static Tensor[] Args(int k) { Tensor[] a = [Xs, H, W]; (a[0], a[k]) = (a[k], a[0]); return a; }

    [Fact]
    public void Scan_gradient_matches_central_differences()
    {
        var looped = Unroll.Looped(Step, Out, Loss);
        for (int k = 0; k < 3; k++)
        {
            var f = Swap(looped, k);
            var a = Args(k);
            var g = f.Grad().Compile()(a[0], a[1], a[2]).ToDoubleArray();
            var fc = f.Compile();
            var x0 = a[0].ToDoubleArray();
            for (int j = 0; j < x0.Length; j++)
            {
                var e = new double[x0.Length]; e[j] = 1e-6;
                var d = Reshape(Tensor.FromArray(e, DType.Float64), a[0].Shape.ToArray());
                double num = ((double)fc(a[0] + d, a[1], a[2]) - (double)fc(a[0] - d, a[1], a[2])) / 2e-6;
                Assert.True(Math.Abs(num - g[j]) < 1e-7 * Math.Max(1, Math.Abs(num)), $"argument {k}, component {j}: {g[j]} vs {num}");
            }
        }
    }

    [Fact]
    public void Scan_jvp_matches_unrolled()
    {
        var looped = Unroll.Looped(Step, Out, Loss);
        var unrolled = Unroll.Scan(4, Step, Out, Loss);
        var dxs = Xs * 0.5 - 0.1; var dh = T(1, -2, 0.5); var dw = T(0.3, 0.1, -1);
        var (y, dy) = looped.Jvp().Compile()(Xs, H, W, dxs, dh, dw);
        var (yu, dyu) = unrolled.Jvp().Compile()(Xs, H, W, dxs, dh, dw);
        Close(y, yu); Close(dy, dyu);
    }

    [Fact]
    public void Checkpointed_scan_has_the_same_value_and_gradient()
    {
        var plain = Unroll.Looped(Step, Out, Loss);
        foreach (int k in new[] { 2, 3, 4, 7 })
        {
            var ck = Unroll.Looped(Step, Out, Loss, checkpoint: k);
            Close(ck.Compile()(Xs, H, W), plain.Compile()(Xs, H, W));
            for (int a = 0; a < 3; a++)
            {
                var args = Args(a);
                Close(Swap(ck, a).Grad().Compile()(args[0], args[1], args[2]), Swap(plain, a).Grad().Compile()(args[0], args[1], args[2]));
            }
        }
    }

    [Fact]
    public void Scan_with_a_scalar_carry()
    {
        // running sum of squares: carry c + x^2, y = c; d/dx of the final carry is 2x
        Expression<Func<Tensor, Tensor>> f = xs => Let(Scan(xs, 0.0, (double c, Tensor x) => Tuple(c + (double)Sum(x * x), xs * 0 + c)), r => Sum(xs) * 0 + r.Item1);
        var xs = T(1, 2, 3);
        Assert.Equal(14.0, (double)f.Compile()(xs), 12);
        Close(f.Grad().Compile()(xs), xs * 2);
    }

    [Fact]
    public void While_runs_until_the_condition_fails_and_differentiates_through_every_trip()
    {
        // c -> c * w + 1 while sum(c) < 50: the trip count is found eagerly, then the same steps unrolled are the oracle
        Expression<Func<Tensor, Tensor, Tensor>> f = (h, w) => Sum(While(c => Sum(c) < 50, c => c * w + 1, h) * w);
        var h = T(0.5, 1, 2); var w = T(1.5, 1.2, 1.1);
        int trips = 0;
        for (var c = h; (double)Sum(c) < 50; c = c * w + 1) trips++;
        Assert.True(trips > 5);
        var hp = Expression.Parameter(typeof(Tensor), "h"); var wp = Expression.Parameter(typeof(Tensor), "w");
        Expression<Func<Tensor, Tensor, Tensor>> step = (c, ww) => c * ww + 1;
        Expression e = hp;
        for (int i = 0; i < trips; i++) e = Unroll.Inline(step, e, wp);
        Expression<Func<Tensor, Tensor, Tensor>> fin = (c, ww) => Sum(c * ww);
        var unrolled = Expression.Lambda<Func<Tensor, Tensor, Tensor>>(Unroll.Inline(fin, e, wp), hp, wp);
        Close(f.Compile()(h, w), unrolled.Compile()(h, w));
        Close(f.Jit()(h, w), unrolled.Compile()(h, w));
        Close(f.Grad().Compile()(h, w), unrolled.Grad().Compile()(h, w));
        Close(f.Grad().Jit()(h, w), unrolled.Grad().Compile()(h, w));
        Expression<Func<Tensor, Tensor, Tensor>> byW = (ww, hh) => f.Invoke(hh, ww);
        var unW = Expression.Lambda<Func<Tensor, Tensor, Tensor>>(unrolled.Body, wp, hp);
        Close(byW.Grad().Compile()(w, h), unW.Grad().Compile()(w, h));
        var (y, dy) = f.Jvp().Compile()(h, w, T(1, 0, -1), T(0.1, 0.2, 0.3));
        var (yu, dyu) = unrolled.Jvp().Compile()(h, w, T(1, 0, -1), T(0.1, 0.2, 0.3));
        Close(y, yu); Close(dy, dyu);
    }

    [Fact]
    public void Checkpointed_while_has_the_same_value_and_gradients()
    {
        var h = T(0.5, 1, 2); var w = T(1.5, 1.2, 1.1);
        Expression<Func<Tensor, Tensor, Tensor>> plain = (hh, ww) => Sum(Sin(While(c => Sum(c) < 500, c => c * ww + 1, hh)) * ww);
        foreach (int k in new[] { 2, 3, 5 })
        {
            Expression<Func<Tensor, Tensor, Tensor>> ck = (hh, ww) => Sum(Sin(While(c => Sum(c) < 500, c => c * ww + 1, hh, k)) * ww);
            Expression<Func<Tensor, Tensor, Tensor>> ckW = (ww, hh) => ck.Invoke(hh, ww);
            Expression<Func<Tensor, Tensor, Tensor>> plainW = (ww, hh) => plain.Invoke(hh, ww);
            Close(ck.Jit()(h, w), plain.Jit()(h, w));
            Close(ck.Grad().Compile()(h, w), plain.Grad().Compile()(h, w));
            Close(ck.Grad().Jit()(h, w), plain.Grad().Compile()(h, w));
            Close(ckW.Grad().Compile()(w, h), plainW.Grad().Compile()(w, h));
            var (y, dy) = ck.Jvp().Compile()(h, w, T(1, 0, -1), T(0.1, 0.2, 0.3));
            var (yp, dyp) = plain.Jvp().Compile()(h, w, T(1, 0, -1), T(0.1, 0.2, 0.3));
            Close(y, yp); Close(dy, dyp);
        }
    }

    [Fact]
    public void While_reverse_mode_has_no_iteration_cap()
    {
        // 20,000 trips of c -> c + 1e-4 * w: d/dw of the final carry is (trip count) * 1e-4
        Expression<Func<double, double>> f = w => While((double c) => c < 2.0, (double c) => c + 1e-4 * w, 0.0);
        int trips = 0;
        for (double c = 0; c < 2.0; c += 1e-4) trips++;
        Assert.InRange(trips, 20000, 20001);
        Assert.Equal(trips * 1e-4, f.Compile()(1.0), 12);
        Assert.Equal(trips * 1e-4, f.Grad().Compile()(1.0), 9);
    }

    [Fact]
    public void Newton_square_root_derivative_is_one_over_two_sqrt()
    {
        Expression<Func<double, double>> sqrt = a => While((double y) => Math.Abs(y * y - a) > 1e-12 * a, (double y) => 0.5 * (y + a / y), a);
        foreach (var a in new[] { 0.5, 2.0, 9.0, 123.0 })
        {
            Assert.Equal(Math.Sqrt(a), sqrt.Compile()(a), 12);
            Assert.Equal(1 / (2 * Math.Sqrt(a)), sqrt.Grad().Compile()(a), 8);
            Assert.Equal(1 / (2 * Math.Sqrt(a)), sqrt.Grad().Jit()(a), 8);
        }
    }

    [Fact]
    public void A_zero_trip_while_returns_its_init_and_an_identity_derivative()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(While(c => Sum(c) > 100, c => c * 2, x) * 3);
        Close(f.Grad().Compile()(T(1, 2)), T(3, 3));
    }

    [Fact]
    public void Np_fold_is_read_like_Np_fold()
    {
        // c -> c * w + 1 three times from x: x w^3 + w^2 + w + 1; d/dx = w^3, d/dw = 3 x w^2 + 2 w + 1
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, w) => Sum(Fold(3, x, (double i, Tensor c) => c * w + 1));
        Expression<Func<Tensor, Tensor, Tensor>> byW = (w, x) => f.Invoke(x, w);
        Close(f.Jit()(H, W), Sum(H * W * W * W + W * W + W + 1));
        Close(f.Grad().Compile()(H, W), W * W * W);
        Close(byW.Grad().Compile()(W, H), 3 * H * W * W + 2 * W + 1);
        Assert.Equal(Math.Pow(1.1, 8), Fold(3, 1.1, (i, c) => c * c), 12);
    }

    static void CheckGradByDifferences(Expression<Func<Tensor, Tensor, Tensor>> f, Tensor x, Tensor y, double tol = 1e-7)
    {
        var g = f.Grad().Compile()(x, y).ToDoubleArray();
        var gj = f.Grad().Jit()(x, y).ToDoubleArray();
        var fc = f.Jit();
        var x0 = x.ToDoubleArray();
        for (int j = 0; j < x0.Length; j++)
        {
            var e = new double[x0.Length]; e[j] = 1e-6;
            var d = Reshape(Tensor.FromArray(e, DType.Float64), x.Shape.ToArray());
            double num = ((double)fc(x + d, y) - (double)fc(x - d, y)) / 2e-6;
            Assert.True(Math.Abs(num - g[j]) < tol * Math.Max(1, Math.Abs(num)), $"component {j}: {g[j]} vs {num}");
            Assert.True(Math.Abs(gj[j] - g[j]) < 1e-12 * Math.Max(1, Math.Abs(g[j])), $"jit component {j}: {gj[j]} vs {g[j]}");
        }
    }

    [Fact]
    public void Nested_loops_differentiate_against_central_differences()
    {
        // a Scan whose body runs a Fold and a While; an outer scan over an inner scan
        Expression<Func<Tensor, Tensor, Tensor>> f = (xs, w) => Let(Scan(xs, w, (Tensor c, Tensor x) =>
            Tuple(Fold(2, Tanh(c * x + w), (double i, Tensor d) => Sin(d) * w + i * 0.1), While(e => Sum(e * e) < 4, e => e * 1.5 + 0.1 * x, c * 0 + 0.5))),
            r => Sum(r.Item1) + Sum(Sin(r.Item2)));
        CheckGradByDifferences(f, Xs, W);
        Expression<Func<Tensor, Tensor, Tensor>> byW = (w, xs) => f.Invoke(xs, w);
        CheckGradByDifferences(byW, W, Xs);
        Expression<Func<Tensor, Tensor, Tensor>> inner = (xs, w) => Sum(Scan(xs, w, (Tensor c, Tensor x) =>
            Tuple(Scan(Reshape(x, new[] { 3, 1 }), c, (Tensor d, Tensor z) => Tuple(Tanh(d * z + w), d)).Item1, c * x)).Item2);
        CheckGradByDifferences(inner, Xs, W);
    }

    [Fact]
    public void Bodies_that_ignore_their_carry_or_inputs_differentiate_to_zero_there()
    {
        // the carry is replaced at every step: only the last row and w matter; y ignores everything but x
        Expression<Func<Tensor, Tensor, Tensor>> f = (xs, w) => Let(Scan(xs, w * 0 + 1, (Tensor c, Tensor x) => Tuple(x * w, x * 2)), r => Sum(r.Item1) + Sum(r.Item2));
        var g = f.Grad().Compile()(Xs, W);
        var expected = Tensor.FromArray(new double[,] { { 2, 2, 2 }, { 2, 2, 2 }, { 2, 2, 2 }, { 2.9, 2.5, 1.6 } }, DType.Float64);
        Close(g, expected);
        Expression<Func<Tensor, Tensor, Tensor>> byW = (w, xs) => f.Invoke(xs, w);
        Close(byW.Grad().Compile()(W, Xs), Lax.Unstack(Xs, 0, 3));
    }

    // ------------------------------------------------------------------ bad input
    [Fact]
    public void A_scan_body_that_changes_the_carry_shape_is_named_with_both_shapes()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (xs, h) => Let(Scan(xs, h, (Tensor c, Tensor x) => Tuple(Sum(c * x), x)), r => Sum(r.Item1));
        foreach (var run in new Action[] { () => f.Compile()(Xs, H), () => f.Jit()(Xs, H), () => f.Jvp().Compile()(Xs, H, Xs, H), () => Np.Scan(Xs, H, (c, x) => (Sum(c * x), x)) })
        {
            var e = Assert.Throws<ShapeException>(run);
            Assert.Contains("Scan(", e.Message);
            Assert.Contains("float64[3]", e.Message);
            Assert.Contains("float64[]", e.Message);
            Assert.Contains("must return a carry of the same shape and dtype", e.Message);
        }
    }

    [Fact]
    public void A_while_body_that_changes_the_carry_dtype_is_named_with_both_types()
    {
        // a float32 carry plus a float64 tensor promotes to float64
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, w) => While(c => Sum(c) < 10, c => c + w, x);
        var x32 = H.AsType(DType.Float32);
        foreach (var run in new Action[] { () => f.Compile()(x32, W), () => f.Jit()(x32, W), () => Np.While(c => Sum(c) < 10, c => c + W, x32) })
        {
            var e = Assert.Throws<ShapeException>(run);
            Assert.Contains("float32[3]", e.Message);
            Assert.Contains("float64[3]", e.Message);
            Assert.Contains("must return a carry of the same shape and dtype", e.Message);
        }
        Assert.Contains("Np.While(", Assert.Throws<ShapeException>(() => f.Compile()(x32, W)).Message);
    }

    [Fact]
    public void A_while_condition_that_is_not_a_scalar_is_refused()
    {
        Expression<Func<Tensor, Tensor>> f = x => While(c => c < 10, c => c + 1, x);
        foreach (var run in new Action[] { () => f.Compile()(H), () => f.Jit()(H), () => Np.While(c => c < 10, c => c + 1, H) })
        {
            var e = Assert.Throws<ShapeException>(run);
            Assert.Contains("condition", e.Message);
            Assert.Contains("[3]", e.Message);
            Assert.Contains("not a scalar", e.Message);
            Assert.Contains("Np.Max or Np.Sum", e.Message);
        }
        // read as a graph, the message names the condition as written
        Assert.Contains("c < 10", Assert.Throws<ShapeException>(() => f.Jit()(H)).Message);
        Assert.Contains("c < 10", Assert.Throws<ShapeException>(() => f.Jvp().Compile()(H, H)).Message);
    }

    [Fact]
    public void A_scan_over_an_empty_sequence_needs_a_length()
    {
        var empty = Tensor.FromArray(new double[0, 3], DType.Float64);
        Expression<Func<Tensor, Tensor, Tensor>> f = (xs, h) => Scan(xs, h, (Tensor c, Tensor x) => Tuple(c + x, x * 2)).Item2;
        foreach (var run in new Action[] { () => f.Compile()(empty, H), () => f.Jit()(empty, H), () => f.Jvp().Compile()(empty, H, empty, H), () => Np.Scan(empty, H, (c, x) => (c + x, x * 2)) })
        {
            var e = Assert.Throws<ShapeException>(run);
            Assert.Contains("empty sequence", e.Message);
            Assert.Contains("float64[0,3]", e.Message);
            Assert.Contains("length", e.Message);
        }
        // with the length given, zero steps: the carry as is, and ys of shape [0, 3]
        Expression<Func<Tensor, Tensor, Tensor>> g = (xs, h) => Let(Scan(xs, h, (Tensor c, Tensor x) => Tuple(c + x, x * 2), 0), r => Sum(r.Item1) + Sum(r.Item2));
        Assert.Equal(0.3, (double)g.Compile()(empty, H), 12);
        Close(g.Grad().Compile()(empty, H), empty);
        Expression<Func<Tensor, Tensor, Tensor>> ys = (xs, h) => Scan(xs, h, (Tensor c, Tensor x) => Tuple(c + x, x * 2), 0).Item2;
        Assert.Equal(new[] { 0, 3 }, ys.Compile()(empty, H).Shape);
    }
}
