using System.Collections.Concurrent;
using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// Run-time side of batch counts (<see cref="Node.Batch"/>): the one generic entry that written code calls for a
/// batched node, the structural primitives of <c>Vmap</c>, and the helpers the batched implementations share.
/// </summary>
internal static class Vmapped
{
    // ------------------------------------------------------------------ entry points

    /// <summary>
    /// The parameters of node <paramref name="n"/> when it is re-applied with <paramref name="by"/> more batch axes: the
    /// same, except where the primitive's <see cref="Primitive.ShiftBatch"/> says otherwise (shape inference, <c>InferAval</c>,
    /// whose last parameter is the batch count of the node it describes).
    /// </summary>
    public static Params ShiftBatch(Node n, int by) => n.Op.ShiftBatch is { } shift ? shift(n.Params, by) : n.Params;

    /// <summary>Applies <paramref name="p"/> at batch count <paramref name="k"/> to boxed operands.</summary>
    public static object Run(Primitive p, Params prms, int k, object[] args)
    {
        if (k == 0) return Plain(p, args, prms);
        var f = p.Batched ?? throw new InvalidOperationException($"Internal error: the primitive {p.Name} has no batched implementation.");
        return f(args, prms, k);
    }

    /// <summary>The expression a batched node is written as: <c>Vmapped.Run(primitive, params, k, new object[] { ... })</c>.</summary>
    public static Expression Emit(Node n, Expression[] args) =>
        Expression.Call(typeof(Vmapped).GetMethod(nameof(Run))!, Expression.Constant(n.Op), Expression.Constant(n.Params),
            Expression.Constant(n.Batch), Expression.NewArrayInit(typeof(object), args.Select(a => Expression.Convert(a, typeof(object)))));

    /// <summary>
    /// The batch count a new node gets: 0 for primitives that see whole values (<see cref="Primitive.AlwaysUnbatched"/>:
    /// avals, conditionals, shape inference) and for nodes without a Tensor or Aval operand (a double cannot carry a batch).
    /// </summary>
    public static int BatchFor(Primitive p, Node[] args, int k)
    {
        if (k == 0 || p.AlwaysUnbatched) return 0;
        foreach (var a in args) if (a.Kind is Kind.Tensor or Kind.Aval) return k;
        return 0;
    }

    static readonly ConcurrentDictionary<(Primitive, Params, ulong, string?), Func<object[], object>> plain = new();

    static Kind KindOfValue(object v) => v switch
    {
        Tensor => Kind.Tensor,
        double => Kind.Double,
        float => Kind.Float,
        bool => Kind.Bool,
        Aval => Kind.Aval,
        _ => Kind.Static,
    };

    /// <summary>The unbatched primitive on boxed operands (its emitted code, compiled once per kinds and parameters).</summary>
    public static object Plain(Primitive p, object[] args, Params prms)
    {
        var kinds = new Kind[args.Length];
        ulong code = (ulong)args.Length;
        for (int i = 0; i < args.Length; i++)
        {
            kinds[i] = KindOfValue(args[i]);
            if (i < 15) code |= (ulong)kinds[i] << (4 + 4 * i);
        }
        // the kinds as a number (4 bits each); past 15 operands, also as text
        var f = plain.GetOrAdd((p, prms, code, args.Length > 15 ? string.Join(",", kinds) : null), _ =>
        {
            var arr = Expression.Parameter(typeof(object[]), "args");
            var ex = kinds.Select((kd, i) => (Expression)Expression.Convert(Expression.ArrayIndex(arr, Expression.Constant(i)), kd.ClrType(args[i].GetType()))).ToArray();
            var body = p.Emit(ex, kinds, prms, []);
            return Expression.Lambda<Func<object[], object>>(Expression.Convert(body, typeof(object)), arr).Compile();
        });
        return f(args);
    }

    // ------------------------------------------------------------------ structural primitives (unbatched forms)

    /// <summary>Moves axis <paramref name="axis"/> (negative counts from the end) to position 0.</summary>
    public static Tensor MoveAxisToFront(Tensor x, int axis)
    {
        int r = x.Rank;
        int ax = Eager.Axis(axis, r, () => $"Vmap: move axis {axis} of x: {x.Aval} to the front", [x.Aval]);
        if (ax == 0) return x;
        var perm = new int[r];
        perm[0] = ax;
        for (int i = 0, j = 1; i < r; i++) if (i != ax) perm[j++] = i;
        return Np.Transpose(x, perm);
    }

