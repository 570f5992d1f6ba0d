namespace Functional.AD;

/// <summary>
/// Indexing and slicing, as JAX's <c>x[...]</c>, <c>x.at[...].set/add</c>, <c>lax.dynamic_slice</c> and
/// <c>lax.dynamic_update_slice</c>: static indices (<see cref="Ix"/>) read one static primitive each, and an index
/// outside its axis is an error; dynamic starts are traced values, clamped as JAX clamps them.
/// </summary>
public static partial class Lax
{
    /// <summary>
    /// The part of <paramref name="x"/> an index list selects (numpy's basic indexing): a point removes its axis, a range
    /// keeps it; axes past the list are kept whole; <see cref="Ix.Ellipsis"/> stands for the whole axes the others leave
    /// and <see cref="Ix.NewAxis"/> adds an axis of length 1. What <c>x[i, ...]</c> is. Linear in x; its transpose is
    /// <see cref="IndexSet"/> of the cotangent into zeros. Eagerly an index tensor may stand in the list too (see
    /// <see cref="Ix.FromTensor"/>): integers gather, a bool mask selects its true positions.
    /// Example: <c>Index([[1, 2, 3], [4, 5, 6]], [1, Ix.Range(0, 3, 2)])</c> is <c>[4., 6.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="index">One index per leading axis (Ix.NewAxis and Ix.Ellipsis take none).</param>
    /// <returns>The selected part, in x's dtype.</returns>
    /// <exception cref="ShapeException">More indices than axes, a position or bound outside its axis, two ellipses, or index tensors mixed with other indices in a way not accepted.</exception>
    public static Tensor Index(Tensor x, Ix[] index)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(index);
        string Call() => $"x{Ix.Text(index)} with x: {x.Aval}";
        if (index.Any(i => i?.Kind == IxKind.Tensor)) return IndexMoves.ByTensors(x, index, Call);
        var r = Ix.Resolve(index, x.Dims, Call, [x.Aval]);
        var od = Ix.OutDims(index, r, x.Rank, Call, [x.Aval]);
        if (od.Length == x.Rank && r.Select((a, i) => a.Keep && a.Start == 0 && a.Step == 1 && a.Count == x.Dims[i]).All(whole => whole)) return x;
        var off = IndexMoves.Offsets(x.Dims, r);
        return Tensor.Adopt(IndexMoves.Gather(x, off), Aval.Intern(od, x.DType, x.IsWeak));
    }

    /// <summary>
    /// <paramref name="x"/> with the part an index list selects replaced by <paramref name="value"/> (broadcast to that
    /// part's shape, converted to x's dtype): JAX's <c>x.at[i].set(v)</c>, what <c>x.At(i).Set(v)</c> is. Linear in x and
    /// value together: x's cotangent is the output's with the part zeroed, value's the part of the output's (summed
    /// over broadcast axes). Example: <c>IndexSet([1, 2, 3], 9, [Ix.Range(1, 3)])</c> is <c>[1., 9., 9.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="value">The new values.</param><param name="index">The part.</param>
    /// <returns>A new tensor of x's shape and dtype.</returns>
    /// <exception cref="ShapeException">A bad index, or a value that does not broadcast to the part's shape.</exception>
    public static Tensor IndexSet(Tensor x, Tensor value, Ix[] index)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(index);
        string Call() => $"x.At({string.Join(", ", index.Select(i => i.ToString()))}).Set(v) with x: {x.Aval}, v: {value.Aval}";
        var r = Ix.Resolve(index, x.Dims, Call, [x.Aval, value.Aval]);
        var od = Ix.OutDims(index, r, x.Rank, Call, [x.Aval, value.Aval]);
        var v = IndexMoves.BroadcastPart(value, od, x.DType, Call, [x.Aval, value.Aval]);
        return Tensor.Adopt(IndexMoves.Scatter(x, v, IndexMoves.Offsets(x.Dims, r)), Aval.Intern(x.Dims, x.DType, x.IsWeak));
    }

    /// <summary>
    /// <paramref name="x"/> with <paramref name="value"/> added to the part an index list selects: JAX's
    /// <c>x.at[i].add(v)</c>, what <c>x.At(i).Add(v)</c> is. Linear in x and value together: x's cotangent is the
    /// output's, value's the part of it. Example: <c>IndexAdd([1, 2, 3], 10, [0])</c> is <c>[11., 2., 3.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="value">The values added.</param><param name="index">The part.</param>
    /// <returns>A new tensor of x's shape and dtype.</returns>
    /// <exception cref="ShapeException">A bad index, or a value that does not broadcast to the part's shape.</exception>
    public static Tensor IndexAdd(Tensor x, Tensor value, Ix[] index)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(index);
        var part = Index(x, index);
        var sum = Np.Add(part, value);
        if (sum.DType != x.DType) sum = Cast(sum, x.DType);
        if (!SmallArrays.Same(sum.Dims, part.Dims))
            throw new ShapeException($"x.At({string.Join(", ", index.Select(i => i.ToString()))}).Add(v) with x: {x.Aval}, v: {value.Aval}", [x.Aval, value.Aval],
                $"v must broadcast to the part's shape {Eager.Dims(part.Dims)}");
        return IndexSet(x, sum, index);
    }

    /// <summary>
    /// The block of <paramref name="x"/> of shape <paramref name="sizes"/> starting at <paramref name="starts"/> (one
    /// rank-0 tensor per axis, traced values allowed): JAX's <c>lax.dynamic_slice</c>. Each start is rounded down to an
    /// integer and clamped to <c>0 .. n - size</c>, so the block always lies inside x, as in JAX. Linear in x; its
    /// transpose is <see cref="DynamicUpdateSlice"/> of the cotangent into zeros.
    /// Example: <c>DynamicSlice([1, 2, 3, 4], new Tensor[] { 3 }, new[] { 2 })</c> is <c>[3., 4.]</c> (start clamped to 2).
    /// </summary>
    /// <param name="x">The tensor.</param><param name="starts">One start per axis.</param><param name="sizes">One size per axis.</param>
    /// <returns>The block, in x's dtype.</returns>
    /// <exception cref="ShapeException">Not one start and size per axis, a start that is not a scalar, or a size outside <c>0 .. n</c>.</exception>
    public static Tensor DynamicSlice(Tensor x, Tensor[] starts, int[] sizes)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(starts);
        ArgumentNullException.ThrowIfNull(sizes);
        string Call() => $"Lax.DynamicSlice(x: {x.Aval}, starts: [{string.Join(", ", starts.Select(s => s.Aval))}], sizes: {Eager.Dims(sizes)})";
        var shapes = starts.Select(s => s.Aval).Prepend(x.Aval).ToArray();
        if (sizes.Length != x.Rank)
            throw new ShapeException(Call(), shapes, $"one size per axis of x ({x.Rank}) is accepted, got {sizes.Length}");
        for (int a = 0; a < sizes.Length; a++)
            if (sizes[a] < 0 || sizes[a] > x.Dims[a])
                throw new ShapeException(Call(), shapes, $"size {sizes[a]} along axis {a} of length {x.Dims[a]}; accepted sizes are 0 .. {x.Dims[a]}");
        return Index(x, IndexMoves.Blocks(starts, x.Dims, sizes, Call, shapes));
    }

    /// <summary>
    /// <paramref name="x"/> with the block at <paramref name="starts"/> replaced by <paramref name="update"/> (of x's
    /// rank): JAX's <c>lax.dynamic_update_slice</c>. Starts are rounded down and clamped to <c>0 .. n - size</c>, as in
    /// JAX. Linear in x and update together: x's cotangent is the output's with the block zeroed, update's the block of it.
    /// Example: <c>DynamicUpdateSlice([1, 2, 3, 4], [8, 9], new Tensor[] { 1 })</c> is <c>[1., 8., 9., 4.]</c>.
    /// </summary>
    /// <param name="x">The tensor.</param><param name="update">The block written (converted to x's dtype).</param>
    /// <param name="starts">One start per axis.</param>
    /// <returns>A new tensor of x's shape and dtype.</returns>
    /// <exception cref="ShapeException">Ranks differ, an update larger than x, or not one scalar start per axis.</exception>
    public static Tensor DynamicUpdateSlice(Tensor x, Tensor update, Tensor[] starts)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(starts);
        string Call() => $"Lax.DynamicUpdateSlice(x: {x.Aval}, update: {update.Aval}, starts: [{string.Join(", ", starts.Select(s => s.Aval))}])";
        var shapes = starts.Select(s => s.Aval).Prepend(update.Aval).Prepend(x.Aval).ToArray();
        if (update.Rank != x.Rank)
            throw new ShapeException(Call(), shapes, $"the update must have x's rank {x.Rank}, not {update.Rank}");
        for (int a = 0; a < x.Rank; a++)
            if (update.Dims[a] > x.Dims[a])
                throw new ShapeException(Call(), shapes, $"the update is longer than x along axis {a} ({update.Dims[a]} > {x.Dims[a]}); accepted: at most x's length");
        return IndexSet(x, update, IndexMoves.Blocks(starts, x.Dims, update.Dims, Call, shapes));
    }

    /// <summary>
    /// The block of <paramref name="x"/> shaped like <paramref name="like"/> at <paramref name="starts"/>: the
    /// <see cref="DynamicSlice"/> that the transpose of <see cref="DynamicUpdateSlice"/> takes (the sizes given by an aval).
    /// </summary>
    /// <param name="x">The tensor.</param><param name="like">The block's aval (its dims are the sizes).</param>
    /// <param name="starts">One start per axis.</param><returns>The block, in x's dtype.</returns>
    public static Tensor DynamicSliceLike(Tensor x, Aval like, Tensor[] starts)
    {
        ArgumentNullException.ThrowIfNull(like);
        return DynamicSlice(x, starts, like.Dims);
    }
}

