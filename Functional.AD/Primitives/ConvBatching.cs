namespace Functional.AD;

/// <summary>
/// The batching column of the convolution family (see <see cref="BatchRules"/>): a convolution whose operands carry k
/// leading batch axes is rewritten, once shapes are known, into one unbatched convolution, as JAX's
/// <c>_conv_general_dilated_batch_rule</c> does. The batch axes are flattened into one axis of size B, then folded into
/// an axis of the convolution, depending on which roles (lhs, kernel, output) carry it:
/// <list type="bullet">
/// <item>lhs and output batched, kernel not: B folds into the lhs batch axis (inside each batch group);</item>
/// <item>kernel and output batched, lhs not: B folds into the kernel's output channels (inside each group);</item>
/// <item>all three batched (per-example kernels): B more feature groups (or batch groups), one per example;</item>
/// <item>lhs and kernel batched, output not (a transpose's result summing over examples): B folds into the input
/// channels of lhs and kernel alike.</item>
/// </list>
/// The folding works in channels-first order; a channels-last convolution is transposed to it and back.
/// </summary>
internal static class ConvBatching
{
    enum Fold { Lhs, Kernel, Groups, Channels }

    /// <summary>The roles of a slot's operands and result: 0 lhs, 1 kernel, 2 output.</summary>
    static (int A, int B, int R) Roles(Primitive p) =>
        p == Prims.Conv ? (0, 1, 2) : p == Prims.ConvTransposeLhs ? (2, 1, 0) : (0, 2, 1);

    public static Node Rule(Unbatcher u, Primitive p, Node[] a, Params prm, int k)
    {
        var cp = prm.Get<ConvParams>(0);
        var (ra, rb, rr) = Roles(p);
        int[] batch = BatchOf(u, k, a[0], a[1]);
        int B = Kernels.Product(batch);
        var (xa, ba, ca) = Prepare(u, a[0], k, batch, ra, cp.ChannelsLast);
        var (xb, bb, cb) = Prepare(u, a[1], k, batch, rb, cp.ChannelsLast);
        var first = cp.ChannelsFirst;
        Aval? resultAval = a.Length > 2 ? u.A(a[2]) : null;
        int[]? resultCore = resultAval is null ? null : ConvShape.ToFirst(BatchRulesSplit(resultAval.Dims, k).Core, rr, cp.ChannelsLast);

        if (!ba && !bb)
        {
            var args = resultCore is null ? new[] { xa, xb } : [xa, xb, u.AvalConst(resultCore, resultAval!)];
            var r0 = u.Apply(p, args, new Params(first));
            var core0 = ConvShape.FromFirst(u.Dims(r0), rr, cp.ChannelsLast);
            r0 = ToLayout(u, r0, rr, cp.ChannelsLast, batched: false);
            return u.Reshape(r0, [.. Enumerable.Repeat(1, k), .. core0]);
        }

        // the result carries the batch whenever an operand does; the fold depends on which operands carry it
        Fold fold = (ba && bb) ? Fold.Groups
            : rr == 2 ? (ba ? Fold.Lhs : Fold.Kernel)          // Conv(lhs, kernel)
            : rr == 0 ? (ba ? Fold.Lhs : Fold.Channels)        // ConvTransposeLhs(out, kernel): out only as Conv's lhs fold; kernel only sums over examples in Conv's output
            : (ba ? Fold.Channels : Fold.Kernel);              // ConvTransposeRhs(lhs, out)

        var cpF = first;
        if (fold == Fold.Groups)
            cpF = first.BatchGroups > 1 ? first with { BatchGroups = first.BatchGroups * B } : first with { FeatureGroups = first.FeatureGroups * B };
        var fa = ba ? FoldRole(u, xa, ra, fold, B, first) : xa;
        var fb = bb ? FoldRole(u, xb, rb, fold, B, first) : xb;
        Node[] args2 = [fa, fb];
        if (resultCore is not null) args2 = [fa, fb, u.AvalConst(FoldDims(resultCore, rr, fold, B, first), resultAval!)];
        var r = u.Apply(p, args2, new Params(cpF));
        var unfolded = UnfoldRole(u, r, rr, fold, B, first, resultCore);
        var coreR = ConvShape.FromFirst(u.Dims(unfolded)[1..], rr, cp.ChannelsLast);
        unfolded = ToLayout(u, unfolded, rr, cp.ChannelsLast, batched: true);
        return u.Reshape(unfolded, [.. batch, .. coreR]);
    }

