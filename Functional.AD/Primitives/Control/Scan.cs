using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Functional.AD;

/// <summary>The static parameters of a <c>Scan</c> node (see <see cref="ScanRules"/>).</summary>
/// <param name="Carries">How many operands, from the first, are carries.</param>
/// <param name="Xs">How many operands after the carries are sequences scanned along their first axis (the rest are
/// constants: captured values the body reads every step).</param>
/// <param name="Length">The number of steps when known statically (a Fold's n, a Scan's explicit length), else -1: the
/// first axis of the sequences.</param>
/// <param name="Reverse">Steps run from the last to the first (the transpose of a Scan); ys are still stored at their step.</param>
/// <param name="Source">The user's loop, printed as C#, for error messages.</param>
/// <param name="Checkpoint">The user's checkpoint interval (1: keep every carry in reverse mode).</param>
/// <param name="EmptyOk">A Scan made by a transformation: zero steps are fine (the ys are shaped by one run of the
/// body on zeros). A user's Scan over an empty sequence without a length is an error instead.</param>
internal sealed record ScanParams(int Carries, int Xs, int Length, bool Reverse, string Source, int Checkpoint = 1, bool EmptyOk = false);

/// <summary>
/// How many steps the Scans and trips the Whiles run on this thread have made (on the CPU backends: plain
/// <c>Compile()</c> and <c>Ad.Jit</c>), counted once per loop run. Tests read it to see that Vmap of a loop (or of its
/// gradient) runs one batched loop: a loop over the examples would multiply the count by the batch size.
/// </summary>
internal static class LoopRuns
{
    [ThreadStatic] static long scanSteps, whileTrips;

    /// <summary>Steps of Scans run on this thread so far.</summary>
    public static long ScanSteps => scanSteps;
    /// <summary>Trips of Whiles run on this thread so far.</summary>
    public static long WhileTrips => whileTrips;

    /// <summary>Called once by each Scan run, with its number of steps.</summary>
    public static void AddScanSteps(int n) => scanSteps += n;
    /// <summary>Called once by each While run, with its number of trips.</summary>
    public static void AddWhileTrips(int n) => whileTrips += n;
}

/// <summary>
/// The one loop family: <c>Scan</c>. A Scan node's operands are carries, sequences (xs) and constants; its body sub-graph
/// maps <c>(carries..., rows of the xs..., constants...) -&gt; (carries'..., ys...)</c>; its results (a tuple, see
/// <see cref="Tuples"/>) are the final carries then each y stacked along a new first axis. <c>Np.Scan</c> is a Scan
/// with one carry, one sequence and one y; <c>Np.Fold(n, init, body)</c> is a Scan with one carry over
/// <c>Arange(n)</c> (the body reads its row as the double <c>i</c>) and no y.
/// <para>Derivatives are Scans too, so they differentiate again:</para>
/// <list type="bullet">
/// <item>JVP: the rule replaces the primal Scan by one that also emits its carries at the start of each step as extra
/// stacked outputs (the residuals), and gives as tangent a linear Scan over (carry tangents) reading the residual
/// rows, the primal rows and the tangent rows, whose body is the JVP of the body restricted to the tangent outputs.
/// Forward and reverse mode share this form, so both keep one carry per step (n times the carry's size).</item>
/// <item>Transpose (of that linear Scan): a reversed Scan whose carries are the carries' cotangents and accumulators
/// for the cotangents of linear constants, whose xs are the ys' cotangent rows and the non-linear rows, and whose ys are
/// the cotangent rows of the linear sequences; its body is the transpose of the linear body. All cotangents come out
/// of one pass.</item>
/// <item>Vmap: one Scan whose body is batched; a batched sequence is scanned over its axis 1, and batched ys get the
/// batch axis back in front (see <see cref="VmapLoops"/>).</item>
/// </list>
/// </summary>
internal static class ScanRules
{
    public static void Install()
    {
        var scan = Prims.Scan;
        scan.Foldable = false;
        scan.KindRule = (_, _, _) => Kind.Tuple;
        scan.ResultKinds = n => ResultKinds(n.Args.Select(a => a.Kind).ToArray(), n.Params.Get<ScanParams>(0), n.Subgraphs[0]);
        scan.EmitRule = (a, k, p, subs) => Emit(a, k, p.Get<ScanParams>(0), subs[0]);
        scan.FormatRule = (a, _, p) => Format(a, p.Get<ScanParams>(0));
        scan.LambdaCall = (a, lambda, prm) => PublicCall(a, lambda, prm.Get<ScanParams>(0));
        scan.Jvp = ScanJvp;
        scan.Transpose = ScanTranspose;
        scan.Batched = (_, _, _, _) => throw new InvalidOperationException("Internal error: a loop node has no batch count.");
        scan.VmapRule = VmapLoops.Scan;
        scan.TupleAvalRule = (n, a) => Avals(n, a);
        // the body sees its carries, one row of each sequence and its constants
        scan.SubgraphInputAvals = (n, a) => [BodyInputAvals(n.Params.Get<ScanParams>(0), a)];
        scan.AlwaysUnbatched = true;

        var seg = Prims.SegmentAval;
        seg.KindRule = (_, _, _) => Kind.Aval;
        seg.ZeroDerivative = true;
        seg.Batched = (u, a, prm, k) => u.Const(SegmentAvalAt(u.A(a[0]), prm.Get<int>(0), prm.Get<int>(1), k));
        seg.FormatRule = (a, _, p) => $"Lax.SegmentAval({a[0]}, {p[0]}, {p[1]})";
    }