/// <summary>The eager kernels of indexing: flat offsets of a resolved index, a gather and a scatter at them, for every dtype.</summary>
internal static class IndexMoves
{
    /// <summary>The refusal of a bool tensor as indices: a mask's result has a shape known only from its values.</summary>
    internal static ShapeException MaskRefused(string call, IReadOnlyList<Aval> shapes) => new(call, shapes,
        "the indices are a bool tensor, a mask (numpy's x[mask]): it selects as many elements as it holds true values, a shape known only from the values, "
        + "so a transformed or jitted function cannot have it (JAX refuses it under jit too); keep the shape with Np.Where(mask, x, 0) (or Np.Sum(Np.Where(mask, x, 0), null, false) for a masked sum), "
        + "or index eagerly outside the expression; integer indices are accepted");

    /// <summary>
    /// x indexed by a list holding index tensors (eagerly): a bool mask with every other index whole selects the
    /// positions where it is true over the axes it covers (numpy's <c>x[mask]</c>, the selected elements in row-major
    /// order along one axis); one integer tensor with every other index whole is <see cref="Np.Take"/> along its axis;
    /// integer tensors for the leading axes followed by whole axes are <see cref="Lax.GatherAxes"/>.
    /// </summary>
    internal static Tensor ByTensors(Tensor x, Ix[] index, Func<string> call)
    {
        var at = Enumerable.Range(0, index.Length).Where(i => index[i]?.Kind == IxKind.Tensor).ToArray();
        var ts = at.Select(i => index[i].Indices!).ToArray();
        var shapes = ts.Select(t => t.Aval).Prepend(x.Aval).ToArray();
        bool othersWhole = Enumerable.Range(0, index.Length).All(i => at.Contains(i) || Ix.All.Equals(index[i]));
        if (!othersWhole)
            throw new ShapeException(call(), shapes, "an index tensor is accepted with every other index Ix.All (x[idx], x[Ix.All, idx], x[mask]) or as tensors for the leading axes followed by Ix.All (x[rows, cols]); "
                + "for other mixes index in two steps (x[idx][Ix.All, 1..3]) or use Np.Take, Lax.GatherAxes");
        if (ts.Any(t => t.DType == DType.Bool))
        {
            if (ts.Length != 1) throw new ShapeException(call(), shapes, "a bool mask is accepted as the only index tensor");
            var mask = ts[0];
            int a = at[0];
            if (mask.Rank == 0 || a + mask.Rank > x.Rank || !x.Dims.AsSpan(a, mask.Rank).SequenceEqual(mask.Dims))
                throw new ShapeException(call(), shapes, $"a mask at axis {a} must have rank 1 or more and x's lengths along the axes it covers ({Eager.Dims(x.Dims[Math.Min(a, x.Rank)..Math.Min(x.Rank, a + Math.Max(mask.Rank, 1))])})");
            var m = mask.ToArray<bool>();
            var positions = Enumerable.Range(0, m.Length).Where(i => m[i]).ToArray();
            int[] flat = [.. x.Dims[..a], m.Length, .. x.Dims[(a + mask.Rank)..]];
            return Np.Take(Np.Reshape(x, flat), Eager.Make(positions, [positions.Length]), a);
        }
        if (ts.Length == 1) return Np.Take(x, ts[0], at[0]);
        if (at.Where((p, i) => p != i).Any())
            throw new ShapeException(call(), shapes, "several index tensors are accepted for the leading axes (x[rows, cols], Lax.GatherAxes), followed only by Ix.All");
        return Lax.GatherAxes(x, ts);
    }

