using System.Linq.Expressions;
using System.Runtime.Intrinsics;

namespace Functional.AD;

/// <summary>
/// Fusion of elementwise chains for tensors too large to unroll: a maximal set of elementwise nodes of one shape and
/// dtype, connected through their operands, whose other operands are tensors of that same shape, size-1 values
/// (broadcast scalars), rows broadcast along the leading axes (<see cref="IsRowOperand"/>) or channels broadcast along
/// the leading and trailing axes (<see cref="IsChannelOperand"/>: a convolution's bias), becomes one loop over the
/// elements: Vector512 (or Vector256) lanes with a scalar tail; a single such node is a loop too. Inside the loop every
/// node is a vector local; only the chain's outputs (members used outside it or returned) are written, into arena
/// buffers or fresh arrays (see <see cref="Pooling"/>). A chain is convex (no path leaves it and comes back), so it can
/// be emitted as one unit.
/// <para>
/// float16 and bfloat16 nodes are computed in float32 (as XLA computes them on the CPU): they join float32 chains, a
/// half operand is widened to float32 as the loop reads it, and a half member that is written keeps its float32
/// values for later loops, reductions and products, and is rounded to its dtype once, where a half tensor is needed
/// (<see cref="Codegen"/>). So values keep float32's precision between fused operations (eager code rounds after
/// every operation), and a jitted half result can be more precise than the eager one; docs/sharp-bits.md says so.
/// </para>
/// </summary>
internal static class Fusion
{
    /// <summary>Whether vector code is available at all (else nothing is fused). A field read once: a method that asks
    /// <c>Vector512.IsHardwareAccelerated</c> itself is left out of the package's ReadyToRun images (the answer is the
    /// machine's) and JIT-compiled in every process, and <see cref="Plan"/> runs on the way to every first call.</summary>
    public static readonly bool Enabled = Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;

    /// <summary>The vector helper class and lane count for element type <paramref name="t"/>.</summary>
    public static (Type Ops, Type Vec, int Lanes) Width(Type t)
    {
        if (Vector512.IsHardwareAccelerated)
            return (typeof(Vec512Ops), typeof(Vector512<>).MakeGenericType(t), t == typeof(double) ? 8 : 16);
        return (typeof(Vec256Ops), typeof(Vector256<>).MakeGenericType(t), t == typeof(double) ? 4 : 8);
    }

    /// <summary>How an operand enters a member's loop body.</summary>
    public enum Operand { Member, Full, Scalar }

    static bool IsScalarOperand(Node x, Dictionary<Node, Aval?> av, Aval a) =>
        x.Kind is Kind.Double or Kind.Float
        || x.Kind == Kind.Tensor && av.TryGetValue(x, out var xa) && xa is not null && xa.Size == 1 && xa.Rank <= a.Rank;

    /// <summary>
    /// A full operand: a tensor of the result's shape whose values the loop reads as its element type: of the loop's
    /// dtype, bool (a member's 0/1, or a bool tensor read as 0 and 1), or a half widened to the loop's float type.
    /// </summary>
    static bool IsFullOperand(Node x, Dictionary<Node, Aval?> av, Aval a) =>
        x.Kind == Kind.Tensor && av.TryGetValue(x, out var xa) && xa is not null && Readable(xa.DType, a.DType) && SmallArrays.Same(xa.Dims, a.Dims);

    /// <summary>Whether a loop computing in <paramref name="loop"/> reads an operand of dtype <paramref name="d"/>: its own dtype, bool, or a half widened to float32 or float64.</summary>
    static bool Readable(DType d, DType loop) => d == loop || d == DType.Bool || DTypes.IsHalf(d) && loop is DType.Float32 or DType.Float64;

    /// <summary>
    /// The dtype a node is computed in inside a fused loop: its own, except that a bool result of a comparison or a logical
    /// operator on floats is carried as 0/1 in its operands' float dtype (float64 if any operand is, else float32), and a
    /// float16 or bfloat16 node is computed in float32. Null when the node cannot be computed in a loop (integers,
    /// other bools).
    /// </summary>
    public static DType? ComputeDType(Node n, Dictionary<Node, Aval?> av)
    {
        if (!av.TryGetValue(n, out var a) || a is null) return null;
        if (a.DType is DType.Float32 or DType.Float64) return a.DType;
        if (DTypes.IsHalf(a.DType)) return DType.Float32;
        if (a.DType != DType.Bool || n.Op.Vector is null || n.Op.Gives(DType.Float32) != DType.Bool) return null;
        DType? d = null;
        foreach (var x in n.Args)
        {
            if (x.Kind != Kind.Tensor) continue;
            var xd = ComputeDType(x, av) ?? (av.GetValueOrDefault(x) is { DType: DType.Bool } ? DType.Float32 : null);
            if (xd is null) return null;
            if (av[x]!.Weak) continue;
            d = d is null ? xd : d == DType.Float64 || xd == DType.Float64 ? DType.Float64 : DType.Float32;
        }
        return d ?? DType.Float32;
    }

