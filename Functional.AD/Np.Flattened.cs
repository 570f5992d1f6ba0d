namespace Functional.AD;

// numpy's axis=None spellings of the sorting and cumulative vocabulary (x flattened first, as jnp.sort(x, axis=None)
// and jnp.cumsum(x) do) and array_split's uneven sections. Each is read inside an expression as a Reshape and the
// axis form (Primitives/Prims.Flattened.cs), so every transformation and backend runs it with no rule of its own.
public static partial class Np
{
    static Tensor Flat(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Reshape(x, [-1]);
    }

    /// <summary>
    /// x sorted along <paramref name="axis"/>, or, when it is null, x flattened (row-major) and sorted (numpy's
    /// <c>sort(x, axis=None)</c>): ascending, stable, NaN last. It is the reshape to 1-D followed by
    /// <see cref="Sort(Tensor, int)"/>, so its derivative permutes the tangent.
    /// Example: <c>Sort([[3, 1], [2, 0]], null)</c> is <c>[0., 1., 2., 3.]</c>.
    /// </summary>
    /// <param name="x">Any dtype, any rank.</param><param name="axis">The axis sorted along, or null to sort every element.</param>
    /// <returns>The sorted tensor: x's shape, or 1-D of x's size when axis is null.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Sort(Tensor x, int? axis) => axis is int a ? Sort(x, a) : Sort(Flat(x), 0);

    /// <summary>
    /// The indices that sort x along <paramref name="axis"/>, or, when it is null, the indices into x flattened
    /// (row-major) that sort it (numpy's <c>argsort(x, axis=None)</c>): stable, ascending, NaN last. Its derivative is zero.
    /// Example: <c>Argsort([[3, 1], [2, 0]], null)</c> is <c>[3, 1, 2, 0]</c>.
    /// </summary>
    /// <param name="x">Any dtype, any rank.</param><param name="axis">The axis, or null for the flattened order.</param>
    /// <returns>int32 indices: x's shape, or 1-D of x's size when axis is null.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Argsort(Tensor x, int? axis) => axis is int a ? Argsort(x, a) : Argsort(Flat(x), 0);

    /// <summary>
    /// The running sum of x flattened (row-major) when <paramref name="axis"/> is null, numpy's and JAX's default
    /// <c>cumsum(x)</c>; along the axis otherwise (<see cref="Cumsum(Tensor, int, bool)"/>).
    /// Example: <c>Cumsum([[1, 2], [3, 4]])</c> is <c>[1., 3., 6., 10.]</c>.
    /// </summary>
    /// <param name="x">Any dtype.</param><param name="axis">The axis, or null to flatten first.</param>
    /// <param name="reverse">Whether to accumulate from the last element towards the first.</param>
    /// <returns>1-D of x's size when axis is null, else x's shape; x's dtype (int32 for bools).</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Cumsum(Tensor x, int? axis = null, bool reverse = false) => axis is int a ? Cumsum(x, a, reverse) : Cumsum(Flat(x), 0, reverse);

    /// <summary>
    /// The running product of x flattened (row-major) when <paramref name="axis"/> is null (numpy's <c>cumprod(x)</c>);
    /// along the axis otherwise (<see cref="Cumprod(Tensor, int, bool)"/>). Its derivative is exact at zeros.
    /// Example: <c>Cumprod([[1, 2], [3, 4]])</c> is <c>[1., 2., 6., 24.]</c>.
    /// </summary>
    /// <param name="x">Any dtype.</param><param name="axis">The axis, or null to flatten first.</param>
    /// <param name="reverse">Whether to accumulate from the last element towards the first.</param>
    /// <returns>1-D of x's size when axis is null, else x's shape; x's dtype (int32 for bools).</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Cumprod(Tensor x, int? axis = null, bool reverse = false) => axis is int a ? Cumprod(x, a, reverse) : Cumprod(Flat(x), 0, reverse);

