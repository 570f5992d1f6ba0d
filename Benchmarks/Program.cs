using BenchmarkDotNet.Running;

// Run: dotnet run -c Release --project Benchmarks -- --filter '*' --job short --inProcess --iterationTime 100
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

/// <summary>Entry point of the benchmark suite.</summary>
public partial class Program;
