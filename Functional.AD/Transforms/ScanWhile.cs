using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>
/// <c>Np.While</c> as a primitive holding its condition and body as sub-graphs (Scan and Fold are <see cref="ScanRules"/>).
/// <list type="bullet">
/// <item><c>While(init, captures...)</c> (params: source; subs: the condition and the body, both over
/// <c>(carry, captures...)</c>): emitted as an <c>Expression.Loop</c>, any number of trips.</item>
/// <item><c>WhileTape</c>: the same loop keeping the carry at the start of each trip (as many as it runs: reverse mode
/// has no iteration cap).</item>
/// <item><c>LoopLin</c>: the tangent loop over the tape, linear in the tangents; <c>LoopLinT</c>: its transpose, the
/// transposed body run backwards over the tape. Operands carry a role (<see cref="Plain"/>, the <see cref="Tape"/>, the
/// threaded <see cref="CarryT"/> tangent).</item>
/// </list>
/// With <c>checkpoint: k</c> (k &gt; 1) the tape keeps one carry every k trips and the tangent loops recompute the
/// k - 1 in between from it (a segment at a time): the tape shrinks k times for about one more run of the body.
/// </summary>
internal static class ScanWhile
{
    // roles of LoopLin operands (and of its body's inputs, which follow the operands one to one)
    internal const int Plain = 0, Sliced = 1, Tape = 2, CarryT = 3;
    // roles of LoopLinT inputs before the cotangents
    internal const int AvalPlain = 4, AvalSliced = 5, AvalCarry = 6;
    // roles of LoopLinT outputs
    internal const int OutAcc = 0, OutCarry = 1, OutSliced = 2;

    /// <summary>Whether <paramref name="p"/> is one of the Scan/While loop primitives (its <see cref="Primitive.ScanWhileLoop"/> flag).</summary>
    public static bool IsLoop(Primitive p) => p.ScanWhileLoop;

    /// <summary>Whether <c>Np.<paramref name="name"/></c> is a loop combinator read by <c>Reader.ReadLoop</c>.</summary>
    public static bool IsLoopMethod(string name) => name is nameof(Np.Scan) or nameof(Np.While) or nameof(Np.Fold);

    public static void Install()
    {
        var wh = Prims.While;
        wh.Foldable = false;
        wh.KindRule = (k, _, _) => k[0];
        wh.EmitRule = (a, k, p, subs) => EmitWhile(a, k, p, subs);
        wh.FormatRule = (a, _, _) => $"Np.While(cond, body, {a[0]}{Caps(a, 1)})";
        wh.Jvp = WhileJvp;
        wh.Batched = (_, _, _) => throw new InvalidOperationException("Internal error: a loop node has no batch count.");
        wh.VmapRule = VmapLoops.While;
        wh.AvalRule = WhileAval;

        var wt = Prims.WhileTape;
        wt.Foldable = false;
        wt.KindRule = (_, _, _) => Kind.Static;
        wt.EmitRule = (a, k, p, subs) => Expression.Call(M(nameof(RunWhileTape)), Expression.Constant(p.Get<string>(0)), Expression.Constant(p.Count > 1 ? p.Get<int>(1) : 1),
            Boxed(a), Expression.Constant(subs[0]), Expression.Constant(subs[1]));
        wt.FormatRule = (a, _, _) => $"Loops.WhileTape({string.Join(", ", a)})";
        wt.Batched = wh.Batched;
        wt.VmapRule = VmapLoops.PerExample;

        var lin = Prims.LoopLin;
        lin.Foldable = false;
        lin.KindRule = (k, p, _) => p.Get<int>(1) == 0 ? k[Array.IndexOf(p.Get<int[]>(0), CarryT)] : Kind.Tensor;
        lin.EmitRule = (a, k, p, subs) => Primitive.Conv(Expression.Call(M(nameof(RunLoopLin)), Expression.Constant(p.Get<int[]>(0)), Expression.Constant(p.Get<int>(1)),
            Expression.Constant(p.Get<int>(2)), Boxed(a), Expression.Constant(subs[0]), subs.Length > 1 ? Expression.Constant(subs[1]) : Expression.Constant(null, typeof(Graph))),
            (p.Get<int>(1) == 0 ? k[Array.IndexOf(p.Get<int[]>(0), CarryT)] : Kind.Tensor).ClrType());
        lin.FormatRule = (a, _, _) => $"Loops.Tangent({string.Join(", ", a)})";
        lin.Transpose = LinTranspose;
        lin.Batched = wh.Batched;
        lin.VmapRule = VmapLoops.PerExample;

        var linT = Prims.LoopLinT;
        linT.Foldable = false;
        linT.KindRule = (_, p, subs) => KindOfLinT(p, subs);
        linT.EmitRule = (a, k, p, subs) => Primitive.Conv(Expression.Call(M(nameof(RunLoopLinT)), Expression.Constant(p.Get<int[]>(0)), Expression.Constant(p.Get<int[]>(1)),
            Expression.Constant(p.Get<int>(2)), Expression.Constant(p.Get<int>(3)), Expression.Constant(p.Get<int>(4)), Boxed(a), Expression.Constant(subs[0]),
            subs.Length > 1 ? Expression.Constant(subs[1]) : Expression.Constant(null, typeof(Graph))), KindOfLinT(p, subs).ClrType());
        linT.FormatRule = (a, _, p) => $"Loops.Cotangent({string.Join(", ", a)})[{p[3]}]";
        linT.Batched = wh.Batched;
        linT.VmapRule = VmapLoops.PerExample;

        var per = Prims.LoopPerExample;
        per.Foldable = false;
        per.KindRule = (_, _, subs) => subs[0].Outputs[0].Kind == Kind.Static ? Kind.Static : Kind.Tensor;
        per.EmitRule = (a, k, p, subs) => Primitive.Conv(Expression.Call(M(nameof(RunPerExample)), Expression.Constant(p.Get<bool[]>(0)), Boxed(a), Expression.Constant(subs[0])),
            subs[0].Outputs[0].Kind == Kind.Static ? typeof(object) : typeof(Tensor));
        per.FormatRule = (a, _, _) => $"Loops.PerExample({string.Join(", ", a)})";
        per.Batched = wh.Batched;
        per.VmapRule = VmapLoops.NotBatchable;

        foreach (var p in new[] { wh, wt, lin, linT, per }) p.ScanWhileLoop = true;
    }

