using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Benchmarks;

/// <summary>
/// A paired A/B timer for a shared, loaded machine, beside the BenchmarkDotNet classes (which remain the reference):
/// the baseline and each candidate run in alternating slots of about 2 ms, 300 slots each, so that a burst of load
/// from other processes hits both; the ratio reported is the median over slots of candidate time / the adjacent
/// baseline slot, with the median and best per-call times. Run: <c>dotnet run -c Release --project Benchmarks --
/// --paired</c>.
/// </summary>
public static class PairedRatio
{
    /// <summary>Runs every paired comparison and prints one line per candidate.</summary>
    public static void Run()
    {
        RunSmall();
        RunTorch();
    }

    /// <summary>The small CPU calls only: <c>dotnet run -c Release --project Benchmarks -- --paired-small</c>.</summary>
    public static void RunSmall()
    {
        var x = new SmallXor(); x.Setup();
        // GradAlloc returns a tuple: boxed as an object here it would add an allocation to the baseline; its first array
        // is returned instead (the work is the same)
        Compare("XOR one example (SmallXor)", ("XorHand.GradAlloc", () => x.GradAlloc().Item2),
            ("XorHand.Grad into a record of 4 arrays", () => x.GradRecord()),
            ("Ad.Jit(Ad.Grad(loss))", () => x.Jitted()),
            ("hand-written into 4 tensors (old baseline)", () => x.HandTensors()),
            ("breakdown: compute", () => x.Compute()),
            ("breakdown: allocation", () => x.Allocation()),
            ("breakdown: dispatch + guard of 1 leaf", () => x.Guard()),
            ("breakdown: dispatch + unpack + guard of 6 leaves + repack", () => x.Unpack()));
        // the jitted call against the record-of-arrays variant directly
        Compare("XOR one example, against the record of 4 arrays", ("XorHand.Grad into a record of 4 arrays", () => x.GradRecord()),
            ("Ad.Jit(Ad.Grad(loss))", () => x.Jitted()));
        var b = new SmallXorBatch(); b.Setup();
        Compare("XOR batch of 100 (SmallXorBatch)", ("XorBatchTP", () => b.TP()), ("Ad.Jit of Mean(Vmap(Grad))", () => b.Jitted()));
    }

    public static void ExpTp()
    {
        var b = new SmallXorBatch(); b.Setup();
        Compare("TP vs TP", ("XorBatchTP", () => b.TP()), ("XorBatchTP again", () => b.TP()));
        Compare("TP vs scalar", ("XorBatchTP", () => b.TP()), ("scalar", () => b.ScalarLoop()));
        Compare("TP vs jitted", ("XorBatchTP", () => b.TP()), ("jitted", () => b.Jitted()));
        Compare("TP vs notebook", ("XorBatchTP", () => b.TP()), ("notebook", () => b.Notebook()));
    }

    /// <summary>The Torch backend only (XOR step, MLP): <c>dotnet run -c Release --project Benchmarks -- --paired-torch</c>.</summary>
    public static void RunTorch()
    {
        var t = new TorchXorStep(); t.Setup();
        Compare("XOR training step on Torch (TorchXorStep)", ("TorchSharp eager, by hand", () => t.Eager()), ("JitTorch(cpu, donate: 0)", () => t.Jitted()));
        var m = new TorchMlpBench(); m.Setup();
        Compare("MLP 784-256-256-10 on Torch (TorchMlpBench)", 40, ("TorchSharp eager autograd", () => m.TorchSharpEager()),
            ("Ad.Grad(loss).JitTorch(cpu)", () => m.AdGradJitTorch()), ("Ad.Jit(Ad.Grad(loss)) (CPU jit, 1 thread)", () => m.AdGradJitCpu1()));
    }

    /// <summary>The Vmap workloads: per-example MLP gradients, and the seed's XOR minibatch with the mean outside and inside
    /// the jitted call. Run: <c>dotnet run -c Release --project Benchmarks -- --paired-vmap</c>.</summary>
    public static void RunVmap()
    {
        var m = new PerExampleMlpBench(); m.Setup();
        Compare("Per-example gradients, MLP 256-64-10, batch 64 (PerExampleMlpBench)", 60, ("loop of 64 Ad.Jit(Ad.Grad(loss))", () => m.Loop()),
            ("Ad.Jit(Ad.Vmap(Ad.Grad(loss), [null, 0, 0]))", () => m.Vmapped()), ("TorchSharp autograd, looped over the examples", () => m.TorchLoop()));
        Compare("Per-example gradients against TorchSharp (PerExampleMlpBench)", 60, ("TorchSharp autograd, looped over the examples", () => m.TorchLoop()),
            ("Ad.Jit(Ad.Vmap(Ad.Grad(loss), [null, 0, 0]))", () => m.Vmapped()));
        RunVmapXor();
    }

