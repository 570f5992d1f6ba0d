using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// The derivative loops of a checkpointed <c>Np.Scan</c> / <c>Np.While</c> (checkpoint &gt; 1: the tape keeps every k-th
/// carry, the tangent and transposed loops recompute the rest) on the Torch backend: Grad and Jvp against the CPU backend
/// and float64 central differences, and no tensor left alive between calls.
/// </summary>
public class CheckpointedLoopTorchTests
{
    static readonly TorchBackend Cpu = TorchBackend.Cpu;
    static Tensor T(params double[] v) => Tensor.FromArray(v, DType.Float64);
    // five rows: segments of 2, 2, 1 with checkpoint 2 and of 3, 2 with checkpoint 3
    static Tensor Xs => Tensor.FromArray(new double[,] { { 0.3, -0.7, 1.1 }, { 0.2, 0.5, -0.4 }, { -1.0, 0.1, 0.6 }, { 0.8, -0.3, 0.0 }, { 0.4, 0.9, -0.2 } }, DType.Float64);
    static Tensor H => T(0.1, -0.2, 0.4);
    static Tensor W => T(0.9, 0.5, -0.4);

    // the final carry and the stacked ys, w captured, checkpoint 2
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> ScanLoss = (xs, h, w) =>
        Let(Scan(xs, h, (Tensor c, Tensor x) => Tuple(Tanh(w * c + x), Sin(c) * x + w), -1, 2), r => Sum(r.Item1 * r.Item1) + Sum(r.Item2 * r.Item2 * 0.5));

    // only the final carry, checkpoint 3
    static readonly Expression<Func<Tensor, Tensor, Tensor, Tensor>> CarryLoss = (xs, h, w) =>
        Sum(Scan(xs, h, (Tensor c, Tensor x) => Tuple(Tanh(w * c + x) * 1.5, c), -1, 3).Item1 * w);

    // eight trips from h below, checkpoint 3 (segments 3, 3, 2)
    static readonly Expression<Func<Tensor, Tensor, Tensor>> WhileLoss = (h, w) =>
        Sum(Sin(While(c => Sum(c) < 50, c => c * (1 + w * w) + 0.5, h, 3)) * w);

