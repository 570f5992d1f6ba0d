namespace Functional.AD;

/// <summary>
/// Forward mode: pushes tangents through a graph, one primitive's JVP rule at a time. Tangents are <c>null</c>
/// where they are symbolically zero, so untouched branches cost nothing.
/// </summary>
internal static class Jvp
{
    /// <summary>Emits the primal and tangent computation of <paramref name="g"/> into <paramref name="b"/>.</summary>
    public static (Node[] Outs, V?[] Tangents) Run(Builder b, Graph g, IReadOnlyList<Node> primalIns, IReadOnlyList<V?> tangentIns)
    {
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        var tmap = new Dictionary<Node, V?>(RefEq<Node>.Instance);
        for (int i = 0; i < g.Inputs.Length; i++) { map[g.Inputs[i]] = primalIns[i]; tmap[g.Inputs[i]] = tangentIns[i]; }
        foreach (var n in g.Nodes)
        {
            if (n.IsConst) { map[n] = b.Const(n.Value!); tmap[n] = null; continue; }
            var args = n.Args.Select(a => map[a]).ToArray();
            var ans = b.Apply(n.Op, args, n.Params, n.Subgraphs, n.Batch);
            map[n] = ans;
            ans.Source ??= n.Source;
            var ts = n.Args.Select((a, i) => n.Op.NonDiff.Contains(i) ? null : tmap[a]).ToArray();
            if (n.Op.ZeroDerivative || ts.All(t => t is null)) { tmap[n] = null; continue; }
            if (n.Op.Jvp is null)
                throw new NotDifferentiableException($"The primitive {n.Op.Name} has no derivative rule.");
            var ctx = new RuleCtx
            {
                B = b,
                X = args.Select(a => new V(a)).ToArray(),
                Ans = new V(ans),
                P = n.Params,
                Subs = n.Subgraphs,
                ArgAval = null!,
            };
            ctx.ArgAval = i => R.AvalOf(ctx.X[i]);
            int savedBatch = b.DefaultBatch;
            b.DefaultBatch = n.Batch;
            V? t;
            try { t = n.Op.Jvp(ctx, ts); }
            finally { b.DefaultBatch = savedBatch; }
            // a rule may replace the primal result by a node with the same results and more (a loop that also emits residuals)
            if (ctx.NewAns is { } newAns) { ans = newAns; map[n] = ans; ans.Source ??= n.Source; }
            if (t is not null && t.N.Kind == ans.Kind && t.N != ans) t.N.Witness ??= ans;
            tmap[n] = t;
        }
        return (g.Outputs.Select(o => map[o]).ToArray(), g.Outputs.Select(o => tmap[o]).ToArray());
    }

    /// <summary>A zero of the kind and shape of <paramref name="like"/> (or the value itself when it is static).</summary>
    public static Node Zero(Builder b, Node like) => like.Kind switch
    {
        Kind.Double => b.Const(0.0),
        Kind.Float => b.Const(0f),
        Kind.Tensor => R.Zeros(R.AvalOf(new V(like))).N,
        _ => like,
    };

    /// <summary>
    /// The JVP graph: inputs are <paramref name="g"/>'s inputs then one tangent per input selected by
    /// <paramref name="withTangent"/>; outputs are the primal outputs then their tangents (zeros materialised).
    /// </summary>
    public static Graph Graph(Graph g, bool[] withTangent)
    {
        var b = new Builder();
        var ins = g.Inputs.Select(i => b.Input(i.Kind, i.Name, i.Value as Type)).ToArray();
        var ts = g.Inputs.Select((i, k) => withTangent[k] ? new V(b.Input(i.Kind, "d" + i.Name)) : null).ToArray();
        for (int k = 0; k < ts.Length; k++) if (ts[k] is { } tk) tk.N.Witness = ins[k];
        var (outs, touts) = Run(b, g, ins, ts);
        var tangentOuts = outs.Select((o, k) => touts[k]?.N ?? Zero(b, o)).ToArray();
        return b.Finish([.. outs, .. tangentOuts]);
    }

    /// <summary>The same graph keeping only the outputs at <paramref name="keep"/> (dead code dropped).</summary>
    public static Graph Restrict(Graph g, params int[] keep)
    {
        var b = new Builder();
        var ins = g.Inputs.Select(i => b.Input(i.Kind, i.Name, i.Value as Type)).ToArray();
        var outs = b.Inline(g, ins);
        var kept = new Node[keep.Length];
        for (int i = 0; i < kept.Length; i++) kept[i] = outs[keep[i]];
        return b.Finish(kept);
    }
}
