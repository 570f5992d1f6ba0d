using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing.Programs;
using Xunit;
using Xunit.Abstractions;

namespace Functional.AD.Properties;

/// <summary>The generator of random programs: well-typed, inside every domain, deep enough, deterministic, shrinkable.</summary>
public class ProgramGenTests(ITestOutputHelper output)
{
    static void CheckRuns(RandomProgram p)
    {
        var outs = ProgramOracleKit.Call(p.Function.Compile(preferInterpretation: true), p.Inputs());
        object?[] values = p.Outputs.Count == 1 ? [outs] : [outs!.GetType().GetField("Item1")!.GetValue(outs), outs.GetType().GetField("Item2")!.GetValue(outs)];
        for (int i = 0; i < values.Length; i++)
        {
            var t = p.Outputs[i];
            if (t.IsDouble) Assert.True(values[i] is double d && double.IsFinite(d), $"output {i} is not a finite double:\n{p}");
            else
            {
                var v = Assert.IsType<Tensor>(values[i]);
                Assert.True(v.Shape.SequenceEqual(t.Shape!), $"output {i} has shape [{string.Join(", ", v.Shape)}], the generator tracked [{string.Join(", ", t.Shape!)}]:\n{p}");
                Assert.True(v.DType == DType.Float64, $"output {i} is {v.DType}, not float64 (finite differences need float64):\n{p}");
                Assert.True(v.ToDoubleArray().All(double.IsFinite), $"output {i} is not finite:\n{p}");
            }
        }
    }

    [Fact]
    public void Generated_programs_are_well_typed_float64_and_finite()
    {
        for (int seed = 0; seed < 500; seed++) CheckRuns(ProgramGen.FromSeed(seed));
    }

    [Fact]
    public void Every_shrink_candidate_is_well_typed_and_smaller()
    {
        for (int seed = 0; seed < 60; seed++)
        {
            var p = ProgramGen.FromSeed(seed);
            foreach (var q in ProgramGen.Shrink(p).Take(40))
            {
                // each step removes a Np.Let (its body may then grow by the value substituted) or makes the program smaller
                Assert.True(Lets(q) < Lets(p) || Lets(q) == Lets(p) && q.Size < p.Size, $"a shrink candidate is not smaller: {p.Size} to {q.Size} nodes");
                CheckRuns(q);
            }
        }
    }

    static int Lets(RandomProgram p)
    {
        static int Count(Term t) => (t.Name == "Let" ? 1 : 0) + t.Operands.Sum(Count);
        return p.Outputs.Sum(Count);
    }

    [Fact]
    public void Replaying_a_seed_gives_the_same_program_and_inputs()
    {
        for (int seed = 0; seed < 50; seed++)
            Assert.Equal(ProgramGen.FromSeed(seed).ToString(), ProgramGen.FromSeed(seed).ToString());
    }

    [Fact]
    public void Programs_reach_depth_8_and_use_every_spec_and_construct_of_the_generator()
    {
        var programs = Enumerable.Range(0, 3000).Select(s => ProgramGen.FromSeed(s)).ToList();
        var depths = programs.GroupBy(p => Math.Min(p.Depth, 12)).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}");
        output.WriteLine("depth histogram (nodes on the longest path): " + string.Join(", ", depths));
        Assert.Contains(programs, p => p.Depth >= 8);
        var counts = new Dictionary<string, int>();
        void Walk(Term t) { counts[t.Name] = counts.GetValueOrDefault(t.Name) + 1; foreach (var a in t.Operands) Walk(a); }
        foreach (var p in programs) foreach (var o in p.Outputs) Walk(o);
        var used = counts.Keys.ToHashSet();
        output.WriteLine($"mean size {programs.Average(p => p.Size):F2} nodes; programs with a loop: {programs.Count(p => p.Outputs.Any(HasLoop))}");
        output.WriteLine("op counts: " + string.Join(", ", counts.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key}: {kv.Value}")));
        // every spec the generator takes from the table, and every construct of its own
        var constructs = typeof(Term).Assembly.GetType("Functional.AD.Testing.Programs.Op")!.GetEnumNames().Where(n => n is not ("User" or "Spec"));
        var expected = SpecOp.All.Select(o => o.Name).Concat(constructs);
        Assert.Empty(expected.Except(used));
        Assert.Contains(programs, p => p.Outputs.Count == 2);
        Assert.Contains(programs, p => p.Layout.HasFixed);
        Assert.All(Enum.GetValues<ArgKind>(), k => Assert.Contains(programs, p => p.Layout.Kind == k));
    }

