using System.Linq.Expressions;
using System.Reflection;
using Xunit;

namespace Functional.AD.Properties;

/// <summary>
/// The dtype column of the primitive table, checked for every elementwise primitive and reduction over every dtype it
/// takes beyond float32 and float64 (whose properties run from the spec table): the result has the declared dtype
/// (<c>Gives</c>), its values are the float64 computation converted to that dtype (integers and bools exactly; halves
/// within one unit in their last place, the float32 computation rounding once), and the jit gives the eager values.
/// </summary>
public class DTypeColumnTests
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

    public static IEnumerable<object[]> Cases =>
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

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_primitive_gives_its_declared_dtype_and_the_float64_values_over_its_dtypes(string name, DType d)
    {
        var (p, m, arity, reduction) = Checked().Single(c => c.P.Name == name);
        var shapes = Enumerable.Range(0, arity).Select(i => i == 1 && arity == 2 ? new[] { 5 } : new[] { 3, 5 }).ToArray();
        var xs = Enumerable.Range(0, arity).Select(i => Input(d, 31 * i + (int)d, shapes[i])).ToArray();
        var f = Lambda(m, arity, reduction);
        var eager = (Tensor)f.Compile().DynamicInvoke(xs)!;
        var declared = p.Gives(d);
        Assert.True(declared == eager.DType, $"{name} on {DTypes.Name(d)}: the table says {DTypes.Name(declared)}, the kernel gives {DTypes.Name(eager.DType)}");
        // the oracle: the same primitive on the float64 values, converted as AsType converts (bools: non-zero)
        var wide = (Tensor)f.Compile().DynamicInvoke(xs.Select(x => x.AsType(DType.Float64)).ToArray<object>())!;
        var want = wide.DType == declared ? wide : wide.AsType(declared);
        if (declared == DType.Bool) want = wide.DType == DType.Bool ? wide : wide.AsType(DType.Bool);
        Close(want, eager, declared, $"{name} on {DTypes.Name(d)}");
        var jitted = (Tensor)JitTests.JitAny(f).DynamicInvoke(xs)!;
        Assert.Equal(eager.DType, jitted.DType);
        // exact for integers, bools and halves (the jit runs their eager kernels); float32 results of integer operands
        // within float32's tolerance (the eager kernels are TensorPrimitives', the jit's MathF)
        Close(eager, jitted, declared, $"{name} on {DTypes.Name(d)}, jit");
    }
}
