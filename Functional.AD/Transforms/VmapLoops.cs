namespace Functional.AD;

/// <summary>
/// Vmap of the loops (<c>Scan</c>, which is also <c>Np.Fold</c> and every derivative loop, and <c>While</c>), in the style
/// of the conditional's rule: the loop stays one unbatched loop node whose body sub-graph is batched (<see cref="Vmap.Run"/>
/// on the body with the batched carries, rows and captured values). A carry that the body makes batched is batched from the
/// start (its initial value broadcast to the batch). A Scan over a batched sequence runs over axis 1 (the rows) with
/// batched rows, and its stacked ys get the batch axis back in front. A While whose condition is batched runs until every
/// example is done, keeping each finished example's carries with <c>Np.Where</c> (JAX's rule). Since the derivatives of
/// loops are loops, Vmap of a loop's gradient is one batched loop too. The rules return <c>Pack</c> of the loop's
/// results (see <see cref="Tuples"/>), each result batched or not on its own.
/// </summary>
internal static class VmapLoops
{
    // ------------------------------------------------------------------ the batching rules (Primitive.VmapRule) of the loop primitives

    /// <summary>Vmap's rule of <c>Scan</c>: one loop whose body is batched (over the rows' axis 1 when a sequence is batched).</summary>
    public static Node Scan(Builder b, Node n, Node[] args, HashSet<Node> batched) =>
        n.Batch != 0 ? throw NotBatchable(n) : Scan(b, n, args, args.Select(batched.Contains).ToArray(), batched,
            Broadcaster(b, args, batched, n.Params.Get<ScanParams>(0).Carries, n.Params.Get<ScanParams>(0).Xs));

    /// <summary>Vmap's rule of <c>While</c>: one loop whose condition and body are batched (running until every example is done).</summary>
    public static Node While(Builder b, Node n, Node[] args, HashSet<Node> batched) =>
        n.Batch != 0 ? throw NotBatchable(n) : While(b, n, args, args.Select(batched.Contains).ToArray(), batched, Broadcaster(b, args, batched));

    /// <summary>Vmap's rule of a loop that cannot be batched (a loop already run per example, or a loop node with a batch count).</summary>
    public static Node NotBatchable(Builder b, Node n, Node[] args, HashSet<Node> batched) => throw NotBatchable(n);

    static VmapException NotBatchable(Node n) =>
        new($"Ad.Vmap: `{(n.Source is { } src ? Printer.Expr(src) : "Np.Fold")}` is a loop, and loops cannot be batched yet; call the function in a loop instead.");

    /// <summary>
    /// Gives a carry the loop's whole batch: an unbatched value is broadcast to it, and so is a batched one whose batch
    /// axis has size 1 (a conditional whose branches were batched differently gives one), since a carry must keep its
    /// shape from step to step. The batch size is the largest batch axis of the loop's batched tensor operands (each is
    /// 1 or B), read from its carries, constants and sequences, except a sequence that is another loop's stacked output (a
    /// While's stack has a length the Torch backend knows only when it runs) unless nothing else is batched.
    /// </summary>
    static Func<Node, bool, Node> Broadcaster(Builder b, Node[] args, HashSet<Node> batched, int firstXs = 0, int xsCount = 0)
    {
        bool Candidate(Node a) => batched.Contains(a) && a.Kind == Kind.Tensor;
        // a sequence counts too unless it is another loop's stack: a carry may have a size-1 batch axis (a conditional
        // whose taken branch was unbatched gives one) while the sequence has the whole batch
        static bool FromLoop(Node a)
        {
            while (a.Op == Prims.MoveAxisToFront || a.Op == Prims.MoveAxisFromFront || a.Op == Prims.Proj) a = a.Args[0];
            return a.Op == Prims.While || a.Op == Prims.Scan;
        }
        var tensors = args.Where((a, i) => Candidate(a) && (i < firstXs || i >= firstXs + xsCount || !FromLoop(a))).ToArray();
        if (tensors.Length == 0) tensors = args.Where(Candidate).ToArray();
        if (tensors.Length == 0) throw new VmapException("Ad.Vmap: a loop's batched operands are not tensors.");
        Node? size = null;
        Node SizeOf(Node x) => b.Apply(Prims.VmapSize, [x], new Params(new[] { "loop operand" }, new[] { 0 }, null), null, 0);
        Node Size()
        {
            if (size is not null) return size;
            if (tensors.Length == 1) return size = SizeOf(tensors[0]);
            // [B] zeros broadcast against [1] zeros: the largest batch axis
            var z = tensors.Select(t => b.Apply(Prims.Zeros, [SizeOf(t)], null, null, 0)).Aggregate((x, y) => b.Apply(Prims.Add, [x, y], null, null, 0));
            return size = SizeOf(z);
        }
        return (x, isBatched) => b.Apply(Prims.BroadcastBatch, [isBatched ? x : b.Apply(Prims.AddBatchAxis, [x], null, null, 0), Size()], null, null, 0);
    }

