namespace Functional.AD;

public static partial class Np
{
    /// <summary>
    /// <c>fori_loop</c>: starting from <paramref name="init"/>, applies <c>carry = body(i, carry)</c> for
    /// <c>i = 0 .. n-1</c> and returns the last carry. The carry keeps its shape and dtype. Inside a transformed
    /// expression write <c>Np.Fold(n, x, (double i, Tensor c) =&gt; ...)</c>: it is read as a Scan over
    /// <c>Arange(n)</c> (one loop node), differentiated in forward and reverse mode by loops (which keep one carry per
    /// iteration), to any order, and run as a real loop.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;double, double&gt;&gt; f = x =&gt; Np.Fold(5, x, (double i, double c) =&gt; c * c * 0.5 + i);
    /// var df = Ad.Grad(f);      // the loop is differentiated as a loop, not unrolled
    /// </code></example>
    /// <param name="n">The number of iterations (a constant int, 0 or more).</param><param name="init">The initial carry.</param>
    /// <param name="body">The loop body, <c>(double i, Tensor carry) =&gt; next carry</c> of the same shape and dtype.</param>
    /// <returns>The last carry.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is negative.</exception>
    /// <exception cref="ShapeException">The body changes the carry's shape or dtype.</exception>
    public static Tensor Fold(int n, Tensor init, Func<double, Tensor, Tensor> body)
    {
        CheckFold(n, body);
        ArgumentNullException.ThrowIfNull(init);
        var c = init;
        for (int i = 0; i < n; i++) c = ScanRules.CheckCarry(body(i, c), c, i, "Np.Fold(n, init, body)");
        return c;
    }

    /// <summary>
    /// <see cref="Fold(int, Tensor, Func{double, Tensor, Tensor})"/> with a pytree carry: a record or tuple of tensors and
    /// doubles (every leaf keeps its shape and dtype). Inside a transformed expression it is one Scan with a carry per leaf.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.Fold(3, ValueTuple.Create(x, x * 0), (double i, (Tensor, Tensor) c) =&gt; ValueTuple.Create(Np.Sin(c.Item1), c.Item2 + c.Item1)).Item2;
    /// </code></example>
    /// <typeparam name="TCarry">The carry's type: a pytree of tensors and doubles.</typeparam>
    /// <param name="n">The number of iterations (a constant int, 0 or more).</param><param name="init">The initial carry.</param>
    /// <param name="body">The loop body, <c>(double i, carry) =&gt; next carry</c>.</param>
    /// <returns>The last carry.</returns>
    /// <exception cref="ShapeException">The body changes the shape or dtype of a leaf of the carry.</exception>
    public static TCarry Fold<TCarry>(int n, TCarry init, Func<double, TCarry, TCarry> body) where TCarry : notnull
    {
        CheckFold(n, body);
        ArgumentNullException.ThrowIfNull(init);
        var c = init;
        for (int i = 0; i < n; i++) c = CheckTreeCarry(body(i, c), c, i, "Np.Fold(n, init, body)");
        return c;
    }

    /// <summary>
    /// <see cref="Scan(Tensor, Tensor, Func{Tensor, Tensor, ValueTuple{Tensor, Tensor}})"/> with a pytree carry: a record or
    /// tuple of tensors and doubles, such as an LSTM's <c>(h, c)</c>. Inside a transformed expression it is one Scan with a
    /// carry per leaf, differentiated and batched as any Scan.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor, Tensor&gt;&gt; f = (xs, h) =&gt;
    ///     Np.Scan(xs, ValueTuple.Create(h, h * 0), (ValueTuple&lt;Tensor, Tensor&gt; s, Tensor x) =&gt;
    ///         Np.Tuple(ValueTuple.Create(Np.Tanh(s.Item1 + x), s.Item2 + s.Item1), Np.Sum(s.Item1))).Item1.Item2;
    /// </code></example>
    /// <typeparam name="TCarry">The carry's type: a pytree of tensors and doubles.</typeparam>
    /// <param name="xs">The sequence: one step per row.</param><param name="init">The initial carry.</param>
    /// <param name="body">The step, <c>(carry, x) =&gt; (next carry, y)</c>.</param>
    /// <returns>The final carry and the stacked ys.</returns>
    /// <exception cref="ShapeException">A leaf of the carry changes shape or dtype, the ys differ in shape, or xs is empty or a scalar.</exception>
    public static (TCarry Carry, Tensor Ys) Scan<TCarry>(Tensor xs, TCarry init, Func<TCarry, Tensor, (TCarry, Tensor)> body) where TCarry : notnull
    {
        ArgumentNullException.ThrowIfNull(xs);
        ArgumentNullException.ThrowIfNull(init);
        ArgumentNullException.ThrowIfNull(body);
        const string src = "Np.Scan(xs, init, body)";
        int n = ScanRules.Steps([xs], -1, src, emptyOk: false);
        var c = init;
        var ys = new object[n];
        for (int i = 0; i < n; i++)
        {
            var (next, y) = body(c, ScanRules.Row(xs, i));
            c = CheckTreeCarry(next, c, i, src);
            ys[i] = y;
        }
        return (c, ScanRules.StackRows(ys, src));
    }

