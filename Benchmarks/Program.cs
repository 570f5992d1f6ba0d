using BenchmarkDotNet.Running;

// Run: dotnet run -c Release --project Benchmarks -- --filter '*' --job short --inProcess --iterationTime 100
// The paired A/B timer of issue 20's small calls: dotnet run -c Release --project Benchmarks -- --paired
if (args is ["--paired"]) Benchmarks.PairedRatio.Run();
else BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point of the benchmark suite.</summary>
public partial class Program;
