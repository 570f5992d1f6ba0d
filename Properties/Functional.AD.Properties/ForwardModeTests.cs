using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Functional.AD.Properties;

/// <summary>Forward mode, VJPs and second order, checked over the whole spec table and on classic cases.</summary>
public class ForwardModeTests(ITestOutputHelper output)
{
    /// <summary>The specs with forward mode (a custom VJP has none: forward mode through it is an error by design, tested below).</summary>
    public static IEnumerable<object[]> ForwardSpecs => Names(s => !s.ReverseOnly);
    /// <summary>The forward specs whose gradient has a derivative that finite differences can check.</summary>
    public static IEnumerable<object[]> SecondOrderSpecs => Names(s => !s.ReverseOnly && s.FiniteDifferences && s.SecondOrder);
    /// <summary>The second-order specs of one argument.</summary>
    public static IEnumerable<object[]> UnarySecondOrderSpecs => Names(s => !s.ReverseOnly && s.FiniteDifferences && s.SecondOrder && s.Arity == 1);

    static IEnumerable<object[]> Names(Func<PrimitiveSpec, bool> which) => Specs.All.Where(which).Select(s => new object[] { s.Name });
    static PrimitiveSpec Spec(string name) => Specs.All.Single(s => s.Name == name);

    static Tensor Random(IReadOnlyList<int> shape, int seed) => Gens.Weights(shape, DType.Float64, seed);

    static double Dot(Tensor a, Tensor b) => a.ToDoubleArray().Zip(b.ToDoubleArray(), (x, y) => x * y).Sum();

    static double Rel(double a, double b) => Math.Abs(a - b) / Math.Max(1, Math.Max(Math.Abs(a), Math.Abs(b)));

