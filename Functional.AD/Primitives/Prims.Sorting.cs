namespace Functional.AD;

/// <summary>
/// Sorting and searching. Three index primitives with a zero derivative (Argsort along an axis, TopKIndices along the
/// last axis, SearchSorted), a linear gather along an axis (TakeAlongAxis) and its transpose (ScatterAddAlongAxis).
/// Np.Sort and Np.TopK are composites: the values are the gather of x at the indices, computed once, so the derivative
/// of a sort permutes the tangent (and its transpose scatters the cotangent back) with no rule of its own.
/// </summary>
internal static partial class Prims
{
    /// <summary>Stable ascending order along an axis (NaN last), int32.</summary>
    public static Primitive Argsort { get; private set; } = null!;
    /// <summary>The indices of the k largest along the last axis, int32.</summary>
    public static Primitive TopKIndices { get; private set; } = null!;
    /// <summary>Insertion indices into a sorted 1-D tensor, int32.</summary>
    public static Primitive SearchSorted { get; private set; } = null!;
    /// <summary>numpy's take_along_axis: linear in x.</summary>
    public static Primitive TakeAlongAxis { get; private set; } = null!;
    /// <summary>The transpose of <see cref="TakeAlongAxis"/>.</summary>
    public static Primitive ScatterAddAlongAxis { get; private set; } = null!;
    /// <summary>Np.Sort: TakeAlongAxis(x, Argsort(x)).</summary>
    public static Primitive Sort { get; private set; } = null!;
    /// <summary>Np.TopK: (TakeAlongAxis(x, i, -1), i) with i = TopKIndices(x, k).</summary>
    public static Primitive TopK { get; private set; } = null!;

    static void DeclareSorting()
    {
        Type I = typeof(int);
        Argsort = Reduction("Argsort", Np_("Argsort", T, I), null, result: EagerResult.Fresh);
        TopKIndices = Batch(Def("TopKIndices", Lax_("TopKIndices", T, I)), KeepParams);
        TopKIndices.ZeroDerivative = true;
        SearchSorted = Batch(Def("SearchSorted", Np_("SearchSorted", T, T, typeof(string))), SearchSortedBatch);
        SearchSorted.ZeroDerivative = true;
        foreach (var p in new[] { Argsort, TopKIndices, SearchSorted })
        {
            p.Accepts = DTypeSets.All;
            p.Gives = _ => DType.Int32;
        }
        // the indices of a gather along an axis are not differentiable; the values are, linearly
        TakeAlongAxis = Structural("TakeAlongAxis", Np_("TakeAlongAxis", T, T, I),
            (c, t) => Ap(TakeAlongAxis!, [t[0]!, c.X[1]], c.P),
            (c, ct) => [Ap(ScatterAddAlongAxis!, [ct, c.X[1], c.Aval(0)], c.P), null], [0], AlongAxisBatch, result: EagerResult.Fresh);
        ScatterAddAlongAxis = Structural("ScatterAddAlongAxis", Lax_("ScatterAddAlongAxis", T, T, I, A),
            (c, t) => Ap(ScatterAddAlongAxis!, [t[0]!, c.X[1], c.X[2]], c.P),
            (c, ct) => [Ap(TakeAlongAxis!, [ct, c.X[1]], c.P), null, null], [0], AlongAxisBatch, likeAval: 2, result: EagerResult.Fresh);

        // shapes without running: abstract evaluation's placeholder indices (ones, for integers) may be out of range
        TakeAlongAxis.ShapeRule = (_, a) => Aval.Intern(a[1].Dims, a[0].DType, a[0].Weak);
        ScatterAddAlongAxis.ShapeRule = (_, a) => Aval.Intern(a[2].Dims, a[0].DType, a[0].Weak);

        var sort = Np_("Sort", T, I);
        Sort = Def("Sort", sort);
        Sort.Family = PrimFamily.Structure;
        Sort.Rewrite = (b, a, prm) => b.Apply(TakeAlongAxis, [a[0], b.Apply(Argsort, [a[0]], prm)], prm);
        composites.Add(Sort);
        Batch(Sort, BatchRules.Never);

        var topK = Np_("TopK", T, I);
        TopK = Def("TopK", topK);
        TopK.Family = PrimFamily.Structure;
        TopK.Rewrite = (b, a, prm) =>
        {
            var idx = b.Apply(TopKIndices, [a[0]], prm);
            return Tuples.Pack(b, [b.Apply(TakeAlongAxis, [a[0], idx], new Params(-1)), idx]);
        };
        composites.Add(TopK);
        Batch(TopK, BatchRules.Never);
    }

    /// <summary>Vmap of a gather or scatter along an axis: the values and indices brought to one batch shape, a non-negative axis moved by the batch count.</summary>
    static Node AlongAxisBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var batch = Enumerable.Repeat(1, k).ToArray();
        foreach (var x in a.Take(2))
        {
            var (bx, _) = BatchRules.Split(u.Dims(x), k);
            for (int j = 0; j < k; j++) if (bx[j] != 1) batch[j] = bx[j];
        }
        Node Full(Node x)
        {
            var (_, cx) = BatchRules.Split(u.Dims(x), k);
            var (bx, _) = BatchRules.Split(u.Dims(x), k);
            return u.BroadcastTo(u.Reshape(x, [.. bx, .. cx]), [.. batch, .. cx]);
        }
        int axis = prm.Get<int>(0);
        var shifted = new Params(axis >= 0 ? axis + k : axis);
        if (p == TakeAlongAxis) return u.Apply(p, [Full(a[0]), Full(a[1])], shifted);
        var like = u.A(a[2]);
        return u.Apply(p, [Full(a[0]), Full(a[1]), u.AvalConst([.. batch, .. BatchRules.Split(like.Dims, k).Core], like)], shifted);
    }

    /// <summary>
    /// Vmap of SearchSorted: an unbatched sorted tensor searches the batched values at once; a batched one counts, per
    /// example, the elements below each value (<c>Sum(sorted &lt; v)</c>, or <c>&lt;=</c> for "right"), which is the
    /// same index for sorted numbers.
    /// </summary>
    static Node SearchSortedBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var (bs, cs) = BatchRules.Split(u.Dims(a[0]), k);
        var (bv, cv) = BatchRules.Split(u.Dims(a[1]), k);
        var v = u.Reshape(a[1], [.. bv, .. cv]);
        if (bs.All(d => d == 1)) return u.Apply(p, [u.Reshape(a[0], cs), v], prm);
        if (cs.Length != 1)
            throw new ShapeException("Np.SearchSorted (batched)", [u.A(a[0]), u.A(a[1])], $"sorted must be 1-D per example, not rank {cs.Length}");
        var s = u.Reshape(a[0], [.. bs, .. Enumerable.Repeat(1, cv.Length), cs[0]]);
        var v1 = u.Reshape(v, [.. bv, .. cv, 1]);
        var below = u.Apply(prm.Get<string>(0) == "right" ? LessEqual : Less, [s, v1]);
        return u.Apply(Sum, [below], new Params((int?)-1, false));
    }
}