    /// <summary>
    /// The running maximum of x flattened (row-major) when <paramref name="axis"/> is null; along the axis otherwise
    /// (<see cref="Cummax(Tensor, int, bool)"/>). Example: <c>Cummax([[1, 3], [2, 5]])</c> is <c>[1., 3., 3., 5.]</c>.
    /// </summary>
    /// <param name="x">Any dtype.</param><param name="axis">The axis, or null to flatten first.</param>
    /// <param name="reverse">Whether to accumulate from the last element towards the first.</param>
    /// <returns>1-D of x's size when axis is null, else x's shape; x's dtype.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Cummax(Tensor x, int? axis = null, bool reverse = false) => axis is int a ? Cummax(x, a, reverse) : Cummax(Flat(x), 0, reverse);

    /// <summary>
    /// The running <c>log Σ e^x</c> of x flattened (row-major) when <paramref name="axis"/> is null; along the axis
    /// otherwise (<see cref="CumLogSumExp(Tensor, int, bool)"/>). Example: <c>CumLogSumExp([[0, 0]])</c> is <c>[0., ln 2]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="axis">The axis, or null to flatten first.</param>
    /// <param name="reverse">Whether to accumulate from the last element towards the first.</param>
    /// <returns>A float tensor: 1-D of x's size when axis is null, else x's shape.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor CumLogSumExp(Tensor x, int? axis = null, bool reverse = false) => axis is int a ? CumLogSumExp(x, a, reverse) : CumLogSumExp(Flat(x), 0, reverse);

    /// <summary>The maps of the pieces of numpy's array_split into <paramref name="sections"/> nearly equal sections.</summary>
    internal static AxisMap[] ArraySplitMaps(int sections, int axis) =>
        sections > 0 ? Enumerable.Range(0, sections).Select(i => new AxisMap(AxisMapKind.UnevenSection, axis, sections, i)).ToArray()
        : throw new ArgumentOutOfRangeException(nameof(sections), sections, $"Np.ArraySplit(x, sections: {sections}, axis: {axis}): sections must be 1 or more");

    /// <summary>
    /// Splits x along an axis into <paramref name="sections"/> nearly equal pieces (numpy's <c>array_split</c>): an axis
    /// of length n gives <c>n % sections</c> pieces of length <c>n / sections + 1</c> first, then pieces of length
    /// <c>n / sections</c> (empty ones when sections exceeds n). Inside an expression write <c>Np.ArraySplit(x, 3, 0)[i]</c>
    /// with a constant i; each piece is a slice, so its derivative puts the cotangent back in place.
    /// Example: <c>ArraySplit([1, 2, 3, 4, 5], 3, 0)</c> is <c>[[1., 2.], [3., 4.], [5.]]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="sections">The number of pieces, 1 or more.</param><param name="axis">The axis.</param>
    /// <returns>The pieces, in order.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">sections is not positive.</exception>
    public static Tensor[] ArraySplit(Tensor x, int sections, int axis = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        return ArraySplitMaps(sections, axis).Select(m => Lax.AxisGather(x, [m])).ToArray();
    }

    /// <summary>
    /// Splits x along an axis at the given positions (numpy's <c>array_split(x, [i0, i1], axis)</c>, the same as
    /// <see cref="Split(Tensor, int[], int)"/>): the pieces <c>[0, i0)</c>, <c>[i0, i1)</c>, ..., <c>[last, end)</c>.
    /// Example: <c>ArraySplit([1, 2, 3, 4, 5], new[] { 1, 3 }, 0)</c> is <c>[[1.], [2., 3.], [4., 5.]]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="indices">Non-negative split positions, ascending.</param><param name="axis">The axis.</param>
    /// <returns>indices.Length + 1 pieces.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is negative.</exception>
    public static Tensor[] ArraySplit(Tensor x, int[] indices, int axis = 0) => Split(x, indices, axis);
}
