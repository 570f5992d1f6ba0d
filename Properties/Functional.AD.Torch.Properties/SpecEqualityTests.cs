using System.Linq.Expressions;
using System.Reflection;
using FsCheck;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;

namespace Functional.AD.Torch.Properties;

/// <summary>The Torch backend against the CPU backend (eager <c>Compile()</c>), for every spec, in float32 and float64, values and gradients.</summary>
public class SpecEqualityTests
{
    public static IEnumerable<object[]> AllSpecs => Specs.All.Select(s => new object[] { s.Name });

    static PrimitiveSpec Spec(string name) => Specs.All.Single(s => s.Name == name);

    [Fact]
    public void Every_primitive_of_the_table_has_a_torch_lowering()
    {
        var missing = Prims.All.Where(p => !Lowerings.Table.ContainsKey(p)).Select(p => p.Name).ToList();
        Assert.True(missing.Count == 0, "Primitives with no Torch lowering: " + string.Join(", ", missing));
    }

    internal static Delegate JitTorch(LambdaExpression f, TorchBackend backend)
    {
        var jit = typeof(TorchJit).GetMethod(nameof(TorchJit.Jit))!.MakeGenericMethod(f.Type);
        return (Delegate)jit.Invoke(null, [f, backend, Array.Empty<int>()])!;
    }

    internal static object? Call(Delegate d, params object?[] args)
    {
        try { return d.DynamicInvoke(args); }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    static object Pack(Tensor[] xs)
    {
        var t = xs.Length switch { 1 => typeof(ValueTuple<Tensor>), 2 => typeof(ValueTuple<Tensor, Tensor>), _ => typeof(ValueTuple<Tensor, Tensor, Tensor>) };
        return Activator.CreateInstance(t, xs)!;
    }

    static Tensor[] Unpack(object tuple) =>
        tuple.GetType().GetFields().OrderBy(f => f.Name).Select(f => (Tensor)f.GetValue(tuple)!).ToArray();

    internal static string Close(string what, Tensor torch, Tensor cpu, DType dt)
    {
        if (torch.DType != cpu.DType) return $"{what}: dtype {torch.DType} on Torch, {cpu.DType} on CPU";
        if (torch.IsWeak != cpu.IsWeak) return $"{what}: weak {torch.IsWeak} on Torch, {cpu.IsWeak} on CPU";
        if (!torch.Shape.SequenceEqual(cpu.Shape)) return $"{what}: shape {torch.Aval} on Torch, {cpu.Aval} on CPU";
        var (rtol, atol) = dt == DType.Float64 ? (1e-9, 1e-12) : (2e-4, 2e-5);
        var h = torch.ToHost();
        return h.AllClose(cpu, rtol, atol) ? "" : $"{what}: Torch {h} vs CPU {cpu}";
    }

    [Theory]
    [MemberData(nameof(AllSpecs))]
    public void Torch_backend_equals_cpu_backend_values_and_gradients(string name)
    {
        var spec = Spec(name);
        var check = new SpecCheck(spec);
        var value = JitTorch(spec.Function, TorchBackend.Cpu);
        var cpuValue = spec.Function.Compile();
        var grad = JitTorch(check.Gradient, TorchBackend.Cpu);
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            int cases = 0;
            var property = Prop.ForAll(Arb.From(spec.Inputs(dt)), xs =>
            {
                cases++;
                var problems = new List<string>();
                var expected = (Tensor)Call(cpuValue, xs)!;
                problems.Add(Close("value", (Tensor)Call(value, xs)!, expected, dt));
                var w = Gens.Weights(expected.Shape, dt, cases);
                var gCpu = check.GradientAt(xs, w);
                var gTorch = Unpack(Call(grad, Pack(xs), w)!);
                for (int i = 0; i < gCpu.Length; i++) problems.Add(Close($"gradient {i}", gTorch[i], gCpu[i], dt));
                var bad = problems.Where(p => p != "").ToList();
                return (bad.Count == 0).Label($"{DTypes.Name(dt)} {string.Join("; ", bad)}\n{check.Describe(xs, cases)}");
            });
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(12).WithQuietOnSuccess(true), property);
            Assert.True(cases >= 12, $"only {cases} cases ran");
        }
    }
}
