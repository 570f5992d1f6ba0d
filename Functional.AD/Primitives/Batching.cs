using System.Linq.Expressions;
using static Functional.AD.Vmapped;

namespace Functional.AD;

/// <summary>
/// The batching column of the primitive table: for every primitive, its vectorised implementation at batch count
/// k (<see cref="Primitive.Batched"/>), by family, as DESIGN.md's "Ranks without tracing" describes; and the rules of
/// the structural primitives <c>Vmap</c> adds (move an axis to or from the front, add a size-1 batch axis,
/// broadcast to the batch size, the checked batch size).
/// </summary>
internal static class Batching
{
    static Params With(Params p, int i, object? v)
    {
        var vals = (object?[])p.Values.Clone();
        vals[i] = v;
        return new Params(vals);
    }

    static Aval[] Avals(object[] a) => a.OfType<Tensor>().Select(t => t.Aval).Concat(a.OfType<Aval>()).ToArray();

    /// <summary>Batching rules of the control primitives, which have no family (their declarations are filled by their
    /// own Install methods), and the check that every primitive has a batching rule.</summary>
    public static void Install()
    {
        // --- control flow: a conditional's branches carry their own batch counts
        Prims.Cond.Batched = (a, prm, k) => Never(Prims.Cond, a, prm, k);
        // scalars and user rules never carry a batch (Vmap refuses custom rules with a clear error)
        Prims.Custom.Batched = (a, prm, k) => Never(Prims.Custom, a, prm, k);
        Prims.CustomVjpTangent.Batched = (a, prm, k) => Never(Prims.CustomVjpTangent, a, prm, k);
        // CheckAval: compare the core shapes
        Prims.CheckAval.Batched = (a, prm, k) =>
        {
            var t = (Tensor)a[0]; var expected = (Aval)a[1];
            if (!t.Shape.Skip(k).SequenceEqual(expected.Shape.Skip(k)))
                throw new ShapeException((string)prm[0]!, [t.Aval, expected], $"the per-example shapes {t.Aval} and {expected} (first {k} axes are batch axes) differ: a custom rule must return a tangent with its primal's shape");
            return t;
        };

        foreach (var p in Prims.All)
            if (p.Batched is null && p != Prims.Input && p != Prims.Const && p != Prims.And && p != Prims.Or && p != Prims.Not)
                throw new InvalidOperationException($"Internal error: the primitive {p.Name} has no batched implementation.");
    }

    /// <summary>Elementwise families: size-1 axes inserted between batch and core axes so that the cores align on the right.</summary>
    internal static object Elementwise(Primitive p, object[] a, Params prm, int k)
    {
        int rank = a.OfType<Tensor>().Where(t => t.Rank > 0).Select(t => Split(t.Dims, k).Core.Length).DefaultIfEmpty(0).Max();
        var args = a.Select(x => x is Tensor t && t.Rank > 0 ? (object)Align(t, k, rank) : x).ToArray();
        return Plain(p, args, prm);
    }

    /// <summary>Whole-value helpers (avals, zeros, ones, one-hot, scalar conversions): they describe full shapes, batch axes included.</summary>
    internal static object WholeValue(Primitive p, object[] a, Params prm, int k) => Plain(p, a, prm);

    /// <summary>A tensor read into a C# scalar: only an unbatched value (batch axes of size 1) can be.</summary>
    internal static object ToScalar(Primitive p, object[] a, Params prm, int k)
    {
        var x = (Tensor)a[0];
        var (b, c) = Split(x.Dims, k);
        if (b.Any(d => d != 1))
            throw new VmapException($"Ad.Vmap: a batched tensor of shape {x.Aval} ({k} batch axes) cannot become a {(p.KindOf([Kind.Tensor], prm, []) == Kind.Double ? "double" : "float")}: a double cannot carry a batch axis. Keep the value a Tensor.");
        return Plain(p, [View(x, c)], prm);
    }

