namespace Functional.AD;

/// <summary>
/// Batching as one generic move (DESIGN.md, "Ranks without tracing"): a batched argument's mapped axis is moved
/// to the front; every node with a batched operand is applied again with one more batch axis, its unbatched
/// Tensor/Aval operands given a size-1 batch axis; outputs move the batch axis to their out axis. Each primitive's
/// batched implementation (<see cref="Primitive.Batched"/>) runs it on the core axes. Only primitives that see whole
/// values (the conditional, custom rules, loops) have a rule of their own (<see cref="Primitive.VmapRule"/>).
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
            // a primitive that sees whole values (sub-graphs, custom rules, loops) batches itself
            if (n.Op.VmapRule is { } rule)
            {
                // only the conditional takes a C# scalar that is now carried as a batched tensor (loops and custom
                // rules see their operands' kinds in their sub-graphs)
                if (n.Op != Prims.Cond)
                    for (int i = 0; i < args.Length; i++)
                        if (args[i].Kind != n.Args[i].Kind) throw BatchedScalar(n.Args[i]);
                map[n] = rule(b, n, args, batched);
                continue;
            }
            // a C# scalar made a tensor, when the scalar is already carried as a batched tensor
            if ((n.Op == Prims.FromDouble || n.Op == Prims.FromFloat) && args[0].Kind == Kind.Tensor) { map[n] = args[0]; continue; }
            if (n.Kind is not (Kind.Tensor or Kind.Aval))
            {
                // a C# scalar computed from a batched value is carried as a batched rank-0 tensor (one value per example)
                if (ScalarAsTensor(b, n, args, batched) is { } st) { st.Source ??= n.Source; batched.Add(st); map[n] = st; continue; }
                if (!n.Op.Elementwise) throw BatchedScalar(n);
            }
            for (int i = 0; i < args.Length; i++)
            {
                var a = args[i];
                if (batched.Contains(a)) continue;
                // a weak scalar (a C# double literal, or an unbatched (Tensor)d) broadcasts against the batch as it is, and keeps its exact value
                if ((a.IsConst && a.Value is Tensor { IsWeak: true, Rank: 0 } || a.Op.WeakScalarResult) && n.Op.Elementwise) continue;
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
            if (r.Kind is not (Kind.Tensor or Kind.Aval)) throw BatchedScalar(n);
            r.Source ??= n.Source;
            batched.Add(r);
            map[n] = r;
        }
        return g.Outputs.Select(o => map[o]).ToArray();
    }

    /// <summary>
    /// A C# scalar (double, float or bool) that depends on a batched value, carried as a batched tensor of per-example
    /// rank 0, as JAX carries a batched scalar: a tensor read into a double is that tensor (a float is refused: its
    /// rounding to float32 has no tensor form here); <c>&amp;&amp;</c>, <c>||</c> and <c>!</c> on batched conditions are products, maxima and 1 - c of
    /// 0/1 masks. Arithmetic, <c>Math</c> functions and comparisons take the generic path (they have tensor forms). Null
    /// where the scalar must stay a C# value (the caller then explains why it cannot carry a batch axis).
    /// </summary>
    static Node? ScalarAsTensor(Builder b, Node n, Node[] args, HashSet<Node> batched)
    {
        int k = n.Batch + 1;
        var p = n.Op;
        // (a float is not: rounding a batched value to float32 would need a tensor cast inside the program)
        if (p == Prims.ToDouble && batched.Contains(args[0]) && args[0].Kind == Kind.Tensor)
            return b.Apply(Prims.Reshape, [args[0]], new Params(Array.Empty<int>()), null, k);
        if (p == Prims.CastDouble && batched.Contains(args[0])) return args[0];
        if (p == Prims.NotEqual && args.Any(a => a.Kind == Kind.Tensor))
            return b.Apply(Prims.Sub, [b.Const(new Tensor(1.0)), b.Apply(Prims.Equal, args, null, null, k)], null, null, k);
        if (p == Prims.And || p == Prims.Or || p == Prims.Not)
        {
            if (args.Any(a => !batched.Contains(a) || a.Kind != Kind.Tensor)) return null;
            return p == Prims.And ? b.Apply(Prims.Mul, args, null, null, k)
                 : p == Prims.Or ? b.Apply(Prims.Maximum, args, null, null, k)
                 : b.Apply(Prims.Sub, [b.Const(new Tensor(1.0)), args[0]], null, null, k);
        }
        return null;
    }

    /// <summary>The error for a value of kind double, float or bool that would have to carry the batch axis.</summary>
    internal static VmapException BatchedScalar(Node n)
    {
        string what = n.Source is { } src ? $"`{Printer.Expr(src)}`"
            : n.Args.FirstOrDefault(a => a.Source is not null)?.Source is { } inner ? $"a {KindName(n.Kind)} computed from `{Printer.Expr(inner)}`"
            : $"a {KindName(n.Kind)} ({n.Op.Name}, in code generated by a transformation)";
        return new VmapException(
            $"Ad.Vmap: {what} depends on a batched argument but is a {KindName(n.Kind)}, and a {KindName(n.Kind)} cannot carry a batch axis. " +
            "A double computed from a batched value is carried as one value per example through arithmetic, Math functions, comparisons and c ? a : b, but not where C# needs one value (a loop count, an index, a static argument, an output leaf): keep that value out of the batch, or return a Tensor.");
    }

    static string KindName(Kind k) => k switch { Kind.Double => "double", Kind.Float => "float", Kind.Bool => "bool", _ => k.ToString() };
}
