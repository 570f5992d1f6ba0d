using System.Linq.Expressions;
using TorchSharp;
using TT = TorchSharp.torch.Tensor;

namespace Functional.AD.Torch;

internal sealed partial class TorchCompiler
{
    // Np.Scan and Np.While are lowered as loops on the host around their lowered bodies (not unrolled). A
    // Scan's step count is the first dimension of xs, known at compile time; its ys are stacked on the device. A While
    // reads its condition back to the host once per trip. Their derivative loops (tapes, tangent and transposed loops)
    // are host loops too. Each is the emitter of its primitive's entry in Lowerings.Table.

    static TT RowOf(TT xs, int i) => xs.select(0, i);

    static TT StackRows(TT[] ys) => torch.stack(ys, 0);

    static bool TruthOf(TT c)
    {
        Interlocked.Increment(ref TorchStorage.DeviceToHost);
        return c.to_type(torch.ScalarType.Float64).item<double>() != 0;
    }

    /// <summary>The avals of the results of the multi-result nodes lowered so far (see <c>Tuples</c> in the core), for their <c>Proj</c> nodes.</summary>
    readonly Dictionary<Node, Aval?[]> tupleAvals = new(RefEq<Node>.Instance);

    internal (Expression, Aval?) EmitProj(Node n, Expression[] args)
    {
        var p = n.Params.Get<ProjParams>(0);
        var type = p.Kind == Kind.Tensor ? typeof(TT) : p.Kind.ClrType();
        var e = Expression.Convert(Expression.ArrayIndex(Expression.Convert(args[0], typeof(object[])), Expression.Constant(p.Index)), type);
        return (e, tupleAvals.TryGetValue(n.Args[0], out var avals) ? avals[p.Index] : null);
    }

    internal (Expression, Aval?) EmitPack(Node n, Expression[] args, Aval?[] argAvals)
    {
        tupleAvals[n] = argAvals;
        return (Expression.NewArrayInit(typeof(object), args.Select(a => Expression.Convert(a, typeof(object)))), null);
    }

    static TT StackScalars(object[] ys) => ys[0] is float
        ? torch.tensor(ys.Select(y => (float)y).ToArray())
        : torch.tensor(ys.Select(y => (double)y).ToArray());

