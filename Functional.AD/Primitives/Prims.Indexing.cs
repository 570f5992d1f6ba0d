using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// Indexing and slicing (Lax.Indexing.cs), five structural primitives:
/// <list type="bullet">
/// <item><c>Index(x, ix)</c>: the part a static index list selects (<c>x[i]</c>); linear, transpose <c>IndexSet</c> of the
/// cotangent into zeros.</item>
/// <item><c>IndexSet(x, v, ix)</c>: x with the part replaced by v (<c>x.At(i).Set(v)</c>); jointly linear: x's cotangent
/// is the output's with the part zeroed (<c>IndexSet(ct, 0)</c>), v's the part of it summed to v's shape.</item>
/// <item><c>IndexAdd(x, v, ix)</c>: v added to the part (<c>x.At(i).Add(v)</c>); jointly linear: x's cotangent is the
/// output's, v's the part of it. Mul, Min and Max are read as <c>IndexSet(x, op(Index(x), v))</c>.</item>
/// <item><c>DynamicSlice(x, starts, sizes)</c> and <c>DynamicUpdateSlice(x, u, starts)</c>: JAX's, starts traced and
/// clamped; each the other's transpose (with <c>DynamicSliceLike</c>, the slice sized by an aval).</item>
/// </list>
/// Vmap: the batch axes lead, so a static index list gains whole-axis indices in front and a dynamic one zero starts.
/// </summary>
internal static partial class Prims
{
    /// <summary>The part a static index list selects.</summary>
    public static Primitive Index { get { if (index is null) Vocabulary.Ensure(); return index!; } private set => index = value; }
    static Primitive? index;
    /// <summary>The part replaced.</summary>
    public static Primitive IndexSet { get { if (indexSet is null) Vocabulary.Ensure(); return indexSet!; } private set => indexSet = value; }
    static Primitive? indexSet;
    /// <summary>A value added to the part.</summary>
    public static Primitive IndexAdd { get { if (indexAdd is null) Vocabulary.Ensure(); return indexAdd!; } private set => indexAdd = value; }
    static Primitive? indexAdd;
    /// <summary>A block at traced starts.</summary>
    public static Primitive DynamicSlice { get { if (dynamicSlice is null) Vocabulary.Ensure(); return dynamicSlice!; } private set => dynamicSlice = value; }
    static Primitive? dynamicSlice;
    /// <summary>A block at traced starts replaced.</summary>
    public static Primitive DynamicUpdateSlice { get { if (dynamicUpdateSlice is null) Vocabulary.Ensure(); return dynamicUpdateSlice!; } private set => dynamicUpdateSlice = value; }
    static Primitive? dynamicUpdateSlice;
    /// <summary>A block at traced starts, sized like an aval (the transpose of DynamicUpdateSlice).</summary>
    public static Primitive DynamicSliceLike { get { if (dynamicSliceLike is null) Vocabulary.Ensure(); return dynamicSliceLike!; } private set => dynamicSliceLike = value; }
    static Primitive? dynamicSliceLike;
    /// <summary>A gather along one axis with indices of x's rank (Np.TakeAlongAxis).</summary>
    public static Primitive TakeAlongAxis { get { if (takeAlongAxis is null) Vocabulary.Ensure(); return takeAlongAxis!; } private set => takeAlongAxis = value; }
    static Primitive? takeAlongAxis;
    /// <summary>Its transpose: a scatter-add along the axis.</summary>
    public static Primitive ScatterAlongAxis { get { if (scatterAlongAxis is null) Vocabulary.Ensure(); return scatterAlongAxis!; } private set => scatterAlongAxis = value; }
    static Primitive? scatterAlongAxis;
    /// <summary>A gather over the leading axes at once (Lax.GatherAxes).</summary>
    public static Primitive GatherAxes { get { if (gatherAxes is null) Vocabulary.Ensure(); return gatherAxes!; } private set => gatherAxes = value; }
    static Primitive? gatherAxes;
    /// <summary>Its transpose: a scatter-add over the leading axes.</summary>
    public static Primitive ScatterAddAxes { get { if (scatterAddAxes is null) Vocabulary.Ensure(); return scatterAddAxes!; } private set => scatterAddAxes = value; }
    static Primitive? scatterAddAxes;

    static readonly Type Ixs = typeof(Ix[]);

