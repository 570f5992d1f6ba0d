using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>Np.Scan and Np.While on the Torch backend: values and gradients against the CPU backend.</summary>
public class LoopTorchTests
{
    static Tensor T(params double[] v) => Tensor.FromArray(v, DType.Float64);
    static Tensor Xs => Tensor.FromArray(new double[,] { { 0.3, -0.7, 1.1 }, { 0.2, 0.5, -0.4 }, { -1.0, 0.1, 0.6 }, { 0.8, -0.3, 0.0 } }, DType.Float64);
    static Tensor H => T(0.1, -0.2, 0.4);
    static Tensor W => T(0.9, 0.5, -0.4);

    static void Close(Tensor a, Tensor b, double tol = 1e-12)
    {
        var x = a.ToHost().ToDoubleArray(); var y = b.ToDoubleArray();
        Assert.Equal(b.Shape, a.Shape);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"element {i}: {x[i]} vs {y[i]}");
    }

    // the final carry and the stacked ys, every argument differentiated (w through the loop's captured value)
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> ScanLoss = (xs, h, w) =>
        Let(Scan(xs, h, (Tensor c, Tensor x) => Tuple(Tanh(w * c + x), Sin(c) * x + w)), r => Sum(r.Item1 * r.Item1) + Sum(r.Item2 * r.Item2 * 0.5));

    [Fact]
    public void Scan_values_and_gradients_on_torch_equal_the_cpu_backend()
    {
        Close(ScanLoss.JitTorch(TorchBackend.Cpu)(Xs, H, W), ScanLoss.Jit()(Xs, H, W));
        Close(ScanLoss.Grad().JitTorch(TorchBackend.Cpu)(Xs, H, W), ScanLoss.Grad().Jit()(Xs, H, W));
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> byW = (w, xs, h) => ScanLoss.Invoke(xs, h, w);
        Close(byW.Grad().JitTorch(TorchBackend.Cpu)(W, Xs, H), byW.Grad().Jit()(W, Xs, H));
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> byH = (h, xs, w) => ScanLoss.Invoke(xs, h, w);
        Close(byH.Grad().JitTorch(TorchBackend.Cpu)(H, Xs, W), byH.Grad().Jit()(H, Xs, W));
    }

    [Fact]
    public void While_values_and_gradients_on_torch_equal_the_cpu_backend()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (h, w) => Sum(Sin(While(c => Sum(c) < 50, c => c * (1 + w * w) + 0.5, h)) * w);
        var h = T(0.5, 1, 2); var w = T(0.3, 0.2, 0.1);
        Close(f.JitTorch(TorchBackend.Cpu)(h, w), f.Jit()(h, w));
        Close(f.Grad().JitTorch(TorchBackend.Cpu)(h, w), f.Grad().Jit()(h, w));
        Expression<Func<Tensor, Tensor, Tensor>> byW = (ww, hh) => f.Invoke(hh, ww);
        Close(byW.Grad().JitTorch(TorchBackend.Cpu)(w, h), byW.Grad().Jit()(w, h));
    }
}
