using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// What the reader accepts: parameter and result types (leaves, pytrees, static fields), member access, pytree
/// construction, captured values, Invoke, Let, conditionals, printing, and nesting Grad. Every derivative is checked
/// against an analytic formula written here or against central finite differences in float64.
/// </summary>
public sealed class ReaderTests
{
    public sealed record Params(Tensor W, Tensor B);
    public sealed record Layer(Tensor W1, Tensor B1);
    public sealed record Outer(Params Inner, double S, (double, float) T);
    public sealed record Config(Tensor W, int N, string Name);

    static Tensor Vec(params double[] v) => new(v);

    static void Close(double expected, double actual, double rel = 1e-10) =>
        Assert.True(Math.Abs(expected - actual) <= rel * Math.Max(1, Math.Abs(expected)),
            $"expected {expected:R}, got {actual:R}");

    static void Close(double[] expected, Tensor actual, double rel = 1e-10)
    {
        var a = actual.ToDoubleArray();
        Assert.Equal(expected.Length, a.Length);
        for (int i = 0; i < a.Length; i++) Close(expected[i], a[i], rel);
    }

    // ---------------------------------------------------------------- parameter types

    [Fact]
    public void An_int_conditional_on_a_traced_condition_is_an_error_naming_it_and_a_double_one_is_read()
    {
        // int branches are static values: they used to pass through as the true branch's (x + 1 whatever x was)
        Expression<Func<double, double>> f = x => (x > 3 ? 1 : 0) + x;
        var e = Assert.Throws<UnsupportedExpressionException>(() => Ad.Jit(f)(0.5));
        Assert.Contains("x > 3", e.Message);
        Assert.Contains("c ? 1.0 : 0.0", e.Message);
        Assert.Throws<UnsupportedExpressionException>(() => Ad.Grad(f).Compile()(0.5));
        Expression<Func<double, double>> g = x => (x > 3 ? 1.0 : 0.0) + x;
        Assert.Equal(0.5, Ad.Jit(g)(0.5));
        Assert.Equal(5.0, Ad.Jit(g)(4.0));
        // equal static branches are fine: the value does not depend on the condition
        Expression<Func<double, double>> h = x => (x > 3 ? 2 : 2) * x;
        Assert.Equal(1.0, Ad.Jit(h)(0.5));
    }

    [Fact]
    public void Tensor_parameter_gradient_matches_the_analytic_derivative()
    {
        // d/dx Σ sin(x)·exp(x) = (cos x + sin x)·exp x, elementwise
        Expression<Func<Tensor, Tensor>> f = x => Sum(Sin(x) * Exp(x));
        var xs = new[] { -1.3, 0.2, 0.7, 2.1 };
        var g = Ad.Grad(f).Compile()(Vec(xs));
        Assert.Equal(DType.Float64, g.DType);
        Close(xs.Select(x => (Math.Cos(x) + Math.Sin(x)) * Math.Exp(x)).ToArray(), g);
        GradCheck.Check(f, Vec(xs)).Assert();
    }

    [Fact]
    public void Double_parameter_gradient_matches_the_analytic_derivative()
    {
        Expression<Func<double, double>> f = x => Math.Sin(x) * Math.Exp(x);
        var df = Ad.Grad(f).Compile();
        foreach (var x in new[] { -2.0, -0.4, 0.0, 0.9, 3.0 })
            Close((Math.Cos(x) + Math.Sin(x)) * Math.Exp(x), df(x));
    }

    [Fact]
    public void Float_parameter_gradient_matches_the_analytic_derivative()
    {
        Expression<Func<float, float>> f = x => MathF.Sin(x) * MathF.Exp(x);
        var df = Ad.Grad(f).Compile();
        foreach (var x in new[] { -2f, -0.4f, 0f, 0.9f, 3f })
            Close((Math.Cos(x) + Math.Sin(x)) * Math.Exp(x), df(x), 1e-5);
    }

    [Fact]
    public void Record_parameter_gradient_is_a_record_of_the_same_type_with_analytic_fields()
    {
        // L = Σ W·W·B: ∂L/∂W = 2 W B, ∂L/∂B = W²
        Expression<Func<Params, Tensor>> f = p => Sum(p.W * p.W * p.B);
        var p = new Params(Vec(1, -2, 3), Vec(0.5, 4, -1));
        Params g = Ad.Grad(f).Compile()(p);
        Assert.IsType<Params>(g);
        Close(new[] { 1.0, -16, -6 }, g.W);
        Close(new[] { 1.0, 4, 9 }, g.B);
        GradCheck.Check(f, p).Assert();
    }

