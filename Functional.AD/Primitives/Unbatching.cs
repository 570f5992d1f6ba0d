using System.Collections.Concurrent;
using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// Builds the unbatched primitives a batched node is rewritten into, with the shape of every node known (shapes are
/// concrete when the rewrite runs: at specialisation, or per call signature in eager code). Each node it makes gets its
/// aval at once, so a rule can read the shapes of what it just built.
/// </summary>
internal sealed class Unbatcher
{
    public readonly Builder B;
    public readonly Dictionary<Node, Aval?> Av;

    public Unbatcher(Builder b, Dictionary<Node, Aval?> av) { B = b; Av = av; }

    /// <summary>The aval of <paramref name="n"/> (a C# scalar has a scalar's aval).</summary>
    public Aval A(Node n) =>
        Av.TryGetValue(n, out var a) && a is not null ? a
        : n.Kind == Kind.Double ? Aval.ScalarDouble
        : n.Kind == Kind.Float ? Aval.ScalarFloat
        : throw new InvalidOperationException($"Internal error: batching rewrite of a node whose shape is unknown ({n}).");

    public int[] Dims(Node n) => A(n).Dims;

    /// <summary>An unbatched application, its aval inferred now.</summary>
    public Node Apply(Primitive p, Node[] args, Params? prm = null)
    {
        int from = B.Nodes.Count;
        var r = B.Apply(p, args, prm ?? Params.None, null, 0);
        Fill(from);
        return r;
    }

    public Node Const(object v)
    {
        int from = B.Nodes.Count;
        var r = B.Const(v);
        Fill(from);
        return r;
    }

    /// <summary>Avals of the nodes made since <paramref name="from"/> (an application's own rewrites may make several).</summary>
    public void Fill(int from)
    {
        for (int i = from; i < B.Nodes.Count; i++)
        {
            var n = B.Nodes[i];
            if (!Av.ContainsKey(n)) Av[n] = n.Batch == 0 ? ShapeInference.InferNode(n, Av) : null;
        }
    }

    public Node Reshape(Node x, int[] dims)
    {
        if (Dims(x).AsSpan().SequenceEqual(dims)) return x;
        // a reshape of a reshape is one reshape of the original (row-major order is kept by both)
        while (x.Op == Prims.Reshape && x.Batch == 0 && x.Args[0].Kind == Kind.Tensor && Av.GetValueOrDefault(x.Args[0]) is not null)
            x = x.Args[0];
        return Dims(x).AsSpan().SequenceEqual(dims) ? x : Apply(Prims.Reshape, [x], new Params(dims));
    }

    public Node Transpose(Node x, int[] perm)
    {
        for (int i = 0; i < perm.Length; i++) if (perm[i] != i) return Apply(Prims.Transpose, [x], new Params(perm));
        return x;
    }

    public Node BroadcastTo(Node x, int[] dims) => Dims(x).AsSpan().SequenceEqual(dims) ? x : Apply(Prims.BroadcastToShape, [x], new Params(dims));

    public Node AvalConst(int[] dims, Aval like) => Const(new Aval(dims, like.DType, like.Weak));
}

/// <summary>
/// Batching as a rewrite (DESIGN.md, "Ranks without tracing"). <c>Ad.Vmap</c> gives nodes batch counts before any shape
/// is known; once shapes are concrete, each batched node is rewritten by its primitive's rule (<see cref="Primitive.Batched"/>)
/// into ordinary, unbatched primitives: a batched elementwise op is a wider one, a batched reduction reduces over one
/// more axis, a batched product is one matrix product. The CPU jit and the Torch compiler lower only unbatched nodes;
/// eager code applies the same rewrite, cached per shape signature.
/// </summary>
internal static class Unbatch
{
    /// <summary>Whether any node of <paramref name="g"/> (not counting sub-graphs) carries a batch count.</summary>
    public static bool HasBatched(Graph g)
    {
        foreach (var n in g.Nodes) if (n.Batch > 0) return true;
        return false;
    }

    /// <summary>
    /// The graph with every batched node rewritten (its inputs keep their order and kinds), and the aval of every node
    /// of the new graph. A known shape computation (an Aval node) becomes a constant. A batched node whose operands'
    /// shapes are unknown (after a conditional whose branches differ) is kept: eager code rewrites it per call.
    /// </summary>
    public static (Graph Graph, Dictionary<Node, Aval?> Avals) Run(Graph g, Dictionary<Node, Aval?> av)
    {
        var b = new Builder();
        var av2 = new Dictionary<Node, Aval?>(RefEq<Node>.Instance);
        var u = new Unbatcher(b, av2);
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        b.CopyInputs(g, map, av, av2);
        foreach (var n in g.Nodes)
        {
            if (map.ContainsKey(n)) continue;
            Node r;
            var known = av.GetValueOrDefault(n);
            int from = b.Nodes.Count;
            if (n.IsConst) r = b.Const(n.Value!);
            else if (n.Kind == Kind.Aval && known is not null) r = b.Const(known);
            else
            {
                var args = n.Args.Select(a => map[a]).ToArray();
                bool shapesKnown = args.All(a => a.Kind is not (Kind.Tensor or Kind.Aval) || av2.GetValueOrDefault(a) is not null);
                // Vmap's own moves (an axis to or from the front, a size-1 batch axis, the broadcast to the batch size)
                // are transposes, reshapes and broadcasts once shapes are known: their rules at batch count 0
                if ((n.Batch > 0 || n.Op.VmapMove) && shapesKnown)
                {
                    r = Rewrite(u, n.Op, args, n.Params, n.Batch);
                    r.Source ??= n.Source;
                }
                else r = b.Copy(n, map);
            }
            map[n] = r;
            if (known is not null && !av2.ContainsKey(r)) av2[r] = known;
            u.Fill(from);
        }
        var outs = g.Outputs.Select(o => map[o]).ToArray();
        var g2 = b.Finish(outs);
        return (g2, av2);
    }

