using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Runtime.CompilerServices;

namespace Functional.AD;

/// <summary>
/// The intermediate buffers of one call of a specialisation: one array per pooled node (exact size, allocated once).
/// A call takes an arena from its <see cref="ArenaPool"/> at the start and hands it back at the end, so in steady
/// state the intermediates of large tensors allocate nothing; two threads calling the same delegate get two arenas.
/// </summary>
internal sealed class Arena
{
    public readonly Array[] Buffers;
    public Arena(List<(Type T, int Size)> slots) => Buffers = slots.Select(s => Array.CreateInstance(s.T, s.Size)).ToArray();
}

/// <summary>The arenas of one specialisation: one kept for the common single-threaded case, more on a stack when calls overlap.</summary>
internal sealed class ArenaPool
{
    readonly List<(Type T, int Size)> slots = new();
    readonly ConcurrentStack<Arena> extra = new();
    Arena? one;

    public int Count => slots.Count;

    /// <summary>Reserves a buffer of <paramref name="size"/> elements of <paramref name="t"/>; returns its slot.</summary>
    public int Add(Type t, int size) { slots.Add((t, size)); return slots.Count - 1; }

    [MethodImpl(MethodImplOptions.NoInlining)]   // see JitRt: nothing is inlined into generated code
    public Arena Rent() => Interlocked.Exchange(ref one, null) ?? (extra.TryPop(out var a) ? a : new Arena(slots));

    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Return(Arena a)
    {
        if (Interlocked.CompareExchange(ref one, a, null) is not null && extra.Count < 64) extra.Push(a);
    }
}

/// <summary>
/// Which nodes may keep their value in an arena buffer: a tensor that is not returned and whose every use only reads
/// its elements during the call (a fused loop, a GEMM, an unrolled node, or an eager kernel that makes a fresh
/// result, a Sum, Mean or SumTo to fewer elements included), looking through what may alias it (BroadcastTo,
/// ReshapeTo, a reduction to as many elements). A value that could be kept by
/// the result (returned, or passed to an eager method that might return a view of it) gets a fresh array.
/// </summary>
internal static class Pooling
{
    public static HashSet<Node> Plan(Graph g, Dictionary<Node, Aval?> av)
    {
        var users = g.Users();
        var outputs = new HashSet<Node>(g.Outputs, RefEq<Node>.Instance);
        var pooled = new HashSet<Node>(RefEq<Node>.Instance);
        foreach (var n in g.Nodes)
            if (!n.IsInput && !n.IsConst && n.Batch == 0 && n.Kind == Kind.Tensor && av.TryGetValue(n, out var a) && a is not null && a.Size > Codegen.Tiny
                && OnlyRead(n, users, outputs, av, 0))
                pooled.Add(n);
        return pooled;
    }

    static bool OnlyRead(Node n, Dictionary<Node, List<Node>> users, HashSet<Node> outputs, Dictionary<Node, Aval?> av, int depth)
    {
        if (outputs.Contains(n) || depth > 16) return false;
        if (!users.TryGetValue(n, out var us)) return true;
        foreach (var u in us)
        {
            if (u.Batch != 0 || u.Subgraphs.Length > 0) return false;
            // a reduction to fewer elements makes a fresh result; one to as many (over axes of length 1) might be a view
            var result = u.Op.Cpu?.Result ?? EagerResult.MayKeep;
            if (result == EagerResult.Reduction)
            {
                if (av.TryGetValue(u, out var ua) && ua is not null && av[n] is { } na && ua.Size < na.Size) continue;
                if (!OnlyRead(u, users, outputs, av, depth + 1)) return false;
                continue;
            }
            if (result == EagerResult.View)
            {
                if (!OnlyRead(u, users, outputs, av, depth + 1)) return false;
                continue;
            }
            if (result == EagerResult.Fresh) continue;   // fused, unrolled, a GEMM, or a fresh eager result
            if (u.Kind == Kind.Aval) continue;   // AvalOf, shape rules: shapes only
            return false;
        }
        return true;
    }
}

internal sealed partial class Codegen
{
    /// <summary>Nodes whose buffers come from the call's arena (see <see cref="Pooling"/>).</summary>
    HashSet<Node> pooled = new(RefEq<Node>.Instance);
    readonly ArenaPool arenas = new();
    ParameterExpression? arenaVar;

    /// <summary>A buffer of <paramref name="size"/> elements for node <paramref name="n"/>'s value, to be written whole: from the arena when it is pooled, else fresh.</summary>
    Expression Buffer(Node n, Type t, int size)
    {
        // a fresh buffer is not zeroed: a fused loop and the GEMM write every element
        if (!pooled.Contains(n))
            return Expression.Call(typeof(GC).GetMethod(nameof(GC.AllocateUninitializedArray))!.MakeGenericMethod(t), Expression.Constant(size), Expression.Constant(false));
        return Scratch(t, size);
    }

    /// <summary>A buffer of <paramref name="size"/> elements of the call's arena that never leaves the call (a half chain's widened operands and unrounded members).</summary>
    Expression Scratch(Type t, int size)
    {
        arenaVar ??= Expression.Variable(typeof(Arena), "arena");
        int slot = arenas.Add(t, size);
        return Expression.Convert(Expression.ArrayIndex(Expression.Field(arenaVar, nameof(Arena.Buffers)), Expression.Constant(slot)), t.MakeArrayType());
    }

    /// <summary>Wraps the call's code so that it takes an arena first and hands it back at the end (also on an exception).</summary>
    public Expression WithArena(Expression compute)
    {
        if (arenaVar is null) return compute;
        var pool = Expression.Constant(arenas);
        return Expression.Block(compute.Type, [arenaVar],
            Expression.Assign(arenaVar, Expression.Call(pool, typeof(ArenaPool).GetMethod(nameof(ArenaPool.Rent))!)),
            Expression.TryFinally(compute, Expression.Call(pool, typeof(ArenaPool).GetMethod(nameof(ArenaPool.Return))!, arenaVar)));
    }
}