    /// <summary>
    /// A Scan (see <c>ScanRules</c> in the core): a loop on the host over the lowered body, forwards or backwards; the step
    /// count is the first dimension of the sequences, known at compile time; each y's rows are stacked on the device.
    /// </summary>
    internal (Expression, Aval?) EmitScanLoop(Node n, Expression[] args, Aval?[] argAvals)
    {
        var p = n.Params.Get<ScanParams>(0);
        var body = n.Subgraphs[0];
        int nc = p.Carries, nx = p.Xs, ny = body.Outputs.Length - nc;
        var outAvals = ScanRules.Avals(n, argAvals);   // the shape checks (carries, empty sequence, length) run here, at compile time
        tupleAvals[n] = outAvals;
        int steps = p.Length >= 0 ? p.Length : nx > 0 && argAvals[nc] is { } xa ? xa.Dims[0]
            : throw new NotSupportedException($"The Torch backend needs the number of steps of `{p.Source}` when it compiles (the sequence's shape is not known).");
        var carries = Enumerable.Range(0, nc).Select(j => Expression.Variable(args[j].Type, "carry" + j)).ToArray();
        var nexts = Enumerable.Range(0, nc).Select(j => Expression.Variable(args[j].Type, "next" + j)).ToArray();
        var xs = Enumerable.Range(0, nx).Select(j => Expression.Variable(typeof(TT), "xs" + j)).ToArray();
        var caps = args.Skip(nc + nx).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var ys = Enumerable.Range(0, ny).Select(j => Expression.Variable(typeof(object[]), "ys" + j)).ToArray();
        var i = Expression.Variable(typeof(int), "i");
        var rowAvals = Enumerable.Range(0, nx).Select(j => argAvals[nc + j] is { } a ? RowAvalOf(a) : null).ToArray();
        var lowered = EmitBody(body, [.. carries, .. xs.Select(x => Row(x, i)), .. caps], [.. argAvals.Take(nc), .. rowAvals, .. argAvals.Skip(nc + nx)]);
        var tail = new List<Expression>();
        for (int j = 0; j < nc; j++) tail.Add(Assign(nexts[j], lowered.Outs[j]));
        for (int j = 0; j < ny; j++) tail.Add(Expression.Assign(Expression.ArrayAccess(ys[j], i), Expression.Convert(lowered.Outs[nc + j], typeof(object))));
        for (int j = 0; j < nc; j++) tail.Add(Expression.Assign(carries[j], nexts[j]));
        var block = new List<Expression>();
        for (int j = 0; j < nc; j++) block.Add(Assign(carries[j], args[j]));
        for (int j = 0; j < nx; j++) block.Add(Assign(xs[j], args[nc + j]));
        for (int j = 0; j < caps.Length; j++) block.Add(Expression.Assign(caps[j], args[nc + nx + j]));
        foreach (var y in ys) block.Add(Expression.Assign(y, Expression.NewArrayBounds(typeof(object), Expression.Constant(steps))));
        block.Add(CountedLoop(i, Expression.Constant(steps), lowered.Then([.. tail]), reverse: p.Reverse));
        var results = new List<Expression>(carries.Select(c => Expression.Convert(c, typeof(object))));
        for (int j = 0; j < ny; j++)
        {
            Expression stacked;
            if (steps == 0) stacked = ZeroOf(typeof(TT), outAvals[nc + j]);
            else if (lowered.Outs[nc + j].Type == typeof(TT)) stacked = Expression.Call(typeof(TorchCompiler).GetMethod(nameof(StackRows), Private)!, Expression.Call(typeof(Enumerable).GetMethod(nameof(Enumerable.ToArray))!.MakeGenericMethod(typeof(TT)), Expression.Call(typeof(Enumerable).GetMethod(nameof(Enumerable.Cast))!.MakeGenericMethod(typeof(TT)), ys[j])));
            else
            {
                var device = backend.Device;
                Func<object[], TT> stack = rows => StackScalars(rows).to(device);
                stacked = Expression.Invoke(Expression.Constant(stack), ys[j]);
            }
            results.Add(Expression.Convert(stacked, typeof(object)));
        }
        block.Add(Expression.NewArrayInit(typeof(object), results));
        return (Expression.Block(typeof(object[]), [.. carries, .. nexts, .. xs, .. caps, .. ys, i], block), null);
    }