    /// <summary>GatherAxes's rows: for each element of the indices' broadcast shape, the flat row of x's first k axes it
    /// reads; the output shape; and the size of one row (the product of x's remaining axes).</summary>
    internal static (int[] Rows, int[] Dims, int Block) AxesRows(int[] xd, Tensor[] indices, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        int k = indices.Length;
        if (k == 0 || k > xd.Length)
            throw new ShapeException(call(), shapes, $"{k} index tensors for a tensor of rank {xd.Length}; 1 .. {xd.Length} are accepted");
        int rank = indices.Max(i => i.Rank);
        var s = new int[rank];
        for (int a = 0; a < rank; a++) s[a] = 1;
        foreach (var t in indices)
            for (int a = 0; a < t.Rank; a++)
            {
                int d = t.Dims[a], at = rank - t.Rank + a;
                if (d == s[at] || d == 1) continue;
                if (s[at] != 1) throw new ShapeException(call(), shapes, $"the index shapes do not broadcast together (axis {at}: {s[at]} and {d}); accepted: numpy-broadcastable index tensors");
                s[at] = d;
            }
        int count = Kernels.Product(s);
        var rows = new int[count];
        for (int j = 0; j < k; j++)
        {
            var t = indices[j];
            if (t.DType == DType.Bool) throw MaskRefused(call(), shapes);
            var b = Eager.Indices(t.Dims.SequenceEqual(s) ? t : Np.BroadcastTo(t, s), xd[j], "Lax.GatherAxes", shapes[0], j);
            for (int i = 0; i < count; i++) rows[i] = rows[i] * xd[j] + b[i];
        }
        int block = Kernels.Product(xd, k);
        return (rows, [.. s, .. xd[k..]], block);
    }