    /// <summary>Checks that every tensor leaf of a pytree carry kept its shape and dtype.</summary>
    static TCarry CheckTreeCarry<TCarry>(TCarry next, TCarry prev, int i, string src) where TCarry : notnull
    {
        var def = TreeDef.Of(typeof(TCarry));
        var a = new List<object?>();
        var b = new List<object?>();
        def.Flatten(prev, a);
        def.Flatten(next, b);
        for (int k = 0; k < a.Count; k++)
            if (a[k] is Tensor p && b[k] is Tensor q) ScanRules.CheckCarry(q, p, i, src);
        return next;
    }

    /// <summary>The scalar form of <see cref="Fold(int, Tensor, Func{double, Tensor, Tensor})"/>: a double carry.</summary>
    /// <param name="n">The number of iterations.</param><param name="init">The initial carry.</param><param name="body">The loop body.</param>
    /// <returns>The last carry.</returns>
    public static double Fold(int n, double init, Func<double, double, double> body)
    {
        CheckFold(n, body);
        var c = init;
        for (int i = 0; i < n; i++) c = body(i, c);
        return c;
    }

    static void CheckFold(int n, Delegate body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, $"Np.Fold: the iteration count must not be negative (it is {n}); 0 returns init unchanged.");
    }

    /// <summary>
    /// <c>lax.scan</c>: runs <c>(carry, y) = body(carry, xs[i])</c> over the rows of <paramref name="xs"/> (its first
    /// axis) and returns the final carry and the ys stacked along a new first axis. The carry keeps its shape and dtype;
    /// every y has the same shape. Inside a transformed expression write
    /// <c>Np.Scan(xs, h0, (Tensor h, Tensor x) =&gt; Np.Tuple(next, y))</c> and read <c>.Item1</c>/<c>.Item2</c>: it is
    /// one loop node, differentiated in forward and reverse mode (reverse keeps one carry per step) and run as a real loop.
    /// </summary>
    /// <param name="xs">The sequence: a tensor of rank 1 or more, one step per row. An empty one needs an explicit length.</param>
    /// <param name="init">The initial carry.</param>
    /// <param name="body">The step, <c>(carry, x) =&gt; (next carry, y)</c>.</param>
    /// <returns>The final carry and the stacked ys, shaped <c>[rows, ...y]</c>.</returns>
    /// <exception cref="ShapeException">The carry changes shape or dtype, the ys differ in shape, or xs is empty or a scalar.</exception>
    public static (Tensor Carry, Tensor Ys) Scan(Tensor xs, Tensor init, Func<Tensor, Tensor, (Tensor, Tensor)> body) => ScanCore(xs, init, body, -1, 1);

    /// <summary>
    /// <see cref="Scan(Tensor, Tensor, Func{Tensor, Tensor, ValueTuple{Tensor, Tensor}})"/> with an explicit number of steps, which
    /// must equal the rows of <paramref name="xs"/>; it is what allows an empty sequence (length 0: the carry is returned as is
    /// and the ys are empty, shaped by one run of the body on zeros).
    /// </summary>
    /// <param name="xs">The sequence.</param><param name="init">The initial carry.</param><param name="body">The step.</param>
    /// <param name="length">The number of rows of xs.</param>
    /// <returns>The final carry and the stacked ys.</returns>
    public static (Tensor Carry, Tensor Ys) Scan(Tensor xs, Tensor init, Func<Tensor, Tensor, (Tensor, Tensor)> body, int length) => ScanCore(xs, init, body, length, 1);

    /// <summary>
    /// <see cref="Scan(Tensor, Tensor, Func{Tensor, Tensor, ValueTuple{Tensor, Tensor}})"/> with checkpointing for reverse mode:
    /// the tape keeps the carry of one step in <paramref name="checkpoint"/> and the backward pass recomputes the others,
    /// one segment at a time (memory divided by about k, one more forward run of the body). The value is the same.
    /// </summary>
    /// <param name="xs">The sequence.</param><param name="init">The initial carry.</param><param name="body">The step.</param>
    /// <param name="length">The number of rows of xs, or -1 to take it from xs.</param>
    /// <param name="checkpoint">Keep one carry in this many steps (1: keep them all).</param>
    /// <returns>The final carry and the stacked ys.</returns>
    public static (Tensor Carry, Tensor Ys) Scan(Tensor xs, Tensor init, Func<Tensor, Tensor, (Tensor, Tensor)> body, int length, int checkpoint)
    {
        if (checkpoint < 1) throw new ArgumentOutOfRangeException(nameof(checkpoint), checkpoint, "Np.Scan: the checkpoint interval must be 1 or more (1 keeps every carry).");
        return ScanCore(xs, init, body, length, checkpoint);
    }

    /// <summary>The scalar-carry form of <see cref="Scan(Tensor, Tensor, Func{Tensor, Tensor, ValueTuple{Tensor, Tensor}})"/>.</summary>
    /// <param name="xs">The sequence.</param><param name="init">The initial carry.</param><param name="body">The step.</param>
    /// <returns>The final carry and the stacked ys.</returns>
    public static (double Carry, Tensor Ys) Scan(Tensor xs, double init, Func<double, Tensor, (double, Tensor)> body)
    {
        var (c, ys) = ScanCore(xs, Tensor.Scalar(init, DType.Float64), (Tensor h, Tensor x) => { var (n, y) = body((double)h, x); return (Tensor.Scalar(n, DType.Float64), y); }, -1, 1);
        return ((double)c, ys);
    }

    static (Tensor, Tensor) ScanCore(Tensor xs, Tensor init, Func<Tensor, Tensor, (Tensor, Tensor)> body, int length, int checkpoint)
    {
        ArgumentNullException.ThrowIfNull(xs);
        ArgumentNullException.ThrowIfNull(init);
        ArgumentNullException.ThrowIfNull(body);
        _ = checkpoint;
        const string src = "Np.Scan(xs, init, body)";
        int n = ScanRules.Steps([xs], length, src, emptyOk: false);
        var c = init;
        var ys = new Tensor[n];
        for (int i = 0; i < n; i++)
        {
            var (next, y) = body(c, ScanRules.Row(xs, i));
            c = ScanRules.CheckCarry(next, c, i, src);
            ys[i] = y;
        }
        if (n > 0) return (c, ScanRules.StackRows(ys, src));
        var y0 = body(init, Lax.Zeros(new Aval(xs.Shape.Skip(1).ToArray(), xs.DType))).Item2;
        return (c, Lax.Zeros(new Aval([0, .. y0.Shape], y0.DType)));
    }

    /// <summary>
    /// <c>lax.while_loop</c>: <c>while (cond(carry)) carry = body(carry)</c>, any number of trips. The condition must
    /// give a scalar (a rank-0 tensor, true when non-zero); the carry keeps its shape and dtype. Inside a transformed
    /// expression it is one loop node, differentiated in forward and in reverse mode with no iteration cap (reverse
    /// keeps the carry of every trip it ran), and run as a real loop.
    /// </summary>
    /// <param name="cond">The condition, a rank-0 tensor (non-zero: go on).</param>
    /// <param name="body">The step, <c>carry =&gt; next carry</c>.</param>
    /// <param name="init">The initial carry.</param>
    /// <returns>The first carry for which the condition is false.</returns>
    /// <exception cref="ShapeException">The condition is not a scalar, or the body changes the carry's shape or dtype.</exception>
    public static Tensor While(Func<Tensor, Tensor> cond, Func<Tensor, Tensor> body, Tensor init)
    {
        ArgumentNullException.ThrowIfNull(cond);
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(init);
        const string src = "Np.While(cond, body, init)";
        var c = init;
        for (int i = 0; WhileRules.Truth(cond(c), src); i++) c = ScanRules.CheckCarry(body(c), c, i, src);
        return c;
    }

    /// <summary>
    /// <see cref="While(Func{Tensor, Tensor}, Func{Tensor, Tensor}, Tensor)"/> with checkpointing for reverse mode: the loop is
    /// differentiated as segments of <paramref name="checkpoint"/> trips, keeping the carry at the start of each segment and
    /// re-running one segment at a time (docs/sharp-bits.md).
    /// </summary>
    /// <param name="cond">The condition.</param><param name="body">The step.</param><param name="init">The initial carry.</param>
    /// <param name="checkpoint">Keep one carry in this many trips (1: keep them all).</param>
    /// <returns>The first carry for which the condition is false.</returns>
    public static Tensor While(Func<Tensor, Tensor> cond, Func<Tensor, Tensor> body, Tensor init, int checkpoint)
    {
        if (checkpoint < 1) throw new ArgumentOutOfRangeException(nameof(checkpoint), checkpoint, "Np.While: the checkpoint interval must be 1 or more (1 keeps every carry).");
        return While(cond, body, init);
    }

    /// <summary>
    /// <see cref="While(Func{Tensor, Tensor}, Func{Tensor, Tensor}, Tensor)"/> with a pytree carry: a record or tuple of
    /// tensors and doubles (every leaf keeps its shape and dtype). Inside a transformed expression it is one While with a
    /// carry per leaf.
    /// </summary>
    /// <example><code>
    /// Expression&lt;Func&lt;Tensor, Tensor&gt;&gt; f = x =&gt; Np.While((ValueTuple&lt;Tensor, Tensor&gt; c) =&gt; Np.Sum(c.Item1) &lt; 10,
    ///     (ValueTuple&lt;Tensor, Tensor&gt; c) =&gt; ValueTuple.Create(c.Item1 * 2, c.Item2 + c.Item1), ValueTuple.Create(x, x * 0)).Item2;
    /// </code></example>
    /// <typeparam name="TCarry">The carry's type: a pytree of tensors and doubles.</typeparam>
    /// <param name="cond">The condition, a rank-0 tensor (non-zero: go on).</param><param name="body">The step.</param>
    /// <param name="init">The initial carry.</param>
    /// <returns>The first carry for which the condition is false.</returns>
    /// <exception cref="ShapeException">The condition is not a scalar, or the body changes the shape or dtype of a leaf of the carry.</exception>
    public static TCarry While<TCarry>(Func<TCarry, Tensor> cond, Func<TCarry, TCarry> body, TCarry init) where TCarry : notnull
    {
        ArgumentNullException.ThrowIfNull(cond);
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(init);
        const string src = "Np.While(cond, body, init)";
        var c = init;
        for (int i = 0; WhileRules.Truth(cond(c), src); i++) c = CheckTreeCarry(body(c), c, i, src);
        return c;
    }

    /// <summary>The scalar form of <see cref="While(Func{Tensor, Tensor}, Func{Tensor, Tensor}, Tensor)"/>: a double carry and a bool condition.</summary>
    /// <param name="cond">The condition.</param><param name="body">The step.</param><param name="init">The initial carry.</param>
    /// <returns>The first carry for which the condition is false.</returns>
    public static double While(Func<double, bool> cond, Func<double, double> body, double init)
    {
        ArgumentNullException.ThrowIfNull(cond);
        ArgumentNullException.ThrowIfNull(body);
        var c = init;
        while (cond(c)) c = body(c);
        return c;
    }
}