    /// <summary>Reductions with an <c>int? axis</c> (and keepdims): the axis shifted by k; axis null reduces over all core axes.</summary>
    internal static object AxisReduction(Primitive p, object[] a, Params prm, int k)
    {
        bool hasKeep = p.TensorMethod!.GetParameters().Any(q => q.ParameterType == typeof(bool));
        var x = (Tensor)a[0];
        var (b, c) = Split(x.Dims, k);
        if (prm[0] is int axis)
            return Plain(p, [x.Rank < k ? View(x, [.. b, .. c]) : x], With(prm, 0, (int?)(k + CoreAxis(axis, c.Length, $"{p.Name} (batched)", x.Aval))));
        var flat = View(x, [.. b, Kernels.Product(c)]);
        var r = (Tensor)Plain(p, [flat], With(prm, 0, (int?)k));
        return hasKeep && (bool)prm[1]! ? View(r, [.. b, .. Enumerable.Repeat(1, c.Length)]) : r;
    }

    /// <summary>Normalisations along one <c>int axis</c> (Softmax): the axis shifted by k.</summary>
    internal static object AlongAxis(Primitive p, object[] a, Params prm, int k)
    {
        var x = (Tensor)a[0];
        var c = Split(x.Dims, k).Core;
        return Plain(p, [x], With(prm, 0, k + CoreAxis((int)prm[0]!, c.Length, $"{p.Name} (batched)", x.Aval)));
    }

    /// <summary>The transposes of reductions: core semantics of Lax.ExpandReduced.</summary>
    internal static object ExpandReduced(Primitive p, object[] a, Params prm, int k) => Expand(p, a, prm, k, mean: false);

    /// <summary>The transposes of means: core semantics of Lax.ExpandReducedMean.</summary>
    internal static object ExpandReducedMean(Primitive p, object[] a, Params prm, int k) => Expand(p, a, prm, k, mean: true);

    static object Expand(Primitive prim, object[] a, Params prm, int k, bool mean)
    {
        var g = (Tensor)a[0];
        var input = (Aval)a[1];
        var (bg, _) = Split(g.Dims, k);
        var ci = Split(input.Dims, k).Core;
        var bres = BatchOf($"Lax.{prim.Name} (batched)", k, a);
        int[] gd;
        int count;
        if (prm[0] is int axis)
        {
            int ax = CoreAxis(axis, ci.Length, $"Lax.{prim.Name} (batched)", g.Aval, input);
            gd = (int[])ci.Clone();
            gd[ax] = 1;
            count = ci[ax];
        }
        else
        {
            gd = Enumerable.Repeat(1, ci.Length).ToArray();
            count = Kernels.Product(ci);
        }
        if (mean) g = Np.Div(g, new Tensor((double)count));
        return Np.BroadcastTo(View(g, [.. bg, .. gd]), [.. bres, .. ci]);
    }

    /// <summary>Concatenate along a core axis: batch axes broadcast, the axis shifted by k.</summary>
    internal static object Concatenate(Primitive p, object[] a, Params prm, int k) => Join(p, a, prm, k, 0);

    /// <summary>Stack along a new core axis: batch axes broadcast, the axis shifted by k.</summary>
    internal static object Stack(Primitive p, object[] a, Params prm, int k) => Join(p, a, prm, k, 1);

    static object Join(Primitive prim, object[] a, Params prm, int k, int plus)
    {
        var bres = BatchOf($"Np.{prim.Name} (batched)", k, a);
        var xs = a.Select(x => ToBatch((Tensor)x, bres, k)).ToArray();
        int r = Split(xs[0].Dims, k).Core.Length + plus;
        int ax = CoreAxis(prm.Get<int>(0), r, $"Np.{prim.Name} (batched)", Avals(a));
        return Plain(prim, xs, With(prm, 0, k + ax));
    }

    /// <summary>SplitPart and PadPart: the part avals gain the cotangent's batch axes, the axis shifted by k.</summary>
    internal static object Part(Primitive prim, object[] a, Params prm, int k)
    {
        var g = (Tensor)a[0];
        var (bg, cg) = Split(g.Dims, k);
        int ax = CoreAxis(prm.Get<int>(0), cg.Length, $"Lax.{prim.Name} (batched)", Avals(a));
        var parts = a.Skip(1).Select(x => (object)new Aval([.. bg, .. Split(x, k).Core], ((Aval)x).DType, ((Aval)x).Weak)).ToArray();
        return Plain(prim, [g, .. parts], With(prm, 0, k + ax));
    }

