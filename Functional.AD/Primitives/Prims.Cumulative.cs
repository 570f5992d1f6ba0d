namespace Functional.AD;

/// <summary>
/// The product reduction and the cumulative vocabulary: Prod (over one axis or all; over several as a composite),
/// Cumsum, Cumprod, Cummax and CumLogSumExp along one axis (forwards or reversed), each a primitive with libtorch's own
/// op as its Torch column, and <c>LinearRecurrence</c>, the scan <c>h[i] = a[i] h[i-1] + b[i]</c> that their derivatives
/// are written with. The recurrence is linear in b, its JVP in a is the recurrence again and its transpose in b is the
/// recurrence the other way, so every derivative here is built of these primitives, multiplies only (no division: exact
/// where x has zeros), and differentiates again. Made by <see cref="DeclareCumulativeVocabulary"/>.
/// </summary>
internal static partial class Prims
{
    /// <summary>The product over one axis or all.</summary>
    public static Primitive Prod { get { if (prod is null) Vocabulary.Ensure(); return prod!; } private set => prod = value; }
    static Primitive? prod;
    /// <summary>The product over several axes (a composite of <see cref="Prod"/>).</summary>
    public static Primitive ProdAxes { get { if (prodAxes is null) Vocabulary.Ensure(); return prodAxes!; } private set => prodAxes = value; }
    static Primitive? prodAxes;
    /// <summary>The running sum along an axis; linear, its transpose the running sum the other way.</summary>
    public static Primitive Cumsum { get { if (cumsum is null) Vocabulary.Ensure(); return cumsum!; } private set => cumsum = value; }
    static Primitive? cumsum;
    /// <summary>The running product along an axis.</summary>
    public static Primitive Cumprod { get { if (cumprod is null) Vocabulary.Ensure(); return cumprod!; } private set => cumprod = value; }
    static Primitive? cumprod;
    /// <summary>The running maximum along an axis.</summary>
    public static Primitive Cummax { get { if (cummax is null) Vocabulary.Ensure(); return cummax!; } private set => cummax = value; }
    static Primitive? cummax;
    /// <summary>The running log-sum-exp along an axis.</summary>
    public static Primitive CumLogSumExp { get { if (cumLogSumExp is null) Vocabulary.Ensure(); return cumLogSumExp!; } private set => cumLogSumExp = value; }
    static Primitive? cumLogSumExp;
    /// <summary><c>h[i] = a[i] h[i-1] + b[i]</c> along an axis: linear in b.</summary>
    public static Primitive LinearRecurrence { get { if (linearRecurrence is null) Vocabulary.Ensure(); return linearRecurrence!; } private set => linearRecurrence = value; }
    static Primitive? linearRecurrence;

    static readonly Type IntT = typeof(int), BoolT = typeof(bool);

    /// <summary>
    /// v moved one place along the axis, the way a scan runs: <c>r[i] = v[i-1]</c> (<c>v[i+1]</c> when reversed), with
    /// <paramref name="fill"/> at the first position: an AxisGather whose map pads one before and crops one after
    /// (linear, so its fill is 0), or a PadFill with the same map for another fill.
    /// </summary>
    static V Shifted(V v, int axis, bool reverse, double fill)
    {
        var maps = new Params((object)new[] { new AxisMap(AxisMapKind.PadConstant, axis, reverse ? -1 : 1, reverse ? 1 : -1) });
        return fill == 0 ? Ap(AxisGather, [v], maps) : Ap(PadFill, [v, v.Const(fill)], maps);
    }

    /// <summary>True at the first position of the scan along the axis (the last when reversed), a bool tensor shaped like v.</summary>
    static V FirstOfScan(V v, int axis, bool reverse) =>
        R.Equal(Shifted(new V(v.B.Apply(Ones, [R.AvalOf(v).N])), axis, reverse, 0), v.Const(0));

    static V Recurrence(V a, V b, int axis, bool reverse) => Ap(LinearRecurrence, [a, b], new Params(axis, reverse));

    static V Cum(Primitive p, V x, int axis, bool reverse) => Ap(p, [x], new Params(axis, reverse));

    /// <summary>
    /// The product of the other elements along <paramref name="axis"/> (every element when null): the running product
    /// before each position times the running product after it, so no division and exact at zeros.
    /// </summary>
    static V ProductOfOthers(RuleCtx c, int? axis)
    {
        var x = c.X[0];
        if (axis is null)
        {
            var flat = R.Reshape(x, [-1]);
            return R.ReshapeTo(Others(flat, 0), c.Aval(0));
        }
        return Others(x, axis.Value);

        static V Others(V x, int ax) =>
            Shifted(Cum(Cumprod, x, ax, false), ax, false, 1) * Shifted(Cum(Cumprod, x, ax, true), ax, true, 1);
    }

    /// <summary>A cumulative primitive: parameters (int axis, bool reverse); Vmap shifts the axis (the family of Softmax).</summary>
    static Primitive Cumulative(string name, JvpRule jvp, TransposeRule? transpose = null)
    {
        var p = Reduction(name, Np_(name, T, IntT, BoolT), jvp, transpose, linear: transpose is not null, EagerResult.Fresh);
        return p;
    }

