using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using static Functional.AD.Np;

namespace Benchmarks;

/// <summary>
/// An elementwise chain over float16 or bfloat16 [256, 256] matrices: plain Compile() (each eager operation widens its
/// operands to float32, computes, rounds its result into a fresh half array) against Ad.Jit (one fused loop computing
/// in float32: the halves widened in blocks as the loop reads them, the result rounded once); the same chain jitted
/// over float32 for reference.
/// </summary>
[MinColumn, MemoryDiagnoser]
public class JitFusionHalf
{
    /// <summary>The chain of JitHalfFusionTests (16 nodes); <c>Ad.Show(Chain, x, y)</c> marks every node <c>fused #1</c>.</summary>
    public static readonly Expression<Func<Tensor, Tensor, Tensor>> Chain = (x, y) =>
        Tanh(x * y + 0.5) * Exp(-x) - Sigmoid(y) / (1.0 + Abs(x)) + Where(Greater(x, y), Sqrt(Abs(y)), -x);

    [Params(DType.Float16, DType.BFloat16)] public DType D;

    Tensor x = null!, y = null!, x32 = null!, y32 = null!;
    Func<Tensor, Tensor, Tensor> jitted = null!, plain = null!;

    [GlobalSetup]
    public void Setup()
    {
        x = Rng.Normal(PrngKey.Create(1), [256, 256]).AsType(D);
        y = Rng.Normal(PrngKey.Create(2), [256, 256]).AsType(D);
        (x32, y32) = (x.AsType(DType.Float32), y.AsType(DType.Float32));
        jitted = Chain.Jit();
        plain = Chain.Compile();
        var tol = D == DType.Float16 ? 8.0 / 1024 : 8.0 / 128;
        if (jitted(x, y).DType != D || !plain(x, y).AsType(DType.Float32).AllClose(jitted(x, y).AsType(DType.Float32), tol, tol))
            throw new InvalidOperationException("fused half chain differs from Compile()");
        if (!Ad.Show(Chain, x, y).Contains("fused #1 (16 ops")) throw new InvalidOperationException("the half chain is not one fused loop");
    }

    [Benchmark(Baseline = true, Description = "Compile() (eager kernels via float32, a half array per node)")]
    public Tensor Eager() => plain(x, y);

    [Benchmark(Description = "Ad.Jit (one fused loop in float32)")]
    public Tensor Fused() => jitted(x, y);

    [Benchmark(Description = "Ad.Jit of the same chain over float32")]
    public Tensor Fused32() => jitted(x32, y32);
}
