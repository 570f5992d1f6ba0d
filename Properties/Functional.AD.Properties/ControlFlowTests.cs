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