    static string Format(string[] a, ScanParams p)
    {
        var carries = string.Join(", ", a.Take(p.Carries));
        var xs = string.Join(", ", a.Skip(p.Carries).Take(p.Xs));
        var rest = a.Skip(p.Carries + p.Xs).ToArray();
        return $"Loops.Scan{(p.Reverse ? "Reversed" : "")}(carries: ({carries}), xs: ({xs}), body{(rest.Length > 0 ? "[" + string.Join(", ", rest) + "]" : "")}{(p.Length >= 0 ? ", length: " + p.Length : "")})";
    }

    /// <summary>The public spelling: <c>Lax.Scan([carries], [xs], (carries, rows) =&gt; { ... }, length: n, reverse: true)</c>,
    /// the body a lambda that captures the constants.</summary>
    static string PublicCall(string[] a, Func<int, int, string> lambda, ScanParams p)
    {
        var carries = string.Join(", ", a.Take(p.Carries));
        var xs = string.Join(", ", a.Skip(p.Carries).Take(p.Xs));
        return $"Lax.Scan([{carries}], [{xs}], {lambda(0, p.Carries + p.Xs)}{(p.Length >= 0 ? ", length: " + p.Length : "")}{(p.Reverse ? ", reverse: true" : "")})";
    }

    static Kind[] ResultKinds(Kind[] args, ScanParams p, Graph body) =>
        [.. args.Take(p.Carries), .. body.Outputs.Skip(p.Carries).Select(_ => Kind.Tensor)];

    static MethodInfo M(string name) => typeof(ScanRules).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!;