    /// <summary>The XOR minibatch of <see cref="RunVmap"/> alone.</summary>
    public static void RunVmapXor()
    {
        var b = new SmallXorBatch(); b.Setup();
        Compare("XOR minibatch of 100, mean outside the jit (SmallXorBatch)", ("XorHand.GradBatch (scalar loop)", () => b.ScalarLoop()),
            ("Ad.Jit(Ad.Vmap(Ad.Grad(loss))), then Mean per leaf", () => b.Notebook()));
        Compare("XOR minibatch of 100, mean inside the jit (SmallXorBatch)", ("XorBatchTP", () => b.TP()),
            ("Ad.Jit of Mean(Vmap(Grad(loss)))", () => b.Jitted()));
    }

    static void Compare(string title, (string Name, Func<object> F) baseline, params (string Name, Func<object> F)[] candidates) =>
        Compare(title, 300, baseline, candidates);

    static void Compare(string title, int slots, (string Name, Func<object> F) baseline, params (string Name, Func<object> F)[] candidates)
    {
        Console.WriteLine($"{title}: {slots} alternating slots per candidate, load {Load()}");
        Warm([baseline.F, .. candidates.Select(c => c.F)]);
        int n = Calibrate(baseline.F);
        var baseTimes = new List<double>();
        foreach (var (name, f) in candidates)
        {
            int k = Calibrate(f);
            var ratios = new List<double>();
            var times = new List<double>();
            for (int s = 0; s < slots; s++)
            {
                double tb = Slot(baseline.F, n), tc = Slot(f, k);
                baseTimes.Add(tb);
                times.Add(tc);
                ratios.Add(tc / tb);
            }
            Console.WriteLine($"  {name,-58} median ratio {Median(ratios),5:F2}   per call: median {Fmt(Median(times))}, best {Fmt(times.Min())}");
        }
        Console.WriteLine($"  {baseline.Name + " (baseline)",-58}                    per call: median {Fmt(Median(baseTimes))}, best {Fmt(baseTimes.Min())}");
    }

    /// <summary>
    /// Runs every function in turn, 20 ms at a time, for 2 s: the runtime compiles a method first without optimisation
    /// (tier 0) and recompiles it optimised only after it has been called for a while with no new method compiled in
    /// the last 100 ms, so a short warm-up leaves library code (TensorPrimitives, eager kernels) unoptimised for the
    /// first slots; 200 calls were not enough (a tier-0 <c>XorBatchTP</c> took 9.7 us a call against 0.65 us).
    /// </summary>
    static void Warm(Func<object>[] fs)
    {
        long end = Stopwatch.GetTimestamp() + 2 * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < end)
            foreach (var f in fs)
            {
                long stop = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 50;
                while (Stopwatch.GetTimestamp() < stop) Keep(f());
            }
    }

    /// <summary>Calls per slot so that a slot takes about 2 ms.</summary>
    static int Calibrate(Func<object> f)
    {
        for (int i = 0; i < 200; i++) Keep(f());   // warm up (tiering)
        int n = 1;
        while (true)
        {
            var t = Slot(f, n) * n;
            if (t > 2e6 || n > 1 << 24) return n;
            n *= 2;
        }
    }

    /// <summary>Nanoseconds per call over <paramref name="n"/> calls.</summary>
    static double Slot(Func<object> f, int n)
    {
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < n; i++) Keep(f());
        return (Stopwatch.GetTimestamp() - t0) * 1e9 / Stopwatch.Frequency / n;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void Keep(object o) => GC.KeepAlive(o);

    static double Median(List<double> xs) { var s = xs.OrderBy(v => v).ToList(); return s[s.Count / 2]; }

    static string Fmt(double ns) => ns >= 1e6 ? $"{ns / 1e6:F2} ms" : ns >= 1e3 ? $"{ns / 1e3:F2} us" : $"{ns:F1} ns";

    static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
