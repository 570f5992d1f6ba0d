using Functional.AD.Properties;
using Functional.AD.Torch;
using Xunit;

namespace Functional.AD.Torch.Properties;

/// <summary>
/// The dtype column on the Torch backend: every elementwise primitive and reduction, over every dtype it takes beyond
/// float32 and float64, gives on libtorch the CPU backend's dtype and values (integers and bools exactly; halves
/// within their tolerance, libtorch keeping float32 inside some kernels).
/// </summary>
public class DTypeColumnTorchTests
{
    public static IEnumerable<object[]> Cases => DTypeCases.Cases;

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_primitive_on_torch_equals_the_cpu_over_its_dtypes(string name, DType d)
    {
        var (p, m, arity, reduction) = DTypeCases.Checked().Single(c => c.P.Name == name);
        var xs = Enumerable.Range(0, arity).Select(i => DTypeCases.Input(d, 31 * i + (int)d, i == 1 && arity == 2 ? [5] : [3, 5])).ToArray();
        var f = DTypeCases.Lambda(m, arity, reduction);
        var cpu = (Tensor)f.Compile().DynamicInvoke(xs)!;
        var onTorch = ((Tensor)SpecEqualityTests.JitTorch(f, TorchBackend.Cpu).DynamicInvoke(xs)!).ToHost();
        Assert.Equal(cpu.DType, onTorch.DType);
        // halves: libtorch may compute a whole kernel in float32 and round once, where the CPU rounds per operation
        var tolerance = DTypes.IsHalf(cpu.DType) ? DType.BFloat16 : cpu.DType;
        DTypeCases.Close(cpu, onTorch, tolerance, $"{name} on {DTypes.Name(d)}, Torch");
    }

    public static IEnumerable<object[]> MoveCases => DTypeCases.MoveCases;

    /// <summary>Every primitive that moves elements moves integers, bools and halves exactly on Torch.</summary>
    [Theory]
    [MemberData(nameof(MoveCases))]
    public void Every_move_on_torch_commutes_with_conversion_to_each_dtype(string name, DType d)
    {
        var (spec, wide, typed) = DTypeCases.MoveInputs(name, d);
        var want = DTypeCases.MoveOracle(spec, wide, d);
        var onTorch = ((Tensor)SpecEqualityTests.JitTorch(spec.Function, TorchBackend.Cpu).DynamicInvoke(typed.Cast<object>().ToArray())!).ToHost();
        Assert.Equal(d, onTorch.DType);
        Assert.Equal(want.Shape, onTorch.Shape);
        Assert.Equal(want.ToDoubleArray(), onTorch.ToDoubleArray());
    }

    public static IEnumerable<object[]> ProductCases => DTypeCases.ProductCases;

    [Theory]
    [MemberData(nameof(ProductCases))]
    public void Every_product_on_torch_computes_over_integers_exactly_and_over_halves_closely(string name, DType d)
    {
        var (f, a, b, want) = DTypeCases.Product(name, d);
        var onTorch = f.JitTorch(TorchBackend.Cpu)(a, b).ToHost();
        Assert.Equal(d, onTorch.DType);
        DTypeCases.Close(want, onTorch, DTypes.IsHalf(d) ? DType.BFloat16 : d, $"{name} on {DTypes.Name(d)}, Torch");
    }
}