    // ------------------------------------------------------------------ running: an Expression.Loop around the inlined body
    static Expression Emit(Expression[] a, Kind[] k, ScanParams p, Graph body)
    {
        int nc = p.Carries, nx = p.Xs, ny = body.Outputs.Length - nc;
        var carries = Enumerable.Range(0, nc).Select(j => Expression.Variable(k[j].ClrType(), "carry" + j)).ToArray();
        var nexts = Enumerable.Range(0, nc).Select(j => Expression.Variable(k[j].ClrType(), "next" + j)).ToArray();
        var xs = Enumerable.Range(0, nx).Select(j => Expression.Variable(typeof(Tensor), "xs" + j)).ToArray();
        var rows = Enumerable.Range(0, nx).Select(j => Expression.Variable(typeof(Tensor), "x" + j)).ToArray();
        var caps = a.Skip(nc + nx).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var ys = Enumerable.Range(0, ny).Select(j => Expression.Variable(typeof(object[]), "ys" + j)).ToArray();
        var i = Expression.Variable(typeof(int), "i");
        var n = Expression.Variable(typeof(int), "n");
        var src = Expression.Constant(p.Source);

        var (vars, stmts, env) = Writer.Emit(body, [.. carries, .. rows, .. caps]);
        var step = new List<Expression>();
        for (int j = 0; j < nx; j++) step.Add(Expression.Assign(rows[j], Expression.Call(M(nameof(Row)), xs[j], i)));
        step.AddRange(stmts);
        for (int j = 0; j < nc; j++) step.Add(Expression.Assign(nexts[j], Primitive.Conv(env[body.Outputs[j]], carries[j].Type)));
        for (int j = 0; j < ny; j++) step.Add(Expression.Assign(Expression.ArrayAccess(ys[j], i), Expression.Convert(env[body.Outputs[nc + j]], typeof(object))));
        for (int j = 0; j < nc; j++)
            step.Add(Expression.Assign(carries[j], carries[j].Type == typeof(Tensor)
                ? Expression.Call(M(nameof(CheckCarry)), nexts[j], carries[j], i, src)
                : nexts[j]));
        step.Add(p.Reverse ? Expression.PreDecrementAssign(i) : Expression.PreIncrementAssign(i));

        var block = new List<Expression>();
        for (int j = 0; j < nc; j++) block.Add(Expression.Assign(carries[j], Primitive.Conv(a[j], carries[j].Type)));
        for (int j = 0; j < nx; j++) block.Add(Expression.Assign(xs[j], Primitive.Conv(a[nc + j], typeof(Tensor))));
        for (int j = 0; j < caps.Length; j++) block.Add(Expression.Assign(caps[j], a[nc + nx + j]));
        block.Add(Expression.Assign(n, Expression.Call(M(nameof(Steps)), Expression.NewArrayInit(typeof(Tensor), xs), Expression.Constant(p.Length), src, Expression.Constant(p.EmptyOk))));
        block.Add(Expression.Call(typeof(LoopRuns).GetMethod(nameof(LoopRuns.AddScanSteps))!, n));
        foreach (var y in ys) block.Add(Expression.Assign(y, Expression.NewArrayBounds(typeof(object), n)));
        block.Add(Expression.Assign(i, p.Reverse ? Expression.Decrement(n) : Expression.Constant(0)));
        var brk = Expression.Label("done");
        block.Add(Expression.Loop(Expression.IfThenElse(p.Reverse ? Expression.GreaterThanOrEqual(i, Expression.Constant(0)) : Expression.LessThan(i, n),
            Expression.Block(vars, step), Expression.Break(brk)), brk));
        // the operands, for shaping empty ys by one run of the body on zeros
        var operands = Expression.NewArrayInit(typeof(object), [.. carries.Select(c => Expression.Convert(c, typeof(object))), .. xs, .. caps.Select(c => Expression.Convert(c, typeof(object)))]);
        var results = new List<Expression>(carries.Select(c => Expression.Convert(c, typeof(object))));
        for (int j = 0; j < ny; j++)
            results.Add(Expression.Call(M(nameof(StackYs)), ys[j], Expression.Constant(j), Expression.Constant(p), Expression.Constant(body), operands));
        block.Add(Expression.NewArrayInit(typeof(object), results));
        return Expression.Block(typeof(object[]), [.. carries, .. nexts, .. xs, .. rows, .. caps, .. ys, i, n], block);
    }

    // ------------------------------------------------------------------ runtime helpers (also used by the eager API)
    /// <summary>The number of steps: the first axis of the sequences (all equal), checked against a given length.</summary>
    public static int Steps(Tensor[] xs, int length, string src, bool emptyOk)
    {
        if (xs.Length == 0)
            return length >= 0 ? length : throw new InvalidOperationException($"Internal error: a Scan with no sequence and no length ({src}).");
        foreach (var x in xs)
            if (x.Rank == 0)
                throw new ShapeException(src, [x.Aval], $"xs is a scalar ({x.Aval}); Np.Scan runs over the first axis of xs, so xs needs rank 1 or more");
        int n = xs[0].Shape[0];
        foreach (var x in xs)
            if (x.Shape[0] != n)
                throw new ShapeException(src, xs.Select(t => t.Aval).ToArray(), $"the sequences of a Scan have different lengths ({string.Join(", ", xs.Select(t => t.Shape[0]))})");
        if (length >= 0 && length != n)
            throw new ShapeException(src, [xs[0].Aval], $"the length is {length} but xs has {n} rows ({xs[0].Aval}); give the number of rows of xs as the length, or leave it out");
        if (n == 0 && length < 0 && !emptyOk)
            throw new ShapeException(src, [xs[0].Aval],
                $"Np.Scan over an empty sequence: xs ({xs[0].Aval}) has no rows and no length was given, so the shape of the stacked ys is not known; " +
                "to scan zero steps on purpose give the length explicitly, Np.Scan(xs, init, body, 0): the final carry is then init and the ys are empty, shaped by the body");
        return n;
    }

    /// <summary>Row <paramref name="i"/> of <paramref name="xs"/> (its first axis removed).</summary>
    public static Tensor Row(Tensor xs, int i) => Lax.Unstack(xs, 0, i);

