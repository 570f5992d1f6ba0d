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
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point of the benchmark suite.</summary>
public partial class Program;
