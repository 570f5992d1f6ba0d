using TorchSharp;
using static TorchSharp.torch;
using static Functional.AD.Vmapped;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

/// <summary>
/// A vectorised lowering of one batched node (<see cref="Node.Batch"/> &gt; 0): a function of the operands (cast as for
/// a <see cref="TensorOp"/>: elementwise ones to the output dtype) giving a tensor of the node's output shape.
/// </summary>
internal sealed record BatchedOp(Func<TT?[], TT> Run, bool Elementwise);

/// <summary>
/// Batch counts on Torch: for the common families, the batched semantics of <c>Batching.cs</c> (the first k axes
/// are batch axes, the primitive acts on the rest, the core) as libtorch calls on whole batches. Every aval is
/// known when this runs (the node's output aval comes from the core's batched shape rule, which also ran its
/// checks), so each plan is fixed reshapes, parameter shifts and one call. <see cref="Plan"/> gives null for the
/// primitives it does not vectorise; the compiler runs those through the CPU batched implementation.
/// </summary>
internal static class BatchedLowerings
{
    static long[] L(int[] dims) => Lowerings.Longs(dims);
    static int Norm(int axis, int rank) => axis < 0 ? axis + rank : axis;
    static Aval Dims(Aval a, int[] dims) => new(dims, a.DType, a.Weak);

    static Params With(Params p, int i, object? v)
    {
        var vals = (object?[])p.Values.Clone();
        vals[i] = v;
        return new Params(vals);
    }

    /// <summary>The dims as batch and core (a rank below k padded with leading 1s), joined again.</summary>
    static int[] Padded(int[] dims, int k) { var (b, c) = Split(dims, k); return [.. b, .. c]; }

    /// <summary>Size-1 axes inserted between batch and core axes so that the core has rank <paramref name="rank"/> (as <c>Vmapped.Align</c>).</summary>
    static int[] Aligned(int[] dims, int k, int rank)
    {
        var (b, c) = Split(dims, k);
        return [.. b, .. Enumerable.Repeat(1, Math.Max(0, rank - c.Length)), .. c];
    }

    /// <summary>The broadcast batch dimensions of the Tensor/Aval operands (sizes were checked by the shape rule).</summary>
    static int[] BatchOf(Aval?[] avals, Kind[] kinds, int k)
    {
        var r = Enumerable.Repeat(1, k).ToArray();
        for (int i = 0; i < avals.Length; i++)
        {
            if (kinds[i] is not (Kind.Tensor or Kind.Aval) || avals[i] is not { } a) continue;
            var b = Split(a.Dims, k).Batch;
            for (int j = 0; j < k; j++) if (b[j] != 1) r[j] = b[j];
        }
        return r;
    }

    static TT Reshape(TT x, long[] dims) => x.shape.AsSpan().SequenceEqual(dims) ? x : x.reshape(dims);

    /// <summary>
    /// The unbatched lowering of <paramref name="p"/> applied to the whole batch: tensor operands reshaped to the
    /// dims of <paramref name="newIn"/> (or first reshaped to <paramref name="pads"/>, then expanded to them),
    /// parameters <paramref name="prm"/> (axes shifted past the batch axes), the result reshaped to the node's output.
    /// </summary>
    static BatchedOp? Via(Primitive p, Kind[] kinds, Aval[] newIn, Params prm, Aval outAval, Device device, int[][]? pads = null)
    {
        if (!Lowerings.Table.TryGetValue(p, out var lw) || lw is not TensorOp op) return null;
        var ctx = new LowerCtx { In = newIn, Out = Rt.InferAval(p, prm, kinds, newIn), P = prm, Device = device };
        var shapes = newIn.Select((a, i) => kinds[i] == Kind.Tensor ? L(a.Dims) : null).ToArray();
        var pre = pads?.Select(L).ToArray();
        var outDims = L(outAval.Dims);
        return new BatchedOp(x =>
        {
            for (int i = 0; i < x.Length; i++)
            {
                if (shapes[i] is not { } s || x[i] is not { } xi) continue;
                x[i] = pre is null ? Reshape(xi, s) : Reshape(xi, pre[i]).expand(s);
            }
            return Reshape(op.Run(ctx, x), outDims);
        }, op.Elementwise);
    }

    static BatchedOp Direct(Func<TT?[], TT> f) => new(f, false);

    /// <summary>numpy matmul on the cores of a and b (as <c>Vmapped.MatMul</c>), reshaped to the output.</summary>
    static TT MatMul(TT a, TT b, int[] da, int[] db, int k)
    {
        var (ba, ca) = Split(da, k);
        var (bb, cb) = Split(db, k);
        int[] cap = ca.Length == 1 ? [1, ca[0]] : ca;
        int[] cbp = cb.Length == 1 ? [cb[0], 1] : cb;
        int la = cap.Length - 2, lb = cbp.Length - 2, l = Math.Max(la, lb);
        var a2 = a.reshape(L([.. ba, .. Enumerable.Repeat(1, l - la), .. cap]));
        var b2 = b.reshape(L([.. bb, .. Enumerable.Repeat(1, l - lb), .. cbp]));
        return torch.matmul(a2, b2);
    }