    static bool HasLoop(Term t) => t.Name is "Fold" or "Scan" or "While" || t.Operands.Any(HasLoop);

    [Fact]
    public void A_users_function_is_called_inside_random_programs()
    {
        var softsign = new UserFunction("softsign", x => x / (Np.Abs(x) + 1), MaxArgument: 1000, Bound: b => 1);
        var options = new ProgramOptions { UserFunctions = [softsign] };
        var programs = Enumerable.Range(0, 200).Select(s => ProgramGen.FromSeed(s, options)).Where(p => p.ToCSharp().Contains("softsign.Invoke")).ToList();
        Assert.NotEmpty(programs);
        foreach (var p in programs.Take(40)) Assert.True(Oracles.Gradient.Check(p).Ok, Oracles.Gradient.Check(p).Report);
    }
}

/// <summary>The generator takes its operations from the spec table: families, domains, double forms and bounds are read from the spec lines.</summary>
public class SpecOpTests(ITestOutputHelper output)
{
    static Testing.PrimitiveSpec Line(string name, System.Linq.Expressions.LambdaExpression f, Func<DType, FsCheck.Gen<Tensor[]>> inputs) =>
        new() { Name = name, Function = f, Inputs = inputs };

    static FsCheck.Gen<Tensor[]> One(DType t, Testing.Domain d) => Testing.Gens.Tensor(t, d).Select(x => new[] { x });

    [Fact]
    public void The_generator_uses_every_differentiable_spec_of_the_table()
    {
        foreach (var o in SpecOp.All) output.WriteLine(o.ToString());
        var names = SpecOp.All.Select(o => o.Name).ToHashSet();
        foreach (var n in new[] { "Neg", "Exp", "Log", "Tanh", "Sin", "Cos", "Sqrt", "Abs", "Sigmoid", "Softplus", "Relu", "Add", "Sub", "Mul", "Div", "Pow", "Maximum", "Minimum", "Where", "Sum", "Mean", "Max", "LogSumExp", "Softmax", "LogSoftmax" })
            Assert.Contains(n, names);
        // not differentiable (comparisons, sign, indices), reverse-only, or the loops (random programs build their own)
        foreach (var n in new[] { "Sign", "Greater", "Argmax", "Argsort", "TopK(indices)", "CustomVjp", "Fold", "While" })
            Assert.DoesNotContain(n, names);
        // every other line joins as a fixed-shape operation: products, reshapes, indexing, contractions, cumulative ops
        foreach (var n in new[] { "Dot", "MatMul", "Reshape", "Take", "Cumsum", "x[i]", "x.At(i).Set(v)", "DynamicSlice", "TakeAlongAxis", "Einsum(bmm)", "TensorDot", "Outer", "Kron", "Var(axes: 0, 1, ddof: 1)", "Norm", "Squeeze", "ExpandDims", "Pad", "Tile", "Repeat", "Roll", "MoveAxis", "SwapAxes", "Diag(vector)", "Triu(k)", "Split(indices)[1]", "TopK" })
            Assert.Equal(Testing.SpecFamily.FixedShapes, SpecOp.All.Single(o => o.Name == n).Family);
        // every line that is not fuzzed says why (Fuzzed = false) or cannot be differentiated twice in both modes
        var left = Testing.Specs.All.Where(sp => sp.Fuzzed && sp.FiniteDifferences && !sp.ReverseOnly && sp.SecondOrder && !names.Contains(sp.Name))
            .Where(sp => SpecOp.All.All(o => o.Spec != sp)).Select(sp => sp.Name).ToList();
        output.WriteLine("left out by their family's rule: " + string.Join(", ", left));
        // one per method for reductions: the generator picks axes and keepdims itself
        Assert.DoesNotContain("Sum(axis: 0)", names);
    }

