using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Convolutions against TorchSharp's own <c>conv1d</c>, <c>conv2d</c> and <c>conv_transpose2d</c> and their autograd, on
/// random shapes covering strides, padding, dilation and groups: values and gradients of the CPU backend (eager and
/// jit) and of the Torch backend; and the general <c>Lax.Conv</c> (lhs dilation, asymmetric and negative padding,
/// batch groups, channels-last) on the Torch backend against the CPU.
/// </summary>
public class ConvTorchTests
{
    /// <summary>A PyTorch-style convolution case: input [n, c, spatial...], kernel [o, c / groups, k...] (or [c, o / groups, k...] transposed).</summary>
    public sealed record Case(int Dims, int N, int C, int O, int[] X, int[] K, int Stride, int Padding, int Dilation, int Groups, int OutputPadding, int Seed)
    {
        public override string ToString() =>
            $"{Dims}-D n={N} c={C} o={O} x=[{string.Join(",", X)}] k=[{string.Join(",", K)}] stride={Stride} padding={Padding} dilation={Dilation} groups={Groups} outputPadding={OutputPadding}";
    }

    static Gen<Case> Cases(int dims, bool transposed) =>
        from g in Gen.Elements(1, 1, 2, 3)
        from ci in Gen.Choose(1, 3)
        from oi in Gen.Choose(1, 3)
        from n in Gen.Choose(1, 3)
        from stride in Gen.Choose(1, 3)
        from dilation in Gen.Choose(1, 2)
        from k in Gen.Choose(1, 3).ArrayOf(dims)
        from padding in Gen.Choose(0, 2)
        from extra in Gen.Choose(0, 4).ArrayOf(dims)
        from op in Gen.Choose(0, 2)
        from seed in Gen.Choose(0, 1 << 30)
        let x = k.Select((kk, i) => (kk - 1) * dilation + 1 + extra[i]).ToArray()
        let outputPadding = Math.Min(op, stride - 1)
        where !transposed || x.Select((v, i) => (v - 1) * stride - 2 * padding + dilation * (k[i] - 1) + outputPadding + 1).All(v => v >= 1)
        select new Case(dims, n, g * ci, g * oi, x, k, stride, padding, dilation, g, outputPadding, seed);

    static Tensor Random(int[] shape, Random rng, DType dt) =>
        new Tensor(Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), shape).AsType(dt);

    static TT Torch(Tensor t) => t.ToTorch(TorchBackend.Cpu);

    static Tensor Host(TT t) => TorchTensors.FromTorch(t.detach().cpu().clone()).ToHost();

    static string Close(string what, Tensor actual, Tensor expected, DType dt)
    {
        if (!actual.Shape.SequenceEqual(expected.Shape)) return $"{what}: shape {actual.Aval} vs {expected.Aval}";
        var (rtol, atol) = dt == DType.Float64 ? (1e-9, 1e-10) : (1e-4, 1e-4);
        if (actual.AllClose(expected, rtol, atol)) return "";
        var a = actual.ToHost().ToDoubleArray();
        var e = expected.ToDoubleArray();
        int worst = Enumerable.Range(0, a.Length).MaxBy(i => Math.Abs(a[i] - e[i]));
        return $"{what}: element {worst} is {a[worst]:R}, expected {e[worst]:R} (of {a.Length}; actual {actual.ToHost()}, expected {expected})";
    }

    /// <summary>Values and the gradients of Sum(conv * r) with respect to input and kernel: ours (eager, CPU jit, Torch backend) against TorchSharp autograd.</summary>
    static string Compare(Case c, DType dt, bool transposed, Expression<Func<Tensor, Tensor, Tensor>> ours, Func<TT, TT, TT> theirs)
    {
        var rng = new Random(c.Seed);
        var x = Random([c.N, transposed ? c.O : c.C, .. c.X], rng, dt);
        var w = Random([c.O, c.C / c.Groups, .. c.K], rng, dt);
        // the oracle runs in float64 (on the same float32-rounded inputs): libtorch's own float32 autograd of a strided
        // convolution was seen to drop input-gradient rows when the stride exceeds the kernel (see docs/convolutions.md)
        var tx = Torch(x.AsType(DType.Float64)).requires_grad_(true);
        var tw = Torch(w.AsType(DType.Float64)).requires_grad_(true);
        var ty = theirs(tx, tw);
        var r = Random(ty.shape.Select(v => (int)v).ToArray(), rng, dt);
        var grads = torch.autograd.grad([(ty * Torch(r.AsType(DType.Float64))).sum()], [tx, tw]);
        var expectY = Host(ty).AsType(dt);
        var (gx, gw) = (Host(grads[0]).AsType(dt), Host(grads[1]).AsType(dt));

        Expression<Func<Tensor, Tensor, Tensor, Tensor>> loss = (a, b, rr) => Sum(ours.Invoke(a, b) * rr, null, false);
        var both = ToBoth(loss);
        var problems = new List<string>
        {
            Close("eager value", ours.Compile()(x, w), expectY, dt),
            Close("jit value", ours.Jit()(x, w), expectY, dt),
            Close("torch value", ours.JitTorch(TorchBackend.Cpu)(x, w).ToHost(), expectY, dt),
        };
        var eager = both.Compile()(x, w, r);
        var jit = both.Jit()(x, w, r);
        var onTorch = both.JitTorch(TorchBackend.Cpu)(x, w, r);
        foreach (var (name, v) in new[] { ("eager", eager), ("jit", jit), ("torch", onTorch) })
        {
            problems.Add(Close(name + " input gradient", v.Item1.ToHost(), gx, dt));
            problems.Add(Close(name + " kernel gradient", v.Item2.ToHost(), gw, dt));
        }
        return string.Join("; ", problems.Where(p => p.Length > 0));
    }

    /// <summary>The gradient of a three-argument loss with respect to its first two arguments, as one expression.</summary>
    static Expression<Func<Tensor, Tensor, Tensor, (Tensor, Tensor)>> ToBoth(Expression<Func<Tensor, Tensor, Tensor, Tensor>> loss)
    {
        Expression<Func<(Tensor, Tensor), Tensor, Tensor>> paired = (p, rr) => loss.Invoke(p.Item1, p.Item2, rr);
        var g = Ad.Grad(paired);
        return (a, b, rr) => g.Invoke(ValueTuple.Create(a, b), rr);
    }

    static void Check(Gen<Case> cases, Func<Case, DType, string> run, int count = 40)
    {
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(count).WithQuietOnSuccess(true), Prop.ForAll(Arb.From(cases), c =>
        {
            foreach (var dt in new[] { DType.Float64, DType.Float32 })
            {
                var problem = run(c, dt);
                if (problem.Length > 0) throw new Xunit.Sdk.XunitException($"{c} {dt}: {problem}");
            }
        }));
    }

    [Fact]
    public void Conv2d_matches_torchsharp_values_and_autograd() =>
        Check(Cases(2, false), (c, dt) => Compare(c, dt, false,
            (x, w) => Conv2d(x, w, c.Stride, c.Padding, c.Dilation, c.Groups),
            (x, w) => torch.nn.functional.conv2d(x, w, null, [c.Stride, c.Stride], [c.Padding, c.Padding], [c.Dilation, c.Dilation], c.Groups)));

    [Fact]
    public void Conv1d_matches_torchsharp_values_and_autograd() =>
        Check(Cases(1, false), (c, dt) => Compare(c, dt, false,
            (x, w) => Conv1d(x, w, c.Stride, c.Padding, c.Dilation, c.Groups),
            (x, w) => torch.nn.functional.conv1d(x, w, null, c.Stride, c.Padding, c.Dilation, c.Groups)));

    [Fact]
    public void ConvTranspose2d_matches_torchsharp_values_and_autograd() =>
        Check(Cases(2, true), (c, dt) => Compare(c, dt, true,
            (x, w) => ConvTranspose2d(x, w, c.Stride, c.Padding, c.OutputPadding, c.Dilation, c.Groups),
            (x, w) => torch.nn.functional.conv_transpose2d(x, w, null, [c.Stride, c.Stride], [c.Padding, c.Padding], [c.OutputPadding, c.OutputPadding], [c.Dilation, c.Dilation], c.Groups)));
}



