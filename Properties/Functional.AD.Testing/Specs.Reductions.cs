using FsCheck;
using FsCheck.Fluent;
using static Functional.AD.Np;

namespace Functional.AD.Testing;

public static partial class Specs
{
    /// <summary>
    /// The reduction vocabulary (Prims.Reductions.cs): one line per composite and case, so the generic properties (JVP
    /// against differences, the dot test, Vmap, Jit, Torch, dtypes) cover what each is rewritten into. Shapes are fixed
    /// (the axes need rank 3); maxima and minima on distinct elements (ties are ReductionVocabularyTests'). Random programs
    /// apply them to operands of these shapes (<see cref="SpecFamily.FixedShapes"/>).
    /// </summary>
    static IEnumerable<PrimitiveSpec> ReductionVocabulary() =>
    [
        S("Sum(axes: 0, 2)", x => Sum(x, Axes.Of(0, 2), false), t => OneOfShape(t, [3, 4, 2])),
        S("Sum(axes: 0, -1, keepdims)", x => Sum(x, Axes.Of(0, -1), true), t => OneOfShape(t, [3, 4, 2])),
        S("Mean(axes: -1, -2, keepdims)", x => Mean(x, Axes.Of(-1, -2), true), t => OneOfShape(t, [3, 4, 2])),
        S("Max(axes: 0, 1)", x => Max(x, Axes.Of(0, 1), false), t => DistinctOfShape(t, [3, 4, 2])),
        S("Max(axes: 2, 0, keepdims)", x => Max(x, Axes.Of(2, 0), true), t => DistinctOfShape(t, [3, 4, 2])),
        S("Min(axis: 1)", x => Min(x, 1, false), t => DistinctOfShape(t, [3, 4])),
        S("Min", x => Min(x), t => DistinctOfShape(t, [5])),
        S("Min(axes: -1, -3)", x => Min(x, Axes.Of(-1, -3), false), t => DistinctOfShape(t, [3, 4, 2])),
        S("LogSumExp(axes: 0, 2)", x => LogSumExp(x, Axes.Of(0, 2), false), t => OneOfShape(t, [3, 4, 2])),
        S("Var(axes: 0, 1, ddof: 1)", x => Var(x, Axes.Of(0, 1), false, 1), t => OneOfShape(t, [3, 4, 2])),
        S("Var(axis: -1, keepdims)", x => Var(x, -1, true), t => OneOfShape(t, [3, 4])),
        // (Std is not fuzzed: its gradient is infinite where the elements are equal, as random programs' broadcast operands often are)
        S("Std(axis: 0, ddof: 1)", x => Std(x, 0, false, 1), t => OneOfShape(t, [4, 3]), fuzzed: false),
        S("Std(axes: 1, 2)", x => Std(x, Axes.Of(1, 2), false), t => OneOfShape(t, [3, 4, 2]), fuzzed: false),
        S("Norm", x => Norm(x), t => OneOfShape(t, [3, 4], Domain.AwayFromZero)),
        S("Norm(axes: -2, -1)", x => Norm(x, Axes.Of(-2, -1), false), t => OneOfShape(t, [2, 3, 4], Domain.AwayFromZero)),
        S("VectorNorm(1, axis: 0)", x => VectorNorm(x, 1, 0, false), t => OneOfShape(t, [3, 4], Domain.AwayFromZero)),
        S("VectorNorm(3, axis: -1)", x => VectorNorm(x, 3, -1, true), t => OneOfShape(t, [3, 4], Domain.AwayFromZero)),
        S("VectorNorm(inf)", x => VectorNorm(x, double.PositiveInfinity, null, false), t => DistinctOfShape(t, [3, 4])),
        S("Argmin", x => Argmin(x, -1), t => DistinctOfShape(t, [3, 4]), fd: false),
        S("Any", x => Any(x, Axes.Of(0, 1), false), t => OneOfShape(t, [3, 4, 2]), fd: false),
        S("All", x => All(x, 1, true), t => OneOfShape(t, [3, 4]), fd: false),
    ];
}
