using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Functional.AD;

/// <summary>
/// Loops as primitives holding their body as a sub-graph. <c>Fold(init, captures...)</c> (params: n) runs the body
/// <c>(i, carry, captures...) -&gt; carry</c> n times, emitted as an <c>Expression.Loop</c>. Its derivative is made of
/// three internal loops, so that reverse mode is linearize + transpose as everywhere else:
/// <list type="bullet">
/// <item><c>FoldTape</c>: the same loop, keeping the carry at the start of each iteration (the tape: n carries).</item>
/// <item><c>FoldLin</c>: the tangent loop, linear in the tangents, running the JVP of the body over the tape.</item>
/// <item><c>FoldLinT</c>: its transpose, running the transposed body backwards over the tape, accumulating the
/// cotangents of the captured values.</item>
/// </list>
/// Reverse mode thus keeps n carries (n times the carry's size) plus what the transposed body needs per step,
/// recomputed from the taped carry.
/// </summary>
internal static class Loops
{
    public static void Install()
    {
        var fold = Prims.Fold;
        fold.Foldable = false;
        fold.KindRule = (k, _, _) => k[0];
        fold.EmitRule = (a, k, p, subs) => EmitFold(a, k, p.Get<int>(0), subs[0]);
        fold.FormatRule = (a, _, p) => $"NpLoops.Fold({p[0]}, {a[0]}, body{(a.Length > 1 ? "[" + string.Join(", ", a.Skip(1)) + "]" : "")})";
        fold.LambdaCall = (a, lambda, p) => $"Np.Fold({p[0]}, {a[0]}, {lambda(0, 2)})";
        fold.Jvp = FoldJvp;
        fold.Batched = (_, _, _, _) => throw new InvalidOperationException("Internal error: a loop node has no batch count.");
        fold.VmapRule = VmapLoops.Fold;
        fold.AvalRule = FoldAval;

        var tape = Prims.FoldTape;
        tape.Foldable = false;
        tape.KindRule = (_, _, _) => Kind.Static;
        tape.EmitRule = (a, k, p, subs) => Expression.Call(M(nameof(RunTape)), Expression.Constant(p.Get<int>(0)), Boxed(a), Expression.Constant(subs[0]));
        tape.FormatRule = (a, _, p) => $"Loops.Tape({p[0]}, {string.Join(", ", a)})";
        tape.Batched = fold.Batched;
        tape.VmapRule = VmapLoops.PerExample;

        var lin = Prims.FoldLin;
        lin.Foldable = false;
        lin.KindRule = (k, p, _) => k[p.Get<int>(1)];
        lin.EmitRule = (a, k, p, subs) => Primitive.Conv(Expression.Call(M(nameof(RunLin)), Expression.Constant(p.Get<int>(0)), Expression.Constant(p.Get<int>(1)), Boxed(a), Expression.Constant(subs[0])), k[p.Get<int>(1)].ClrType());
        lin.FormatRule = (a, _, p) => $"Loops.Tangent({p[0]}, {string.Join(", ", a)})";
        lin.Transpose = LinTranspose;
        lin.Batched = fold.Batched;
        lin.VmapRule = VmapLoops.PerExample;

        var linT = Prims.FoldLinT;
        linT.Foldable = false;
        linT.KindRule = (_, _, subs) => subs[0].Outputs[0].Kind;   // subs[0] restricted to this output
        linT.EmitRule = (a, k, p, subs) => Primitive.Conv(Expression.Call(M(nameof(RunLinT)), Expression.Constant(p.Get<int>(0)), Expression.Constant(p.Get<int>(1)), Boxed(a), Expression.Constant(subs[1])), subs[0].Outputs[0].Kind.ClrType());
        linT.FormatRule = (a, _, p) => $"Loops.Cotangent({p[0]}, {string.Join(", ", a)})[{p[1]}]";
        linT.Batched = fold.Batched;
        linT.VmapRule = VmapLoops.PerExample;
    }

    static MethodInfo M(string name) => typeof(Loops).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!;

    static Expression Boxed(Expression[] a) => Expression.NewArrayInit(typeof(object), a.Select(x => Expression.Convert(x, typeof(object))));

