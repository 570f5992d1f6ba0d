using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// The shape vocabulary of jax.numpy built on three primitives, each linear (so JVP, transpose, Vmap, the jit and Torch
/// come from one declaration):
/// <list type="bullet">
/// <item><c>AxisGather(x, maps)</c>: along each axis named by an <see cref="AxisMap"/>, output position i reads input
/// position <c>map.Indices(n)[i]</c> (or the map's fill value where that is -1). Np.Flip, Roll, Repeat, Tile and Pad
/// (constant, edge, reflect) are read as it (<see cref="ReadsAs"/>). Its transpose is <c>AxisScatterAdd</c>.</item>
/// <item><c>AxisScatterAdd(ct, aval, maps)</c>: the adjoint, each output cotangent added back at the input position it
/// was read from (fill positions dropped); its transpose is <c>AxisGather</c> with fill 0.</item>
/// <item><c>Triangle(x, k, upper)</c>: Np.Triu and Np.Tril, the last two axes masked; self-adjoint.</item>
/// </list>
/// Vmap: batch axes are leading, so a non-negative axis moves by the batch count and a negative one stays.
/// </summary>
internal static partial class Prims
{
    /// <summary>A static gather along axes (flip, roll, repeat, tile, pad).</summary>
    public static Primitive AxisGather { get { if (axisGather is null) Vocabulary.Ensure(); return axisGather!; } private set => axisGather = value; }
    static Primitive? axisGather;
    /// <summary>The transpose of <see cref="AxisGather"/>.</summary>
    public static Primitive AxisScatterAdd { get { if (axisScatterAdd is null) Vocabulary.Ensure(); return axisScatterAdd!; } private set => axisScatterAdd = value; }
    static Primitive? axisScatterAdd;
    /// <summary>A constant pad with a fill operand (Np.Pad(x, widths, value)): linear in x and the fill together.</summary>
    public static Primitive PadFill { get { if (padFill is null) Vocabulary.Ensure(); return padFill!; } private set => padFill = value; }
    static Primitive? padFill;
    /// <summary>The upper or lower triangle of the last two axes (Np.Triu, Np.Tril).</summary>
    public static Primitive Triangle { get { if (triangle is null) Vocabulary.Ensure(); return triangle!; } private set => triangle = value; }
    static Primitive? triangle;

    /// <summary>A size-1 axis inserted (Np.ExpandDims); transpose ReshapeTo.</summary>
    public static Primitive ExpandDims { get { if (expandDims is null) Vocabulary.Ensure(); return expandDims!; } private set => expandDims = value; }
    static Primitive? expandDims;
    /// <summary>Size-1 axes removed (Np.Squeeze); transpose ReshapeTo.</summary>
    public static Primitive Squeeze { get { if (squeeze is null) Vocabulary.Ensure(); return squeeze!; } private set => squeeze = value; }
    static Primitive? squeeze;
    /// <summary>One axis moved (Np.MoveAxis); transpose the move back.</summary>
    public static Primitive MoveAxis { get { if (moveAxis is null) Vocabulary.Ensure(); return moveAxis!; } private set => moveAxis = value; }
    static Primitive? moveAxis;
    /// <summary>Two axes exchanged (Np.SwapAxes); its own transpose.</summary>
    public static Primitive SwapAxes { get { if (swapAxes is null) Vocabulary.Ensure(); return swapAxes!; } private set => swapAxes = value; }
    static Primitive? swapAxes;

    static readonly Type AxisMaps = typeof(AxisMap[]);

    static AxisMap[] Unfilled(AxisMap[] maps) => maps.Select(m => m with { Fill = 0 }).ToArray();