    /// <summary>A primitive applied outside any batch (scalars, user rules, conditionals whose branches carry their own counts).</summary>
    internal static object Never(Primitive p, object[] a, Params prm, int k) =>
        throw new InvalidOperationException($"Internal error: {p.Name} has no batch count.");

    internal static object Transpose(Primitive p, object[] a, Params prm, int k)
    {
        var x = (Tensor)a[0];
        int r = Split(x.Dims, k).Core.Length;
        var axes = prm.Get<int[]?>(0);
        var perm = Enumerable.Range(0, k).Concat(axes is null
            ? Enumerable.Range(0, r).Select(i => k + r - 1 - i)
            : axes.Select(ax => k + CoreAxis(ax, r, "Np.Transpose (batched)", x.Aval))).ToArray();
        if (axes is not null && axes.Length != r)
            throw new ShapeException($"Np.Transpose (batched)", [x.Aval], $"axes must be a permutation of the {r} per-example axes, got {axes.Length}");
        return Np.Transpose(x, perm);
    }

    internal static object Reshape(Primitive p, object[] a, Params prm, int k)
    {
        var x = (Tensor)a[0];
        return Np.Reshape(x, [.. Split(x.Dims, k).Batch, .. prm.Get<int[]>(0)]);
    }

    internal static object BroadcastToShape(Primitive p, object[] a, Params prm, int k)
    {
        var shape = prm.Get<int[]>(0);
        var x = Align((Tensor)a[0], k, shape.Length);
        return Np.BroadcastTo(x, [.. Split(x.Dims, k).Batch, .. shape]);
    }

    internal static object ReshapeTo(Primitive p, object[] a, Params prm, int k)
    {
        var x = (Tensor)a[0];
        return Np.Reshape(x, [.. Split(x.Dims, k).Batch, .. Split(a[1], k).Core]);
    }

    internal static object BroadcastTo(Primitive p, object[] a, Params prm, int k)
    {
        var t = (Aval)a[1];
        var (_, ct) = Split(t.Dims, k);
        var bres = BatchOf("Lax.BroadcastTo (batched)", k, a);
        var x = Align((Tensor)a[0], k, ct.Length);
        return Lax.BroadcastTo(x, new Aval([.. bres, .. ct], t.DType, t.Weak));
    }

    internal static object SumTo(Primitive p, object[] a, Params prm, int k)
    {
        var t = (Aval)a[1];
        var (_, ct) = Split(t.Dims, k);
        var bres = BatchOf("Lax.SumTo (batched)", k, a);
        var x = ToBatch((Tensor)a[0], bres, k);
        var cx = Split(x.Dims, k).Core;
        var r = Lax.SumTo(x, new Aval([.. bres, .. Enumerable.Repeat(1, Math.Max(0, cx.Length - ct.Length)), .. ct], t.DType, t.Weak));
        return View(r, [.. bres, .. ct]);
    }

    internal static object Dot(Primitive p, object[] a, Params prm, int k)
    {
        Tensor x = (Tensor)a[0], y = (Tensor)a[1];
        int ra = Split(x.Dims, k).Core.Length, rb = Split(y.Dims, k).Core.Length;
        if (ra is not (1 or 2) || rb is not (1 or 2))
            throw ShapeException.Of("Np.Dot (batched)", $"Dot takes per-example vectors and matrices (rank 1 or 2), not rank {(ra is not (1 or 2) ? ra : rb)}", ("a", x.Aval), ("b", y.Aval));
        return Vmapped.MatMul(x, y, k);
    }

