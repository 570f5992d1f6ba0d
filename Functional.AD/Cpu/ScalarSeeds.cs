namespace Functional.AD;

/// <summary>
/// The jit's rewrite of a broadcast scalar cotangent: reverse mode turns <c>Sum(y)</c> into
/// <c>Lax.ExpandReduced(ḡ, y's aval)</c>, a tensor of y's shape filled with the one value ḡ, which the next
/// elementwise step multiplies in (<c>relu'(y) * ExpandReduced(ḡ)</c>). Where every user of such a node is an
/// elementwise node that has another operand of that full shape, the users read ḡ itself as a broadcast scalar (same
/// dtype, same weakness, so the same result shape and dtype) and the filled tensor is never made: for the gradient of
/// <c>Sum(Relu(Conv2d(x, w)))</c> at MNIST scale that was a 6.4 MB array filled on every call.
/// </summary>
internal static class ScalarSeeds
{
    /// <summary>The graph with such uses rewritten, or <paramref name="g"/> itself where there are none.</summary>
    public static (Graph Graph, Dictionary<Node, Aval?> Avals) Run(Graph g, Dictionary<Node, Aval?> av)
    {
        // each broadcast scalar, and the no-ops that pass it on (SumTo, BroadcastTo, ReshapeTo to its own aval, which
        // reverse mode puts after it for the operands of an Add), map to the scalar. Every other user must keep its
        // shape through a full operand that stays a tensor (a witness): one that is neither in this group nor in an
        // accepted one, and a later group may not take a witness away.
        Dictionary<Node, Node>? seeds = null;
        Dictionary<Node, List<Node>>? users = null;
        HashSet<Node>? witnesses = null;
        var group = new List<Node>();
        var found = new List<Node>();
        foreach (var n in g.Nodes)
        {
            if ((n.Op.Cpu?.Repeats ?? OneElement.No) == OneElement.No || n.Batch != 0 || av.GetValueOrDefault(n) is not { } a || a.Size <= 1) continue;
            if (av.GetValueOrDefault(n.Args[0]) is not { Size: 1 } s || s.DType != a.DType || s.Weak != a.Weak || s.Rank > a.Rank) continue;
            users ??= g.Users();
            group.Clear();
            found.Clear();
            group.Add(n);
            bool ok = true;
            for (int i = 0; i < group.Count && ok; i++)
            {
                var x = group[i];
                if (witnesses?.Contains(x) == true || Array.IndexOf(g.Outputs, x) >= 0 || !users.TryGetValue(x, out var us)) { ok = false; break; }
                foreach (var u in us)
                {
                    if (u.Op.Cpu?.IdentityWhenSameAval == true && ReferenceEquals(u.Args[0], x) && a.Equals(av.GetValueOrDefault(u)))
                    {
                        if (!group.Contains(u)) group.Add(u);
                    }
                    else if (Witness(u, a, av, group, seeds) is { } w) found.Add(w);
                    else { ok = false; break; }
                }
            }
            // a witness found before a later member of the group joined it is checked again
            if (!ok || found.Exists(group.Contains)) continue;
            seeds ??= new(RefEq<Node>.Instance);
            witnesses ??= new(RefEq<Node>.Instance);
            foreach (var x in group) seeds[x] = n;
            foreach (var w in found) witnesses.Add(w);
        }
        if (seeds is null) return (g, av);

        var b = new Builder();
        var av2 = new Dictionary<Node, Aval?>(RefEq<Node>.Instance);
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        b.CopyInputs(g, map, av, av2);
        foreach (var n in g.Nodes)
        {
            if (map.ContainsKey(n)) continue;
            var r = !seeds.TryGetValue(n, out var head) ? b.Copy(n, map)
                : !ReferenceEquals(head, n) ? map[head]                     // a no-op after the broadcast
                : Scalar(b, n, map[n.Args[0]], av, av2);                   // its users read the scalar; nothing else reads it
            map[n] = r;
            if (!av2.ContainsKey(r)) av2[r] = av.GetValueOrDefault(n);
        }
        var outs = new Node[g.Outputs.Length];
        for (int k = 0; k < outs.Length; k++) outs[k] = map[g.Outputs[k]];
        return (b.Finish(outs), av2);
    }

    /// <summary>The one element the broadcast <paramref name="n"/> repeats: its operand, or for a mean's transpose the
    /// operand divided by the number of elements (a weak divisor, as <c>Lax.ExpandReducedMean</c> divides before it expands).</summary>
    static Node Scalar(Builder b, Node n, Node operand, Dictionary<Node, Aval?> av, Dictionary<Node, Aval?> av2)
    {
        if (n.Op.Cpu!.Repeats == OneElement.Itself) return operand;
        var count = new Tensor((double)av[n]!.Size);
        var c = b.Const(count);
        av2[c] = count.Aval;
        var r = b.Apply(Prims.Div, [operand, c]);
        r.Source ??= n.Source;
        av2[r] = av.GetValueOrDefault(n.Args[0]);
        return r;
    }

    /// <summary>
    /// For an elementwise node <paramref name="u"/> of the broadcast's full shape <paramref name="a"/>: an operand of that
    /// shape that stays a tensor (not in <paramref name="group"/>, not an accepted seed), so a scalar in the broadcast's
    /// place leaves u's shape as it is. Null when u is not such a node or has no such operand.
    /// </summary>
    static Node? Witness(Node u, Aval a, Dictionary<Node, Aval?> av, List<Node> group, Dictionary<Node, Node>? seeds)
    {
        if (!u.Op.Elementwise || u.Kind != Kind.Tensor || u.Batch != 0 || u.Subgraphs.Length != 0) return null;
        if (av.GetValueOrDefault(u) is not { } ua || !SmallArrays.Same(ua.Dims, a.Dims)) return null;
        foreach (var x in u.Args)
            if (x.Kind == Kind.Tensor && !group.Contains(x) && seeds?.ContainsKey(x) != true
                && av.GetValueOrDefault(x) is { } xa && SmallArrays.Same(xa.Dims, a.Dims))
                return x;
        return null;
    }
}
