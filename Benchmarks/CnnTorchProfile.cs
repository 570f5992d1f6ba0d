using System.Diagnostics;
using Functional.AD;
using Functional.AD.Torch;
using TorchSharp;

namespace Benchmarks;

/// <summary>
/// Where the digits CNN's training step spends its time on the Torch backend: the step compiled with
/// <c>FAD_TORCH_PROFILE</c> set, then each primitive's share of 200 steps, beside the whole step and TorchSharp's
/// hand-written one. <c>dotnet run -c Release --project Benchmarks -- --cnn-torch-profile</c>.
/// </summary>
static class CnnTorchProfile
{
    public static void Run()
    {
        Environment.SetEnvironmentVariable("FAD_TORCH_PROFILE", "1");
        foreach (var threads in new[] { 1, 2 })
        {
            torch.set_num_threads(threads);
            var p = CnnModel.Parameters();
            var (x, y) = (CnnModel.Images(64, 1), CnnModel.OneHotLabels(64));
            var step = Ad.Grad(CnnModel.Loss).JitTorch(TorchBackend.Cpu);
            var pT = TorchTensors.ToDevice(p, TorchBackend.Cpu);
            var (xT, yT) = (x.ToDevice(TorchBackend.Cpu), y.ToDevice(TorchBackend.Cpu));
            var tp = CnnModel.TorchParameters(p);
            var (tx, ty) = (x.ToTorch(), y.ToTorch());
            void Ours() { var g = step(pT, xT, yT); foreach (var t in Tree.Leaves(g)) t.DisposeDevice(); }
            void Theirs() { using var s = torch.NewDisposeScope(); CnnModel.TorchGrad(tp, tx, ty); }
            for (int i = 0; i < 20; i++) { Ours(); Theirs(); }
            TorchProfile.Reset();
            const int n = 200;
            var ours = new List<double>();
            var theirs = new List<double>();
            for (int i = 0; i < n; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Ours();
                long t1 = Stopwatch.GetTimestamp();
                Theirs();
                long t2 = Stopwatch.GetTimestamp();
                ours.Add((t1 - t0) * 1000.0 / Stopwatch.Frequency);
                theirs.Add((t2 - t1) * 1000.0 / Stopwatch.Frequency);
            }
            double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }
            var rows = TorchProfile.Snapshot();
            double total = rows.Sum(r => r.Ms) / n;
            Console.WriteLine($"threads {threads}: Torch backend step median {Median(ours):F3} ms, TorchSharp by hand {Median(theirs):F3} ms; primitives {total:F3} ms per step");
            foreach (var (name, ms, calls) in rows.Take(25))
                Console.WriteLine($"  {ms / n,8:F3} ms  {calls / n,3}x  {name}");
        }
    }
}

/// <summary>
/// The digits CNN's training step on the Torch backend two ways, interleaved: its CPU convolutions with libtorch's
/// oneDNN path off (as the backend runs them, see <c>OneDnn</c>) and on (libtorch's default), on one thread. <c>dotnet run -c Release --project Benchmarks -- --cnn-conv-paths</c>.
/// </summary>
static class CnnConvPaths
{
    public static void Run()
    {
        torch.set_num_threads(1);
        var p = CnnModel.Parameters();
        var (x, y) = (CnnModel.Images(64, 1), CnnModel.OneHotLabels(64));
        var pT = TorchTensors.ToDevice(p, TorchBackend.Cpu);
        var (xT, yT) = (x.ToDevice(TorchBackend.Cpu), y.ToDevice(TorchBackend.Cpu));
        var ways = new (string Name, bool OneDnnOff)[] { ("oneDNN off (as shipped)", true), ("oneDNN on", false) };
        var steps = ways.Select(w =>
        {
            ConvLowerings.OneDnnOff = w.OneDnnOff;
            var f = Ad.Grad(CnnModel.Loss).JitTorch(TorchBackend.Cpu);
            return f;
        }).ToArray();
        var times = ways.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < 300; round++)
            for (int i = 0; i < ways.Length; i++)
            {
                ConvLowerings.OneDnnOff = ways[i].OneDnnOff;
                long t0 = Stopwatch.GetTimestamp();
                var g = steps[i](pT, xT, yT);
                foreach (var t in Tree.Leaves(g)) t.DisposeDevice();
                if (round >= 20) times[i].Add((Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency);
            }
        ConvLowerings.OneDnnOff = true;
        for (int i = 0; i < ways.Length; i++)
        {
            var v = times[i].OrderBy(t => t).ToList();
            Console.WriteLine($"{ways[i].Name,-28} median {v[v.Count / 2]:F3} ms  min {v[0]:F3} ms");
        }
    }
}