    /// <summary>A batch of static values (the tapes of a vmapped loop's derivative), one per example.</summary>
    internal sealed record PerExample(object[] Items);

    /// <summary>Runs the one-node graph <paramref name="g"/> once per example (batched operands sliced along axis 0) and stacks the results.</summary>
    internal static object RunPerExample(bool[] batched, object[] a, Graph g)
    {
        int size = 1;
        for (int k = 0; k < a.Length; k++)
            if (batched[k]) size = Math.Max(size, a[k] switch { Tensor t => t.Shape[0], Aval av => av.Dims[0], PerExample p => p.Items.Length, _ => 1 });
        var f = ScanRules.Compile(g);
        var outs = new object[size];
        var args = new object[a.Length];
        for (int b = 0; b < size; b++)
        {
            for (int k = 0; k < a.Length; k++)
                args[k] = !batched[k] ? a[k] : a[k] switch
                {
                    Tensor t => Lax.Unstack(t, 0, t.Shape[0] == 1 ? 0 : b),
                    Aval av => RowAval(av),
                    PerExample p => p.Items[p.Items.Length == 1 ? 0 : b],
                    var other => other,
                };
            outs[b] = f(args)[0];
        }
        return outs[0] switch
        {
            Tensor => Np.Stack(outs.Cast<Tensor>().ToArray(), 0),
            double => Tensor.FromArray(outs.Cast<double>().ToArray(), DType.Float64),
            float => Tensor.FromArray(outs.Cast<float>().ToArray(), DType.Float32),
            _ => new PerExample(outs),
        };
    }

    static Kind KindOfLinT(Params p, Graph[] subs) => p.Get<int[]>(1)[p.Get<int>(3)] == OutSliced ? Kind.Tensor : subs[0].Outputs[p.Get<int>(3)].Kind;

    static string Caps(string[] a, int from) => a.Length > from ? "[" + string.Join(", ", a.Skip(from)) + "]" : "";

    static MethodInfo M(string name) => typeof(ScanWhile).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!;

    static Expression Boxed(Expression[] a) => Expression.NewArrayInit(typeof(object), a.Select(x => Expression.Convert(x, typeof(object))));