    internal static Aval RowAval(Aval a) => new(a.Dims.Skip(1).ToArray(), a.DType, a.Weak, adopt: true);

    /// <summary>Checks that a loop body kept its carry's shape and dtype (iteration -1: unknown, a While).</summary>
    public static Tensor CheckCarry(Tensor next, Tensor prev, int i, string src)
    {
        if (!next.Shape.SequenceEqual(prev.Shape) || next.DType != prev.DType)
            throw new ShapeException($"the body of the loop `{src}`", [prev.Aval, next.Aval],
                $"{(i >= 0 ? $"at iteration {i} " : "")}the body turned a carry of {prev.Aval} into {next.Aval}: a loop body must return a carry of the same shape and dtype as its initial value");
        return next;
    }

    /// <summary>
    /// Stacks y number <paramref name="j"/> of every step (tensors, or doubles and floats as a rank-1 tensor); with no
    /// steps, an empty stack shaped by one run of the body on zeros.
    /// </summary>
    public static Tensor StackYs(object[] ys, int j, ScanParams p, Graph body, object[] operands)
    {
        if (ys.Length == 0)
        {
            var args = operands.ToArray();
            for (int k = 0; k < p.Xs; k++) args[p.Carries + k] = Lax.Zeros(RowAval(((Tensor)operands[p.Carries + k]).Aval));
            var y = Compile(body)(args)[p.Carries + j];
            var a = y switch { Tensor t => t.Aval, float => Aval.ScalarFloat, _ => Aval.ScalarDouble };
            return Lax.Zeros(new Aval([0, .. a.Dims], a.DType, a.Weak, adopt: true));
        }
        return StackRows(ys, p.Source);
    }

    /// <summary>Stacks the rows of a y (tensors of one shape and dtype, or doubles and floats as a rank-1 tensor); at least one row.</summary>
    public static Tensor StackRows(object[] ys, string src)
    {
        switch (ys[0])
        {
            case double: return Tensor.FromArray(ys.Select(y => (double)y).ToArray(), DType.Float64);
            case float: return Tensor.FromArray(ys.Select(y => (float)y).ToArray(), DType.Float32);
        }
        var rows = ys.Cast<Tensor>().ToArray();
        for (int i = 1; i < rows.Length; i++)
            if (!rows[i].Shape.SequenceEqual(rows[0].Shape) || rows[i].DType != rows[0].DType)
                throw new ShapeException($"the body of the loop `{src}`", [rows[0].Aval, rows[i].Aval],
                    $"its y is {rows[0].Aval} at step 0 but {rows[i].Aval} at step {i}: the ys of a loop are stacked, so every step must give a y of the same shape and dtype");
        return Np.Stack(rows, 0);
    }

    static readonly ConditionalWeakTable<Graph, Func<object[], object[]>> compiled = new();

    /// <summary>A sub-graph compiled once to a delegate over boxed inputs and outputs (to run it eagerly).</summary>
    internal static Func<object[], object[]> Compile(Graph g) => compiled.GetValue(g, gg =>
    {
        var arr = Expression.Parameter(typeof(object[]), "args");
        var ins = gg.Inputs.Select((x, j) => (Expression)Expression.Convert(Expression.ArrayIndex(arr, Expression.Constant(j)), x.Kind.ClrType(x.Value as Type))).ToArray();
        var (vars, stmts, env) = Writer.Emit(gg, ins);
        var outs = Expression.NewArrayInit(typeof(object), gg.Outputs.Select(o => Expression.Convert(env[o], typeof(object))));
        return Expression.Lambda<Func<object[], object[]>>(Expression.Block(typeof(object[]), vars, [.. stmts, outs]), arr).Compile();
    });