    static void ForAll(PrimitiveSpec spec, int count, Func<Tensor[], int, Property> body)
    {
        var arb = Arb.From(spec.Inputs(DType.Float64).SelectMany(x => Gen.Choose(0, 1 << 30).Select(seed => (x, seed))));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(count).WithQuietOnSuccess(true),
            Prop.ForAll(arb, c => body(c.x.Select(t => t.AsType(DType.Float64)).ToArray(), c.seed)));
    }

    [Theory]
    [MemberData(nameof(ForwardSpecs))]
    public void Jvp_matches_central_differences_float64(string name)
    {
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        ForAll(spec, 30, (x, seed) =>
        {
            var v = x.Select((t, i) => Random(t.Shape, seed + i)).ToArray();
            var (y, dy) = check.JvpAt(x, v);
            if (!y.AllClose(check.Evaluate(x), 1e-12, 1e-12)) return false.Label("Jvp's value differs from f(x)");
            double h = spec.Step;
            var plus = check.Evaluate(x.Zip(v, (a, d) => a + h * d).ToArray()).ToDoubleArray();
            var minus = check.Evaluate(x.Zip(v, (a, d) => a - h * d).ToArray()).ToDoubleArray();
            var t = dy.ToDoubleArray();
            for (int i = 0; i < t.Length; i++)
            {
                double num = spec.FiniteDifferences ? (plus[i] - minus[i]) / (2 * h) : 0;
                if (!spec.FiniteDifferences && t[i] != 0 || Rel(t[i], num) > spec.Tolerance)
                    return false.Label($"element {i}: jvp {t[i]}, numeric {num}\n{check.Describe(x, seed)}");
            }
            return true.ToProperty();
        });
    }

    [Theory]
    [MemberData(nameof(ForwardSpecs))]
    public void Dot_test_forward_and_reverse_agree(string name)
    {
        // <u, J v> computed with Jvp equals <J^T u, v> computed with Vjp
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        ForAll(spec, 30, (x, seed) =>
        {
            var v = x.Select((t, i) => Random(t.Shape, seed + i)).ToArray();
            var (y, jv) = check.JvpAt(x, v);
            var u = Random(y.Shape, seed + 99);
            var jtu = check.VjpAt(x, u);
            double left = Dot(u, jv), right = jtu.Zip(v, Dot).Sum();
            // exact up to rounding; specs that round through float32 get float32 rounding
            return (Rel(left, right) < (spec.Tolerance > 1e-6 ? 1e-6 : 1e-10)).Label($"<u, Jv> = {left}, <J^T u, v> = {right}\n{check.Describe(x, seed)}");
        });
    }

    [Theory]
    [MemberData(nameof(SecondOrderSpecs))]
    public void Second_order_forward_over_reverse_matches_differences_of_the_gradient(string name)
    {
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        ForAll(spec, 15, (x, seed) =>
        {
            var w = Gens.Weights(check.Evaluate(x).Shape, DType.Float64, seed);
            var v = x.Select((t, i) => Random(t.Shape, seed + i + 1)).ToArray();
            var hv = check.HvpAt(x, w, v);
            double h = Math.Max(spec.Step, 1e-4);
            double[][] Differences(double step)
            {
                var gp = check.GradientAt(x.Zip(v, (a, d) => a + step * d).ToArray(), w);
                var gm = check.GradientAt(x.Zip(v, (a, d) => a - step * d).ToArray(), w);
                return gp.Select((g, a) => g.ToDoubleArray().Zip(gm[a].ToDoubleArray(), (p, m) => (p - m) / (2 * step)).ToArray()).ToArray();
            }
            double tolerance = Math.Max(spec.Tolerance, 1e-5);
            var num = Differences(h);
            double[][]? twice = null;   // with step 2h, only where h disagrees
            for (int a = 0; a < x.Length; a++)
            {
                var sym = hv[a].ToDoubleArray();
                for (int i = 0; i < sym.Length; i++)
                {
                    if (Rel(sym[i], num[a][i]) <= tolerance) continue;
                    // a kink of the gradient within the step (a near-tie of Max, say) makes the differences with h and
                    // 2h disagree with each other: that draw says nothing about Hv. At a smooth point they agree.
                    twice ??= Differences(2 * h);
                    if (Rel(num[a][i], twice[a][i]) > tolerance) continue;
                    return false.Label($"argument {a}, element {i}: Hv {sym[i]}, numeric {num[a][i]} (and {twice[a][i]} with 2h)\n{check.Describe(x, seed)}");
                }
            }
            return true.ToProperty();
        });
    }

    [Theory]
    [MemberData(nameof(UnarySecondOrderSpecs))]
    public void Second_order_reverse_over_reverse_equals_forward_over_reverse(string name)
    {
        var spec = Spec(name);
        var f = (Expression<Func<Tensor, Tensor>>)spec.Function;
        // g(x, w, v) = <grad_x Sum(f(x) * w), v>; its gradient in x is H v (H symmetric)
        Expression<Func<Tensor, Tensor, Tensor>> proj = (x, w) => Np.Sum(f.Invoke(x) * w, null, false);
        var grad = proj.Grad();
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> directional = (x, w, v) => Np.Sum(grad.Invoke(x, w) * v, null, false);
        var rr = directional.Grad().Compile();
        var check = new SpecCheck(spec);
        ForAll(spec, 15, (x, seed) =>
        {
            var w = Gens.Weights(check.Evaluate(x).Shape, DType.Float64, seed);
            var v = Random(x[0].Shape, seed + 1);
            var reverse = rr(x[0], w, v);
            var forward = check.HvpAt(x, w, [v])[0];
            double tol = spec.Tolerance > 1e-6 ? 1e-5 : 1e-9;
            return reverse.AllClose(forward, tol, tol).Label($"reverse-over-reverse {reverse} vs forward-over-reverse {forward}");
        });
    }

    // ------------------------------------------------------------------ nesting and perturbation confusion

    [Fact]
    public void Perturbation_confusion_is_avoided()
    {
        // Siskind & Pearlmutter: d/dx [x * (d/dy (x + y))(1)] = d/dx [x * 1] = 1, not 2
        Expression<Func<double, double>> f = x => x * Ad.Grad((double y) => x + y).Invoke(1.0);
        Assert.Equal(1.0, f.Grad().Compile()(3.0));
        Assert.Equal(3.0, f.Compile()(3.0));
    }

    [Fact]
    public void Nested_derivatives_of_the_classic_cases()
    {
        // d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x
        Expression<Func<double, double>> g = x => x * Ad.Grad((double y) => x * y).Invoke(2.0);
        Assert.Equal(6.0, g.Grad().Compile()(3.0));
        // the inner derivative uses the outer variable in a non-linear way: d/dx d/dy [exp(x*y)] at y=1 = d/dx [x exp(x)] = (1 + x) exp(x)
        Expression<Func<double, double>> h = x => Ad.Grad((double y) => Math.Exp(x * y)).Invoke(1.0);
        Assert.Equal(Math.Exp(0.5) * 1.5, h.Grad().Compile()(0.5), 12);
        // forward mode nested the same way: Jvp inside, Grad outside
        Expression<Func<double, double>> k = x => Ad.Jvp((double y) => x * y * y).Invoke(2.0, 1.0).Tangent;   // 2xy = 4x
        Assert.Equal(12.0, k.Compile()(3.0));
        Assert.Equal(4.0, k.Grad().Compile()(3.0));
    }

    // ------------------------------------------------------------------ higher order stays small

    [Fact]
    public void Repeated_grad_of_scalar_functions_stays_small()
    {
        Expression<Func<double, double>> f = x => Math.Sin(x) * Math.Exp(x);
        Expression<Func<double, double>> g = x => Math.Tanh(Math.Tanh(Math.Tanh(x)));
        var (df, dg) = (f, g);
        for (int n = 1; n <= 8; n++)
        {
            df = df.Grad(); dg = dg.Grad();
            int cf = Ad.OpCount(df), cg = Ad.OpCount(dg);
            output.WriteLine($"n = {n}: d^n[sin(x) exp(x)] {cf} ops, d^n[tanh(tanh(tanh(x)))] {cg} ops");
            // d^n [e^x sin x] = 2^(n/2) e^x sin(x + n pi / 4)
            Assert.Equal(Math.Pow(2, n / 2.0) * Math.Exp(0.3) * Math.Sin(0.3 + n * Math.PI / 4), df.Compile()(0.3), 9);
        }
        Assert.True(Ad.OpCount(df) <= 100, $"8th derivative of sin*exp has {Ad.OpCount(df)} ops");
        Assert.True(Ad.OpCount(dg) <= 1000, $"8th derivative of tanh^3 has {Ad.OpCount(dg)} ops");
        // and the tanh one is right: compare the 2nd derivative with differences of the analytic first derivative
        static double D1(double x) { double a = Math.Tanh(x), b = Math.Tanh(a), c = Math.Tanh(b); return (1 - c * c) * (1 - b * b) * (1 - a * a); }
        Assert.Equal((D1(0.4 + 1e-5) - D1(0.4 - 1e-5)) / 2e-5, g.Grad().Grad().Compile()(0.4), 8);
    }

    // ------------------------------------------------------------------ the API surface

    [Fact]
    public void Jvp_Vjp_and_Linearize_of_a_tensor_function()
    {
        Expression<Func<Tensor, Tensor>> f = x => Np.Tanh(x) * x;
        var x0 = new Tensor(new[] { 0.3, -1.2, 2.0 });
        var v = new Tensor(new[] { 1.0, 0.5, -2.0 });
        // by hand: d/dx [x tanh x] = tanh x + x (1 - tanh^2 x)
        var d = x0.ToDoubleArray().Select(a => Math.Tanh(a) + a * (1 - Math.Tanh(a) * Math.Tanh(a))).ToArray();
        var (y, dy) = f.Jvp().Compile()(x0, v);
        Assert.Equal(d.Zip(v.ToDoubleArray(), (a, b) => a * b), dy.ToDoubleArray(), new Tolerance(1e-12));
        var (_, xbar) = f.Vjp().Compile()(x0, v);
        Assert.Equal(d.Zip(v.ToDoubleArray(), (a, b) => a * b), xbar.ToDoubleArray(), new Tolerance(1e-12));
        var (y2, jvp) = f.Linearize().Compile()(x0);
        Assert.True(y2.AllClose(y));
        Assert.Equal(dy.ToDoubleArray(), jvp(v).ToDoubleArray(), new Tolerance(1e-12));
        Assert.Equal(d, jvp(Np.OnesLike(x0)).ToDoubleArray(), new Tolerance(1e-12));
    }

    [Fact]
    public void Grad_with_respect_to_chosen_arguments()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Np.Sum(a * a * b, null, false);
        var a0 = new Tensor(new[] { 1.0, 2.0 }); var b0 = new Tensor(new[] { 3.0, -1.0 });
        Assert.Equal(new[] { 1.0, 4.0 }, f.Grad(Wrt.Second).Compile()(a0, b0).ToDoubleArray());
        var (ga, gb) = f.Grad(Wrt.Both).Compile()(a0, b0);
        Assert.Equal(new[] { 6.0, -4.0 }, ga.ToDoubleArray());
        Assert.Equal(new[] { 1.0, 4.0 }, gb.ToDoubleArray());
        var untyped = (Func<Tensor, Tensor, Tensor>)Ad.Grad(f, 1).Compile();
        Assert.Equal(new[] { 1.0, 4.0 }, untyped(a0, b0).ToDoubleArray());
    }

    [Fact]
    public void Grad_of_the_third_argument_is_that_arguments_gradient()
    {
        Expression<Func<Tensor, double, Tensor, Tensor>> g = (a, s, c) => Np.Sum(a * s * c, null, false);
        var a0 = new Tensor(new[] { 1.0, 2.0 }); var c0 = new Tensor(new[] { 3.0, -1.0 });
        Assert.Equal(new[] { 0.5, 1.0 }, g.Grad(Wrt.Third).Compile()(a0, 0.5, c0).ToDoubleArray());   // a * s
        Assert.Equal(1.0, g.Grad(Wrt.Second).Compile()(a0, 0.5, c0));                                  // <a, c> = 3 - 2
    }

    [Fact]
    public void Argument_index_out_of_range_names_the_function_and_the_valid_range()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Np.Sum(a * b, null, false);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Ad.Grad(f, 2));
        Assert.Contains("Argument index 2", e.Message);
        Assert.Contains("0..1", e.Message);
        Assert.Contains("(a, b) =>", e.Message);
    }

    [Fact]
    public void Grad_with_aux_returns_the_aux_undifferentiated()
    {
        Expression<Func<Tensor, (Tensor, Tensor)>> f = x => Np.Tuple(Np.Sum(x * x, null, false), Np.Tanh(x));
        var x0 = new Tensor(new[] { 0.5, -1.0 });
        var (g, aux) = f.GradWithAux().Compile()(x0);
        Assert.Equal(new[] { 1.0, -2.0 }, g.ToDoubleArray());
        Assert.Equal(new[] { Math.Tanh(0.5), Math.Tanh(-1.0) }, aux.ToDoubleArray(), new Tolerance(1e-15));
        var (v, g2, _) = f.ValueAndGradWithAux().Compile()(x0);
        Assert.Equal(1.25, (double)v, 12);
        Assert.True(g2.AllClose(g));
    }

    [Fact]
    public void Stop_gradient_blocks_the_derivative()
    {
        Expression<Func<Tensor, Tensor>> f = x => Np.Sum(Np.StopGradient(x) * x, null, false);
        var x0 = new Tensor(new[] { 2.0, -3.0 });
        Assert.Equal(new[] { 2.0, -3.0 }, f.Grad().Compile()(x0).ToDoubleArray());   // not 2x
    }

    [Fact]
    public void Custom_jvp_and_custom_vjp_rules_are_used()
    {
        var softplus = Ad.CustomJvp<Tensor, Tensor>(x => Np.Log(1 + Np.Exp(x)), (x, dx) => dx * Np.Sigmoid(x));
        Expression<Func<Tensor, Tensor>> f = x => Np.Sum(softplus.Invoke(x) * x, null, false);
        var x0 = new Tensor(new[] { 0.5, -1.0, 2.0 });
        GradCheck.Check(f, x0).Assert();
        // a rule that is deliberately not the derivative proves the rule, not the body, is used
        var fake = Ad.CustomJvp<Tensor, Tensor>(x => x * x, (x, dx) => dx * 10.0);
        Expression<Func<Tensor, Tensor>> g = x => Np.Sum(fake.Invoke(x), null, false);
        Assert.Equal(new[] { 10.0, 10.0, 10.0 }, g.Grad().Compile()(x0).ToDoubleArray());
        var clip = Ad.CustomVjp<Tensor, Tensor>(x => x * 1.0, (x, ct) => Np.Maximum(Np.Minimum(ct, new Tensor(0.5)), new Tensor(-0.5)));
        Expression<Func<Tensor, Tensor>> h = x => Np.Sum(clip.Invoke(x) * 3.0, null, false);
        Assert.Equal(new[] { 0.5, 0.5, 0.5 }, h.Grad().Compile()(x0).ToDoubleArray());
        var e = Assert.Throws<NotDifferentiableException>(() => h.Jvp());
        Assert.Contains("CustomJvp", e.Message);
    }

    [Fact]
    public void Custom_rule_with_the_wrong_output_shape_is_an_error_naming_the_rule_and_shapes()
    {
        var bad = Ad.CustomJvp<Tensor, Tensor>(x => Np.Sum(x, null, false), (x, dx) => dx);
        Expression<Func<Tensor, Tensor>> h = x => bad.Invoke(x) * 2.0;
        var e = Assert.Throws<ShapeException>(() => h.Jvp().Compile()(new Tensor(new[] { 1.0, 2.0, 3.0 }), new Tensor(new[] { 1.0, 1.0, 1.0 })));
        Assert.Contains("(x, dx) => dx", e.Message);
        Assert.Contains("float64[3]", e.Message);
        Assert.Contains("float64[]", e.Message);
    }
}