    internal static object DotTA(Primitive p, object[] a, Params prm, int k)
    {
        Tensor g = (Tensor)a[0], b = (Tensor)a[1];
        var (bg, cg) = Split(g.Dims, k);
        var (bb, cb) = Split(b.Dims, k);
        return (cg.Length, cb.Length) switch
        {
            (0, 1) => Np.Mul(View(g, [.. bg, 1]), b),
            (1, 2) => Vmapped.MatMul(b, g, k),
            (1, 1) => Np.Mul(View(g, [.. bg, cg[0], 1]), View(b, [.. bb, 1, cb[0]])),
            (2, 2) => Vmapped.MatMul(g, SwapLast2(b), k),
            _ => throw ShapeException.Of("Lax.DotTA (batched)", $"per-example ranks ({cg.Length}, {cb.Length}) fit no case of Dot", ("g", g.Aval), ("b", b.Aval)),
        };
    }

    internal static object DotTB(Primitive p, object[] a, Params prm, int k)
    {
        Tensor x = (Tensor)a[0], g = (Tensor)a[1];
        var (bx, cx) = Split(x.Dims, k);
        var (bg, cg) = Split(g.Dims, k);
        return (cx.Length, cg.Length) switch
        {
            (1, 0) => Np.Mul(x, View(g, [.. bg, 1])),
            (1, 1) => Np.Mul(View(x, [.. bx, cx[0], 1]), View(g, [.. bg, 1, cg[0]])),
            (2, 1) => Vmapped.MatMul(g, x, k),
            (2, 2) => Vmapped.MatMul(SwapLast2(x), g, k),
            _ => throw ShapeException.Of("Lax.DotTB (batched)", $"per-example ranks ({cx.Length}, {cg.Length}) fit no case of Dot", ("a", x.Aval), ("g", g.Aval)),
        };
    }

    internal static object MatMul(Primitive p, object[] a, Params prm, int k) =>
        Vmapped.MatMul((Tensor)a[0], (Tensor)a[1], k);

    internal static object MatMulTA(Primitive p, object[] a, Params prm, int k) =>
        MatMulT((Tensor)a[0], (Tensor)a[1], (Aval)a[2], k, forA: true);

    internal static object MatMulTB(Primitive p, object[] a, Params prm, int k) =>
        MatMulT((Tensor)a[1], (Tensor)a[0], (Aval)a[2], k, forA: false);

    internal static object Take(Primitive p, object[] a, Params prm, int k)
    {
        Tensor x = (Tensor)a[0], idx = (Tensor)a[1];
        var (bi, ci) = Split(idx.Dims, k);
        var cx = Split(x.Dims, k).Core;
        int ax = CoreAxis(prm.Get<int>(0), cx.Length, "Np.Take (batched)", x.Aval, idx.Aval);
        if (bi.All(d => d == 1)) return Np.Take(x, View(idx, ci), k + ax);
        return Gather(x, idx, ax, k);
    }

    internal static object ScatterAdd(Primitive p, object[] a, Params prm, int k)
    {
        Tensor g = (Tensor)a[0], idx = (Tensor)a[1];
        var xa = (Aval)a[2];
        var (bi, ci) = Split(idx.Dims, k);
        var cx = Split(xa.Dims, k).Core;
        int ax = CoreAxis(prm.Get<int>(0), cx.Length, "Lax.ScatterAdd (batched)", g.Aval, idx.Aval, xa);
        var bres = BatchOf("Lax.ScatterAdd (batched)", k, a);
        g = ToBatch(g, bres, k);
        if (bi.All(d => d == 1)) return Lax.ScatterAdd(g, View(idx, ci), k + ax, new Aval([.. bres, .. cx], xa.DType, xa.Weak));
        return Scatter(g, ToBatch(idx, bres, k), ax, cx, k);
    }

    internal static object Unstack(Primitive p, object[] a, Params prm, int k)
    {
        var g = (Tensor)a[0];
        int ax = CoreAxis(prm.Get<int>(0), Split(g.Dims, k).Core.Length, "Lax.Unstack (batched)", g.Aval);
        return Lax.Unstack(g, k + ax, prm.Get<int>(1));
    }

