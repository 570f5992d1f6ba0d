namespace Functional.AD;

public static partial class Np
{
    /// <summary>
    /// Gathers along one axis with indices of x's rank (numpy's <c>take_along_axis</c>):
    /// <c>out[i, j, k] = x[i, indices[i, j, k], k]</c> for axis 1. The indices' other axes have x's lengths or 1
    /// (broadcast); along the axis they may have any length, which is the output's. Negative indices count from the end;
    /// an index outside <c>-n .. n-1</c> is an error, as in <see cref="Take"/>. Linear in x; its transpose is
    /// <see cref="Lax.ScatterAlongAxis"/>.
    /// Example: <c>TakeAlongAxis([[10, 20, 30], [40, 50, 60]], [[2], [0]], 1)</c> is <c>[[30.], [40.]]</c>.
    /// </summary>
    /// <param name="x">The tensor to gather from.</param>
    /// <param name="indices">Integral indices of x's rank.</param>
    /// <param name="axis">The axis indexed (negative counts from the end).</param>
    /// <returns>The gathered tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">The ranks differ, an axis is out of range, or an index axis fits neither x's length nor 1.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside <c>-n .. n-1</c>.</exception>
    public static Tensor TakeAlongAxis(Tensor x, Tensor indices, int axis)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(indices);
        var (off, od) = AlongAxisOffsets(x.Dims, indices, axis, () => $"Np.TakeAlongAxis(x: {x.Aval}, indices: {indices.Aval}, axis: {axis})", [x.Aval, indices.Aval]);
        return Tensor.Adopt(IndexMoves.Gather(x, off), Aval.Intern(od, x.DType, x.IsWeak));
    }

    /// <summary>The flat offset in x of each output element of TakeAlongAxis, and the output's shape.</summary>
    internal static (int[] Offsets, int[] Dims) AlongAxisOffsets(int[] xd, Tensor indices, int axis, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        if (indices.Rank != xd.Length)
            throw new ShapeException(call(), shapes, $"the indices must have x's rank {xd.Length}, not {indices.Rank}");
        int ax = Eager.Axis(axis, xd.Length, call, shapes);
        var id = indices.Dims;
        for (int a = 0; a < xd.Length; a++)
            if (a != ax && id[a] != xd[a] && id[a] != 1)
                throw new ShapeException(call(), shapes, $"indices axis {a} has length {id[a]}; accepted: x's length {xd[a]} or 1 (broadcast)");
        int n = xd[ax];
        var idx = Eager.Indices(indices, n, "Np.TakeAlongAxis", shapes[0], ax);
        var od = (int[])xd.Clone();
        od[ax] = id[ax];
        int total = Kernels.Product(od);
        var off = new int[total];
        var xs = new int[xd.Length]; var iss = new int[xd.Length];
        for (int a = xd.Length - 1, s = 1, t = 1; a >= 0; s *= xd[a], t *= id[a], a--) { xs[a] = s; iss[a] = id[a] == 1 ? 0 : t; }
        var pos = new int[xd.Length];
        for (int i = 0; i < total; i++)
        {
            int src = 0, at = 0;
            for (int a = 0; a < xd.Length; a++) at += pos[a] * iss[a];
            for (int a = 0; a < xd.Length; a++) src += (a == ax ? idx[at] : pos[a]) * xs[a];
            off[i] = src;
            for (int a = xd.Length - 1; a >= 0 && ++pos[a] == od[a]; a--) pos[a] = 0;
        }
        return (off, od);
    }
}

public static partial class Lax
{
    /// <summary>
    /// The transpose of <see cref="Np.TakeAlongAxis"/>: zeros shaped like <paramref name="x"/> with each element of
    /// <paramref name="g"/> added at the position it was gathered from (repeated indices accumulate). Linear in g.
    /// Example: the scatter of <c>[[1, 2]]</c> with indices <c>[[0, 0]]</c> along axis 1 onto <c>float64[1,3]</c> is <c>[[3., 0., 0.]]</c>.
    /// </summary>
    /// <param name="g">The cotangent of TakeAlongAxis's output.</param><param name="indices">Its indices.</param>
    /// <param name="axis">Its axis.</param><param name="x">The aval of its input.</param>
    /// <returns>A tensor of x's shape, in g's dtype.</returns>
    /// <exception cref="ShapeException">g is not shaped as TakeAlongAxis's output.</exception>
    public static Tensor ScatterAlongAxis(Tensor g, Tensor indices, int axis, Aval x)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(x);
        string Call() => $"Lax.ScatterAlongAxis(g: {g.Aval}, indices: {indices.Aval}, axis: {axis}, x: {x})";
        var (off, od) = Np.AlongAxisOffsets(x.Dims, indices, axis, Call, [x, indices.Aval, g.Aval]);
        if (!SmallArrays.Same(g.Dims, od))
            throw new ShapeException(Call(), [g.Aval, indices.Aval, x], $"g must have TakeAlongAxis's output shape {Eager.Dims(od)}");
        var gv = g.ToDoubleArray();
        var r = new double[Kernels.Product(x.Dims)];
        for (int i = 0; i < off.Length; i++) r[off[i]] += gv[i];
        var t = new Tensor(r, (int[])x.Dims.Clone());
        return t.DType == g.DType ? t : Cast(t, g.DType);
    }
}
