namespace Functional.AD;

// Diagonals (declared in Primitives/Prims.Diag.cs): Np.Diag and its transpose Lax.DiagTranspose; Np.Meshgrid, composed
// of ExpandDims, Zeros and broadcasting.
public static partial class Np
{
    /// <summary>The diagonal's length and its first (row, column) for an m × n matrix and offset k (numpy's rule: empty when k is outside).</summary>
    internal static (int L, int Row, int Col) DiagonalOf(int m, int n, int k) =>
        (k >= 0 ? Math.Max(0, Math.Min(m, n - k)) : Math.Max(0, Math.Min(m + k, n)), Math.Max(-k, 0), Math.Max(k, 0));

    /// <summary>
    /// The elements of x's flat data at <paramref name="idx"/> (-1: zero), shaped <paramref name="dims"/>: how Diag and
    /// its transpose move elements, for every dtype.
    /// </summary>
    internal static Tensor GatherFlat(Tensor x, int[] idx, int[] dims)
    {
        var flat = Concatenate([Reshape(x, [x.Size]), Eager.Fill([1], 0, x.DType, x.IsWeak)], 0);
        var at = idx.Select(i => i < 0 ? x.Size : i).ToArray();
        return Tensor.Adopt(Moves.Take(flat, 1, x.Size + 1, 1, at), Aval.Intern(dims, x.DType, x.IsWeak));
    }

    /// <summary>
    /// numpy's <c>diag</c>: a vector v gives the square matrix with v on diagonal k (above the main one for k &gt; 0,
    /// below for k &lt; 0) and zeros elsewhere; a matrix gives its diagonal k as a vector (empty when k is outside). Linear;
    /// its transpose is <see cref="Lax.DiagTranspose"/>. Every dtype. Example: <c>Diag([1, 2], 1)</c> is
    /// <c>[[0, 1, 0], [0, 0, 2], [0, 0, 0]]</c>; <c>Diag([[1, 2], [3, 4]], 0)</c> is <c>[1., 4.]</c>.
    /// </summary>
    /// <param name="x">A vector or a matrix.</param><param name="k">The diagonal: 0 the main one, positive above, negative below.</param>
    /// <returns>The matrix (from a vector of length n: n + |k| square) or the diagonal (from a matrix).</returns>
    /// <exception cref="ShapeException">x is neither a vector nor a matrix.</exception>
    public static Tensor Diag(Tensor x, int k = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank == 1)
        {
            int n = x.Dims[0], size = n + Math.Abs(k);
            var idx = Enumerable.Repeat(-1, size * size).ToArray();
            for (int i = 0; i < n; i++) idx[(i + Math.Max(-k, 0)) * size + i + Math.Max(k, 0)] = i;
            return GatherFlat(x, idx, [size, size]);
        }
        if (x.Rank == 2)
        {
            var (l, r, c) = DiagonalOf(x.Dims[0], x.Dims[1], k);
            return GatherFlat(x, Enumerable.Range(0, l).Select(i => (r + i) * x.Dims[1] + c + i).ToArray(), [l]);
        }
        throw new ShapeException($"Np.Diag(x: {x.Aval}, k: {k})", [x.Aval], "x must be a vector (rank 1, giving a matrix) or a matrix (rank 2, giving its diagonal)");
    }

    /// <summary>The maps of the pieces of a split into equal sections.</summary>
    internal static AxisMap[] SplitMaps(int sections, int axis) =>
        sections > 0 ? Enumerable.Range(0, sections).Select(i => new AxisMap(AxisMapKind.Section, axis, sections, i)).ToArray()
        : throw new ArgumentOutOfRangeException(nameof(sections), sections, $"Np.Split(x, sections: {sections}, axis: {axis}): sections must be 1 or more");

    /// <summary>The maps of the pieces of a split at indices: [0, i0), [i0, i1), ..., [last, end).</summary>
    internal static AxisMap[] SplitMaps(int[] indices, int axis)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (indices.Any(i => i < 0))
            throw new ArgumentOutOfRangeException(nameof(indices), $"Np.Split(x, indices: [{string.Join(", ", indices)}], axis: {axis}): split indices must be non-negative");
        var bounds = indices.Prepend(0).Append(int.MaxValue).ToArray();
        return Enumerable.Range(0, indices.Length + 1).Select(i => new AxisMap(AxisMapKind.Slice, axis, bounds[i], bounds[i + 1])).ToArray();
    }

    /// <summary>
    /// Splits x along an axis into <paramref name="sections"/> equal pieces (numpy's <c>split(x, sections, axis)</c>).
    /// Inside an expression write <c>Np.Split(x, 3, 0)[i]</c> with a constant i; each piece is a slice, so its
    /// derivative puts the cotangent back in place. Example: <c>Split([1, 2, 3, 4], 2, 0)</c> is <c>[[1., 2.], [3., 4.]]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="sections">The number of pieces; the axis length must divide by it.</param><param name="axis">The axis.</param>
    /// <returns>The pieces, in order.</returns>
    /// <exception cref="ShapeException">The axis is out of range, or its length does not divide into the sections.</exception>
    /// <exception cref="ArgumentOutOfRangeException">sections is not positive.</exception>
    public static Tensor[] Split(Tensor x, int sections, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        return SplitMaps(sections, axis).Select(m => Lax.AxisGather(x, [m])).ToArray();
    }

    /// <summary>
    /// Splits x along an axis at the given positions (numpy's <c>split(x, [i0, i1], axis)</c>): the pieces
    /// <c>[0, i0)</c>, <c>[i0, i1)</c>, ..., <c>[last, end)</c>, an index beyond the axis giving empty pieces.
    /// Example: <c>Split([1, 2, 3, 4, 5], new[] { 1, 3 }, 0)</c> is <c>[[1.], [2., 3.], [4., 5.]]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="indices">Non-negative split positions, ascending.</param><param name="axis">The axis.</param>
    /// <returns>indices.Length + 1 pieces.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is negative.</exception>
    public static Tensor[] Split(Tensor x, int[] indices, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        return SplitMaps(indices, axis).Select(m => Lax.AxisGather(x, [m])).ToArray();
    }

    /// <summary>
    /// Coordinate matrices from coordinate vectors (numpy's <c>meshgrid</c> for two vectors): with indexing "xy" (the
    /// default, Cartesian) both results have shape [y.Length, x.Length], X repeating x along rows and Y repeating y
    /// along columns; with "ij" (matrix) shape [x.Length, y.Length]. Each result keeps its operand's dtype. Inside an
    /// expression write <c>Np.Meshgrid(x, y, indexing)[i]</c> (indexing a constant): it is read as each vector expanded and
    /// broadcast against the other, so it differentiates, batches and runs on every backend.
    /// Example: <c>Meshgrid([1, 2, 3], [4, 5], "xy")</c> is <c>[[[1, 2, 3], [1, 2, 3]], [[4, 4, 4], [5, 5, 5]]]</c>.
    /// </summary>
    /// <param name="x">The first coordinates, a vector.</param><param name="y">The second coordinates, a vector.</param>
    /// <param name="indexing">"xy" or "ij".</param><returns>The two coordinate matrices.</returns>
    /// <exception cref="ShapeException">x or y is not a vector.</exception>
    /// <exception cref="ArgumentException">indexing is neither "xy" nor "ij".</exception>
    public static Tensor[] Meshgrid(Tensor x, Tensor y, string indexing = "xy")
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        string Call() => $"Np.Meshgrid(x: {x.Aval}, y: {y.Aval}, indexing: \"{indexing}\")";
        if (x.Rank != 1 || y.Rank != 1) throw new ShapeException(Call(), [x.Aval, y.Aval], "x and y must be vectors (rank 1)");
        bool xy = indexing switch
        {
            "xy" => true,
            "ij" => false,
            _ => throw new ArgumentException($"{Call()}: indexing must be \"xy\" or \"ij\"", nameof(indexing)),
        };
        // "xy": x varies along the columns (axis 1); "ij": along the rows (axis 0)
        var xs = ExpandDims(x, xy ? 0 : 1);
        var ys = ExpandDims(y, xy ? 1 : 0);
        // zeros of the other's shape in each one's own dtype, so each keeps its dtype
        return [Add(xs, Lax.Zeros(Aval.Intern(ys.Dims, xs.DType, xs.IsWeak))), Add(ys, Lax.Zeros(Aval.Intern(xs.Dims, ys.DType, ys.IsWeak)))];
    }
}

