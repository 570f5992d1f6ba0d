using System.Linq.Expressions;
using TorchSharp;
using Xunit;
using static Functional.AD.Np;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// Vmap of a loop's gradient on the Torch backend: the derivative loops are loops too, so the vmapped gradient is one
/// batched loop per loop of the gradient (lowered as a host loop over the steps, not over the examples). Against the CPU
/// backend and a loop of per-example gradients.
/// </summary>
public class VmapLoopTorchTests
{
    static readonly TorchBackend Cpu = TorchBackend.Cpu;
    static Tensor Xs => Tensor.FromArray(new double[,] { { 0.3, -0.7, 1.1 }, { 0.2, 0.5, -0.4 }, { -1.0, 0.1, 0.6 }, { 0.8, -0.3, 0.0 } }, DType.Float64);
    // four examples of a 3-vector
    static Tensor Batch => Tensor.FromArray(new double[,] { { 0.1, -0.2, 0.4 }, { 0.5, 1, 2 }, { -0.3, 0.8, 0.2 }, { 1.5, 0.4, -0.6 } }, DType.Float64);
    static Tensor W => Tensor.FromArray(new[] { 0.3, 0.2, 0.1 }, DType.Float64);

    static readonly Expression<Func<Tensor, Tensor, Tensor>> ScanF = (h, xs) =>
        Let(Scan(xs, h, (Tensor c, Tensor x) => Tuple(Tanh(h * c + x), Sin(c) * x)), r => Sum(r.Item1 * r.Item1) + Sum(r.Item2 * h));

    static readonly Expression<Func<Tensor, Tensor, Tensor>> CheckpointedScanF = (h, xs) =>
        Sum(Scan(xs, h, (Tensor c, Tensor x) => Tuple(Tanh(h * c + x), c), -1, 3).Item1 * h);

    // a different number of trips per example
    static readonly Expression<Func<Tensor, Tensor, Tensor>> WhileF = (h, w) =>
        Sum(Sin(While(c => Sum(c) < 50, c => c * (1 + w * w + h * h) + 0.5, h)) * w);

    static readonly Expression<Func<Tensor, Tensor, Tensor>> FoldF = (x, w) =>
        Sum(Np.Fold(5, x, (double i, Tensor c) => Tanh(w * c + i / 10 + x)) * x, null, false);

    static void Check(Expression<Func<Tensor, Tensor, Tensor>> f, Tensor other, string what)
    {
        var grad = f.Grad();
        var vm = grad.Vmap(inAxes: [0, null]);
        var onTorch = vm.JitTorch(Cpu)(Batch, other).ToHost();
        var onCpu = vm.Jit()(Batch, other);
        var one = grad.Compile();
        var loop = Stack(Enumerable.Range(0, 4).Select(b => one(Lax.Unstack(Batch, 0, b), other)).ToArray(), 0);
        Assert.Equal(loop.Shape.ToArray(), onTorch.Shape.ToArray());
        Assert.True(onTorch.AllClose(loop, 1e-12, 1e-12), $"{what}: Torch {onTorch} vs per-example loop {loop}");
        Assert.True(onTorch.AllClose(onCpu, 1e-12, 1e-12), $"{what}: Torch {onTorch} vs CPU {onCpu}");
    }

    [Fact]
    public void Vmap_of_a_scan_gradient_on_torch_equals_cpu_and_per_example_gradients()
    {
        Check(ScanF, Xs, "Scan");
        Check(CheckpointedScanF, Xs, "checkpointed Scan");
    }

    [Fact]
    public void Vmap_of_a_while_gradient_on_torch_equals_cpu_and_per_example_gradients() => Check(WhileF, W, "While");

    [Fact]
    public void Vmap_of_a_fold_gradient_on_torch_equals_cpu_and_per_example_gradients() => Check(FoldF, W, "Fold");

    [Fact]
    public void Vmap_of_a_checkpointed_scan_jvp_on_torch_equals_cpu_and_per_example_jvps()
    {
        // the loop emitting residuals and the tangent loop (with its recomputed carries), each one batched loop
        var jvp = CheckpointedScanF.Jvp();
        var vm = jvp.Vmap(inAxes: [0, null, 0, null]);
        var dh = Batch * 0.5 - 0.2; var dxs = Xs * 0.3;
        var (y, dy) = vm.JitTorch(Cpu)(Batch, Xs, dh, dxs);
        var (yc, dyc) = vm.Jit()(Batch, Xs, dh, dxs);
        var one = jvp.Compile();
        var each = Enumerable.Range(0, 4).Select(b => one(Lax.Unstack(Batch, 0, b), Xs, Lax.Unstack(dh, 0, b), dxs)).ToArray();
        var loop = Stack(each.Select(e => e.Tangent).ToArray(), 0);
        Assert.True(dy.ToHost().AllClose(loop, 1e-12, 1e-12), $"Torch {dy.ToHost()} vs per-example loop {loop}");
        Assert.True(dy.ToHost().AllClose(dyc, 1e-12, 1e-12), $"Torch {dy.ToHost()} vs CPU {dyc}");
        Assert.True(y.ToHost().AllClose(yc, 1e-12, 1e-12), $"values: Torch {y.ToHost()} vs CPU {yc}");
    }

    [Fact]
    public void Vmap_of_loop_gradients_on_torch_keeps_the_live_tensor_count_flat()
    {
        var scan = ScanF.Grad().Vmap(inAxes: [0, null]).JitTorch(Cpu);
        var wh = WhileF.Grad().Vmap(inAxes: [0, null]).JitTorch(Cpu);
        var b = Batch.ToDevice(Cpu); var xs = Xs.ToDevice(Cpu); var w = W.ToDevice(Cpu);
        for (int i = 0; i < 5; i++) { scan(b, xs).DisposeDevice(); wh(b, w).DisposeDevice(); }
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 100; i++) { scan(b, xs).DisposeDevice(); wh(b, w).DisposeDevice(); }
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        var r = scan(b, xs);
        Assert.Equal(live + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);   // only the result is alive
        r.DisposeDevice();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Vmap_of_a_while_gradient_on_torch_runs_the_trips_of_the_longest_example_once()
    {
        // the While reads its condition back to the host once per trip (and the tangent Scan reads nothing): one batched
        // loop makes as many reads as the longest example alone, a loop over the examples their sum
        long Reads(Action run) { run(); long before = TorchStorage.DeviceToHost; run(); return TorchStorage.DeviceToHost - before; }
        var grad = WhileF.Grad();
        var one = grad.JitTorch(Cpu);
        var w = W.ToDevice(Cpu);
        var each = Enumerable.Range(0, 4).Select(b => Reads(() => one(Lax.Unstack(Batch, 0, b).ToDevice(Cpu), w).DisposeDevice())).ToArray();
        Assert.True(each.Min() < each.Max(), $"the examples should stop after different numbers of trips: {string.Join(", ", each)}");
        var vm = grad.Vmap(inAxes: [0, null]).JitTorch(Cpu);
        var batch = Batch.ToDevice(Cpu);
        long batched = Reads(() => vm(batch, w).DisposeDevice());
        Assert.True(batched == each.Max(), $"the vmapped gradient read {batched} values back; the longest example alone reads {each.Max()}, all four {each.Sum()}");
    }
}