    // ------------------------------------------------------------------ emitting the loops as loops
    static Expression EmitWhile(Expression[] a, Kind[] k, Params p, Graph[] subs)
    {
        string src = p.Get<string>(0);
        var t = k[0].ClrType();
        var carry = Expression.Variable(t, "carry");
        var caps = a.Skip(1).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var cond = Writer.InlineBlock(subs[0], [carry, .. caps]);
        var test = subs[0].Outputs[0].Kind switch
        {
            Kind.Bool => cond,
            Kind.Tensor => Expression.Call(M(nameof(Truth)), Primitive.Conv(cond, typeof(Tensor)), Expression.Constant(src)),
            _ => Expression.NotEqual(Primitive.Conv(cond, typeof(double)), Expression.Constant(0.0)),
        };
        var step = Primitive.Conv(Writer.InlineBlock(subs[1], [carry, .. caps]), t);
        var brk = Expression.Label("done");
        var block = new List<Expression> { Expression.Assign(carry, a[0]) };
        block.AddRange(caps.Select((c, j) => Expression.Assign(c, a[1 + j])));
        block.Add(Expression.Loop(Expression.IfThenElse(test,
            Expression.Assign(carry, t == typeof(Tensor) ? Expression.Call(M(nameof(CheckCarry)), step, carry, Expression.Constant(-1), Expression.Constant(src)) : step),
            Expression.Break(brk)), brk));
        block.Add(carry);
        return Expression.Block(t, [carry, .. caps], block);
    }

    // ------------------------------------------------------------------ runtime helpers (also used by the eager API)
    /// <summary>The number of steps of a Scan over <paramref name="xs"/>: its first axis, checked against the given length.</summary>
    public static int Rows(Tensor xs, int length, string src)
    {
        if (xs.Rank == 0)
            throw new ShapeException(src, [xs.Aval], $"xs is a scalar ({xs.Aval}); Np.Scan runs over the first axis of xs, so xs needs rank 1 or more");
        int n = xs.Shape[0];
        if (length >= 0 && length != n)
            throw new ShapeException(src, [xs.Aval], $"the length is {length} but xs has {n} rows ({xs.Aval}); give the number of rows of xs as the length, or leave it out");
        if (n == 0 && length < 0)
            throw new ShapeException(src, [xs.Aval],
                $"Np.Scan over an empty sequence: xs ({xs.Aval}) has no rows and no length was given, so the shape of the stacked ys is not known; " +
                "to scan zero steps on purpose give the length explicitly, Np.Scan(xs, init, body, 0): the final carry is then init and the ys are empty, shaped by the body");
        return n;
    }

    /// <summary>Row <paramref name="i"/> of <paramref name="xs"/> (its first axis removed).</summary>
    public static Tensor Row(Tensor xs, int i) => Lax.Unstack(xs, 0, i);

    static Aval RowAval(Aval a) => new(a.Dims.Skip(1).ToArray(), a.DType, a.Weak, adopt: true);

    /// <summary>Checks that a loop body kept its carry's shape and dtype (iteration -1: unknown, a While).</summary>
    public static Tensor CheckCarry(Tensor next, Tensor prev, int i, string src)
    {
        if (!next.Shape.SequenceEqual(prev.Shape) || next.DType != prev.DType)
            throw new ShapeException($"the body of the loop `{src}`", [prev.Aval, next.Aval],
                $"{(i >= 0 ? $"at iteration {i} " : "")}the body turned a carry of {prev.Aval} into {next.Aval}: a loop body must return a carry of the same shape and dtype as its initial value");
        return next;
    }

    /// <summary>The truth of a While's condition: a rank-0 tensor, true when non-zero.</summary>
    public static bool Truth(Tensor c, string src)
    {
        if (c.Rank != 0)
            throw new ShapeException($"the condition of the loop `{src}`", [c.Aval],
                $"the condition gives a tensor of shape {c.Aval}, not a scalar: a While's condition must give one value (a bool, or a rank-0 tensor, true when non-zero); reduce it, e.g. with Np.Max or Np.Sum");
        return (double)c != 0;
    }