    static void DeclareIndexing()
    {
        Index = Structural("Index", Lax_("Index", T, Ixs),
            (c, t) => Ap(Index!, [t[0]!], c.P),
            (c, ct) => [Ap(IndexSet!, [R.Zeros(c.Aval(0)), ct], c.P)],
            [0], IndexBatch);
        IndexSet = Structural("IndexSet", Lax_("IndexSet", T, T, Ixs),
            (c, t) => Ap(IndexSet!, [t[0] ?? R.ZerosOf(c.X[0]), t[1] ?? c.X[1].Const(0)], c.P),
            (c, ct) => [c.Linear[0] ? Ap(IndexSet!, [ct, ct.Const(0)], c.P) : null,
                c.Linear[1] ? c.Unbroadcast(Ap(Index!, [ct], c.P), 1) : null],
            [0, 1], IndexBatch);
        IndexAdd = Structural("IndexAdd", Lax_("IndexAdd", T, T, Ixs),
            (c, t) => Ap(IndexAdd!, [t[0] ?? R.ZerosOf(c.X[0]), t[1] ?? c.X[1].Const(0)], c.P),
            (c, ct) => [c.Linear[0] ? ct : null, c.Linear[1] ? c.Unbroadcast(Ap(Index!, [ct], c.P), 1) : null],
            [0, 1], IndexBatch);
        Index.FormatRule = (a, _, p) => p.Get<Ix[]>(0).Length == 0 ? $"Lax.Index({a[0]}, new Ix[0])" : $"{a[0]}[{string.Join(", ", p.Get<Ix[]>(0))}]";
        IndexSet.FormatRule = (a, _, p) => $"{a[0]}.At({string.Join(", ", p.Get<Ix[]>(0))}).Set({a[1]})";
        IndexAdd.FormatRule = (a, _, p) => $"{a[0]}.At({string.Join(", ", p.Get<Ix[]>(0))}).Add({a[1]})";

        // dynamic blocks: operands x (and the update, or the aval giving the sizes), then one start per axis
        var TA = typeof(Tensor[]);
        DynamicSlice = Structural("DynamicSlice", Lax_("DynamicSlice", T, TA, typeof(int[])),
            (c, t) => Ap(DynamicSlice!, [t[0]!, .. c.X.Skip(1)], c.P),
            (c, ct) => [Ap(DynamicUpdateSlice!, [R.Zeros(c.Aval(0)), ct, .. c.X.Skip(1)], Params.None), .. c.X.Skip(1).Select(_ => (V?)null)],
            [0], DynamicBatch);
        DynamicUpdateSlice = Structural("DynamicUpdateSlice", Lax_("DynamicUpdateSlice", T, T, TA),
            (c, t) => Ap(DynamicUpdateSlice!, [t[0] ?? R.ZerosOf(c.X[0]), t[1] ?? R.ZerosOf(c.X[1]), .. c.X.Skip(2)], c.P),
            (c, ct) => [c.Linear[0] ? Ap(DynamicUpdateSlice!, [ct, R.Zeros(c.Aval(1)), .. c.X.Skip(2)], c.P) : null,
                c.Linear[1] ? Own(c, 1, Ap(DynamicSliceLike!, [ct, c.Aval(1), .. c.X.Skip(2)], Params.None)) : null,
                .. c.X.Skip(2).Select(_ => (V?)null)],
            [0, 1], DynamicBatch);
        DynamicSliceLike = Structural("DynamicSliceLike", Lax_("DynamicSliceLike", T, A, TA),
            (c, t) => Ap(DynamicSliceLike!, [t[0]!, .. c.X.Skip(1)], c.P),
            (c, ct) => [Ap(DynamicUpdateSlice!, [R.Zeros(c.Aval(0)), ct, .. c.X.Skip(2)], Params.None), .. c.X.Skip(1).Select(_ => (V?)null)],
            [0], DynamicBatch);
        // along one axis with indices of x's rank: linear in x (and g), the indices and the aval non-differentiable
        TakeAlongAxis = Structural("TakeAlongAxis", Np_("TakeAlongAxis", T, T, typeof(int)),
            (c, t) => Ap(TakeAlongAxis!, [t[0]!, c.X[1]], c.P),
            (c, ct) => [Own(c, 0, Ap(ScatterAlongAxis!, [ct, c.X[1], c.Aval(0)], c.P)), null],
            [0], AlongAxisBatch);
        ScatterAlongAxis = Structural("ScatterAlongAxis", Lax_("ScatterAlongAxis", T, T, typeof(int), A),
            (c, t) => Ap(ScatterAlongAxis!, [t[0]!, c.X[1], c.X[2]], c.P),
            (c, ct) => [Ap(TakeAlongAxis!, [ct, c.X[1]], c.P), null, null],
            [0], AlongAxisBatch);
        // over several leading axes: operands x (or g and x's aval), then one index tensor per axis
        GatherAxes = Structural("GatherAxes", Lax_("GatherAxes", T, TA),
            (c, t) => Ap(GatherAxes!, [t[0]!, .. c.X.Skip(1)], c.P),
            (c, ct) => [Own(c, 0, Ap(ScatterAddAxes!, [ct, c.Aval(0), .. c.X.Skip(1)], c.P)), .. c.X.Skip(1).Select(_ => (V?)null)],
            [0], AxesBatch);
        ScatterAddAxes = Structural("ScatterAddAxes", Lax_("ScatterAddAxes", T, A, TA),
            (c, t) => Ap(ScatterAddAxes!, [t[0]!, .. c.X.Skip(1)], c.P),
            (c, ct) => [Ap(GatherAxes!, [ct, .. c.X.Skip(2)], c.P), .. c.X.Skip(1).Select(_ => (V?)null)],
            [0], AxesBatch);
        GatherAxes.NonDiff = SmallArrays.Range(1, 64);
        ScatterAddAxes.NonDiff = SmallArrays.Range(1, 65);
        GatherAxes.FormatRule = (a, _, _) => $"Lax.GatherAxes({a[0]}, new Tensor[] {{ {string.Join(", ", a.Skip(1))} }})";
        ScatterAddAxes.FormatRule = (a, _, _) => $"Lax.ScatterAddAxes({a[0]}, {a[1]}, new Tensor[] {{ {string.Join(", ", a.Skip(2))} }})";
        // shapes without running the gathers: shape inference runs a primitive on placeholder operands (ones for
        // integers), which are not valid indices of an axis of length 1
        ValueFree(GatherAxes, (a, _) => a.Skip(1).Any(i => i.DType == DType.Bool) ? throw IndexMoves.MaskRefused("Lax.GatherAxes", a) : Aval.Intern([.. BroadcastDims(a.Skip(1).Select(x => x.Dims)), .. a[0].Dims[(a.Length - 1)..]], a[0].DType, a[0].Weak));
        ValueFree(ScatterAddAxes, (a, _) => Aval.Intern(a[1].Dims, a[0].DType, a[0].Weak));
        ValueFree(TakeAlongAxis, (a, prm) =>
        {
            if (a[1].DType == DType.Bool) throw IndexMoves.MaskRefused("Np.TakeAlongAxis", a);
            var d = (int[])a[0].Dims.Clone();
            int ax = prm.Get<int>(0) < 0 ? prm.Get<int>(0) + d.Length : prm.Get<int>(0);
            if (a[1].Rank == d.Length && ax >= 0 && ax < d.Length) d[ax] = a[1].Dims[ax];
            return Aval.Intern(d, a[0].DType, a[0].Weak);
        });
        ValueFree(ScatterAlongAxis, (a, _) => Aval.Intern(a[2].Dims, a[0].DType, a[0].Weak));
        DynamicSlice.NonDiff = SmallArrays.Range(1, 64);
        DynamicUpdateSlice.NonDiff = SmallArrays.Range(2, 64);
        DynamicSliceLike.NonDiff = SmallArrays.Range(1, 64);
        DynamicSlice.FormatRule = (a, _, p) => $"Lax.DynamicSlice({a[0]}, new Tensor[] {{ {string.Join(", ", a.Skip(1))} }}, new[] {{ {string.Join(", ", p.Get<int[]>(0))} }})";
        DynamicUpdateSlice.FormatRule = (a, _, _) => $"Lax.DynamicUpdateSlice({a[0]}, {a[1]}, new Tensor[] {{ {string.Join(", ", a.Skip(2))} }})";
        DynamicSliceLike.FormatRule = (a, _, _) => $"Lax.DynamicSliceLike({a[0]}, {a[1]}, new Tensor[] {{ {string.Join(", ", a.Skip(2))} }})";
    }

