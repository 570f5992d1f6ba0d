namespace Functional.AD;

/// <summary>
/// Reverse mode as the transpose of a linear map (JAX's linearize + transpose). Given a graph some of whose inputs
/// are linear (tangents), the non-linear part is copied forward and the linear part is walked backwards, each
/// linear primitive's transpose rule turning its output cotangent into cotangents of its linear operands.
/// </summary>
internal static class Transpose
{
    /// <summary>
    /// Transposes <paramref name="g"/> with respect to the inputs flagged in <paramref name="linearIn"/>.
    /// Result inputs: the non-linear inputs, then an aval (shape) per linear input, then a cotangent per output
    /// flagged in <paramref name="linearOut"/>. Result outputs: the non-linear outputs, then a cotangent per linear input.
    /// </summary>
    public static Graph Graph(Graph g, bool[] linearIn, bool[] linearOut)
    {
        var b = new Builder();
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        var linear = new HashSet<Node>(RefEq<Node>.Instance);
        var avalOfInput = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        for (int i = 0; i < g.Inputs.Length; i++)
            if (linearIn[i]) linear.Add(g.Inputs[i]);
            else map[g.Inputs[i]] = b.Input(g.Inputs[i].Kind, g.Inputs[i].Name, g.Inputs[i].Value as Type);
        for (int i = 0; i < g.Inputs.Length; i++)
            if (linearIn[i]) avalOfInput[g.Inputs[i]] = b.Input(Kind.Aval, "shape_" + g.Inputs[i].Name);
        var ctIns = new Node?[g.Outputs.Length];
        for (int k = 0; k < g.Outputs.Length; k++)
            if (linearOut[k]) ctIns[k] = b.Input(g.Outputs[k].Kind, "ct" + k);

        // forward: the non-linear part, as is
        foreach (var n in g.Nodes)
        {
            if (n.Args.Any(linear.Contains)) { linear.Add(n); continue; }
            map[n] = n.IsConst ? b.Const(n.Value!) : b.Apply(n.Op, n.Args.Select(a => map[a]).ToArray(), n.Params, n.Subgraphs, n.Batch);
            map[n].Source ??= n.Source;
        }

        var ct = new Dictionary<Node, V>(RefEq<Node>.Instance);
        // cotangents that are zero wherever a Where did not select their branch (see MaskedCotangents)
        var masked = new HashSet<Node>(RefEq<Node>.Instance);
        void Accumulate(Node n, V v, bool isMasked = false)
        {
            bool m = isMasked || ct.TryGetValue(n, out var prev) && masked.Contains(prev.N);
            ct[n] = ct.TryGetValue(n, out var old) ? old + v : v;
            if (m) masked.Add(ct[n].N);
        }

        var avals = new Dictionary<Node, V>(RefEq<Node>.Instance);
        V LinearAval(Node n)
        {
            if (avals.TryGetValue(n, out var a)) return a;
            if (avalOfInput.TryGetValue(n, out var inp)) a = new V(inp);
            else if (n.Kind == Kind.Double) a = new V(b.Const(Aval.ScalarDouble));
            else if (n.Kind == Kind.Float) a = new V(b.Const(Aval.ScalarFloat));
            else if (n.Witness is { } w && map.TryGetValue(w, out var wm) && wm.Kind == Kind.Tensor) a = R.AvalOf(new V(wm));
            else if (Tuples.IsProjection(n))
            {
                // one result of a node over tangents with several results: that node run on zeros, the result's aval taken
                a = R.AvalOf(new V(b.Apply(n.Op, [OnZeros(n.Args[0])], n.Params)));
            }
            else if (n.Subgraphs.Length > 0)
            {
                // a node with sub-graphs over tangents (its witness lost when its branch was rebuilt; InferAval cannot
                // run sub-graphs): the node run on zeros of the shapes of its linear operands, and its result's aval
                // taken, unless its primitive knows a cheaper way (ResultAval: a conditional runs its taken branch
                // rewritten to return the aval)
                var args = n.Args.Select(x => !linear.Contains(x) ? map[x] : x.Kind switch
                {
                    Kind.Double => b.Const(0.0),
                    Kind.Float => b.Const(0f),
                    _ => R.Zeros(LinearAval(x)).N,
                }).ToArray();
                a = n.Op.ResultAval is { } resultAval
                    ? new V(resultAval(b, n, args))
                    : R.AvalOf(new V(b.Apply(n.Op, args, n.Params, n.Subgraphs)));
            }
            else
            {
                var argAvals = n.Args.Select(x => linear.Contains(x) ? LinearAval(x).N : x.Kind == Kind.Aval ? map[x] : R.AvalOf(new V(map[x])).N).ToArray();
                a = new V(b.Apply(Prims.InferAval, argAvals, new Params(n.Op, n.Params, SmallArrays.KindsOf(n.Args), n.Batch)));
            }
            avals[n] = a;
            return a;
        }

        // a multi-result node over tangents, re-applied to zeros of the shapes of its linear operands
        Node OnZeros(Node n) => b.Apply(n.Op, n.Args.Select(x => !linear.Contains(x) ? map[x] : x.Kind switch
        {
            Kind.Double => b.Const(0.0),
            Kind.Float => b.Const(0f),
            _ => R.Zeros(LinearAval(x)).N,
        }).ToArray(), n.Params, n.Subgraphs);

        var nonLinearOuts = new List<Node>();
        for (int k = 0; k < g.Outputs.Length; k++)
        {
            var o = g.Outputs[k];
            if (linearOut[k]) { if (linear.Contains(o)) Accumulate(o, new V(ctIns[k]!)); }
            else if (linear.Contains(o)) throw new InvalidOperationException("Internal error: an output declared non-linear depends on a linear input.");
            else nonLinearOuts.Add(map[o]);
        }

        // the cotangents of the results of a linear tuple node (see Tuples), gathered per index from its Proj nodes
        var tupleCts = new Dictionary<Node, V?[]>(RefEq<Node>.Instance);

        // backward: the linear part, in reverse
        for (int i = g.Nodes.Length - 1; i >= 0; i--)
        {
            var n = g.Nodes[i];
            if (!linear.Contains(n)) continue;
            V? c = null;
            V?[]? cts = null;
            if (n.Kind == Kind.Tuple ? !tupleCts.TryGetValue(n, out cts) : !ct.TryGetValue(n, out c)) continue;
            if (Tuples.IsProjection(n))
            {
                var all = tupleCts.TryGetValue(n.Args[0], out var have) ? have : tupleCts[n.Args[0]] = new V?[Tuples.KindsOf(n.Args[0]).Length];
                int at = Tuples.IndexOf(n);
                all[at] = all[at] is { } prev ? prev + c! : c;
                continue;
            }
            var rule = n.Op.Transpose ?? throw new InvalidOperationException($"Internal error: {n.Op.Name} is applied to a tangent but has no transpose rule.");
            var lin = new bool[n.Args.Length];
            for (int k = 0; k < lin.Length; k++) lin[k] = linear.Contains(n.Args[k]);
            var ctx = new RuleCtx
            {
                B = b,
                X = n.Args.Select(a => linear.Contains(a) ? V.Linear(b, a.Kind, n.Op.Name) : new V(map[a])).ToArray(),
                P = n.Params,
                Subs = n.Subgraphs,
                Linear = lin,
                ArgAval = null!,
                SafeCt = c is not null && masked.Contains(c.N),
                Cts = cts,
            };
            ctx.ArgAval = k => lin[k] ? LinearAval(n.Args[k]) : R.AvalOf(ctx.X[k]);
            bool outMasked = MaskedCotangents.Propagates(n.Op, ctx.SafeCt);
            int savedBatch = b.DefaultBatch;
            b.DefaultBatch = n.Batch;
            V?[] argCts;
            try { argCts = rule(ctx, c!); }
            finally { b.DefaultBatch = savedBatch; }
            for (int k = 0; k < n.Args.Length; k++)
                if (lin[k] && argCts[k] is { } ck) Accumulate(n.Args[k], ck, outMasked);
        }

        var outs = new List<Node>(nonLinearOuts);
        for (int i = 0; i < g.Inputs.Length; i++)
        {
            if (!linearIn[i]) continue;
            var inp = g.Inputs[i];
            outs.Add(ct.TryGetValue(inp, out var c) ? c.N : inp.Kind switch
            {
                Kind.Double => b.Const(0.0),
                Kind.Float => b.Const(0f),
                _ => R.Zeros(new V(avalOfInput[inp])).N,
            });
        }
        return b.Finish(outs);
    }
}
