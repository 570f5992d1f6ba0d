using static Functional.AD.Np;

namespace Functional.AD.Testing;

public static partial class Specs
{
    /// <summary>
    /// The product and cumulative vocabulary (Prims.Cumulative.cs): one line per primitive and case. The running
    /// maximum on distinct elements (its ties and the products' zeros are CumulativeVocabularyTests'); random programs apply
    /// the cumulative lines to operands of their shapes (<see cref="SpecFamily.FixedShapes"/>: their third argument is a
    /// direction, not keepdims).
    /// </summary>
    static IEnumerable<PrimitiveSpec> CumulativeVocabulary() =>
    [
        S("Prod", x => Prod(x), t => OneOfShape(t, [3, 4])),
        S("Prod(axis: 1)", x => Prod(x, 1, false), t => OneOfShape(t, [3, 4, 2])),
        S("Prod(axis: -1, keepdims)", x => Prod(x, -1, true), t => OneOfShape(t, [2, 5])),
        S("Prod(axes: 0, 2)", x => Prod(x, Axes.Of(0, 2), false), t => OneOfShape(t, [3, 2, 2])),
        S("Cumsum", x => Cumsum(x, 0, false), t => OneOfShape(t, [4, 3])),
        S("Cumsum(axis: -1, reverse)", x => Cumsum(x, -1, true), t => OneOfShape(t, [2, 3, 4])),
        S("Cumprod", x => Cumprod(x, 1, false), t => OneOfShape(t, [3, 4])),
        S("Cumprod(axis: 0, reverse)", x => Cumprod(x, 0, true), t => OneOfShape(t, [4, 2])),
        S("Cummax", x => Cummax(x, 1, false), t => DistinctOfShape(t, [3, 5])),
        S("Cummax(axis: 0, reverse)", x => Cummax(x, 0, true), t => DistinctOfShape(t, [5, 2])),
        S("CumLogSumExp", x => CumLogSumExp(x, 0, false), t => OneOfShape(t, [4, 3])),
        S("CumLogSumExp(axis: -1, reverse)", x => CumLogSumExp(x, -1, true), t => OneOfShape(t, [2, 5])),
        S("LinearRecurrence", (a, b) => Lax.LinearRecurrence(a, b, 1, false), t => Shapes(t, [3, 4], [3, 4])),
        S("LinearRecurrence(broadcast, reverse)", (a, b) => Lax.LinearRecurrence(a, b, -1, true), t => Shapes(t, [4], [2, 4])),
        // diagonals: k is a diagonal, not an axis (not generated as an along-axis function)
        NotAlongAxis("Diag(vector)", x => Diag(x, 0), t => OneOfShape(t, [3])),
        NotAlongAxis("Diag(vector, k: -2)", x => Diag(x, -2), t => OneOfShape(t, [2])),
        NotAlongAxis("Diag(matrix, k: 1)", x => Diag(x, 1), t => OneOfShape(t, [3, 4])),
        NotAlongAxis("Diag(matrix, k: -1)", x => Diag(x, -1), t => OneOfShape(t, [4, 2])),
        NotAlongAxis("DiagTranspose(onto a matrix)", g => Lax.DiagTranspose(g, A(3, 4), 1), t => OneOfShape(t, [3])),
        // the pieces of a split: AxisGathers with a Section or Slice map
        NotAlongAxis("Split(sections)[1]", x => Split(x, 3, 0)[1], t => OneOfShape(t, [6, 2])),
        NotAlongAxis("Split(indices)[1]", x => Split(x, new[] { 1, 3 }, -1)[1], t => OneOfShape(t, [2, 5])),
        NotAlongAxis("Split(indices)[2], to the end", x => Split(x, new[] { 1, 3 }, -1)[2] * 2.0, t => OneOfShape(t, [2, 5])),
        NotAlongAxis("DiagTranspose(of a square)", g => Lax.DiagTranspose(g, A(2), -1), t => OneOfShape(t, [3, 3])),
    ];
}