    internal (Expression, Aval?) EmitWhileLoop(Node n, Expression[] args, Aval?[] argAvals)
    {
        var carryAval = argAvals[0] ?? throw new NotSupportedException("Internal error: a While carry of unknown shape.");
        ScanWhile.InferAval(n, argAvals);   // the condition must be a scalar, the carry keep its shape: checked at compile time
        var carry = Expression.Variable(args[0].Type, "carry");
        var caps = args.Skip(1).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var condVars = new List<ParameterExpression>();
        var condStmts = new List<Expression>();
        var (co, _) = EmitGraph(n.Subgraphs[0], [carry, .. caps], [carryAval, .. argAvals.Skip(1)], condVars, condStmts);
        Expression test = co[0].Type == typeof(bool) ? co[0]
            : co[0].Type == typeof(TT) ? Expression.Call(typeof(TorchCompiler).GetMethod(nameof(TruthOf), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!, co[0])
            : Expression.NotEqual(Expression.Convert(co[0], typeof(double)), Expression.Constant(0.0));
        var bodyVars = new List<ParameterExpression>();
        var bodyStmts = new List<Expression>();
        var (bo, _) = EmitGraph(n.Subgraphs[1], [carry, .. caps], [carryAval, .. argAvals.Skip(1)], bodyVars, bodyStmts);
        bodyStmts.Add(Expression.Assign(carry, bo[0].Type == carry.Type ? bo[0] : Expression.Convert(bo[0], carry.Type)));
        var brk = Expression.Label("done");
        var block = new List<Expression> { Expression.Assign(carry, args[0]) };
        block.AddRange(caps.Select((c, j) => Expression.Assign(c, args[1 + j])));
        block.Add(Expression.Loop(Expression.IfThenElse(Expression.Block(condVars, [.. condStmts, test]), Expression.Block(bodyVars, bodyStmts), Expression.Break(brk)), brk));
        block.Add(carry);
        return (Expression.Block(carry.Type, [carry, .. caps], block), carryAval);
    }

    // ------------------------------------------------------------------ the derivative loops (see ScanWhile in the core)
    static readonly System.Reflection.BindingFlags Private = System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic;
    static Expression Row(Expression xs, Expression i) => Expression.Call(typeof(TorchCompiler).GetMethod(nameof(RowOf), Private)!, Expression.Convert(xs, typeof(TT)), i);
    static Aval RowAvalOf(Aval a) => new(a.Dims.Skip(1).ToArray(), a.DType, a.Weak);
    static readonly System.Reflection.ConstructorInfo TapeCtor = typeof(ScanWhile.ScanTapeValue).GetConstructor([typeof(object[]), typeof(int), typeof(int)])!;
    static Expression Assign(ParameterExpression v, Expression e) => Expression.Assign(v, e.Type == v.Type ? e : Expression.Convert(e, v.Type));

    Expression ZerosOf(Type type, Aval a)
    {
        if (type == typeof(double)) return Expression.Constant(0.0);
        if (type == typeof(float)) return Expression.Constant(0f);
        var device = backend.Device;
        Func<TT> zeros = () => torch.zeros(Lowerings.Longs(a.Dims), Lowerings.ScalarOf(a.DType), device);
        return Expression.Invoke(Expression.Constant(zeros));
    }

    static Expression Add(Expression a, Expression b)
    {
        if (a.Type != typeof(TT)) return Expression.Add(a, b.Type == a.Type ? b : Expression.Convert(b, a.Type));
        Func<TT, TT, TT> add = (x, y) => x.add(y);
        return Expression.Invoke(Expression.Constant(add), a, Expression.Convert(b, typeof(TT)));
    }

    /// <summary>The carries at the start of each trip of a While, as many as it runs.</summary>
    internal (Expression, Aval?) EmitWhileTape(Node n, Expression[] args, Aval?[] argAvals)
    {
        var carryAval = argAvals[0]!;
        var carry = Expression.Variable(args[0].Type, "carry");
        var list = Expression.Variable(typeof(List<object>), "tape");
        var caps = args.Skip(1).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var condVars = new List<ParameterExpression>();
        var condStmts = new List<Expression>();
        var (co, _) = EmitGraph(n.Subgraphs[0], [carry, .. caps], [carryAval, .. argAvals.Skip(1)], condVars, condStmts);
        Expression test = co[0].Type == typeof(bool) ? co[0]
            : co[0].Type == typeof(TT) ? Expression.Call(typeof(TorchCompiler).GetMethod(nameof(TruthOf), Private)!, co[0])
            : Expression.NotEqual(Expression.Convert(co[0], typeof(double)), Expression.Constant(0.0));
        var bodyVars = new List<ParameterExpression>();
        int every = n.Params.Count > 1 ? Math.Max(1, n.Params.Get<int>(1)) : 1;
        var trips = Expression.Variable(typeof(int), "trips");
        var bodyStmts = new List<Expression>
        {
            Expression.IfThen(Expression.Equal(Expression.Modulo(trips, Expression.Constant(every)), Expression.Constant(0)),
                Expression.Call(list, typeof(List<object>).GetMethod(nameof(List<object>.Add))!, Expression.Convert(carry, typeof(object)))),
            Expression.PostIncrementAssign(trips),
        };
        var (bo, _) = EmitGraph(n.Subgraphs[1], [carry, .. caps], [carryAval, .. argAvals.Skip(1)], bodyVars, bodyStmts);
        bodyStmts.Add(Assign(carry, bo[0]));
        var brk = Expression.Label("done");
        var block = new List<Expression> { Expression.Assign(carry, args[0]), Expression.Assign(list, Expression.New(typeof(List<object>))), Expression.Assign(trips, Expression.Constant(0)) };
        block.AddRange(caps.Select((c, j) => Expression.Assign(c, args[1 + j])));
        block.Add(Expression.Loop(Expression.IfThenElse(Expression.Block(condVars, [.. condStmts, test]), Expression.Block(bodyVars, bodyStmts), Expression.Break(brk)), brk));
        block.Add(Expression.New(TapeCtor, Expression.Call(list, typeof(List<object>).GetMethod(nameof(List<object>.ToArray))!),
            trips, Expression.Constant(every)));
        return (Expression.Block(typeof(ScanWhile.ScanTapeValue), [carry, list, trips, .. caps], block), null);
    }

    /// <summary>
    /// One step of the primal carry body of a checkpointed loop (<c>n.Subgraphs[1]</c>), recomputing a carry the tape
    /// left out: <c>c = body(c, row j of the sliced operand, captures...)</c>. The body's inputs are the loop's first
    /// operands in order (the tape's place taken by the carry), as in the core's <c>ScanWhile.Carries</c>.
    /// </summary>
    Expression CarryStep(Graph cb, int[] roles, ParameterExpression[] ops, Aval?[] argAvals, ParameterExpression c, Aval carryAval, Expression j)
    {
        var ins = new Expression[cb.Inputs.Length];
        var avals = new Aval?[cb.Inputs.Length];
        for (int k = 0; k < ins.Length; k++)
            (ins[k], avals[k]) = roles[k] switch
            {
                ScanWhile.Tape => ((Expression)c, carryAval),
                ScanWhile.Sliced => (Row(ops[k], j), RowAvalOf(argAvals[k]!)),
                _ => (ops[k], argAvals[k]),
            };
        var body = EmitBody(cb, ins, avals);
        return body.Then(Assign(c, body.Outs[0]));
    }

    static Expression CarriesAt(ParameterExpression tape, Expression s) => Expression.ArrayIndex(Expression.Property(tape, "Carries"), s);

    /// <summary>
    /// Before step <paramref name="i"/> of a backwards loop over a checkpointed tape: when <paramref name="i"/> is the last
    /// step of its segment, the segment's carries are recomputed from its checkpoint into <paramref name="seg"/>; then
    /// <paramref name="cur"/> is the carry at the start of step <paramref name="i"/>. Only one segment is alive at a time.
    /// </summary>
    Expression SegmentCarry(Graph cb, int every, int[] roles, ParameterExpression[] ops, Aval?[] argAvals, ParameterExpression tape,
        ParameterExpression i, ParameterExpression seg, ParameterExpression cur, Aval carryAval)
    {
        var c = Expression.Variable(cur.Type, "c");
        var k = Expression.Variable(typeof(int), "k");
        var start = Expression.Variable(typeof(int), "start");
        var count = Expression.Variable(typeof(int), "count");
        var k1 = Expression.Constant(every);
        var refill = Expression.Block(typeof(void), [c, k, start, count],
            Expression.Assign(start, Expression.Multiply(Expression.Divide(i, k1), k1)),
            Expression.Assign(count, Expression.Add(Expression.Subtract(i, start), Expression.Constant(1))),
            Expression.Assign(c, Expression.Convert(CarriesAt(tape, Expression.Divide(i, k1)), c.Type)),
            CountedLoop(k, count, Expression.Block(
                Expression.Assign(Expression.ArrayAccess(seg, k), Expression.Convert(c, typeof(object))),
                Expression.IfThen(Expression.LessThan(k, Expression.Subtract(count, Expression.Constant(1))),
                    CarryStep(cb, roles, ops, argAvals, c, carryAval, Expression.Add(start, k))))));
        var last = Expression.OrElse(Expression.Equal(i, Expression.Subtract(Expression.Property(tape, "Steps"), Expression.Constant(1))),
            Expression.Equal(Expression.Modulo(Expression.Add(i, Expression.Constant(1)), k1), Expression.Constant(0)));
        return Expression.Block(typeof(void),
            Expression.IfThen(last, refill),
            Expression.Assign(cur, Expression.Convert(Expression.ArrayIndex(seg, Expression.Modulo(i, k1)), cur.Type)));
    }

    /// <summary>The tangent loop over the tape (the lowered tangent body, a host loop).</summary>
    internal (Expression, Aval?) EmitLoopLin(Node n, Expression[] args, Aval?[] argAvals)
    {
        var roles = n.Params.Get<int[]>(0);
        int which = n.Params.Get<int>(1);
        bool checkpointed = n.Subgraphs.Length > 1;
        int every = checkpointed ? Math.Max(1, n.Params.Get<int>(2)) : 1;
        int carryIdx = Array.IndexOf(roles, ScanWhile.CarryT);
        var carryAval = argAvals[carryIdx]!;
        var tape = Expression.Variable(typeof(ScanWhile.ScanTapeValue), "tape");
        var t = Expression.Variable(args[carryIdx].Type, "dcarry");
        var i = Expression.Variable(typeof(int), "i");
        var steps = Expression.Variable(typeof(int), "steps");
        var ys = Expression.Variable(typeof(TT[]), "dys");
        var ops = args.Select((e, k) => Expression.Variable(e.Type, "op" + k)).ToArray();
        var cur = Expression.Variable(t.Type, "cur");
        var ins = new Expression[args.Length];
        var inAvals = new Aval?[args.Length];
        for (int k = 0; k < args.Length; k++)
        {
            (ins[k], inAvals[k]) = roles[k] switch
            {
                ScanWhile.Tape => checkpointed ? (cur, carryAval) : ((Expression)Expression.Convert(Expression.ArrayIndex(Expression.Property(tape, "Carries"), i), t.Type), carryAval),
                ScanWhile.Sliced => (Row(ops[k], i), RowAvalOf(argAvals[k]!)),
                ScanWhile.CarryT => (t, carryAval),
                _ => (ops[k], argAvals[k]),
            };
        }
        var vars = new List<ParameterExpression>();
        var stmts = new List<Expression>();
        // checkpointed: the carry of step i is the tape's at a checkpoint, else one step of the primal body from step i - 1's
        if (checkpointed)
            stmts.Add(Expression.IfThenElse(Expression.Equal(Expression.Modulo(i, Expression.Constant(every)), Expression.Constant(0)),
                Expression.Assign(cur, Expression.Convert(CarriesAt(tape, Expression.Divide(i, Expression.Constant(every))), cur.Type)),
                CarryStep(n.Subgraphs[1], roles, ops, argAvals, cur, carryAval, Expression.Subtract(i, Expression.Constant(1)))));
        var (o, a) = EmitGraph(n.Subgraphs[0], ins, inAvals, vars, stmts);
        stmts.Add(Assign(t, o[0]));
        if (which == 1) stmts.Add(Expression.Assign(Expression.ArrayAccess(ys, i), Expression.Convert(o[1], typeof(TT))));
        stmts.Add(Expression.PostIncrementAssign(i));
        var brk = Expression.Label("done");
        var block = new List<Expression>();
        block.AddRange(ops.Select((v, k) => Expression.Assign(v, args[k])));
        block.Add(Expression.Assign(tape, Expression.Convert(ops[0], typeof(ScanWhile.ScanTapeValue))));
        block.Add(Expression.Assign(steps, Expression.Property(tape, "Steps")));
        block.Add(Expression.Assign(t, ops[carryIdx]));
        block.Add(Expression.Assign(i, Expression.Constant(0)));
        if (which == 1) block.Add(Expression.Assign(ys, Expression.NewArrayBounds(typeof(TT), steps)));
        block.Add(Expression.Loop(Expression.IfThenElse(Expression.LessThan(i, steps), Expression.Block(vars, stmts), Expression.Break(brk)), brk));
        if (which == 0)
        {
            block.Add(t);
            return (Expression.Block(t.Type, [tape, t, i, steps, ys, cur, .. ops], block), carryAval);
        }
        // the stacked tangents of the ys: [rows, ...dy], the rows those of the sliced sequence
        int rows = argAvals[Array.IndexOf(roles, ScanWhile.Sliced)]!.Dims[0];
        var dy = a[1]!;
        var outAval = new Aval([rows, .. dy.Dims], dy.DType, dy.Weak);
        block.Add(rows > 0 ? Expression.Call(typeof(TorchCompiler).GetMethod(nameof(StackRows), Private)!, ys) : ZerosOf(typeof(TT), outAval));
        return (Expression.Block(typeof(TT), [tape, t, i, steps, ys, cur, .. ops], block), outAval);
    }

    /// <summary>The transposed tangent loop, backwards over the tape: the cotangent of one linear operand.</summary>
    internal (Expression, Aval?) EmitLoopLinT(Node n, Expression[] args, Aval?[] argAvals)
    {
        var inRoles = n.Params.Get<int[]>(0);
        bool checkpointed = n.Subgraphs.Length > 1;
        int every = checkpointed ? Math.Max(1, n.Params.Get<int>(4)) : 1;
        var outRoles = n.Params.Get<int[]>(1);
        int which = n.Params.Get<int>(2), outIdx = n.Params.Get<int>(3);
        int m = inRoles.Length;
        var avalPos = Enumerable.Range(0, m).Where(j => inRoles[j] is ScanWhile.AvalPlain or ScanWhile.AvalSliced or ScanWhile.AvalCarry).ToArray();
        int carryOut = Array.IndexOf(outRoles, ScanWhile.OutCarry);
        var carryAval = argAvals[Array.IndexOf(inRoles, ScanWhile.AvalCarry)]!;
        var outAval = argAvals[avalPos[outIdx]]!;
        // only the threaded carry cotangent and the wanted output are computed
        var keep = outIdx == carryOut ? new[] { carryOut } : new[] { carryOut, outIdx };
        var tg = Jvp.Restrict(n.Subgraphs[0], keep);
        var carryType = n.Subgraphs[0].Inputs[0].Kind == Kind.Tensor ? typeof(TT) : n.Subgraphs[0].Inputs[0].Kind.ClrType();
        var ctType = n.Subgraphs[0].Outputs[carryOut].Kind == Kind.Tensor ? typeof(TT) : n.Subgraphs[0].Outputs[carryOut].Kind.ClrType();
        var resultType = outRoles[outIdx] == ScanWhile.OutSliced || n.Subgraphs[0].Outputs[outIdx].Kind == Kind.Tensor ? typeof(TT) : n.Subgraphs[0].Outputs[outIdx].Kind.ClrType();
        var tape = Expression.Variable(typeof(ScanWhile.ScanTapeValue), "tape");
        var i = Expression.Variable(typeof(int), "i");
        var ctCarry = Expression.Variable(ctType, "ctCarry");
        var acc = Expression.Variable(resultType, "acc");
        var rows = Expression.Variable(typeof(TT[]), "rows");
        var ops = args.Select((e, k) => Expression.Variable(e.Type, "op" + k)).ToArray();
        var cur = Expression.Variable(carryType, "cur");
        var seg = Expression.Variable(typeof(object[]), "seg");
        var ins = new List<Expression>();
        var inAvals = new List<Aval?>();
        for (int j = 0; j < m; j++)
        {
            var (e, av) = inRoles[j] switch
            {
                ScanWhile.Tape => checkpointed ? (cur, carryAval) : ((Expression)Expression.Convert(Expression.ArrayIndex(Expression.Property(tape, "Carries"), i), carryType), carryAval),
                ScanWhile.Sliced => (Row(ops[j], i), RowAvalOf(argAvals[j]!)),
                ScanWhile.AvalSliced => (Expression.Constant(RowAvalOf(argAvals[j]!), typeof(Aval)), RowAvalOf(argAvals[j]!)),
                _ => (ops[j], argAvals[j]),
            };
            ins.Add(e); inAvals.Add(av);
        }
        ins.Add(ctCarry); inAvals.Add(carryAval);
        if (which == 1) { ins.Add(Row(ops[m], i)); inAvals.Add(RowAvalOf(argAvals[m]!)); }
        var vars = new List<ParameterExpression>();
        var stmts = new List<Expression>();
        if (checkpointed) stmts.Add(SegmentCarry(n.Subgraphs[1], every, inRoles, ops, argAvals, tape, i, seg, cur, carryAval));
        var (o, _) = EmitGraph(tg, ins.ToArray(), inAvals.ToArray(), vars, stmts);
        var own = outIdx == carryOut ? null : o[1];
        if (own is not null)
            stmts.Add(outRoles[outIdx] == ScanWhile.OutSliced
                ? Expression.Assign(Expression.ArrayAccess(rows, i), Expression.Convert(own, typeof(TT)))
                : Expression.Assign(acc, Add(acc, own)));
        stmts.Add(Assign(ctCarry, o[0]));
        stmts.Add(Expression.PostDecrementAssign(i));
        var brk = Expression.Label("done");
        var block = new List<Expression>();
        block.AddRange(ops.Select((v, k) => Expression.Assign(v, args[k])));
        block.Add(Expression.Assign(tape, Expression.Convert(ops[0], typeof(ScanWhile.ScanTapeValue))));
        block.Add(Expression.Assign(ctCarry, which == 0 ? Expression.Convert(ops[m], ctType) : ZerosOf(ctType, carryAval)));
        if (outRoles[outIdx] == ScanWhile.OutAcc) block.Add(Expression.Assign(acc, ZerosOf(resultType, outAval)));
        if (outRoles[outIdx] == ScanWhile.OutSliced) block.Add(Expression.Assign(rows, Expression.NewArrayBounds(typeof(TT), Expression.Property(tape, "Steps"))));
        if (checkpointed) block.Add(Expression.Assign(seg, Expression.NewArrayBounds(typeof(object), Expression.Constant(every))));
        block.Add(Expression.Assign(i, Expression.Subtract(Expression.Property(tape, "Steps"), Expression.Constant(1))));
        block.Add(Expression.Loop(Expression.IfThenElse(Expression.GreaterThanOrEqual(i, Expression.Constant(0)), Expression.Block(vars, stmts), Expression.Break(brk)), brk));
        block.Add(outRoles[outIdx] switch
        {
            ScanWhile.OutCarry => ctCarry,
            ScanWhile.OutSliced => outAval.Dims[0] > 0 ? Expression.Call(typeof(TorchCompiler).GetMethod(nameof(StackRows), Private)!, rows) : ZerosOf(typeof(TT), outAval),
            _ => acc,
        });
        var type = outRoles[outIdx] == ScanWhile.OutCarry ? ctType : resultType;
        return (Expression.Block(type, [tape, i, ctCarry, acc, rows, cur, seg, .. ops], block), outAval);
    }
}