    internal static object StackPart(Primitive p, object[] a, Params prm, int k)
    {
        var g = (Tensor)a[0];
        var cs = Split(a[1], k).Core;
        int ax = CoreAxis(prm.Get<int>(0), cs.Length, "Lax.StackPart (batched)", Avals(a));
        return Lax.StackPart(g, k + ax, prm.Get<int>(1), cs[ax]);
    }

    internal static object MoveAxisToFront(Primitive p, object[] a, Params prm, int k)
    {
        var x = (Tensor)a[0];
        var (b, c) = Split(x.Dims, k);
        int ax = CoreAxis(prm.Get<int>(0), c.Length, "Vmap: MoveAxisToFront", x.Aval);
        var perm = Enumerable.Range(0, k).Append(k + ax).Concat(Enumerable.Range(k, c.Length).Where(i => i != k + ax)).ToArray();
        return Np.Transpose(x, perm);
    }

    internal static object MoveAxisFromFront(Primitive p, object[] a, Params prm, int k)
    {
        var y = (Tensor)a[0];
        var c = Split(y.Dims, k).Core;
        int ax = CoreAxis(prm.Get<int>(0), c.Length, "Vmap: MoveAxisFromFront", y.Aval);
        var perm = Enumerable.Range(0, k).Concat(Enumerable.Range(0, c.Length).Select(i => k + (i < ax ? i + 1 : i == ax ? 0 : i))).ToArray();
        return Np.Transpose(y, perm);
    }

    internal static object AddBatchAxis(Primitive p, object[] a, Params prm, int k) =>
        a[0] switch
    {
        Tensor x => View(x, Eager.Insert([.. Split(x.Dims, k).Batch, .. Split(x.Dims, k).Core], k, 1)),
        Aval v => new Aval(Eager.Insert([.. Split(v.Dims, k).Batch, .. Split(v.Dims, k).Core], k, 1), v.DType, v.Weak),
        _ => throw new InvalidOperationException("Internal error: AddBatchAxis of a scalar."),
    };

    internal static object BroadcastBatch(Primitive p, object[] a, Params prm, int k)
    {
        var y = (Tensor)a[0];
        var (b, c) = Split(y.Dims, k);
        int size = Split(a[1], k).Core[^1];
        if (c.Length == 0) { c = [1]; y = View(y, [.. b, 1]); }
        return c[0] == size ? y : Np.BroadcastTo(y, [.. b, size, .. c[1..]]);
    }

    internal static object VmapSize(Primitive p, object[] a, Params prm, int k)
    {
        // an inner vmap's size check, under an outer vmap: check the per-example (core) axes
        var xs = a.Select(x => (Tensor)x).ToArray();
        var axes = prm.Get<int[]>(1).Select((ax, i) => ax < 0 ? ax : ax + k).ToArray();
        var s = Size(xs, prm.Get<string[]>(0), axes, prm.Get<int?>(2));
        return new Aval([.. Enumerable.Repeat(1, k), s.Dims[0]], DType.Float32);
    }

    internal static object GradSeed(Primitive p, object[] a, Params prm, int k)
    {
        var x = (Tensor)a[0];
        var (_, c) = Split(x.Dims, k);
        if (c.Length != 0) Rt.GradSeed(View(x, c), (string)prm[0]!); // throws, naming the per-example shape
        return Lax.Ones(x.Aval);
    }


    /// <summary>The type of a reduction's axis parameter: <c>int?</c> for reductions (null: every axis), <c>int</c> for
    /// normalisations along one axis (Softmax).</summary>
    static Type? AxisType(Primitive p) => p.TensorMethod!.GetParameters().Skip(1).FirstOrDefault()?.ParameterType;

