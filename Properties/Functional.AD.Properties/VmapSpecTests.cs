using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// Vmap over every spec of the table, with random in and out axes: <c>Vmap(f)(xs)</c> must equal stacking
/// <c>f(xs[i])</c> along the out axis (the oracle is a loop of the plain function).
/// </summary>
public class VmapSpecTests
{
    public static IEnumerable<object[]> AllSpecs => Specs.All.Select(s => new object[] { s.Name });

    /// <summary>The specs whose tensors never become C# scalars, so that Vmap batches them (the others are refused: <see cref="CheckSpec"/>).</summary>
    public static IEnumerable<object[]> BatchableSpecs => Specs.All.Where(s => !UsesScalars(s)).Select(s => new object[] { s.Name });

    static PrimitiveSpec Spec(string name) => Specs.All.Single(s => s.Name == name);

    /// <summary>Example i of a batch built from one generated input: values scaled by 1 + i/4 (which keeps every
    /// spec's domain: signs, distinctness, gaps), or shifted class indices for OneHot.</summary>
    static Tensor Example(PrimitiveSpec s, Tensor x, int i) => s.Name == "OneHot"
        ? new Tensor(x.ToDoubleArray().Select(v => (v + i) % 4).ToArray(), x.Shape.ToArray()).AsType(x.DType)
        : Np.Mul(x, new Tensor(1 + 0.25 * i));

    /// <summary>True when the spec turns its tensors into C# scalars (a batch cannot pass through those).</summary>
    internal static bool UsesScalars(PrimitiveSpec s) =>
        Reader.Read(s.Function).Graph.Nodes.Any(n => !n.IsConst && !n.IsInput && n.Kind is Kind.Double or Kind.Float or Kind.Bool);

    /// <summary><c>Ad.Jit</c> of any lambda (by reflection over its arity).</summary>
    internal static Delegate JitAny(LambdaExpression f)
    {
        var types = f.Type.GetGenericArguments();
        var m = typeof(Ad).GetMethods().Single(m => m.Name == nameof(Ad.Jit) && m.IsGenericMethodDefinition && m.GetGenericArguments().Length == types.Length);
        return (Delegate)m.MakeGenericMethod(types).Invoke(null, [f])!;
    }

