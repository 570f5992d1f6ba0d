using System.Reflection;

namespace Functional.AD;

/// <summary>
/// Np.Split: each piece is an AxisGather whose map names the piece (a section of equal ones, or a slice between split
/// indices), so its derivative, transpose (AxisScatterAdd), Vmap, jit and Torch are the gather's. The reader reads a
/// call as its pieces, an array that <c>[i]</c> indexes (<see cref="PiecesOf"/>). Made by <see cref="DeclareSplit"/>.
/// </summary>
internal static partial class Prims
{
    static readonly Dictionary<MethodInfo, Func<object?[], (Primitive Op, Params Params)[]>> piecesOf = new();

    /// <summary>
    /// How a call of a method returning several tensors is read: one primitive application per piece, given the call's
    /// constant arguments; null for other methods. The pieces are the vocabulary's: a method that is not a core
    /// primitive declares it first.
    /// </summary>
    public static Func<object?[], (Primitive Op, Params Params)[]>? PiecesOf(MethodInfo m)
    {
        if (piecesOf.TryGetValue(m, out var pieces) || byMethod.ContainsKey(m)) return pieces;
        EnsureVocabulary();
        return piecesOf.GetValueOrDefault(m);
    }

    static void DeclareSplit()
    {
        static (Primitive, Params)[] Gathers(AxisMap[] maps) => maps.Select(m => (AxisGather, new Params((object)new[] { m }))).ToArray();
        piecesOf[Np_("Split", T, IntT, IntT)] = s => Gathers(Np.SplitMaps((int)s[0]!, (int)s[1]!));
        piecesOf[Np_("Split", T, typeof(int[]), IntT)] = s => Gathers(Np.SplitMaps((int[])s[0]!, (int)s[1]!));
    }
}
