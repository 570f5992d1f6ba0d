using BenchmarkDotNet.Running;

// dotnet run -c Release --project Benchmarks -- --filter '*' --job short --inProcess --iterationTime 100
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