    /// <summary>
    /// A row operand: a tensor broadcast along the leading axes (a bias <c>[n]</c> against <c>[batch, n]</c>): its dims,
    /// without leading 1s, are the trailing dims of the result, and its size is a multiple of the vector width, so a
    /// vector never straddles two of its repetitions. Its index runs alongside the element index and wraps at its size.
    /// </summary>
    public static bool IsRowOperand(Node x, Dictionary<Node, Aval?> av, Aval a)
    {
        if (x.Kind != Kind.Tensor || !av.TryGetValue(x, out var xa) || xa is null || !Readable(xa.DType, a.DType) || xa.Size <= 1 || xa.Size >= a.Size) return false;
        var d = xa.Dims.AsSpan();
        while (d.Length > 0 && d[0] == 1) d = d[1..];
        if (d.Length > a.Rank || !d.SequenceEqual(a.Dims.AsSpan(a.Rank - d.Length))) return false;
        return xa.Size % Width(DTypes.ClrType(a.DType)).Lanes == 0;
    }

    /// <summary>
    /// A channel operand: a tensor broadcast along both leading and trailing axes (a convolution's bias <c>[c, 1, 1]</c>
    /// against <c>[batch, c, h, w]</c>): its dims, without leading 1s, are a span of the result's dims followed only by
    /// 1s, and the trailing dims' size <paramref name="inner"/> (h w) is a multiple of the vector width, so each vector
    /// reads one of its values. The loop splats value <c>k</c> and moves k on every <c>inner</c> elements, wrapping at
    /// <paramref name="count"/> (c).
    /// </summary>
    public static bool IsChannelOperand(Node x, Dictionary<Node, Aval?> av, Aval a, out int inner, out int count)
    {
        inner = count = 0;
        if (x.Kind != Kind.Tensor || !av.TryGetValue(x, out var xa) || xa is null || !Readable(xa.DType, a.DType) || xa.Size <= 1 || xa.Size >= a.Size) return false;
        var d = xa.Dims.AsSpan();
        while (d.Length > 0 && d[0] == 1) d = d[1..];
        if (d.Length > a.Rank) return false;
        int off = a.Rank - d.Length;
        int hi = d.Length;
        while (hi > 0 && d[hi - 1] == 1) hi--;
        if (hi == d.Length) return false;   // no trailing 1s: a row operand, or not a broadcast at all
        if (!d[..hi].SequenceEqual(a.Dims.AsSpan(off, hi))) return false;
        inner = 1;
        for (int k = off + hi; k < a.Rank; k++) inner *= a.Dims[k];
        count = xa.Size;
        return inner > 1 && inner % Width(DTypes.ClrType(a.DType)).Lanes == 0;
    }

    /// <summary>Whether node <paramref name="n"/> may be a member of a fused chain.</summary>
    static bool Fusable(Node n, Dictionary<Node, Aval?> av)
    {
        if (n.IsInput || n.IsConst || n.Batch != 0 || n.Kind != Kind.Tensor || !n.Op.Elementwise || n.Op.Vector is null) return false;
        if (!av.TryGetValue(n, out var a0) || a0 is null || a0.Size <= Codegen.Tiny) return false;
        if (ComputeDType(n, av) is not DType d) return false;
        var a = d == a0.DType ? a0 : new Aval(a0.Dims, d, a0.Weak);
        foreach (var x in n.Args)
            if (!IsFullOperand(x, av, a) && !IsScalarOperand(x, av, a) && !IsRowOperand(x, av, a) && !IsChannelOperand(x, av, a, out _, out _)) return false;
        return true;
    }

    /// <summary>
    /// Groups the graph's fusable nodes into chains (a single node is a chain too), in topological order within each
    /// chain. A node joins the chains of its fusable operands of the same shape and dtype when the union stays convex.
    /// </summary>
    public static Dictionary<Node, List<Node>> Plan(Graph g, Dictionary<Node, Aval?> av)
    {
        var chainOf = new Dictionary<Node, List<Node>>(RefEq<Node>.Instance);
        if (!Enabled) return chainOf;
        var users = g.Users();
        var outputs = new HashSet<Node>(g.Outputs, RefEq<Node>.Instance);
        foreach (var n in g.Nodes)
        {
            if (!Fusable(n, av)) continue;
            var a = av[n]!;
            var d = ComputeDType(n, av);
            var candidates = new List<List<Node>>();
            foreach (var x in n.Args)
                if (chainOf.TryGetValue(x, out var c) && !candidates.Contains(c) && ComputeDType(x, av) == d && SmallArrays.Same(av[x]!.Dims, a.Dims))
                    candidates.Add(c);
            // a mask (a comparison's bool result) whose every reader also reads something computed from the candidate
            // chains through nodes outside them (so no reader can join them: a relu's mask, read by its gradient's loop
            // after the pool's scatter): joining its operand's chain would write it out as a bool array for the later
            // loop to read back; alone it starts the chain of the loop that reads it
            if (candidates.Count > 0 && a.DType == DType.Bool && !outputs.Contains(n) && users.TryGetValue(n, out var us))
            {
                var inChains = new HashSet<Node>(candidates.SelectMany(c => c), RefEq<Node>.Instance);
                var clean = new HashSet<Node>(RefEq<Node>.Instance);
                if (us.All(u => u.Args.Any(x => !ReferenceEquals(x, n) && !inChains.Contains(x) && DependsOn(x, inChains, clean))))
                    candidates.Clear();
            }
            var merged = new List<Node>();
            foreach (var c in candidates) merged.AddRange(c);
            merged.Add(n);
            var set = new HashSet<Node>(merged, RefEq<Node>.Instance);
            if (candidates.Count > 0 && !Convex(set))
            {
                // keep the operands' chains as they are; n starts its own
                merged = [n];
                set = new HashSet<Node>(merged, RefEq<Node>.Instance);
            }
            var order = g.Nodes.Where(set.Contains).ToList();
            foreach (var m in order) chainOf[m] = order;
        }
        // a single node is a loop too: it writes into an arena buffer (when its value is not returned) where the eager
        // kernel would allocate
        BreakCycles(g, chainOf);
        return chainOf;
    }

