namespace Functional.AD;

/// <summary>
/// Sorting and searching. Three index primitives with a zero derivative (Argsort along an axis, TopKIndices along the
/// last axis, SearchSorted). Np.Sort and Np.TopK are composites over the indexing family's gather along an axis
/// (<see cref="TakeAlongAxis"/>, Prims.Indexing.cs): the values are the gather of x at the indices, computed once, so the derivative
/// of a sort permutes the tangent (and its transpose scatters the cotangent back) with no rule of its own.
/// </summary>
internal static partial class Prims
{
    /// <summary>Stable ascending order along an axis (NaN last), int32.</summary>
    public static Primitive Argsort { get { if (argsort is null) Vocabulary.Ensure(); return argsort!; } private set => argsort = value; }
    static Primitive? argsort;
    /// <summary>The indices of the k largest along the last axis, int32.</summary>
    public static Primitive TopKIndices { get { if (topKIndices is null) Vocabulary.Ensure(); return topKIndices!; } private set => topKIndices = value; }
    static Primitive? topKIndices;
    /// <summary>Insertion indices into a sorted 1-D tensor, int32.</summary>
    public static Primitive SearchSorted { get { if (searchSorted is null) Vocabulary.Ensure(); return searchSorted!; } private set => searchSorted = value; }
    static Primitive? searchSorted;
    /// <summary>Np.Sort: TakeAlongAxis(x, Argsort(x)).</summary>
    public static Primitive Sort { get { if (sort is null) Vocabulary.Ensure(); return sort!; } private set => sort = value; }
    static Primitive? sort;
    /// <summary>Np.TopK: (TakeAlongAxis(x, i, -1), i) with i = TopKIndices(x, k).</summary>
    public static Primitive TopK { get { if (topK is null) Vocabulary.Ensure(); return topK!; } private set => topK = value; }
    static Primitive? topK;

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
