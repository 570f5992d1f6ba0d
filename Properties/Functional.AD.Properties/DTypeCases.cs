using System.Linq.Expressions;
using System.Reflection;
using FsCheck.Fluent;
using Functional.AD.Testing;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// The cases of the dtype-column properties (shared by the CPU and the Torch properties): every elementwise primitive
/// and reduction of the table with each dtype it takes beyond float32 and float64, inputs in every checked primitive's
/// domain, and the per-dtype tolerances.
/// </summary>
internal static class DTypeCases
{
    static readonly DType[] NewDTypes = [DType.Int32, DType.Int64, DType.Bool, DType.Float16, DType.BFloat16];

    /// <summary>The primitives with a tensor method of tensors only (elementwise) or of a tensor and an axis (reductions).</summary>
    internal static IEnumerable<(Primitive P, MethodInfo M, int Arity, bool Reduction)> Checked()
    {
        foreach (var p in Prims.All)
        {
            if (p.TensorMethod is not { } m || m.DeclaringType != typeof(Np)) continue;
            var ps = m.GetParameters();
            if (p.Elementwise && ps.All(q => q.ParameterType == typeof(Tensor))) yield return (p, m, ps.Length, false);
            else if (p.Family == PrimFamily.Reduction && ps[0].ParameterType == typeof(Tensor) && ps.Length >= 2 && ps[1].ParameterType == typeof(int?))
                yield return (p, m, 1, true);
        }
    }

    internal static IEnumerable<object[]> Cases =>
        from c in Checked()
        from d in NewDTypes
        where c.P.Accepts.Contains(d)
        select new object[] { c.P.Name, d };

    /// <summary>Inputs in every checked primitive's domain: 1 .. 5 for integers (positive, no zero divisor), random bools, 0.25 .. 3 for halves.</summary>
    internal static Tensor Input(DType d, int seed, int[] shape)
    {
        var u = Rng.Uniform(PrngKey.Create(seed), shape, 0, 1, DType.Float64).ToArray<double>();
        double[] v = d switch
        {
            DType.Int32 or DType.Int64 => u.Select(x => Math.Floor(1 + 5 * x)).ToArray(),
            DType.Bool => u.Select(x => x < 0.5 ? 0.0 : 1.0).ToArray(),
            _ => u.Select(x => 0.25 + 2.75 * x).ToArray(),
        };
        return new Tensor(v, shape).AsType(d);
    }

    internal static LambdaExpression Lambda(MethodInfo m, int arity, bool reduction)
    {
        var xs = Enumerable.Range(0, arity).Select(i => Expression.Parameter(typeof(Tensor), $"x{i}")).ToArray();
        Expression call = reduction
            ? Expression.Call(m, [xs[0], Expression.Constant(-1, typeof(int?)), .. m.GetParameters().Skip(2).Select(q => (Expression)Expression.Constant(q.DefaultValue ?? false, q.ParameterType))])
            : Expression.Call(m, xs);
        return Expression.Lambda(call, xs);
    }

    /// <summary>The tolerance of a result dtype, relative: exact for integers and bools, one half-precision ulp for halves.</summary>
    internal static double Tolerance(DType d) => d switch
    {
        DType.Float16 => 1.0 / 1024,
        DType.BFloat16 => 1.0 / 128,
        DType.Float32 => 2e-6,
        DType.Float64 => 1e-12,
        _ => 0,
    };

    internal static void Close(Tensor want, Tensor got, DType d, string what)
    {
        Assert.Equal(want.Shape, got.Shape);
        var w = want.ToDoubleArray();
        var g = got.ToDoubleArray();
        double tol = Tolerance(d);
        for (int i = 0; i < w.Length; i++)
        {
            if (double.IsNaN(w[i]) && double.IsNaN(g[i])) continue;
            Assert.True(w[i] == g[i] || Math.Abs(w[i] - g[i]) <= tol * Math.Max(1, Math.Abs(w[i])), $"{what}: element {i}: {g[i]:R}, want {w[i]:R}");
        }
    }

    /// <summary>
    /// The specs of the primitives that only move elements (transposes, reshapes, broadcasts, gathers, joins and their
    /// transposes): for them <c>f(AsType(x, d)) == AsType(f(x), d)</c> exactly, for every dtype. (<c>Lax.BroadcastTo</c> is
    /// not one: it also converts to its target aval's dtype, as the transpose of <c>SumTo</c>.)
    /// </summary>
    internal static readonly string[] MoveSpecs =
    [
        "Transpose", "Transpose(axes)", "Reshape", "ReshapeTo", "BroadcastTo(shape)", "Take", "Take(axis: 1)",
        "TakeBatched", "Concatenate", "Concatenate(axis: 1, three)", "Stack", "Stack(axis: -1)", "SplitPart", "PadPart", "Unstack", "StackPart",
    ];

    internal static IEnumerable<object[]> MoveCases =>
        from name in MoveSpecs from d in NewDTypes select new object[] { name, d };

    /// <summary>A spec's float64 inputs (a fixed draw) and the same inputs converted to <paramref name="d"/>.</summary>
    internal static (PrimitiveSpec Spec, Tensor[] Wide, Tensor[] Typed) MoveInputs(string name, DType d)
    {
        var spec = Specs.All.Single(s => s.Name == name);
        var wide = spec.Inputs(DType.Float64).Sample(8, 1)[0].Select(x => x * 3.0).ToArray();
        return (spec, wide, wide.Select(x => x.AsType(d)).ToArray());
    }

    /// <summary>The oracle of a move: the float64 result converted to <paramref name="d"/>.</summary>
    internal static Tensor MoveOracle(PrimitiveSpec spec, Tensor[] wide, DType d) =>
        ((Tensor)spec.Function.Compile().DynamicInvoke(wide.Cast<object>().ToArray())!).AsType(d);

    /// <summary>The products over each number dtype beyond float32/float64: (name, function, shapes).</summary>
    internal static readonly (string Name, Expression<Func<Tensor, Tensor, Tensor>> F, int[] A, int[] B)[] Products =
    [
        ("Dot", (a, b) => Np.Dot(a, b), [3, 4], [4, 2]),
        ("Dot (vector)", (a, b) => Np.Dot(a, b), [4], [4]),
        ("MatMul", (a, b) => Np.MatMul(a, b), [2, 3, 4], [4, 5]),
        ("DotTA", (g, b) => Lax.DotTA(g, b), [3, 2], [4, 2]),
        ("DotTB", (a, g) => Lax.DotTB(a, g), [3, 4], [3, 2]),
    ];

    internal static IEnumerable<object[]> ProductCases =>
        from i in Enumerable.Range(0, Products.Length)
        from d in new[] { DType.Int32, DType.Int64, DType.Float16, DType.BFloat16 }
        select new object[] { Products[i].Name, d };

    /// <summary>A product's inputs of dtype <paramref name="d"/> (small whole numbers, exact in every dtype) and the float64 oracle converted to d.</summary>
    internal static (Expression<Func<Tensor, Tensor, Tensor>> F, Tensor A, Tensor B, Tensor Want) Product(string name, DType d)
    {
        var (_, f, sa, sb) = Products.Single(p => p.Name == name);
        var a = Input(d, 5, sa);
        var b = Input(d, 6, sb);
        var want = f.Compile()(a.AsType(DType.Float64), b.AsType(DType.Float64)).AsType(d);
        return (f, a, b, want);
    }
}
