using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Properties;

/// <summary>Tests that flip the process-wide <see cref="Ad.DebugNans"/> switch run alone.</summary>
[CollectionDefinition(nameof(DebugNansCollection), DisableParallelization = true)]
public sealed class DebugNansCollection;

/// <summary>
/// NaN and infinity debugging (JAX's <c>jax_debug_nans</c> and <c>checkify</c>): a NaN planted in the eager path, the
/// jit and a gradient is found and named; NaNs that <c>Where</c> masks are not reported; the switch is part of the jit's
/// cache key.
/// </summary>
[Collection(nameof(DebugNansCollection))]
public sealed class DebugNansTests
{
    static Tensor V(params double[] xs) => new(xs);

    static void Has(Exception e, string fragment) => Assert.True(e.Message.Contains(fragment, StringComparison.Ordinal), $"\"{fragment}\" not in:\n{e.Message}");

    [Fact]
    public void Checked_reads_bool_integer_and_half_intermediates_and_still_finds_a_NaN_in_a_half()
    {
        // masks, labels and halves are checked by their own element type (they used to be read as float32 and threw)
        Expression<Func<Tensor, Tensor>> f = x => Sum(Where(x > 0.0, x, -x) * OneHot(Argmax(x, 0), 2, DType.Float64) + x.AsType(DType.Float16).AsType(DType.Float64));
        Assert.Equal((double)f.Compile()(V(0.5, 3)), (double)Ad.Checked(f)(V(0.5, 3)));
        Expression<Func<Tensor, Tensor>> g = x => Sum(Sqrt(x.AsType(DType.BFloat16) - 1.0).AsType(DType.Float64));
        var e = Assert.Throws<NanException>(() => Ad.Checked(g)(V(0.5, 3)));
        Assert.Equal("Sqrt", e.Primitive);
    }