    static Expression EmitFold(Expression[] a, Kind[] k, int n, Graph body)
    {
        var t = k[0].ClrType();
        var carry = Expression.Variable(t, "carry");
        var i = Expression.Variable(typeof(int), "i");
        var brk = Expression.Label("done");
        var step = Writer.InlineBlock(body, [Expression.Convert(i, typeof(double)), carry, .. a.Skip(1)]);
        return Expression.Block(t, [carry, i],
            Expression.Assign(carry, a[0]),
            Expression.Assign(i, Expression.Constant(0)),
            Expression.Loop(Expression.IfThenElse(Expression.LessThan(i, Expression.Constant(n)),
                Expression.Block(Expression.Assign(carry, Primitive.Conv(step, t)), Expression.PostIncrementAssign(i)),
                Expression.Break(brk)), brk),
            carry);
    }

    /// <summary>Checks that a loop body kept its carry's shape and dtype.</summary>
    internal static Tensor CheckCarry(Tensor next, Tensor prev, int i)
    {
        if (!next.Shape.SequenceEqual(prev.Shape) || next.DType != prev.DType)
            throw new ShapeException("the body of a loop (NpLoops.Fold)", [prev.Aval, next.Aval],
                $"at iteration {i} the body turned a carry of {prev.Aval} into {next.Aval}: a loop body must return a carry of the same shape and dtype");
        return next;
    }

    /// <summary>Shape inference of a Fold (jit): the carry keeps its aval (a batched body may broadcast it once).</summary>
    internal static Aval? FoldAval(Node n, Aval?[] args)
    {
        var carry = args[0];
        if (carry is null) return null;
        var body = n.Subgraphs[0];
        for (int round = 0; round < 2; round++)
        {
            var inner = ShapeInference.Run(body, [Aval.ScalarDouble, carry, .. args.Skip(1)]);
            if (inner[body.Outputs[0]] is not { } next) return null;
            if (next.Equals(carry)) return carry;
            if (round == 1 || n.Batch == 0 && !IsBatchBroadcast(carry, next))
                throw new ShapeException($"the body of the loop `{(n.Source is { } s ? Printer.Expr(s) : "NpLoops.Fold")}`", [carry, next],
                    $"it turns a carry of {carry} into {next}: a loop body must return a carry of the same shape and dtype");
            carry = next;
        }
        return carry;
    }

    static bool IsBatchBroadcast(Aval a, Aval b) => a.Dims.Length == b.Dims.Length && a.Dims.Length > 0 && a.Dims[0] == 1 && a.Dims.Skip(1).SequenceEqual(b.Dims.Skip(1)) && a.DType == b.DType;

    // ------------------------------------------------------------------ running sub-graphs eagerly
    static readonly ConditionalWeakTable<Graph, Func<object[], object[]>> compiled = new();

    internal static Func<object[], object[]> Compile(Graph g) => compiled.GetValue(g, gg =>
    {
        var arr = Expression.Parameter(typeof(object[]), "args");
        var ins = gg.Inputs.Select((x, j) => (Expression)Expression.Convert(Expression.ArrayIndex(arr, Expression.Constant(j)), x.Kind.ClrType(x.Value as Type))).ToArray();
        var (vars, stmts, env) = Writer.Emit(gg, ins);
        var outs = Expression.NewArrayInit(typeof(object), gg.Outputs.Select(o => Expression.Convert(env[o], typeof(object))));
        return Expression.Lambda<Func<object[], object[]>>(Expression.Block(typeof(object[]), vars, [.. stmts, outs]), arr).Compile();
    });

    static object Step(Func<object[], object[]> f, int i, object carry, IEnumerable<object> rest) => f([(double)i, carry, .. rest])[0];

    internal static object RunTape(int n, object[] a, Graph body)
    {
        var f = Compile(body);
        var tape = new object[n];
        var c = a[0];
        for (int i = 0; i < n; i++) { tape[i] = c; c = Step(f, i, c, a.Skip(1)); }
        return tape;
    }

