using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using static Functional.AD.Np;

namespace Functional.AD.Testing;

public static partial class Specs
{
    /// <summary>A spec random programs apply to operands of its own shapes (<see cref="SpecFamily.FixedShapes"/>), not by
    /// an inferred family: the axis moves and squeezes keep the shape on some inputs (so they would be taken for
    /// elementwise) and Triu's k is not an axis.</summary>
    static PrimitiveSpec NotAlongAxis(string name, Expression<Func<Tensor, Tensor>> f, Func<DType, Gen<Tensor[]>> inputs) =>
        new() { Name = name, Function = f, Inputs = inputs, Family = SpecFamily.FixedShapes };

    /// <summary>The shape vocabulary of jax.numpy (Prims.Shapes.cs): one line per spelling and case.</summary>
    static IEnumerable<PrimitiveSpec> ShapeVocabulary() =>
    [
        NotAlongAxis("ExpandDims", x => ExpandDims(x, 1), t => OneOfShape(t, [2, 3])),
        NotAlongAxis("ExpandDims(-1)", x => ExpandDims(x, -1), t => Gens.Shape(0, 3).SelectMany(s => OneOfShape(t, s))),
        NotAlongAxis("Squeeze", x => Squeeze(x), t => OneOfShape(t, [1, 3, 1, 2])),
        NotAlongAxis("Squeeze(axes)", x => Squeeze(x, new[] { 0, -1 }), t => OneOfShape(t, [1, 3, 2, 1])),
        NotAlongAxis("MoveAxis", x => MoveAxis(x, 0, -1), t => OneOfShape(t, [2, 3, 4])),
        NotAlongAxis("SwapAxes", x => SwapAxes(x, 2, 0), t => OneOfShape(t, [2, 3, 4])),
        S("Flip", x => Flip(x, 0), t => Gens.Shape(1, 3).SelectMany(s => OneOfShape(t, s))),
        S("Flip(axes)", x => Flip(x, new[] { -1, 0 }), t => OneOfShape(t, [3, 4])),
        S("Roll", x => Roll(x, 2, -1), t => Gens.Shape(1, 3).SelectMany(s => OneOfShape(t, s))),
        S("Roll(shifts, axes)", x => Roll(x, new[] { -1, 5 }, new[] { 0, 1 }), t => OneOfShape(t, [3, 4])),
        S("Repeat", x => Repeat(x, 3, 1), t => OneOfShape(t, [2, 3])),
        S("Tile", x => Tile(x, new[] { 2, 3 }), t => OneOfShape(t, [2, 2])),
        S("Tile(fewer reps)", x => Tile(x, new[] { 2 }), t => OneOfShape(t, [3, 2])),
        S("Pad", x => Pad(x, new[] { 1, 2, 0, 1 }), t => OneOfShape(t, [2, 3])),
        S("Pad(value)", x => Pad(x, new[] { 2, 1 }, 1.5), t => OneOfShape(t, [3])),
        S("Pad(edge)", x => Pad(x, new[] { 2, 1, 1, 3 }, PadMode.Edge), t => OneOfShape(t, [2, 3])),
        S("Pad(reflect)", x => Pad(x, new[] { 2, 1, 0, 2 }, PadMode.Reflect), t => OneOfShape(t, [3, 4])),
        S("AxisScatterAdd", g => Lax.AxisScatterAdd(g, A(3, 2), new[] { new AxisMap(AxisMapKind.PadReflect, 0, 2, 1), new AxisMap(AxisMapKind.Repeat, -1, 2) }), t => OneOfShape(t, [6, 4])),
        S("Triu", x => Triu(x), t => OneOfShape(t, [3, 4])),
        // Triu(x, k) reads as f(x, int) but k is a diagonal, not an axis: not generated as an along-axis function
        NotAlongAxis("Triu(k)", x => Triu(x, 1), t => OneOfShape(t, [2, 4, 3])),
        S("Tril", x => Tril(x), t => OneOfShape(t, [4, 3])),
        NotAlongAxis("Tril(k)", x => Tril(x, -1), t => OneOfShape(t, [3, 3])),
    ];
}