    // ------------------------------------------------------------------ shape inference (jit, Torch)
    /// <summary>The avals of a Scan's results: the carries keep theirs; each y is stacked to [n, ...y]; <c>null</c> where unknown.</summary>
    internal static Aval?[] Avals(Node node, Aval?[] args)
    {
        args = WithScalarAvals(node, args);
        var p = node.Params.Get<ScanParams>(0);
        var body = node.Subgraphs[0];
        int nc = p.Carries, nx = p.Xs, ny = body.Outputs.Length - nc;
        int? steps = p.Length >= 0 ? p.Length : null;
        for (int j = 0; j < nx; j++)
        {
            if (args[nc + j] is not { } x) continue;
            if (x.Rank == 0 || x.Dims[0] == 0 && p.Length < 0 && !p.EmptyOk || p.Length >= 0 && x.Dims[0] != p.Length || steps is { } s && s != x.Dims[0])
                Steps(args.Skip(nc).Take(nx).Select(a => a is null ? null! : Lax.Zeros(a)).Where(t => t is not null).ToArray(), p.Length, p.Source, p.EmptyOk);   // throws the message of the eager check
            steps = x.Dims[0];
        }
        var inner = ShapeInference.Run(body, BodyInputAvals(p, args));
        var result = new Aval?[nc + ny];
        for (int j = 0; j < nc; j++)
        {
            CheckSame(p.Source, args[j], inner[body.Outputs[j]]);
            result[j] = args[j];
        }
        for (int j = 0; j < ny; j++)
            result[nc + j] = steps is { } n && inner[body.Outputs[nc + j]] is { } y ? new Aval([n, .. y.Dims], y.DType, y.Weak, adopt: true) : null;
        return result;
    }

    /// <summary>What a Scan's body sees from its operands' avals: the carries and constants as they are, one row of each sequence (<c>null</c> where unknown).</summary>
    internal static Aval?[] BodyInputAvals(ScanParams p, Aval?[] args)
    {
        var ins = new Aval?[args.Length];
        for (int i = 0; i < args.Length; i++)
            ins[i] = i >= p.Carries && i < p.Carries + p.Xs ? (args[i] is { Rank: > 0 } x ? RowAval(x) : null) : args[i];
        return ins;
    }

    /// <summary>The operands' avals, a C# scalar's filled in from its kind where a caller left it unknown.</summary>
    internal static Aval?[] WithScalarAvals(Node node, Aval?[] args) =>
        args.Select((a, i) => a ?? node.Args[i].Kind switch { Kind.Double => Aval.ScalarDouble, Kind.Float => Aval.ScalarFloat, _ => null }).ToArray();

    internal static void CheckSame(string src, Aval? carry, Aval? next)
    {
        if (carry is not null && next is not null && (!next.Dims.SequenceEqual(carry.Dims) || next.DType != carry.DType))
            throw new ShapeException($"the body of the loop `{src}`", [carry, next],
                $"the body turns a carry of {carry} into {next}: a loop body must return a carry of the same shape and dtype as its initial value");
    }

    // ------------------------------------------------------------------ JVP: a primal Scan emitting residuals, and a linear Scan reading them
    /// <summary>Which inputs of a loop body get a tangent in its JVP: every carry; a row or constant only where it has one.</summary>
    internal static bool[] TangentMask(Graph body, int nc, V?[] t)
    {
        var withT = new bool[body.Inputs.Length];
        for (int j = 0; j < withT.Length; j++) withT[j] = j < nc || t[j] is not null;
        return withT;
    }