    [Fact]
    public void Domains_and_double_forms_are_read_from_the_spec_lines()
    {
        SpecOp Op(string name) => SpecOp.All.Single(o => o.Name == name);
        Assert.Equal([Testing.Domain.Positive], Op("Log").Domains);
        Assert.Equal([Testing.Domain.Positive], Op("Sqrt").Domains);
        Assert.Equal([Testing.Domain.Any, Testing.Domain.AwayFromZero], Op("Div").Domains);
        Assert.Equal([Testing.Domain.Positive, Testing.Domain.Any], Op("Pow").Domains);
        Assert.Equal([Testing.Domain.Any], Op("Abs").Domains);
        Assert.Equal(Math.Tanh(0.3), (double)Op("Tanh").DoubleFunction!.Compile().DynamicInvoke(0.3)!);
        Assert.Equal(ScalarMath.Softplus(-0.7), (double)Op("Softplus").DoubleFunction!.Compile().DynamicInvoke(-0.7)!);
        Assert.Equal(Math.Max(0.1, 0.2), (double)Op("Maximum").DoubleFunction!.Compile().DynamicInvoke(0.1, 0.2)!);
        Assert.Null(Op("Where").DoubleFunction);
        Assert.True(Op("Mul").TakesWeakScalar);
        Assert.False(Op("Pow").IsOperator);
    }

    [Fact]
    public void A_new_spec_line_is_a_new_operation_of_random_programs()
    {
        // spec lines as a new primitive would add them: nothing but the function and its inputs
        var log1p = SpecOp.From(Line("log1p-like", (System.Linq.Expressions.Expression<Func<Tensor, Tensor>>)(x => Np.Log(x + 1.0)), t => One(t, Testing.Domain.Positive)))!;
        Assert.Equal(Testing.SpecFamily.Elementwise, log1p.Family);
        Assert.Equal([Testing.Domain.Positive], log1p.Domains);
        Assert.Equal(Math.Log(1.5), (double)log1p.DoubleFunction!.Compile().DynamicInvoke(0.5)!, 15);
        // the bound is measured on the operand's range [1, b]: log(b + 1)
        Assert.InRange(log1p.ElementwiseBound([10]), Math.Log(11), 1.1 * Math.Log(11.0 * 1.2) + 0.01);
        var hypot = SpecOp.From(Line("hypot-like", (System.Linq.Expressions.Expression<Func<Tensor, Tensor, Tensor>>)((a, b) => Np.Sqrt(a * a + b * b)), t => Testing.Gens.BroadcastingPair(t)))!;
        Assert.Equal(Testing.SpecFamily.Elementwise, hypot.Family);
        Assert.Equal([Testing.Domain.Any, Testing.Domain.Any], hypot.Domains);
        var rowSum = SpecOp.From(Line("sum-like", (System.Linq.Expressions.Expression<Func<Tensor, Tensor>>)(x => Np.Mean(x, 0, false)), t => One(t, Testing.Domain.Any)))!;
        Assert.Equal(Testing.SpecFamily.Reduction, rowSum.Family);
        // any other function is applied to operands of its own inputs' shapes
        var centered = SpecOp.From(Line("not elementwise", (System.Linq.Expressions.Expression<Func<Tensor, Tensor>>)(x => x - Np.Mean(x, null, false)), t => Testing.Gens.Tensor([2, 3], DType.Float64, Testing.Domain.Any).Select(x => new[] { x })))!;
        Assert.Equal(Testing.SpecFamily.FixedShapes, centered.Family);
        Assert.Equal([2, 3], centered.InputShapes![0]);
        Assert.Equal([2, 3], centered.OutputShape!);
        // |x - mean(x)| <= 2b, reached by alternating signs
        Assert.InRange(centered.FixedBound([2.0]), 2.0, 4.0 * 1.2 + 0.01);
        var norm = SpecOp.From(Line("norm-like", (System.Linq.Expressions.Expression<Func<Tensor, Tensor>>)(x => Np.Sqrt(Np.Sum(x * x, 1, false))), t => Testing.Gens.Tensor([3, 4], DType.Float64, Testing.Domain.AwayFromZero).Select(x => new[] { x })))!;
        Assert.Equal([Testing.Domain.AwayFromZero], norm.Domains);
        Assert.Equal([3], norm.OutputShape!);
        // an index output is not a differentiable value
        Assert.Null(SpecOp.From(Line("argsort-like", (System.Linq.Expressions.Expression<Func<Tensor, Tensor>>)(x => Np.Argsort(x, 0)), t => Testing.Gens.Tensor([4], DType.Float64, Testing.Domain.Any).Select(x => new[] { x }))));
    }

    [Fact]
    public void Printed_programs_call_the_spec_functions()
    {
        var programs = Enumerable.Range(0, 300).Select(s => ProgramGen.FromSeed(s)).ToList();
        var text = string.Join("\n", programs.Select(p => p.ToCSharp()));
        foreach (var call in new[] { "Np.Tanh(", "Math.Tanh(", "ScalarMath.Softplus(", "Np.Pow(", "Np.Where(", "Np.Softmax(", "Np.LogSumExp(" })
            Assert.Contains(call, text);
    }
}

