using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Functional.AD;

// The loop primitives and Vmap's structural moves as public C#: what a derivative printed by Ad.Show calls.
public static partial class Lax
{
    /// <summary>
    /// The loop primitive every <see cref="Np.Scan(Tensor, Tensor, Func{Tensor, Tensor, ValueTuple{Tensor, Tensor}})"/>,
    /// <see cref="Np.Fold(int, Tensor, Func{double, Tensor, Tensor})"/> and derivative of a loop is (JAX's <c>lax.scan</c>
    /// over several carries and sequences): for each step <c>i</c> (from the first row to the last, or from the last to
    /// the first with <paramref name="reverse"/>) it calls <c>body(carries..., xs[0][i], xs[1][i], ...)</c>, which returns
    /// <c>(carries'..., ys...)</c> (a single value when there is one output), and keeps the new carries. The result is
    /// the final carries, then each y stacked along a new first axis at its step's index (doubles and floats stack into a
    /// rank-1 tensor); read each by index. Each carry keeps its shape and dtype; with zero steps the ys are empty,
    /// shaped by one run of the body on the carries and zero rows. <c>Ad.Show</c> prints a loop, and the forward,
    /// residual-saving and reversed linear loops of its derivatives, as this call.
    /// </summary>
    /// <example><code>
    /// // a cumulative sum and the running products of a sequence's rows
    /// var xs = new Tensor(new[] { 1.0, 2.0, 3.0 });
    /// var r = Lax.Scan([Tensor.Scalar(0.0, DType.Float64), 1.0], [xs],
    ///     (Tensor, double, Tensor) (Tensor s, double p, Tensor x) =&gt; (s + x, p * (double)x, s + x));
    /// var total = (Tensor)r[0];      // 6
    /// var product = (double)r[1];    // 6
    /// var partial = (Tensor)r[2];    // [1, 3, 6]
    /// </code></example>
    /// <param name="carries">The initial carries: tensors, doubles or floats (a double given for a <see cref="Tensor"/>
    /// parameter of the body becomes a weak scalar tensor, as in C# code).</param>
    /// <param name="xs">The sequences, scanned along their first axis; all have the same number of rows.</param>
    /// <param name="body">The step: a lambda whose parameters are the carries then one row of each sequence, and which
    /// returns the next carries then the ys (a tuple, or the single value).</param>
    /// <param name="length">The number of steps: required when there is no sequence; otherwise -1, or the sequences' row count.</param>
    /// <param name="reverse">Run the steps from the last row to the first (the ys still stack at their step's index).</param>
    /// <returns>The final carries, then the stacked ys.</returns>
    /// <exception cref="ShapeException">A carry changes shape or dtype, the ys differ in shape between steps, the
    /// sequences have different lengths, or a sequence is a scalar.</exception>
    /// <exception cref="ArgumentException">The body's parameters or results do not match the carries and sequences.</exception>
    public static object[] Scan(object[] carries, Tensor[] xs, Delegate body, int length = -1, bool reverse = false)
    {
        ArgumentNullException.ThrowIfNull(carries);
        ArgumentNullException.ThrowIfNull(xs);
        ArgumentNullException.ThrowIfNull(body);
        const string src = "Lax.Scan(carries, xs, body)";
        var ps = Params(body, carries.Length + xs.Length, src, "the carries then one row of each sequence");
        int nc = carries.Length, nx = xs.Length, ny = Results(body, nc, src);
        var c = carries.Select((v, j) => Arg(v, ps[j].ParameterType, src, $"carry {j}")).ToArray();
        int n = ScanRules.Steps(xs, length, src, emptyOk: true);
        var ys = new object[ny][];
        for (int j = 0; j < ny; j++) ys[j] = new object[n];
        for (int s = 0; s < n; s++)
        {
            int i = reverse ? n - 1 - s : s;
            var outs = Call(body, [.. c, .. xs.Select(x => ScanRules.Row(x, i))]);
            for (int j = 0; j < nc; j++) c[j] = NextCarry(outs[j], c[j], i, src);
            for (int j = 0; j < ny; j++) ys[j][i] = outs[nc + j];
        }
        var result = new object[nc + ny];
        c.CopyTo(result, 0);
        object[]? empty = null;
        for (int j = 0; j < ny; j++)
            result[nc + j] = n > 0 ? ScanRules.StackRows(ys[j], src)
                : EmptyStack((empty ??= Call(body, [.. c, .. xs.Select(x => Zeros(ScanRules.RowAval(x.Aval)))]))[nc + j]);
        return result;
    }