    static V? ScanJvp(RuleCtx c, V?[] t)
    {
        if (t.All(x => x is null)) return null;
        var p = c.P.Get<ScanParams>(0);
        if (p.Checkpoint > 1 && p.Xs > 0) return CheckpointedJvp(c, t);
        var body = c.Subs[0];
        var b = c.B;
        int nc = p.Carries, nx = p.Xs, nk = c.X.Length - nc - nx, ny = body.Outputs.Length - nc;

        // the primal Scan, also emitting the carries at the start of each step (residuals) as stacked ys
        var rb = new Builder();
        var rIns = body.Inputs.Select(i => rb.Input(i.Kind, i.Name, i.Value as Type)).ToArray();
        var rOuts = rb.Inline(body, rIns);
        var withResiduals = rb.Finish([.. rOuts, .. rIns.Take(nc)]);
        var primal = b.Apply(Prims.Scan, c.X.Select(x => x.N).ToArray(), c.P, [withResiduals], 0);
        c.NewAns = primal;
        var residuals = Enumerable.Range(0, nc).Select(j => Tuples.Get(b, primal, nc + ny + j)).ToArray();

        var withT = TangentMask(body, nc, t);
        var jg = Jvp.Graph(body, withT);

        // the linear body: (dcarries, dx rows, residual rows, x rows, constants, dconstants) -> (dcarries', dys)
        var lb = new Builder();
        var dCarry = Enumerable.Range(0, nc).Select(j => lb.Input(body.Inputs[j].Kind, "d" + body.Inputs[j].Name)).ToArray();
        var dxIdx = Enumerable.Range(nc, nx).Where(j => withT[j]).ToArray();
        var dRow = dxIdx.Select(j => lb.Input(Kind.Tensor, "d" + body.Inputs[j].Name)).ToArray();
        var resRow = Enumerable.Range(0, nc).Select(j => lb.Input(Kind.Tensor, body.Inputs[j].Name)).ToArray();
        var xRow = Enumerable.Range(nc, nx).Select(j => lb.Input(Kind.Tensor, body.Inputs[j].Name)).ToArray();
        var cst = Enumerable.Range(nc + nx, nk).Select(j => lb.Input(body.Inputs[j].Kind, body.Inputs[j].Name, body.Inputs[j].Value as Type)).ToArray();
        var dkIdx = Enumerable.Range(nc + nx, nk).Where(j => withT[j]).ToArray();
        var dCst = dkIdx.Select(j => lb.Input(body.Inputs[j].Kind, "d" + body.Inputs[j].Name)).ToArray();
        // a scalar carry's residual row is a rank-0 tensor: read back as the scalar
        var carryVal = Enumerable.Range(0, nc).Select(j => body.Inputs[j].Kind switch
        {
            Kind.Double => lb.Apply(Prims.ToDouble, [resRow[j]]),
            Kind.Float => lb.Apply(Prims.ToFloat, [resRow[j]]),
            _ => resRow[j],
        }).ToArray();
        var jIns = new List<Node>([.. carryVal, .. xRow, .. cst, .. dCarry, .. dRow, .. dCst]);
        var jOuts = lb.Inline(jg, jIns);
        var linBody = lb.Finish(jOuts.Skip(nc + ny).ToArray());

        var ops = new List<Node>();
        for (int j = 0; j < nc; j++) ops.Add(t[j]?.N ?? Jvp.Zero(b, c.X[j].N));
        foreach (var j in dxIdx) ops.Add(t[j]!.N);
        ops.AddRange(residuals);
        for (int j = 0; j < nx; j++) ops.Add(c.X[nc + j].N);
        for (int j = 0; j < nk; j++) ops.Add(c.X[nc + nx + j].N);
        foreach (var j in dkIdx) ops.Add(t[j]!.N);
        var lp = p with { Xs = dxIdx.Length + nc + nx, EmptyOk = true, Checkpoint = 1 };
        return new V(b.Apply(Prims.Scan, ops.ToArray(), new Params(lp), [linBody], 0));
    }

    // ------------------------------------------------------------------ checkpointing: a Scan of Scans
    /// <summary>
    /// The JVP of a Scan with <c>checkpoint: k</c>: the JVP of the same loop written as a Scan over segments of k rows
    /// whose body is a Scan over the segment's rows, followed by a Scan over the n mod k rows left (see
    /// <see cref="Segmented"/>). The outer Scan's residuals are the carries at the start of each segment (n / k of
    /// them); its linear body holds the inner Scan's JVP, which re-runs the segment and keeps its k carries while the
    /// segment's tangent or cotangent is computed. So reverse mode keeps about n/k + k carries, for one more run of the
    /// body per step; the value and the derivatives are those of the plain loop.
    /// </summary>
    static V? CheckpointedJvp(RuleCtx c, V?[] t)
    {
        var g = Segmented(c.X.Select(x => x.N).ToArray(), c.P.Get<ScanParams>(0), c.Subs[0]);
        var (outs, touts) = Jvp.Run(c.B, g, c.X.Select(x => x.N).ToArray(), t);
        c.NewAns = Tuples.Pack(c.B, outs);
        return new V(Tuples.Pack(c.B, touts.Select((tv, i) => tv?.N ?? Jvp.Zero(c.B, outs[i])).ToArray()));
    }

