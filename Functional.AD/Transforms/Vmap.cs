namespace Functional.AD;

/// <summary>
/// Batching as one generic move (DESIGN.md, "Ranks without tracing"): a batched argument's mapped axis is moved
/// to the front; every node with a batched operand is applied again with one more batch axis, its unbatched
/// Tensor/Aval operands given a size-1 batch axis; outputs move the batch axis to their out axis. No primitive
/// needs a batching rule here: each primitive's batched implementation (<see cref="Primitive.Batched"/>) runs it
/// on the core axes.
/// </summary>
internal static class Vmap
{
    /// <summary>
    /// Copies <paramref name="g"/> into <paramref name="b"/> with its inputs bound to <paramref name="ins"/>; the
    /// new nodes that carry this level's batch axis (at position 0) are collected in <paramref name="batched"/>.
    /// </summary>
    public static Node[] Run(Builder b, Graph g, IReadOnlyList<Node> ins, HashSet<Node> batched)
    {
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        for (int i = 0; i < g.Inputs.Length; i++) map[g.Inputs[i]] = ins[i];
        foreach (var n in g.Nodes)
        {
            if (map.ContainsKey(n)) continue;
            if (n.IsConst) { map[n] = b.Const(n.Value!); continue; }
            var args = n.Args.Select(a => map[a]).ToArray();
            if (!args.Any(batched.Contains))
            {
                map[n] = b.Apply(n.Op, args, n.Params, n.Subgraphs, n.Batch);
                map[n].Source ??= n.Source;
                continue;
            }
            if (n.Op == Prims.Cond) { map[n] = Cond(b, n, args, batched); continue; }
            if (n.Op == Prims.Custom && n.Batch == 0 && args.Length == 1 && args[0].Kind == Kind.Tensor && CustomRules.Batched((CustomRule)n.Params[0]!) is { } rule)
            {
                var r0 = CustomRules.Read(b, rule, [args[0]]);
                r0.Source ??= n.Source;
                batched.Add(r0);
                map[n] = r0;
                continue;
            }
            if (n.Op == Prims.Custom || n.Op == Prims.CustomVjpTangent)
                throw new VmapException($"Ad.Vmap: `{(n.Source is { } src ? Printer.Expr(src) : n.Params[0])}` has a custom derivative rule (Ad.CustomJvp / Ad.CustomVjp), and only custom rules of Tensor-to-Tensor functions can be batched (the rule is vmapped with the function); wrap a pytree-taking rule in a Tensor-to-Tensor function, or call it in a loop.");
            if (VmapLoops.Handles(n)) { map[n] = VmapLoops.Apply(b, n, args, batched); continue; }
            if (n.Op == Prims.Fold || n.Op == Prims.FoldTape || n.Op == Prims.FoldLin || n.Op == Prims.FoldLinT || ScanWhile.IsLoop(n.Op))
                throw new VmapException($"Ad.Vmap: `{(n.Source is { } src ? Printer.Expr(src) : "NpLoops.Fold")}` is a loop, and loops cannot be batched yet; call the function in a loop instead.");
            if (n.Kind is not (Kind.Tensor or Kind.Aval)) throw BatchedScalar(n);
            for (int i = 0; i < args.Length; i++)
            {
                var a = args[i];
                if (batched.Contains(a)) continue;
                // a weak scalar (a C# double literal, or an unbatched (Tensor)d) broadcasts against the batch as it is, and keeps its exact value
                if ((a.IsConst && a.Value is Tensor { IsWeak: true, Rank: 0 } || a.Op == Prims.FromDouble) && n.Op.Elementwise) continue;
                if (a.Kind is Kind.Tensor or Kind.Aval) args[i] = b.Apply(Prims.AddBatchAxis, [a], null, null, 0);
                // a C# double meeting the batch is a weak rank-0 tensor that broadcasts as it is (as a literal does), keeping its exact value
                else if (a.Kind is Kind.Double && !a.IsConst && n.Op.Elementwise)
                    args[i] = b.Apply(Prims.FromDouble, [a], null, null, 0);
                else if (a.Kind is Kind.Float && !a.IsConst && n.Op.Elementwise)
                    args[i] = b.Apply(Prims.AddBatchAxis, [b.Apply(Prims.FromFloat, [a], null, null, 0)], null, null, 0);
            }
            // shape inference of a node that is now batched: the node it describes gets one more batch axis
            var prms = Vmapped.ShiftBatch(n, 1);
            var r = b.Apply(n.Op, args, prms, n.Subgraphs, n.Batch + 1);
            r.Source ??= n.Source;
            batched.Add(r);
            map[n] = r;
        }
        return g.Outputs.Select(o => map[o]).ToArray();
    }

    /// <summary>A conditional whose condition is unbatched but some captured values are: both branches are batched.</summary>
    static Node Cond(Builder b, Node n, Node[] args, HashSet<Node> batched)
    {
        var inB = args.Skip(1).Select(batched.Contains).ToArray();
        var t = Branch(n.Subgraphs[0], inB, false);
        var e = Branch(n.Subgraphs[1], inB, false);
        if (t.OutBatched != e.OutBatched)
        {
            t = Branch(n.Subgraphs[0], inB, true);
            e = Branch(n.Subgraphs[1], inB, true);
        }
        var r = b.Apply(Prims.Cond, args, n.Params, [t.G, e.G], 0);
        r.Source ??= n.Source;
        if (t.OutBatched) batched.Add(r);
        return r;
    }

    static (Graph G, bool OutBatched) Branch(Graph s, bool[] inB, bool force)
    {
        var nb = new Builder();
        var ins = s.Inputs.Select(i => nb.Input(i.Kind, i.Name, i.Value as Type)).ToArray();
        var set = new HashSet<Node>(RefEq<Node>.Instance);
        for (int i = 0; i < ins.Length; i++) if (inB[i]) set.Add(ins[i]);
        var o = Run(nb, s, ins, set)[0];
        bool ob = set.Contains(o);
        if (force && !ob)
        {
            if (o.Kind is not (Kind.Tensor or Kind.Aval)) throw BatchedScalar(o);
            o = nb.Apply(Prims.AddBatchAxis, [o], null, null, 0);
            ob = true;
        }
        return (nb.Finish([o]), ob);
    }

    static VmapException BatchedScalar(Node n)
    {
        string what = n.Source is { } src ? $"`{Printer.Expr(src)}`"
            : n.Args.FirstOrDefault(a => a.Source is not null)?.Source is { } inner ? $"a {KindName(n.Kind)} computed from `{Printer.Expr(inner)}`"
            : $"a {KindName(n.Kind)} ({n.Op.Name}, in code generated by a transformation)";
        return new VmapException(
            $"Ad.Vmap: {what} depends on a batched argument but is a {KindName(n.Kind)}, and a {KindName(n.Kind)} cannot carry a batch axis. " +
            "Keep batched values as Tensors (Np ops instead of (double) casts and Math functions), and select with Np.Where(mask, a, b) instead of `c ? a : b` on a batched condition.");
    }

    static string KindName(Kind k) => k switch { Kind.Double => "double", Kind.Float => "float", Kind.Bool => "bool", _ => k.ToString() };
}
