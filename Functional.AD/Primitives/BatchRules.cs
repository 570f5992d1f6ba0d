namespace Functional.AD;

/// <summary>
/// The batching column of the primitive table: for every primitive, how a node of it at batch count k (its first k
/// axes are batch axes, DESIGN.md "Ranks without tracing") is written with unbatched primitives once every shape is
/// known (<see cref="Primitive.Batched"/>, applied by <see cref="Unbatch"/>). The family constructors name the rule
/// of their family; the structural primitives of <c>Vmap</c> (move an axis, add a size-1 batch axis, broadcast to the
/// batch size, the checked batch size) have theirs here too.
/// </summary>
internal static class BatchRules
{
    // ------------------------------------------------------------------ helpers on shapes

    static Params With(Params p, int i, object? v)
    {
        var vals = (object?[])p.Values.Clone();
        vals[i] = v;
        return new Params(vals);
    }

    /// <summary>The first k dimensions (padded with 1s in front when the rank is below k) and the rest.</summary>
    internal static (int[] Batch, int[] Core) Split(int[] dims, int k)
    {
        if (dims.Length >= k) return (dims[..k], dims[k..]);
        var b = new int[k];
        for (int i = 0; i < k; i++) b[i] = i < k - dims.Length ? 1 : dims[i - (k - dims.Length)];
        return (b, []);
    }

    static (int[] Batch, int[] Core) Split(Unbatcher u, Node x, int k) =>
        x.Kind is Kind.Tensor or Kind.Aval ? Split(u.Dims(x), k) : (Enumerable.Repeat(1, k).ToArray(), []);

    static Aval[] Avals(Unbatcher u, Node[] a) => a.Where(x => x.Kind is Kind.Tensor or Kind.Aval).Select(u.A).ToArray();

    /// <summary>The broadcast of the batch dimensions of every Tensor/Aval operand.</summary>
    internal static int[] BatchOf(Unbatcher u, string op, int k, params Node[] xs)
    {
        int[] r = Enumerable.Repeat(1, k).ToArray();
        foreach (var x in xs)
        {
            if (x.Kind is not (Kind.Tensor or Kind.Aval)) continue;
            var b = Split(u.Dims(x), k).Batch;
            for (int i = 0; i < k; i++)
            {
                if (b[i] == r[i] || b[i] == 1) continue;
                if (r[i] != 1)
                    throw new ShapeException(op, Avals(u, xs), $"batch axis {i} has sizes {r[i]} and {b[i]}; batch axes must be equal or 1");
                r[i] = b[i];
            }
        }
        return r;
    }

    /// <summary>x with its batch dimensions broadcast to <paramref name="batch"/> (core unchanged).</summary>
    internal static Node ToBatch(Unbatcher u, Node x, int[] batch, int k)
    {
        var (b, c) = Split(u.Dims(x), k);
        if (SmallArrays.Same(b, batch) && u.Dims(x).Length >= k) return x;
        return u.BroadcastTo(u.Reshape(x, [.. b, .. c]), [.. batch, .. c]);
    }

    /// <summary>x with size-1 axes inserted between its batch and core axes so that its core has rank <paramref name="rank"/>.</summary>
    static Node Align(Unbatcher u, Node x, int k, int rank)
    {
        var (b, c) = Split(u.Dims(x), k);
        if (c.Length >= rank && u.Dims(x).Length >= k) return x;
        return u.Reshape(x, [.. b, .. Enumerable.Repeat(1, Math.Max(0, rank - c.Length)), .. c]);
    }

    /// <summary>A core axis, normalised (negative counts from the end) and checked.</summary>
    static int CoreAxis(int axis, int rank, string op, params Aval[] shapes)
    {
        int a = axis < 0 ? axis + rank : axis;
        if ((uint)a >= (uint)rank)
            throw new ShapeException(op, shapes, $"axis {axis} is out of range for the per-example rank {rank} (batched: the leading batch axes do not count); accepted axes are {-rank} .. {rank - 1}");
        return a;
    }

    static bool Unbatched(int[] batch) => batch.All(d => d == 1);

    static int Product(int[] d) => Kernels.Product(d);

    // ------------------------------------------------------------------ family rules

