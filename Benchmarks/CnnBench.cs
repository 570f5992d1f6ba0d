using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using Functional.AD.Torch;
using TorchSharp;
using static Functional.AD.Np;
using TT = TorchSharp.torch.Tensor;
using F = TorchSharp.torch.nn.functional;

namespace Benchmarks;

/// <summary>The digits CNN of <c>Examples/Digits</c>: conv 3x3 16, relu, max-pool 2, conv 3x3 32, relu, max-pool 2, dense 10.</summary>
public record Cnn(Tensor K1, Tensor B1, Tensor K2, Tensor B2, Tensor W, Tensor B);

/// <summary>The digits CNN written once for the benchmarks: its loss, parameters and a batch of random images.</summary>
static class CnnModel
{
    public static readonly Expression<Func<Cnn, Tensor, Tensor>> Logits = (p, x) =>
        Let(MaxPool2d(Relu(Conv2d(x, p.K1, 1, 1) + p.B1), 2), h1 =>
        Let(MaxPool2d(Relu(Conv2d(h1, p.K2, 1, 1) + p.B2), 2), h2 =>
            MatMul(Reshape(h2, new[] { -1, 128 }), p.W) + p.B));

    /// <summary>The mean softmax cross-entropy over the batch; <c>y</c> holds one-hot rows.</summary>
    public static readonly Expression<Func<Cnn, Tensor, Tensor, Tensor>> Loss = (p, x, y) =>
        -Mean(Sum(LogSoftmax(Logits.Invoke(p, x), -1) * y, -1, false), null, false);

    public static Cnn Parameters()
    {
        var k = PrngKey.Create(0).Split(3);
        return new Cnn(Rng.Normal(k[0], [16, 1, 3, 3]) * 0.47, Zeros([16, 1, 1]), Rng.Normal(k[1], [32, 16, 3, 3]) * 0.12, Zeros([32, 1, 1]),
            Rng.Normal(k[2], [128, 10]) * 0.125, Zeros([10]));
    }

    public static Tensor Images(int n, int seed) => Rng.Uniform(PrngKey.Create(seed), [n, 1, 8, 8]);

    public static Tensor OneHotLabels(int n) => OneHot(new Tensor(Enumerable.Range(0, n).Select(i => i % 10).ToArray()), 10, DType.Float32);

    /// <summary>The same network in TorchSharp eager autograd, written by hand; returns the gradients (freed by the caller's scope).</summary>
    public static IList<TT> TorchGrad(TT[] p, TT x, TT y)
    {
        var h1 = F.max_pool2d(F.relu(F.conv2d(x, p[0], p[1], padding: [1, 1])), [2, 2]);
        var h2 = F.max_pool2d(F.relu(F.conv2d(h1, p[2], p[3], padding: [1, 1])), [2, 2]);
        var logits = h2.reshape(-1, 128).mm(p[4]).add(p[5]);
        var l = -(logits.log_softmax(-1) * y).sum(-1).mean();
        return torch.autograd.grad([l], p);
    }

    /// <summary>The parameters as TorchSharp leaves that need gradients (conv biases as vectors, as conv2d takes them).</summary>
    public static TT[] TorchParameters(Cnn p) =>
    [
        p.K1.ToTorch().requires_grad_(true), Reshape(p.B1, [16]).ToTorch().requires_grad_(true),
        p.K2.ToTorch().requires_grad_(true), Reshape(p.B2, [32]).ToTorch().requires_grad_(true),
        p.W.ToTorch().requires_grad_(true), p.B.ToTorch().requires_grad_(true),
    ];
}

/// <summary>
/// The digits CNN's training step, forward and backward, batch 64, float32: the CPU jit and the Torch backend against
/// TorchSharp eager autograd written by hand, on the same number of threads (libtorch picks its convolution algorithm
/// by the thread count, so both counts are reported).
/// </summary>
[MinColumn]
[MemoryDiagnoser]
public class CnnStepBench
{
    /// <summary>Threads of libtorch and of the jit's products.</summary>
    [Params(1, 2)] public int Threads;

    Func<Cnn, Tensor, Tensor, Cnn> jit = null!, onTorch = null!;
    Cnn p = null!, pTorch = null!;
    Tensor x = null!, y = null!, xT = null!, yT = null!;
    TT[] tp = null!;
    TT tx = null!, ty = null!;
    int savedThreads;