/// <summary>Compares doubles within an absolute-or-relative tolerance.</summary>
public sealed class Tolerance(double tol) : IEqualityComparer<double>
{
    public bool Equals(double a, double b) => Math.Abs(a - b) <= tol * Math.Max(1, Math.Max(Math.Abs(a), Math.Abs(b)));
    public int GetHashCode(double x) => 0;
}

public class HvpTests
{
    [Fact]
    public void Hessian_vector_product_matches_the_hessian_by_hand()
    {
        // f(x) = sum(x^3) + x0 * x1: H = diag(6x) + [[0,1],[1,0]]
        Expression<Func<Tensor, Tensor>> f = x => Np.Sum(x * x * x, null, false) + Np.Take(x, new Tensor(new[] { 0.0 }), 0) * Np.Take(x, new Tensor(new[] { 1.0 }), 0);
        Expression<Func<Tensor, Tensor>> scalar = x => Np.Sum(f.Invoke(x), null, false);
        var x0 = new Tensor(new[] { 1.0, -2.0 });
        var v = new Tensor(new[] { 0.5, 3.0 });
        var hv = scalar.Hvp().Compile()(x0, v).ToDoubleArray();
        Assert.Equal(6 * 1.0 * 0.5 + 3.0, hv[0], 12);
        Assert.Equal(6 * -2.0 * 3.0 + 0.5, hv[1], 12);
    }
}

