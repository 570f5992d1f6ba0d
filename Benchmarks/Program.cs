using BenchmarkDotNet.Running;

// Run: dotnet run -c Release --project Benchmarks -- --filter '*' --job short --inProcess --iterationTime 100
// The paired A/B timer of the small calls: dotnet run -c Release --project Benchmarks -- --paired
if (args is ["--paired"]) Benchmarks.PairedRatio.Run();
else if (args is ["--paired-small"]) Benchmarks.PairedRatio.RunSmall();
else if (args is ["--exp-tp"]) Benchmarks.PairedRatio.ExpTp();
else if (args is ["--paired-torch"]) Benchmarks.PairedRatio.RunTorch();
// the paired timer on the Vmap workloads: dotnet run -c Release --project Benchmarks -- --paired-vmap
else if (args is ["--paired-vmap"]) Benchmarks.PairedRatio.RunVmap();
// the same, the XOR minibatch alone (a process whose heap the MLP's 4 MB results have not grown)
else if (args is ["--paired-vmap-xor"]) Benchmarks.PairedRatio.RunVmapXor();
// one convolution layer at MNIST scale, CPU jit against TorchSharp: dotnet run -c Release --project Benchmarks -- --conv-quick
else if (args is ["--conv-quick"]) Benchmarks.ConvLayerBench.Quick();
// where the digits CNN step spends its time on the Torch backend
else if (args is ["--cnn-torch-profile"]) Benchmarks.CnnTorchProfile.Run();
else if (args is ["--cnn-conv-paths"]) Benchmarks.CnnConvPaths.Run();
else if (args is ["--cnn-alloc"]) Benchmarks.CnnAlloc.Run();
else if (args is ["--cnn-paired"]) Benchmarks.CnnPaired.Run();
else if (args is ["--cnn-vm-show"]) { var b = new Benchmarks.CnnPerExampleBench(); b.Setup(); Console.WriteLine(b.Show()); }
else if (args is ["--cnn-vm-exp"])
{
    var b = new Benchmarks.CnnPerExampleBench(); b.Setup();
    for (int i = 0; i < 400; i++) { b.Vmapped(); b.Loop(); }
    var vm = new List<double>(); var lp = new List<double>(); int g0 = GC.CollectionCount(0), g2 = GC.CollectionCount(2);
    for (int i = 0; i < 300; i++)
    {
        var t0 = System.Diagnostics.Stopwatch.GetTimestamp(); b.Vmapped(); vm.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        t0 = System.Diagnostics.Stopwatch.GetTimestamp(); b.Loop(); lp.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
    }
    vm.Sort(); lp.Sort();
    long a0 = GC.GetAllocatedBytesForCurrentThread(); b.Vmapped(); long a1 = GC.GetAllocatedBytesForCurrentThread(); b.Loop(); long a2 = GC.GetAllocatedBytesForCurrentThread();
    Console.WriteLine($"allocated: vm call {(a1 - a0) / 1024} KB (this thread), loop {(a2 - a1) / 1024} KB; total all threads per pair {GC.GetTotalAllocatedBytes(true) / 1000}");
    Console.WriteLine($"alternating: vm median {vm[150]:F2} p10 {vm[30]:F2} p90 {vm[270]:F2}; loop median {lp[150]:F2} p90 {lp[270]:F2}; gen0 {GC.CollectionCount(0) - g0}, gen2 {GC.CollectionCount(2) - g2}; allocated per vm call {GC.GetAllocatedBytesForCurrentThread()}");
}
// per-call times and collections of the per-example MLP gradients alone: --vmap-gc vm|loop
else if (args is ["--vmap-gc", var mode])
{
    var m = new Benchmarks.PerExampleMlpBench(); m.Setup();
    Func<object> f = mode == "vm" ? m.Vmapped : m.Loop;
    for (int i = 0; i < 300; i++) f();
    var ts = new List<double>(); int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
    var pause = GC.GetTotalPauseDuration(); long alloc = GC.GetTotalAllocatedBytes(true);
    for (int i = 0; i < 400; i++) { var t0 = System.Diagnostics.Stopwatch.GetTimestamp(); f(); ts.Add(System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds); }
    var info = GC.GetGCMemoryInfo(GCKind.Any);
    Console.WriteLine($"last GC: gen {info.Generation} concurrent {info.Concurrent} compacted {info.Compacted} heap {info.HeapSizeBytes / 1e6:F1} MB committed {info.TotalCommittedBytes / 1e6:F1} MB, promoted {info.PromotedBytes / 1e6:F1} MB");
    for (int i = 0; i < 12; i++) { int c0 = GC.CollectionCount(0), c2 = GC.CollectionCount(2); var t0 = System.Diagnostics.Stopwatch.GetTimestamp(); f(); Console.Write($"{System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds:F0}us/{GC.CollectionCount(0) - c0}/{GC.CollectionCount(2) - c2} "); }
    Console.WriteLine();
    ts.Sort();
    Console.WriteLine($"{mode}: p10 {ts[40]:F0} median {ts[200]:F0} p90 {ts[360]:F0} mean {ts.Average():F0} us; gen0 {GC.CollectionCount(0) - g0} gen1 {GC.CollectionCount(1) - g1} gen2 {GC.CollectionCount(2) - g2}, pause {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F1} ms, {(GC.GetTotalAllocatedBytes(true) - alloc) / 400 / 1024} KB a call");
}
// the digits CNN step of the CPU jit alone, for a profiler: --cnn-step-loop SECONDS [jit|torch|vm|loop]
else if (args is ["--cnn-step-loop", var secs, var which])
{
    var b = new Benchmarks.CnnStepBench { Threads = 1 }; b.Setup();
    var v = new Benchmarks.CnnPerExampleBench(); if (which is "vm" or "loop") v.Setup();
    Func<object> f = which switch { "torch" => () => b.Torch(), "vm" => v.Vmapped, "loop" => v.Loop, _ => b.Jit };
    long end = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(double.Parse(secs) * System.Diagnostics.Stopwatch.Frequency); int n = 0;
    var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
    while (System.Diagnostics.Stopwatch.GetTimestamp() < end) { f(); n++; }
    Console.WriteLine($"{which}: {n} calls, {System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds / n:F3} ms a call");
}
// the MNIST-scale convolution layer's kernel gradient on the CPU jit alone, for a profiler: --conv-loop SECONDS THREADS
else if (args is ["--conv-loop", var secs2, var th])
{
    var b = new Benchmarks.ConvLayerBench { Threads = int.Parse(th) }; b.Setup();
    long end = System.Diagnostics.Stopwatch.GetTimestamp() + (long)(double.Parse(secs2) * System.Diagnostics.Stopwatch.Frequency); int n = 0;
    var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
    while (System.Diagnostics.Stopwatch.GetTimestamp() < end) { b.JitKernelGrad(); n++; }
    Console.WriteLine($"kernel gradient: {n} calls, {System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds / n:F2} ms a call");
}
// what touching 4.4 MB of fresh pages costs on this machine, against the same pages touched again (native memory: the
// first block comes from mmap, later ones from the C heap, which keeps freed memory mapped): --fresh-pages
else if (args is ["--fresh-pages"])
{
    const int bytes = 4_400_000;
    unsafe
    {
        for (int k = 0; k < 6; k++)
        {
            var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            byte* p = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(bytes);
            for (int i = 0; i < bytes; i += 64) p[i] = 1;
            var us = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            System.Runtime.InteropServices.NativeMemory.Free(p);
            Console.WriteLine($"block {k}: {us:F0} us to touch {bytes / 1e6:F1} MB ({us / (bytes / 4096.0):F2} us a 4 KB page)");
        }
    }
}
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point of the benchmark suite.</summary>
public partial class Program;