    /// <summary>
    /// MatMulTA (g, b, aval of a) / MatMulTB (a, g, aval of b) on the cores (as <c>Batching.MatMulT</c>): the product
    /// with the other operand transposed, batch axes broadcast, summed over broadcast core-batch axes down to the target.
    /// </summary>
    static BatchedOp MatMulT(bool forA, int k, Kind[] kinds, Aval[] inAvals, Aval outAval)
    {
        int[] dg = inAvals[forA ? 0 : 1].Dims, dother = inAvals[forA ? 1 : 0].Dims;
        var (bg, _) = Split(dg, k);
        var (bo, co) = Split(dother, k);
        var ct = Split(inAvals[2].Dims, k).Core;
        var bres = BatchOf(inAvals, kinds, k);
        var (ca, cb) = forA ? (ct, co) : (co, ct);
        int[] cap = ca.Length == 1 ? [1, ca[0]] : ca;
        int[] cbp = cb.Length == 1 ? [cb[0], 1] : cb;
        int m = cap[^2], n = cbp[^1];
        var corebatch = Kernels.BroadcastShapes(cap[..^2], cbp[..^2])!;
        int[] g2 = [.. bg, .. corebatch, m, n];
        var promoted = forA ? cap : cbp;
        int[] otherDims = [.. bo, .. (forA ? cbp : cap)];
        int[] otherT = [.. bo, .. (forA ? cbp : cap)[..^2], (forA ? cbp : cap)[^1], (forA ? cbp : cap)[^2]];
        var outDims = L(outAval.Dims);
        return Direct(x =>
        {
            var g = x[forA ? 0 : 1]!.reshape(L(g2));
            var o = x[forA ? 1 : 0]!.reshape(L(otherDims)).transpose(-1, -2);
            var full = forA ? MatMul(g, o, g2, otherT, k) : MatMul(o, g, otherT, g2, k);
            int fr = (int)full.dim() - k;
            full = full.expand(L([.. bres, .. full.shape.Skip(k).Select(d => (int)d)]));
            int[] target = [.. bres, .. Enumerable.Repeat(1, fr - promoted.Length), .. promoted];
            var axes = Enumerable.Range(0, target.Length).Where(i => target[i] == 1 && full.shape[i] != 1).Select(i => (long)i).ToArray();
            if (axes.Length > 0) full = full.sum(axes, keepdim: true);
            return full.reshape(outDims);
        });
    }