    /// <summary>Stacks the per-step ys of a Scan; with no steps, an empty stack shaped by one run of the body on zeros.</summary>
    public static Tensor StackYs(Tensor[] ys, string src, Graph? body, object[] inputs)
    {
        if (ys.Length == 0 && body is not null)
        {
            var xs = (Tensor)inputs[1];
            var args = inputs.ToArray();
            args[1] = Lax.Zeros(RowAval(xs.Aval));
            var y = (Tensor)ScanRules.Compile(body)(args)[1];
            return Lax.Zeros(new Aval([0, .. y.Aval.Dims], y.DType, y.Aval.Weak, adopt: true));
        }
        if (ys.Length == 0) throw new InvalidOperationException("Internal error: an empty stack with no body.");
        for (int i = 1; i < ys.Length; i++)
            if (!ys[i].Shape.SequenceEqual(ys[0].Shape) || ys[i].DType != ys[0].DType)
                throw new ShapeException($"the body of the loop `{src}`", [ys[0].Aval, ys[i].Aval],
                    $"its y is {ys[0].Aval} at step 0 but {ys[i].Aval} at step {i}: the ys of a Scan are stacked, so every step must give a y of the same shape and dtype");
        return Np.Stack(ys, 0);
    }

    static object ZeroOf(Kind k, Aval a) => k switch
    {
        Kind.Double => 0.0,
        Kind.Float => 0f,
        _ => Lax.Zeros(a),
    };

    static object AddObj(object x, object y) => (x, y) switch
    {
        (double p, double q) => p + q,
        (float p, float q) => p + q,
        (Tensor p, Tensor q) => p + q,
        _ => throw new InvalidOperationException("Internal error: loop accumulator kinds."),
    };

    /// <summary>A Scan's tape: every <see cref="Every"/>-th carry of <see cref="Steps"/> steps.</summary>
    internal sealed record ScanTapeValue(object[] Carries, int Steps, int Every);

    /// <summary>The carries at the start of each trip of a While: as many as it runs.</summary>
    internal static object RunWhileTape(string src, int checkpoint, object[] a, Graph cond, Graph body)
    {
        int every = Math.Max(1, checkpoint);
        int trips = 0;
        var fc = ScanRules.Compile(cond);
        var fb = ScanRules.Compile(body);
        var tape = new List<object>();
        var args = a.ToArray();
        var c = a[0];
        while (true)
        {
            args[0] = c;
            var t = fc(args)[0];
            if (!(t switch { bool bb => bb, Tensor tt => Truth(tt, src), double d => d != 0, float f => f != 0, _ => false })) break;
            if (trips % every == 0) tape.Add(c);
            var next = fb(args)[0];
            c = next is Tensor nt ? CheckCarry(nt, (Tensor)c, trips, src) : next;
            trips++;
        }
        return new ScanTapeValue(tape.ToArray(), trips, every);
    }

    /// <summary>
    /// The carries of every step, rebuilt from a (possibly checkpointed) tape, segment by segment backwards when
    /// <paramref name="backwards"/>: yields (step, carry) with only one segment of carries alive at a time.
    /// </summary>
    static IEnumerable<(int I, object Carry)> Carries(ScanTapeValue tape, object[] a, int[] roles, Graph? carryBody, bool backwards)
    {
        if (tape.Every == 1)
        {
            if (backwards) for (int i = tape.Steps - 1; i >= 0; i--) yield return (i, tape.Carries[i]);
            else for (int i = 0; i < tape.Steps; i++) yield return (i, tape.Carries[i]);
            yield break;
        }
        var cb = carryBody ?? throw new InvalidOperationException("Internal error: a checkpointed tape without its body.");
        var f = ScanRules.Compile(cb);
        // the carry body's inputs are (carry, x, captures...): the first operands of the loop, in order
        var primal = Enumerable.Range(0, cb.Inputs.Length).ToArray();
        int segs = tape.Carries.Length;
        var order = backwards ? Enumerable.Range(0, segs).Reverse() : Enumerable.Range(0, segs);
        foreach (int s in order)
        {
            int start = s * tape.Every, end = Math.Min(tape.Steps, start + tape.Every);
            var seg = new object[end - start];
            var c = tape.Carries[s];
            for (int i = start; i < end; i++)
            {
                seg[i - start] = c;
                if (i + 1 < end)
                {
                    var args = primal.Select(k => roles[k] switch { Tape => c, Sliced => Row((Tensor)a[k], i), _ => a[k] }).ToArray();
                    c = f(args)[0];
                }
            }
            if (backwards) for (int i = end - 1; i >= start; i--) yield return (i, seg[i - start]);
            else for (int i = start; i < end; i++) yield return (i, seg[i - start]);
        }
    }