    static Node Scan(Builder b, Node n, Node[] args, bool[] inB, HashSet<Node> batched, Func<Node, bool, Node> broadcast)
    {
        var p = n.Params.Get<ScanParams>(0);
        int nc = p.Carries, nx = p.Xs;
        var body0 = n.Subgraphs[0];
        int ny = body0.Outputs.Length - nc;
        // a batched sequence is scanned over its rows (axis 1 once the batch axis is in front): its rows are batched
        // (a sequence that a loop's Vmap rule just moved to the front, a While's or Scan's stacked ys, is taken as it was)
        var ops = args.Select((a, k) => k >= nc && k < nc + nx && inB[k]
            ? a.Op == Prims.MoveAxisToFront && a.Batch == 0 && a.Params.Equals(new Params(1)) ? a.Args[0] : b.Apply(Prims.MoveAxisFromFront, [a], new Params(1), null, 0)
            : a).ToArray();
        // a carry the body makes batched is batched from the start (fixpoint: at most one round per carry)
        var carryB = inB.Take(nc).ToArray();
        (Graph G, bool[] OutB) body;
        while (true)
        {
            body = Batch(body0, [.. carryB, .. inB.Skip(nc)], [.. carryB, .. new bool[ny]], n);
            bool changed = false;
            for (int j = 0; j < nc; j++)
                if (body.OutB[j] && !carryB[j]) { carryB[j] = true; changed = true; }
            if (!changed) break;
        }
        for (int j = 0; j < nc; j++) if (carryB[j]) ops[j] = broadcast(args[j], inB[j]);
        var r = b.Apply(Prims.Scan, ops, n.Params, [body.G], 0);
        return Results(b, n, r, nc, ny, carryB, body.OutB, batched);
    }

    static Node While(Builder b, Node n, Node[] args, bool[] inB, HashSet<Node> batched, Func<Node, bool, Node> broadcast)
    {
        var p = n.Params.Get<WhileParams>(0);
        int nc = p.Carries;
        var cond0 = n.Subgraphs[0];
        var body0 = n.Subgraphs[1];
        int ny = body0.Outputs.Length - nc;
        var carryB = inB.Take(nc).ToArray();
        (Graph G, bool[] OutB) cond, body;
        while (true)
        {
            cond = Batch(cond0, [.. carryB, .. inB.Skip(nc)], [false], n);
            body = Batch(body0, [.. carryB, .. inB.Skip(nc)], [.. carryB, .. new bool[ny]], n);
            bool changed = false;
            for (int j = 0; j < nc; j++)
                // with a batched condition the examples stop at different trips: every carry is per example
                if ((body.OutB[j] || cond.OutB[0]) && !carryB[j]) { carryB[j] = true; changed = true; }
            if (!changed) break;
        }
        var ops = args.ToArray();
        for (int j = 0; j < nc; j++) if (carryB[j]) ops[j] = broadcast(args[j], inB[j]);
        var gc = cond.G;
        var gb = body.G;
        if (cond.OutB[0])
        {
            // go on while any example goes on; a finished example keeps its carries
            var nc2 = new Builder();
            var ci = gc.Inputs.Select(i => nc2.Input(i.Kind, i.Name, i.Value as Type)).ToArray();
            var c = nc2.Inline(gc, ci)[0];
            // (any example: the largest of 1 where its condition holds, else 0; a mask or a number, non-zero is true)
            var holds = nc2.Apply(Prims.Where, [c, nc2.Const(new Tensor(1.0)), nc2.Const(new Tensor(0.0))], null, null, 0);
            gc = nc2.Finish([nc2.Apply(Prims.Max, [holds], new Params(null, false), null, 0)]);
            var nbb = new Builder();
            var bi = gb.Inputs.Select(i => nbb.Input(i.Kind, i.Name, i.Value as Type)).ToArray();
            var go = nbb.Inline(cond.G, bi)[0];
            var next = nbb.Inline(body.G, bi);
            var outs = next.ToArray();
            for (int j = 0; j < nc; j++) outs[j] = nbb.Apply(Prims.Where, [go, next[j], bi[j]], null, null, n.Batch + 1);
            gb = nbb.Finish(outs);
        }
        var r = b.Apply(Prims.While, ops, n.Params, [gc, gb], 0);
        return Results(b, n, r, nc, ny, carryB, body.OutB, batched);
    }