    /// <summary>
    /// The data-dependent loop primitive every <see cref="Np.While(Func{Tensor, Tensor}, Func{Tensor, Tensor}, Tensor)"/>
    /// is (JAX's <c>lax.while_loop</c> over several carries, with stacked outputs): while <c>cond(carries...)</c> holds
    /// (a bool, or a scalar that is non-zero), <c>body(carries...)</c> returns <c>(carries'..., ys...)</c>. The result is
    /// the final carries, then each y stacked over the trips that ran (with none, empty, shaped by one run of the body on
    /// the carries). The derivative of a While saves its residuals as such ys, so <c>Ad.Show</c> prints it as this call.
    /// </summary>
    /// <example><code>
    /// // double x until it passes 10, counting the trips
    /// var r = Lax.While([new Tensor(new[] { 1.5 }), 0.0], bool (Tensor x, double k) =&gt; (double)Np.Max(x) &lt; 10,
    ///     (Tensor, double) (Tensor x, double k) =&gt; (x * 2, k + 1));
    /// var x = (Tensor)r[0];    // [12]
    /// var trips = (double)r[1];   // 3
    /// </code></example>
    /// <param name="carries">The initial carries: tensors, doubles or floats.</param>
    /// <param name="cond">The condition over the carries: a bool, or a scalar (true when non-zero).</param>
    /// <param name="body">The trip over the carries, returning the next carries then the ys.</param>
    /// <returns>The first carries for which the condition is false, then the stacked ys.</returns>
    /// <exception cref="ShapeException">A carry changes shape or dtype, the ys differ in shape, or the condition is not a scalar.</exception>
    /// <exception cref="ArgumentException">The lambdas' parameters or results do not match the carries.</exception>
    public static object[] While(object[] carries, Delegate cond, Delegate body)
    {
        ArgumentNullException.ThrowIfNull(carries);
        ArgumentNullException.ThrowIfNull(cond);
        ArgumentNullException.ThrowIfNull(body);
        const string src = "Lax.While(carries, cond, body)";
        Params(cond, carries.Length, src, "the carries");
        var ps = Params(body, carries.Length, src, "the carries");
        int nc = carries.Length, ny = Results(body, nc, src);
        var c = carries.Select((v, j) => Arg(v, ps[j].ParameterType, src, $"carry {j}")).ToArray();
        var ys = Enumerable.Range(0, ny).Select(_ => new List<object>()).ToArray();
        for (int trip = 0; Truth(Invoke(cond, c), src); trip++)
        {
            var outs = Call(body, c);
            for (int j = 0; j < nc; j++) c[j] = NextCarry(outs[j], c[j], trip, src);
            for (int j = 0; j < ny; j++) ys[j].Add(outs[nc + j]);
        }
        var result = new object[nc + ny];
        c.CopyTo(result, 0);
        object[]? empty = null;
        for (int j = 0; j < ny; j++)
            result[nc + j] = ys[j].Count > 0 ? ScanRules.StackRows(ys[j].ToArray(), src) : EmptyStack((empty ??= Call(body, c))[nc + j]);
        return result;
    }

