using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>
/// Plain scalar code: <c>double</c> with System.Math and <c>float</c> with MathF, differentiated to order 1, 2 and 3
/// and compared with derivatives worked out by hand; and double scalars mixed with tensors.
/// </summary>
public sealed class ScalarCodeTests
{
    /// <summary>A function, its first three derivatives written by hand, and points where they are smooth.</summary>
    sealed record Case(Expression<Func<double, double>> F, Expression<Func<float, float>> FF,
        Func<double, double> D1, Func<double, double> D2, Func<double, double> D3, double[] Points);

    static readonly double[] Anywhere = [-2.3, -0.7, 0.35, 1.1, 2.9];
    static readonly double[] Positive = [0.3, 0.9, 1.7, 2.5, 4.0];
    static readonly double Ln2 = Math.Log(2);

    static readonly Dictionary<string, Case> Cases = new()
    {
        ["Sin"] = new(x => Math.Sin(x), x => MathF.Sin(x), Math.Cos, x => -Math.Sin(x), x => -Math.Cos(x), Anywhere),
        ["Cos"] = new(x => Math.Cos(x), x => MathF.Cos(x), x => -Math.Sin(x), x => -Math.Cos(x), Math.Sin, Anywhere),
        ["Exp"] = new(x => Math.Exp(x), x => MathF.Exp(x), Math.Exp, Math.Exp, Math.Exp, Anywhere),
        ["Log"] = new(x => Math.Log(x), x => MathF.Log(x), x => 1 / x, x => -1 / (x * x), x => 2 / (x * x * x), Positive),
        // t = tanh x: t' = 1 - t², t'' = -2t(1 - t²), t''' = (1 - t²)(6t² - 2)
        ["Tanh"] = new(x => Math.Tanh(x), x => MathF.Tanh(x),
            x => 1 - Sq(Math.Tanh(x)), x => -2 * Math.Tanh(x) * (1 - Sq(Math.Tanh(x))),
            x => (1 - Sq(Math.Tanh(x))) * (6 * Sq(Math.Tanh(x)) - 2), Anywhere),
        ["Sqrt"] = new(x => Math.Sqrt(x), x => MathF.Sqrt(x),
            x => 0.5 / Math.Sqrt(x), x => -0.25 * Math.Pow(x, -1.5), x => 0.375 * Math.Pow(x, -2.5), Positive),
        // away from 0: |x|' = sign x, then 0
        ["Abs"] = new(x => Math.Abs(x) * x, x => MathF.Abs(x) * x,
            x => 2 * Math.Abs(x), x => 2 * Math.Sign(x), _ => 0, Anywhere),
        ["PowConstExponent"] = new(x => Math.Pow(x, 3.5), x => MathF.Pow(x, 3.5f),
            x => 3.5 * Math.Pow(x, 2.5), x => 8.75 * Math.Pow(x, 1.5), x => 13.125 * Math.Pow(x, 0.5), Positive),
        ["PowConstBase"] = new(x => Math.Pow(2.0, x), x => MathF.Pow(2f, x),
            x => Ln2 * Math.Pow(2, x), x => Ln2 * Ln2 * Math.Pow(2, x), x => Ln2 * Ln2 * Ln2 * Math.Pow(2, x), Anywhere),
        // y = x^x, u = ln x + 1: y' = y u, y'' = y (u² + 1/x), y''' = y (u³ + 3u/x - 1/x²)
        ["PowBoth"] = new(x => Math.Pow(x, x), x => MathF.Pow(x, x),
            x => Math.Pow(x, x) * U(x), x => Math.Pow(x, x) * (Sq(U(x)) + 1 / x),
            x => Math.Pow(x, x) * (U(x) * Sq(U(x)) + 3 * U(x) / x - 1 / (x * x)), Positive),
        // max(x², 1) + min(x, 0.5)·x: piecewise polynomials (points avoid the kinks at ±1, 0.5)
        ["MaxMin"] = new(x => Math.Max(x * x, 1.0) + Math.Min(x, 0.5) * x, x => MathF.Max(x * x, 1f) + MathF.Min(x, 0.5f) * x,
            x => (x * x > 1 ? 2 * x : 0) + (x < 0.5 ? 2 * x : 0.5), x => (x * x > 1 ? 2 : 0) + (x < 0.5 ? 2 : 0), _ => 0, Anywhere),
        // sin x · e^x: (cos + sin) e^x, 2 cos e^x, 2 (cos - sin) e^x
        ["SinTimesExp"] = new(x => Math.Sin(x) * Math.Exp(x), x => MathF.Sin(x) * MathF.Exp(x),
            x => (Math.Cos(x) + Math.Sin(x)) * Math.Exp(x), x => 2 * Math.Cos(x) * Math.Exp(x),
            x => 2 * (Math.Cos(x) - Math.Sin(x)) * Math.Exp(x), Anywhere),
        // 1 / (1 + x²): -2x/(1+x²)², (6x² - 2)/(1+x²)³, 24x(1 - x²)/(1+x²)⁴
        ["Quotient"] = new(x => 1 / (1 + x * x), x => 1 / (1 + x * x),
            x => -2 * x / Sq(1 + x * x), x => (6 * x * x - 2) / Math.Pow(1 + x * x, 3),
            x => 24 * x * (1 - x * x) / Math.Pow(1 + x * x, 4), Anywhere),
        // log(1 + e^x) (softplus by hand): σ, σ(1-σ), σ(1-σ)(1-2σ)
        ["Composite"] = new(x => Math.Log(1 + Math.Exp(x)), x => MathF.Log(1 + MathF.Exp(x)),
            Sig, x => Sig(x) * (1 - Sig(x)), x => Sig(x) * (1 - Sig(x)) * (1 - 2 * Sig(x)), Anywhere),
    };