    /// <summary>
    /// The results of a batched loop node, packed: its batched carries marked, its stacked ys ([steps, B, ...]) with the
    /// batch axis moved back in front.
    /// </summary>
    static Node Results(Builder b, Node n, Node r, int nc, int ny, bool[] carryB, bool[] outB, HashSet<Node> batched)
    {
        r.Source ??= n.Source;
        var results = Tuples.Split(b, r);
        for (int j = 0; j < nc; j++) if (carryB[j]) batched.Add(results[j]);
        for (int j = 0; j < ny; j++)
        {
            if (!outB[nc + j]) continue;
            results[nc + j] = b.Apply(Prims.MoveAxisToFront, [results[nc + j]], new Params(1), null, 0);
            batched.Add(results[nc + j]);
        }
        var packed = Tuples.Pack(b, results);
        if (results.Any(batched.Contains)) batched.Add(packed);
        return packed;
    }

    /// <summary>
    /// The body batched for the given batched inputs; outputs flagged in <paramref name="force"/> (the carries) are made
    /// batched, with the batch of the loop: broadcast to the size of a batched carry input, which has the whole batch
    /// (see <see cref="Broadcaster"/>), so that an output with a size-1 batch axis keeps the carry's shape too.
    /// </summary>
    static (Graph G, bool[] OutB) Batch(Graph s, bool[] inB, bool[] force, Node loop)
    {
        var nb = new Builder();
        var ins = s.Inputs.Select(i => nb.Input(i.Kind, i.Name, i.Value as Type)).ToArray();
        var set = new HashSet<Node>(RefEq<Node>.Instance);
        for (int i = 0; i < ins.Length; i++)
            if (inB[i])
            {
                if (ins[i].Kind is not (Kind.Tensor or Kind.Aval))
                    throw new VmapException($"Ad.Vmap: the loop `{(loop.Source is { } src ? Printer.Expr(src) : loop.Op.Name)}` has a {ins[i].Kind} carry that would depend on the batched arguments, and a {ins[i].Kind} cannot carry a batch axis; make the carry a Tensor.");
                set.Add(ins[i]);
            }
        var outs = Vmap.Run(nb, s, ins, set);
        var ob = outs.Select(set.Contains).ToArray();
        for (int k = 0; k < outs.Length; k++)
        {
            if (!force[k]) continue;
            if (outs[k].Kind != Kind.Tensor)
                throw new VmapException($"Ad.Vmap: the loop `{(loop.Source is { } src ? Printer.Expr(src) : loop.Op.Name)}` has a {outs[k].Kind} carry that would depend on the batched arguments; make the carry a Tensor.");
            // a forced output is a carry whose input is batched, with the loop's whole batch: its size is the batch's
            var size = nb.Apply(Prims.VmapSize, [ins[k]], new Params(new[] { "carry" }, new[] { 0 }, null), null, 0);
            outs[k] = nb.Apply(Prims.BroadcastBatch, [ob[k] ? outs[k] : nb.Apply(Prims.AddBatchAxis, [outs[k]], null, null, 0), size], null, null, 0);
            ob[k] = true;
        }
        return (nb.Finish(outs), ob);
    }
}