    /// <summary>Moves axis 0 to position <paramref name="axis"/> of the result (negative counts from the end).</summary>
    public static Tensor MoveAxisFromFront(Tensor y, int axis)
    {
        int r = y.Rank;
        int ax = Eager.Axis(axis, r, () => $"Vmap: move the batch axis of y: {y.Aval} to out axis {axis}", [y.Aval]);
        if (ax == 0) return y;
        var perm = new int[r];
        for (int i = 0; i < r; i++) perm[i] = i < ax ? i + 1 : i == ax ? 0 : i;
        return Np.Transpose(y, perm);
    }

    /// <summary>Inserts a size-1 axis at position 0.</summary>
    public static Tensor AddBatchAxis(Tensor x) => View(x, [1, .. x.Dims]);

    /// <summary>An aval with a size-1 axis inserted at position 0.</summary>
    public static Aval AddBatchAxis(Aval a) => new(Eager.Insert(a.Dims, 0, 1), a.DType, a.Weak);

    /// <summary>Broadcasts axis 0 (size 1 or B) to B, the only dimension of <paramref name="size"/>.</summary>
    public static Tensor BroadcastBatch(Tensor y, Aval size)
    {
        int b = size.Dims[^1];
        if (y.Rank == 0) y = View(y, [1]);
        if (y.Dims[0] == b) return y;
        return Np.BroadcastTo(y, [b, .. y.Dims[1..]]);
    }

    /// <summary>
    /// The batch size of a vmapped call, checked: every batched argument's mapped axis must exist and all must
    /// have the same size (and agree with <paramref name="axisSize"/> when given). Returns an aval of shape [B].
    /// </summary>
    public static Aval Size(Tensor[] xs, string[] names, int[] axes, int? axisSize)
    {
        int size = axisSize ?? -1;
        string? from = axisSize is null ? null : "axisSize";
        for (int i = 0; i < xs.Length; i++)
        {
            var x = xs[i];
            int r = x.Rank, a = axes[i] < 0 ? axes[i] + r : axes[i];
            if ((uint)a >= (uint)r)
                throw new VmapException($"Ad.Vmap: inAxes maps axis {axes[i]} of argument `{names[i]}`, but it has shape {x.Aval} (rank {r}); " +
                    (r == 0 ? "a rank-0 tensor has no axis to map (give null in inAxes)." : $"accepted axes are {-r} .. {r - 1}."));
            int s = x.Dims[a];
            if (from is null) { size = s; from = $"argument `{names[i]}` has size {s} on axis {axes[i]}"; }
            else if (s != size)
                throw new VmapException($"Ad.Vmap: batch sizes disagree: {(from == "axisSize" ? $"axisSize is {size}" : from)} but argument `{names[i]}` has size {s} on axis {axes[i]} (shape {x.Aval}); every mapped axis must have the same size.");
        }
        if (size < 0) throw new VmapException("Ad.Vmap: no argument is batched and no axisSize is given, so the batch size is unknown.");
        return new Aval([size], DType.Float32);
    }

    // ------------------------------------------------------------------ helpers of the batched implementations

    /// <summary>A tensor sharing <paramref name="x"/>'s storage with other dimensions of the same size.</summary>
    public static Tensor View(Tensor x, int[] dims)
    {
        if (Kernels.Product(dims) != x.Size)
            throw new ShapeException($"reshape of {x.Aval} to {Eager.Dims(dims)}", [x.Aval], "internal batching error: the sizes differ");
        return dims.AsSpan().SequenceEqual(x.Dims) ? x : new Tensor(x.Storage, dims, x.IsWeak);
    }

    /// <summary>The first k dimensions (padded with 1s in front when the rank is below k) and the rest.</summary>
    public static (int[] Batch, int[] Core) Split(int[] dims, int k)
    {
        if (dims.Length >= k) return (dims[..k], dims[k..]);
        var b = new int[k];
        for (int i = 0; i < k; i++) b[i] = i < k - dims.Length ? 1 : dims[i - (k - dims.Length)];
        return (b, []);
    }

    public static (int[] Batch, int[] Core) Split(object x, int k) => x switch
    {
        Tensor t => Split(t.Dims, k),
        Aval a => Split(a.Dims, k),
        _ => (Enumerable.Repeat(1, k).ToArray(), []),
    };