    /// <summary>The tangent loop: <paramref name="lin"/> maps (operands with the tape's carry, the carry tangent, rows) to (carry tangent', dy?).</summary>
    internal static object RunLoopLin(int[] roles, int which, int unused, object[] a, Graph lin, Graph? carryBody)
    {
        _ = unused;
        var f = ScanRules.Compile(lin);
        var tape = (ScanTapeValue)a[0];
        int n = tape.Steps;
        int carryIdx = Array.IndexOf(roles, CarryT);
        var t = a[carryIdx];
        var ys = which == 1 ? new Tensor[n] : null;
        var args = new object[a.Length];
        foreach (var (i, carry) in Carries(tape, a, roles, carryBody, backwards: false))
        {
            for (int k = 0; k < a.Length; k++)
                args[k] = roles[k] switch { Tape => carry, Sliced => Row((Tensor)a[k], i), CarryT => t, _ => a[k] };
            var outs = f(args);
            t = outs[0];
            if (ys is not null) ys[i] = (Tensor)outs[1];
        }
        if (ys is null) return t;
        if (n > 0) return Np.Stack(ys, 0);
        // no steps: an empty stack shaped by one run of the tangent body on zeros
        for (int k = 0; k < a.Length; k++)
            args[k] = roles[k] switch { Tape => a[carryIdx], Sliced => Lax.Zeros(RowAval(((Tensor)a[k]).Aval)), CarryT => t, _ => a[k] };
        var y = (Tensor)f(args)[1];
        return Lax.Zeros(new Aval([0, .. y.Aval.Dims], y.DType, y.Aval.Weak, adopt: true));
    }

    /// <summary>The transposed tangent loop, run backwards over the tape; returns the cotangent of linear operand <paramref name="outIdx"/>.</summary>
    internal static object RunLoopLinT(int[] inRoles, int[] outRoles, int which, int outIdx, int unused, object[] a, Graph tg, Graph? carryBody)
    {
        _ = unused;
        var f = ScanRules.Compile(tg);
        var tape = (ScanTapeValue)a[0];
        int n = tape.Steps;
        int m = inRoles.Length;
        var ct = a[m];
        var avalPos = Enumerable.Range(0, m).Where(j => inRoles[j] is AvalPlain or AvalSliced or AvalCarry).ToArray();
        object ctCarry = which == 0 ? ct : ZeroOf(tg.Inputs[m].Kind, (Aval)a[Array.IndexOf(inRoles, AvalCarry)]);
        var ctYs = which == 1 ? (Tensor)ct : null;
        var acc = new object?[outRoles.Length];
        var rows = outRoles.Select(r => r == OutSliced ? new Tensor[n] : null).ToArray();
        var args = new object[m + 1 + which];
        foreach (var (i, carry) in Carries(tape, a, inRoles, carryBody, backwards: true))
        {
            for (int j = 0; j < m; j++)
                args[j] = inRoles[j] switch
                {
                    Tape => carry,
                    Sliced => Row((Tensor)a[j], i),
                    AvalSliced => RowAval((Aval)a[j]),
                    _ => a[j],
                };
            args[m] = ctCarry;
            if (ctYs is not null)
            {
                var r = Row(ctYs, i);
                args[m + 1] = tg.Inputs[m + 1].Kind == Kind.Double ? (double)r : r;
            }
            var outs = f(args);
            for (int o = 0; o < outs.Length; o++)
                switch (outRoles[o])
                {
                    case OutCarry: ctCarry = outs[o]; break;
                    case OutSliced: rows[o]![i] = (Tensor)outs[o]; break;
                    default: acc[o] = acc[o] is null ? outs[o] : AddObj(acc[o]!, outs[o]); break;
                }
        }
        var aval = (Aval)a[avalPos[outIdx]];
        return outRoles[outIdx] switch
        {
            OutCarry => ctCarry,
            OutSliced => n == 0 ? Lax.Zeros(aval) : Np.Stack(rows[outIdx]!, 0),
            _ => acc[outIdx] ?? ZeroOf(tg.Outputs[outIdx].Kind, aval),
        };
    }

