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
    public static IEnumerable<object[]> Cases => DTypeCases.Cases;

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_primitive_gives_its_declared_dtype_and_the_float64_values_over_its_dtypes(string name, DType d)
    {
        var (p, m, arity, reduction) = DTypeCases.Checked().Single(c => c.P.Name == name);
        var shapes = Enumerable.Range(0, arity).Select(i => i == 1 && arity == 2 ? new[] { 5 } : new[] { 3, 5 }).ToArray();
        var xs = Enumerable.Range(0, arity).Select(i => DTypeCases.Input(d, 31 * i + (int)d, shapes[i])).ToArray();
        var f = DTypeCases.Lambda(m, arity, reduction);
        var eager = (Tensor)f.Compile().DynamicInvoke(xs)!;
        var declared = p.Gives(d);
        Assert.True(declared == eager.DType, $"{name} on {DTypes.Name(d)}: the table says {DTypes.Name(declared)}, the kernel gives {DTypes.Name(eager.DType)}");
        // the oracle: the same primitive on the float64 values, converted as AsType converts (bools: non-zero)
        var wide = (Tensor)f.Compile().DynamicInvoke(xs.Select(x => x.AsType(DType.Float64)).ToArray<object>())!;
        var want = wide.DType == declared ? wide : wide.AsType(declared);
        if (declared == DType.Bool) want = wide.DType == DType.Bool ? wide : wide.AsType(DType.Bool);
        DTypeCases.Close(want, eager, declared, $"{name} on {DTypes.Name(d)}");
        var jitted = (Tensor)JitTests.JitAny(f).DynamicInvoke(xs)!;
        Assert.Equal(eager.DType, jitted.DType);
        // exact for integers, bools and halves (the jit runs their eager kernels); float32 results of integer operands
        // within float32's tolerance (the eager kernels are TensorPrimitives', the jit's MathF)
        DTypeCases.Close(eager, jitted, declared, $"{name} on {DTypes.Name(d)}, jit");
    }

    public static IEnumerable<object[]> MoveCases => DTypeCases.MoveCases;

    /// <summary>Every primitive that moves elements moves integers, bools and halves exactly: eagerly and in the jit.</summary>
    [Theory]
    [MemberData(nameof(MoveCases))]
    public void Every_move_commutes_with_conversion_to_each_dtype(string name, DType d)
    {
        var (spec, wide, typed) = DTypeCases.MoveInputs(name, d);
        var want = DTypeCases.MoveOracle(spec, wide, d);
        var eager = (Tensor)spec.Function.Compile().DynamicInvoke(typed.Cast<object>().ToArray())!;
        Assert.Equal(d, eager.DType);
        Assert.Equal(want.Shape, eager.Shape);
        Assert.Equal(want.ToDoubleArray(), eager.ToDoubleArray());
        var jitted = (Tensor)JitTests.JitAny(spec.Function).DynamicInvoke(typed.Cast<object>().ToArray())!;
        Assert.Equal(d, jitted.DType);
        Assert.Equal(want.ToDoubleArray(), jitted.ToDoubleArray());
    }

    public static IEnumerable<object[]> ProductCases => DTypeCases.ProductCases;

    /// <summary>Products of integers are exact; of halves, the float32 product rounded once (within an ulp of the float64 one).</summary>
    [Theory]
    [MemberData(nameof(ProductCases))]
    public void Every_product_computes_over_integers_exactly_and_over_halves_in_float32(string name, DType d)
    {
        var (f, a, b, want) = DTypeCases.Product(name, d);
        var eager = f.Compile()(a, b);
        Assert.Equal(d, eager.DType);
        DTypeCases.Close(want, eager, d, $"{name} on {DTypes.Name(d)}");
        var jitted = Ad.Jit(f)(a, b);
        Assert.Equal(d, jitted.DType);
        DTypeCases.Close(want, jitted, d, $"{name} on {DTypes.Name(d)}, jit");
    }
}