    /// <summary>MatMulTA (forA) / MatMulTB on the core axes: the product, summed over broadcast core-batch axes down to the target.</summary>
    static Tensor MatMulT(Tensor g, Tensor other, Aval target, int k, bool forA)
    {
        var (bg, cg) = Split(g.Dims, k);
        var (bo, co) = Split(other.Dims, k);
        var (bt, ct) = Split(target.Dims, k);
        var bres = BatchOf(forA ? "Lax.MatMulTA (batched)" : "Lax.MatMulTB (batched)", k, g, other, target);
        var (ca, cb) = forA ? (ct, co) : (co, ct);
        int[] cap = ca.Length == 1 ? [1, ca[0]] : ca;
        int[] cbp = cb.Length == 1 ? [cb[0], 1] : cb;
        int m = cap[^2], n = cbp[^1];
        var corebatch = Kernels.BroadcastShapes(cap[..^2], cbp[..^2])
            ?? throw ShapeException.Of("Lax.MatMulT (batched)", "the per-example batch axes do not broadcast", ("g", g.Aval), ("other", other.Aval), ("target", target));
        var g2 = View(g, [.. bg, .. corebatch, m, n]);
        Tensor full;
        int[] promoted;
        if (forA)
        {
            var b2 = View(other, [.. bo, .. cbp]);
            full = Vmapped.MatMul(g2, SwapLast2(b2), k);        // [.., m, kk]
            promoted = cap;
        }
        else
        {
            var a2 = View(other, [.. bo, .. cap]);
            full = Vmapped.MatMul(SwapLast2(a2), g2, k);        // [.., kk, n]
            promoted = cbp;
        }
        full = ToBatch(full, bres, k);
        var fc = Split(full.Dims, k).Core;
        var summed = Lax.SumTo(full, new Aval([.. bres, .. Enumerable.Repeat(1, fc.Length - promoted.Length), .. promoted], full.DType, full.IsWeak));
        return View(summed, [.. bres, .. ct]);
    }

    /// <summary>Take with batched indices: one pass, each batch row gathering with its own indices.</summary>
    static Tensor Gather(Tensor x, Tensor idx, int ax, int k)
    {
        var bres = BatchOf("Np.Take (batched)", k, x, idx);
        x = ToBatch(x, bres, k);
        idx = ToBatch(idx, bres, k);
        var cx = Split(x.Dims, k).Core;
        var ci = Split(idx.Dims, k).Core;
        int nb = Kernels.Product(bres), outer = Kernels.Product(cx, 0, ax), n = cx[ax], inner = Kernels.Product(cx, ax + 1), j = Kernels.Product(ci);
        var iv = Indices(idx, n, x.Aval, ax);
        var xv = x.ToDoubleArray();
        var r = new double[nb * outer * j * inner];
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < outer; o++)
                for (int q = 0; q < j; q++)
                {
                    int src = ((b * outer + o) * n + iv[b * j + q]) * inner, dst = ((b * outer + o) * j + q) * inner;
                    Array.Copy(xv, src, r, dst, inner);
                }
        var t = new Tensor(r, [.. bres, .. cx[..ax], .. ci, .. cx[(ax + 1)..]]);
        return x.DType == DType.Float32 ? t.AsType(DType.Float32) : t;
    }

    /// <summary>ScatterAdd with batched indices: one pass, each batch row accumulating at its own indices.</summary>
    static Tensor Scatter(Tensor g, Tensor idx, int ax, int[] cx, int k)
    {
        var bres = Split(g.Dims, k).Batch;
        var ci = Split(idx.Dims, k).Core;
        int nb = Kernels.Product(bres), outer = Kernels.Product(cx, 0, ax), n = cx[ax], inner = Kernels.Product(cx, ax + 1), j = Kernels.Product(ci);
        var iv = Indices(idx, n, new Aval(cx, g.DType), ax);
        var gv = g.ToDoubleArray();
        var r = new double[nb * outer * n * inner];
        for (int b = 0; b < nb; b++)
            for (int o = 0; o < outer; o++)
                for (int q = 0; q < j; q++)
                {
                    int dst = ((b * outer + o) * n + iv[b * j + q]) * inner, src = ((b * outer + o) * j + q) * inner;
                    for (int i = 0; i < inner; i++) r[dst + i] += gv[src + i];
                }
        var t = new Tensor(r, [.. bres, .. cx]);
        return g.DType == DType.Float32 ? t.AsType(DType.Float32) : t;
    }

    static int[] Indices(Tensor idx, int n, Aval x, int axis) => Eager.Indices(idx, n, "Np.Take (batched)", x, axis);

}