    /// <summary>
    /// A piece of the shape of a sequence of <c>n</c> rows cut into segments of <paramref name="k"/> rows (what a
    /// checkpointed loop's derivative reshapes by), with <c>m = n / k</c> whole segments and <c>r = n % k</c> rows left:
    /// <paramref name="which"/> 0 is the whole segments' rows <c>[m·k, ...]</c>, 1 the rest <c>[r, ...]</c>, 2 the
    /// segments <c>[m, k, ...]</c>, 3 the first two axes merged back <c>[n0·n1, ...]</c>.
    /// </summary>
    /// <example><code>
    /// var a = Np.Zeros([7, 2]).Aval;
    /// Lax.SegmentAval(a, 3, 2);   // [2, 3, 2]
    /// Lax.SegmentAval(a, 3, 1);   // [1, 2]
    /// </code></example>
    /// <param name="a">The sequence's aval (rank 1 or more; rank 2 or more for <paramref name="which"/> 3).</param>
    /// <param name="k">The segment length (1 or more).</param><param name="which">0, 1, 2 or 3, as above.</param>
    /// <returns>The aval of that piece, with <paramref name="a"/>'s dtype.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> or <paramref name="which"/> is out of range, or
    /// <paramref name="a"/> has too few axes.</exception>
    public static Aval SegmentAval(Aval a, int k, int which)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "Lax.SegmentAval: the segment length must be 1 or more.");
        if (which is < 0 or > 3) throw new ArgumentOutOfRangeException(nameof(which), which, "Lax.SegmentAval: which is 0 (whole segments), 1 (the rest), 2 (segments) or 3 (merge the first two axes).");
        if (a.Rank < (which == 3 ? 2 : 1)) throw new ArgumentOutOfRangeException(nameof(a), a, $"Lax.SegmentAval: {a} has too few axes for piece {which}.");
        return ScanRules.SegmentAval(a, k, which);
    }

    // ------------------------------------------------------------------ Vmap's structural moves

    /// <summary>Moves axis <paramref name="axis"/> (negative counts from the end) to position 0: how <c>Ad.Vmap</c>
    /// brings a mapped axis to the front.</summary>
    /// <example><code>Lax.MoveAxisToFront(Np.Zeros([2, 3, 4]), 2);   // shape [4, 2, 3]</code></example>
    /// <param name="x">The tensor.</param><param name="axis">The axis to move.</param>
    /// <returns>The transposed tensor.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor MoveAxisToFront(Tensor x, int axis) => Vmapped.MoveAxisToFront(NotNull(x), axis);

    /// <summary>Moves axis 0 to position <paramref name="axis"/> of the result (negative counts from the end): how
    /// <c>Ad.Vmap</c> puts the batch axis at an output's out axis.</summary>
    /// <example><code>Lax.MoveAxisFromFront(Np.Zeros([4, 2, 3]), -1);   // shape [2, 3, 4]</code></example>
    /// <param name="y">The tensor.</param><param name="axis">Where axis 0 goes.</param>
    /// <returns>The transposed tensor.</returns>
    /// <exception cref="ShapeException">The axis is out of range.</exception>
    public static Tensor MoveAxisFromFront(Tensor y, int axis) => Vmapped.MoveAxisFromFront(NotNull(y), axis);

    /// <summary>Inserts a size-1 axis at position 0 (a value that <c>Ad.Vmap</c> did not batch, meeting one that it did).</summary>
    /// <example><code>Lax.AddBatchAxis(Np.Zeros([3]));   // shape [1, 3]</code></example>
    /// <param name="x">The tensor.</param><returns>The same values, shaped <c>[1, ...]</c>.</returns>
    public static Tensor AddBatchAxis(Tensor x) => Vmapped.AddBatchAxis(NotNull(x));

    /// <summary>An aval with a size-1 axis inserted at position 0.</summary>
    /// <example><code>Lax.AddBatchAxis(Np.Zeros([3]).Aval);   // [1, 3]</code></example>
    /// <param name="a">The aval.</param><returns>The aval shaped <c>[1, ...]</c>.</returns>
    public static Aval AddBatchAxis(Aval a) => Vmapped.AddBatchAxis(a ?? throw new ArgumentNullException(nameof(a)));

    /// <summary>Broadcasts axis 0 (of size 1 or B; a rank-0 tensor first gets one) to B, the last dimension of
    /// <paramref name="size"/>: how <c>Ad.Vmap</c> gives an output that did not depend on the batch its batch axis.</summary>
    /// <example><code>Lax.BroadcastBatch(Np.Ones([1, 2]), Lax.BatchSize([Np.Zeros([5, 3])], ["x"], [0], null));   // shape [5, 2]</code></example>
    /// <param name="y">The tensor.</param><param name="size">The batch size, as an aval <c>[B]</c> (see <see cref="BatchSize"/>).</param>
    /// <returns>The tensor with B rows on axis 0.</returns>
    /// <exception cref="ShapeException">Axis 0 is neither 1 nor B.</exception>
    public static Tensor BroadcastBatch(Tensor y, Aval size) => Vmapped.BroadcastBatch(NotNull(y), size ?? throw new ArgumentNullException(nameof(size)));

    /// <summary>
    /// The batch size of a vmapped call, checked: axis <c>axes[i]</c> of every <c>xs[i]</c> must exist and all must
    /// have the same size (equal to <paramref name="axisSize"/> when given). Returns it as the aval <c>[B]</c>.
    /// </summary>
    /// <example><code>Lax.BatchSize([Np.Zeros([5, 3]), Np.Zeros([2, 5])], ["x", "y"], [0, 1], null);   // [5]</code></example>
    /// <param name="xs">The batched arguments.</param><param name="names">Their names, for messages.</param>
    /// <param name="axes">The mapped axis of each.</param><param name="axisSize">The batch size asked for, or null.</param>
    /// <returns>An aval of shape <c>[B]</c>.</returns>
    /// <exception cref="VmapException">An axis is out of range or the sizes disagree.</exception>
    public static Aval BatchSize(Tensor[] xs, string[] names, int[] axes, int? axisSize)
    {
        ArgumentNullException.ThrowIfNull(xs);
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(axes);
        if (names.Length != xs.Length || axes.Length != xs.Length)
            throw new ArgumentException($"Lax.BatchSize: {xs.Length} tensors, {names.Length} names and {axes.Length} axes; give one name and one axis per tensor.");
        return Vmapped.Size(xs, names, axes, axisSize);
    }

    /// <summary>
    /// An operation applied at <paramref name="batchAxes"/> leading batch axes, as a function made by <c>Ad.Vmap</c>
    /// runs a batched node before its shapes are known: every tensor operand (and aval) has those leading axes in front
    /// of the ones <paramref name="op"/> works on, an axis of size 1 broadcasting against the others; a C# number or a
    /// weak scalar (a literal) has none. <paramref name="op"/> runs once per example (on the slices of the batched
    /// operands) and the results are stacked back under the batch axes. <c>Ad.Show</c> of a vmapped function prints
    /// each batched node as this call, <paramref name="op"/> being the node's unbatched spelling.
    /// </summary>
    /// <example><code>
    /// // a matrix-vector product per example: 4 matrices [4, 3, 2] times 4 vectors [4, 2] gives [4, 3]
    /// var y = (Tensor)Lax.Batched(1, (Tensor a, Tensor v) =&gt; Np.Dot(a, v), Np.Ones([4, 3, 2]), Np.Ones([4, 2]));
    /// // one vector for every example: a size-1 batch axis broadcasts
    /// var z = (Tensor)Lax.Batched(1, (Tensor a, Tensor v) =&gt; Np.Dot(a, v), Np.Ones([4, 3, 2]), Np.Ones([1, 2]));
    /// </code></example>
    /// <param name="batchAxes">The number of leading batch axes (1 or more).</param>
    /// <param name="op">The unbatched operation: a lambda over the operands, giving a tensor or an aval.</param>
    /// <param name="operands">The operands, one per parameter of <paramref name="op"/>.</param>
    /// <returns>The results of every example stacked under the batch axes (a tensor, or an aval).</returns>
    /// <exception cref="ArgumentException">The operands do not match <paramref name="op"/>'s parameters.</exception>
    /// <exception cref="ShapeException">A batched operand has fewer axes than the batch, or batch sizes disagree.</exception>
    public static object Batched(int batchAxes, Delegate op, params object[] operands)
    {
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(operands);
        const string src = "Lax.Batched(k, op, operands)";
        if (batchAxes < 1) throw new ArgumentOutOfRangeException(nameof(batchAxes), batchAxes, "Lax.Batched: give 1 or more batch axes.");
        var ps = Params(op, operands.Length, src, "one per operand");
        var args = operands.Select((v, j) => Arg(v, ps[j].ParameterType, src, $"operand {j}")).ToArray();
        int k = batchAxes;
        // the batch: the leading axes of the batched operands, size 1 broadcasting
        var dims = Enumerable.Repeat(1, k).ToArray();
        var shapes = args.Select(a => a switch { Tensor { IsWeak: true, Rank: 0 } => null, Tensor t => t.Aval, Aval v => v, _ => null }).ToArray();
        foreach (var a in shapes)
        {
            if (a is null) continue;
            if (a.Rank < k)
                throw new ShapeException(src, shapes.Where(x => x is not null).ToArray()!, $"an operand of shape {a} has fewer axes than the {k} batch axes");
            for (int i = 0; i < k; i++)
                if (a.Dims[i] != 1 && dims[i] != a.Dims[i])
                    dims[i] = dims[i] == 1 ? a.Dims[i]
                        : throw new ShapeException(src, shapes.Where(x => x is not null).ToArray()!, $"batch axis {i} has sizes {dims[i]} and {a.Dims[i]}; each must be the batch size or 1");
        }
        int total = dims.Aggregate(1, (x, y) => x * y);
        // example e's operands: each batched tensor as [examples of its own leading axes, ...core], sliced
        var flat = args.Select((a, j) => a is Tensor t && shapes[j] is not null ? Np.Reshape(t, [t.Shape.Take(k).Aggregate(1, (x, y) => x * y), .. t.Shape.Skip(k)]) : a).ToArray();
        object[] Example(int e)
        {
            var x = new object[args.Length];
            for (int j = 0; j < args.Length; j++)
            {
                if (shapes[j] is not { } a) { x[j] = args[j]; continue; }
                // the operand's own index of example e (0 along its size-1 axes)
                int index = 0;
                for (int i = 0, rest = e, stride = total; i < k; i++)
                {
                    stride /= dims[i];
                    int at = rest / stride;
                    rest %= stride;
                    index = index * a.Dims[i] + (a.Dims[i] == 1 ? 0 : at);
                }
                var core = a.Dims.Skip(k).ToArray();
                x[j] = args[j] switch
                {
                    Tensor => total == 0 ? Zeros(new Aval(core, a.DType, a.Weak, adopt: true)) : Weak(Unstack((Tensor)flat[j], 0, index), a.Weak),
                    _ => new Aval(core, a.DType, a.Weak, adopt: true),
                };
            }
            return x;
        }
        if (total == 0)
        {
            // no example: shaped by one run on zeros
            var y = Invoke(op, Example(0));
            return y is Aval av ? new Aval([.. dims, .. av.Dims], av.DType, av.Weak, adopt: true) : Zeros(new Aval([.. dims, .. ((Tensor)y).Shape], ((Tensor)y).DType, false, adopt: true));
        }
        var results = Enumerable.Range(0, total).Select(e => Invoke(op, Example(e))).ToArray();
        if (results[0] is Aval r0) return new Aval([.. dims, .. r0.Dims], r0.DType, r0.Weak, adopt: true);
        var rows = results.Select(r => r as Tensor ?? throw new ArgumentException($"{src}: the operation gives a {Printer.TypeName(r.GetType())}; it must give a tensor or an aval.")).ToArray();
        var stacked = ScanRules.StackRows(rows, src);
        return Weak(Np.Reshape(stacked, [.. dims, .. rows[0].Shape]), rows.All(r => r.IsWeak));
    }

    /// <summary><paramref name="x"/> marked weak when <paramref name="weak"/> (a slice or stack of weak values is weak).</summary>
    static Tensor Weak(Tensor x, bool weak) => weak && !x.IsWeak ? new Tensor(x.Storage, x.Shape.ToArray(), true) : x;

    // ------------------------------------------------------------------ helpers

    static Tensor NotNull(Tensor x, [CallerArgumentExpression(nameof(x))] string? name = null) => x ?? throw new ArgumentNullException(name);

    static ParameterInfo[] Params(Delegate f, int count, string src, string what)
    {
        var ps = f.Method.GetParameters();
        // a lambda compiled over a closure may show the closure as a first parameter
        if (ps.Length == count + 1 && f.Target is not null && ps[0].ParameterType.IsInstanceOfType(f.Target) && f.Method.IsStatic) ps = ps[1..];
        if (ps.Length != count)
            throw new ArgumentException($"{src}: a lambda takes {ps.Length} parameters ({string.Join(", ", ps.Select(p => Printer.TypeName(p.ParameterType)))}) but is called with {count}: {what}.");
        return ps;
    }

    /// <summary>How many values a lambda returns: the elements of a tuple (a nested eighth one counted through), else one.</summary>
    static int Outputs(Type t)
    {
        if (!TreeDef.IsValueTuple(t)) return 1;
        var a = t.GetGenericArguments();
        return a.Length == 8 ? 7 + Outputs(a[7]) : a.Length;
    }

    static int Results(Delegate body, int carries, string src)
    {
        int n = Outputs(body.Method.ReturnType);
        if (n < carries)
            throw new ArgumentException($"{src}: the body returns {n} value{(n == 1 ? "" : "s")} ({Printer.TypeName(body.Method.ReturnType)}) but there are {carries} carries; it returns the next carries, then the ys.");
        return n - carries;
    }

    /// <summary>A value for a parameter of type <paramref name="t"/>: a number given for a tensor becomes a weak scalar, as C# converts it.</summary>
    static object Arg(object? v, Type t, string src, string what) => v switch
    {
        null => throw new ArgumentNullException(what, $"{src}: {what} is null."),
        double d when t == typeof(Tensor) => new Tensor(d),
        int i when t == typeof(Tensor) => new Tensor((double)i),
        int i when t == typeof(double) => (double)i,
        _ when t.IsInstanceOfType(v) => v,
        _ => throw new ArgumentException($"{src}: {what} is a {Printer.TypeName(v.GetType())}, but the lambda takes a {Printer.TypeName(t)} there."),
    };

    static object NextCarry(object next, object prev, int i, string src) => prev switch
    {
        Tensor p => ScanRules.CheckCarry(next as Tensor ?? throw new ArgumentException($"{src}: the body turned a tensor carry into a {Printer.TypeName(next.GetType())}."), p, i, src),
        _ when next.GetType() == prev.GetType() => next,
        _ => throw new ArgumentException($"{src}: the body turned a carry of type {Printer.TypeName(prev.GetType())} into a {Printer.TypeName(next.GetType())}."),
    };

    static bool Truth(object c, string src) => c switch
    {
        bool b => b,
        Tensor t => WhileRules.Truth(t, src),
        double d => d != 0,
        float f => f != 0,
        _ => throw new ArgumentException($"{src}: the condition gives a {Printer.TypeName(c.GetType())}; give a bool or a scalar."),
    };

    static Tensor EmptyStack(object y)
    {
        var a = y switch { Tensor t => t.Aval, float => Aval.ScalarFloat, _ => Aval.ScalarDouble };
        return Zeros(new Aval([0, .. a.Dims], a.DType, a.Weak, adopt: true));
    }

    static object Invoke(Delegate f, object[] args)
    {
        try { return f.DynamicInvoke(args) ?? throw new ArgumentException("a loop's lambda returned null."); }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            ExceptionDispatchInfo.Capture(inner).Throw();
            throw;
        }
    }

    /// <summary>A lambda's results: a tuple's elements in order (through a nested eighth element), else the one value.</summary>
    static object[] Call(Delegate f, object[] args)
    {
        var r = Invoke(f, args);
        if (!TreeDef.IsValueTuple(f.Method.ReturnType)) return [r];
        var acc = new List<object>();
        var t = (ITuple)r;
        for (int i = 0; i < t.Length; i++) acc.Add(t[i]!);
        return acc.ToArray();
    }
}
