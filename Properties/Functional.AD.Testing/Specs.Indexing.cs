using System.Linq.Expressions;
using FsCheck;
using FsCheck.Fluent;

namespace Functional.AD.Testing;

public static partial class Specs
{
    static readonly System.Range MiddleRange = 1..^1;
    static readonly System.Index LastIndex = ^1;
    static readonly Tensor[] Starts10 = [1, 0];
    /// <summary>Rows and columns of a [3, 4] tensor, broadcasting [2, 1] against [3] (a repeat and negative ones).</summary>
    static readonly Tensor[] RowsCols = [new(new[] { 2, -3 }, [2, 1]), new(new[] { 0, 3, -1 })];
    /// <summary>Indices along axis 1 of a [3, 4] tensor: one column per row, broadcast over nothing, with a repeat and a negative one.</summary>
    static readonly Tensor AlongIdx = new(new[] { 3, 0, 0, -1, 1, 2 }, [3, 2]);
    /// <summary>Indices along axis 0 of a [3, 4] tensor, broadcast over the columns.</summary>
    static readonly Tensor AlongIdx0 = new(new[] { 2, 2, 0, -3, 1 }, [5, 1]);

    static PrimitiveSpec I(string name, Expression<Func<Tensor, Tensor>> f, Func<DType, Gen<Tensor[]>> inputs, bool fuzzed = true) =>
        new() { Name = name, Function = f, Inputs = inputs, Family = SpecFamily.FixedShapes, Fuzzed = fuzzed };
    static PrimitiveSpec I(string name, Expression<Func<Tensor, Tensor, Tensor>> f, Func<DType, Gen<Tensor[]>> inputs, bool fuzzed = true) =>
        new() { Name = name, Function = f, Inputs = inputs, Family = SpecFamily.FixedShapes, Fuzzed = fuzzed };
    static PrimitiveSpec I(string name, Expression<Func<Tensor, Tensor, Tensor, Tensor>> f, Func<DType, Gen<Tensor[]>> inputs, bool fuzzed = true) =>
        new() { Name = name, Function = f, Inputs = inputs, Family = SpecFamily.FixedShapes, Fuzzed = fuzzed };

    /// <summary>Indexing and slicing (Prims.Indexing.cs): one line per spelling and case.</summary>
    static IEnumerable<PrimitiveSpec> IndexingVocabulary() =>
    [
        I("x[i]", x => x[1], t => OneOfShape(t, [3, 4])),
        I("x[-1]", x => x[-1], t => OneOfShape(t, [3])),
        I("x[FromEnd, Range]", x => x[Ix.FromEnd(1), Ix.Range(1, 3)], t => OneOfShape(t, [3, 4])),
        I("x[All, step]", x => x[Ix.All, Ix.Range(0, 5, 2)], t => OneOfShape(t, [2, 5, 2])),
        I("x[backwards]", x => x[Ix.Range(null, null, -2), Ix.Range(2, 0, -1)], t => OneOfShape(t, [5, 3])),
        I("x[captured Range, Index]", x => x[MiddleRange, LastIndex], t => OneOfShape(t, [4, 3])),
        I("x.At(i).Set(v)", (x, v) => x.At(1, Ix.Range(0, 2)).Set(v), t => Shapes(t, [3, 4], [2])),
        I("x.At(i).Set(scalar)", (x, v) => x.At(Ix.All, 0).Set(v), t => Shapes(t, [3, 2], [])),
        I("x.At(i).Set(const)", x => x.At(Ix.Range(0, 4, 3)).Set(2.5), t => OneOfShape(t, [4, 2])),
        I("x.At(i).Add(v)", (x, v) => x.At(Ix.FromEnd(1)).Add(v), t => Shapes(t, [3, 2], [2])),
        I("x.At(i).Mul(v)", (x, v) => x.At(0).Mul(v), t => Shapes(t, [2, 3], [3])),
        I("x.At(i).Min(v)", (x, v) => x.At(Ix.All, Ix.Range(1, 3)).Min(v), t => Shapes(t, [2, 3], [2, 2])),
        I("x.At(i).Max(v)", (x, v) => x.At(Ix.Range(null, null, -1)).Max(v), t => Shapes(t, [3], [3])),
        I("DynamicSlice", x => Lax.DynamicSlice(x, Starts10, new[] { 2, 2 }), t => OneOfShape(t, [4, 3])),
        // (a traced start is rounded down to an index, so it jumps at integers: the start is Floor(2 s) + 0.5, half an
        // index from any jump, so that central differences in s never cross one; not fuzzed, since a random start
        // operand in a random program would cross them)
        I("DynamicSlice(traced start)", (x, s) => Lax.DynamicSlice(x, new[] { Np.Floor(s * 2) + 0.5 }, new[] { 2 }), t => Shapes(t, [5], []), fuzzed: false),
        I("DynamicUpdateSlice", (x, u) => Lax.DynamicUpdateSlice(x, u, Starts10), t => Shapes(t, [4, 3], [2, 3])),
        I("DynamicUpdateSlice(traced start)", (x, u, s) => Lax.DynamicUpdateSlice(x, u, new[] { Np.Floor(s * 2) + 0.5 }), t => Shapes(t, [4], [2], []), fuzzed: false),
        I("TakeAlongAxis", x => Np.TakeAlongAxis(x, AlongIdx, 1), t => OneOfShape(t, [3, 4])),
        I("TakeAlongAxis(axis 0, broadcast)", x => Np.TakeAlongAxis(x, AlongIdx0, 0), t => OneOfShape(t, [3, 4])),
        I("ScatterAlongAxis", g => Lax.ScatterAlongAxis(g, AlongIdx, -1, A(3, 4)), t => OneOfShape(t, [3, 2])),
        I("GatherAxes", x => Lax.GatherAxes(x, RowsCols), t => OneOfShape(t, [3, 4, 2])),
        I("ScatterAddAxes", g => Lax.ScatterAddAxes(g, A(3, 4, 2), RowsCols), t => OneOfShape(t, [2, 3, 2])),
        I("DynamicSliceLike", g => Lax.DynamicSliceLike(g, A(2, 2), Starts10), t => OneOfShape(t, [3, 4])),
    ];
}