    static void CheckSpec(PrimitiveSpec spec, DType dtype, int cases, double rtol, double atol, bool jit = false)
    {
        var plain = spec.Function.Compile();
        bool scalars = UsesScalars(spec);
        var gen = spec.Inputs(dtype).SelectMany(x => Gen.Choose(1, jit ? 19 : 3).SelectMany(b => Gen.Choose(0, 1 << 30).Select(seed => (x, b, seed))));
        var property = Prop.ForAll(Arb.From(gen), c =>
        {
            var (x0, batch, seed) = c;
            var rng = new Random(seed);
            int n = x0.Length;
            var inAxes = new int?[n];
            for (int j = 0; j < n; j++)
                inAxes[j] = rng.Next(3) == 0 ? null : rng.Next(-(x0[j].Rank + 1), x0[j].Rank + 1);
            if (inAxes.All(a => a is null)) inAxes[rng.Next(n)] = 0;
            var examples = Enumerable.Range(0, batch).Select(i => x0.Select((x, j) => inAxes[j] is null ? x : Example(spec, x, i)).ToArray()).ToArray();
            var stacked = x0.Select((x, j) => inAxes[j] is int a ? Np.Stack(examples.Select(e => e[j]).ToArray(), a) : x).ToArray();
            var delegateType = spec.Function.Type;
            // a spec whose tensors become C# scalars (double code, conditions) is batched too: those scalars are carried
            // per example; only one that C# needs as a single value (a loop count) is refused, naming why
            if (scalars)
            {
                try { Ad.VmapCore(spec.Function, delegateType, inAxes, null, null); }
                catch (VmapException ex) { return ex.Message.Contains("cannot carry a batch axis").Label(ex.Message); }
            }
            var outs = examples.Select(e => (Tensor)plain.DynamicInvoke(e.Cast<object>().ToArray())!).ToArray();
            int outRank = outs[0].Rank;
            int outAxis = rng.Next(-(outRank + 1), outRank + 1);
            var expected = Np.Stack(outs, outAxis);
            var vm = Ad.VmapCore(spec.Function, delegateType, inAxes, [outAxis], null);
            var run = jit ? JitAny(vm) : vm.Compile(preferInterpretation: true);
            var actual = (Tensor)run.DynamicInvoke(stacked.Cast<object>().ToArray())!;
            string what = $"inAxes [{string.Join(", ", inAxes.Select(a => a?.ToString() ?? "null"))}], outAxis {outAxis}, batch {batch}, inputs {string.Join(", ", x0.Select(x => x.Aval))}";
            if (!actual.Shape.SequenceEqual(expected.Shape)) return false.Label($"{what}: shape {actual.Aval} expected {expected.Aval}");
            if (actual.DType != expected.DType) return false.Label($"{what}: dtype {actual.DType} expected {expected.DType}");
            return actual.AllClose(expected, rtol, atol).Label($"{what}:\n{actual}\nexpected\n{expected}\n{Ad.Show(vm)}");
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(cases).WithQuietOnSuccess(true), property);
    }

    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void Vmap_equals_stacking_a_loop_float64(string name) => CheckSpec(Spec(name), DType.Float64, 15, 1e-10, 1e-12);

    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void Vmap_equals_stacking_a_loop_float32(string name) => CheckSpec(Spec(name), DType.Float32, 6, 1e-4, 1e-5);

    /// <summary>The jit of a vmapped spec (batches up to 19: the batch loop's vector lanes and their padded tail) against the loop.</summary>
    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void Jit_of_Vmap_equals_stacking_a_loop(string name)
    {
        CheckSpec(Spec(name), DType.Float64, 4, 1e-10, 1e-12, jit: true);
        CheckSpec(Spec(name), DType.Float32, 4, 1e-4, 1e-5, jit: true);
    }

    [Theory]
    [MemberData(nameof(BatchableSpecs))]
    public void Vmap_of_the_gradient_equals_a_loop_of_gradients(string name)
    {
        // per-example gradients of the spec's random projection, against SpecCheck's gradient example by example
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        var grad = check.Gradient;   // (xs tuple, w) => xs tuple
        var gen = spec.Inputs(DType.Float64).SelectMany(x => Gen.Choose(0, 1 << 30).Select(seed => (x, seed)));
        var property = Prop.ForAll(Arb.From(gen), c =>
        {
            var (x0, seed) = c;
            const int batch = 3;
            var examples = Enumerable.Range(0, batch).Select(i => x0.Select(x => Example(spec, x, i)).ToArray()).ToArray();
            var w = Gens.Weights(check.Evaluate(x0).Shape, DType.Float64, seed);
            var loop = examples.Select(e => check.GradientAt(e, w)).ToArray();
            var vm = Ad.VmapCore(grad, grad.Type, [0, null], null, null);
            var tupleType = grad.Parameters[0].Type;
            var packed = Activator.CreateInstance(tupleType, Enumerable.Range(0, x0.Length).Select(j => (object)Np.Stack(examples.Select(e => e[j]).ToArray(), 0)).ToArray())!;
            var result = vm.Compile(preferInterpretation: true).DynamicInvoke(packed, w)!;
            for (int j = 0; j < x0.Length; j++)
            {
                var got = (Tensor)tupleType.GetField("Item" + (j + 1))!.GetValue(result)!;
                var want = Np.Stack(loop.Select(l => l[j]).ToArray(), 0);
                if (!got.AllClose(want, 1e-9, 1e-12)) return false.Label($"gradient {j}: {got}\nexpected {want}\n{Ad.Show(vm)}");
            }
            return true.ToProperty();
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(5).WithQuietOnSuccess(true), property);
    }
}