    [GlobalSetup]
    public void Setup()
    {
        savedThreads = Functional.AD.Gemm.MaxThreads;
        Functional.AD.Gemm.MaxThreads = Threads;
        torch.set_num_threads(Threads);
        p = CnnModel.Parameters();
        x = CnnModel.Images(64, 1);
        y = CnnModel.OneHotLabels(64);
        jit = Ad.Jit(Ad.Grad(CnnModel.Loss));
        onTorch = Ad.Grad(CnnModel.Loss).JitTorch(TorchBackend.Cpu);
        pTorch = TorchTensors.ToDevice(p, TorchBackend.Cpu);
        (xT, yT) = (x.ToDevice(TorchBackend.Cpu), y.ToDevice(TorchBackend.Cpu));
        tp = CnnModel.TorchParameters(p);
        (tx, ty) = (x.ToTorch(), y.ToTorch());
    }

    [GlobalCleanup]
    public void Cleanup() => Functional.AD.Gemm.MaxThreads = savedThreads;

    /// <summary>TorchSharp eager autograd, written by hand.</summary>
    [Benchmark(Baseline = true, Description = "TorchSharp eager autograd")]
    public int Torch()
    {
        using var scope = torch.NewDisposeScope();
        return CnnModel.TorchGrad(tp, tx, ty).Count;
    }

    /// <summary>The CPU jit: <c>Ad.Jit(Ad.Grad(loss))</c>.</summary>
    [Benchmark(Description = "Ad.Jit(Ad.Grad(loss))")]
    public Cnn Jit() => jit(p, x, y);

    /// <summary>The Torch backend: <c>Ad.Grad(loss).JitTorch(Cpu)</c>.</summary>
    [Benchmark(Description = "Ad.Grad(loss).JitTorch(Cpu)")]
    public Cnn TorchBackendStep()
    {
        var g = onTorch(pTorch, xT, yT);
        foreach (var t in Functional.AD.Tree.Leaves(g)) t.DisposeDevice();
        return g;
    }
}

/// <summary>
/// Per-example gradients of the digits CNN, batch 64, float32: <c>Ad.Jit(Ad.Vmap(Ad.Grad(loss), [null, 0, 0]))</c>
/// against the loop it replaces, 64 calls of <c>Ad.Jit(Ad.Grad(loss))</c> on one example each.
/// </summary>
[MinColumn]
[MemoryDiagnoser]
public class CnnPerExampleBench
{
    Func<Cnn, Tensor, Tensor, Cnn> perExample = null!, single = null!;
    Func<string> show = null!;
    internal string Show() => show();
    Cnn p = null!;
    Tensor xs = null!, ys = null!;
    Tensor[] xRows = null!, yRows = null!;

    [GlobalSetup]
    public void Setup()
    {
        // one example: x [1, 8, 8] (a channel axis, no batch axis), y [10]; the model's batch axis is added inside
        Expression<Func<Cnn, Tensor, Tensor, Tensor>> one = (q, x, y) => CnnModel.Loss.Invoke(q, Reshape(x, new[] { 1, 1, 8, 8 }), Reshape(y, new[] { 1, 10 }));
        perExample = Ad.Jit(Ad.Vmap(Ad.Grad(one), inAxes: [null, 0, 0]));
        show = () => Ad.Show(Ad.Vmap(Ad.Grad(one), inAxes: [null, 0, 0]), p, xs, ys);
        single = Ad.Jit(Ad.Grad(one));
        p = CnnModel.Parameters();
        xs = Reshape(CnnModel.Images(64, 4), [64, 1, 8, 8]);
        ys = CnnModel.OneHotLabels(64);
        var xf = xs.ToFloatArray();
        var yf = ys.ToFloatArray();
        xRows = Enumerable.Range(0, 64).Select(i => new Tensor(xf.AsSpan(i * 64, 64).ToArray(), [1, 8, 8])).ToArray();
        yRows = Enumerable.Range(0, 64).Select(i => new Tensor(yf.AsSpan(i * 10, 10).ToArray())).ToArray();
    }

    /// <summary>The loop Vmap replaces.</summary>
    [Benchmark(Baseline = true, Description = "loop of 64 Ad.Jit(Ad.Grad(loss))")]
    public Cnn[] Loop()
    {
        var r = new Cnn[64];
        for (int i = 0; i < 64; i++) r[i] = single(p, xRows[i], yRows[i]);
        return r;
    }

    /// <summary>All 64 per-example gradients in one call.</summary>
    [Benchmark(Description = "Ad.Jit(Ad.Vmap(Ad.Grad(loss), [null, 0, 0]))")]
    public Cnn Vmapped() => perExample(p, xs, ys);
}
