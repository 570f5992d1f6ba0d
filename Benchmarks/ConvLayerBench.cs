using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using Functional.AD.Torch;
using TorchSharp;
using static Functional.AD.Np;
using TT = TorchSharp.torch.Tensor;

namespace Benchmarks;

/// <summary>
/// One convolution layer at MNIST scale (issue 16): input 64x16x28x28, kernel 32x16x3x3, padding 1, float32; the
/// gradient of <c>Sum(Relu(conv))</c> with respect to the kernel only (forward and the kernel's backward: 2 x 0.462
/// = 0.925 GFLOP), and with respect to input and kernel (1.39 GFLOP). The baseline is the same computation by hand in
/// TorchSharp eager autograd; both sides use the same number of threads (<see cref="Threads"/>: libtorch picks another
/// convolution algorithm at one and two threads). Interleaved rounds: the ratio to report is the median over
/// <see cref="Round"/>.
/// </summary>
[MinColumn]
public class ConvLayerBench
{
    /// <summary>The round: every method runs once per round, so the rounds interleave.</summary>
    [Params(1, 2, 3, 4, 5)] public int Round;

    /// <summary>Threads for libtorch and for the CPU jit's kernels.</summary>
    [Params(1, 2)] public int Threads;

    Tensor x = null!, w = null!;
    Func<Tensor, Tensor, Tensor> kernelGrad = null!;
    Func<Tensor, Tensor, (Tensor, Tensor)> bothGrads = null!;
    TT tx = null!, tw = null!, txg = null!;
    int savedThreads;

    [GlobalSetup]
    public void Setup()
    {
        savedThreads = Gemm.MaxThreads;
        Gemm.MaxThreads = Threads;
        torch.set_num_threads(Threads);
        x = Rng.Normal(PrngKey.Create(1), [64, 16, 28, 28]);
        w = Rng.Normal(PrngKey.Create(2), [32, 16, 3, 3]) * 0.1;
        Expression<Func<Tensor, Tensor, Tensor>> loss = (k, a) => Sum(Relu(Conv2d(a, k, 1, 1)), null, false);
        kernelGrad = Ad.Jit(Ad.Grad(loss));
        Expression<Func<(Tensor, Tensor), Tensor>> both = p => Sum(Relu(Conv2d(p.Item1, p.Item2, 1, 1)), null, false);
        var g = Ad.Jit(Ad.Grad(both));
        bothGrads = (a, k) => g(ValueTuple.Create(a, k));
        tx = x.ToTorch();
        txg = x.ToTorch().requires_grad_(true);
        tw = w.ToTorch().requires_grad_(true);
    }

    /// <summary>A quick interleaved timer (not BenchmarkDotNet): medians of 7 rounds at 1 and 2 threads, and GFLOP/s.</summary>
    public static void Quick()
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var b = new ConvLayerBench { Threads = threads };
            b.Setup();
            var runs = new (string Name, Action Run, double Gflop)[]
            {
                ("TorchSharp: kernel gradient", () => b.TorchKernelGrad(), 0.925),
                ("CPU jit: kernel gradient", () => b.JitKernelGrad(), 0.925),
                ("TorchSharp: input and kernel gradients", () => b.TorchBothGrads(), 1.387),
                ("CPU jit: input and kernel gradients", () => b.JitBothGrads(), 1.387),
            };
            foreach (var r in runs) { r.Run(); r.Run(); }
            var times = runs.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round < 7; round++)
                for (int i = 0; i < runs.Length; i++)
                {
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    runs[i].Run();
                    times[i].Add(sw.Elapsed.TotalMilliseconds);
                }
            for (int i = 0; i < runs.Length; i++)
            {
                double med = times[i].OrderBy(t => t).ElementAt(3);
                double baseMed = times[i / 2 * 2].OrderBy(t => t).ElementAt(3);
                Console.WriteLine($"{threads} thread(s) | {runs[i].Name} | median {med:F1} ms | min {times[i].Min():F1} ms | {runs[i].Gflop / med * 1000:F1} GFLOP/s | {med / baseMed:F2}x");
            }
            b.Cleanup();
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Gemm.MaxThreads = savedThreads;

    /// <summary>TorchSharp eager autograd by hand: conv2d, relu, sum, the kernel's gradient.</summary>
    [Benchmark(Baseline = true, Description = "TorchSharp: kernel gradient")]
    public float TorchKernelGrad()
    {
        using var scope = torch.NewDisposeScope();
        var l = torch.nn.functional.conv2d(tx, tw, null, [1, 1], [1, 1]).relu().sum();
        return torch.autograd.grad([l], [tw])[0].numel();
    }

    /// <summary>The CPU jit: <c>Ad.Jit(Ad.Grad(loss))</c> with respect to the kernel.</summary>
    [Benchmark(Description = "CPU jit: kernel gradient")]
    public int JitKernelGrad() => kernelGrad(w, x).Rank;

    /// <summary>TorchSharp eager autograd by hand, gradients of input and kernel.</summary>
    [Benchmark(Description = "TorchSharp: input and kernel gradients")]
    public float TorchBothGrads()
    {
        using var scope = torch.NewDisposeScope();
        var l = torch.nn.functional.conv2d(txg, tw, null, [1, 1], [1, 1]).relu().sum();
        var g = torch.autograd.grad([l], [txg, tw]);
        return g[0].numel() + g[1].numel();
    }

    /// <summary>The CPU jit, gradients of input and kernel.</summary>
    [Benchmark(Description = "CPU jit: input and kernel gradients")]
    public int JitBothGrads() => bothGrads(x, w).Item1.Rank;
}
