namespace Functional.AD;

/// <summary>
/// The conditional <c>c ? a : b</c>: operands are the condition then the captured values; two sub-graphs (the
/// branches, each over the captured values, one output each). Every rule of it is here: kind, code, JVP, transpose,
/// batching, shape inference and printing.
/// </summary>
internal static class CondRules
{
    public static void Install(Primitive cond)
    {
        cond.NonDiff = [0];
        cond.Foldable = false;
        cond.KindRule = (_, _, subs) => subs[0].Outputs[0].Kind;
        cond.EmitRule = (a, _, _, subs) => System.Linq.Expressions.Expression.Condition(a[0],
            Writer.InlineBlock(subs[0], a.Skip(1).ToArray()), Writer.InlineBlock(subs[1], a.Skip(1).ToArray()));
        // printed as if/else over the branches; in one line (the jit's report) as c ? <then> : <else>
        cond.BlockHeads = a => [$"if ({a[0]})", "else"];
        cond.FormatRule = (a, _, _) => $"{a[0]} ? <then> : <else>";

        // tangent: a conditional over the JVPs of the branches (the untaken one is never run)
        cond.Jvp = (c, t) =>
        {
            var mask = t.Skip(1).Select(x => x is not null).ToArray();
            var subs = c.Subs.Select(s => Jvp.Restrict(Jvp.Graph(s, mask), 1)).ToArray();
            var args = c.X.Select(x => x.N).Concat(t.Skip(1).Where(x => x is not null).Select(x => x!.N)).ToArray();
            return new V(c.B.Apply(cond, args, Params.None, subs));
        };
        // cotangents: one conditional per linear operand, over the transposed branches
        cond.Transpose = (c, ct) =>
        {
            var lin = c.Linear.Skip(1).ToArray();
            var subs = c.Subs.Select(s => Transpose.Graph(s, lin, [true])).ToArray();
            var args = new List<Node> { c.X[0].N };
            for (int i = 0; i < lin.Length; i++) if (!lin[i]) args.Add(c.X[i + 1].N);
            for (int i = 0; i < lin.Length; i++) if (lin[i]) args.Add(c.Aval(i + 1).N);
            args.Add(ct.N);
            var result = new V?[c.X.Length];
            int j = 0;
            for (int i = 0; i < lin.Length; i++)
            {
                if (!lin[i]) continue;
                int k = j++;
                result[i + 1] = new V(c.B.Apply(cond, args.ToArray(), Params.None, subs.Select(s => Jvp.Restrict(s, k)).ToArray()));
            }
            return result;
        };
        // the aval of a conditional over tangents: the taken branch, rewritten to return its output's aval
        cond.ResultAval = (b, n, args) => b.Apply(n.Op, args, n.Params, n.Subgraphs.Select(AvalOfOutput).ToArray());

        // the conditional sees whole values: its branches are batched inside it
        cond.AlwaysUnbatched = true;
        cond.VmapRule = Batch;
        cond.VmapTakesCarriedScalars = true;
        cond.AvalRule = BranchesAval;
        // the condition may be a C# bool, which has no aval: the rule reads the branches only
        cond.OperandWithoutAval = 0;
        // each branch sees the captured values (every operand after the condition)
        cond.SubgraphInputAvals = (_, a) => [a[1..], a[1..]];
    }

    static Graph AvalOfOutput(Graph s)
    {
        var nb = new Builder();
        var outs = nb.Inline(s, s.Inputs.Select(i => nb.Input(i.Kind, i.Name, i.Value as Type)).ToArray());
        return nb.Finish([nb.Apply(Prims.AvalOf, [outs[0]])]);
    }

    /// <summary>
    /// Builds <c>c ? then : else</c> from branches already read into child builders of <paramref name="b"/>: one
    /// conditional node per output leaf, each branch a sub-graph over the union of the values both branches capture.
    /// Static leaves (identical in both branches by construction) pass through.
    /// </summary>
    public static List<Node> Make(Builder b, Node c, Builder bt, List<Node> outsT, Builder be, List<Node> outsE)
    {
        var floating = Enumerable.Range(0, outsT.Count).Where(k => outsT[k].Kind != Kind.Static).ToArray();
        var gt = bt.Finish(floating.Select(k => bt.Capture(outsT[k])).ToArray());
        var ge = be.Finish(floating.Select(k => be.Capture(outsE[k])).ToArray());
        var union = bt.Captures.Concat(be.Captures).Distinct(RefEq<Node>.Instance).ToList();
        Graph Over(Graph g, List<Node> own)
        {
            var nb = new Builder();
            var ins = union.Select(u => nb.Input(u.Kind, u.Name, u.Value as Type)).ToList();
            var args = own.Select(o => ins[union.IndexOf(o)]).ToArray();
            return nb.Finish(nb.Inline(g, args));
        }
        var subT = Over(gt, bt.Captures);
        var subE = Over(ge, be.Captures);
        var result = new List<Node>(outsT);
        for (int j = 0; j < floating.Length; j++)
        {
            int k = floating[j];
            if (outsT[k].Kind != outsE[k].Kind)
                throw new UnsupportedExpressionException($"The branches of a conditional give different kinds ({outsT[k].Kind} and {outsE[k].Kind}).", "c ? a : b");
            result[k] = b.Apply(Prims.Cond, [c, .. union], Params.None, [Jvp.Restrict(subT, j), Jvp.Restrict(subE, j)]);
        }
        return result;
    }

