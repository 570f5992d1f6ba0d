namespace Functional.AD;

/// <summary>
/// Builds a <see cref="Graph"/> node by node. Every application is hash-consed (same primitive, same operands,
/// same static parameters: same node), constant-folded when all operands are constants, and offered to the
/// primitive's own IEEE-exact rewrites. A child builder (for a branch or loop body) captures the parent's nodes
/// it uses as extra inputs, so sub-graphs are closed.
/// </summary>
internal sealed class Builder
{
    readonly List<Node> nodes = new();
    readonly List<Node> inputs = new();
    readonly Dictionary<(Primitive, string), Node> cse = new();
    readonly Dictionary<Node, Node> captured = new(RefEq<Node>.Instance);
    public readonly Builder? Parent;
    /// <summary>Outer nodes captured by this (child) builder, in the order of the inputs created for them.</summary>
    public readonly List<Node> Captures = new();

    public Builder(Builder? parent = null) => Parent = parent;

    /// <summary>The batch count <see cref="Apply"/> gives a node when none is passed (set around rules so that the
    /// nodes a rule emits carry the batch count of the node it is the rule of).</summary>
    public int DefaultBatch;

    public IReadOnlyList<Node> Nodes => nodes;
    public IReadOnlyList<Node> InputNodes => inputs;

    public Node Input(Kind kind, string? name = null, Type? staticType = null)
    {
        var n = new Node(this, Prims.Input, [], new Params(inputs.Count), [], kind, staticType, name);
        inputs.Add(n);
        nodes.Add(n);
        return n;
    }

    public Node Const(object value)
    {
        var kind = value switch
        {
            Tensor => Kind.Tensor,
            double => Kind.Double,
            float => Kind.Float,
            bool => Kind.Bool,
            Aval => Kind.Aval,
            _ => Kind.Static,
        };
        string key = value switch
        {
            double d => "d" + BitConverter.DoubleToInt64Bits(d),
            float f => "f" + BitConverter.SingleToInt32Bits(f),
            bool b => b ? "true" : "false",
            Aval a => "a" + a,
            _ => "r" + System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(value) + ":" + value.GetHashCode(),
        };
        if (cse.TryGetValue((Prims.Const, key), out var hit) && (kind != Kind.Tensor && kind != Kind.Static || ReferenceEquals(hit.Value, value)))
            return hit;
        var n = new Node(this, Prims.Const, [], Params.None, [], kind, value, cls: value is Tensor { IsWeak: true, Rank: 0 } ? -1 : value is Aval ? 0 : null);
        cse[(Prims.Const, key)] = n;
        nodes.Add(n);
        return n;
    }

    /// <summary>Maps a node of an enclosing builder to the input of this builder that stands for it.</summary>
    public Node Capture(Node outer)
    {
        if (outer.Owner == this) return outer;
        if (outer.IsConst) return Const(outer.Value!);
        if (captured.TryGetValue(outer, out var inner)) return inner;
        if (Parent is null) throw new InvalidOperationException($"Internal error: node {outer} belongs to no enclosing builder.");
        var viaParent = outer.Owner == Parent ? outer : Parent.Capture(outer);
        inner = Input(outer.Kind, outer.Name, outer.Value as Type);
        captured[outer] = inner;
        Captures.Add(viaParent);
        return inner;
    }

    public Node Apply(Primitive p, Node[] args, Params? prms = null, Graph[]? subs = null, int? batch = null)
    {
        prms ??= Params.None;
        int k = Vmapped.BatchFor(p, args, batch ?? DefaultBatch);
        subs ??= [];
        for (int i = 0; i < args.Length; i++)
            if (args[i].Owner != this) args = ReplaceAt(args, i, Capture(args[i]));

        var kind = p.KindOf(SmallArrays.KindsOf(args), prms, subs);

        if (subs.Length == 0)
        {
            // rewrites emit nodes at this node's batch count
            var saved = DefaultBatch;
            DefaultBatch = k;
            Node? rewritten;
            try { rewritten = p.Rewrite?.Invoke(this, args, prms); }
            finally { DefaultBatch = saved; }
            if (rewritten is not null) return rewritten;
            if (p.Foldable && args.Length > 0 && args.All(a => a.IsConst))
            {
                object? folded = null;
                try { folded = p.Eval(args.Select(a => a.Value!).ToArray(), SmallArrays.KindsOf(args), prms, k); }
                catch (Exception) { /* leave it to run time, where the error names the shapes */ }
                if (folded is not null) return Const(folded);
            }
        }

        string key = CseKey(args, prms, subs, k);
        if (cse.TryGetValue((p, key), out var existing) && existing.Params.Equals(prms)) return existing;
        var n = new Node(this, p, args, prms, subs, kind, cls: ShapeClass(p, args, kind, k), batch: k);
        cse[(p, key)] = n;
        nodes.Add(n);
        return n;
    }