    static void DeclareShapeVocabulary()
    {
        AxisGather = Structural("AxisGather", Lax_("AxisGather", T, AxisMaps),
            (c, t) => Ap(AxisGather!, [t[0]!], new Params((object)Unfilled(c.P.Get<AxisMap[]>(0)))),
            (c, ct) => [Ap(AxisScatterAdd!, [ct, c.Aval(0)], new Params((object)Unfilled(c.P.Get<AxisMap[]>(0))))],
            [0], ShiftMapAxes);
        AxisScatterAdd = Structural("AxisScatterAdd", Lax_("AxisScatterAdd", T, A, AxisMaps),
            (c, t) => Ap(AxisScatterAdd!, [t[0]!, c.X[1]], c.P),
            (c, ct) => [Ap(AxisGather!, [ct], c.P), null],
            [0], ShiftMapAxes, likeAval: 1);
        // PadFill(x, v) = gather(x) + v * (1 at the fill positions): jointly linear, the fill's cotangent the sum there
        PadFill = Structural("PadFill", Lax_("PadFill", T, T, AxisMaps),
            (c, t) => Ap(PadFill!, [t[0] ?? R.ZerosOf(c.X[0]), t[1] ?? c.X[1].Const(0)], c.P),
            (c, ct) => [c.Linear[0] ? Ap(AxisScatterAdd!, [ct, c.Aval(0)], c.P) : null,
                c.Linear[1] ? c.Unbroadcast(ct * Ap(PadFill!, [R.Zeros(c.Aval(0)), c.X[1].Const(1)], c.P), 1) : null],
            [0, 1], PadFillBatch);
        PadFill.FormatRule = (a, _, p) => $"Lax.PadFill({a[0]}, {a[1]}, {AxisMap.Text(p.Get<AxisMap[]>(0))})";
        Triangle = Structural("Triangle", Lax_("Triangle", T, typeof(int), typeof(bool)),
            (c, t) => Ap(Triangle!, [t[0]!], c.P),
            (c, ct) => [Ap(Triangle!, [ct], c.P)],
            [0], KeepParams);
        // linear only where its padding fills zeros (the jit writes a linear node as sums of operand elements)
        AxisGather.Cpu!.LinearWhen = prm => prm.Get<AxisMap[]>(0).All(m => m.Fill == 0);
        AxisGather.FormatRule = (a, _, p) => $"Lax.AxisGather({a[0]}, {AxisMap.Text(p.Get<AxisMap[]>(0))})";
        AxisScatterAdd.FormatRule = (a, _, p) => $"Lax.AxisScatterAdd({a[0]}, {a[1]}, {AxisMap.Text(p.Get<AxisMap[]>(0))})";
        Triangle.FormatRule = (a, _, p) => $"Lax.Triangle({a[0]}, {p.Get<int>(0)}, {(p.Get<bool>(1) ? "true" : "false")})";
        // a constant pad's fill is not a tangent: the gather is affine in x, linear when the fill is 0
        AxisScatterAdd.NonDiff = [1];

        // axis moves: the Np methods themselves (static ints); reshapes transpose by ReshapeTo, moves by the move back
        var I0 = typeof(int);
        ExpandDims = Structural("ExpandDims", Np_("ExpandDims", T, I0), (c, t) => Ap(ExpandDims!, [t[0]!], c.P),
            (c, ct) => [R.ReshapeTo(ct, c.Aval(0))], [0], ShiftAxisParams);
        Squeeze = Structural("Squeeze", Np_("Squeeze", T, typeof(int[])), (c, t) => Ap(Squeeze!, [t[0]!], c.P),
            (c, ct) => [R.ReshapeTo(ct, c.Aval(0))], [0], ShiftAxisParams);
        MoveAxis = Structural("MoveAxis", Np_("MoveAxis", T, I0, I0), (c, t) => Ap(MoveAxis!, [t[0]!], c.P),
            (c, ct) => [Ap(MoveAxis!, [ct], new Params(c.P.Get<int>(1), c.P.Get<int>(0)))], [0], ShiftAxisParams);
        SwapAxes = Structural("SwapAxes", Np_("SwapAxes", T, I0, I0), (c, t) => Ap(SwapAxes!, [t[0]!], c.P),
            (c, ct) => [Ap(SwapAxes!, [ct], c.P)], [0], ShiftAxisParams);
        // Squeeze(x) (every size-1 axis) is Squeeze(x, null): the batch rule names the core axes
        var squeezeAll = Np_("Squeeze", T);
        byMethod.TryAdd(squeezeAll, Squeeze);
        readsAs[squeezeAll] = _ => (Squeeze, new Params(new object?[] { null }));
        Squeeze.FormatRule = (a, _, p) => p.Get<int[]?>(0) is { } ax ? $"Np.Squeeze({a[0]}, new[] {{ {string.Join(", ", ax)} }})" : $"Np.Squeeze({a[0]})";

        // the C# spellings, each read as one gather with its maps
        static System.Reflection.MethodInfo NpM(string name, params Type[] ts) => Np_(name, [T, .. ts]);
        var I = typeof(int); var IA = typeof(int[]);
        void Reads(System.Reflection.MethodInfo m, Func<object?[], AxisMap[]> maps)
        {
            byMethod.TryAdd(m, AxisGather);
            readsAs[m] = s => (AxisGather, new Params((object)maps(s)));
        }
        Reads(NpM("Flip", I), s => [new AxisMap(AxisMapKind.Flip, (int)s[0]!)]);
        Reads(NpM("Flip", IA), s => ((int[])s[0]!).Select(a => new AxisMap(AxisMapKind.Flip, a)).ToArray());
        Reads(NpM("Roll", I, I), s => [new AxisMap(AxisMapKind.Roll, (int)s[1]!, (int)s[0]!)]);
        Reads(NpM("Roll", IA, IA), s => Np.RollMaps((int[])s[0]!, (int[])s[1]!));
        Reads(NpM("Repeat", I, I), s => [Np.RepeatMap((int)s[0]!, (int)s[1]!)]);
        Reads(NpM("Tile", IA), s => Np.TileMaps((int[])s[0]!));
        Reads(NpM("Pad", IA), s => Np.PadMaps((int[])s[0]!, PadMode.Constant, 0));
        Reads(NpM("Pad", IA, typeof(PadMode)), s => Np.PadMaps((int[])s[0]!, (PadMode)s[1]!, 0));
        var padValue = NpM("Pad", IA, typeof(double));
        byMethod.TryAdd(padValue, PadFill);
        readsAs[padValue] = s => (PadFill, new Params((object)Np.PadMaps((int[])s[0]!, PadMode.Constant, 0)));
        foreach (var k in new[] { true, false })
        {
            bool upper = k;
            var name = upper ? "Triu" : "Tril";
            var m0 = NpM(name); var m1 = NpM(name, I);
            byMethod.TryAdd(m0, Triangle); byMethod.TryAdd(m1, Triangle);
            readsAs[m0] = _ => (Triangle, new Params(0, upper));
            readsAs[m1] = s => (Triangle, new Params((int)s[0]!, upper));
        }
    }