/// <summary>Every transform, jitted, equals its plain <c>Compile()</c>.</summary>
public class JitOfTransformsTests
{
    public static IEnumerable<object[]> ForwardSpecs => ForwardModeTests.ForwardSpecs;

    [Theory]
    [MemberData(nameof(ForwardSpecs))]
    public void Jit_of_jvp_vjp_and_hvp_equals_compile(string name)
    {
        var spec = Specs.All.Single(s => s.Name == name);
        var check = new SpecCheck(spec);
        var transforms = spec.SecondOrder ? new[] { check.JvpExpression, check.VjpExpression, check.HvpExpression } : [check.JvpExpression, check.VjpExpression];
        var pairs = transforms
            .Select(e => (Plain: e.Compile(), Jitted: JitTests.JitAny(e), Expr: e)).ToArray();
        var property = Prop.ForAll(Arb.From(spec.Inputs(DType.Float64).SelectMany(x => Gen.Choose(0, 1000).Select(seed => (x, seed)))), c =>
        {
            var xs = check.PackArgs(c.x);
            var dxs = check.PackArgs(c.x.Select((t, i) => Gens.Weights(t.Shape, DType.Float64, c.seed + i)).ToArray());
            var y = check.Evaluate(c.x);
            var w = Gens.Weights(y.Shape, DType.Float64, c.seed + 7);
            var argsFor = new[] { new object?[] { xs, dxs }, [xs, w], [xs, w, dxs, Np.ZerosLike(w)] };
            for (int k = 0; k < pairs.Length; k++)
            {
                object? expected = pairs[k].Plain.DynamicInvoke(argsFor[k]);
                object? actual = pairs[k].Jitted.DynamicInvoke(argsFor[k]);
                var diff = JitTests.Differ(expected, actual);
                if (diff is not null) return false.Label($"{(k == 0 ? "Jvp" : k == 1 ? "Vjp" : "Hvp")} of {name}: {diff}");
            }
            return true.ToProperty();
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(8).WithQuietOnSuccess(true), property);
    }
}

public class CustomRulesUnderVmapTests
{
    [Fact]
    public void A_custom_vjp_is_applied_per_example_under_vmap()
    {
        // the rule clips each example's cotangent to [-0.5, 0.5]: the body's derivative (3) must not leak through
        var clip = Ad.CustomVjp<Tensor, Tensor>(x => x * 1.0, (x, ct) => Np.Maximum(Np.Minimum(ct, new Tensor(0.5)), new Tensor(-0.5)));
        Expression<Func<Tensor, Tensor>> f = x => Np.Sum(clip.Invoke(x) * 3.0, null, false);
        var xs = new Tensor(new[,] { { 1.0, -2.0 }, { 0.5, 4.0 }, { -1.0, 0.0 } });
        var g = Ad.Vmap(f.Grad(), inAxes: [0]).Compile()(xs);
        Assert.Equal(new[] { 3, 2 }, g.Shape);
        Assert.All(g.ToDoubleArray(), v => Assert.Equal(0.5, v));
        // and a custom JVP rule under vmap matches the loop of the unbatched rule
        var fake = Ad.CustomJvp<Tensor, Tensor>(x => x * x, (x, dx) => dx * 10.0);
        Expression<Func<Tensor, Tensor>> h = x => Np.Sum(fake.Invoke(x), null, false);
        Assert.All(Ad.Vmap(h.Grad(), inAxes: [0]).Compile()(xs).ToDoubleArray(), v => Assert.Equal(10.0, v));
        Assert.All(Ad.Vmap(h.Jvp(), inAxes: [0, 0]).Compile()(xs, Np.OnesLike(xs)).Tangent.ToDoubleArray(), v => Assert.Equal(20.0, v));
    }
}