/// <summary>
/// What one call of the digits CNN's jitted training step allocates, all threads together (the GEMM's and the
/// convolutions' worker threads included): <c>dotnet run -c Release --project Benchmarks -- --cnn-alloc</c>.
/// </summary>
static class CnnAlloc
{
    public static void Run()
    {
        foreach (var threads in new[] { 1, 2 })
        {
            Functional.AD.Gemm.MaxThreads = threads;
            var p = CnnModel.Parameters();
            var (x, y) = (CnnModel.Images(64, 1), CnnModel.OneHotLabels(64));
            var step = Ad.Jit(Ad.Grad(CnnModel.Loss));
            for (int i = 0; i < 10; i++) step(p, x, y);
            const int n = 50;
            long b0 = GC.GetTotalAllocatedBytes(true);
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < n; i++) step(p, x, y);
            double ms = (Stopwatch.GetTimestamp() - t0) * 1000.0 / Stopwatch.Frequency / n;
            Console.WriteLine($"threads {threads}: {(GC.GetTotalAllocatedBytes(true) - b0) / n / 1024.0:F1} KB allocated per call, {ms:F2} ms per call (mean of {n})");
            if (Environment.GetEnvironmentVariable("FAD_ALLOC_TYPES") is not null)
            {
                using var l = new AllocListener();
                for (int i = 0; i < n; i++) step(p, x, y);
                foreach (var (type, kb) in l.ByType.OrderByDescending(kv => kv.Value).Take(12)) Console.WriteLine($"   {kb / n,10:F1} KB  {type} (sampled)");
            }
        }
    }

    sealed class AllocListener : System.Diagnostics.Tracing.EventListener
    {
        public readonly System.Collections.Concurrent.ConcurrentDictionary<string, double> ByType = new();
        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
        }
        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
        {
            if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick")) return;
            var type = e.Payload![e.PayloadNames!.IndexOf("TypeName")]?.ToString() ?? "?";
            ByType.AddOrUpdate(type, 100, (_, v) => v + 100);
        }
    }
}

/// <summary>
/// The digits CNN's workloads with an interleaved timer: 7 rounds, each timing every candidate for about 0.3 s in turn,
/// the ratio to the baseline taken per round and its median reported (so a burst of load from other processes hits
/// the candidates of a round alike). The training step on 1 and 2 threads (TorchSharp by hand, the CPU jit, the Torch
/// backend) and the per-example gradients (a loop of 64 jitted gradients, the jitted Vmap).
/// <c>dotnet run -c Release --project Benchmarks -- --cnn-paired</c>.
/// </summary>
static class CnnPaired
{
    static double PerCall(Action a, double seconds = 0.3)
    {
        long t0 = Stopwatch.GetTimestamp();
        int n = 0;
        do { a(); n++; } while (Stopwatch.GetElapsedTime(t0).TotalSeconds < seconds);
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds / n;
    }

    static void Report(string title, (string Name, Action Run)[] candidates, int rounds = 7)
    {
        // warm-up: every candidate in turn, 0.2 s at a time, for 3 s each. The runtime recompiles library code with
        // optimisations only after it has run a while (the kernels of the vmapped CNN take 100 to 300 calls: 20 to 25 ms
        // a call at first, 3.5 ms once optimised); 5 calls left whole rounds measuring that warm-up
        for (int w = 0; w < 15; w++) foreach (var c in candidates) PerCall(c.Run, 0.2);
        var times = candidates.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < candidates.Length; i++) times[i].Add(PerCall(candidates[i].Run));
        double Median(IEnumerable<double> v) { var s = v.OrderBy(x => x).ToList(); return s[s.Count / 2]; }
        Console.WriteLine(title);
        Console.WriteLine("| method | median per call | best round | median ratio to the first |");
        Console.WriteLine("|---|---:|---:|---:|");
        for (int i = 0; i < candidates.Length; i++)
            Console.WriteLine($"| {candidates[i].Name} | {Median(times[i]):F2} ms | {times[i].Min():F2} ms | {Median(times[i].Zip(times[0], (a, b) => a / b)):F2} |");
    }

    public static void Run()
    {
        foreach (var threads in new[] { 1, 2 })
        {
            Functional.AD.Gemm.MaxThreads = threads;
            torch.set_num_threads(threads);
            var p = CnnModel.Parameters();
            var (x, y) = (CnnModel.Images(64, 1), CnnModel.OneHotLabels(64));
            var jit = Ad.Jit(Ad.Grad(CnnModel.Loss));
            var onTorch = Ad.Grad(CnnModel.Loss).JitTorch(TorchBackend.Cpu);
            var pT = TorchTensors.ToDevice(p, TorchBackend.Cpu);
            var (xT, yT) = (x.ToDevice(TorchBackend.Cpu), y.ToDevice(TorchBackend.Cpu));
            var tp = CnnModel.TorchParameters(p);
            var (tx, ty) = (x.ToTorch(), y.ToTorch());
            Report($"training step, batch 64, {threads} thread(s)",
            [
                ("TorchSharp eager autograd (baseline)", () => { using var s = torch.NewDisposeScope(); CnnModel.TorchGrad(tp, tx, ty); }),
                ("`Ad.Jit(Ad.Grad(loss))`", () => jit(p, x, y)),
                ("`Ad.Grad(loss).JitTorch(Cpu)`", () => { var g = onTorch(pT, xT, yT); foreach (var t in Tree.Leaves(g)) t.DisposeDevice(); }),
            ]);
        }
        Functional.AD.Gemm.MaxThreads = Environment.ProcessorCount;
        var bench = new CnnPerExampleBench();
        bench.Setup();
        Report("per-example gradients, batch 64",
        [
            ("loop of 64 `Ad.Jit(Ad.Grad(loss))` (baseline)", () => bench.Loop()),
            ("`Ad.Jit(Ad.Vmap(Ad.Grad(loss), [null, 0, 0]))`", () => bench.Vmapped()),
        ]);
    }
}