    internal static object RunLin(int n, int carryT, object[] a, Graph linBody)
    {
        // a: tape, captures..., carry tangent (operand carryT), capture tangents...; linBody(i, carry, a[1..]...)
        var f = Compile(linBody);
        var tape = (object[])a[0];
        var rest = a.Skip(1).ToArray();
        var t = rest[carryT - 1];
        for (int i = 0; i < n; i++)
        {
            rest[carryT - 1] = t;
            t = f([(double)i, tape[i], .. rest])[0];
        }
        return t;
    }

    internal static object RunLinT(int n, int which, object[] a, Graph tBody)
    {
        // a: tape, non-linear operands..., avals of linear operands..., ct; tBody(i, carry, non-linear..., avals..., ct) -> cts
        var f = Compile(tBody);
        var tape = (object[])a[0];
        var mid = a.Skip(1).Take(a.Length - 2).ToArray();
        object ct = a[^1];
        var acc = new object?[tBody.Outputs.Length];
        for (int i = n - 1; i >= 0; i--)
        {
            var outs = f([(double)i, tape[i], .. mid, ct]);
            ct = outs[0];
            for (int j = 1; j < outs.Length; j++) acc[j] = acc[j] is null ? outs[j] : AddObj(acc[j]!, outs[j]);
        }
        if (which == 0) return ct;
        return acc[which] ?? throw new InvalidOperationException("Internal error: empty loop accumulator.");
    }

    static object AddObj(object x, object y) => (x, y) switch
    {
        (double p, double q) => p + q,
        (float p, float q) => p + q,
        (Tensor p, Tensor q) => p + q,
        _ => throw new InvalidOperationException("Internal error: loop accumulator kinds."),
    };

    // ------------------------------------------------------------------ rules
    static V? FoldJvp(RuleCtx c, V?[] t)
    {
        if (t.All(x => x is null)) return null;
        var body = c.Subs[0];
        int n = c.P.Get<int>(0);
        int caps = c.X.Length - 1;
        // JVP body: inputs (i, carry, caps..., dcarry, dcaps with a tangent...) -> dcarry'
        var withT = new bool[body.Inputs.Length];
        withT[1] = true;
        for (int k = 0; k < caps; k++) withT[2 + k] = t[1 + k] is not null;
        var jg = Jvp.Graph(body, withT);
        var lin = Jvp.Restrict(jg, 1);
        var tape = c.B.Apply(Prims.FoldTape, c.X.Select(x => x.N).ToArray(), c.P, [body]);
        var args = new List<Node> { tape };
        args.AddRange(c.X.Skip(1).Select(x => x.N));
        args.Add(t[0]?.N ?? Jvp.Zero(c.B, c.X[0].N));
        for (int k = 0; k < caps; k++) if (t[1 + k] is { } tk) args.Add(tk.N);
        return new V(c.B.Apply(Prims.FoldLin, args.ToArray(), new Params(n, 1 + caps), [lin]));
    }

    static V?[] LinTranspose(RuleCtx c, V ct)
    {
        var linBody = c.Subs[0];
        int n = c.P.Get<int>(0);
        int carryT = c.P.Get<int>(1);          // operand index of the carry tangent
        // body inputs: i, carry, then operands 1.. in order
        var linearIn = new bool[linBody.Inputs.Length];
        for (int k = 1; k < c.X.Length; k++) linearIn[k + 1] = c.Linear[k] || k == carryT;
        var tg = Transpose.Graph(linBody, linearIn, [true]);
        // tg inputs: i, carry, non-linear operands..., avals of linear operands..., ct; outputs: ct per linear operand
        var args = new List<Node> { c.X[0].N };
        for (int k = 1; k < c.X.Length; k++) if (!linearIn[k + 1]) args.Add(c.X[k].N);
        for (int k = 1; k < c.X.Length; k++) if (linearIn[k + 1]) args.Add(c.Aval(k).N);
        args.Add(ct.N);
        var result = new V?[c.X.Length];
        int j = 0;
        for (int k = 1; k < c.X.Length; k++)
        {
            if (!linearIn[k + 1]) continue;
            int which = j++;
            if (!c.Linear[k]) continue;
            result[k] = new V(c.B.Apply(Prims.FoldLinT, args.ToArray(), new Params(n, which), [Jvp.Restrict(tg, which), tg]));
        }
        return result;
    }
}