    /// <summary>A graph over the operands of a Scan giving its results, the loop run as segments of <c>p.Checkpoint</c> rows.</summary>
    static Graph Segmented(Node[] operands, ScanParams p, Graph body)
    {
        int k = p.Checkpoint, nc = p.Carries, nx = p.Xs, ny = body.Outputs.Length - nc;
        var plain = p with { Checkpoint = 1, Length = -1, EmptyOk = true };
        var b = new Builder();
        var ins = operands.Select(o => b.Input(o.Kind, o.Name, o.Kind == Kind.Static ? o.Value as Type : null)).ToArray();
        var carries = ins.Take(nc).ToArray();
        var consts = ins.Skip(nc + nx).ToArray();
        var heads = new Node[nx];
        var tails = new Node[nx];
        for (int j = 0; j < nx; j++)
        {
            var x = new V(ins[nc + j]);
            var av = R.AvalOf(x);
            var headA = new V(b.Apply(Prims.SegmentAval, [av.N], new Params(k, 0)));
            var tailA = new V(b.Apply(Prims.SegmentAval, [av.N], new Params(k, 1)));
            var segA = new V(b.Apply(Prims.SegmentAval, [av.N], new Params(k, 2)));
            heads[j] = R.ReshapeTo(R.SplitPart(x, 0, 0, [headA, tailA]), segA).N;
            tails[j] = R.SplitPart(x, 0, 1, [headA, tailA]).N;
        }
        // the outer body: one segment, (carries, segment rows [k, ...], constants) -> (carries', ys of the segment [k, ...])
        var ob = new Builder();
        var oIns = operands.Select((o, i) => ob.Input(i >= nc && i < nc + nx ? Kind.Tensor : o.Kind, o.Name, o.Kind == Kind.Static ? o.Value as Type : null)).ToArray();
        var inner = ob.Apply(Prims.Scan, oIns, new Params(plain), [body], 0);
        var outer = b.Apply(Prims.Scan, [.. carries, .. heads, .. consts], new Params(plain), [ob.Finish(Tuples.Split(ob, inner))], 0);
        var o = Tuples.Split(b, outer);
        var tail = Tuples.Split(b, b.Apply(Prims.Scan, [.. o.Take(nc), .. tails, .. consts], new Params(plain), [body], 0));
        var results = new List<Node>(tail.Take(nc));
        for (int j = 0; j < ny; j++)
        {
            var segYs = new V(o[nc + j]);
            var merged = R.ReshapeTo(segYs, new V(b.Apply(Prims.SegmentAval, [R.AvalOf(segYs).N], new Params(k, 3))));
            results.Add(R.Concatenate([merged, new V(tail[nc + j])], 0).N);
        }
        return b.Finish(results);
    }

    /// <summary>
    /// The avals of the pieces of a sequence of aval <paramref name="a"/> cut into segments of <paramref name="k"/> rows
    /// (n = m k + r): <paramref name="which"/> 0, the head [m k, ...]; 1, the tail [r, ...]; 2, the head as segments
    /// [m, k, ...]; 3, segments [m, k, ...] merged back to [m k, ...].
    /// </summary>
    public static Aval SegmentAval(Aval a, int k, int which) => SegmentAvalAt(a, k, which, 0);

    internal static Aval SegmentAvalAt(Aval a, int k, int which, int batch)
    {
        var lead = a.Dims.Take(batch).ToArray();
        var core = a.Dims.Skip(batch).ToArray();
        int n = core[0], m = n / k, r = n % k;
        int[] dims = which switch
        {
            0 => [m * k, .. core.Skip(1)],
            1 => [r, .. core.Skip(1)],
            2 => [m, k, .. core.Skip(1)],
            _ => [core[0] * core[1], .. core.Skip(2)],
        };
        return new Aval([.. lead, .. dims], a.DType, a.Weak, adopt: true);
    }

