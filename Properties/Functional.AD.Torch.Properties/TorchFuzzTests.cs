using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing.Programs;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

using Functional.AD.Properties;

namespace Functional.AD.Torch.Properties;

/// <summary>The two Torch oracles on 300 random programs each (the default run; the long run is <see cref="TorchFuzzLongRun"/>).</summary>
public class TorchFuzzTests(ITestOutputHelper output)
{
    static TorchFuzzTests() => TorchOracles.Register();

    public static IEnumerable<object[]> OracleNames => TorchOracles.All.Select(o => new object[] { o.Name });

    [Fact]
    public void Both_torch_oracles_are_registered_with_the_generator()
    {
        foreach (var o in TorchOracles.All) Assert.Contains(o, Oracles.All);
    }

    [Theory]
    [MemberData(nameof(OracleNames))]
    public void Oracle_holds_on_300_random_programs(string name)
    {
        // the same 300 programs on every run (seeds 1,000,000 .. 1,000,299), so CI is reproducible
        var oracle = TorchOracles.All.Single(o => o.Name == name);
        var run = Fuzzer.Run(oracle, 300, firstSeed: 1_000_000);
        output.WriteLine($"{name}: {run.Passed} passed, {run.Skipped} skipped, {run.FailureCount} failed, {run.Elapsed.TotalSeconds:F1} s");
        Assert.True(run.FailureCount == 0, $"{run.FailureCount} of 300 programs failed:\n" + string.Join("\n\n", run.Failures));
        Assert.True(run.Passed + run.Skipped >= 300, $"only {run.Passed + run.Skipped} programs were checked");
        Assert.True(run.Skipped <= 10, $"{run.Skipped} of 300 programs were skipped");
    }

    [Fact]
    public void The_autograd_oracle_differentiates_with_torchsharp_not_with_our_rules()
    {
        // A program whose forward evaluation by the interpreter is pure torch: the gradient leaves come back from
        // torch.autograd.grad with a grad_fn chain; a planted bug in our rules would not move them (see the planted-bug test).
        var p = ProgramGen.FromSeed(3);
        var weights = ProgramOracleKit.Weights(p, p.Seed);
        var (value, grad) = TorchTerms.ValueAndGrad(p, p.Inputs(), weights);
        var expected = ProgramOracleKit.Project(p, ProgramOracleKit.Call(p.Function.Compile(), p.Inputs()), weights);
        Assert.Equal(expected, value, 9);
        Assert.Equal(p.Layout.Flatten(p.Inputs()[0]).Length, grad.Length);
    }
}

/// <summary>A wrong JVP rule is caught by the autograd oracle: the oracle does not share our rules (runs alone: it changes the table).</summary>
[Collection(nameof(TorchPlantedBugCollection))]
public class TorchPlantedBugTests
{
    [Fact]
    public void A_wrong_JVP_rule_makes_the_autograd_oracle_fail_and_the_torch_vs_cpu_oracle_pass()
    {
        var original = Prims.Sin.Jvp!;
        try
        {
            Prims.Sin.Jvp = (c, t) => original(c, t) is { } d ? d * 1.001 : null;
            var withSin = Enumerable.Range(0, 400).Select(s => ProgramGen.FromSeed(s)).Where(p => p.ToCSharp().Contains("Sin(")).Take(60).ToList();
            Assert.Contains(withSin, p => TorchOracles.Autograd.Check(p).Verdict == Verdict.Fail);
            // the Torch backend lowers the same (wrong) gradient graph as the CPU: that oracle cannot see this bug
            Assert.All(withSin.Take(10), p => Assert.True(TorchOracles.TorchVsCpu.Check(p).Ok));
        }
        finally { Prims.Sin.Jvp = original; }
    }
}

/// <summary>Runs alone: it changes a rule of the primitive table for its duration.</summary>
[CollectionDefinition(nameof(TorchPlantedBugCollection), DisableParallelization = true)]
public class TorchPlantedBugCollection;

/// <summary>
/// The long run of the Torch oracles: <c>FAD_FUZZ_PROGRAMS=10000 dotnet test -c Release Properties/Functional.AD.Torch.Properties --filter Category=Fuzz</c>
/// (<c>FAD_FUZZ_SEED</c>, <c>FAD_FUZZ_MAX_SIZE</c> and <c>FAD_FUZZ_ORACLES</c> as in the core's <c>FuzzLongRun</c>).
/// Without <c>FAD_FUZZ_PROGRAMS</c> it is skipped (<see cref="LongFuzzFactAttribute"/>). libtorch runs on one thread (tiny tensors; the machine is shared).
/// </summary>
public class TorchFuzzLongRun(ITestOutputHelper output)
{
    [LongFuzzFact]
    [Trait("Category", "Fuzz")]
    public void Torch_oracles_hold_on_FAD_FUZZ_PROGRAMS_random_programs()
    {
        torch.set_num_threads(1);
        TorchOracles.Register();
        var r = Fuzzer.LongRun(TorchOracles.All, "Fuzz report (Torch oracles)", "fuzz-report-torch.md", output.WriteLine)!.Value;
        Assert.True(r.Ok, r.Report);
    }
}