    static (int[] Batch, int[] Core) BatchRulesSplit(int[] dims, int k) => BatchRules.Split(dims, k);

    static int[] BatchOf(Unbatcher u, int k, params Node[] xs)
    {
        var r = Enumerable.Repeat(1, k).ToArray();
        foreach (var x in xs)
        {
            var b = BatchRules.Split(u.Dims(x), k).Batch;
            for (int i = 0; i < k; i++)
            {
                if (b[i] == r[i] || b[i] == 1) continue;
                if (r[i] != 1)
                    throw new ShapeException("Lax.Conv (batched)", xs.Select(u.A).ToArray(), $"batch axis {i} has sizes {r[i]} and {b[i]}; batch axes must be equal or 1");
                r[i] = b[i];
            }
        }
        return r;
    }

    /// <summary>An operand as [B, core...] when it carries the batch (broadcast to it), else as its core; channels-first.</summary>
    static (Node X, bool Batched, int[] Core) Prepare(Unbatcher u, Node x, int k, int[] batch, int role, bool channelsLast)
    {
        var (b, core) = BatchRules.Split(u.Dims(x), k);
        bool batched = b.Any(d => d != 1);
        Node r;
        if (batched)
        {
            r = u.Reshape(x, [.. b, .. core]);
            if (!SmallArrays.Same(b, batch)) r = u.BroadcastTo(r, [.. batch, .. core]);
            r = u.Reshape(r, [Kernels.Product(batch), .. core]);
        }
        else r = u.Reshape(x, core);
        if (channelsLast && core.Length >= 3)
        {
            var perm = role == 1 ? ConvShape.KernelToFirst(core.Length) : ConvShape.DataToFirst(core.Length);
            r = u.Transpose(r, batched ? [0, .. perm.Select(i => i + 1)] : perm);
        }
        return (r, batched, ConvShape.ToFirst(core, role, channelsLast));
    }

    static Node ToLayout(Unbatcher u, Node x, int role, bool channelsLast, bool batched)
    {
        int rank = u.Dims(x).Length - (batched ? 1 : 0);
        if (!channelsLast || rank < 3) return x;
        var perm = role == 1 ? ConvShape.KernelToLast(rank) : ConvShape.DataToLast(rank);
        return u.Transpose(x, batched ? [0, .. perm.Select(i => i + 1)] : perm);
    }

    /// <summary>Reshape, transpose, reshape.</summary>
    static Node Rtr(Unbatcher u, Node x, int[] split, int[] perm, int[] final) =>
        u.Reshape(u.Transpose(u.Reshape(x, split), perm), final);

    static int[] Swap01(int rank) => [1, 0, .. Enumerable.Range(2, rank - 2)];

    /// <summary>The group count that splits the role's folded axis (G outer, as XLA orders groups).</summary>
    static int GroupsOf(ConvParams p) => Math.Max(p.FeatureGroups, p.BatchGroups);

    /// <summary>A batched role [B, core...] (channels-first) folded for the unbatched convolution.</summary>
    static Node FoldRole(Unbatcher u, Node x, int role, Fold fold, int B, ConvParams p)
    {
        var d = u.Dims(x);            // [B, a, b, spatial...]
        int n0 = d[1], n1 = d[2];
        var sp = d[3..];
        switch (fold, role)
        {
            case (Fold.Lhs, 0):
            {
                int g = p.BatchGroups;
                return Rtr(u, x, [B, g, n0 / g, n1, .. sp], Swap01(4 + sp.Length), [B * n0, n1, .. sp]);
            }
            case (Fold.Lhs, 2): return u.Reshape(x, [B * n0, n1, .. sp]);
            case (Fold.Kernel, 1):
            {
                int g = GroupsOf(p);
                return Rtr(u, x, [B, g, n0 / g, n1, .. sp], Swap01(4 + sp.Length), [B * n0, n1, .. sp]);
            }
            case (Fold.Kernel, 2):
            {
                int g = GroupsOf(p);
                // [B, n, G, O/G, sp] -> [n, G, B, O/G, sp]
                return Rtr(u, x, [B, n0, g, n1 / g, .. sp], [1, 2, 0, 3, .. Enumerable.Range(4, sp.Length)], [n0, B * n1, .. sp]);
            }
            case (Fold.Groups, 0):
                return p.BatchGroups > 1 ? u.Reshape(x, [B * n0, n1, .. sp]) : Rtr(u, x, d, Swap01(d.Length), [n0, B * n1, .. sp]);
            case (Fold.Groups, 1): return u.Reshape(x, [B * n0, n1, .. sp]);
            case (Fold.Groups, 2): return Rtr(u, x, d, Swap01(d.Length), [n0, B * n1, .. sp]);
            case (Fold.Channels, 0):
            {
                int g = p.FeatureGroups;
                // [B, N, G, I, sp] -> [N, G, B, I, sp]
                return Rtr(u, x, [B, n0, g, n1 / g, .. sp], [1, 2, 0, 3, .. Enumerable.Range(4, sp.Length)], [n0, B * n1, .. sp]);
            }
            case (Fold.Channels, 1): return Rtr(u, x, d, Swap01(d.Length), [n0, B * n1, .. sp]);
        }
        throw new InvalidOperationException($"Internal error: convolution batching folds role {role} under {fold}.");
    }

