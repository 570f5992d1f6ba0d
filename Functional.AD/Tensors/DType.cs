namespace Functional.AD;

/// <summary>
/// The element type of a <see cref="Tensor"/>. Only IEEE floating point types exist; integer data
/// (indices, masks) is held in floating tensors, as integral values.
/// </summary>
/// <example><code>
/// var a = Np.Ones([2]);                          // Float32, the default
/// var b = Np.Ones([2]).AsType(DType.Float64);
/// var c = a + b;                                 // Float64: the wider dtype wins
/// </code></example>
public enum DType
{
    /// <summary>IEEE 754 binary32 (<see cref="float"/>); the default, as in JAX.</summary>
    Float32,

    /// <summary>IEEE 754 binary64 (<see cref="double"/>).</summary>
    Float64,
}

/// <summary>Helpers on <see cref="DType"/>: names and JAX's promotion lattice.</summary>
/// <example><code>
/// DTypes.Name(DType.Float64);                    // "float64"
/// DTypes.ItemSize(DType.Float32);                // 4
/// </code></example>
public static class DTypes
{
    /// <summary>The numpy name of a dtype: <c>float32</c> or <c>float64</c>.</summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns>The lower-case name, e.g. <c>DTypes.Name(DType.Float64) == "float64"</c>.</returns>
    public static string Name(DType dtype) => dtype == DType.Float64 ? "float64" : "float32";

    /// <summary>
    /// JAX's result type of a binary operation: a weak operand takes the other's dtype; otherwise the
    /// wider of the two wins (<c>float32 op float64 = float64</c>). The result is weak only if both are.
    /// Example: <c>Promote(Float32, false, Float64, true) == (Float32, false)</c>.
    /// </summary>
    /// <param name="a">Dtype of the first operand.</param>
    /// <param name="aWeak">Whether the first operand is weakly typed.</param>
    /// <param name="b">Dtype of the second operand.</param>
    /// <param name="bWeak">Whether the second operand is weakly typed.</param>
    /// <returns>The promoted dtype and weak flag.</returns>
    public static (DType DType, bool Weak) Promote(DType a, bool aWeak, DType b, bool bWeak)
    {
        if (aWeak && !bWeak) return (b, false);
        if (bWeak && !aWeak) return (a, false);
        return (a == DType.Float64 || b == DType.Float64 ? DType.Float64 : DType.Float32, aWeak && bWeak);
    }

    /// <summary>The size of one element in bytes: 4 for <see cref="DType.Float32"/>, 8 for <see cref="DType.Float64"/>.</summary>
    /// <param name="dtype">The dtype.</param>
    /// <returns>Bytes per element.</returns>
    public static int ItemSize(DType dtype) => dtype == DType.Float64 ? 8 : 4;

    internal static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(double) ? DType.Float64
        : typeof(T) == typeof(float) ? DType.Float32
        : throw new NotSupportedException($"element type {typeof(T).Name} is not a tensor dtype (float or double)");

    internal static Type ClrType(DType dtype) => dtype == DType.Float64 ? typeof(double) : typeof(float);
}