    // ------------------------------------------------------------------ derivative rules
    static V? WhileJvp(RuleCtx c, V?[] t)
    {
        if (t.All(x => x is null)) return null;
        var body = c.Subs[1];
        int caps = c.X.Length - 1;
        var withT = new bool[body.Inputs.Length];
        withT[0] = true;
        for (int k = 0; k < caps; k++) withT[1 + k] = t[1 + k] is not null;
        var lin = Jvp.Restrict(Jvp.Graph(body, withT), 1);
        int checkpoint = c.P.Count > 1 ? c.P.Get<int>(1) : 1;
        var tape = c.B.Apply(Prims.WhileTape, c.X.Select(x => x.N).ToArray(), c.P, c.Subs);
        var args = new List<Node> { tape };
        var roles = new List<int> { Tape };
        for (int k = 0; k < caps; k++) { args.Add(c.X[1 + k].N); roles.Add(Plain); }
        args.Add(t[0]?.N ?? Jvp.Zero(c.B, c.X[0].N)); roles.Add(CarryT);
        for (int k = 0; k < caps; k++) if (t[1 + k] is { } tk) { args.Add(tk.N); roles.Add(Plain); }
        return new V(c.B.Apply(Prims.LoopLin, args.ToArray(), new Params(roles.ToArray(), 0, checkpoint), checkpoint > 1 ? [lin, body] : [lin]));
    }

    static V?[] LinTranspose(RuleCtx c, V ct)
    {
        var lin = c.Subs[0];
        var roles = c.P.Get<int[]>(0);
        int which = c.P.Get<int>(1), checkpoint = c.P.Get<int>(2);
        var linearIn = new bool[lin.Inputs.Length];
        for (int k = 1; k < c.X.Length; k++) linearIn[k] = c.Linear[k] || roles[k] == CarryT;
        var tg = Transpose.Graph(lin, linearIn, which == 0 ? [true] : [true, true]);
        var args = new List<Node> { c.X[0].N };
        var inRoles = new List<int> { Tape };
        for (int k = 1; k < c.X.Length; k++) if (!linearIn[k]) { args.Add(c.X[k].N); inRoles.Add(roles[k]); }
        var outRoles = new List<int>();
        for (int k = 1; k < c.X.Length; k++)
        {
            if (!linearIn[k]) continue;
            args.Add(c.Aval(k).N);
            inRoles.Add(roles[k] == CarryT ? AvalCarry : roles[k] == Sliced ? AvalSliced : AvalPlain);
            outRoles.Add(roles[k] == CarryT ? OutCarry : roles[k] == Sliced ? OutSliced : OutAcc);
        }
        args.Add(ct.N);
        var result = new V?[c.X.Length];
        int j = 0;
        for (int k = 1; k < c.X.Length; k++)
        {
            if (!linearIn[k]) continue;
            int o = j++;
            if (!c.Linear[k]) continue;
            result[k] = new V(c.B.Apply(Prims.LoopLinT, args.ToArray(), new Params(inRoles.ToArray(), outRoles.ToArray(), which, o, checkpoint),
                c.Subs.Length > 1 ? [tg, c.Subs[1]] : [tg]));
        }
        return result;
    }

    // ------------------------------------------------------------------ shape inference (jit)
    /// <summary>Shape inference of a Scan or While node (its primitive's <see cref="Primitive.AvalRule"/>); operands of unknown shape are <c>null</c>.</summary>
    internal static Aval? InferAval(Node n, Aval?[] args) =>
        (n.Op.AvalRule ?? throw new InvalidOperationException($"Internal error: {n.Op.Name} has no shape rule."))(n, args!);

    /// <summary>Shape inference of a While: the carry keeps its aval.</summary>
    internal static Aval? WhileAval(Node n, Aval?[] args)
    {
        var carry = args[0];
        if (carry is null) return null;
        string src = n.Params.Get<string>(0);
        var caps = args.Skip(1).ToArray();
        var inner = ShapeInference.Run(n.Subgraphs[0], [carry, .. caps]);
        var cond = n.Subgraphs[0].Outputs[0];
        if (cond.Kind == Kind.Tensor && inner[cond] is { Rank: > 0 } ca)
            throw new ShapeException($"the condition of the loop `{src}`", [ca],
                $"the condition gives a tensor of shape {ca}, not a scalar: a While's condition must give one value (a bool, or a rank-0 tensor, true when non-zero); reduce it, e.g. with Np.Max or Np.Sum");
        var nb = ShapeInference.Run(n.Subgraphs[1], [carry, .. caps])[n.Subgraphs[1].Outputs[0]];
        CheckSame(src, carry, nb);
        return carry;
    }

    static void CheckSame(string src, Aval carry, Aval? next)
    {
        if (next is not null && (!next.Dims.SequenceEqual(carry.Dims) || next.DType != carry.DType))
            throw new ShapeException($"the body of the loop `{src}`", [carry, next],
                $"the body turns a carry of {carry} into {next}: a loop body must return a carry of the same shape and dtype as its initial value");
    }
}
