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

/// <summary>What a batched rule is given: the node's primitive and its Torch entry, the batch count and every aval (all known at compile time).</summary>
internal sealed class BatchCtx
{
    /// <summary>The node's primitive (passed on to the core's shape rule, never compared).</summary>
    public required Primitive P;
    /// <summary>The primitive's unbatched lowering, which the rule may run on reshaped operands.</summary>
    public required TensorOp Op;
    /// <summary>The batch count k: the first k axes of each operand are batch axes.</summary>
    public required int K;
    public required Kind[] Kinds;
    /// <summary>Operand avals (batch axes included; a C# scalar has a scalar's aval).</summary>
    public required Aval[] In;
    public required Params Params;
    /// <summary>The output aval, from the core's batched shape rule.</summary>
    public required Aval Out;
    public required Device Device;

    public long[] OutDims => Lowerings.Longs(Out.Dims);
    /// <summary>The batch and core dims of operand 0.</summary>
    public (int[] Batch, int[] Core) X0 => Split(In[0].Dims, K);
}

/// <summary>A batched rule of a Torch entry (<see cref="TensorOp.Batched"/>): the vectorised lowering of a batched node, or null for the CPU batched implementation.</summary>
internal delegate BatchedOp? BatchedRule(BatchCtx c);

/// <summary>
/// Batch counts on Torch: for the common families, the batched semantics of <c>Batching.cs</c> (the first k axes
/// are batch axes, the primitive acts on the rest, the core) as libtorch calls on whole batches. Every aval is
/// known when a rule runs (the node's output aval comes from the core's batched shape rule, which also ran its
/// checks), so each plan is fixed reshapes, parameter shifts and one call. Each rule here is named by the entries of
/// <see cref="Lowerings.Table"/> that use it (an elementwise entry gets <see cref="Elementwise"/>); an entry with no
/// rule, or a rule that gives null, runs through the CPU batched implementation.
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
    /// The unbatched lowering of the node's primitive applied to the whole batch: tensor operands reshaped to the
    /// dims of <paramref name="newIn"/> (or first reshaped to <paramref name="pads"/>, then expanded to them),
    /// parameters <paramref name="prm"/> (axes shifted past the batch axes), the result reshaped to the node's output.
    /// </summary>
    static BatchedOp Via(BatchCtx c, Aval[] newIn, Params prm, int[][]? pads = null)
    {
        var op = c.Op;
        var kinds = c.Kinds;
        var ctx = new LowerCtx { In = newIn, Out = Rt.InferAval(c.P, prm, kinds, newIn), P = prm, Device = c.Device };
        var shapes = newIn.Select((a, i) => kinds[i] == Kind.Tensor ? L(a.Dims) : null).ToArray();
        var pre = pads?.Select(L).ToArray();
        var outDims = c.OutDims;
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
    public static BatchedRule MatMulT(bool forA) => c => MatMulT(forA, c.K, c.Kinds, c.In, c.Out);

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

    // ------------------------------------------------------------------ the rules, named by the entries of Lowerings.Table

    /// <summary>Elementwise: cores aligned on the right by size-1 axes between batch and core axes; torch broadcasts the rest.</summary>
    public static BatchedOp? Elementwise(BatchCtx c)
    {
        int k = c.K;
        int rank = c.In.Where((a, i) => c.Kinds[i] == Kind.Tensor).Select(a => Split(a.Dims, k).Core.Length).DefaultIfEmpty(0).Max();
        var newIn = c.In.Select((a, i) => c.Kinds[i] == Kind.Tensor && a.Rank > 0 ? Dims(a, Aligned(a.Dims, k, rank)) : a).ToArray();
        return Via(c, newIn, c.Params);
    }

    /// <summary>A reduction over an optional axis (parameter 0): the axis shifts past the batch axes; no axis = over the flattened core.</summary>
    public static BatchedOp? Reduction(BatchCtx c)
    {
        var (b0, c0) = c.X0;
        return c.Params[0] is int axis
            ? Via(c, [Dims(c.In[0], [.. b0, .. c0])], With(c.Params, 0, (int?)(c.K + Norm(axis, c0.Length))))
            : Via(c, [Dims(c.In[0], [.. b0, c0.Aggregate(1, (s, d) => s * d)])], With(c.Params, 0, (int?)c.K));
    }

    /// <summary>An operation along one axis of the core (parameter 0), shifted past the batch axes.</summary>
    public static BatchedOp? AlongAxis(BatchCtx c)
    {
        var (b0, c0) = c.X0;
        return Via(c, [Dims(c.In[0], [.. b0, .. c0])], With(c.Params, 0, c.K + Norm(c.Params.Get<int>(0), c0.Length)));
    }

    /// <summary>Dot and MatMul: torch.matmul on the cores, rank-1 cores promoted as numpy does.</summary>
    public static BatchedOp? Product(BatchCtx c)
    {
        int[] da = c.In[0].Dims, db = c.In[1].Dims;
        int k = c.K;
        var outDims = c.OutDims;
        return Direct(x => Reshape(MatMul(x[0]!, x[1]!, da, db, k), outDims));
    }

    /// <summary>(g, b) -> the cotangent of a in a . b.</summary>
    public static BatchedOp? DotTA(BatchCtx c)
    {
        int k = c.K;
        var outDims = c.OutDims;
        int[] dg = c.In[0].Dims, dbb = c.In[1].Dims;
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

    /// <summary>(a, g) -> the cotangent of b in a . b.</summary>
    public static BatchedOp? DotTB(BatchCtx c)
    {
        int k = c.K;
        var outDims = c.OutDims;
        int[] dx = c.In[0].Dims, dg = c.In[1].Dims;
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

    /// <summary>A tensor reshaped to the output aval (batch axes stay in front).</summary>
    public static BatchedOp? ToOutputShape(BatchCtx c)
    {
        if (c.Kinds[0] != Kind.Tensor) return null;
        var outDims = c.OutDims;
        return Direct(x => x[0]!.reshape(outDims));
    }

    /// <summary>A permutation of the core axes (parameter 0, or reversed), after the batch axes.</summary>
    public static BatchedOp? Transpose(BatchCtx c)
    {
        int k = c.K;
        var (b0, c0) = c.X0;
        int r = c0.Length;
        var axes = c.Params.Get<int[]?>(0);
        var perm = Enumerable.Range(0, k).Concat(axes is null ? Enumerable.Range(0, r).Select(i => k + r - 1 - i) : axes.Select(a => k + Norm(a, r))).Select(i => (long)i).ToArray();
        var padded = L([.. b0, .. c0]);
        return Direct(x => x[0]!.reshape(padded).permute(perm));
    }

    /// <summary>Core axis <c>axis</c> (parameter 0) moved to core position 0, or core axis 0 moved to <c>axis</c>.</summary>
    public static BatchedRule MoveAxis(bool toFront) => c =>
    {
        int k = c.K;
        var (b0, c0) = c.X0;
        int r = c0.Length, ax = Norm(c.Params.Get<int>(0), r);
        var perm = toFront
            ? Enumerable.Range(0, k).Append(k + ax).Concat(Enumerable.Range(k, r).Where(i => i != k + ax)).Select(i => (long)i).ToArray()
            : Enumerable.Range(0, k).Concat(Enumerable.Range(0, r).Select(i => k + (i < ax ? i + 1 : i == ax ? 0 : i))).Select(i => (long)i).ToArray();
        var padded = L([.. b0, .. c0]);
        return Direct(x => x[0]!.reshape(padded).permute(perm));
    };

    static BatchedOp? Broadcast(BatchCtx c, int rank)
    {
        var aligned = L(Aligned(c.In[0].Dims, c.K, rank));
        var outDims = c.OutDims;
        return Direct(x => x[0]!.reshape(aligned).expand(outDims));
    }

    /// <summary>Broadcast to the shape of parameter 0: the core aligned to its rank, then expanded to the output.</summary>
    public static BatchedOp? BroadcastToShape(BatchCtx c) => Broadcast(c, c.Params.Get<int[]>(0).Length);

    /// <summary>Broadcast to the aval of operand 1: the core aligned to its core's rank, then expanded to the output.</summary>
    public static BatchedOp? BroadcastToAval(BatchCtx c) => Broadcast(c, Split(c.In[1].Dims, c.K).Core.Length);

    /// <summary>Core axis 0 (a rank-0 core gets one) expanded to the output.</summary>
    public static BatchedOp? BroadcastBatch(BatchCtx c)
    {
        var (b0, c0) = c.X0;
        var shape = L([.. b0, .. (c0.Length == 0 ? [1] : c0)]);
        var outDims = c.OutDims;
        return Direct(x => x[0]!.reshape(shape).expand(outDims));
    }

    /// <summary>A reduction's result (g, aval of its input) expanded back over the reduced axes; the mean's divided by the count.</summary>
    public static BatchedRule ExpandReduced(bool mean) => c =>
    {
        var (b0, _) = c.X0;
        var ci = Split(c.In[1].Dims, c.K).Core;
        int[] gd;
        long count;
        if (c.Params[0] is int axis)
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
        var outDims = c.OutDims;
        return Direct(x => (mean ? x[0]! / (double)count : x[0]!).reshape(shape).expand(outDims));
    };

    /// <summary>(x, aval of the target): x summed down to the target's core, over the common batch.</summary>
    public static BatchedOp? SumTo(BatchCtx c)
    {
        int k = c.K;
        var (b0, c0) = c.X0;
        var bres = BatchOf(c.In, c.Kinds, k);
        var ct = Split(c.In[1].Dims, k).Core;
        int[] full = [.. bres, .. c0];
        int[] target = [.. bres, .. Enumerable.Repeat(1, Math.Max(0, c0.Length - ct.Length)), .. ct];
        var axes = Enumerable.Range(0, full.Length).Where(i => target[i] == 1 && full[i] != 1).Select(i => (long)i).ToArray();
        var padded = L([.. b0, .. c0]);
        var fullL = L(full);
        var outDims = c.OutDims;
        return Direct(x =>
        {
            var t = x[0]!.reshape(padded).expand(fullL);
            if (axes.Length > 0) t = t.sum(axes, keepdim: true);
            return t.reshape(outDims);
        });
    }

    /// <summary>Concatenate (along an existing axis) and Stack (along a new one): operands brought to the common batch, the axis shifted past the batch axes.</summary>
    public static BatchedRule Join(bool newAxis) => c =>
    {
        int k = c.K;
        var bres = BatchOf(c.In, c.Kinds, k);
        var newIn = c.In.Select(a => Dims(a, [.. bres, .. Split(a.Dims, k).Core])).ToArray();
        int r = c.X0.Core.Length + (newAxis ? 1 : 0);
        var pads = c.In.Select(a => Padded(a.Dims, k)).ToArray();
        return Via(c, newIn, With(c.Params, 0, k + Norm(c.Params.Get<int>(0), r)), pads);
    };

    /// <summary>(g, aval of g): one slice of the core.</summary>
    public static BatchedOp? Unstack(BatchCtx c)
    {
        var (b0, c0) = c.X0;
        return Via(c, [Dims(c.In[0], [.. b0, .. c0]), Dims(c.In[1], [.. b0, .. Split(c.In[1].Dims, c.K).Core])],
            With(c.Params, 0, c.K + Norm(c.Params.Get<int>(0), c0.Length)));
    }

    /// <summary>(g, aval of the stack): g placed as one slice of zeros.</summary>
    public static BatchedOp? StackPart(BatchCtx c)
    {
        var (b0, c0) = c.X0;
        var cs = Split(c.In[1].Dims, c.K).Core;
        return Via(c, [Dims(c.In[0], [.. b0, .. c0]), Dims(c.In[1], [.. b0, .. cs])], With(c.Params, 0, c.K + Norm(c.Params.Get<int>(0), cs.Length)));
    }

    /// <summary>SplitPart and PadPart (a value and the avals of the parts): the axis shifted past the batch axes.</summary>
    public static BatchedOp? Part(BatchCtx c)
    {
        var (b0, c0) = c.X0;
        var newIn = c.In.Select((a, i) => i == 0 ? Dims(a, [.. b0, .. c0]) : Dims(a, [.. b0, .. Split(a.Dims, c.K).Core])).ToArray();
        return Via(c, newIn, With(c.Params, 0, c.K + Norm(c.Params.Get<int>(0), c0.Length)));
    }

    /// <summary>(g, indices, aval of x); per-example indices go to the CPU batched scatter.</summary>
    public static BatchedOp? ScatterAdd(BatchCtx c)
    {
        int k = c.K;
        var (b0, c0) = c.X0;
        var (bi, ci) = Split(c.In[1].Dims, k);
        if (bi.Any(d => d != 1)) return null;
        var bres = BatchOf(c.In, c.Kinds, k);
        var cx = Split(c.In[2].Dims, k).Core;
        var newIn = new[] { Dims(c.In[0], [.. bres, .. c0]), Dims(c.In[1], ci), Dims(c.In[2], [.. bres, .. cx]) };
        return Via(c, newIn, With(c.Params, 0, k + Norm(c.Params.Get<int>(0), cx.Length)), [[.. b0, .. c0], ci, []]);
    }

    /// <summary>(x, indices); per-example indices go to the CPU batched gather.</summary>
    public static BatchedOp? Take(BatchCtx c)
    {
        var (b0, c0) = c.X0;
        var (bi, ci) = Split(c.In[1].Dims, c.K);
        if (bi.Any(d => d != 1)) return null;
        return Via(c, [Dims(c.In[0], [.. b0, .. c0]), Dims(c.In[1], ci)], With(c.Params, 0, c.K + Norm(c.Params.Get<int>(0), c0.Length)));
    }

    /// <summary>The unbatched lowering on the whole value (it already acts on the last axes, e.g. one-hot).</summary>
    public static BatchedOp? Whole(BatchCtx c) => Via(c, c.In, c.Params);

    /// <summary>Ones of the output aval.</summary>
    public static BatchedOp? Ones(BatchCtx c)
    {
        var outDims = c.OutDims;
        var type = Lowerings.ScalarOf(c.Out.DType);
        var device = c.Device;
        return Direct(x => torch.ones(outDims, type, device));
    }

    /// <summary>The operand itself (a check that the core's batched shape rule already ran at compile time).</summary>
    public static BatchedOp? Identity(BatchCtx c) => Direct(x => x[0]!);
}
