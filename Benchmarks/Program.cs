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
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point of the benchmark suite.</summary>
public partial class Program;