    [Fact]
    public void Record_member_access_through_Dot_matches_finite_differences()
    {
        Expression<Func<Layer, Tensor, Tensor>> f = (p, x) => Sum(Tanh(Dot(p.W1, x) + p.B1));
        var x0 = Vec(0.3, -0.8);
        var p0 = new Layer(new Tensor(new[,] { { 0.1, 0.2 }, { -0.3, 0.4 }, { 0.5, -0.6 } }), Vec(0.01, -0.02, 0.03));
        var g = Ad.Grad(f).Compile()(p0, x0);
        // ∂/∂B1 = 1 - tanh²(W1 x + B1); ∂/∂W1[i,j] = (1 - tanh²(.)_i) x_j
        var z = new[] { 0.1 * 0.3 + 0.2 * -0.8 + 0.01, -0.3 * 0.3 + 0.4 * -0.8 - 0.02, 0.5 * 0.3 + -0.6 * -0.8 + 0.03 };
        var s = z.Select(v => 1 - Math.Tanh(v) * Math.Tanh(v)).ToArray();
        Close(s, g.B1);
        Close(new[] { s[0] * 0.3, s[0] * -0.8, s[1] * 0.3, s[1] * -0.8, s[2] * 0.3, s[2] * -0.8 }, g.W1);
        Assert.Equal(new[] { 3, 2 }, g.W1.Shape);
        Expression<Func<Layer, Tensor>> fx = p => Sum(Tanh(Dot(p.W1, new Tensor(new[] { 0.3, -0.8 })) + p.B1));
        GradCheck.Check(fx, p0).Assert();
    }

    [Fact]
    public void ValueTuple_parameter_with_named_elements_gives_a_tuple_gradient()
    {
        // L = s · Σ x²: ∂L/∂x = 2 s x, ∂L/∂s = Σ x²
        Expression<Func<(Tensor X, double S), Tensor>> f = t => Sum(t.X * t.X) * t.S;
        var g = Ad.Grad(f).Compile()((Vec(1, 2, -3), 0.5));
        Close(new[] { 1.0, 2, -3 }, g.X);
        Close(14.0, g.S);
    }

    [Fact]
    public void Nested_records_tuples_doubles_and_floats_all_get_gradients()
    {
        // L = Σ(W·B)·S + T1·T2
        Expression<Func<Outer, double>> f = o => (double)Sum(o.Inner.W * o.Inner.B) * o.S + o.T.Item1 * o.T.Item2;
        var o0 = new Outer(new Params(Vec(1, 2), Vec(3, 4)), 2.0, (5.0, 7f));
        var g = Ad.Grad(f).Compile()(o0);
        Assert.IsType<Outer>(g);
        Close(new[] { 6.0, 8 }, g.Inner.W);   // B·S
        Close(new[] { 2.0, 4 }, g.Inner.B);   // W·S
        Close(11.0, g.S);                     // Σ W·B
        Close(7.0, g.T.Item1);                // T2
        Assert.Equal(5f, g.T.Item2);          // T1, still a float
    }

    [Fact]
    public void Static_int_and_string_fields_are_carried_through_Grad_unchanged()
    {
        Expression<Func<Config, Tensor>> f = c => Sum(c.W * c.W);
        var g = Ad.Grad(f).Compile()(new Config(Vec(1, -2), 3, "layer-1"));
        Assert.Equal(3, g.N);
        Assert.Equal("layer-1", g.Name);
        Close(new[] { 2.0, -4 }, g.W);
        Assert.Contains("new Config(", Ad.Show(Ad.Grad(f)));
    }

    [Fact]
    public void Static_int_field_can_scale_a_value()
    {
        Expression<Func<Config, Tensor>> f = c => Sum(c.W) * c.N;
        var g = Ad.Grad(f).Compile()(new Config(Vec(1, -2), 3, "x"));
        Close(new[] { 3.0, 3 }, g.W);
    }