    /// <summary>The common-subexpression key of an application: its operands' ids, the parameters' hash, the subgraphs and the batch count.</summary>
    static string CseKey(Node[] args, Params prms, Graph[] subs, int batch)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < args.Length; i++) { if (i > 0) sb.Append(','); sb.Append(args[i].Id); }
        sb.Append('|').Append(prms.GetHashCode()).Append('|');
        for (int i = 0; i < subs.Length; i++) { if (i > 0) sb.Append(','); sb.Append(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(subs[i])); }
        return sb.Append("|b").Append(batch).ToString();
    }

    /// <summary>The symbolic shape class of a new node (see <see cref="Node.Cls"/>); <c>null</c>: a class of its own.</summary>
    static int? ShapeClass(Primitive p, Node[] args, Kind kind, int batch)
    {
        if (p.ClassOfOperand >= 0) return args[p.ClassOfOperand].Kind == Kind.Tensor ? args[p.ClassOfOperand].Cls : 0;
        if (p.WeakScalarResult) return -1;
        if (p.LikeAval >= 0 && batch > 0) return null; // batch dims broadcast: the result need not be shaped like the aval
        if (p.LikeAval >= 0) return args[p.LikeAval].Cls == 0 ? null : args[p.LikeAval].Cls;
        if (p.Elementwise && kind == Kind.Tensor)
        {
            int cls = int.MinValue;
            foreach (var a in args)
            {
                if (a.Kind != Kind.Tensor || a.Cls == -1) continue;
                if (cls == int.MinValue) cls = a.Cls;
                else if (cls != a.Cls) return null;
            }
            return cls == int.MinValue ? -1 : cls;
        }
        return null;
    }

    static Node[] ReplaceAt(Node[] a, int i, Node v)
    {
        var c = (Node[])a.Clone();
        c[i] = v;
        return c;
    }

    /// <summary>Re-applies the nodes of <paramref name="g"/> here with its inputs bound to <paramref name="args"/>.</summary>
    public Node[] Inline(Graph g, IReadOnlyList<Node> args)
    {
        if (args.Count != g.Inputs.Length) throw new InvalidOperationException("Internal error: inline arity.");
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        for (int i = 0; i < args.Count; i++) map[g.Inputs[i]] = args[i];
        foreach (var n in g.Nodes)
            if (!map.ContainsKey(n)) map[n] = Copy(n, map);
        return g.Outputs.Select(o => map[o]).ToArray();
    }

    /// <summary>An input of <paramref name="x"/>'s kind, name and static type (a graph's input made again here).</summary>
    public Node InputLike(Node x) => Input(x.Kind, x.Name, x.Value as Type);

    /// <summary>The inputs of <paramref name="g"/> made again here, entered in <paramref name="map"/>, with their avals
    /// from <paramref name="av"/> entered in <paramref name="av2"/> (a rewrite of a specialised graph).</summary>
    public void CopyInputs(Graph g, Dictionary<Node, Node> map, Dictionary<Node, Aval?> av, Dictionary<Node, Aval?> av2)
    {
        foreach (var x in g.Inputs)
        {
            var i = map[x] = InputLike(x);
            av2[i] = av.GetValueOrDefault(x);
        }
    }

    /// <summary>Node <paramref name="n"/> of another graph made again here on the operands <paramref name="map"/> gives
    /// for its own (a constant copied), keeping the expression it came from and its shape witness.</summary>
    public Node Copy(Node n, Dictionary<Node, Node> map)
    {
        if (n.IsConst) return Const(n.Value!);
        var args = new Node[n.Args.Length];
        for (int i = 0; i < args.Length; i++) args[i] = map[n.Args[i]];
        var r = Apply(n.Op, args, n.Params, n.Subgraphs, n.Batch);
        r.Source ??= n.Source;
        if (n.Witness is { } w && map.TryGetValue(w, out var mw)) r.Witness ??= mw;
        return r;
    }

    /// <summary>Closes the graph: dead nodes (not reachable from <paramref name="outputs"/>) are dropped.</summary>
    public Graph Finish(IReadOnlyList<Node> outputs)
    {
        var live = new HashSet<Node>(RefEq<Node>.Instance);
        var stack = new Stack<Node>(outputs);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!live.Add(n)) continue;
            foreach (var a in n.Args) stack.Push(a);
        }
        var kept = nodes.Where(n => !n.IsInput && live.Contains(n)).ToArray();
        return new Graph(inputs.ToArray(), kept, outputs.ToArray());
    }
}