    /// <summary>The output shape: the counts of the kept axes.</summary>
    internal static int[] OutDims(Ix.Resolved[] r) => r.Where(a => a.Keep).Select(a => a.Count).ToArray();

    /// <summary>The flat row-major offset in x of each output element, in the output's row-major order.</summary>
    internal static int[] Offsets(int[] dims, Ix.Resolved[] r)
    {
        int total = 1;
        foreach (var a in r) total *= a.Count;
        var off = new int[total];
        if (total == 0) return off;
        var strides = new int[dims.Length];
        for (int a = dims.Length - 1, s = 1; a >= 0; s *= dims[a], a--) strides[a] = s;
        var pos = new int[dims.Length];
        int cur = 0;
        for (int a = 0; a < dims.Length; a++) cur += r[a].Start * strides[a];
        for (int i = 0; i < total; i++)
        {
            off[i] = cur;
            for (int a = dims.Length - 1; a >= 0; a--)
            {
                if (++pos[a] < r[a].Count) { cur += r[a].Step * strides[a]; break; }
                cur -= (r[a].Count - 1) * r[a].Step * strides[a];
                pos[a] = 0;
            }
        }
        return off;
    }

    /// <summary>A value brought to x's dtype and broadcast to the part's shape (an error naming the call when it does not broadcast).</summary>
    internal static Tensor BroadcastPart(Tensor value, int[] od, DType dtype, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        var v = value.DType == dtype && !value.IsWeak ? value : Lax.Cast(value, dtype);
        if (v.Rank > od.Length || !v.Dims.Select((d, i) => d == 1 || d == od[od.Length - v.Rank + i]).All(ok => ok))
            throw new ShapeException(call(), shapes, $"the value {value.Aval} does not broadcast to the part's shape {Eager.Dims(od)}; accepted: a value that broadcasts to it");
        return SmallArrays.Same(v.Dims, od) ? v : Np.BroadcastTo(v, od);
    }

    /// <summary>The ranges of a dynamic block: each start rounded down and clamped to 0 .. n - size.</summary>
    internal static Ix[] Blocks(Tensor[] starts, int[] dims, int[] sizes, Func<string> call, IReadOnlyList<Aval> shapes)
    {
        if (starts.Length != dims.Length)
            throw new ShapeException(call(), shapes, $"one start per axis of x ({dims.Length}) is accepted, got {starts.Length}");
        var ix = new Ix[dims.Length];
        for (int a = 0; a < dims.Length; a++)
        {
            var s = starts[a] ?? throw new ShapeException(call(), shapes, $"start {a} is null");
            if (s.Rank != 0) throw new ShapeException(call(), shapes, $"start {a} has shape {s.Aval}; each start is a scalar (rank 0)");
            double v = s.Element(0);
            long p = double.IsNaN(v) ? 0 : (long)Math.Clamp(Math.Floor(v), 0, Math.Max(0, dims[a] - sizes[a]));
            ix[a] = Ix.Range((int)p, (int)p + sizes[a]);
        }
        return ix;
    }

