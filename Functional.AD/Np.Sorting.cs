namespace Functional.AD;

// Sorting and searching (declared in Primitives/Prims.Sorting.cs). Orders are numpy's: ascending, stable (equal elements
// keep their order), NaN after every number; -0 and +0 are equal.
public static partial class Np
{
    /// <summary>The order of two keys: numbers ascending, NaN after every number (numpy's sort order).</summary>
    internal static int NanLast(double a, double b) =>
        double.IsNaN(a) ? (double.IsNaN(b) ? 0 : 1) : double.IsNaN(b) ? -1 : a < b ? -1 : a > b ? 1 : 0;

    /// <summary>x's elements as sort keys: int64 as longs (exact), everything else as doubles (exact for the other dtypes).</summary>
    static (double[]? D, long[]? L) Keys(Tensor x) =>
        x.DType == DType.Int64 ? (null, x.Span<long>().ToArray()) : (x.ToDoubleArray(), null);

    /// <summary>Lines of length n along <paramref name="axis"/>: the permutation each line is sorted by (stable).</summary>
    static int[] ArgsortLines(Tensor x, int axis, bool descending)
    {
        var (d, l) = Keys(x);
        int n = x.Dims[axis], outer = Kernels.Product(x.Dims, 0, axis), inner = Kernels.Product(x.Dims, axis + 1);
        var r = new int[x.Size];
        var idx = new int[n];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int Off(int j) => (o * n + j) * inner + i;
                for (int j = 0; j < n; j++) idx[j] = j;
                Comparison<int> cmp = d is not null
                    ? (a, b) => { int c = NanLast(d[Off(a)], d[Off(b)]); return c != 0 ? (descending ? -c : c) : a.CompareTo(b); }
                    : (a, b) => { int c = l![Off(a)].CompareTo(l[Off(b)]); return c != 0 ? (descending ? -c : c) : a.CompareTo(b); };
                Array.Sort(idx, cmp);
                for (int j = 0; j < n; j++) r[Off(j)] = idx[j];
            }
        return r;
    }

    /// <summary>
    /// The indices that sort x along <paramref name="axis"/> (numpy's <c>argsort</c>): stable, ascending, NaN last.
    /// Example: <c>Argsort([3, 1, 2])</c> is <c>[1, 2, 0]</c>. Its derivative is zero.
    /// </summary>
    /// <param name="x">Any dtype.</param><param name="axis">The axis sorted along.</param>
    /// <returns>int32 indices of x's shape.</returns><exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Argsort(Tensor x, int axis = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        int ax = Eager.Axis(axis, x.Rank, () => $"Np.Argsort(x: {x.Aval}, axis: {axis})", [x.Aval]);
        return Eager.Make(ArgsortLines(x, ax, false), x.Dims);
    }

    /// <summary>
    /// x sorted along <paramref name="axis"/> (numpy's <c>sort</c>): ascending, stable, NaN last. It is
    /// <c>TakeAlongAxis(x, Argsort(x, axis), axis)</c>, so its derivative permutes the tangent the same way and its
    /// transpose scatters the cotangent back. Example: <c>Sort([3, 1, NaN, 2])</c> is <c>[1, 2, 3, NaN]</c>.
    /// </summary>
    /// <param name="x">Any dtype.</param><param name="axis">The axis sorted along.</param>
    /// <returns>The sorted tensor.</returns><exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor Sort(Tensor x, int axis = -1) => TakeAlongAxis(x, Argsort(x, axis), axis);

    /// <summary>
    /// The <paramref name="k"/> largest elements along the last axis, largest first, and their indices (JAX's
    /// <c>lax.top_k</c>): equal elements in index order, NaN counted as larger than every number. The values are
    /// <c>TakeAlongAxis(x, indices, -1)</c>, so their derivative gathers the tangent at the indices.
    /// Example: <c>TopK([1, 5, 3], 2)</c> is <c>([5, 3], [1, 2])</c>.
    /// </summary>
    /// <param name="x">Rank at least 1.</param><param name="k">How many, 0 .. the last axis's size.</param>
    /// <returns>The values (x's dtype) and the int32 indices, each of shape <c>[..., k]</c>.</returns>
    /// <exception cref="ShapeException">x has rank 0, or k is out of range.</exception>
    public static (Tensor Values, Tensor Indices) TopK(Tensor x, int k)
    {
        var idx = Lax.TopKIndices(x, k);
        return (TakeAlongAxis(x, idx, -1), idx);
    }

    /// <summary>
    /// Where to insert each of <paramref name="v"/> into the ascending 1-D <paramref name="sorted"/> to keep it sorted
    /// (numpy's <c>searchsorted</c>): <c>"left"</c> gives the first such index, <c>"right"</c> the last; NaN sorts last.
    /// Example: <c>SearchSorted([1, 2, 2, 3], [2, 5], "left")</c> is <c>[1, 4]</c>; with "right" <c>[3, 4]</c>. Its derivative is zero.
    /// </summary>
    /// <param name="sorted">A 1-D tensor in ascending order (NaN last).</param><param name="v">The values, any shape.</param>
    /// <param name="side">"left" or "right".</param><returns>int32 indices of v's shape.</returns>
    /// <exception cref="ShapeException">sorted is not 1-D, or side is neither "left" nor "right".</exception>
    public static Tensor SearchSorted(Tensor sorted, Tensor v, string side = "left")
    {
        ArgumentNullException.ThrowIfNull(sorted);
        ArgumentNullException.ThrowIfNull(v);
        string Call() => $"Np.SearchSorted(sorted: {sorted.Aval}, v: {v.Aval}, side: \"{side}\")";
        if (side is not ("left" or "right")) throw new ShapeException(Call(), [sorted.Aval, v.Aval], "side must be \"left\" or \"right\"");
        if (sorted.Rank != 1) throw new ShapeException(Call(), [sorted.Aval, v.Aval], $"sorted must be 1-D, not rank {sorted.Rank}");
        bool right = side == "right";
        var r = new int[v.Size];
        if (sorted.DType == DType.Int64 && v.DType == DType.Int64)
        {
            var s = sorted.Span<long>().ToArray();
            var q = v.Span<long>().ToArray();
            for (int i = 0; i < r.Length; i++) r[i] = Bisect(s.Length, j => s[j].CompareTo(q[i]), right);
        }
        else
        {
            var s = sorted.ToDoubleArray();
            var q = v.ToDoubleArray();
            for (int i = 0; i < r.Length; i++) r[i] = Bisect(s.Length, j => NanLast(s[j], q[i]), right);
        }
        return Eager.Make(r, v.Dims);
    }

    /// <summary>The first index whose element compares above the value (right) or not below it (left).</summary>
    static int Bisect(int n, Func<int, int> cmp, bool right)
    {
        int lo = 0, hi = n;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = cmp(mid);
            if (c < 0 || right && c == 0) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}

