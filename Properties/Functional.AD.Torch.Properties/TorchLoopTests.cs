using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// The derivative loops of <c>Np.Fold</c> (FoldTape, FoldLin, FoldLinT) on the Torch backend: Grad and Jvp compiled
/// with <c>JitTorch</c> against the CPU backend and float64 central differences, and no tensor left alive between calls.
/// </summary>
public class TorchLoopTests
{
    static Tensor X => Tensor.FromArray(new[] { 0.3, -0.7, 1.1 }, DType.Float64);
    static Tensor W => Tensor.FromArray(new[] { 0.9, 0.5, -0.4 }, DType.Float64);
    static readonly TorchBackend Cpu = TorchBackend.Cpu;

    // carry = tanh(w * carry + i / 10 + x), five times; x and w captured; the loop's result weighted by x
    static readonly Expression<Func<Tensor, Tensor, Tensor>> Looped =
        (x, w) => Sum(Np.Fold(5, x, (double i, Tensor c) => Tanh(w * c + i / 10 + x)) * x, null, false);

    static void Close(Tensor got, Tensor want, double tol, string what)
    {
        var a = got.ToHost().ToDoubleArray(); var b = want.ToDoubleArray();
        Assert.True(got.Shape.SequenceEqual(want.Shape), $"{what}: shape [{string.Join(",", got.Shape)}] vs [{string.Join(",", want.Shape)}]");
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - b[i]) <= tol * Math.Max(1, Math.Abs(b[i])), $"{what}: element {i}: {a[i]:R} vs {b[i]:R}");
    }

    /// <summary>Float64 central differences of a scalar function of one tensor, component by component.</summary>
    static double[] Differences(Func<Tensor, double> f, Tensor x, double h = 1e-6)
    {
        var v = x.ToDoubleArray();
        return Enumerable.Range(0, v.Length).Select(k =>
        {
            var p = (double[])v.Clone(); var m = (double[])v.Clone();
            p[k] += h; m[k] -= h;
            return (f(new Tensor(p, x.Shape.ToArray())) - f(new Tensor(m, x.Shape.ToArray()))) / (2 * h);
        }).ToArray();
    }

    [Fact]
    public void Grad_through_a_loop_on_torch_equals_cpu_and_finite_differences()
    {
        var g = Looped.Grad();
        var onTorch = g.JitTorch(Cpu)(X, W);
        var onCpu = g.Compile()(X, W);
        Close(onTorch, onCpu, 1e-12, "Grad on Torch vs CPU");
        var f = Looped.Compile();
        var num = Differences(x => (double)f(x, W), X);
        Close(onTorch, new Tensor(num), 1e-7, "Grad on Torch vs central differences");
    }

    [Fact]
    public void Grad_with_respect_to_a_captured_value_sums_its_cotangent_over_iterations()
    {
        // d/dw: FoldLinT's accumulated cotangent of the capture w (and x enters both as the init and as a capture)
        Expression<Func<Tensor, Tensor, Tensor>> byW = (w, x) => Looped.Invoke(x, w);
        var g = byW.Grad();
        var onTorch = g.JitTorch(Cpu)(W, X);
        Close(onTorch, g.Compile()(W, X), 1e-12, "Grad by w on Torch vs CPU");
        var f = byW.Compile();
        Close(onTorch, new Tensor(Differences(w => (double)f(w, X), W)), 1e-7, "Grad by w vs central differences");
    }

    [Fact]
    public void Grad_of_a_matrix_loop_with_two_captures_on_torch()
    {
        // h = tanh(A h + b) * s, four steps: cotangents of a matrix, a vector and a rank-0 tensor captured by the body
        Expression<Func<(Tensor A, Tensor B, Tensor S), Tensor, Tensor>> rnn = (p, h0) =>
            Sum(Np.Fold(4, h0, (double i, Tensor h) => Tanh(MatMul(p.A, h) + p.B) * p.S) * h0, null, false);
        var a = Tensor.FromArray(new[,] { { 0.5, -0.3, 0.2 }, { 0.1, 0.4, -0.6 }, { -0.2, 0.3, 0.7 } }, DType.Float64);
        var b = Tensor.FromArray(new[] { 0.1, -0.2, 0.3 }, DType.Float64);
        var s = Tensor.Scalar(1.3, DType.Float64);
        var g = rnn.Grad();
        var (ga, gb, gs) = g.JitTorch(Cpu)((a, b, s), X);
        var (ca, cb, cs) = g.Compile()((a, b, s), X);
        Close(ga, ca, 1e-12, "dA"); Close(gb, cb, 1e-12, "db"); Close(gs, cs, 1e-12, "ds");
        var f = rnn.Compile();
        Close(ga, new Tensor(Differences(m => (double)f((m, b, s), X), a), [3, 3]), 1e-7, "dA vs differences");
        Close(gs, new Tensor(Differences(v => (double)f((a, b, v), X), s), []), 1e-7, "ds vs differences");
    }

    [Fact]
    public void Jvp_through_a_loop_on_torch_equals_cpu_and_finite_differences()
    {
        var v = Tensor.FromArray(new[] { 1.0, -2.0, 0.5 }, DType.Float64);
        var dw = Tensor.FromArray(new[] { 0.2, 0.1, -0.3 }, DType.Float64);
        var jvp = Looped.Jvp();
        var (y, dy) = jvp.JitTorch(Cpu)(X, W, v, dw);
        var (yc, dyc) = jvp.Compile()(X, W, v, dw);
        Close(y, yc, 1e-12, "value"); Close(dy, dyc, 1e-12, "tangent");
        var f = Looped.Compile();
        const double h = 1e-6;
        double num = ((double)f(X + v * h, W + dw * h) - (double)f(X - v * h, W - dw * h)) / (2 * h);
        Assert.True(Math.Abs((double)dy.ToHost() - num) < 1e-7, $"tangent {(double)dy.ToHost():R} vs differences {num:R}");
    }

    [Fact]
    public void Scalar_carry_loop_derivative_on_torch()
    {
        // x^(2^4) by repeated squaring, as a tensor function: derivative 16 x^15
        Expression<Func<Tensor, Tensor>> f = x => Sum(Np.Fold(4, x, (double i, Tensor c) => c * c), null, false);
        var x = Tensor.FromArray(new[] { 1.1, -0.9 }, DType.Float64);
        var g = f.Grad().JitTorch(Cpu)(x).ToHost().ToDoubleArray();
        Assert.Equal(16 * Math.Pow(1.1, 15), g[0], 10);
        Assert.Equal(16 * Math.Pow(-0.9, 15), g[1], 10);
        // a double carry: the loop of host scalars inside a compiled Torch function
        Expression<Func<Tensor, double>> d = t => (double)Sum(t, null, false) * Np.Fold(3, 1.5, (double i, double c) => c * (double)Sum(t, null, false));
        var gd = d.Grad();
        Close(gd.JitTorch(Cpu)(x), gd.Compile()(x), 1e-12, "double carry");
    }

    [Fact]
    public void A_captured_double_gets_its_cotangent_summed_on_the_host()
    {
        // d/ds of Sum(Fold(3, x, c => tanh(c * s))): the cotangent of a C# double captured by a tensor loop
        Expression<Func<double, Tensor, double>> f = (s, x) => (double)Sum(Np.Fold(3, x, (double i, Tensor c) => Tanh(c * s + i)), null, false);
        var g = f.Grad();
        double onTorch = g.JitTorch(Cpu)(0.8, X), onCpu = g.Compile()(0.8, X);
        Assert.True(Math.Abs(onTorch - onCpu) <= 1e-12 * Math.Max(1, Math.Abs(onCpu)), $"{onTorch:R} vs {onCpu:R}");
        var plain = f.Compile();
        double num = (plain(0.8 + 1e-6, X) - plain(0.8 - 1e-6, X)) / 2e-6;
        Assert.True(Math.Abs(onTorch - num) < 1e-7, $"{onTorch:R} vs differences {num:R}");
    }

    [Fact]
    public void Nested_loops_and_a_loop_in_a_branch_differentiate_on_torch()
    {
        // the inner loop captures the outer carry and w: its tape, tangent and transposed loops run inside the outer ones
        Expression<Func<Tensor, Tensor, Tensor>> nested = (x, w) =>
            Sum(Np.Fold(3, x, (double i, Tensor c) => Np.Fold(2, c, (double j, Tensor d) => Tanh(d * w + c * 0.1 + j))) * w, null, false);
        Expression<Func<Tensor, Tensor, Tensor>> branch = (x, w) =>
            (double)Sum(x, null, false) > 0 ? Sum(Np.Fold(3, x, (double i, Tensor c) => Sin(c * w)), null, false) : Sum(x * w, null, false);
        foreach (var (name, f) in new[] { ("nested", nested), ("branch", branch) })
        {
            Expression<Func<Tensor, Tensor, Tensor>> byW = (w, x) => f.Invoke(x, w);
            foreach (var (what, g, a, b) in new[] { ("x", f, X, W), ("w", byW, W, X) })
            {
                var grad = g.Grad();
                var onTorch = grad.JitTorch(Cpu)(a, b);
                Close(onTorch, grad.Compile()(a, b), 1e-12, $"{name}: Grad by {what} on Torch vs CPU");
                var plain = g.Compile();
                Close(onTorch, new Tensor(Differences(v => (double)plain(v, b), a)), 1e-7, $"{name}: Grad by {what} vs central differences");
            }
        }
    }

    [Fact]
    public void A_body_that_changes_the_carry_dtype_is_a_shape_error_naming_the_loop_on_torch()
    {
        // a float32 carry times a float64 tensor becomes float64: the CPU raises at run time, Torch at compile time
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, w) => Sum(Np.Fold(2, x, (double i, Tensor c) => c * w), null, false);
        var x32 = X.AsType(DType.Float32);
        var e = Assert.ThrowsAny<ShapeException>(() => f.JitTorch(Cpu)(x32, W));
        Assert.Contains("Fold(2, x, (i, c) => (c * w))", e.Message);
        Assert.Contains("float32[3]", e.Message);
        Assert.Contains("float64[3]", e.Message);
        var eg = Assert.ThrowsAny<ShapeException>(() => f.Grad().JitTorch(Cpu)(x32, W));
        Assert.Contains("same shape and dtype", eg.Message);
    }

    [Fact]
    public void A_loop_of_zero_iterations_has_the_identity_derivative_on_torch()
    {
        Expression<Func<Tensor, Tensor, Tensor>> f = (x, w) => Sum(Np.Fold(0, x, (double i, Tensor c) => c * w) * x, null, false);
        Expression<Func<Tensor, Tensor, Tensor>> byW = (w, x) => f.Invoke(x, w);
        Close(f.Grad().JitTorch(Cpu)(X, W), X * 2, 1e-15, "d/dx of Sum(x * x)");
        Close(byW.Grad().JitTorch(Cpu)(W, X), W * 0, 0, "d/dw (w unused)");
    }

    [Fact]
    public void Float32_loop_gradient_on_torch_keeps_float32_and_matches_cpu()
    {
        var x = X.AsType(DType.Float32); var w = W.AsType(DType.Float32);
        var g = Looped.Grad();
        var onTorch = g.JitTorch(Cpu)(x, w);
        Assert.Equal(DType.Float32, onTorch.DType);
        Close(onTorch.AsType(DType.Float64), g.Compile()(x, w).AsType(DType.Float64), 1e-5, "float32 Grad on Torch vs CPU");
    }

    [Fact]
    public void Loop_gradients_on_torch_keep_the_live_tensor_count_flat()
    {
        Expression<Func<Tensor, Tensor, Tensor>> byW = (w, x) => Looped.Invoke(x, w);
        var g = byW.Grad().JitTorch(Cpu);
        var x = X.ToDevice(Cpu); var w = W.ToDevice(Cpu);
        for (int i = 0; i < 5; i++) g(w, x).DisposeDevice();
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 500; i++) g(w, x).DisposeDevice();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        var r = g(w, x);
        Assert.Equal(live + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);   // only the result is alive
        r.DisposeDevice();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