    [Fact]
    public void Grad_is_taken_with_respect_to_the_first_argument_only()
    {
        // ∂/∂x Σ x·y·y = y²
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, y) => Sum(x * y * y);
        var g = Ad.Grad(f).Compile()(Vec(5, 6), Vec(2, -3));
        Close(new[] { 4.0, 9 }, g);
    }

    // ---------------------------------------------------------------- constructing pytree outputs

    [Fact]
    public void A_record_built_with_new_is_read_as_a_pytree_output()
    {
        Expression<Func<Params, Params>> swap = p => new Params(p.B, p.W * 2);
        var shown = Ad.Show(swap);
        Assert.Contains("new Params(", shown);
        // read through Invoke inside a scalar function, so Grad must see through the constructed record:
        // L = Σ (2W)·B  (new W' = B, B' = 2W; L = Σ W'·B'): ∂L/∂W = 2B, ∂L/∂B = 2W
        Expression<Func<Params, Tensor>> f = p => Let(swap.Invoke(p), q => Sum(q.W * q.B));
        var g = Ad.Grad(f).Compile()(new Params(Vec(1, 2), Vec(3, -4)));
        Close(new[] { 6.0, -8 }, g.W);
        Close(new[] { 2.0, 4 }, g.B);
    }

    [Fact]
    public void Np_Tuple_builds_a_tuple_output()
    {
        Expression<Func<Tensor, (Tensor, Tensor)>> two = x => Tuple(Sum(x * x), Sum(Sin(x)));
        Assert.Contains("return (", Ad.Show(two));
        // L = Σx² · Σ sin x: ∂L/∂x = 2x Σ sin + Σx² cos x
        Expression<Func<Tensor, Tensor>> f = x => Let(two.Invoke(x), t => t.Item1 * t.Item2);
        var xs = new[] { 0.4, -1.1, 2.0 };
        var g = Ad.Grad(f).Compile()(Vec(xs));
        double sq = xs.Sum(v => v * v), sn = xs.Sum(Math.Sin);
        Close(xs.Select(v => 2 * v * sn + sq * Math.Cos(v)).ToArray(), g);
    }

    [Fact]
    public void ValueTuple_Create_and_new_ValueTuple_build_tuple_outputs()
    {
        Expression<Func<double, (double, double)>> a = x => ValueTuple.Create(x * x, Math.Exp(x));
        Expression<Func<double, (double, double)>> b = x => new ValueTuple<double, double>(x * x, Math.Exp(x));
        foreach (var two in new[] { a, b })
        {
            // L = x² · e^x: L' = (2x + x²) e^x
            Expression<Func<double, double>> f = x => Let(two.Invoke(x), t => t.Item1 * t.Item2);
            var df = Ad.Grad(f).Compile();
            foreach (var x in new[] { -1.5, 0.3, 1.2 }) Close((2 * x + x * x) * Math.Exp(x), df(x));
        }
    }

    // ---------------------------------------------------------------- captured values, Invoke, Let

    [Fact]
    public void Captured_tensor_is_read_when_Grad_is_built_so_a_later_reassignment_is_not_seen_by_the_gradient()
    {
        var c = Vec(1, 2);
        Expression<Func<Tensor, Tensor>> f = x => Sum(x * x * c);
        var df = Ad.Grad(f);          // c = [1, 2] is read here
        c = Vec(10, 20);              // the closure now holds [10, 20]
        // ∂/∂x Σ x² c = 2 x c with the OLD c
        Close(new[] { 6.0, 12 }, df.Compile()(Vec(3, 3)));
        // the original expression, compiled directly, reads the closure at run time and sees the new c
        Close(9.0 * 30, (double)f.Compile()(Vec(3, 3)));
    }

    [Fact]
    public void Captured_double_is_a_constant_of_the_gradient()
    {
        double k = 2.5;
        Expression<Func<double, double>> f = x => k * x * x;
        var df = Ad.Grad(f).Compile();
        k = 100;
        Close(2 * 2.5 * 3, df(3));
    }

    [Fact]
    public void Invoke_of_another_expression_is_inlined_and_differentiated()
    {
        Expression<Func<Tensor, Tensor>> sq = z => z * z;
        Expression<Func<Tensor, Tensor>> g = x => Sum(sq.Invoke(Sin(x)));
        // d/dx sin²x = 2 sin x cos x
        var xs = new[] { 0.5, 1.0, -2.0 };
        Close(xs.Select(x => 2 * Math.Sin(x) * Math.Cos(x)).ToArray(), Ad.Grad(g).Compile()(Vec(xs)));
        Assert.DoesNotContain("Invoke", Ad.Show(g));
    }

    [Fact]
    public void Invoke_with_a_pytree_argument_and_two_arguments_is_inlined()
    {
        Expression<Func<Params, Tensor, Tensor>> net = (p, x) => Tanh(p.W * x + p.B);
        Expression<Func<Params, Tensor, Tensor>> loss = (p, x) => Sum(net.Invoke(p, x));
        var g = Ad.Grad(loss).Compile()(new Params(Vec(0.5, -1), Vec(0.1, 0.2)), Vec(2, 3));
        // ∂/∂W = (1 - tanh²(Wx+B))·x, ∂/∂B = 1 - tanh²(Wx+B)
        var z = new[] { 0.5 * 2 + 0.1, -1 * 3 + 0.2 };
        var s = z.Select(v => 1 - Math.Tanh(v) * Math.Tanh(v)).ToArray();
        Close(new[] { s[0] * 2, s[1] * 3 }, g.W);
        Close(s, g.B);
    }

    [Fact]
    public void Let_names_an_intermediate_that_is_computed_once()
    {
        Expression<Func<double, double>> f = x => Let(Math.Sin(x), s => s * s * s);
        var shown = Ad.Show(f);
        Assert.Equal(1, CountOf(shown, "Math.Sin("));
        Assert.Equal(3, Ad.OpCount(f));   // Sin, Mul, Mul
        // d/dx sin³x = 3 sin²x cos x
        var df = Ad.Grad(f).Compile();
        foreach (var x in new[] { 0.7, -1.2, 2.2 }) Close(3 * Math.Pow(Math.Sin(x), 2) * Math.Cos(x), df(x));
    }

    static int CountOf(string s, string sub)
    {
        int n = 0;
        for (int i = s.IndexOf(sub, StringComparison.Ordinal); i >= 0; i = s.IndexOf(sub, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    // ---------------------------------------------------------------- conditionals

    [Fact]
    public void Conditional_on_doubles_gradient_follows_the_taken_branch()
    {
        Expression<Func<double, double>> f = x => x > 0 ? x * x : -x;
        var df = Ad.Grad(f).Compile();
        Close(4.0, df(2));     // 2x
        Close(1.0, df(0.5));
        Close(-1.0, df(-2));   // -1
        Close(-1.0, df(-0.1));
    }

    [Fact]
    public void Conditional_untaken_branch_is_not_evaluated_so_its_NaN_does_not_leak_into_the_gradient()
    {
        Expression<Func<double, double>> f = x => x > 0 ? Math.Log(x) : 0.0;
        var vg = Ad.ValueAndGrad(f).Compile();
        var (v, g) = vg(-1);
        Assert.Equal(0.0, v);
        Assert.Equal(0.0, g);       // not NaN from d/dx log(x) at x = -1
        Close(0.5, vg(2).Grad);     // 1/x
    }

    [Fact]
    public void Conditional_on_a_tensor_reduced_to_double_selects_whole_values()
    {
        Expression<Func<Tensor, Tensor>> f = x => (double)Sum(x) > 0 ? Sum(x * x) : Sum(-x);
        var df = Ad.Grad(f).Compile();
        Close(new[] { 2.0, 4 }, df(Vec(1, 2)));
        Close(new[] { -1.0, -1 }, df(Vec(-1, -2)));
        Assert.Contains("if (", Ad.Show(f));   // printed as a real branch
    }

    [Fact]
    public void Conditional_with_a_compound_condition()
    {
        // 0 < x < 3: x², else -x
        Expression<Func<double, double>> f = x => x > 0 && x < 3 ? x * x : -x;
        var df = Ad.Grad(f).Compile();
        Close(2.0, df(1));
        Close(-1.0, df(4));
        Close(-1.0, df(-1));
    }

    [Fact]
    public void Conditional_with_tuple_valued_branches()
    {
        // x > 0: (x, x²) -> x³, 3x²;  x <= 0: (-x, x) -> -x², -2x
        Expression<Func<double, (double, double)>> t = x => x > 0 ? ValueTuple.Create(x, x * x) : ValueTuple.Create(-x, x);
        Expression<Func<double, double>> f = x => Let(t.Invoke(x), p => p.Item1 * p.Item2);
        var df = Ad.Grad(f).Compile();
        Close(12.0, df(2));
        Close(4.0, df(-2));
    }

    [Fact]
    public void Conditional_on_a_captured_bool_is_resolved_when_the_expression_is_read()
    {
        bool square = false;
        Expression<Func<double, double>> f = x => square ? x * x : -x;
        var df = Ad.Grad(f).Compile();
        square = true;   // read once: still the -x branch
        Close(-1.0, df(3));
        Assert.DoesNotContain("if (", Ad.Show(Ad.Grad(f)));
    }

    [Fact]
    public void Np_Where_selects_elementwise_and_its_gradient_follows_the_mask()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Where(x > 0, x * x, -x));
        Close(new[] { 4.0, -1, 1 }, Ad.Grad(f).Compile()(Vec(2, -2, 0.5)));
    }

    // ---------------------------------------------------------------- printing, nesting, ValueAndGrad

    [Fact]
    public void Show_of_a_gradient_is_readable_CSharp()
    {
        Expression<Func<double, double>> f = x => Math.Sin(x) * x;
        var shown = Ad.Show(Ad.Grad(f));
        Assert.Contains("Math.Cos(x)", shown);
        Assert.Contains("Math.Sin(x)", shown);
        Assert.Contains("static double F(double x)", shown);
        Assert.Contains("return ", shown);
    }

    [Fact]
    public void Grad_of_Grad_is_the_second_derivative()
    {
        // f = sin x · e^x, f'' = 2 cos x · e^x
        Expression<Func<double, double>> f = x => Math.Sin(x) * Math.Exp(x);
        var d2 = Ad.Grad(Ad.Grad(f)).Compile();
        foreach (var x in new[] { -1.7, 0.0, 0.4, 2.5 }) Close(2 * Math.Cos(x) * Math.Exp(x), d2(x));
    }

    [Fact]
    public void Grad_composes_as_an_extension_method_pipeline()
    {
        // f = x⁴: f''' = 24 x
        Expression<Func<double, double>> f = x => x * x * x * x;
        var d3 = f.Grad().Grad().Grad().Compile();
        foreach (var x in new[] { -2.0, 0.5, 3.0 }) Close(24 * x, d3(x));
    }

    [Fact]
    public void ValueAndGrad_returns_the_value_and_the_gradient()
    {
        Expression<Func<double, double>> f = x => Math.Exp(x) * x;
        var (v, g) = Ad.ValueAndGrad(f).Compile()(1.3);
        Close(Math.Exp(1.3) * 1.3, v);
        Close(Math.Exp(1.3) * 2.3, g);

        Expression<Func<Params, Tensor, Tensor>> loss = (p, x) => Sum(p.W * x + p.B * p.B);
        var r = Ad.ValueAndGrad(loss).Compile()(new Params(Vec(1, 2), Vec(3, 4)), Vec(5, 6));
        Close(5 + 12 + 9 + 16, (double)r.Value);
        Close(new[] { 5.0, 6 }, r.Grad.W);
        Close(new[] { 6.0, 8 }, r.Grad.B);
    }

    // ---------------------------------------------------------------- properties

    static Arbitrary<double> Points(double lo, double hi) =>
        Gen.Choose(0, 10_000).Select(i => lo + (hi - lo) * i / 10_000.0).ToArbitrary();

    [Property(MaxTest = 60)]
    public Property Grad_of_sin_times_exp_matches_the_analytic_derivative_everywhere()
    {
        Expression<Func<double, double>> f = x => Math.Sin(x) * Math.Exp(x);
        var df = Ad.Grad(f).Compile();
        return Prop.ForAll(Points(-5, 5), x =>
        {
            double want = (Math.Cos(x) + Math.Sin(x)) * Math.Exp(x);
            return Math.Abs(df(x) - want) <= 1e-12 * Math.Max(1, Math.Abs(want));
        });
    }

    [Property(MaxTest = 30)]
    public Property Record_gradient_agrees_with_central_differences_at_random_points()
    {
        Expression<Func<Params, Tensor>> f = p => Sum(Tanh(p.W * p.B) + Exp(p.B) * p.W);
        var gen = Gen.Choose(-2000, 2000).ArrayOf(6).Select(a => a.Select(i => i / 1000.0).ToArray());
        return Prop.ForAll(gen.ToArbitrary(), v =>
            GradCheck.Check(f, new Params(Vec(v[0], v[1], v[2]), Vec(v[3], v[4], v[5])), tolerance: 1e-7).Ok);
    }
}
