using System.Linq.Expressions;
using Functional.AD.Testing.Programs;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>Bugs the random-program fuzzer found, each as the smallest program that showed it (see docs/testing.md).</summary>
public class FuzzFindingsTests
{
    /// <summary>
    /// Fuzz finding 1: the gradient through a conditional nested in a conditional, under a reduction whose derivative needs
    /// the shape of the inner conditional's tangent, threw "Argument types do not match" when the gradient ran: the
    /// transpose asked the generic shape rule (which runs a primitive on zeros) for the shape of the inner conditional,
    /// which it cannot run without the conditional's branches.
    /// </summary>
    [Fact]
    public void Gradient_through_a_max_of_a_conditional_inside_a_conditional()
    {
        Expression<Func<Tensor, double, double>> f = (x, c) => (double)Np.Sum(c > 0 ? Np.Max(c > 1 ? x : -x, -1, true) : x, null, false);
        var g = Ad.Grad(f).Compile();
        var x = new Tensor(new[] { 1.0, 2.0 });
        // c = 0.5: f = max(-x) = -x[0]; c = 1.5: f = max(x) = x[1]; c = -1: f = x[0] + x[1]
        Assert.Equal(new[] { -1.0, 0.0 }, g(x, 0.5).ToDoubleArray());
        Assert.Equal(new[] { 0.0, 1.0 }, g(x, 1.5).ToDoubleArray());
        Assert.Equal(new[] { 1.0, 1.0 }, g(x, -1).ToDoubleArray());
    }

    /// <summary>The same finding as the fuzzer reported it (shrunk), checked by its oracle.</summary>
    [Fact]
    public void Gradient_oracle_on_the_shrunk_nested_conditional_program()
    {
        var p = ProgramGen.FromSeed(1766246498);
        Assert.True(Oracles.Gradient.Check(p).Ok, Oracles.Gradient.Check(p).Report);
        Assert.True(Oracles.SecondOrder.Check(p).Ok, Oracles.SecondOrder.Check(p).Report);
    }
}