    /// <summary>Node <paramref name="p"/>(<paramref name="args"/>) at batch count <paramref name="k"/>, rewritten into unbatched nodes.</summary>
    public static Node Rewrite(Unbatcher u, Primitive p, Node[] args, Params prm, int k)
    {
        if (k == 0 && !p.VmapMove) return u.Apply(p, args, prm);
        var rule = p.Batched ?? throw new InvalidOperationException($"Internal error: the primitive {p.Name} has no batching rule.");
        return rule(u, args, prm, k);
    }

    // ------------------------------------------------------------------ one node at a time (eager code, shape rules)

    sealed class One
    {
        public required Graph Graph;
        public required Aval? Out;
        public required Kind[] Kinds;
        Func<object[], object>? run;
        public Func<object[], object> Run => run ??= Compile();

        Func<object[], object> Compile()
        {
            var arr = Expression.Parameter(typeof(object[]), "args");
            var ins = Graph.Inputs.Select((x, i) => (Expression)Expression.Convert(Expression.ArrayIndex(arr, Expression.Constant(i)), x.Kind.ClrType(x.Value as Type))).ToArray();
            var (vars, stmts, env) = Writer.Emit(Graph, ins);
            var body = Expression.Block(typeof(object), vars, [.. stmts, Expression.Convert(env[Graph.Outputs[0]], typeof(object))]);
            return Expression.Lambda<Func<object[], object>>(body, arr).Compile();
        }
    }

    static readonly ConcurrentDictionary<(Primitive, Params, int, string), One> ones = new();

    static string KeyOf(Kind[] kinds, object?[] shapes)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < kinds.Length; i++) sb.Append((int)kinds[i]).Append(':').Append(shapes[i]?.ToString() ?? "").Append(';');
        return sb.ToString();
    }

    /// <summary>The rewrite of one batched node with operands of these kinds and avals (a static operand: its value), cached.</summary>
    static One For(Primitive p, Params prm, int k, Kind[] kinds, object?[] shapes)
    {
        return ones.GetOrAdd((p, prm, k, KeyOf(kinds, shapes)), _ =>
        {
            var b = new Builder();
            var av = new Dictionary<Node, Aval?>(RefEq<Node>.Instance);
            var u = new Unbatcher(b, av);
            var args = new Node[kinds.Length];
            for (int i = 0; i < kinds.Length; i++)
            {
                switch (kinds[i])
                {
                    case Kind.Aval: args[i] = u.Const((Aval)shapes[i]!); break;
                    case Kind.Static: args[i] = b.Const(shapes[i]!); break;
                    default:
                        args[i] = b.Input(kinds[i]);
                        av[args[i]] = shapes[i] as Aval;
                        break;
                }
            }
            var r = Rewrite(u, p, args, prm, k);
            // every operand stays an input of the graph (in order), used or not
            var g = b.Finish([r]);
            return new One { Graph = g, Out = u.Av.GetValueOrDefault(r), Kinds = kinds };
        });
    }

    /// <summary>Applies <paramref name="p"/> at batch count <paramref name="k"/> to operand values (eager code): the rewrite for their shapes, compiled once per signature.</summary>
    public static object RunNode(Primitive p, Params prm, int k, object[] args)
    {
        var kinds = new Kind[args.Length];
        var shapes = new object?[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            (kinds[i], shapes[i]) = args[i] switch
            {
                Tensor t => (Kind.Tensor, (object?)t.Aval),
                double => (Kind.Double, Aval.ScalarDouble),
                float => (Kind.Float, Aval.ScalarFloat),
                bool => (Kind.Bool, null),
                Aval a => (Kind.Aval, a),
                var o => (Kind.Static, o),
            };
        }
        var one = For(p, prm, k, kinds, shapes);
        var inputs = new object[one.Graph.Inputs.Length];
        for (int i = 0, j = 0; i < args.Length; i++)
            if (kinds[i] is not (Kind.Aval or Kind.Static)) inputs[j++] = args[i];
        return one.Run(inputs);
    }

    /// <summary>The aval of <paramref name="p"/> at batch count <paramref name="k"/> on operands of these avals (its rule's checks run).</summary>
    public static Aval? AvalOf(Primitive p, Params prm, int k, Kind[] kinds, Aval[] avals)
    {
        var shapes = avals.Select((a, i) => kinds[i] == Kind.Bool ? null : (object?)a).ToArray();
        return For(p, prm, k, kinds, shapes).Out;
    }
}