    [Fact]
    public void Checked_names_the_primitive_its_subexpression_and_shapes_of_a_planted_NaN_on_the_eager_path()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Exp(x) + Log(x - 1.0));
        Assert.True(double.IsNaN((double)f.Compile()(V(0.5, 3))));   // the plain path is silent
        var e = Assert.Throws<NanException>(() => Ad.Checked(f)(V(0.5, 3)));
        Assert.Equal("Log", e.Primitive);
        Has(e, "`Log((x - 1))`");
        Has(e, "float64[2]");
        Has(e, "NaN");
        Has(e, "inputs were all finite");
        Assert.False(e.InputsHeldNonFinite);
        Assert.Equal(["float64[2]"], e.InputShapes);
        // finite inputs pass through, and the result is the plain one
        Assert.Equal((double)f.Compile()(V(2, 3)), (double)Ad.Checked(f)(V(2, 3)));
    }

    [Fact]
    public void Checked_says_when_the_inputs_already_held_a_NaN()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => Sum(a * b);
        var e = Assert.Throws<NanException>(() => Ad.Checked(f)(V(1, double.NaN), V(1, 2)));
        Assert.True(e.InputsHeldNonFinite);
        Has(e, "already held");
        Has(e, "`a`");
        Assert.Equal("Mul", e.Primitive);
    }

    [Fact]
    public void Checked_finds_an_infinite_cotangent_from_Sqrt_at_zero_in_the_reverse_pass()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Sqrt(x) * 3.0);
        var grad = Ad.Grad(f);
        var g = grad.Compile()(V(0, 4));
        Assert.True(double.IsPositiveInfinity(g.Item(0)));   // the oracle: d sqrt(x)/dx = 1 / (2 sqrt(x)) is infinite at 0
        var e = Assert.Throws<NanException>(() => Ad.Checked(grad)(V(0, 4)));
        Has(e, "infinity");
        Has(e, "Sqrt(x)");
        Has(e, "derivative rule");
        Assert.False(e.InputsHeldNonFinite);
    }

    [Fact]
    public void Checked_finds_the_infinite_derivative_of_a_scalar_function()
    {
        Expression<Func<double, double>> f = x => Math.Sqrt(x) + x;
        var e = Assert.Throws<NanException>(() => Ad.Checked(Ad.Grad(f))(0.0));
        Has(e, "from `Sqrt(x)`");
        Has(e, "infinity");
        Assert.Equal(1 + 0.5 / Math.Sqrt(4.0), Ad.Checked(Ad.Grad(f))(4.0), 12);
    }

    [Fact]
    public void NaNs_masked_by_Where_are_not_reported_forward_nor_in_the_double_where_gradient()
    {
        // forward: Sqrt of a negative is computed, then discarded by the Where
        Expression<Func<Tensor, Tensor>> f = x => Sum(Where(Greater(x, 0.0), Sqrt(x), x * 0.0));
        Assert.Equal(2.0, (double)Ad.Checked(f)(V(-1, 4)), 12);
        // the double-where trick: the gradient is finite, so nothing is reported
        Expression<Func<Tensor, Tensor>> safe = x => Sum(Where(Greater(x, 0.0), Sqrt(Where(Greater(x, 0.0), x, x * 0.0 + 1.0)), x * 0.0));
        var g = Ad.Checked(Ad.Grad(safe))(V(-1, 4));
        Assert.Equal(0.0, g.Item(0));
        Assert.Equal(0.25, g.Item(1), 12);
        // the plain-where gradient: reported exactly when the gradient holds a NaN or an infinity
        var plain = Ad.Grad(f);
        var direct = plain.Compile()(V(-1, 4));
        bool nonFinite = direct.ToDoubleArray().Any(v => !double.IsFinite(v));
        var caught = Record.Exception(() => Ad.Checked(plain)(V(-1, 4)));
        Assert.Equal(nonFinite, caught is NanException);
    }

    [Fact]
    public void DebugNans_makes_Jit_check_and_is_part_of_its_cache_key()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Sqrt(x - 2.0) * x);
        var jitted = Ad.Jit(f);
        bool saved = Ad.DebugNans;
        try
        {
            Ad.DebugNans = false;
            Assert.True(double.IsNaN((double)jitted(V(1, 3))));     // off: silent, as before
            Ad.DebugNans = true;
            var e = Assert.Throws<NanException>(() => jitted(V(1, 3)));
            Assert.Equal("Sqrt", e.Primitive);
            Has(e, "Ad.Jit");
            Has(e, "`Sqrt((x - 2))`");
            Has(e, "float64[2]");
            Assert.Equal(Math.Sqrt(1) * 3 + Math.Sqrt(0) * 2, (double)jitted(V(3, 2)), 12);   // finite: the checked specialisation runs
            Ad.DebugNans = false;
            Assert.True(double.IsNaN((double)jitted(V(1, 3))));     // and off again: the unchecked one
            Assert.Equal(2, Ad.JitCompilations(jitted));               // one specialisation per switch value
        }
        finally { Ad.DebugNans = saved; }
    }

    [Fact]
    public void DebugNans_under_Jit_finds_a_NaN_in_a_gradient()
    {
        Expression<Func<Tensor, Tensor>> f = x => Sum(Log(x) * x);
        var grad = Ad.Jit(Ad.Grad(f));
        bool saved = Ad.DebugNans;
        try
        {
            Ad.DebugNans = true;
            var e = Assert.Throws<NanException>(() => grad(V(-1, 2)));
            Has(e, "Log(x)");
            Has(e, "NaN");
        }
        finally { Ad.DebugNans = saved; }
    }

    [Fact]
    public void A_NaN_argument_returned_as_is_is_named()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, b) => a;
        var e = Assert.Throws<NanException>(() => Ad.Checked(f)(V(double.NaN), V(1)));
        Has(e, "`a`");
        Assert.True(e.InputsHeldNonFinite);
    }
}