    readonly struct GatherMove(Tensor x, int[] off) : Moves.IMove
    {
        public Array Run<T>() where T : unmanaged
        {
            var s = x.Span<T>();
            var r = new T[off.Length];
            for (int i = 0; i < r.Length; i++) r[i] = s[off[i]];
            return r;
        }
    }

    readonly struct ScatterMove(Tensor x, Tensor v, int[] off) : Moves.IMove
    {
        public Array Run<T>() where T : unmanaged
        {
            var r = x.Span<T>().ToArray();
            var s = v.Span<T>();
            for (int i = 0; i < off.Length; i++) r[off[i]] = s[i];
            return r;
        }
    }

    internal static Array Gather(Tensor x, int[] off) => Moves.At(x.DType, new GatherMove(x, off));

    /// <summary>A copy of x with v's elements (x's dtype, the part's shape) written at the offsets.</summary>
    internal static Array Scatter(Tensor x, Tensor v, int[] off) => Moves.At(x.DType, new ScatterMove(x, v, off));
}

public static partial class Lax
{
    /// <summary>
    /// Gathers over the leading axes at once (numpy's <c>x[rows, cols]</c> with integer arrays): with k index tensors,
    /// which broadcast together to a shape S, <c>out[s.., r..] = x[indices[0][s], .., indices[k-1][s], r..]</c>, so the
    /// result's shape is <c>S + x.shape[k:]</c>. Indices may be traced; negative ones count from the end, and one
    /// outside <c>-n .. n-1</c> is an error, as in <see cref="Np.Take"/>. Linear in x; its transpose is
    /// <see cref="ScatterAddAxes"/>. Example: <c>GatherAxes([[1, 2], [3, 4]], new Tensor[] { [1, 0], [0, -1] })</c> is <c>[3., 2.]</c>.
    /// </summary>
    /// <param name="x">The tensor to gather from.</param><param name="indices">One integral tensor per leading axis indexed.</param>
    /// <returns>The gathered tensor, in x's dtype.</returns>
    /// <exception cref="ShapeException">More index tensors than axes, or index shapes that do not broadcast.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside <c>-n .. n-1</c>.</exception>
    public static Tensor GatherAxes(Tensor x, Tensor[] indices)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(indices);
        string Call() => $"Lax.GatherAxes(x: {x.Aval}, indices: [{string.Join(", ", indices.Select(i => i.Aval))}])";
        var (rows, od, block) = IndexMoves.AxesRows(x.Dims, indices, Call, [x.Aval, .. indices.Select(i => i.Aval)]);
        var off = rows.SelectMany(r => Enumerable.Range(r * block, block)).ToArray();
        return Tensor.Adopt(IndexMoves.Gather(x, off), Aval.Intern(od, x.DType, x.IsWeak));
    }

    /// <summary>
    /// The transpose of <see cref="GatherAxes"/>: zeros shaped like <paramref name="x"/> with each block of
    /// <paramref name="g"/> added where it was gathered from (repeated indices accumulate). Linear in g.
    /// Example: the scatter of <c>[1, 2]</c> at <c>new Tensor[] { [0, 0], [1, 1] }</c> onto <c>float64[2,2]</c> is <c>[[0., 3.], [0., 0.]]</c>.
    /// </summary>
    /// <param name="g">The cotangent of GatherAxes's output.</param><param name="x">The aval of its input.</param>
    /// <param name="indices">Its indices.</param><returns>A tensor of x's shape, in g's dtype.</returns>
    /// <exception cref="ShapeException">g is not shaped as GatherAxes's output.</exception>
    public static Tensor ScatterAddAxes(Tensor g, Aval x, Tensor[] indices)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(indices);
        string Call() => $"Lax.ScatterAddAxes(g: {g.Aval}, x: {x}, indices: [{string.Join(", ", indices.Select(i => i.Aval))}])";
        var (rows, od, block) = IndexMoves.AxesRows(x.Dims, indices, Call, [g.Aval, x, .. indices.Select(i => i.Aval)]);
        if (!SmallArrays.Same(g.Dims, od))
            throw new ShapeException(Call(), [g.Aval, x], $"g must have GatherAxes's output shape {Eager.Dims(od)}");
        var gv = g.ToDoubleArray();
        var r = new double[Kernels.Product(x.Dims)];
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < block; j++) r[rows[i] * block + j] += gv[i * block + j];
        var t = new Tensor(r, (int[])x.Dims.Clone());
        return t.DType == g.DType ? t : Cast(t, g.DType);
    }
}

