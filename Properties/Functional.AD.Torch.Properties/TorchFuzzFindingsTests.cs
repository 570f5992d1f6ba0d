using System.Linq.Expressions;
using Functional.AD.Testing.Programs;
using Xunit;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Findings of the Torch oracles' long run (docs/testing.md). Finding 1: the gradient of any program with a C# double
/// argument meeting a tensor threw NullReferenceException on Torch (42 of the first 10,000 programs): the compiler gave
/// a double input no aval, and the shape rule of a node over it (InferAval of the transpose) printed the null aval.
/// </summary>
public class TorchFuzzFindingsTests
{
    static readonly FuzzParams P = new(new Tensor(new[] { 1.1614825796156576, -1.1901559825940784, -1.3229285214668738 }, [3, 1, 1]),
        new Tensor(new[] { 1.6579568496243828, 1.0541139259255092 }, [2, 1, 1]), -1.9867461286423478);
    static readonly Tensor Y = new(new[] { -0.9184010861992842 }, []);

    [Fact]
    public void A_double_leaf_times_a_tensor_leaf_on_torch()
    {
        Expression<Func<FuzzParams, Tensor, Tensor>> f = (x, y) => x.C * x.A;
        var value = f.JitTorch(TorchBackend.Cpu)(P, Y).ToHost();
        Assert.True(value.AllClose(f.Compile()(P, Y), 1e-15, 0));
        Expression<Func<FuzzParams, Tensor, double>> s = (x, y) => (double)Np.Sum(x.C * x.A, null, false);
        var g = s.Grad();
        var onTorch = g.JitTorch(TorchBackend.Cpu)(P, Y);
        var onCpu = g.Compile()(P, Y);
        Assert.True(onTorch.A.ToHost().AllClose(onCpu.A, 1e-15, 0));
        Assert.Equal(onCpu.C, onTorch.C, 12);
    }

    [Theory]
    [InlineData(1000264)]
    [InlineData(1000413)]
    [InlineData(1000654)]
    public void The_programs_that_found_it_pass_the_torch_vs_cpu_oracle(int seed)
    {
        var r = TorchOracles.TorchVsCpu.Check(ProgramGen.FromSeed(seed));
        Assert.True(r.Verdict == Verdict.Pass, r.Report);
    }

    /// <summary>
    /// Finding 2 (Torch vs CPU, 1 of about 200 programs once loops joined the programs): the gradient of a While whose
    /// condition holds a <c>c ? a : b</c> on a C# condition threw on Torch ("needs the shape of the ys"): shape
    /// inference gave up on the conditional, as its condition (a bool) has no aval, so the valid-flag rows of the
    /// While's residual stack had none either.
    /// </summary>
    [Fact]
    public void The_gradient_of_a_while_whose_condition_has_a_conditional_on_torch()
    {
        Expression<Func<Tensor, double, Tensor>> f = (x, d) => Np.Sum(Np.While(c => Np.Sum(d > 0 ? c : c * 2, null, false) < 3.0, c => c * 1.5 + 0.1, x), null, false);
        var x = new Tensor(new[] { 0.3, 0.2 }, [2]);
        foreach (var d in new[] { -1.0, 1.0 })
        {
            var g = f.Grad();
            var onTorch = g.JitTorch(TorchBackend.Cpu)(x, d).ToHost();
            Assert.True(onTorch.AllClose(g.Compile()(x, d), 1e-14, 1e-14), $"d = {d}: Torch {onTorch} vs CPU {g.Compile()(x, d)}");
        }
    }
}

/// <summary>
/// Fuzz findings in the autograd oracle's torch forms, not in the library: the torch form of Elu computed
/// <c>expm1(x)</c> in its unselected branch, which overflows where x is large, and the infinite partial times zero made
/// torch's gradient NaN (seeds 5000385, 5011308, 5014651); libtorch's <c>kron</c> refused a transposed operand ("view
/// size is not compatible", seed 5010535). And a program whose <c>Np.Pow</c> overflows under a saturating
/// <c>Np.Tanh</c> (seed 5002171) got a NaN gradient from <c>Ad.Grad</c> and 0 from torch: an infinite partial times a
/// zero cotangent, which IEEE arithmetic makes NaN and the two autodiffs order differently; the oracle skips such a
/// mismatch where a value on the way overflows. And a gradient summed from terms of 1e11 and more (a Sinh of 26.7 over
/// softmaxes of equal values, seed 5007621) differed between <c>Ad.Grad</c> and torch by 4e-4 to 8e-3, the rounding of
/// those terms (central differences at that scale are noise too); the oracle skips a difference within 1e-12 of the
/// largest value on the way.
/// </summary>
public class TorchAutogradFormFindingTests
{
    [Theory]
    [InlineData(5000385)]
    [InlineData(5011308)]
    [InlineData(5014651)]
    [InlineData(5010535)]
    [InlineData(5002171)]
    [InlineData(5007621)]   // Sinh(Sum(Softmax of equal values...)): gradients of terms of 1e11 and more
    public void The_programs_pass_the_autograd_oracle(int seed)
    {
        var r = TorchOracles.Autograd.Check(ProgramGen.FromSeed(seed));
        Assert.True(r.Ok, r.Report);
    }

    [Fact]
    public void Ordinary_programs_do_not_overflow_on_the_way()
    {
        int over = Enumerable.Range(0, 200).Count(s => { var p = ProgramGen.FromSeed(s); return ProgramOracleKit.OverflowsOnTheWay(p, p.Inputs()); });
        Assert.True(over <= 4, $"{over} of 200 programs overflow on the way");
    }
}
