using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>Np.Where gradients where the unselected branch has a non-finite derivative ("double where", done for you).</summary>
public class WhereGradientTests
{
    static readonly double[] Xs = [0.0, 2.0, -1.5, 0.5];

    static Tensor X => Tensor.FromArray(Xs, DType.Float64);

    [Fact]
    public void Grad_of_where_log_is_finite_at_zero()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Where(x > 0, Log(x), 0));
        // hand-derived: d/dx log(x) = 1/x where x > 0, else 0
        var expected = Xs.Select(x => x > 0 ? 1 / x : 0).ToArray();
        Assert.Equal(expected, f.Grad().Compile()(X).ToDoubleArray());
        Assert.Equal(expected, f.Grad().Jit()(X).ToDoubleArray());
        Assert.Equal(expected, f.Grad().Compile()(X.AsType(DType.Float32)).ToDoubleArray().Select((g, i) => Math.Abs(g - expected[i]) < 1e-6 ? expected[i] : g).ToArray());
    }

    [Fact]
    public void Grad_of_sinc_is_finite_and_zero_at_zero()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Where(Greater(Abs(x), 0), Sin(x) / x, 1));
        // hand-derived: d/dx sin(x)/x = cos(x)/x - sin(x)/x^2; the limit at 0 is 0
        var expected = Xs.Select(x => x == 0 ? 0 : Math.Cos(x) / x - Math.Sin(x) / (x * x)).ToArray();
        foreach (var g in new[] { f.Grad().Compile()(X), f.Grad().Jit()(X) })
        {
            var got = g.ToDoubleArray();
            for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expected[i]) < 1e-12, $"x = {Xs[i]}: {got[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void Jvp_of_where_sqrt_is_finite_where_unselected()
    {
        // forward mode selects tangents, so the unselected branch's inf/NaN tangent is dropped
        Expression<Func<Tensor, Tensor>> f = x => Where(x > 0, Sqrt(x), 0);
        var (y, dy) = f.Jvp().Compile()(X, Tensor.FromArray(new double[] { 1, 1, 1, 1 }, DType.Float64));
        var expected = Xs.Select(x => x > 0 ? 0.5 / Math.Sqrt(x) : 0).ToArray();
        Assert.Equal(expected, dy.ToDoubleArray());
        // reverse mode: sqrt(-1.5) is NaN and its derivative too; the masked cotangent keeps the gradient 0
        Expression<Func<Tensor, Tensor>> g = x => Sum(f.Invoke(x));
        Assert.Equal(expected, g.Grad().Compile()(X).ToDoubleArray());
    }

    [Fact]
    public void Ieee_is_kept_outside_a_where()
    {
        // with no Where, a zero cotangent times an infinite derivative stays NaN, as in plain IEEE arithmetic
        Expression<Func<Tensor, Tensor>> f = x => Sum(Log(x) * 0);
        Assert.True(double.IsNaN(f.Grad().Compile()(Tensor.FromArray(new[] { 0.0 }, DType.Float64)).ToDoubleArray()[0]));
    }
}

/// <summary>Np.Fold against its unrolled equivalent and float64 central differences.</summary>
public class FoldTests
{
    static Tensor X => Tensor.FromArray(new[] { 0.3, -0.7, 1.1 }, DType.Float64);
    static Tensor W => Tensor.FromArray(new[] { 0.9, 0.5, -0.4 }, DType.Float64);

    // carry = tanh(w * carry + i / 10 + x), five times; x and w captured
    static readonly Expression<Func<Tensor, Tensor, Tensor>> Looped =
        (x, w) => Sum(Np.Fold(5, x, (double i, Tensor c) => Tanh(w * c + i / 10 + x)) * x);

    static readonly Expression<Func<Tensor, Tensor, Tensor>> Unrolled =
        (x, w) => Sum(Tanh(w * Tanh(w * Tanh(w * Tanh(w * Tanh(w * x + 0.0 + x) + 0.1 + x) + 0.2 + x) + 0.30000000000000004 + x) + 0.4 + x) * x);

    static void Close(Tensor a, Tensor b, double tol = 1e-12)
    {
        var x = a.ToDoubleArray(); var y = b.ToDoubleArray();
        Assert.Equal(y.Length, x.Length);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"element {i}: {x[i]} vs {y[i]}");
    }

    [Fact]
    public void Value_matches_unrolled_eager_and_jit()
    {
        Close(Looped.Compile()(X, W), Unrolled.Compile()(X, W));
        Close(Looped.Jit()(X, W), Unrolled.Compile()(X, W));
    }

    [Fact]
    public void Gradient_matches_unrolled_and_finite_differences()
    {
        var g = Looped.Grad();
        var expected = Unrolled.Grad().Compile()(X, W);
        Close(g.Compile()(X, W), expected);
        Close(g.Jit()(X, W), expected);
        // gradient with respect to the captured w, through the loop
        Expression<Func<Tensor, Tensor, Tensor>> byW = (w, x) => Looped.Invoke(x, w);
        Expression<Func<Tensor, Tensor, Tensor>> byWu = (w, x) => Unrolled.Invoke(x, w);
        Close(byW.Grad().Compile()(W, X), byWu.Grad().Compile()(W, X));
        // float64 central differences
        var f = Looped.Compile();
        var gx = g.Compile()(X, W).ToDoubleArray();
        for (int k = 0; k < 3; k++)
        {
            var e = new double[3]; e[k] = 1e-6;
            var d = Tensor.FromArray(e, DType.Float64);
            double num = (f(X + d, W).ToDoubleArray()[0] - f(X - d, W).ToDoubleArray()[0]) / 2e-6;
            Assert.True(Math.Abs(num - gx[k]) < 1e-7, $"component {k}: {gx[k]} vs {num}");
        }
    }

    [Fact]
    public void Jvp_matches_unrolled()
    {
        var v = Tensor.FromArray(new[] { 1.0, -2.0, 0.5 }, DType.Float64);
        var (y, dy) = Looped.Jvp().Compile()(X, W, v, W * 0);
        var (yu, dyu) = Unrolled.Jvp().Compile()(X, W, v, W * 0);
        Close(y, yu); Close(dy, dyu);
    }

    [Fact]
    public void Scalar_carry_and_derivative()
    {
        // x^(2^4) by repeated squaring; derivative 16 x^15
        Expression<Func<double, double>> f = x => Np.Fold(4, x, (double i, double c) => c * c);
        Assert.Equal(Math.Pow(1.1, 16), f.Compile()(1.1), 12);
        Assert.Equal(16 * Math.Pow(1.1, 15), f.Grad().Compile()(1.1), 10);
    }
}