    static void DeclareCumulativeVocabulary()
    {
        Prod = Reduction("Prod", Np_("Prod", T, typeof(int?), BoolT), (c, t) =>
        {
            int? axis = c.P.Get<int?>(0); bool keep = c.P.Get<bool>(1);
            return R.Sum(t[0]! * ProductOfOthers(c, axis), axis, keep);
        }, result: EagerResult.Fresh);
        Prod.Accepts = DTypeSets.All;
        Prod.Gives = d => d == DType.Bool ? DType.Int32 : d;
        static bool HasAxes(System.Reflection.MethodInfo m) => m.GetParameters().Any(q => q.ParameterType == typeof(Axes));
        ProdAxes = Composite("ProdAxes", NpOverloads("Prod", HasAxes).ToArray(), (x, r) => Over(Prod, x, r, r.Keep));

        // linear: the transpose of a running sum is the running sum the other way
        Cumsum = Cumulative("Cumsum", (c, t) => Cum(Cumsum!, t[0]!, c.P.Get<int>(0), c.P.Get<bool>(1)),
            (c, ct) => [Cum(Cumsum!, ct, c.P.Get<int>(0), !c.P.Get<bool>(1))]);
        // dy[i] = x[i] dy[i-1] + y[i-1] dx[i]: the product rule, step by step
        Cumprod = Cumulative("Cumprod", (c, t) =>
        {
            int axis = c.P.Get<int>(0); bool rev = c.P.Get<bool>(1);
            return Recurrence(c.X[0], Shifted(c.Ans!, axis, rev, 1) * t[0]!, axis, rev);
        });
        // the tangent of the running max is the tangent at the position where it was last raised (x[i] > y[i-1]: a
        // tie does not raise it, so the first of tied maxima keeps it): dy[i] = raised ? dx[i] : dy[i-1]; the first
        // position always raises it
        Cummax = Cumulative("Cummax", (c, t) =>
        {
            int axis = c.P.Get<int>(0); bool rev = c.P.Get<bool>(1);
            var raised = Ap2(Or, Ap1(Not, Ap2(LessEqual, c.X[0], Shifted(c.Ans!, axis, rev, 0))), FirstOfScan(c.X[0], axis, rev));
            var tx = t[0]!;
            return Recurrence(R.Where(raised, c.X[0].Const(0), c.X[0].Const(1)), R.Where(raised, tx, tx.Const(0)), axis, rev);
        });
        // y[i] = log(e^y[i-1] + e^x[i]): dy[i] = (1 - p[i]) dy[i-1] + p[i] dx[i] with p = e^(x - y) in [0, 1]
        CumLogSumExp = Cumulative("CumLogSumExp", (c, t) =>
        {
            int axis = c.P.Get<int>(0); bool rev = c.P.Get<bool>(1);
            var p = R.Exp(c.X[0] - c.Ans!);
            return Recurrence(1 - p, p * t[0]!, axis, rev);
        });
        CumLogSumExp.Accepts = DTypeSets.All;
        CumLogSumExp.Gives = DTypeSets.FloatResult;
        LinearRecurrence = Def("LinearRecurrence", Lax_("LinearRecurrence", T, T, IntT, BoolT));
        LinearRecurrence.Family = PrimFamily.Reduction;
        LinearRecurrence.Accepts = DTypeSets.Floats;
        // dh = LinearRecurrence(a, da h[i-1] + db): the same recurrence driven by the tangents
        LinearRecurrence.Jvp = (c, t) =>
        {
            int axis = c.P.Get<int>(0); bool rev = c.P.Get<bool>(1);
            var drive = Sum2(t[0] is { } ta ? ta * Shifted(c.Ans!, axis, rev, 0) : null, t[1]);
            return drive is null ? null : Recurrence(c.X[0], drive, axis, rev);
        };
        // in b: h = L b with L[i, j] = a[j+1] ... a[i]; Lᵀ runs the other way with a moved one place back
        LinearRecurrence.Transpose = (c, ct) =>
        {
            int axis = c.P.Get<int>(0); bool rev = c.P.Get<bool>(1);
            return [NotLinear(c, "LinearRecurrence", 0), c.Unbroadcast(Recurrence(Shifted(c.X[0], axis, !rev, 0), ct, axis, !rev), 1)];
        };
        LinearRecurrence.Cpu = new CpuLowering { Result = EagerResult.Fresh };
        Batch(LinearRecurrence, RecurrenceBatch);

        foreach (var p in new[] { Cumsum, Cumprod })
        {
            p.Accepts = DTypeSets.All;
            p.Gives = d => d == DType.Bool ? DType.Int32 : d;
        }
        Cummax.Accepts = DTypeSets.All;
        DeclareDiagonals();
        DeclareSplit();
    }

    /// <summary>Vmap of LinearRecurrence: both operands get the same core rank (size-1 axes in front of a smaller one), a non-negative axis moves by the batch count.</summary>
    static Node RecurrenceBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var split = a.Select(x => BatchRules.Split(u.Dims(x), k)).ToArray();
        int rank = split.Max(s => s.Core.Length);
        var args = a.Select((x, i) => u.Reshape(x, [.. split[i].Batch, .. Enumerable.Repeat(1, rank - split[i].Core.Length), .. split[i].Core])).ToArray();
        int axis = prm.Get<int>(0);
        return u.Apply(p, args, new Params(axis >= 0 ? axis + k : axis, prm.Get<bool>(1)));
    }
}
