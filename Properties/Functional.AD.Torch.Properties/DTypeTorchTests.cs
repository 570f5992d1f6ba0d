using System.Linq.Expressions;
using Functional.AD.Properties;
using Functional.AD.Torch;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>Integer, bool and half-precision tensors on the Torch backend: libtorch's own dtypes, the CPU backend's values.</summary>
public class DTypeTorchTests
{
    static readonly TorchBackend Cpu = TorchBackend.Cpu;

    [Fact]
    public void Integer_arithmetic_on_torch_is_CSharp_arithmetic()
    {
        var a = new Tensor(new[] { 7, -7, int.MinValue + 3, 123456789 });
        var b = new Tensor(new[] { 2, 2, 65537, -3 });
        Expression<Func<Tensor, Tensor, Tensor>>[] ops = [(x, y) => x + y, (x, y) => x - y, (x, y) => x * y, (x, y) => x / y, (x, y) => x % y, (x, y) => Maximum(x, y)];
        foreach (var f in ops)
        {
            var cpu = f.Compile()(a, b);
            var torchResult = f.JitTorch(Cpu)(a, b).ToHost();
            Assert.Equal(DType.Int32, torchResult.DType);
            Assert.Equal(cpu.ToArray<int>(), torchResult.ToArray<int>());
        }
    }

    [Fact]
    public void Masks_argmax_and_integer_indices_on_torch_equal_the_cpu()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, idx) => Where((x > 0.0) & !(x > 2.0), Take(x, idx, 0), -x);
        var x = new Tensor(new[] { -1f, 0.5f, 1.5f, 3f });
        var idx = new Tensor(new[] { 3, 2, 1, 0 });
        Assert.Equal(f.Compile()(x, idx).ToArray<float>(), f.JitTorch(Cpu)(x, idx).ToHost().ToArray<float>());
        Expression<Func<Tensor, (Tensor, Tensor, Tensor)>> g = t => Tuple(Argmax(t, 0), t > 1.0, Sum(t > 1.0));
        var (am, m, s) = g.JitTorch(Cpu)(x);
        Assert.Equal((DType.Int32, 3.0), (am.DType, (double)am.ToHost()));
        Assert.Equal(new[] { false, false, true, true }, m.ToHost().ToArray<bool>());
        Assert.Equal((DType.Int32, 2.0), (s.DType, (double)s.ToHost()));
    }

    [Fact]
    public void Half_precision_on_torch_is_native_and_close_to_the_cpu()
    {
        Expression<Func<Tensor, Tensor>> f = x => Tanh(x) * x + 1.5;
        var x = Rng.Normal(PrngKey.Create(1), [64]);
        foreach (var (dt, tol) in new[] { (DType.Float16, 2e-3), (DType.BFloat16, 2e-2) })
        {
            var h = x.AsType(dt);
            var cpu = f.Compile()(h);
            var t = f.JitTorch(Cpu)(h).ToHost();
            Assert.Equal(dt, t.DType);
            Assert.True(cpu.AllClose(t, tol, tol), $"{dt}: {cpu} vs {t}");
            var gc = Ad.Grad((Expression<Func<Tensor, Tensor>>)(y => Sum(Tanh(y) * y))).Compile()(h);
            var gt = Ad.Grad((Expression<Func<Tensor, Tensor>>)(y => Sum(Tanh(y) * y))).JitTorch(Cpu)(h).ToHost();
            Assert.Equal(dt, gt.DType);
            Assert.True(gc.AllClose(gt, 4 * tol, 4 * tol), $"{dt} gradient: {gc} vs {gt}");
        }
    }

    /// <summary>The training loop with int32 labels and a bool mask runs on Torch and gives the CPU jit's parameters.</summary>
    [Fact]
    public void A_training_loop_with_int32_labels_and_a_bool_mask_runs_on_torch()
    {
        var (x, labels, keep) = DTypeTraining.Data();
        var step = DTypeTraining.Step();
        var cpu = Ad.Jit(step);
        var onTorch = step.JitTorch(Cpu);
        var w = Np.Zeros([3, 3]);
        var wt = w;
        for (int i = 0; i < 30; i++)
        {
            w = cpu(w, x, labels, keep);
            wt = onTorch(wt, x, labels, keep);
        }
        Assert.True(w.AllClose(wt.ToHost(), 1e-4, 1e-5), $"{w} vs {wt.ToHost()}");
    }
}