    /// <summary>Vmap of the static index primitives: whole-axis indices for the batch axes; a value gets size-1 axes
    /// between its batch axes and its core, so it broadcasts against the part per example.</summary>
    static Node IndexBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var ix = prm.Get<Ix[]>(0);
        var shifted = new Params((object)Enumerable.Repeat(Ix.All, k).Concat(ix).ToArray());
        if (p == Index)
        {
            var (b, c) = BatchRules.Split(u.Dims(a[0]), k);
            return u.Apply(p, [u.Reshape(a[0], [.. b, .. c])], shifted);
        }
        var bres = BatchRules.BatchOf(u, $"{p.Name} (batched)", k, a);
        var x = BatchRules.ToBatch(u, a[0], bres, k);
        var v = a[1];
        if (v.Kind == Kind.Tensor)
        {
            var cx = BatchRules.Split(u.Dims(x), k).Core;
            string Call() => $"x{Ix.Text(ix)} (batched)";
            int partRank = Ix.OutDims(ix, Ix.Resolve(ix, cx, Call, [u.A(x), u.A(v)]), cx.Length, Call, [u.A(x), u.A(v)]).Length;
            var (vb, vc) = BatchRules.Split(u.Dims(v), k);
            if (vc.Length < partRank) v = u.Reshape(v, [.. vb, .. Enumerable.Repeat(1, partRank - vc.Length), .. vc]);
        }
        return u.Apply(p, [x, v], shifted);
    }

    /// <summary>Vmap of the dynamic blocks. With unbatched starts, each batch axis gets start 0 and its whole length.
    /// With per-example starts, each example reads (or writes) its own block: per core axis, the clamped start plus
    /// 0 .. size - 1 indexes a batched gather (TakeBatched); an update is scattered (ScatterAddBatched) into zeros with a
    /// mask of its positions, and selected where the mask is set.</summary>
    static Node DynamicBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        int lead = p == DynamicSlice ? 1 : 2;
        var bres = BatchRules.BatchOf(u, $"{p.Name} (batched)", k, a);
        var starts = a.Skip(lead).ToArray();
        var x = BatchRules.ToBatch(u, a[0], bres, k);
        var cx = BatchRules.Split(u.Dims(x), k).Core;
        int[] sizes = p == DynamicSlice ? prm.Get<int[]>(0)
            : p == DynamicSliceLike ? BatchRules.Split(u.A(a[1]).Dims, k).Core
            : BatchRules.Split(u.Dims(a[1]), k).Core;
        bool perExample = starts.Any(s => s.Kind == Kind.Tensor && BatchRules.Split(u.Dims(s), k).Batch.Any(d => d != 1));
        if (!perExample)
        {
            var zero = u.Const(Tensor.Scalar(0, DType.Int32));
            var core = starts.Select(s => s.Kind == Kind.Tensor ? u.Reshape(s, []) : s);
            var newStarts = Enumerable.Repeat(zero, k).Concat(core).ToArray();
            if (p == DynamicSlice)
                return u.Apply(p, [x, .. newStarts], new Params((object)bres.Concat(sizes).ToArray()));
            if (p == DynamicSliceLike)
            {
                var like = u.A(a[1]);
                return u.Apply(p, [x, u.AvalConst([.. bres, .. sizes], like), .. newStarts], prm);
            }
            return u.Apply(p, [x, BatchRules.ToBatch(u, a[1], bres, k), .. newStarts], prm);
        }
        if (starts.Length != cx.Length)
            throw new ShapeException($"Lax.{p.Name} (batched)", [u.A(x)], $"one start per axis of x ({cx.Length}) is accepted, got {starts.Length}");
        // per core axis: clamp(floor(start), 0, n - size) + [0 .. size - 1], shaped [B.., size]
        var idx = new Node[cx.Length];
        for (int i = 0; i < cx.Length; i++)
        {
            var s = starts[i].Kind == Kind.Tensor ? BatchRules.ToBatch(u, starts[i], bres, k) : u.Apply(Prims.FromDouble, [starts[i]]);
            if (starts[i].Kind == Kind.Tensor) s = u.Reshape(s, [.. bres, 1]);
            var lo = u.Apply(Prims.Clip, [u.Apply(Prims.Floor, [s]), u.Const(new Tensor(0.0)), u.Const(new Tensor((double)Math.Max(0, cx[i] - sizes[i])))]);
            idx[i] = u.Apply(Prims.Add, [lo, u.Const(new Tensor(Enumerable.Range(0, sizes[i]).Select(j => (double)j).ToArray()))]);
            if (u.Dims(idx[i]).Length != k + 1) idx[i] = u.BroadcastTo(idx[i], [.. bres, sizes[i]]);
        }
        if (p != DynamicUpdateSlice)
        {
            for (int i = 0; i < cx.Length; i++) x = u.Apply(Prims.TakeBatched, [x, idx[i]], new Params(i, k));
            return x;
        }
        var upd = BatchRules.ToBatch(u, a[1], bres, k);
        var ones = u.Apply(Prims.Ones, [u.AvalConst([.. bres, .. sizes], u.A(x))]);
        // scatter the update and a mask of ones back up one axis at a time, last axis first
        var shape = sizes.ToArray();
        for (int i = cx.Length - 1; i >= 0; i--)
        {
            shape[i] = cx[i];
            var target = u.AvalConst([.. bres, .. shape], u.A(x));
            upd = u.Apply(Prims.ScatterAddBatched, [upd, idx[i], target], new Params(i, k));
            ones = u.Apply(Prims.ScatterAddBatched, [ones, idx[i], target], new Params(i, k));
        }
        var r = u.Apply(Prims.Where, [ones, upd, x]);
        return u.A(r).DType == u.A(x).DType ? r : u.Apply(Prims.Cast, [r], new Params(u.A(x).DType));
    }

    /// <summary>Vmap of TakeAlongAxis and its scatter: a non-negative axis moves by the batch count; x (or g) takes the
    /// batch of both operands, the indices may keep size-1 batch axes (they broadcast).</summary>
    static Node AlongAxisBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        int axis = prm.Get<int>(0);
        var shifted = new Params(axis >= 0 ? axis + k : axis);
        var bres = BatchRules.BatchOf(u, $"{p.Name} (batched)", k, a[0], a[1]);
        var x = BatchRules.ToBatch(u, a[0], bres, k);
        var (ib, ic) = BatchRules.Split(u.Dims(a[1]), k);
        var idx = u.Reshape(a[1], [.. ib, .. ic]);
        if (p == TakeAlongAxis) return u.Apply(p, [x, idx], shifted);
        var xa = u.A(a[2]);
        return u.Apply(p, [x, idx, u.AvalConst([.. bres, .. BatchRules.Split(xa.Dims, k).Core], xa)], shifted);
    }

    /// <summary>Vmap of GatherAxes and its scatter: each batch axis becomes one more indexed axis, read at 0 .. B - 1
    /// (an iota with B at that axis, broadcasting against the indices, whose core axes are aligned after the batch axes).</summary>
    static Node AxesBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        int lead = p == GatherAxes ? 1 : 2;
        var idx = a.Skip(lead).ToArray();
        var bres = BatchRules.BatchOf(u, $"{p.Name} (batched)", k, [a[0], .. idx]);
        int rank = idx.Max(i => BatchRules.Split(u.Dims(i), k).Core.Length);
        var iotas = Enumerable.Range(0, k).Select(j =>
        {
            var shape = Enumerable.Repeat(1, k + rank).ToArray();
            shape[j] = bres[j];
            return u.Const(new Tensor(Enumerable.Range(0, bres[j]).ToArray(), shape));
        });
        var core = idx.Select(i =>
        {
            var (ib, ic) = BatchRules.Split(u.Dims(i), k);
            return u.Reshape(i, [.. ib, .. Enumerable.Repeat(1, rank - ic.Length), .. ic]);
        });
        var all = iotas.Concat(core).ToArray();
        if (p == GatherAxes) return u.Apply(p, [BatchRules.ToBatch(u, a[0], bres, k), .. all], prm);
        var xa = u.A(a[1]);
        return u.Apply(p, [BatchRules.ToBatch(u, a[0], bres, k), u.AvalConst([.. bres, .. BatchRules.Split(xa.Dims, k).Core], xa), .. all], prm);
    }

    /// <summary>A shape rule from the operands' avals alone (unbatched nodes); a batched node's shape is its rewrite's.</summary>
    static Func<Node, Aval[], Aval?> ValueFreeAval(Func<Aval[], Params, Aval> rule) => (n, a) =>
        n.Batch > 0 ? Unbatch.AvalOf(n.Op, n.Params, n.Batch, n.Args.Select(x => x.Kind).ToArray(), a) : rule(a, n.Params);

    /// <summary>A shape rule that does not run the primitive, for the graph's shape pass (<see cref="Primitive.AvalRule"/>)
    /// and for the backends' (<see cref="Primitive.ShapeRule"/>, which the Torch compiler asks).</summary>
    static void ValueFree(Primitive p, Func<Aval[], Params, Aval> rule)
    {
        p.AvalRule = ValueFreeAval(rule);
        p.ShapeRule = (prm, a) => rule(a, prm);
    }

    /// <summary>numpy's broadcast of several shapes (a mismatch is left to the eager call, which names it).</summary>
    static int[] BroadcastDims(IEnumerable<int[]> shapes)
    {
        var all = shapes.ToArray();
        int rank = all.Length == 0 ? 0 : all.Max(s => s.Length);
        var r = Enumerable.Repeat(1, rank).ToArray();
        foreach (var s in all)
            for (int i = 0; i < s.Length; i++)
                if (s[i] != 1) r[rank - s.Length + i] = s[i];
        return r;
    }
}