    /// <summary>
    /// Each chain is convex, but two chains may still need each other (a chain joins unrelated operands of one node:
    /// chain A feeds chain B through one member while B feeds A through another). Such chains cannot be emitted one
    /// after the other: they are split into single nodes until the chains, as units, form a DAG.
    /// </summary>
    static void BreakCycles(Graph g, Dictionary<Node, List<Node>> chainOf)
    {
        while (true)
        {
            // the unit of a node: its chain, or itself
            object Unit(Node n) => chainOf.TryGetValue(n, out var c) ? c : n;
            var edges = new Dictionary<object, HashSet<object>>(RefEq<object>.Instance);
            foreach (var n in g.Nodes)
            {
                var un = Unit(n);
                foreach (var x in n.Args)
                {
                    var ux = Unit(x);
                    if (ReferenceEquals(ux, un)) continue;
                    if (!edges.TryGetValue(ux, out var set)) edges[ux] = set = new HashSet<object>(RefEq<object>.Instance);
                    set.Add(un);
                }
            }
            // a chain on a cycle of units: found by an iterative depth-first search with colours
            var state = new Dictionary<object, int>(RefEq<object>.Instance);   // 1: on the path, 2: done
            List<Node>? onCycle = null;
            bool found = false;
            foreach (var n in g.Nodes)
            {
                var root = Unit(n);
                if (state.TryGetValue(root, out int rs) && rs != 0) continue;
                var path = new List<object>();
                // the units on the path and each one's next edges (two stacks of references: a stack of tuples would be JIT-compiled in every process)
                var units = new Stack<object>();
                var nexts = new Stack<IEnumerator<object>>();
                state[root] = 1;
                path.Add(root);
                units.Push(root);
                nexts.Push((edges.TryGetValue(root, out var e0) ? e0 : []).GetEnumerator());
                while (units.Count > 0 && !found)
                {
                    var (u, next) = (units.Peek(), nexts.Peek());
                    if (!next.MoveNext())
                    {
                        units.Pop();
                        nexts.Pop();
                        path.RemoveAt(path.Count - 1);
                        state[u] = 2;
                        continue;
                    }
                    var v = next.Current;
                    int sv = state.TryGetValue(v, out int vs) ? vs : 0;
                    if (sv == 1)
                    {
                        // the cycle is the path from v on: split one of its chains
                        onCycle = path.Skip(path.IndexOf(v)).OfType<List<Node>>().FirstOrDefault(l => l.Count > 1);
                        found = true;
                    }
                    else if (sv == 0)
                    {
                        state[v] = 1;
                        path.Add(v);
                        units.Push(v);
                        nexts.Push((edges.TryGetValue(v, out var ev) ? ev : []).GetEnumerator());
                    }
                }
                if (found) break;
            }
            if (!found) return;
            if (onCycle is null) return;   // a cycle through single nodes only cannot happen in a DAG
            foreach (var m in onCycle.ToArray()) chainOf[m] = [m];
        }
    }

    /// <summary>No operand outside the set depends on a member of the set.</summary>
    static bool Convex(HashSet<Node> set)
    {
        var clean = new HashSet<Node>(RefEq<Node>.Instance);   // nodes known not to depend on the set
        foreach (var m in set)
            foreach (var x in m.Args)
                if (!set.Contains(x) && DependsOn(x, set, clean)) return false;
        return true;
    }

    static bool DependsOn(Node root, HashSet<Node> set, HashSet<Node> clean)
    {
        var stack = new Stack<(Node N, int I)>();
        var onPath = new HashSet<Node>(RefEq<Node>.Instance);
        stack.Push((root, 0));
        while (stack.Count > 0)
        {
            var (n, i) = stack.Pop();
            if (i == n.Args.Length) { clean.Add(n); continue; }
            stack.Push((n, i + 1));
            var x = n.Args[i];
            if (set.Contains(x)) return true;
            if (clean.Contains(x) || x.IsConst || x.IsInput || !onPath.Add(x)) continue;
            stack.Push((x, 0));
        }
        return false;
    }
}