    /// <summary>The broadcast of the batch dimensions of every Tensor/Aval operand.</summary>
    public static int[] BatchOf(string op, int k, params object[] xs)
    {
        int[] r = Enumerable.Repeat(1, k).ToArray();
        foreach (var x in xs)
        {
            if (x is not (Tensor or Aval)) continue;
            var b = Split(x, k).Batch;
            for (int i = 0; i < k; i++)
            {
                if (b[i] == r[i] || b[i] == 1) continue;
                if (r[i] != 1)
                    throw new ShapeException(op, xs.OfType<Tensor>().Select(t => t.Aval).Concat(xs.OfType<Aval>()).ToArray(),
                        $"batch axis {i} has sizes {r[i]} and {b[i]}; batch axes must be equal or 1");
                r[i] = b[i];
            }
        }
        return r;
    }

    /// <summary>x with its batch dimensions broadcast to <paramref name="batch"/> (core unchanged).</summary>
    public static Tensor ToBatch(Tensor x, int[] batch, int k)
    {
        var (b, c) = Split(x.Dims, k);
        if (b.AsSpan().SequenceEqual(batch) && x.Rank >= k) return x;
        return Np.BroadcastTo(View(x, [.. b, .. c]), [.. batch, .. c]);
    }

    /// <summary>x with size-1 axes inserted between its batch and core axes so that its core has rank <paramref name="rank"/>.</summary>
    public static Tensor Align(Tensor x, int k, int rank)
    {
        var (b, c) = Split(x.Dims, k);
        if (c.Length >= rank && x.Rank >= k) return x;
        return View(x, [.. b, .. Enumerable.Repeat(1, Math.Max(0, rank - c.Length)), .. c]);
    }

    /// <summary>A core axis, normalised (negative counts from the end) and checked.</summary>
    public static int CoreAxis(int axis, int rank, string op, params Aval[] shapes)
    {
        int a = axis < 0 ? axis + rank : axis;
        if ((uint)a >= (uint)rank)
            throw new ShapeException(op, shapes, $"axis {axis} is out of range for the per-example rank {rank} (batched: the leading batch axes do not count); accepted axes are {-rank} .. {rank - 1}");
        return a;
    }

    /// <summary>Swaps the last two axes.</summary>
    public static Tensor SwapLast2(Tensor x)
    {
        int r = x.Rank;
        var perm = Enumerable.Range(0, r).ToArray();
        (perm[r - 2], perm[r - 1]) = (perm[r - 1], perm[r - 2]);
        return Np.Transpose(x, perm);
    }

    /// <summary>numpy matmul on the core axes of a and b (batch counts k), batch and core-batch axes broadcast.</summary>
    public static Tensor MatMul(Tensor a, Tensor b, int k)
    {
        var (ba, ca) = Split(a.Dims, k);
        var (bb, cb) = Split(b.Dims, k);
        if (ca.Length == 0 || cb.Length == 0)
            throw ShapeException.Of("Np.MatMul (batched)", "MatMul takes per-example operands of rank 1 or more; use * to multiply by a scalar", ("a", a.Aval), ("b", b.Aval));
        int[] cap = ca.Length == 1 ? [1, ca[0]] : ca;
        int[] cbp = cb.Length == 1 ? [cb[0], 1] : cb;
        int la = cap.Length - 2, lb = cbp.Length - 2, l = Math.Max(la, lb);
        var a2 = View(a, [.. ba, .. Enumerable.Repeat(1, l - la), .. cap]);
        var b2 = View(b, [.. bb, .. Enumerable.Repeat(1, l - lb), .. cbp]);
        var r = Np.MatMul(a2, b2);
        var od = r.Dims.ToList();
        if (cb.Length == 1) od.RemoveAt(od.Count - 1);
        if (ca.Length == 1) od.RemoveAt(od.Count - (cb.Length == 1 ? 1 : 2));
        return View(r, od.ToArray());
    }
}

/// <summary><c>Ad.Vmap</c> cannot batch the function as asked (axes that do not fit, a batched double, sizes that disagree).</summary>
/// <example><code>
/// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Sum(x);
/// try { Ad.Vmap(f, inAxes: [3]).Compile()(Np.Ones([2])); }   // axis 3 of a vector
/// catch (VmapException e) { Console.WriteLine(e.Message); }
/// </code></example>
public sealed class VmapException : AdException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, naming the argument or subexpression, and what would be accepted.</param>
    public VmapException(string message) : base(message) { }
}