    static double Sq(double v) => v * v;
    static double U(double x) => Math.Log(x) + 1;
    static double Sig(double x) => 1 / (1 + Math.Exp(-x));

    public static TheoryData<string> Names() => new(Cases.Keys);

    static void Close(double expected, double actual, double rel, string what) =>
        Assert.True(Math.Abs(expected - actual) <= rel * Math.Max(1, Math.Abs(expected)),
            $"{what}: expected {expected:R}, got {actual:R}");

    [Theory]
    [MemberData(nameof(Names))]
    public void Double_code_derivatives_of_order_1_2_3_match_the_analytic_ones(string name)
    {
        var c = Cases[name];
        var d1 = Ad.Grad(c.F);
        var d2 = Ad.Grad(d1);
        var d3 = Ad.Grad(d2);
        var (f1, f2, f3) = (d1.Compile(), d2.Compile(), d3.Compile());
        foreach (var x in c.Points)
        {
            Close(c.D1(x), f1(x), 1e-12, $"{name}' at {x}");
            Close(c.D2(x), f2(x), 1e-11, $"{name}'' at {x}");
            Close(c.D3(x), f3(x), 1e-10, $"{name}''' at {x}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Float_code_with_MathF_derivatives_of_order_1_2_3_match_the_analytic_ones(string name)
    {
        var c = Cases[name];
        var d1 = Ad.Grad(c.FF);
        var d2 = Ad.Grad(d1);
        var d3 = Ad.Grad(d2);
        var (f1, f2, f3) = (d1.Compile(), d2.Compile(), d3.Compile());
        foreach (var x in c.Points)
        {
            float xf = (float)x;   // compare at the point actually evaluated
            Close(c.D1(xf), f1(xf), 2e-5, $"{name}' at {x}");
            Close(c.D2(xf), f2(xf), 1e-4, $"{name}'' at {x}");
            Close(c.D3(xf), f3(xf), 5e-4, $"{name}''' at {x}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Double_code_first_derivative_matches_central_differences(string name)
    {
        var c = Cases[name];
        var f = c.F.Compile();
        var df = Ad.Grad(c.F).Compile();
        foreach (var x in c.Points)
        {
            const double h = 1e-5;
            Close((f(x + h) - f(x - h)) / (2 * h), df(x), 1e-6, $"{name}' at {x} vs finite differences");
        }
    }

    [Fact]
    public void Derivative_of_a_float_function_is_a_float_and_of_a_double_function_a_double()
    {
        Expression<Func<float, float>> ff = x => x * x;
        Expression<Func<double, double>> fd = x => x * x;
        Assert.Equal(typeof(float), Ad.Grad(ff).ReturnType);
        Assert.Equal(typeof(double), Ad.Grad(fd).ReturnType);
        Assert.Equal(6f, Ad.Grad(ff).Compile()(3f));
    }

    [Fact]
    public void Casts_between_float_and_double_are_differentiated()
    {
        // d/dx (double)sin((float)x) = cos x, to float precision
        Expression<Func<double, double>> f = x => (double)MathF.Sin((float)x) * 2;
        var df = Ad.Grad(f).Compile();
        foreach (var x in new[] { -1.0, 0.5, 2.0 }) Close(2 * Math.Cos(x), df(x), 1e-6, $"at {x}");
    }

    [Fact]
    public void Math_constants_and_captured_doubles_are_constants()
    {
        double a = 0.25;
        Expression<Func<double, double>> f = x => Math.PI * x * x + a * Math.Exp(x);
        var df = Ad.Grad(f).Compile();
        Close(2 * Math.PI * 1.5 + 0.25 * Math.Exp(1.5), df(1.5), 1e-12, "d/dx");
    }

    // ---------------------------------------------------------------- doubles mixed with tensors

    [Fact]
    public void Gradient_with_respect_to_a_double_that_scales_a_tensor()
    {
        // (s, x) => Σ x·s: ∂/∂s = Σ x
        Expression<Func<double, Tensor, Tensor>> f = (s, x) => Sum(x * s);
        var x0 = new Tensor(new float[] { 1, 2, -0.5f });
        double g = Ad.Grad(f).Compile()(3.0, x0);
        Close(2.5, g, 1e-7, "∂/∂s");
    }

    [Fact]
    public void Gradient_with_respect_to_both_a_tensor_and_a_double_in_a_tuple()
    {
        // (x, s) => Σ x·s written with the tensor first, differentiated through a tuple argument:
        // ∂/∂x = s, ∂/∂s = Σ x
        Expression<Func<(Tensor X, double S), Tensor>> f = a => Sum(a.X * a.S);
        var g = Ad.Grad(f).Compile()((new Tensor(new double[] { 1, 2, -0.5 }), 3.0));
        Assert.Equal(new[] { 3.0, 3, 3 }, g.X.ToDoubleArray());
        Assert.Equal(DType.Float64, g.X.DType);
        Close(2.5, g.S, 1e-12, "∂/∂s");
    }

    [Fact]
    public void Gradient_of_a_tensor_times_a_double_keeps_the_tensor_dtype()
    {
        Expression<Func<Tensor, double, Tensor>> f = (x, s) => Sum(x * s);
        var g32 = Ad.Grad(f).Compile()(new Tensor(new float[] { 1, 2 }), 2.5);
        var g64 = Ad.Grad(f).Compile()(new Tensor(new double[] { 1, 2 }), 2.5);
        Assert.Equal(DType.Float32, g32.DType);
        Assert.Equal(DType.Float64, g64.DType);
        Assert.Equal(new[] { 2.5, 2.5 }, g64.ToDoubleArray());
    }

    // (s, x) => e^s · Σ tanh(s·x): ∂/∂s = e^s Σ tanh(s x) + e^s Σ x (1 - tanh²(s x))
    static double MixWant(double s0, double[] xs) =>
        Math.Exp(s0) * xs.Sum(v => Math.Tanh(s0 * v)) + Math.Exp(s0) * xs.Sum(v => v * (1 - Sq(Math.Tanh(s0 * v))));

    [Fact]
    public void Nonlinear_mix_of_a_double_and_a_tensor()
    {
        Expression<Func<double, Tensor, Tensor>> f = (s, x) => Sum(Tanh(x * s)) * Math.Exp(s);
        var xs = new[] { 0.3, -1.2, 2.0 };
        Close(MixWant(0.7, xs), (double)Ad.Grad(f).Compile()(0.7, new Tensor(xs)), 1e-12, "∂/∂s");
    }

    [Fact]
    public void Nonlinear_mix_through_a_double_cast_keeps_float64_precision()
    {
        Expression<Func<double, Tensor, double>> f = (s, x) => Math.Exp(s) * (double)Sum(Tanh(x * s));
        var xs = new[] { 0.3, -1.2, 2.0 };
        Close(MixWant(0.7, xs), Ad.Grad(f).Compile()(0.7, new Tensor(xs)), 1e-12, "∂/∂s");
        // smallest form: d/dx e^(Σx) at x = [0.7] is e^0.7 (got 2.0137526988983154, e^0.7 rounded to float32)
        Expression<Func<Tensor, double>> u = x => Math.Exp((double)Sum(x));
        Close(Math.Exp(0.7), Ad.Grad(u).Compile()(new Tensor(new[] { 0.7 })).ToDoubleArray()[0], 1e-14, "d/dx e^Σx");
    }

    [Fact]
    public void Second_derivative_with_respect_to_a_double_through_tensor_code()
    {
        // s => Σ sin(c·s) with c captured: f'' = -Σ c² sin(c s)
        var c = new Tensor(new double[] { 0.5, -1.5, 2.0 });
        Expression<Func<double, double>> f = s => (double)Sum(Sin(c * s));
        var d2 = Ad.Grad(Ad.Grad(f)).Compile();
        var cs = new[] { 0.5, -1.5, 2.0 };
        foreach (var s in new[] { -0.4, 0.9 })
            Close(-cs.Sum(v => v * v * Math.Sin(v * s)), d2(s), 1e-12, $"f'' at {s}");
    }

    [Fact]
    public void Gradient_through_a_double_cast_keeps_the_float64_dtype()
    {
        Expression<Func<Tensor, double>> f = x => (double)Sum(x);
        var g = Ad.Grad(f).Compile()(new Tensor(new double[] { 1, 2 }));
        Assert.Equal(DType.Float64, g.DType);
        Assert.False(g.IsWeak);
    }

    [Fact]
    public void GradCheck_accepts_a_double_argument()
    {
        Expression<Func<double, double>> f = x => Math.Sin(x) * x;
        Assert.True(GradCheck.Check(f, 0.3).Ok);
    }

    [Fact]
    public void A_nested_Grad_of_a_captured_expression_can_be_invoked_inside_another_expression()
    {
        // cube' = 3z², f = cube'(x)·x = 3x³, f' = 9x²
        Expression<Func<double, double>> cube = z => z * z * z;
        Expression<Func<double, double>> f = x => Ad.Grad(cube).Invoke(x) * x;
        var df = Ad.Grad(f).Compile();
        foreach (var x in new[] { -1.5, 2.0 }) Close(9 * x * x, df(x), 1e-12, $"at {x}");
    }

    [Property(MaxTest = 50)]
    public Property Third_derivative_of_tanh_matches_the_analytic_one_at_random_points()
    {
        Expression<Func<double, double>> f = x => Math.Tanh(x);
        var d3 = f.Grad().Grad().Grad().Compile();
        return Prop.ForAll(Gen.Choose(-4000, 4000).Select(i => i / 1000.0).ToArbitrary(), x =>
        {
            double t = Math.Tanh(x), want = (1 - t * t) * (6 * t * t - 2);
            return Math.Abs(d3(x) - want) <= 1e-11;
        });
    }
}