    /// <summary>Vmap of a gather or scatter along axes: the batch axes lead, so non-negative axes move by the batch count.</summary>
    static Node ShiftMapAxes(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var maps = prm.Get<AxisMap[]>(0).Select(m => m.Axis >= 0 ? m with { Axis = m.Axis + k } : m).ToArray();
        var x = a[0];
        var (b, c) = BatchRules.Split(u.Dims(x), k);
        if (p == AxisGather) return u.Apply(p, [u.Reshape(x, [.. b, .. c])], new Params((object)maps));
        var xa = u.A(a[1]);
        var target = u.AvalConst([.. b, .. BatchRules.Split(xa.Dims, k).Core], xa);
        return u.Apply(p, [u.Reshape(x, [.. b, .. c]), target], new Params((object)maps));
    }

    /// <summary>Vmap of the axis moves: non-negative axes move by the batch count (negative ones count from the end, past
    /// the batch axes already); Squeeze of every size-1 axis names the core ones, so no batch axis is squeezed.</summary>
    static Node ShiftAxisParams(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var (b, c) = BatchRules.Split(u.Dims(a[0]), k);
        var x = u.Reshape(a[0], [.. b, .. c]);
        int Shift(int ax) => ax >= 0 ? ax + k : ax;
        if (p == Squeeze)
        {
            var axes = prm.Get<int[]?>(0) ?? Enumerable.Range(0, c.Length).Where(i => c[i] == 1).ToArray();
            return u.Apply(p, [x], new Params((object)axes.Select(Shift).ToArray()));
        }
        return u.Apply(p, [x], new Params(prm.Values.Select(v => (object?)Shift((int)v!)).ToArray()));
    }

    /// <summary>Vmap of PadFill: x's non-negative axes move by the batch count; a batched fill gets size-1 core axes, so it broadcasts per example.</summary>
    static Node PadFillBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var maps = prm.Get<AxisMap[]>(0).Select(m => m.Axis >= 0 ? m with { Axis = m.Axis + k } : m).ToArray();
        var (b, c) = BatchRules.Split(u.Dims(a[0]), k);
        var v = a[1];
        if (v.Kind == Kind.Tensor)
        {
            var (vb, _) = BatchRules.Split(u.Dims(v), k);
            v = u.Reshape(v, [.. vb, .. Enumerable.Repeat(1, c.Length)]);
        }
        return u.Apply(p, [u.Reshape(a[0], [.. b, .. c]), v], new Params((object)maps));
    }

    /// <summary>Vmap of a primitive on trailing axes only (Triangle): the same parameters on the batched operand.</summary>
    static Node KeepParams(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var (b, c) = BatchRules.Split(u.Dims(a[0]), k);
        return u.Apply(p, [u.Reshape(a[0], [.. b, .. c])], prm);
    }
}