    static void Close(Tensor got, Tensor want, double tol, string what)
    {
        var x = got.ToHost().ToDoubleArray(); var y = want.ToHost().ToDoubleArray();
        Assert.Equal(want.Shape.ToArray(), got.Shape.ToArray());
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(y[i])), $"{what}, element {i}: {x[i]:R} vs {y[i]:R}");
    }

    /// <summary>Central differences of a scalar function, component by component, in float64.</summary>
    static Tensor Differences(Func<Tensor, double> f, Tensor x, double h = 1e-6)
    {
        var v = x.ToDoubleArray();
        var g = new double[v.Length];
        for (int i = 0; i < v.Length; i++)
        {
            var p = (double[])v.Clone(); p[i] += h;
            var m = (double[])v.Clone(); m[i] -= h;
            g[i] = (f(new Tensor(p, x.Shape.ToArray())) - f(new Tensor(m, x.Shape.ToArray()))) / (2 * h);
        }
        return new Tensor(g, x.Shape.ToArray());
    }

    static void GradientsOf(Expression<Func<Tensor, Tensor, Tensor, Tensor>> loss, string what)
    {
        var f = loss.Compile();
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> byXs = (xs, h, w) => loss.Invoke(xs, h, w);
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> byH = (h, xs, w) => loss.Invoke(xs, h, w);
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> byW = (w, xs, h) => loss.Invoke(xs, h, w);
        Close(loss.JitTorch(Cpu)(Xs, H, W), f(Xs, H, W), 1e-12, what + " value");
        var gx = byXs.Grad().JitTorch(Cpu)(Xs, H, W);
        Close(gx, byXs.Grad().Jit()(Xs, H, W), 1e-12, what + " d/dxs vs cpu");
        Close(gx, Differences(v => (double)f(v, H, W), Xs), 1e-7, what + " d/dxs vs differences");
        var gh = byH.Grad().JitTorch(Cpu)(H, Xs, W);
        Close(gh, byH.Grad().Jit()(H, Xs, W), 1e-12, what + " d/dh vs cpu");
        Close(gh, Differences(v => (double)f(Xs, v, W), H), 1e-7, what + " d/dh vs differences");
        var gw = byW.Grad().JitTorch(Cpu)(W, Xs, H);
        Close(gw, byW.Grad().Jit()(W, Xs, H), 1e-12, what + " d/dw vs cpu");
        Close(gw, Differences(v => (double)f(Xs, H, v), W), 1e-7, what + " d/dw vs differences");
    }

    [Fact]
    public void Checkpointed_scan_gradients_on_torch_equal_cpu_and_finite_differences()
    {
        GradientsOf(ScanLoss, "carry and ys, checkpoint 2");
        GradientsOf(CarryLoss, "carry, checkpoint 3");
    }

    [Fact]
    public void Checkpointed_while_gradients_on_torch_equal_cpu_and_finite_differences()
    {
        var h = T(0.5, 1, 2); var w = T(0.3, 0.2, 0.1);
        var f = WhileLoss.Compile();
        Close(WhileLoss.JitTorch(Cpu)(h, w), f(h, w), 1e-12, "value");
        var gh = WhileLoss.Grad().JitTorch(Cpu)(h, w);
        Close(gh, WhileLoss.Grad().Jit()(h, w), 1e-12, "d/dh vs cpu");
        Close(gh, Differences(v => (double)f(v, w), h), 1e-6, "d/dh vs differences");
        Expression<Func<Tensor, Tensor, Tensor>> byW = (ww, hh) => WhileLoss.Invoke(hh, ww);
        var gw = byW.Grad().JitTorch(Cpu)(w, h);
        Close(gw, byW.Grad().Jit()(w, h), 1e-12, "d/dw vs cpu");
        Close(gw, Differences(v => (double)f(h, v), w), 1e-6, "d/dw vs differences");
        // no trip at all (an empty tape): d/dh = w cos(h), d/dw = sin(h)
        var big = T(20, 20, 20);
        Close(WhileLoss.Grad().JitTorch(Cpu)(big, w), w * Cos(big), 1e-12, "d/dh, no trip");
        Close(byW.Grad().JitTorch(Cpu)(w, big), Sin(big), 1e-12, "d/dw, no trip");
    }

    [Fact]
    public void Jvp_through_checkpointed_loops_on_torch_equals_cpu_and_finite_differences()
    {
        var dxs = Xs * 0.5 - 0.1; var dh = T(1.0, -2.0, 0.5); var dw = T(0.2, 0.1, -0.3);
        var jvp = ScanLoss.Jvp();
        var (y, dy) = jvp.JitTorch(Cpu)(Xs, H, W, dxs, dh, dw);
        var (yc, dyc) = jvp.Compile()(Xs, H, W, dxs, dh, dw);
        Close(y, yc, 1e-12, "scan value"); Close(dy, dyc, 1e-12, "scan tangent vs cpu");
        var f = ScanLoss.Compile();
        const double e = 1e-6;
        double num = ((double)f(Xs + dxs * e, H + dh * e, W + dw * e) - (double)f(Xs - dxs * e, H - dh * e, W - dw * e)) / (2 * e);
        Assert.True(Math.Abs((double)dy.ToHost() - num) < 1e-7, $"scan tangent {(double)dy.ToHost():R} vs differences {num:R}");

        var h = T(0.5, 1, 2); var w = T(0.3, 0.2, 0.1);
        var wj = WhileLoss.Jvp();
        var (wy, wdy) = wj.JitTorch(Cpu)(h, w, dh, dw);
        var (wyc, wdyc) = wj.Jit()(h, w, dh, dw);
        Close(wy, wyc, 1e-12, "while value"); Close(wdy, wdyc, 1e-12, "while tangent vs cpu");
        var g = WhileLoss.Compile();
        double wnum = ((double)g(h + dh * e, w + dw * e) - (double)g(h - dh * e, w - dw * e)) / (2 * e);
        Assert.True(Math.Abs((double)wdy.ToHost() - wnum) < 1e-6, $"while tangent {(double)wdy.ToHost():R} vs differences {wnum:R}");
    }

    [Fact]
    public void Checkpointed_loop_gradients_on_torch_keep_the_live_tensor_count_flat()
    {
        Expression<Func<Tensor, Tensor, Tensor, Tensor>> byW = (w, xs, h) => ScanLoss.Invoke(xs, h, w);
        var g = byW.Grad().JitTorch(Cpu);
        var xs = Xs.ToDevice(Cpu); var hd = H.ToDevice(Cpu); var wd = W.ToDevice(Cpu);
        Expression<Func<Tensor, Tensor, Tensor>> whileByW = (ww, hh) => WhileLoss.Invoke(hh, ww);
        var gw = whileByW.Grad().JitTorch(Cpu);
        var h2 = T(0.5, 1, 2).ToDevice(Cpu); var w2 = T(0.3, 0.2, 0.1).ToDevice(Cpu);
        for (int i = 0; i < 5; i++) { g(wd, xs, hd).DisposeDevice(); gw(w2, h2).DisposeDevice(); }
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 200; i++) { g(wd, xs, hd).DisposeDevice(); gw(w2, h2).DisposeDevice(); }
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        var r = g(wd, xs, hd);
        Assert.Equal(live + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);   // only the result is alive
        r.DisposeDevice();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