    /// <summary>The folded dims of an unbatched role core (for the aval operand of a transpose).</summary>
    static int[] FoldDims(int[] core, int role, Fold fold, int B, ConvParams p)
    {
        int n0 = core[0], n1 = core[1];
        var sp = core[2..];
        return (fold, role) switch
        {
            (Fold.Lhs, 0) or (Fold.Lhs, 2) or (Fold.Kernel, 1) or (Fold.Groups, 1) => [B * n0, n1, .. sp],
            (Fold.Groups, 0) when p.BatchGroups > 1 => [B * n0, n1, .. sp],
            _ => [n0, B * n1, .. sp],
        };
    }

    /// <summary>The unbatched result of the folded convolution as [B, core...] (channels-first).</summary>
    static Node UnfoldRole(Unbatcher u, Node r, int role, Fold fold, int B, ConvParams p, int[]? knownCore)
    {
        var d = u.Dims(r);
        var sp = d[2..];
        int f0 = d[0], f1 = d[1];
        switch (fold, role)
        {
            case (Fold.Lhs, 0):
            {
                int g = p.BatchGroups, n = f0 / B;
                return Rtr(u, r, [g, B, n / g, f1, .. sp], Swap01(4 + sp.Length), [B, n, f1, .. sp]);
            }
            case (Fold.Lhs, 2): return u.Reshape(r, [B, f0 / B, f1, .. sp]);
            case (Fold.Kernel, 1):
            {
                int g = GroupsOf(p), o = f0 / B;
                return Rtr(u, r, [g, B, o / g, f1, .. sp], Swap01(4 + sp.Length), [B, o, f1, .. sp]);
            }
            case (Fold.Kernel, 2):
            {
                int g = GroupsOf(p), o = f1 / B;
                // [n, G, B, O/G, sp] -> [B, n, G, O/G, sp]
                return Rtr(u, r, [f0, g, B, o / g, .. sp], [2, 0, 1, 3, .. Enumerable.Range(4, sp.Length)], [B, f0, o, .. sp]);
            }
            case (Fold.Groups, 0) when p.BatchGroups > 1: return u.Reshape(r, [B, f0 / B, f1, .. sp]);
            case (Fold.Groups, 0) or (Fold.Groups, 2):
                return Rtr(u, r, [f0, B, f1 / B, .. sp], Swap01(3 + sp.Length), [B, f0, f1 / B, .. sp]);
            case (Fold.Groups, 1): return u.Reshape(r, [B, f0 / B, f1, .. sp]);
            case (Fold.Channels, 0):
            {
                int g = p.FeatureGroups, i = f1 / B / g;
                // [N, G, B, I, sp] -> [B, N, G, I, sp]
                return Rtr(u, r, [f0, g, B, i, .. sp], [2, 0, 1, 3, .. Enumerable.Range(4, sp.Length)], [B, f0, g * i, .. sp]);
            }
            case (Fold.Channels, 1):
                return Rtr(u, r, [f0, B, f1 / B, .. sp], Swap01(3 + sp.Length), [B, f0, f1 / B, .. sp]);
        }
        throw new InvalidOperationException($"Internal error: convolution batching unfolds role {role} under {fold}.");
    }
}