    // ------------------------------------------------------------------ transpose: a reversed Scan
    static V?[] ScanTranspose(RuleCtx c, V _)
    {
        var p = c.P.Get<ScanParams>(0);
        var body = c.Subs[0];
        var b = c.B;
        var cts = c.Cts!;
        int nc = p.Carries, nx = p.Xs, nk = c.X.Length - nc - nx, ny = body.Outputs.Length - nc;
        // the carries of a linear Scan are linear (its body is linear in them); rows and constants as their operands are
        var linIn = new bool[body.Inputs.Length];
        for (int j = 0; j < nc; j++) linIn[j] = true;
        for (int j = nc; j < linIn.Length; j++) linIn[j] = c.Linear[j];
        var yKeep = Enumerable.Range(0, ny).Where(j => cts[nc + j] is not null).ToArray();
        var restricted = Jvp.Restrict(body, [.. Enumerable.Range(0, nc), .. yKeep.Select(j => nc + j)]);
        var tg = Transpose.Graph(restricted, linIn, Enumerable.Repeat(true, nc + yKeep.Length).ToArray());
        // tg: (non-linear inputs, an aval per linear input, a cotangent per output) -> a cotangent per linear input

        var xl = Enumerable.Range(nc, nx).Where(j => linIn[j]).ToArray();
        var xn = Enumerable.Range(nc, nx).Where(j => !linIn[j]).ToArray();
        var kl = Enumerable.Range(nc + nx, nk).Where(j => linIn[j]).ToArray();
        var kn = Enumerable.Range(nc + nx, nk).Where(j => !linIn[j]).ToArray();
        if (yKeep.Length + xn.Length == 0 && p.Length < 0)
            throw new InvalidOperationException($"Internal error: the transpose of a Scan with no sequence left ({p.Source}).");

        // the transposed body: (ct carries, accumulators, ct y rows, non-linear rows, non-linear constants, avals) ->
        // (ct carries, accumulators + ct constants, ct rows of the linear sequences)
        var tb = new Builder();
        var ctC = Enumerable.Range(0, nc).Select(j => tb.Input(body.Inputs[j].Kind, "ct" + body.Inputs[j].Name)).ToArray();
        var acc = kl.Select(j => tb.Input(body.Inputs[j].Kind, "acc" + body.Inputs[j].Name)).ToArray();
        var ctY = yKeep.Select(j => tb.Input(Kind.Tensor, "ct_y" + j)).ToArray();
        var xnIn = xn.Select(j => tb.Input(Kind.Tensor, body.Inputs[j].Name)).ToArray();
        var knIn = kn.Select(j => tb.Input(body.Inputs[j].Kind, body.Inputs[j].Name, body.Inputs[j].Value as Type)).ToArray();
        var linear = Enumerable.Range(0, body.Inputs.Length).Where(j => linIn[j]).ToArray();
        var avIn = linear.Select(j => tb.Input(Kind.Aval, "shape_" + body.Inputs[j].Name)).ToArray();
        // a y's cotangent row for a scalar y (a double residual's tangent) is read back as the scalar
        var ctYVal = yKeep.Select((j, q) => restricted.Outputs[nc + q].Kind switch
        {
            Kind.Double => tb.Apply(Prims.ToDouble, [ctY[q]]),
            Kind.Float => tb.Apply(Prims.ToFloat, [ctY[q]]),
            _ => ctY[q],
        }).ToArray();
        var tOuts = tb.Inline(tg, [.. xnIn, .. knIn, .. avIn, .. ctC, .. ctYVal]);
        // tOuts: a cotangent per linear input, in the body's order: carries, linear rows, linear constants
        var outs = new List<Node>();
        outs.AddRange(tOuts.Take(nc));
        for (int q = 0; q < kl.Length; q++) outs.Add((new V(acc[q]) + new V(tOuts[nc + xl.Length + q])).N);
        for (int q = 0; q < xl.Length; q++) outs.Add(tOuts[nc + q]);
        var tBody = tb.Finish(outs);

        V ZeroOf(int k) => c.X[k].Kind switch
        {
            Kind.Double => new V(b.Const(0.0)),
            Kind.Float => new V(b.Const(0f)),
            _ => R.Zeros(c.Aval(k)),
        };
        var ops = new List<Node>();
        for (int j = 0; j < nc; j++) ops.Add(cts[j]?.N ?? ZeroOf(j).N);
        foreach (var j in kl) ops.Add(ZeroOf(j).N);
        foreach (var j in yKeep) ops.Add(cts[nc + j]!.N is var ctn && ctn.Kind == Kind.Tensor ? ctn : R.FromScalar(cts[nc + j]!).N);
        foreach (var j in xn) ops.Add(c.X[j].N);
        foreach (var j in kn) ops.Add(c.X[j].N);
        foreach (var j in linear)
        {
            var av = c.Aval(j).N;
            // a sequence's rows have the aval of the sequence without its first axis
            ops.Add(j >= nc && j < nc + nx ? b.Apply(Prims.InferAval, [av], new Params(Prims.Sum, new Params(0, false), new[] { Kind.Tensor }, 0)) : av);
        }
        var tp = p with { Carries = nc + kl.Length, Xs = yKeep.Length + xn.Length, Reverse = !p.Reverse, EmptyOk = true, Checkpoint = 1 };
        var tr = b.Apply(Prims.Scan, ops.ToArray(), new Params(tp), [tBody], 0);
        var result = new V?[c.X.Length];
        for (int j = 0; j < nc; j++) if (c.Linear[j]) result[j] = new V(Tuples.Get(b, tr, j));
        for (int q = 0; q < kl.Length; q++) if (c.Linear[kl[q]]) result[kl[q]] = new V(Tuples.Get(b, tr, nc + q));
        for (int q = 0; q < xl.Length; q++) if (c.Linear[xl[q]]) result[xl[q]] = new V(Tuples.Get(b, tr, nc + kl.Length + q));
        return result;
    }
}