    /// <summary>The vectorised lowering of a batched node, or null when the CPU batched implementation must run it.</summary>
    public static BatchedOp? Plan(Primitive p, int k, Kind[] kinds, Aval[] inAvals, Params prm, Aval outAval, Device device)
    {
        var outDims = L(outAval.Dims);
        Aval x0 = inAvals[0];
        var (b0, c0) = Split(x0.Dims, k);

        // elementwise: cores aligned on the right by size-1 axes between batch and core axes; torch broadcasts the rest
        if (Lowerings.Table.TryGetValue(p, out var lw) && lw is TensorOp { Elementwise: true })
        {
            int rank = inAvals.Where((a, i) => kinds[i] == Kind.Tensor).Select(a => Split(a.Dims, k).Core.Length).DefaultIfEmpty(0).Max();
            var newIn = inAvals.Select((a, i) => kinds[i] == Kind.Tensor && a.Rank > 0 ? Dims(a, Aligned(a.Dims, k, rank)) : a).ToArray();
            return Via(p, kinds, newIn, prm, outAval, device);
        }

        if (p == Prims.Sum || p == Prims.Mean || p == Prims.Max || p == Prims.LogSumExp || p == Prims.Argmax)
        {
            // an axis shifts past the batch axes; no axis = over the flattened core
            return prm[0] is int axis
                ? Via(p, kinds, [Dims(x0, [.. b0, .. c0])], With(prm, 0, (int?)(k + Norm(axis, c0.Length))), outAval, device)
                : Via(p, kinds, [Dims(x0, [.. b0, c0.Aggregate(1, (s, d) => s * d)])], With(prm, 0, (int?)k), outAval, device);
        }
        if (p == Prims.Softmax || p == Prims.LogSoftmax)
            return Via(p, kinds, [Dims(x0, [.. b0, .. c0])], With(prm, 0, k + Norm(prm.Get<int>(0), c0.Length)), outAval, device);

        // products: torch.matmul on the cores, rank-1 cores promoted as numpy does
        if (p == Prims.Dot || p == Prims.MatMul)
        {
            int[] da = x0.Dims, db = inAvals[1].Dims;
            return Direct(x => Reshape(MatMul(x[0]!, x[1]!, da, db, k), outDims));
        }
        if (p == Prims.DotTA)
        {
            // (g, b) -> the cotangent of a in a . b
            int[] dg = x0.Dims, dbb = inAvals[1].Dims;
            var (bg, cg) = Split(dg, k);
            var (bb, cb) = Split(dbb, k);
            return (cg.Length, cb.Length) switch
            {
                (0, 1) => Direct(x => Reshape(x[0]!.reshape(L([.. bg, 1])) * x[1]!, outDims)),
                (1, 2) => Direct(x => Reshape(MatMul(x[1]!, x[0]!, dbb, dg, k), outDims)),
                (1, 1) => Direct(x => Reshape(x[0]!.reshape(L([.. bg, cg[0], 1])) * x[1]!.reshape(L([.. bb, 1, cb[0]])), outDims)),
                (2, 2) => Direct(x => Reshape(MatMul(x[0]!, x[1]!.reshape(L([.. bb, .. cb])).transpose(-1, -2), dg, [.. bb, cb[1], cb[0]], k), outDims)),
                _ => null,
            };
        }
        if (p == Prims.DotTB)
        {
            // (a, g) -> the cotangent of b in a . b
            int[] dx = x0.Dims, dg = inAvals[1].Dims;
            var (bx, cx) = Split(dx, k);
            var (bg, cg) = Split(dg, k);
            return (cx.Length, cg.Length) switch
            {
                (1, 0) => Direct(x => Reshape(x[0]! * x[1]!.reshape(L([.. bg, 1])), outDims)),
                (1, 1) => Direct(x => Reshape(x[0]!.reshape(L([.. bx, cx[0], 1])) * x[1]!.reshape(L([.. bg, 1, cg[0]])), outDims)),
                (2, 1) => Direct(x => Reshape(MatMul(x[1]!, x[0]!, dg, dx, k), outDims)),
                (2, 2) => Direct(x => Reshape(MatMul(x[0]!.reshape(L([.. bx, .. cx])).transpose(-1, -2), x[1]!, [.. bx, cx[1], cx[0]], dg, k), outDims)),
                _ => null,
            };
        }

        if (p == Prims.MatMulTA || p == Prims.MatMulTB) return MatMulT(p == Prims.MatMulTA, k, kinds, inAvals, outAval);

        // shapes: the output aval fixes the result; batch axes stay in front
        if (p == Prims.Reshape || p == Prims.ReshapeTo || (p == Prims.AddBatchAxis && kinds[0] == Kind.Tensor))
            return Direct(x => x[0]!.reshape(outDims));
        if (p == Prims.Transpose)
        {
            int r = c0.Length;
            var axes = prm.Get<int[]?>(0);
            var perm = Enumerable.Range(0, k).Concat(axes is null ? Enumerable.Range(0, r).Select(i => k + r - 1 - i) : axes.Select(a => k + Norm(a, r))).Select(i => (long)i).ToArray();
            var padded = L([.. b0, .. c0]);
            return Direct(x => x[0]!.reshape(padded).permute(perm));
        }
        if (p == Prims.MoveAxisToFront || p == Prims.MoveAxisFromFront)
        {
            int r = c0.Length, ax = Norm(prm.Get<int>(0), r);
            var perm = p == Prims.MoveAxisToFront
                ? Enumerable.Range(0, k).Append(k + ax).Concat(Enumerable.Range(k, r).Where(i => i != k + ax)).Select(i => (long)i).ToArray()
                : Enumerable.Range(0, k).Concat(Enumerable.Range(0, r).Select(i => k + (i < ax ? i + 1 : i == ax ? 0 : i))).Select(i => (long)i).ToArray();
            var padded = L([.. b0, .. c0]);
            return Direct(x => x[0]!.reshape(padded).permute(perm));
        }
        if (p == Prims.BroadcastToShape || p == Prims.BroadcastTo)
        {
            int rank = p == Prims.BroadcastToShape ? prm.Get<int[]>(0).Length : Split(inAvals[1].Dims, k).Core.Length;
            var aligned = L(Aligned(x0.Dims, k, rank));
            return Direct(x => x[0]!.reshape(aligned).expand(outDims));
        }
        if (p == Prims.BroadcastBatch)
        {
            var shape = L([.. b0, .. (c0.Length == 0 ? [1] : c0)]);
            return Direct(x => x[0]!.reshape(shape).expand(outDims));
        }
        if (p == Prims.ExpandReduced || p == Prims.ExpandReducedMean)
        {
            var ci = Split(inAvals[1].Dims, k).Core;
            int[] gd;
            long count;
            if (prm[0] is int axis)
            {
                int ax = Norm(axis, ci.Length);
                gd = (int[])ci.Clone();
                gd[ax] = 1;
                count = ci[ax];
            }
            else
            {
                gd = Enumerable.Repeat(1, ci.Length).ToArray();
                count = ci.Aggregate(1L, (s, d) => s * d);
            }
            var shape = L([.. b0, .. gd]);
            bool mean = p == Prims.ExpandReducedMean;
            return Direct(x => (mean ? x[0]! / (double)count : x[0]!).reshape(shape).expand(outDims));
        }
        if (p == Prims.SumTo)
        {
            var bres = BatchOf(inAvals, kinds, k);
            var ct = Split(inAvals[1].Dims, k).Core;
            int[] full = [.. bres, .. c0];
            int[] target = [.. bres, .. Enumerable.Repeat(1, Math.Max(0, c0.Length - ct.Length)), .. ct];
            var axes = Enumerable.Range(0, full.Length).Where(i => target[i] == 1 && full[i] != 1).Select(i => (long)i).ToArray();
            var padded = L([.. b0, .. c0]);
            var fullL = L(full);
            return Direct(x =>
            {
                var t = x[0]!.reshape(padded).expand(fullL);
                if (axes.Length > 0) t = t.sum(axes, keepdim: true);
                return t.reshape(outDims);
            });
        }

        // joining and splitting: operands brought to the common batch, axes shifted past the batch axes
        if (p == Prims.Concatenate || p == Prims.Stack)
        {
            var bres = BatchOf(inAvals, kinds, k);
            var newIn = inAvals.Select(a => Dims(a, [.. bres, .. Split(a.Dims, k).Core])).ToArray();
            int r = c0.Length + (p == Prims.Stack ? 1 : 0);
            var pads = inAvals.Select(a => Padded(a.Dims, k)).ToArray();
            return Via(p, kinds, newIn, With(prm, 0, k + Norm(prm.Get<int>(0), r)), outAval, device, pads);
        }
        if (p == Prims.Unstack)   // (g, aval of g): one slice of the core
            return Via(p, kinds, [Dims(x0, [.. b0, .. c0]), Dims(inAvals[1], [.. b0, .. Split(inAvals[1].Dims, k).Core])],
                With(prm, 0, k + Norm(prm.Get<int>(0), c0.Length)), outAval, device);
        if (p == Prims.StackPart)   // (g, aval of the stack): g placed as one slice of zeros
        {
            var cs = Split(inAvals[1].Dims, k).Core;
            return Via(p, kinds, [Dims(x0, [.. b0, .. c0]), Dims(inAvals[1], [.. b0, .. cs])],
                With(prm, 0, k + Norm(prm.Get<int>(0), cs.Length)), outAval, device);
        }
        if (p == Prims.SplitPart || p == Prims.PadPart)
        {
            var newIn = inAvals.Select((a, i) => i == 0 ? Dims(a, [.. b0, .. c0]) : Dims(a, [.. b0, .. Split(a.Dims, k).Core])).ToArray();
            return Via(p, kinds, newIn, With(prm, 0, k + Norm(prm.Get<int>(0), c0.Length)), outAval, device);
        }
        if (p == Prims.ScatterAdd)   // (g, indices, aval of x)
        {
            var (bi, ci) = Split(inAvals[1].Dims, k);
            if (bi.Any(d => d != 1)) return null;   // per-example indices: CPU batched scatter
            var bres = BatchOf(inAvals, kinds, k);
            var cx = Split(inAvals[2].Dims, k).Core;
            var newIn = new[] { Dims(x0, [.. bres, .. c0]), Dims(inAvals[1], ci), Dims(inAvals[2], [.. bres, .. cx]) };
            return Via(p, kinds, newIn, With(prm, 0, k + Norm(prm.Get<int>(0), cx.Length)), outAval, device, [[.. b0, .. c0], ci, []]);
        }
        if (p == Prims.Take)
        {
            var (bi, ci) = Split(inAvals[1].Dims, k);
            if (bi.Any(d => d != 1)) return null;   // per-example indices: CPU batched gather
            return Via(p, kinds, [Dims(x0, [.. b0, .. c0]), Dims(inAvals[1], ci)], With(prm, 0, k + Norm(prm.Get<int>(0), c0.Length)), outAval, device);
        }

        // whole-value helpers
        if (p == Prims.OneHot) return Via(p, kinds, inAvals, prm, outAval, device);
        if (p == Prims.GradSeed) return Direct(x => torch.ones(outDims, Lowerings.ScalarOf(outAval.DType), device));
        if (p == Prims.CheckAval) return Direct(x => x[0]!);   // the per-example shapes were compared by the shape rule

        return null;
    }
}