public static partial class Lax
{
    /// <summary>
    /// The transpose of <see cref="Np.Diag"/> at an operand of aval <paramref name="x"/>: for a vector operand, the
    /// diagonal k of the square g; for a matrix operand, zeros of the matrix's shape with the vector g on diagonal k.
    /// Example: <c>DiagTranspose([[1, 2], [3, 4]], float64[2], 0)</c> is <c>[1., 4.]</c>.
    /// </summary>
    /// <param name="g">The cotangent of Diag's result.</param><param name="x">The aval of Diag's operand.</param><param name="k">The diagonal.</param>
    /// <returns>A tensor of x's shape, in g's dtype.</returns>
    /// <exception cref="ShapeException">g is not shaped as Diag's result for x.</exception>
    public static Tensor DiagTranspose(Tensor g, Aval x, int k)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Lax.DiagTranspose(g: {g.Aval}, x: {x}, k: {k})";
        if (x.Rank == 1)
        {
            int size = x.Dims[0] + Math.Abs(k);
            if (g.Rank != 2 || g.Dims[0] != size || g.Dims[1] != size)
                throw new ShapeException(Call(), [g.Aval, x], $"g must be the {size} × {size} matrix Diag makes of a vector of length {x.Dims[0]}");
            return Np.Diag(g, k);
        }
        if (x.Rank != 2) throw new ShapeException(Call(), [g.Aval, x], "x must be a vector or a matrix");
        int m = x.Dims[0], n = x.Dims[1];
        var (l, r, c) = Np.DiagonalOf(m, n, k);
        if (g.Rank != 1 || g.Dims[0] != l)
            throw new ShapeException(Call(), [g.Aval, x], $"g must be the diagonal {k} of a {m} × {n} matrix, a vector of length {l}");
        var idx = Enumerable.Repeat(-1, m * n).ToArray();
        for (int i = 0; i < l; i++) idx[(r + i) * n + c + i] = i;
        return Np.GatherFlat(g, idx, [m, n]);
    }
}
