using System.Diagnostics;
using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace Functional.AD.Testing.Programs;

/// <summary>The outcome of running one oracle over many random programs.</summary>
/// <param name="Oracle">The oracle's name.</param>
/// <param name="Programs">Programs checked.</param>
/// <param name="Passed">Programs the oracle passed.</param>
/// <param name="Skipped">Programs on which the oracle reached no conclusion (not smooth at any input drawn, discontinuous within rounding, nothing to batch).</param>
/// <param name="Failures">Reports of the failing programs, each shrunk to the smallest failing program (at most a few are shrunk; the rest are counted).</param>
/// <param name="FailureCount">Number of failing programs.</param>
/// <param name="Elapsed">Wall time.</param>
/// <param name="MaxDepth">The deepest program checked.</param>
/// <param name="MeanSize">The mean number of nodes.</param>
/// <example><code>
/// FuzzRun run = Fuzzer.Run(Oracles.Jit, programs: 100);
/// Console.WriteLine($"{run.Passed}/{run.Programs} passed, {run.FailureCount} failed in {run.Elapsed}");
/// </code></example>
public sealed record FuzzRun(string Oracle, int Programs, int Passed, int Skipped, IReadOnlyList<string> Failures, int FailureCount, TimeSpan Elapsed, int MaxDepth, double MeanSize)
{
    /// <summary>The share of programs skipped (no conclusion).</summary>
    public double SkipRate => Programs == 0 ? 0 : (double)Skipped / Programs;
}

/// <summary>
/// Runs oracles over random programs: as an FsCheck property (with shrinking), or as a long counted run that keeps going
/// after a failure, shrinks the first few failures, and reports a table.
/// </summary>
/// <example><code>
/// var run = Fuzzer.Run(Oracles.Gradient, programs: 200);
/// Console.WriteLine(Fuzzer.Table([run]));        // programs, passed, skipped, failures, time
/// </code></example>
public static class Fuzzer
{
    /// <summary>
    /// The long run shared by the test assemblies: <c>FAD_FUZZ_PROGRAMS</c> programs (first seed <c>FAD_FUZZ_SEED</c>,
    /// default 1,000,000; at most <c>FAD_FUZZ_MAX_SIZE</c> nodes) for each of <paramref name="oracles"/> whose name
    /// contains one of the comma-separated parts of <c>FAD_FUZZ_ORACLES</c> (all when unset; a part equal to a name picks that
    /// oracle alone). Logs a line per oracle
    /// and the report, and writes the report to <c>artifacts/</c><paramref name="reportFile"/> at the repository root.
    /// Returns null when <c>FAD_FUZZ_PROGRAMS</c> is not set.
    /// </summary>
    public static (bool Ok, string Report, IReadOnlyList<FuzzRun> Runs)? LongRun(IEnumerable<IProgramOracle> oracles, string title, string reportFile, Action<string> log)
    {
        var setting = Environment.GetEnvironmentVariable("FAD_FUZZ_PROGRAMS");
        if (string.IsNullOrWhiteSpace(setting)) return null;
        int n = int.Parse(setting, CultureInfo.InvariantCulture);
        int firstSeed = int.TryParse(Environment.GetEnvironmentVariable("FAD_FUZZ_SEED"), out var s) ? s : 1_000_000;
        var options = ProgramOptions.Default;
        if (int.TryParse(Environment.GetEnvironmentVariable("FAD_FUZZ_MAX_SIZE"), out var maxSize)) options = options with { MaxSize = maxSize };
        var only = Environment.GetEnvironmentVariable("FAD_FUZZ_ORACLES")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var runs = new List<FuzzRun>();
        var list = oracles.ToList();
        // a part names the oracle it equals, or else every oracle whose name contains it
        bool Picked(IProgramOracle o) => only is null || only.Any(part => list.Any(x => x.Name.Equals(part, StringComparison.OrdinalIgnoreCase))
            ? o.Name.Equals(part, StringComparison.OrdinalIgnoreCase) : o.Name.Contains(part, StringComparison.OrdinalIgnoreCase));
        foreach (var oracle in list.Where(Picked))
        {
            var run = Run(oracle, n, firstSeed, options);
            runs.Add(run);
            log($"{run.Oracle}: {run.Programs} programs, {run.FailureCount} failures, {run.Skipped} skipped ({run.SkipRate:P2}), {run.Elapsed.TotalSeconds:F0} s");
        }
        var details = string.Join("\n", runs.SelectMany(r => r.Failures.Select(f => $"### {r.Oracle}\n\n```csharp\n{f}\n```\n")));
        var report = $"# {title}\n\n`FAD_FUZZ_PROGRAMS={n}`, programs of at most {options.MaxSize} nodes, seeds {firstSeed}..{firstSeed + n - 1}, {Environment.ProcessorCount} cores, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC\n\n{Table(runs)}\n{details}";
        log(report);
        var path = Path.Combine(RepositoryRoot(), "artifacts", reportFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, report);
        log($"written to {path}");
        return (runs.All(r => r.FailureCount == 0), report, runs);
    }