/// <summary>Every oracle on 500 random programs (the default run, kept short for CI; the long run is <see cref="FuzzLongRun"/>).</summary>
public class FuzzTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> OracleNames => Oracles.All.Select(o => new object[] { o.Name });


    [Theory]
    [MemberData(nameof(OracleNames))]
    public void Oracle_holds_on_500_random_programs(string name)
    {
        // the same 500 programs on every run (seeds 1,000,000 .. 1,000,499), so CI is reproducible; the long run
        // (FuzzLongRun, FAD_FUZZ_PROGRAMS) explores further seeds
        var oracle = Oracles.All.Single(o => o.Name == name);
        var run = Fuzzer.Run(oracle, 500, firstSeed: 1_000_000);
        output.WriteLine($"{name}: {run.Passed} passed, {run.Skipped} skipped ({100.0 * run.Skipped / 500:F1}%), {run.FailureCount} failed, {run.Elapsed.TotalSeconds:F1} s");
        Assert.True(run.FailureCount == 0, $"{run.FailureCount} of 500 programs failed:\n" + string.Join("\n\n", run.Failures));
        Assert.True(run.Passed + run.Skipped >= 500, $"only {run.Passed + run.Skipped} programs were checked");
        // a program is skipped only where finite differences cannot be trusted at three input draws, where the jit is
        // discontinuous within rounding, or (Vmap) where no tensor leaf can be batched: each must stay rare
        Assert.True(run.Skipped <= 15, $"{run.Skipped} of 500 programs were skipped (at most 15 may be)");
    }
}

/// <summary>A planted bug in a JVP rule is found and shrunk to a tiny program (the fuzzer's own test).</summary>
[Collection(nameof(PlantedBugCollection))]
public class PlantedBugTests(ITestOutputHelper output)
{
    [Fact]
    public void A_wrong_JVP_rule_is_found_and_shrunk_to_a_program_of_a_few_nodes()
    {
        var original = Prims.Sin.Jvp!;
        try
        {
            Prims.Sin.Jvp = (c, t) => original(c, t) is { } d ? d * 1.001 : null;
            var run = Fuzzer.Run(Oracles.Gradient, 300, firstSeed: 7, shrinkFailures: 5);
            Assert.True(run.FailureCount > 0, "the planted bug in Sin's JVP was not found");
            // the smallest of the first few failures, each shrunk
            static int Nodes(string report) => int.Parse(System.Text.RegularExpressions.Regex.Match(report, @"; (\d+) nodes").Groups[1].Value, CultureInfo.InvariantCulture);
            var shrunk = run.Failures.MinBy(Nodes)!;
            output.WriteLine(shrunk);
            Assert.Contains("Sin(", shrunk);
            var nodes = Nodes(shrunk);
            Assert.True(nodes <= 3, $"the shrunk program has {nodes} nodes:\n{shrunk}");
        }
        finally { Prims.Sin.Jvp = original; }
    }
}

/// <summary>Runs alone: it changes a rule of the primitive table for its duration.</summary>
[CollectionDefinition(nameof(PlantedBugCollection), DisableParallelization = true)]
public class PlantedBugCollection;

/// <summary>
/// The long run: <c>dotnet cake --target=Fuzz --programs=100000</c> (or <c>FAD_FUZZ_PROGRAMS=10000 dotnet test --filter Category=Fuzz</c>).
/// Without <c>FAD_FUZZ_PROGRAMS</c> it is skipped.
/// </summary>
public class FuzzLongRun(ITestOutputHelper output)
{
    [LongFuzzFact]
    [Trait("Category", "Fuzz")]
    public void Every_oracle_holds_on_FAD_FUZZ_PROGRAMS_random_programs()
    {
        var r = Fuzzer.LongRun(Oracles.All, "Fuzz report", "fuzz-report.md", output.WriteLine)!.Value;
        Assert.True(r.Ok, r.Report);
        // the oracles check almost every program: at most 5% skipped by any of them (Vmap included)
        Assert.All(r.Runs, run => Assert.True(run.Skipped <= 0.05 * run.Programs, $"{run.Oracle} skipped {run.Skipped} of {run.Programs} programs"));
    }
}
