using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// <c>Ad.Show(f, args)</c>: the program the jit makes for the shapes of example arguments, printed as C# that
/// compiles (see <see cref="ProgramText"/>), each line annotated with its aval and how the jit lowers it. With the
/// shapes known, what is a no-op for them is folded away first, so the listing reads as the program a person would
/// write: shape computations (<c>Lax.AvalOf</c>, the avals of intermediate results) become constants and vanish where
/// nothing else reads them; <c>SumTo</c>, <c>BroadcastTo</c> and <c>ReshapeTo</c> to the operand's own aval are the
/// operand; values that depend only on a shape (the gradient seed, zeros, ones) of at most one element are constants;
/// a product with (or a quotient by) a constant 1 is the other operand, with -1 its negation (both exact in IEEE
/// arithmetic), when the other operand has the product's aval, or is the weak form of it and every user keeps its own
/// aval. The builder's own folding, common-subexpression merging and dead-code removal do the rest. The XOR loss's
/// gradient goes from 67 statements in the general form to 24.
/// </summary>
internal static class SpecialisedText
{
    public static string Print(Program prog, IReadOnlyList<ParameterExpression> ps, Graph g, IReadOnlyDictionary<Node, Aval?> av,
        IReadOnlyDictionary<Node, string> how, IReadOnlyList<string> leafNames)
    {
        var (folded, origin) = Fold(g, av);
        var preamble = g.Inputs.Select((x, i) => $"{leafNames[i]}: {(av.TryGetValue(x, out var a) && a is not null ? a.ToString() : Printer.TypeName(x.Value as Type ?? typeof(object)))}");
        // the folded program's avals (a node a rewrite made on the way has no node of g to ask)
        var avals = ShapeInference.Run(folded, g.Inputs.Select(x => av.TryGetValue(x, out var a) ? a : null).ToArray());
        string? Note(Node n)
        {
            var a = avals.TryGetValue(n, out var x) ? x : null;
            if (a is null && !origin.ContainsKey(n)) return null;
            var type = n.Kind switch
            {
                Kind.Tensor => a?.ToString() ?? "?",
                Kind.Aval => "shape " + a,
                Kind.Double => "double",
                Kind.Float => "float",
                _ => n.Kind.ToString().ToLowerInvariant(),
            };
            return origin.TryGetValue(n, out var o) && how.TryGetValue(o, out var h) ? type + "  " + h : type;
        }
        return ProgramText.Print(folded, ps.Select((p, i) => (p.Name ?? $"arg{i}", p.Type)).ToArray(), leafNames, prog.OutDef, prog.ReturnType, preamble, Note);
    }

    /// <summary>
    /// <paramref name="g"/> rebuilt with the no-ops of its known avals <paramref name="av"/> folded away; each new node
    /// maps to the node of <paramref name="g"/> it was made for (nodes that a rewrite made on the way, to the node
    /// whose rebuilding made them).
    /// </summary>
    internal static (Graph Graph, Dictionary<Node, Node> Origin) Fold(Graph g, IReadOnlyDictionary<Node, Aval?> av)
    {
        var b = new Builder();
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        var origin = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        foreach (var x in g.Inputs) map[x] = b.InputLike(x);
        Aval? Of(Node n) => n.IsConst ? n.Value switch { Tensor t => t.Aval, double => Aval.ScalarDouble, float => Aval.ScalarFloat, _ => null }
            : av.TryGetValue(n, out var a) ? a : null;
        var users = new Dictionary<Node, List<Node>>(RefEq<Node>.Instance);
        foreach (var n in g.Nodes)
            foreach (var a in n.Args)
                (users.TryGetValue(a, out var us) ? us : users[a] = []).Add(n);
        var outputs = new HashSet<Node>(g.Outputs, RefEq<Node>.Instance);
        // whether the program's results keep their avals when n is replaced by a value of aval `instead`, the weak form
        // of n's (only a promotion with a weak wider dtype could tell them apart): every user computes its own aval
        // again, or the weak form of it, whose users are asked in turn (a few levels deep)
        bool UsersAgree(Node n, Aval instead, int depth = 0) => depth < 4 && !outputs.Contains(n) && users.TryGetValue(n, out var us) && us.All(u =>
        {
            if (u.Subgraphs.Length > 0 || u.Batch > 0 || Of(u) is not { } expected) return false;
            var avals = u.Args.Select(a => ReferenceEquals(a, n) ? instead : Of(a)).ToArray();
            if (avals.Any(a => a is null)) return false;
            var now = Rt.InferAval(u.Op, u.Params, u.Args.Select(a => a.Kind).ToArray(), avals!);
            return expected.Equals(now) || now.Weak && now.WithDType(now.DType).Equals(expected) && UsersAgree(u, now, depth + 1);
        });
        foreach (var n in g.Nodes)
        {
            if (map.ContainsKey(n)) continue;
            if (n.IsConst) { map[n] = b.Const(n.Value!); continue; }
            var args = n.Args.Select(x => map[x]).ToArray();
            int before = b.Nodes.Count;
            var r = n.Batch == 0 && n.Subgraphs.Length == 0 && Of(n) is { } aval ? Folded(b, n, args, aval, Of, UsersAgree) : null;
            r ??= b.Apply(n.Op, args, n.Params, n.Subgraphs.Length == 0 ? n.Subgraphs : FoldedSubgraphs(n, n.Args.Select(Of).ToArray()), n.Batch);
            map[n] = r;
            origin.TryAdd(r, n);
            // nodes a rewrite made on the way (a product by -1 printed as a negation) are part of n's computation: they
            // print with n's lowering
            for (int i = before; i < b.Nodes.Count; i++) origin.TryAdd(b.Nodes[i], n);
        }
        return (b.Finish(g.Outputs.Select(o => map[o]).ToArray()), origin);
    }

