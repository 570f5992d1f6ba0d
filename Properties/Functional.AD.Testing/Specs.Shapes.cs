using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;
using static Functional.AD.Np;

namespace Functional.AD.Testing;

public static partial class Specs
{
    /// <summary>The shape vocabulary of jax.numpy (Prims.Shapes.cs): one line per spelling and case.</summary>
    static IEnumerable<PrimitiveSpec> ShapeVocabulary() =>
    [
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
        S("AxisScatterAdd", g => Lax.AxisScatterAdd(g, A(3, 2), new[] { new AxisMap(AxisMapKind.PadReflect, 0, 2, 1), new AxisMap(AxisMapKind.Repeat, -1, 2) }), t => OneOfShape(t, [6, 4]), fuzzed: false),
        S("Triu", x => Triu(x), t => OneOfShape(t, [3, 4])),
        S("Triu(k)", x => Triu(x, 1), t => OneOfShape(t, [2, 4, 3])),
        S("Tril", x => Tril(x), t => OneOfShape(t, [4, 3])),
        S("Tril(k)", x => Tril(x, -1), t => OneOfShape(t, [3, 3])),
    ];
}
