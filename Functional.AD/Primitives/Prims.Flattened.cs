namespace Functional.AD;

/// <summary>
/// numpy's <c>axis=None</c> spellings of Sort, Argsort, Cumsum, Cumprod, Cummax and CumLogSumExp, each a composite:
/// with a null axis it is read as <c>Reshape(x, [-1])</c> then the axis form along axis 0, with an int axis as the axis
/// form itself, so its derivative, Vmap, jit and Torch are theirs. And <c>Np.ArraySplit</c>'s pieces, each an
/// AxisGather whose map (<see cref="AxisMapKind.UnevenSection"/>) is resolved when the axis length is known, read like
/// <c>Np.Split</c>'s (<see cref="PiecesOf"/>). Made by <see cref="DeclareFlattened"/>.
/// </summary>
internal static partial class Prims
{
    /// <summary>A composite over <c>Np.{name}(Tensor, int?[, bool])</c>: a null axis flattens x and runs <paramref name="axisForm"/> along axis 0.</summary>
    static void Flattening(string name, Primitive axisForm, params Type[] rest)
    {
        var p = Def(name + "Flattened", Np_(name, [T, typeof(int?), .. rest]));
        p.Family = PrimFamily.Structure;
        p.Rewrite = (b, a, prm) =>
        {
            var axis = prm.Get<int?>(0);
            var x = axis is null ? b.Apply(Reshape, [a[0]], new Params((object)new[] { -1 })) : a[0];
            var values = prm.Values.ToArray();
            values[0] = axis ?? 0;
            return b.Apply(axisForm, [x], new Params(values));
        };
        composites.Add(p);
        Batch(p, BatchRules.Never);
    }

    static void DeclareFlattened()
    {
        Flattening("Sort", Sort);
        Flattening("Argsort", Argsort);
        Flattening("Cumsum", Cumsum, BoolT);
        Flattening("Cumprod", Cumprod, BoolT);
        Flattening("Cummax", Cummax, BoolT);
        Flattening("CumLogSumExp", CumLogSumExp, BoolT);
        static (Primitive, Params)[] Gathers(AxisMap[] maps) => maps.Select(m => (AxisGather, new Params((object)new[] { m }))).ToArray();
        piecesOf[Np_("ArraySplit", T, IntT, IntT)] = s => Gathers(Np.ArraySplitMaps((int)s[0]!, (int)s[1]!));
        piecesOf[Np_("ArraySplit", T, typeof(int[]), IntT)] = s => Gathers(Np.SplitMaps((int[])s[0]!, (int)s[1]!));
    }
}
