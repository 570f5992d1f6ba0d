using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;
using Xunit.Abstractions;

namespace Functional.AD.Properties;

/// <summary>Generic properties over the spec table, one run per spec (see Functional.AD.Testing.Specs).</summary>
public class PrimitiveSpecTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> AllSpecs => Specs.All.Select(s => new object[] { s.Name });

    static PrimitiveSpec Spec(string name) => Specs.All.Single(s => s.Name == name);

    /// <summary>Pseudo-primitives of the IR that user code cannot apply and that carry no arithmetic.</summary>
    static readonly Primitive[] Structural = [Prims.Input, Prims.Const, Prims.InferAval, Prims.GradSeed,
        Prims.IntToDouble /* needs a static int input, which a Tensor-only spec cannot have: ReaderTests covers it */,
        Prims.CustomVjpTangent /* made by differentiating the CustomVjp spec, never written by users */,
        Prims.CheckAval /* made by differentiating the CustomJvp spec, never written by users */,
        Prims.VmapSize,
        Prims.SegmentAval /* made by differentiating a checkpointed Scan, never written by users */,
        Prims.Proj, Prims.Pack /* the results of a multi-result node (a loop's carries and ys), read by index: made by the reader and the transformations */];

    static IEnumerable<Primitive> PrimitivesIn(Graph g) =>
        g.Nodes.SelectMany(n => new[] { n.Op }.Concat(n.Subgraphs.SelectMany(PrimitivesIn)));

    [Fact]
    public void Every_primitive_of_the_table_has_a_spec()
    {
        var covered = Specs.All.SelectMany(s => PrimitivesIn(Reader.Read(s.Function).Graph)).ToHashSet();
        // a composite (Prims.Reductions.cs) is rewritten when read: its spec lines cover what it is rewritten into
        var missing = Prims.All.Where(p => !Structural.Contains(p) && !Prims.Composites.Contains(p) && !covered.Contains(p)).Select(p => p.Name).ToList();
        Assert.True(missing.Count == 0, "Primitives with no spec: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_rule_emits_only_primitives_that_have_all_their_rules()
    {
        var problems = new List<string>();
        foreach (var s in Specs.All)
        {
            var grad = new SpecCheck(s).Gradient;
            foreach (var p in PrimitivesIn(Reader.Read(grad).Graph).Distinct())
                if (!Structural.Contains(p) && !p.HasAllRules) problems.Add($"{p.Name} (in the gradient of {s.Name}) has no JVP rule");
            // second order: differentiate the derivative again along a fixed direction
            var g2 = SecondOrder(s);
            if (g2 is null) continue;
            foreach (var p in PrimitivesIn(Reader.Read(g2).Graph).Distinct())
                if (!Structural.Contains(p) && !p.HasAllRules) problems.Add($"{p.Name} (in the second derivative of {s.Name}) has no JVP rule");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems.Distinct()));
    }

    /// <summary>d/dt of Sum(grad(x + t)) at t = 0 as an expression: exercises every rule's own rules.</summary>
    static LambdaExpression? SecondOrder(PrimitiveSpec s)
    {
        if (s.Arity != 1 || !s.FiniteDifferences || s.ReverseOnly || !s.SecondOrder) return null;
        var f = (Expression<Func<Tensor, Tensor>>)s.Function;
        Expression<Func<Tensor, Tensor>> projected = x => Np.Sum(f.Invoke(x) * f.Invoke(x), null, false);
        var g = projected.Grad();
        Expression<Func<Tensor, Tensor>> sumGrad = x => Np.Sum(g.Invoke(x), null, false);
        return sumGrad.Grad();
    }

    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void Gradient_of_a_random_projection_matches_central_differences_float64(string name)
    {
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        int cases = 0;
        var arb = Arb.From(spec.Inputs(DType.Float64).SelectMany(x => Gen.Choose(0, 1 << 30).Select(seed => (x, seed))));
        var property = Prop.ForAll(arb, c =>
        {
            cases++;
            var r = check.Check(c.x, c.seed);
            return r.Ok.Label(r + "\n" + check.Describe(c.x, c.seed));
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(100).WithQuietOnSuccess(true), property);
        Assert.True(cases >= 100, $"only {cases} cases ran");
    }

    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void Float32_gradient_agrees_with_float64(string name)
    {
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        var property = Prop.ForAll(Arb.From(spec.Inputs(DType.Float32)), x32 =>
        {
            var x64 = x32.Select(t => t.AsType(DType.Float64)).ToArray();
            var w = Gens.Weights(check.Evaluate(x64).Shape, DType.Float64, 7);
            var g32 = check.GradientAt(x32, w.AsType(DType.Float32));
            var g64 = check.GradientAt(x64, w);
            for (int i = 0; i < g32.Length; i++)
            {
                if (g32[i].DType != DType.Float32) return false.Label($"gradient {i} is {g32[i].DType}, expected float32");
                if (!g32[i].AsType(DType.Float64).AllClose(g64[i], 1e-3, 1e-4)) return false.Label($"gradient {i}: float32 {g32[i]} vs float64 {g64[i]}");
            }
            return true.ToProperty();
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20).WithQuietOnSuccess(true), property);
    }

    [Fact]
    public void Gradient_of_xor_loss_and_deep_sine_stay_within_four_times_the_function()
    {
        Expression<Func<Tensor, Tensor>> sigmoid = x => 1.0 / (1 + Np.Exp(-x));
        Expression<Func<(Tensor W1, Tensor B1, Tensor W2, Tensor B2), Tensor, Tensor, Tensor>> loss = (p, x, y) =>
            Np.Let(sigmoid.Invoke(Np.Dot(p.W2, Np.Tanh(Np.Dot(p.W1, x) + p.B1)) + p.B2), o => -y * Np.Log(o) - (1 - y) * Np.Log(1 - o));
        int f = Ad.OpCount(loss), g = Ad.OpCount(loss.Grad());
        output.WriteLine($"XOR loss: {f} ops, gradient: {g} ops");
        Assert.True(g <= 4 * f, $"gradient has {g} ops, function {f}");

        var x0 = Expression.Parameter(typeof(double), "x");
        Expression body = x0;
        for (int i = 0; i < 50; i++) body = Expression.Call(typeof(Math).GetMethod(nameof(Math.Sin), [typeof(double)])!, body);
        var deep = Expression.Lambda<Func<double, double>>(body, x0);
        int fd = Ad.OpCount(deep), gd = Ad.OpCount(deep.Grad());
        output.WriteLine($"sin^50: {fd} ops, gradient: {gd} ops");
        Assert.True(gd <= 4 * fd, $"gradient has {gd} ops, function {fd}");
        // and it is right: the chain rule by hand
        double v = 0.7, d = 1;
        for (int i = 0; i < 50; i++) { d *= Math.Cos(v); v = Math.Sin(v); }
        Assert.Equal(d, deep.Grad().Compile()(0.7), 12);
    }
}

public class MixedPrecisionTests
{
    [Fact]
    public void Gradient_has_the_dtype_of_its_argument_when_mixed_with_float64()
    {
        var c64 = new Tensor(new[] { 1.5, -2.0, 0.25 });
        Expression<Func<Tensor, Tensor>> f = x => Np.Sum(x * c64, null, false);
        var x32 = new Tensor(new float[] { 1, 2, 3 });
        var g = f.Grad().Compile()(x32);
        Assert.Equal(DType.Float32, g.DType);
        Assert.Equal(new[] { 1.5, -2.0, 0.25 }, g.ToDoubleArray());
    }
}
