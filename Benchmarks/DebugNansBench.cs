using System.Linq.Expressions;
using BenchmarkDotNet.Attributes;
using Functional.AD;
using static Functional.AD.Np;

namespace Benchmarks;

/// <summary>
/// What <c>Ad.DebugNans</c> costs a jitted call (issue 19). Off, the jitted code differs from before the switch only by
/// one static-field test in its shape guard; on, every result is scanned for NaN and infinity. Measured on a call
/// dominated by per-call overhead (a [3] tensor doubled) and on the XOR loss gradient.
/// </summary>
[MemoryDiagnoser, MinColumn]
public class DebugNansBench
{
    /// <summary>The switch, set before the functions are jitted and warmed.</summary>
    [Params(false, true)] public bool DebugNans;

    Func<Tensor, Tensor> small = null!;
    Func<XorParams, Tensor, Tensor, XorParams> grad = null!;
    Tensor v = null!, x = null!, y = null!;
    XorParams p = null!;

    // set through reflection, so that the same file measures a build from before the switch existed (false only)
    static void Set(bool on) => typeof(Ad).GetProperty("DebugNans")?.SetValue(null, on);

    [GlobalSetup]
    public void Setup()
    {
        Set(DebugNans);
        Expression<Func<Tensor, Tensor>> f = a => a * 2.0;
        small = Ad.Jit(f);
        grad = Ad.Jit(XorModel.Loss.Grad());
        v = new Tensor(new float[] { 1, 2, 3 });
        p = XorModel.Init();
        x = new Tensor(new float[] { 0, 1 });
        y = new Tensor(new float[] { 1 }, []);
        small(v); grad(p, x, y);
    }

    [GlobalCleanup]
    public void Cleanup() => Set(false);

    /// <summary>A jitted call whose cost is almost all overhead.</summary>
    [Benchmark(Baseline = true)]
    public Tensor SmallCall() => small(v);

    /// <summary>The jitted XOR loss gradient.</summary>
    [Benchmark]
    public XorParams XorGradCall() => grad(p, x, y);
}
