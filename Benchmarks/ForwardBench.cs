using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using static Functional.AD.Np;

namespace Benchmarks;

/// <summary>Hessian-vector product against two gradients (the cost it should be a small multiple of).</summary>
[MemoryDiagnoser]
public class HvpBench
{
    Func<Tensor, Tensor> grad = null!;
    Func<Tensor, Tensor, Tensor> hvp = null!;
    Tensor x = null!, v = null!;

    [GlobalSetup]
    public void Setup()
    {
        var w = Rng.Normal(PrngKey.Create(1), [256, 256], DType.Float64) * 0.05;
        Expression<Func<Tensor, Tensor>> f = z => Sum(Tanh(Dot(w, Tanh(Dot(w, z)))), null, false);
        grad = Ad.Jit(f.Grad());
        hvp = Ad.Jit(f.Hvp());
        x = Rng.Normal(PrngKey.Create(2), [256], DType.Float64);
        v = Rng.Normal(PrngKey.Create(3), [256], DType.Float64);
    }

    [Benchmark(Baseline = true, Description = "two gradients")]
    public Tensor TwoGradients() { grad(x); return grad(v); }

    [Benchmark(Description = "Hvp (forward over reverse)")]
    public Tensor Hvp() => hvp(x, v);
}

/// <summary>Jacfwd against Jacrev: forward mode wins on tall Jacobians (few inputs), reverse on wide ones (few outputs).</summary>
[MemoryDiagnoser]
public class JacobianBench
{
    Func<Tensor, Tensor> tallFwd = null!, tallRev = null!, wideFwd = null!, wideRev = null!;
    Tensor small = null!, large = null!;

    [GlobalSetup]
    public void Setup()
    {
        var a = Rng.Normal(PrngKey.Create(1), [512, 4], DType.Float64);
        var b = Rng.Normal(PrngKey.Create(2), [4, 512], DType.Float64);
        Expression<Func<Tensor, Tensor>> tall = z => Tanh(Dot(a, Sin(z)));   // R^4 -> R^512
        Expression<Func<Tensor, Tensor>> wide = z => Tanh(Dot(b, Sin(z)));   // R^512 -> R^4
        tallFwd = Ad.Jit(tall.Jacfwd()); tallRev = Ad.Jit(tall.Jacrev());
        wideFwd = Ad.Jit(wide.Jacfwd()); wideRev = Ad.Jit(wide.Jacrev());
        small = Rng.Normal(PrngKey.Create(3), [4], DType.Float64);
        large = Rng.Normal(PrngKey.Create(4), [512], DType.Float64);
    }

    [Benchmark(Description = "tall 512x4: Jacfwd")] public Tensor TallFwd() => tallFwd(small);
    [Benchmark(Description = "tall 512x4: Jacrev")] public Tensor TallRev() => tallRev(small);
    [Benchmark(Description = "wide 4x512: Jacfwd")] public Tensor WideFwd() => wideFwd(large);
    [Benchmark(Description = "wide 4x512: Jacrev")] public Tensor WideRev() => wideRev(large);
}
