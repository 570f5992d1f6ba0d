using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using static Functional.AD.Np;

namespace Functional.AD.Testing;

public static partial class Specs
{
    /// <summary>Distinct values of one shape (no ties, so a sort's permutation is stable under small perturbations).</summary>
    static Gen<Tensor[]> DistinctShaped(DType t, int[] shape) => Gens.DistinctTensor(shape, t).Select(x => new[] { x });

    static readonly Tensor SortedGrid = new(new[] { -1.0, -0.25, 0.5, 1.0 });

    /// <summary>The contractions and sorting (Prims.Contractions.cs, Prims.Sorting.cs): one line per spelling and case.</summary>
    static IEnumerable<PrimitiveSpec> ContractionsAndSorting() =>
    [
        NotAlongAxis("Einsum(trace)", x => Einsum("ii->", x), t => OneOfShape(t, [3, 3])),
        NotAlongAxis("Einsum(diagonal, transpose)", x => Einsum("iji->ji", x), t => OneOfShape(t, [3, 2, 3])),
        S("Einsum(bmm)", (a, b) => Einsum("bij,bjk->bik", a, b), t => Shapes(t, [2, 3, 4], [2, 4, 2])),
        S("Einsum(ellipsis, broadcast)", (a, b) => Einsum("...ij,...jk->...ik", a, b), t => Shapes(t, [2, 1, 3, 2], [3, 2, 4])),
        S("Einsum(three operands)", (a, b, c) => Einsum("ij,jk,kl->li", a, b, c), t => Shapes(t, [2, 3], [3, 4], [4, 2])),
        S("Einsum(implicit, sum)", (a, b) => Einsum("ijk,ik", a, b), t => Shapes(t, [2, 3, 2], [2, 2])),
        S("Lax.EinsumLike", (g, b) => Lax.EinsumLike("ik,jk->iij", new Aval(new[] { 3, 3, 2 }, DType.Float64), g, b), t => Shapes(t, [3, 4], [2, 4])),
        S("TensorDot", (a, b) => TensorDot(a, b, 2), t => Shapes(t, [2, 3, 4], [3, 4, 2])),
        S("TensorDot(axes)", (a, b) => TensorDot(a, b, new[] { 0, 2 }, new[] { 1, 0 }), t => Shapes(t, [3, 2, 4], [4, 3])),
        S("Outer", (a, b) => Outer(a, b), t => Shapes(t, [2, 2], [3])),
        S("Kron", (a, b) => Kron(a, b), t => Shapes(t, [2, 3], [2, 2])),
        S("Kron(ranks differ)", (a, b) => Kron(a, b), t => Shapes(t, [3], [2, 2])),
        S("Lax.EinsumLike(kronT0)", (g, b) => Lax.EinsumLike("kronT0", new Aval(new[] { 2, 3 }, DType.Float64), g, b), t => Shapes(t, [4, 6], [2, 2])),
        S("Argsort", x => Argsort(x, 0), t => Distinct(t, 1), fd: false),
        S("Sort", x => Sort(x, -1), t => Distinct(t, 1)),
        S("Sort(axis 0)", x => Sort(x, 0), t => DistinctShaped(t, [4, 3])),
        S("TopK", x => TopK(x, 2).Item1, t => DistinctShaped(t, [3, 4])),
        S("TopK(indices)", x => TopK(x, 3).Item2, t => DistinctShaped(t, [2, 5]), fd: false),
        S("SearchSorted", v => SearchSorted(SortedGrid, v, "left"), t => One(t), fd: false),
        S("SearchSorted(right)", (s, v) => SearchSorted(Sort(s, -1), v, "right"), t => Shapes(t, [5], [3]), fd: false),
    ];
}