    static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "build.cake"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }

    /// <summary>
    /// An FsCheck property: the oracle holds on every program. A failure is shrunk by FsCheck (see
    /// <see cref="ProgramGen.Shrink"/>) and labelled with the oracle's report of the smallest failing program.
    /// </summary>
    public static Property Property(IProgramOracle oracle, ProgramOptions? options = null, Action<OracleResult>? observe = null) =>
        Prop.ForAll(ProgramGen.Arbitrary(options), p =>
        {
            var r = oracle.Check(p);
            observe?.Invoke(r);
            return r.Ok.Label(r.Report);
        });

    /// <summary>
    /// Checks <paramref name="programs"/> programs generated from the seeds <c>firstSeed, firstSeed + 1, ...</c>, counting
    /// failures; the first <paramref name="shrinkFailures"/> failures are shrunk and reported in full.
    /// </summary>
    public static FuzzRun Run(IProgramOracle oracle, int programs, int firstSeed = 0, ProgramOptions? options = null, int shrinkFailures = 3)
    {
        var sw = Stopwatch.StartNew();
        int passed = 0, skipped = 0, failed = 0, maxDepth = 0;
        long nodes = 0;
        var reports = new List<string>();
        for (int i = 0; i < programs; i++)
        {
            var p = ProgramGen.FromSeed(unchecked(firstSeed + i), options);
            nodes += p.Size; maxDepth = Math.Max(maxDepth, p.Depth);
            var r = oracle.Check(p);
            switch (r.Verdict)
            {
                case Verdict.Pass: passed++; break;
                case Verdict.Skipped: skipped++; break;
                default:
                    failed++;
                    if (reports.Count < shrinkFailures)
                    {
                        var small = ProgramGen.Minimize(p, q => !oracle.Check(q).Ok);
                        reports.Add($"{oracle.Check(small).Report}\n// original ({p.Size} nodes): ProgramGen.FromSeed({p.Seed})");
                    }
                    break;
            }
        }
        return new FuzzRun(oracle.Name, programs, passed, skipped, reports, failed, sw.Elapsed, maxDepth, programs == 0 ? 0 : (double)nodes / programs);
    }

    /// <summary>A Markdown table of runs (programs checked, passed, skipped, failures, time per oracle).</summary>
    public static string Table(IEnumerable<FuzzRun> runs)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| oracle | programs | passed | skipped | failures | max depth | mean nodes | time |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in runs)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Oracle} | {r.Programs} | {r.Passed} | {r.Skipped} ({100 * r.SkipRate:F2}%) | {r.FailureCount} | {r.MaxDepth} | {r.MeanSize:F1} | {r.Elapsed.TotalSeconds:F1} s |"));
        return sb.ToString();
    }
}