    // ------------------------------------------------------------------ Vmap

    /// <summary>A conditional whose condition is unbatched but some captured values are: both branches are batched.</summary>
    static Node Batch(Builder b, Node n, Node[] args, HashSet<Node> batched)
    {
        var inB = args.Skip(1).Select(batched.Contains).ToArray();
        // a captured double may now be carried as a batched tensor: the branch takes it as one
        var kinds = args.Skip(1).Select(a => a.Kind).ToArray();
        if (batched.Contains(args[0]))
        {
            // a batched condition (a 0/1 mask, one per example): both branches run, batched, and the mask selects per
            // example, as JAX does for a batched predicate
            var caps = args.Skip(1).ToArray();
            var tv = b.Inline(Branch(n.Subgraphs[0], inB, true, kinds).G, caps)[0];
            var ev = b.Inline(Branch(n.Subgraphs[1], inB, true, kinds).G, caps)[0];
            int k = Math.Max(args[0].Batch, Math.Max(tv.Batch, ev.Batch));
            // a conditional that gives an aval (a derivative's shape helper, c ? AvalOf(a) : AvalOf(b)) cannot select per
            // example: it gives the aval of the per-example selection between zeros of the two
            var sel = tv.Kind == Kind.Aval || ev.Kind == Kind.Aval
                ? b.Apply(Prims.AvalOf, [b.Apply(Prims.Where, [args[0], b.Apply(Prims.Zeros, [tv], null, null, tv.Batch), b.Apply(Prims.Zeros, [ev], null, null, ev.Batch)], null, null, Math.Max(k, 1))], null, null, Math.Max(k, 1))
                : b.Apply(Prims.Where, [args[0], tv, ev], null, null, Math.Max(k, 1));
            sel.Source ??= n.Source;
            batched.Add(sel);
            return sel;
        }
        var t = Branch(n.Subgraphs[0], inB, false, kinds);
        var e = Branch(n.Subgraphs[1], inB, false, kinds);
        if (t.OutBatched != e.OutBatched)
        {
            t = Branch(n.Subgraphs[0], inB, true, kinds);
            e = Branch(n.Subgraphs[1], inB, true, kinds);
        }
        var r = b.Apply(n.Op, args, n.Params, [t.G, e.G], 0);
        r.Source ??= n.Source;
        if (t.OutBatched) batched.Add(r);
        return r;
    }

    static (Graph G, bool OutBatched) Branch(Graph s, bool[] inB, bool force, Kind[] kinds)
    {
        var nb = new Builder();
        var ins = s.Inputs.Select((i, j) => nb.Input(kinds[j], i.Name, i.Value as Type)).ToArray();
        var set = new HashSet<Node>(RefEq<Node>.Instance);
        for (int i = 0; i < ins.Length; i++) if (inB[i]) set.Add(ins[i]);
        var o = Vmap.Run(nb, s, ins, set)[0];
        bool ob = set.Contains(o);
        if (force && !ob)
        {
            // a C# scalar branch value meets a batched one: it becomes a weak rank-0 tensor, as a literal does
            if (o.Kind == Kind.Double) o = nb.Apply(Prims.FromDouble, [o], null, null, 0);
            else if (o.Kind == Kind.Float) o = nb.Apply(Prims.FromFloat, [o], null, null, 0);
            if (o.Kind is not (Kind.Tensor or Kind.Aval)) throw Vmap.BatchedScalar(o);
            o = nb.Apply(Prims.AddBatchAxis, [o], null, null, 0);
            ob = true;
        }
        return (nb.Finish([o]), ob);
    }

    // ------------------------------------------------------------------ shape inference (jit)

    /// <summary>The aval both branches agree on; <c>null</c> when they disagree or a branch's shape is unknown.</summary>
    static Aval? BranchesAval(Node n, Aval[] args)
    {
        Aval? result = null;
        var captured = args.Skip(1).ToArray();
        foreach (var sub in n.Subgraphs)
        {
            Dictionary<Node, Aval?> inner;
            try { inner = ShapeInference.Run(sub, captured); }
            catch (ShapeException) { return null; }   // a branch that does not fit may be the one never taken
            if (inner[sub.Outputs[0]] is not { } o) return null;
            if (result is not null && !result.Equals(o)) return null;
            result = o;
        }
        return result;
    }
}