/// <summary>Convolutions in every float dtype on the Torch backend: float16 and bfloat16 round the float32 convolution, as the CPU backend does.</summary>
public class ConvDTypeTorchTests
{
    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    [InlineData(DType.Float32)]
    public void Conv_and_its_gradient_in_each_float_dtype_agree_with_the_cpu_backend(DType dt)
    {
        var rng = new Random(11);
        Tensor R(params int[] s) => new Tensor(Enumerable.Range(0, s.Aggregate(1, (a, b) => a * b)).Select(_ => rng.NextDouble() * 2 - 1).ToArray(), s).AsType(dt);
        var x = R(2, 4, 6, 5);
        var w = R(6, 2, 3, 3);
        Expression<Func<Tensor, Tensor, Tensor>> f = (a, k) => Conv2d(a, k, 2, 1, 1, 2);
        Expression<Func<Tensor, Tensor, Tensor>> loss = (k, a) => Sum(Tanh(Conv2d(a, k, 2, 1, 1, 2)), null, false);
        var cpu = f.Compile()(x, w);
        var onTorch = f.JitTorch(TorchBackend.Cpu)(x, w).ToHost();
        Assert.Equal(dt, cpu.DType);
        Assert.Equal(dt, onTorch.DType);
        double tol = dt == DType.Float32 ? 1e-5 : dt == DType.Float16 ? 2e-3 : 2e-2;
        Assert.True(onTorch.AllClose(cpu, tol, tol), $"{dt}: Torch {onTorch} vs CPU {cpu}");
        var g = Ad.Grad(loss);
        var gCpu = g.Compile()(w, x);
        var gTorch = g.JitTorch(TorchBackend.Cpu)(w, x).ToHost();
        Assert.Equal(dt, gTorch.DType);
        Assert.True(gTorch.AllClose(gCpu, 4 * tol, 4 * tol), $"{dt} gradient: Torch {gTorch} vs CPU {gCpu}");
        // the half result is the float32 convolution rounded once
        var viaFloat32 = f.Compile()(x.AsType(DType.Float32), w.AsType(DType.Float32)).AsType(dt);
        Assert.True(cpu.AllClose(viaFloat32, 0, 0), $"{dt}: CPU {cpu} vs float32 rounded {viaFloat32}");
    }
}