public static partial class Lax
{
    /// <summary>
    /// The indices of the <paramref name="k"/> largest elements along the last axis, largest first (equal elements in
    /// index order, NaN larger than every number): the indices of <see cref="Np.TopK"/>.
    /// </summary>
    /// <param name="x">Rank at least 1.</param><param name="k">0 .. the last axis's size.</param><returns>int32 indices <c>[..., k]</c>.</returns>
    public static Tensor TopKIndices(Tensor x, int k)
    {
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Np.TopK(x: {x.Aval}, k: {k})";
        if (x.Rank == 0) throw new ShapeException(Call(), [x.Aval], "x must have rank 1 or more (TopK works along the last axis)");
        int n = x.Dims[^1];
        if (k < 0 || k > n) throw new ShapeException(Call(), [x.Aval], $"k must be between 0 and the last axis's size {n}");
        var all = Np.ArgsortDescending(x);
        int rows = x.Size / Math.Max(n, 1);
        var r = new int[rows * k];
        for (int o = 0; o < rows; o++) Array.Copy(all, o * n, r, o * k, k);
        return Eager.Make(r, [.. x.Dims[..^1], k]);
    }

}

public static partial class Np
{
    /// <summary>The stable descending order of every line along the last axis (NaN first): TopK's order.</summary>
    internal static int[] ArgsortDescending(Tensor x) => ArgsortLines(x, x.Rank - 1, descending: true);
}
