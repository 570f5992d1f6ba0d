using System.Linq.Expressions;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Second derivatives through loops on the Torch backend: the Hessian (and Hessian-vector product) of a function
/// through a Scan and through a Fold, compiled for Torch, against the same function unrolled on the CPU backend.
/// </summary>
public class LoopHessianTorchTests
{
    static Tensor T(params double[] v) => Tensor.FromArray(v, DType.Float64);
    static Tensor Xs => Tensor.FromArray(new double[,] { { 0.3, -0.7, 1.1 }, { 0.2, 0.5, -0.4 }, { -1.0, 0.1, 0.6 }, { 0.8, -0.3, 0.0 } }, DType.Float64);
    static Tensor H => T(0.1, -0.2, 0.4);
    static Tensor W => T(0.9, 0.5, -0.4);

    static void Close(Tensor a, Tensor b, double tol, string what)
    {
        var x = a.ToHost().ToDoubleArray(); var y = b.ToDoubleArray();
        Assert.Equal(b.Shape, a.Shape);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"{what}: element {i}: {x[i]} vs {y[i]}");
    }

    [Fact]
    public void Scan_hessian_on_torch_equals_the_unrolled_program()
    {
        var xs = Xs; var h = H;
        Expression<Func<Tensor, Tensor>> looped = w =>
            Let(Scan(xs, h, (Tensor c, Tensor x) => Tuple(Tanh(w * c + x), Sin(c) * x + w)), r => Sum(r.Item1 * r.Item1) + Sum(r.Item2 * r.Item2 * 0.5));
        Tensor Row(int i) => Take(xs, Tensor.Scalar(i, DType.Float64), 0);
        var (x0, x1, x2, x3) = (Row(0), Row(1), Row(2), Row(3));
        Expression<Func<Tensor, Tensor>> unrolled = w =>
            Let(Tanh(w * h + x0), c1 => Let(Tanh(w * c1 + x1), c2 => Let(Tanh(w * c2 + x2), c3 => Let(Tanh(w * c3 + x3), c4 =>
                Sum(c4 * c4) + Sum(Stack(new[] { Sin(h) * x0 + w, Sin(c1) * x1 + w, Sin(c2) * x2 + w, Sin(c3) * x3 + w }, 0) * Stack(new[] { Sin(h) * x0 + w, Sin(c1) * x1 + w, Sin(c2) * x2 + w, Sin(c3) * x3 + w }, 0) * 0.5)))));
        var expected = unrolled.Hessian().Compile()(W);
        Close(looped.Hessian().JitTorch(TorchBackend.Cpu)(W), expected, 1e-10, "Hessian");
        var v = T(0.3, -1.2, 0.7);
        Close(looped.Hvp().JitTorch(TorchBackend.Cpu)(W, v), unrolled.Hvp().Compile()(W, v), 1e-10, "Hvp");
    }

    [Fact]
    public void Fold_hessian_on_torch_equals_the_unrolled_program()
    {
        Expression<Func<Tensor, Tensor>> looped = x => Sum(Np.Fold(3, x, (double i, Tensor c) => Sin(c) * x + i * 0.1) * x);
        Expression<Func<Tensor, Tensor>> unrolled = x => Sum(Let(Sin(x) * x + 0.0, c1 => Let(Sin(c1) * x + 0.1, c2 => Sin(c2) * x + 0.2)) * x);
        var x = T(0.4, -0.9, 1.3);
        Close(looped.Hessian().JitTorch(TorchBackend.Cpu)(x), unrolled.Hessian().Compile()(x), 1e-10, "Hessian");
        Expression<Func<double, double>> f = w => Np.Fold(4, w, (double i, double c) => c * c * 0.3 + Math.Sin(w * c) + i * 0.01);
        Expression<Func<double, double>> u = w =>
            Let(w * w * 0.3 + Math.Sin(w * w), c1 => Let(c1 * c1 * 0.3 + Math.Sin(w * c1) + 0.01, c2 => Let(c2 * c2 * 0.3 + Math.Sin(w * c2) + 0.02, c3 => c3 * c3 * 0.3 + Math.Sin(w * c3) + 0.03)));
        Assert.Equal(u.Grad().Grad().Compile()(0.7), f.Grad().Grad().JitTorch(TorchBackend.Cpu)(0.7), 1e-10);
    }

    [Fact]
    public void While_hessian_on_torch_equals_the_cpu_backend()
    {
        // the CPU Hessian through the While is checked against the unrolled program in LoopHessianTests
        var h = T(0.5, 1.0, -0.25);
        Expression<Func<Tensor, Tensor>> looped = w => Sum(Sin(While(c => Sum(c) < 50, c => c * (1 + w * w) + 0.5, h)) * w);
        var w = T(0.4, -0.3, 0.6);
        Close(looped.Hessian().JitTorch(TorchBackend.Cpu)(w), looped.Hessian().Jit()(w), 1e-10, "Hessian");
        var v = T(0.3, -1.2, 0.7);
        Close(looped.Hvp().JitTorch(TorchBackend.Cpu)(w, v), looped.Hvp().Jit()(w, v), 1e-10, "Hvp");
        Expression<Func<double, double>> sqrt = a => While((double y) => Math.Abs(y * y - a) > 1e-12 * a, (double y) => 0.5 * (y + a / y), a);
        Assert.Equal(-0.25 * Math.Pow(2.0, -1.5), sqrt.Grad().Grad().JitTorch(TorchBackend.Cpu)(2.0), 1e-7);
    }

    [Fact]
    public void A_pytree_carry_on_torch_equals_the_cpu_backend()
    {
        // an LSTM-like (h, c) carry through a Scan: values, gradients and the Hessian, compiled for Torch
        Expression<Func<Tensor, Tensor, Tensor>> f = (xs, w) =>
            Let(Scan(xs, ValueTuple.Create(w * 0, w * 0 + 0.1), (ValueTuple<Tensor, Tensor> s, Tensor x) =>
                Tuple(Let(Sigmoid(w * x + s.Item1) * Tanh(x - w * s.Item1) + Sigmoid(x * s.Item1) * s.Item2, c => ValueTuple.Create(Sigmoid(x + w) * Tanh(c), c)), Sum(s.Item1 * s.Item2))),
                r => Sum(r.Item1.Item1 * r.Item1.Item2) + Sum(r.Item2 * r.Item2));
        Close(f.JitTorch(TorchBackend.Cpu)(Xs, W), f.Jit()(Xs, W), 1e-12, "value");
        Close(f.Grad().JitTorch(TorchBackend.Cpu)(Xs, W), f.Grad().Jit()(Xs, W), 1e-12, "d/dxs");
        var xs = Xs;
        Expression<Func<Tensor, Tensor>> byW = w => f.Invoke(xs, w);
        Close(byW.Hessian().JitTorch(TorchBackend.Cpu)(W), byW.Hessian().Jit()(W), 1e-10, "Hessian");
    }
}
