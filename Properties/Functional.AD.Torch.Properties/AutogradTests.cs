using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch.Properties;

/// <summary>TorchSharp's own autograd as the oracle: compositions written both ways, on random inputs and shapes.</summary>
public class AutogradTests
{
    /// <summary>A composition written for Ad and, independently, for TorchSharp eager autograd.</summary>
    sealed record Composition(string Name, Expression<Func<Tensor, Tensor, Tensor>> Ours, Func<TT, TT, TT> Theirs, bool Matrix = false);

    static readonly Composition[] Compositions =
    [
        new("tanh * gaussian + max", (a, b) => Sum(Tanh(a) * Exp(-(b * b)), null, false) + Max(Maximum(a, b) * 0.5, null, false),
            (a, b) => (a.tanh() * (-(b * b)).exp()).sum() + (torch.maximum(a, b) * 0.5).max()),
        new("sigmoid / softplus", (a, b) => Mean(Sigmoid(a) / (1 + Softplus(b)) - Sqrt(a * a + 1), null, false),
            (a, b) => (a.sigmoid() / (1 + torch.nn.functional.softplus(b)) - (a * a + 1).sqrt()).mean()),
        new("logsumexp of sin cos", (a, b) => Sum(LogSumExp(Sin(a) * Cos(b), -1, false), null, false) + Sum(Pow(Abs(a) + 1, b * 0.1), null, false),
            (a, b) => (a.sin() * b.cos()).logsumexp(-1).sum() + (a.abs() + 1).pow(b * 0.1).sum()),
        new("mlp with log-softmax", (x, w) => -Mean(Sum(LogSoftmax(MatMul(Relu(x), w), -1) * Mean(Softmax(w, -1), 0, false), -1, false), null, false),
            (x, w) => -(torch.matmul(x.relu(), w).log_softmax(-1) * w.softmax(-1).mean([0L])).sum(-1).mean(), Matrix: true),
        new("where and transpose", (a, b) => Sum(Where(a > b, a * b, Transpose(Transpose(b, null), null) - a) * Log(1 + a * a), null, false),
            (a, b) => (torch.where(a.gt(b), a * b, b - a) * (1 + a * a).log()).sum()),
    ];

    public static IEnumerable<object[]> Names => Compositions.Select(c => new object[] { c.Name });

    static Gen<int[]> Shape(bool matrix) => matrix
        ? Gen.Choose(1, 4).SelectMany(n => Gen.Choose(1, 4).Select(m => new[] { n, n, m }))
        : Gens.Shape(1, 3).Select(s => s.Prepend(2).ToArray());

    [Theory]
    [MemberData(nameof(Names))]
    public void Ad_Grad_on_both_backends_agrees_with_torchsharp_autograd(string name)
    {
        var c = Compositions.Single(x => x.Name == name);
        var grad = c.Ours.Grad();
        var cpu = grad.Compile();
        var jit = grad.JitTorch(TorchBackend.Cpu);
        var inputs = Shape(c.Matrix).SelectMany(s => c.Matrix
            ? Gen.Zip(Gens.Tensor([s[0], s[1]], DType.Float64), Gens.Tensor([s[1], s[2]], DType.Float64))
            : Gen.Zip(Gens.Tensor(s, DType.Float64), Gens.Tensor(s, DType.Float64)));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(25).WithQuietOnSuccess(true), Prop.ForAll(Arb.From(inputs), ab =>
        {
            var (a, b) = ab;
            using var scope = torch.NewDisposeScope();
            var ta = a.ToTorch().requires_grad_(true);
            var tb = b.ToTorch();
            c.Theirs(ta, tb).backward();
            var expected = TorchTensors.FromTorch(ta.grad!);
            var ours = cpu(a, b);
            var onTorch = jit(a, b).ToHost();
            return (ours.AllClose(expected, 1e-9, 1e-10) && onTorch.AllClose(expected, 1e-9, 1e-10))
                .Label($"a = {a}\nb = {b}\nTorchSharp autograd {expected}\nAd.Grad on CPU {ours}\nAd.Grad on Torch {onTorch}");
        }));
    }

    [Fact]
    public void Adam_and_sgd_run_on_both_backends_and_match_a_hand_written_update()
    {
        var p = new XorParams(new Tensor(new[,] { { 0.5, -0.2 }, { 0.1, 0.3 }, { -0.4, 0.2 } }), new Tensor(new[] { 0.1, 0.2, 0.3 }),
                              new Tensor(new[] { 0.3, -0.1, 0.2 }), Tensor.Scalar(0.05, DType.Float64));
        var g = Tree.Map(x => x * x - 0.1, p);
        var adam = Optim.Adam<XorParams>(0.01);
        var s0 = Optim.AdamInit(p);
        var (p1, s1) = adam.Compile()(p, g, s0);
        var (p2, s2) = adam.Compile()(p1, g, s1);
        var (q1, t1) = adam.JitTorch(TorchBackend.Cpu)(p, g, s0);
        var (q2, _) = adam.JitTorch(TorchBackend.Cpu)(q1, g, t1);
        // by hand, two steps of Kingma & Ba's Algorithm 1 on the first weight
        double w = 0.5, gi = 0.5 * 0.5 - 0.1, m = 0, v = 0;
        for (int t = 1; t <= 2; t++)
        {
            m = 0.9 * m + 0.1 * gi; v = 0.999 * v + 0.001 * gi * gi;
            w -= 0.01 * (m / (1 - Math.Pow(0.9, t))) / (Math.Sqrt(v / (1 - Math.Pow(0.999, t))) + 1e-8);
        }
        Assert.Equal(w, p2.W1.Item(0, 0), 12);
        Assert.Equal(w, q2.W1.ToHost().Item(0, 0), 12);
        Assert.Equal(2.0, (double)s2.Step);
        var sgd = Optim.Sgd<XorParams>(0.5);
        Assert.Equal(0.5 - 0.5 * gi, sgd.Compile()(p, g).W1.Item(0, 0), 12);
        Assert.Equal(0.5 - 0.5 * gi, sgd.JitTorch(TorchBackend.Cpu)(p, g).W1.ToHost().Item(0, 0), 12);
    }
}
