using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using Functional.AD.Torch;
using TorchSharp;
using static Functional.AD.Np;
using TT = TorchSharp.torch.Tensor;

namespace Benchmarks;

/// <summary>The MLP's parameters (784-256-256-10).</summary>
public record TorchMlpParams(Tensor W1, Tensor B1, Tensor W2, Tensor B2, Tensor W3, Tensor B3);

/// <summary>
/// MLP 784-256-256-10 (relu), softmax cross-entropy, batch 128, float32, forward + backward on one thread:
/// <c>Ad.Grad(loss)</c> jitted to TorchSharp (parameters and batch on the device) against the same net written by
/// hand in TorchSharp eager autograd (<c>torch.autograd.grad</c>). Both return fresh gradients and free them.
/// </summary>
[MinColumn]
[MemoryDiagnoser]
public class TorchMlpBench
{
    /// <summary>The round (see <see cref="SmallCalls"/>): interleaved rounds, the ratio to report is their median.</summary>
    [Params(1, 2, 3, 4, 5)] public int Round;

    const int Batch = 128;
    TorchMlpParams p = null!;
    Tensor x = null!, y = null!;
    Func<TorchMlpParams, Tensor, Tensor, TorchMlpParams> grad = null!, cpuGrad = null!;
    TorchMlpParams hp = null!;
    Tensor hx = null!, hy = null!;
    TT[] tp = null!;
    TT tx = null!, ty = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        var cpu = TorchBackend.Cpu;
        var key = PrngKey.Create(0);
        var init = Functional.AD.Tree.Normal(key, new TorchMlpParams(Zeros([784, 256]), Zeros([256]), Zeros([256, 256]), Zeros([256]), Zeros([256, 10]), Zeros([10])), 0.05);
        p = TorchTensors.ToDevice(init, cpu);
        x = Rng.Normal(PrngKey.Create(1), [Batch, 784]).ToDevice(cpu);
        var labels = Enumerable.Range(0, Batch).Select(i => (double)(i % 10)).ToArray();
        y = OneHot(new Tensor(labels), 10).ToDevice(cpu);
        Expression<Func<TorchMlpParams, Tensor, Tensor, Tensor>> loss = (q, xb, yb) =>
            -Mean(Sum(LogSoftmax(MatMul(Tanh(MatMul(Tanh(MatMul(xb, q.W1) + q.B1), q.W2) + q.B2), q.W3) + q.B3, -1) * yb, -1, false), null, false);
        grad = loss.Grad().JitTorch(cpu);
        cpuGrad = Ad.Jit(loss.Grad());
        (hp, hx, hy) = (init, Rng.Normal(PrngKey.Create(1), [Batch, 784]), OneHot(new Tensor(labels), 10));

        tp = Functional.AD.Tree.Leaves(init).Select(t => t.ToTorch().requires_grad_(true)).ToArray();
        tx = x.ToTorch();
        ty = y.ToTorch();
    }

    /// <summary>The same net by hand in TorchSharp eager autograd.</summary>
    [Benchmark(Baseline = true, Description = "TorchSharp eager autograd, by hand")]
    public float TorchSharpEager()
    {
        using var scope = torch.NewDisposeScope();
        var h1 = torch.matmul(tx, tp[0]).add(tp[1]).tanh();
        var h2 = torch.matmul(h1, tp[2]).add(tp[3]).tanh();
        var logits = torch.matmul(h2, tp[4]).add(tp[5]);
        var l = -(logits.log_softmax(-1) * ty).sum(-1).mean();
        var g = torch.autograd.grad([l], tp);
        return g[0].numel() > 0 ? 1f : 0f;
    }

    /// <summary><c>Ad.Grad(loss).JitTorch(TorchBackend.Cpu)</c>.</summary>
    [Benchmark(Description = "Ad.Grad(loss).JitTorch(cpu)")]
    public float AdGradJitTorch()
    {
        var g = grad(p, x, y);
        foreach (var t in Functional.AD.Tree.Leaves(g)) t.DisposeDevice();
        return 1f;
    }

    /// <summary>The CPU jit on host tensors: <c>Ad.Jit(Ad.Grad(loss))</c> (issue 3's comparison with TorchSharp).</summary>
    [Benchmark(Description = "Ad.Jit(Ad.Grad(loss)) (CPU jit)")]
    public TorchMlpParams AdGradJitCpu() => cpuGrad(hp, hx, hy);

    /// <summary>The CPU jit with its GEMM on one thread, as TorchSharp here (<c>torch.set_num_threads(1)</c>).</summary>
    [Benchmark(Description = "Ad.Jit(Ad.Grad(loss)) (CPU jit, 1 thread)")]
    public TorchMlpParams AdGradJitCpu1()
    {
        int saved = Gemm.MaxThreads;
        Gemm.MaxThreads = 1;
        try { return cpuGrad(hp, hx, hy); }
        finally { Gemm.MaxThreads = saved; }
    }
}