    /// <summary>Elementwise families: size-1 axes inserted between batch and core axes so that the cores align on the right;
    /// a select on a C# bool condition brings both values to one batched shape (either may be taken).</summary>
    internal static Node Elementwise(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => u.Apply(p, AlignCores(u, a, k), prm);

    /// <summary>The operands with size-1 axes inserted between batch and core axes so that their cores align on the right.</summary>
    static Node[] AlignCores(Unbatcher u, Node[] a, int k)
    {
        int rank = a.Where(x => x.Kind == Kind.Tensor && u.A(x).Rank > 0).Select(x => Split(u.Dims(x), k).Core.Length).DefaultIfEmpty(0).Max();
        return a.Select(x => x.Kind == Kind.Tensor && u.A(x).Rank > 0 ? Align(u, x, k, rank) : x).ToArray();
    }

    /// <summary>Where: elementwise on a tensor mask; on a C# bool condition (read on the host, either value may be taken)
    /// both values are first brought to one shape.</summary>
    internal static Node Where(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var args = AlignCores(u, a, k);
        if (a[0].Kind == Kind.Bool && args[1].Kind == Kind.Tensor && args[2].Kind == Kind.Tensor
            && Kernels.BroadcastShapes(u.Dims(args[1]), u.Dims(args[2])) is { } dims)
        {
            args[1] = u.BroadcastTo(args[1], dims);
            args[2] = u.BroadcastTo(args[2], dims);
        }
        return u.Apply(p, args, prm);
    }

    /// <summary>Whole-value helpers (avals, zeros, ones, one-hot, scalar conversions): they describe full shapes, batch axes included.</summary>
    internal static Node WholeValue(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => u.Apply(p, a, prm);

    /// <summary>A tensor read into a C# scalar: only an unbatched value (batch axes of size 1) can be.</summary>
    internal static Node ToScalar(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var (b, c) = Split(u.Dims(a[0]), k);
        if (!Unbatched(b))
            throw new VmapException($"Ad.Vmap: a batched tensor of shape {u.A(a[0])} ({k} batch axes) cannot become a {(p.KindOf([Kind.Tensor], prm, []) == Kind.Double ? "double" : "float")}: a double cannot carry a batch axis. Keep the value a Tensor.");
        return u.Apply(p, [u.Reshape(a[0], c)], prm);
    }

    /// <summary>Reductions with an <c>int? axis</c> (and keepdims): the axis shifted by k; axis null reduces over all core axes.</summary>
    internal static Node AxisReduction(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = a[0];
        var (b, c) = Split(u.Dims(x), k);
        if (prm[0] is int axis)
            return u.Apply(p, [u.Reshape(x, [.. b, .. c])], With(prm, 0, (int?)(k + CoreAxis(axis, c.Length, $"{p.Name} (batched)", u.A(x)))));
        var flat = u.Reshape(x, [.. b, Product(c)]);
        var r = u.Apply(p, [flat], With(prm, 0, (int?)k));
        bool keep = prm.Count > 1 && prm[1] is true;
        return keep ? u.Reshape(r, [.. b, .. Enumerable.Repeat(1, c.Length)]) : r;
    }

    /// <summary>Normalisations along one <c>int axis</c> (Softmax): the axis shifted by k.</summary>
    internal static Node AlongAxis(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = a[0];
        var (b, c) = Split(u.Dims(x), k);
        return u.Apply(p, [u.Reshape(x, [.. b, .. c])], With(prm, 0, k + CoreAxis((int)prm[0]!, c.Length, $"{p.Name} (batched)", u.A(x))));
    }

    /// <summary>The transposes of reductions: core semantics of Lax.ExpandReduced.</summary>
    internal static Node ExpandReduced(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => Expand(u, p, a, prm, k, mean: false);

    /// <summary>The transposes of means: core semantics of Lax.ExpandReducedMean.</summary>
    internal static Node ExpandReducedMean(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => Expand(u, p, a, prm, k, mean: true);

    static Node Expand(Unbatcher u, Primitive prim, Node[] a, Params prm, int k, bool mean)
    {
        var g = a[0];
        var input = u.A(a[1]);
        var bg = Split(u.Dims(g), k).Batch;
        var ci = Split(input.Dims, k).Core;
        var bres = BatchOf(u, $"Lax.{prim.Name} (batched)", k, a);
        int[] gd;
        int count;
        if (prm[0] is int axis)
        {
            int ax = CoreAxis(axis, ci.Length, $"Lax.{prim.Name} (batched)", u.A(g), input);
            gd = (int[])ci.Clone();
            gd[ax] = 1;
            count = ci[ax];
        }
        else
        {
            gd = Enumerable.Repeat(1, ci.Length).ToArray();
            count = Product(ci);
        }
        if (mean) g = u.Apply(Prims.Div, [g, u.Const(new Tensor((double)count))]);
        var r = u.BroadcastTo(u.Reshape(g, [.. bg, .. gd]), [.. bres, .. ci]);
        // the dtype of the expanded value is the cotangent's (as the unbatched primitive gives it)
        return r;
    }

    /// <summary>Concatenate along a core axis: batch axes broadcast, the axis shifted by k.</summary>
    internal static Node Concatenate(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => Join(u, p, a, prm, k, 0);

    /// <summary>Stack along a new core axis: batch axes broadcast, the axis shifted by k.</summary>
    internal static Node Stack(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => Join(u, p, a, prm, k, 1);

    static Node Join(Unbatcher u, Primitive prim, Node[] a, Params prm, int k, int plus)
    {
        var bres = BatchOf(u, $"Np.{prim.Name} (batched)", k, a);
        var xs = a.Select(x => ToBatch(u, x, bres, k)).ToArray();
        int r = Split(u.Dims(xs[0]), k).Core.Length + plus;
        int ax = CoreAxis(prm.Get<int>(0), r, $"Np.{prim.Name} (batched)", Avals(u, a));
        return u.Apply(prim, xs, With(prm, 0, k + ax));
    }

    /// <summary>SplitPart and PadPart: the part avals gain the cotangent's batch axes, the axis shifted by k.</summary>
    internal static Node Part(Unbatcher u, Primitive prim, Node[] a, Params prm, int k)
    {
        var g = a[0];
        var (bg, cg) = Split(u.Dims(g), k);
        int ax = CoreAxis(prm.Get<int>(0), cg.Length, $"Lax.{prim.Name} (batched)", Avals(u, a));
        var parts = a.Skip(1).Select(x => { var v = u.A(x); return u.AvalConst([.. bg, .. Split(v.Dims, k).Core], v); }).ToArray();
        return u.Apply(prim, [g, .. parts], With(prm, 0, k + ax));
    }

    /// <summary>A primitive applied outside any batch (scalars, user rules, conditionals whose branches carry their own counts).</summary>
    internal static Node Never(Unbatcher u, Primitive p, Node[] a, Params prm, int k) =>
        throw new InvalidOperationException($"Internal error: {p.Name} has no batch count.");

    // ------------------------------------------------------------------ shapes

    internal static Node Transpose(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = a[0];
        var (b, c) = Split(u.Dims(x), k);
        int r = c.Length;
        var axes = prm.Get<int[]?>(0);
        if (axes is not null && axes.Length != r)
            throw new ShapeException("Np.Transpose (batched)", [u.A(x)], $"axes must be a permutation of the {r} per-example axes, got {axes.Length}");
        var perm = Enumerable.Range(0, k).Concat(axes is null
            ? Enumerable.Range(0, r).Select(i => k + r - 1 - i)
            : axes.Select(ax => k + CoreAxis(ax, r, "Np.Transpose (batched)", u.A(x)))).ToArray();
        return u.Apply(Prims.Transpose, [u.Reshape(x, [.. b, .. c])], new Params(perm));
    }

    internal static Node Reshape(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = a[0];
        return u.Apply(Prims.Reshape, [x], new Params((int[])[.. Split(u.Dims(x), k).Batch, .. prm.Get<int[]>(0)]));
    }

    internal static Node BroadcastToShape(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var shape = prm.Get<int[]>(0);
        var x = Align(u, a[0], k, shape.Length);
        return u.Apply(Prims.BroadcastToShape, [x], new Params((int[])[.. Split(u.Dims(x), k).Batch, .. shape]));
    }

    internal static Node ReshapeTo(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = a[0];
        return u.Apply(Prims.Reshape, [x], new Params((int[])[.. Split(u.Dims(x), k).Batch, .. Split(u.Dims(a[1]), k).Core]));
    }

    internal static Node BroadcastTo(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var t = u.A(a[1]);
        var ct = Split(t.Dims, k).Core;
        var bres = BatchOf(u, "Lax.BroadcastTo (batched)", k, a);
        var x = Align(u, a[0], k, ct.Length);
        return u.Apply(Prims.BroadcastTo, [x, u.AvalConst([.. bres, .. ct], t)]);
    }

    internal static Node SumTo(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var t = u.A(a[1]);
        var ct = Split(t.Dims, k).Core;
        var bres = BatchOf(u, "Lax.SumTo (batched)", k, a);
        var x = ToBatch(u, a[0], bres, k);
        var cx = Split(u.Dims(x), k).Core;
        var r = u.Apply(Prims.SumTo, [x, u.AvalConst([.. bres, .. Enumerable.Repeat(1, Math.Max(0, cx.Length - ct.Length)), .. ct], t)]);
        return u.Reshape(r, [.. bres, .. ct]);
    }

    // ------------------------------------------------------------------ products

    /// <summary>numpy matmul on the core axes of a and b (batch counts k), batch and core-batch axes broadcast.</summary>
    static Node MatMulK(Unbatcher u, Node a, Node b, int k)
    {
        var (ba, ca) = Split(u.Dims(a), k);
        var (bb, cb) = Split(u.Dims(b), k);
        if (ca.Length == 0 || cb.Length == 0)
            throw ShapeException.Of("Np.MatMul (batched)", "MatMul takes per-example operands of rank 1 or more; use * to multiply by a scalar", ("a", u.A(a)), ("b", u.A(b)));
        // an unbatched 2-D right operand: the batch folds into the rows of one matrix product
        if (Unbatched(bb) && cb.Length == 2 && ca.Length >= 1)
        {
            int kk = ca[^1];
            int rows = Product(ba) * Product(ca[..^1]);
            var r = u.Apply(Prims.Dot, [u.Reshape(a, [rows, kk]), u.Reshape(b, cb)]);
            return u.Reshape(r, [.. ba, .. ca[..^1], cb[1]]);
        }
        // an unbatched 2-D left operand and a batched vector: rows of b times a transposed
        if (Unbatched(ba) && ca.Length == 2 && cb.Length == 1)
        {
            var r = u.Apply(Prims.DotTA, [u.Reshape(b, [Product(bb), cb[0]]), u.Reshape(a, ca)]);
            return u.Reshape(r, [.. bb, ca[0]]);
        }
        int[] cap = ca.Length == 1 ? [1, ca[0]] : ca;
        int[] cbp = cb.Length == 1 ? [cb[0], 1] : cb;
        int la = cap.Length - 2, lb = cbp.Length - 2, l = Math.Max(la, lb);
        var a2 = u.Reshape(a, [.. ba, .. Enumerable.Repeat(1, l - la), .. cap]);
        var b2 = u.Reshape(b, [.. bb, .. Enumerable.Repeat(1, l - lb), .. cbp]);
        var m = u.Apply(Prims.MatMul, [a2, b2]);
        var od = u.Dims(m).ToList();
        if (cb.Length == 1) od.RemoveAt(od.Count - 1);
        if (ca.Length == 1) od.RemoveAt(od.Count - (cb.Length == 1 ? 1 : 2));
        return u.Reshape(m, od.ToArray());
    }

    static Node SwapLast2(Unbatcher u, Node x)
    {
        int r = u.Dims(x).Length;
        var perm = Enumerable.Range(0, r).ToArray();
        (perm[r - 2], perm[r - 1]) = (perm[r - 1], perm[r - 2]);
        return u.Transpose(x, perm);
    }

    /// <summary>Per-example outer products a_i b_j: a [B.., m], b [B.., n] to [B.., m, n].</summary>
    static Node Outer(Unbatcher u, Node a, Node b, int k)
    {
        var (ba, ca) = Split(u.Dims(a), k);
        var (bb, cb) = Split(u.Dims(b), k);
        return u.Apply(Prims.Mul, [u.Reshape(a, [.. ba, ca[0], 1]), u.Reshape(b, [.. bb, 1, cb[0]])]);
    }

    internal static Node Dot(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        int ra = Split(u.Dims(a[0]), k).Core.Length, rb = Split(u.Dims(a[1]), k).Core.Length;
        if (ra is not (1 or 2) || rb is not (1 or 2))
            throw ShapeException.Of("Np.Dot (batched)", $"Dot takes per-example vectors and matrices (rank 1 or 2), not rank {(ra is not (1 or 2) ? ra : rb)}", ("a", u.A(a[0])), ("b", u.A(a[1])));
        return MatMulK(u, a[0], a[1], k);
    }

    internal static Node DotTA(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        Node g = a[0], b = a[1];
        var (bg, cg) = Split(u.Dims(g), k);
        var (bb, cb) = Split(u.Dims(b), k);
        switch (cg.Length, cb.Length)
        {
            case (0, 1): return u.Apply(Prims.Mul, [u.Reshape(g, [.. bg, 1]), b]);
            case (1, 2): return MatMulK(u, b, g, k);
            case (1, 1): return Outer(u, g, b, k);
            case (2, 2):
                if (Unbatched(bb))
                {
                    // g [B.., m, n] b^T: the batch folds into the rows
                    var r = u.Apply(Prims.DotTA, [u.Reshape(g, [Product(bg) * cg[0], cg[1]]), u.Reshape(b, cb)]);
                    return u.Reshape(r, [.. bg, cg[0], cb[0]]);
                }
                return MatMulK(u, g, SwapLast2(u, u.Reshape(b, [.. bb, .. cb])), k);
            default:
                throw ShapeException.Of("Lax.DotTA (batched)", $"per-example ranks ({cg.Length}, {cb.Length}) fit no case of Dot", ("g", u.A(g)), ("b", u.A(b)));
        }
    }

    internal static Node DotTB(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        Node x = a[0], g = a[1];
        var (bx, cx) = Split(u.Dims(x), k);
        var (bg, cg) = Split(u.Dims(g), k);
        switch (cx.Length, cg.Length)
        {
            case (1, 0): return u.Apply(Prims.Mul, [x, u.Reshape(g, [.. bg, 1])]);
            case (1, 1): return Outer(u, x, g, k);
            case (2, 1): return MatMulK(u, g, x, k);
            case (2, 2):
                if (Unbatched(bx))
                {
                    // a^T g per example: g's examples side by side as columns, one product, then back
                    int m = cg[0], n = cg[1], nb = Product(bg);
                    var cols = u.Reshape(u.Transpose(u.Reshape(g, [nb, m, n]), [1, 0, 2]), [m, nb * n]);
                    var r = u.Apply(Prims.DotTB, [u.Reshape(x, cx), cols]);                // [kx, nb * n]
                    return u.Reshape(u.Transpose(u.Reshape(r, [cx[1], nb, n]), [1, 0, 2]), [.. bg, cx[1], n]);
                }
                return MatMulK(u, SwapLast2(u, u.Reshape(x, [.. bx, .. cx])), g, k);
            default:
                throw ShapeException.Of("Lax.DotTB (batched)", $"per-example ranks ({cx.Length}, {cg.Length}) fit no case of Dot", ("a", u.A(x)), ("g", u.A(g)));
        }
    }

    internal static Node MatMul(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => MatMulK(u, a[0], a[1], k);

    internal static Node MatMulTA(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => MatMulT(u, a[0], a[1], a[2], k, forA: true);

    internal static Node MatMulTB(Unbatcher u, Primitive p, Node[] a, Params prm, int k) => MatMulT(u, a[1], a[0], a[2], k, forA: false);

    /// <summary>MatMulTA (forA) / MatMulTB on the core axes: the product, summed over broadcast core-batch axes down to the target.</summary>
    static Node MatMulT(Unbatcher u, Node g, Node other, Node targetNode, int k, bool forA)
    {
        var target = u.A(targetNode);
        var (bg, cg) = Split(u.Dims(g), k);
        var (bo, co) = Split(u.Dims(other), k);
        var ct = Split(target.Dims, k).Core;
        var bres = BatchOf(u, forA ? "Lax.MatMulTA (batched)" : "Lax.MatMulTB (batched)", k, g, other, targetNode);
        var (ca, cb) = forA ? (ct, co) : (co, ct);
        int[] cap = ca.Length == 1 ? [1, ca[0]] : ca;
        int[] cbp = cb.Length == 1 ? [cb[0], 1] : cb;
        int m = cap[^2], n = cbp[^1];
        var corebatch = Kernels.BroadcastShapes(cap[..^2], cbp[..^2])
            ?? throw ShapeException.Of("Lax.MatMulT (batched)", "the per-example batch axes do not broadcast", ("g", u.A(g)), ("other", u.A(other)), ("target", target));
        var g2 = u.Reshape(g, [.. bg, .. corebatch, m, n]);
        Node full;
        int[] promoted;
        if (forA)
        {
            var b2 = u.Reshape(other, [.. bo, .. cbp]);
            full = MatMulK(u, g2, SwapLast2(u, b2), k);        // [.., m, kk]
            promoted = cap;
        }
        else
        {
            var a2 = u.Reshape(other, [.. bo, .. cap]);
            full = MatMulK(u, SwapLast2(u, a2), g2, k);        // [.., kk, n]
            promoted = cbp;
        }
        full = ToBatch(u, full, bres, k);
        var fc = Split(u.Dims(full), k).Core;
        var fa = u.A(full);
        var summed = u.Apply(Prims.SumTo, [full, u.Const(new Aval([.. bres, .. Enumerable.Repeat(1, fc.Length - promoted.Length), .. promoted], fa.DType, fa.Weak))]);
        return u.Reshape(summed, [.. bres, .. ct]);
    }

    // ------------------------------------------------------------------ indexing

    internal static Node Take(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        Node x = a[0], idx = a[1];
        var (bi, ci) = Split(u.Dims(idx), k);
        var cx = Split(u.Dims(x), k).Core;
        int ax = CoreAxis(prm.Get<int>(0), cx.Length, "Np.Take (batched)", u.A(x), u.A(idx));
        if (Unbatched(bi))
        {
            var (bx, _) = Split(u.Dims(x), k);
            return u.Apply(Prims.Take, [u.Reshape(x, [.. bx, .. cx]), u.Reshape(idx, ci)], new Params(k + ax));
        }
        var bres = BatchOf(u, "Np.Take (batched)", k, x, idx);
        return u.Apply(Prims.TakeBatched, [ToBatch(u, x, bres, k), ToBatch(u, idx, bres, k)], new Params(ax, k));
    }

    internal static Node ScatterAdd(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        Node g = a[0], idx = a[1];
        var xa = u.A(a[2]);
        var (bi, ci) = Split(u.Dims(idx), k);
        var cx = Split(xa.Dims, k).Core;
        int ax = CoreAxis(prm.Get<int>(0), cx.Length, "Lax.ScatterAdd (batched)", u.A(g), u.A(idx), xa);
        var bres = BatchOf(u, "Lax.ScatterAdd (batched)", k, a);
        g = ToBatch(u, g, bres, k);
        if (Unbatched(bi)) return u.Apply(Prims.ScatterAdd, [g, u.Reshape(idx, ci), u.AvalConst([.. bres, .. cx], xa)], new Params(k + ax));
        return u.Apply(Prims.ScatterAddBatched, [g, ToBatch(u, idx, bres, k), u.AvalConst([.. bres, .. cx], xa)], new Params(ax, k));
    }

    /// <summary>The batched gather and scatter are ordinary primitives with k batch axes of their own: under another Vmap, k grows.</summary>
    internal static Node Batched(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var bres = BatchOf(u, $"{p.Name} (batched)", k, a);
        var args = a.Select(x => x.Kind switch
        {
            Kind.Tensor => ToBatch(u, x, bres, k),
            Kind.Aval => u.AvalConst([.. bres, .. Split(u.Dims(x), k).Core], u.A(x)),   // the shape operand gains the batch too
            _ => x,
        }).ToArray();
        return u.Apply(p, args, new Params(prm.Get<int>(0), prm.Get<int>(1) + k));
    }

    internal static Node Unstack(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var g = a[0];
        var (bg, cg) = Split(u.Dims(g), k);
        var s = u.A(a[1]);
        int ax = CoreAxis(prm.Get<int>(0), cg.Length, "Lax.Unstack (batched)", u.A(g));
        return u.Apply(Prims.Unstack, [u.Reshape(g, [.. bg, .. cg]), u.AvalConst([.. Split(s.Dims, k).Batch, .. Split(s.Dims, k).Core], s)], new Params(k + ax, prm.Get<int>(1)));
    }

    internal static Node StackPart(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var g = a[0];
        var s = u.A(a[1]);
        var (bg, cg) = Split(u.Dims(g), k);
        var cs = Split(s.Dims, k).Core;
        int ax = CoreAxis(prm.Get<int>(0), cs.Length, "Lax.StackPart (batched)", Avals(u, a));
        return u.Apply(Prims.StackPart, [u.Reshape(g, [.. bg, .. cg]), u.AvalConst([.. bg, .. cs], s)], new Params(k + ax, prm.Get<int>(1)));
    }

    // ------------------------------------------------------------------ Vmap's own structural primitives

    internal static Node MoveAxisToFront(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = a[0];
        var (b, c) = Split(u.Dims(x), k);
        int ax = CoreAxis(prm.Get<int>(0), c.Length, "Vmap: MoveAxisToFront", u.A(x));
        var perm = Enumerable.Range(0, k).Append(k + ax).Concat(Enumerable.Range(k, c.Length).Where(i => i != k + ax)).ToArray();
        return u.Transpose(x, perm);
    }

    internal static Node MoveAxisFromFront(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var y = a[0];
        var c = Split(u.Dims(y), k).Core;
        int ax = CoreAxis(prm.Get<int>(0), c.Length, "Vmap: MoveAxisFromFront", u.A(y));
        var perm = Enumerable.Range(0, k).Concat(Enumerable.Range(0, c.Length).Select(i => k + (i < ax ? i + 1 : i == ax ? 0 : i))).ToArray();
        return u.Transpose(y, perm);
    }

    internal static Node AddBatchAxis(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = a[0];
        var (b, c) = Split(u.Dims(x), k);
        int[] dims = [.. b, 1, .. c];
        return x.Kind == Kind.Aval ? u.AvalConst(dims, u.A(x)) : u.Reshape(x, dims);
    }

    internal static Node BroadcastBatch(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var y = a[0];
        var (b, c) = Split(u.Dims(y), k);
        int size = Split(u.Dims(a[1]), k).Core[^1];
        if (c.Length == 0) c = [1];
        y = u.Reshape(y, [.. b, .. c]);
        return c[0] == size ? y : u.BroadcastTo(y, [.. b, size, .. c[1..]]);
    }

    internal static Node VmapSize(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        // an inner vmap's size check, under an outer vmap: check the per-example (core) axes
        var axes = prm.Get<int[]>(1).Select(ax => ax < 0 ? ax : ax + k).ToArray();
        int s = Vmapped.Size(a.Select(u.A).ToArray(), prm.Get<string[]>(0), axes, prm.Get<int?>(2));
        return u.Const(new Aval([.. Enumerable.Repeat(1, k), s], DType.Float32));
    }

    internal static Node GradSeed(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = u.A(a[0]);
        var c = Split(x.Dims, k).Core;
        if (c.Length != 0) Rt.GradSeed(Lax.Zeros(new Aval(c, x.DType)), prm[0]!.ToString()!); // throws, naming the per-example shape
        return u.Apply(Prims.Ones, [u.Const(x)]);
    }

    /// <summary>A user rule's tangent checked against its primal's aval: the per-example shapes are compared.</summary>
    internal static Node CheckAval(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var t = u.A(a[0]);
        var expected = u.A(a[1]);
        if (!t.Shape.Skip(k).SequenceEqual(expected.Shape.Skip(k)))
            throw new ShapeException((string)prm[0]!, [t, expected], $"the per-example shapes {t} and {expected} (first {k} axes are batch axes) differ: a custom rule must return a tangent with its primal's shape");
        return a[0];
    }

    // ------------------------------------------------------------------ Jacobian layouts (permutations and reshapes)

    /// <summary>Basis at batch count k: the per-example basis (a constant), broadcast over the batch axes.</summary>
    internal static Node Basis(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var x = u.A(a[0]);
        var (b, c) = Split(x.Dims, k);
        var basis = u.Apply(Prims.Basis, [u.Const(Lax.Zeros(new Aval(c, x.DType, x.Weak)))], new Params(0));
        return u.BroadcastTo(basis, [.. b, .. u.Dims(basis)]);
    }

    /// <summary>Forward-mode rows [B.., n, o..] to the Jacobian [B.., o.., s..]: move n to the end, then reshape.</summary>
    internal static Node FromRows(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var (b, r) = Split(u.Dims(a[0]), k);
        var s = Split(u.Dims(a[1]), k).Core;
        if (r.Length == 0 || r[0] != Product(s))
            throw new ShapeException("JacobianLayout.FromRows (batched)", [u.A(a[0]), u.A(a[1])], "the number of rows must be the size of x");
        var rows = u.Reshape(a[0], [.. b, .. r]);
        var perm = Enumerable.Range(0, k).Concat(Enumerable.Range(k + 1, r.Length - 1)).Append(k).ToArray();
        return u.Reshape(u.Transpose(rows, perm), [.. b, .. r[1..], .. s]);
    }

    /// <summary>The transpose of <see cref="FromRows"/>: [B.., o.., s..] to rows [B.., n, o..].</summary>
    internal static Node ToRows(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var (b, j) = Split(u.Dims(a[0]), k);
        var s = Split(u.Dims(a[1]), k).Core;
        var o = j[..(j.Length - s.Length)];
        var flat = u.Reshape(a[0], [.. b, .. o, Product(s)]);
        var perm = Enumerable.Range(0, k).Append(k + o.Length).Concat(Enumerable.Range(k, o.Length)).ToArray();
        return u.Transpose(flat, perm);
    }

    /// <summary>Reverse-mode rows [B.., m, s..] to the Jacobian [B.., o.., s..] (o from y).</summary>
    internal static Node FromColumns(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var (b, r) = Split(u.Dims(a[0]), k);
        var o = Split(u.Dims(a[1]), k).Core;
        if (r.Length == 0 || r[0] != Product(o))
            throw new ShapeException("JacobianLayout.FromColumns (batched)", [u.A(a[0]), u.A(a[1])], "the number of rows must be the size of y");
        return u.Reshape(a[0], [.. b, .. o, .. r[1..]]);
    }

    /// <summary>The transpose of <see cref="FromColumns"/>.</summary>
    internal static Node ToColumns(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var (b, j) = Split(u.Dims(a[0]), k);
        var o = Split(u.Dims(a[1]), k).Core;
        return u.Reshape(a[0], [.. b, Product(o), .. j[o.Length..]]);
    }

    /// <summary>Batching rules of the primitives declared without a family, and the check that every primitive of <paramref name="declared"/> has one.</summary>
    public static void Install(IEnumerable<Primitive> declared)
    {
        static void Set(Primitive p, BatchRule r) => p.Batched = (u, a, prm, k) => r(u, p, a, prm, k);
        Set(Prims.Cond, Never);
        // user rules never carry a batch (Vmap batches them through their own rules)
        Set(Prims.Custom, Never);
        Set(Prims.CustomVjpTangent, Never);
        Set(Prims.CheckAval, CheckAval);
        CheckEveryPrimitiveBatches(declared);
    }

    /// <summary>Throws when a primitive of <paramref name="declared"/> has no batching rule (the leaves and the logical operators need none).</summary>
    public static void CheckEveryPrimitiveBatches(IEnumerable<Primitive> declared)
    {
        foreach (var p in declared)
            if (p.Batched is null && p != Prims.Input && p != Prims.Const && p != Prims.And && p != Prims.Or && p != Prims.Not)
                throw new InvalidOperationException($"Internal error: the primitive {p.Name} has no batching rule.");
    }
}
