using System.Collections.Concurrent;
using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// Run-time side of batch counts (<see cref="Node.Batch"/>): the entry eager code calls for a batched node whose
/// shapes were unknown when it was written (it applies the batching rewrite), and the structural primitives of <c>Vmap</c>.
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

    /// <summary>
    /// Applies <paramref name="p"/> at batch count <paramref name="k"/> to operand values: its batching rule's rewrite into
    /// unbatched primitives for these shapes (<see cref="Unbatch.RunNode"/>), compiled once per signature. Eager code runs
    /// a batched node this way only where its operands' shapes were not known before the call.
    /// </summary>
    public static object Run(Primitive p, Params prms, int k, object[] args) =>
        k == 0 ? Plain(p, args, prms) : Unbatch.RunNode(p, prms, k, args);

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
        int ax = Eager.TryAxis(axis, r, out int inRange) ? inRange : ToFrontAxisError(x, axis);
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
        int ax = Eager.TryAxis(axis, r, out int inRange) ? inRange : FromFrontAxisError(y, axis);
        if (ax == 0) return y;
        var perm = new int[r];
        for (int i = 0; i < r; i++) perm[i] = i < ax ? i + 1 : i == ax ? 0 : i;
        return Np.Transpose(y, perm);
    }

    // the errors apart, so that the moves build their messages' closures only when the axis is out of range
    static int ToFrontAxisError(Tensor x, int axis) =>
        Eager.Axis(axis, x.Rank, () => $"Vmap: move axis {axis} of x: {x.Aval} to the front", [x.Aval]);

    static int FromFrontAxisError(Tensor y, int axis) =>
        Eager.Axis(axis, y.Rank, () => $"Vmap: move the batch axis of y: {y.Aval} to out axis {axis}", [y.Aval]);

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
    public static Aval Size(Tensor[] xs, string[] names, int[] axes, int? axisSize) =>
        new([Size(xs.Select(x => x.Aval).ToArray(), names, axes, axisSize)], DType.Float32);

    /// <summary>The checked batch size of arguments of these avals (see <see cref="Size(Tensor[], string[], int[], int?)"/>).</summary>
    public static int Size(Aval[] xs, string[] names, int[] axes, int? axisSize)
    {
        int size = axisSize ?? -1;
        string? from = axisSize is null ? null : "axisSize";
        for (int i = 0; i < xs.Length; i++)
        {
            var x = xs[i];
            int r = x.Rank, a = axes[i] < 0 ? axes[i] + r : axes[i];
            if ((uint)a >= (uint)r)
                throw new VmapException($"Ad.Vmap: inAxes maps axis {axes[i]} of argument `{names[i]}`, but it has shape {x} (rank {r}); " +
                    (r == 0 ? "a rank-0 tensor has no axis to map (give null in inAxes)." : $"accepted axes are {-r} .. {r - 1}."));
            int s = x.Dims[a];
            if (from is null) { size = s; from = $"argument `{names[i]}` has size {s} on axis {axes[i]}"; }
            else if (s != size)
                throw new VmapException($"Ad.Vmap: batch sizes disagree: {(from == "axisSize" ? $"axisSize is {size}" : from)} but argument `{names[i]}` has size {s} on axis {axes[i]} (shape {x}); every mapped axis must have the same size.");
        }
        if (size < 0) throw new VmapException("Ad.Vmap: no argument is batched and no axisSize is given, so the batch size is unknown.");
        return size;
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>A tensor sharing <paramref name="x"/>'s storage with other dimensions of the same size.</summary>
    public static Tensor View(Tensor x, int[] dims)
    {
        if (Kernels.Product(dims) != x.Size)
            throw new ShapeException($"reshape of {x.Aval} to {Eager.Dims(dims)}", [x.Aval], "internal batching error: the sizes differ");
        return SmallArrays.Same(dims, x.Dims) ? x : new Tensor(x.Storage, dims, x.IsWeak);
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