    /// <summary>
    /// The sub-graphs of a loop or conditional with the no-ops of their own known avals folded away too, their inputs'
    /// avals as the primitive declares them (<see cref="Primitive.SubgraphInputAvals"/>). Others (a custom rule's) stay
    /// as they are.
    /// </summary>
    static Graph[] FoldedSubgraphs(Node n, Aval?[] args)
    {
        if (n.Op.SubgraphInputAvals is not { } inputAvals) return n.Subgraphs;
        var ins = inputAvals(n, args);
        var result = new Graph[n.Subgraphs.Length];
        for (int s = 0; s < result.Length; s++)
        {
            var sub = n.Subgraphs[s];
            // a C# scalar's aval from its kind; nothing is folded where a sub-graph's shapes cannot be inferred
            var avals = sub.Inputs.Select((x, i) => ins[s][i] ?? x.Kind switch { Kind.Double => Aval.ScalarDouble, Kind.Float => Aval.ScalarFloat, _ => null }).ToArray();
            try { result[s] = Fold(sub, ShapeInference.Run(sub, avals)).Graph; }
            catch (ShapeException) { result[s] = sub; }
        }
        return result;
    }

    static Node? Folded(Builder b, Node n, Node[] args, Aval aval, Func<Node, Aval?> of, Func<Node, Aval, int, bool> usersAgree)
    {
        // a shape, known: a constant
        if (n.Kind == Kind.Aval) return b.Const(aval);
        // SumTo, BroadcastTo, ReshapeTo to the operand's own aval: the operand
        if (n.Op.Cpu?.IdentityWhenSameAval == true && args[0].Kind == Kind.Tensor && aval.Equals(of(n.Args[0]))) return args[0];
        // a value that depends only on shapes (the gradient seed, zeros, ones), small enough to read: a constant
        if (n.Op.Cpu?.ShapeOnly == true && n.Kind == Kind.Tensor && aval.Size <= 1 && Evaluate(n, of) is Tensor t) return b.Const(t);
        // x * 1, 1 * x, x / 1: x; with -1: -x (exact in IEEE arithmetic), when x already has the result's aval
        if (n.Op.UnitIdentityAt is { } unitAt && n.Args.Length == 2)
            foreach (var i in unitAt)
            {
                var other = n.Args[1 - i];
                if (UnitSign(args[i]) is not { } sign || other.Kind != n.Kind) continue;
                if (n.Kind == Kind.Tensor && !aval.Equals(of(other))
                    && !(of(other) is { Weak: true } weak && weak.WithDType(weak.DType).Equals(aval) && usersAgree(n, weak, 0)))
                    continue;
                return sign > 0 ? args[1 - i] : b.Apply(Prims.Neg, [args[1 - i]]);
            }
        return null;
    }

    /// <summary>+1 or -1 when <paramref name="c"/> is a constant scalar 1 or -1 (a C# number or a rank-0 tensor), else null.</summary>
    static int? UnitSign(Node c)
    {
        if (!c.IsConst) return null;
        double? v = c.Value switch
        {
            double d => d,
            float f => f,
            Tensor { Rank: 0 } t => (double)t,
            _ => null,
        };
        return v == 1 ? 1 : v == -1 ? -1 : null;
    }

    /// <summary>The value of a shape-only node, run on zeros of its operands' avals.</summary>
    static object? Evaluate(Node n, Func<Node, Aval?> of)
    {
        var operands = new object[n.Args.Length];
        for (int i = 0; i < n.Args.Length; i++)
        {
            var a = n.Args[i];
            if (a.IsConst) { operands[i] = a.Value!; continue; }
            if (of(a) is not { } aval) return null;
            operands[i] = a.Kind switch
            {
                Kind.Aval => aval,
                Kind.Tensor => Rt.Placeholder(aval),
                Kind.Double => 0.0,
                Kind.Float => 0f,
                _ => null!,
            };
            if (operands[i] is null) return null;
        }
        // a seed of a non-scalar output throws: left as it is, it fails at run time with the message that names it
        try { return n.Op.Eval(operands, n.Args.Select(a => a.Kind).ToArray(), n.Params); }
        catch (Exception) { return null; }
    }
}
