using System.Linq.Expressions;
using System.Reflection;

namespace Functional.AD;

/// <summary>The static parameters of a <c>While</c> node (see <see cref="WhileRules"/>).</summary>
/// <param name="Carries">How many operands, from the first, are carries (the rest are constants the condition and body read).</param>
/// <param name="Source">The user's loop, printed as C#, for error messages.</param>
/// <param name="Checkpoint">The user's checkpoint interval: the derivative runs segments of this many trips (1: keep the carry of every trip).</param>
internal sealed record WhileParams(int Carries, string Source, int Checkpoint = 1);

/// <summary>
/// <c>While</c>: operands are carries then constants; sub-graphs the condition <c>(carries..., constants...) -&gt; test</c>
/// (a bool, or a scalar: true when non-zero) and the body <c>(carries..., constants...) -&gt; (carries'..., ys...)</c>;
/// results (a tuple, see <see cref="Tuples"/>) the final carries then each y stacked over the trips that ran. The number
/// of trips is decided by the data, so the stacked ys have a length known only when the loop has run: the dynamic-length
/// stack. <c>Np.While</c> is a While with one carry and no y; the ys appear in its derivatives.
/// <para>Derivatives (the choice for the data-dependent trip count: a dynamic-length stack, no <c>maxTrips</c> bound):</para>
/// <list type="bullet">
/// <item>JVP: the rule replaces the While by one whose body also emits, each trip, the carries at its start and a
/// <c>valid</c> flag (the condition, 1 or 0) as stacked ys, and gives as tangent a linear Scan over those rows
/// (see <see cref="ScanRules"/>): <c>dcarry' = valid ? J(carry) dcarry : dcarry</c>. So reverse mode keeps one carry
/// per trip that ran, however many that is, and the tangent, its transpose (a reversed Scan) and their derivatives are
/// Scans. The flag is 1 on every row of an unbatched loop; under Vmap, where the loop runs until every example is done,
/// it is 0 on the rows of an example that had finished, so its tangent stays put there.</item>
/// <item>Vmap: one While whose condition and body are batched; with a batched condition it runs until every example is
/// done, a finished example keeping its carries (<c>Np.Where</c>, JAX's rule); see <see cref="VmapLoops"/>.</item>
/// </list>
/// Shape inference knows the carries' avals but not the stacked ys' (their length is the trip count): the CPU jit runs
/// what reads them eagerly, and the Torch compiler keeps their row avals and reads the length at run time.
/// </summary>
internal static class WhileRules
{
    public static void Install()
    {
        var wh = Prims.While;
        wh.Foldable = false;
        wh.KindRule = (_, _, _) => Kind.Tuple;
        wh.ResultKinds = n => [.. n.Args.Take(n.Params.Get<WhileParams>(0).Carries).Select(a => a.Kind), .. n.Subgraphs[1].Outputs.Skip(n.Params.Get<WhileParams>(0).Carries).Select(_ => Kind.Tensor)];
        wh.EmitRule = (a, k, p, subs) => Emit(a, k, p.Get<WhileParams>(0), subs[0], subs[1]);
        wh.FormatRule = (a, _, p) => Format(a, p.Get<WhileParams>(0));
        // the public spelling: Lax.While([carries], (carries) => cond, (carries) => { ... }), the lambdas capturing the constants
        wh.LambdaCall = (a, lambda, prm) =>
        {
            int nc = prm.Get<WhileParams>(0).Carries;
            return $"Lax.While([{string.Join(", ", a.Take(nc))}], {lambda(0, nc)}, {lambda(1, nc)})";
        };
        wh.Jvp = WhileJvp;
        wh.Batched = (_, _, _, _) => throw new InvalidOperationException("Internal error: a loop node has no batch count.");
        wh.VmapRule = VmapLoops.While;
        wh.TupleAvalRule = (n, a) => Avals(n, a);
        // the condition and the body see the carries and constants
        wh.SubgraphInputAvals = (_, a) => [a, a];
        wh.AlwaysUnbatched = true;
    }

    /// <summary>Whether <c>Np.<paramref name="name"/></c> is a loop combinator read by <c>Reader.ReadLoop</c>.</summary>
    public static bool IsLoopMethod(string name) => name is nameof(Np.Scan) or nameof(Np.While) or nameof(Np.Fold);

    static string Format(string[] a, WhileParams p)
    {
        var rest = a.Skip(p.Carries).ToArray();
        return $"Loops.While(cond, body{(rest.Length > 0 ? "[" + string.Join(", ", rest) + "]" : "")}, {string.Join(", ", a.Take(p.Carries))})";
    }

    static MethodInfo M(string name) => typeof(WhileRules).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)!;

    // ------------------------------------------------------------------ running: an Expression.Loop around the inlined condition and body
    static Expression Emit(Expression[] a, Kind[] k, WhileParams p, Graph cond, Graph body)
    {
        int nc = p.Carries, ny = body.Outputs.Length - nc;
        var src = Expression.Constant(p.Source);
        var carries = Enumerable.Range(0, nc).Select(j => Expression.Variable(k[j].ClrType(), "carry" + j)).ToArray();
        var nexts = Enumerable.Range(0, nc).Select(j => Expression.Variable(k[j].ClrType(), "next" + j)).ToArray();
        var caps = a.Skip(nc).Select((e, j) => Expression.Variable(e.Type, "cap" + j)).ToArray();
        var ys = Enumerable.Range(0, ny).Select(j => Expression.Variable(typeof(List<object>), "ys" + j)).ToArray();
        var trip = Expression.Variable(typeof(int), "trip");
        var (cv, cs, cenv) = Writer.Emit(cond, [.. carries, .. caps]);
        var c = cenv[cond.Outputs[0]];
        Expression truth = cond.Outputs[0].Kind switch
        {
            Kind.Bool => c,
            Kind.Tensor => Expression.Call(M(nameof(Truth)), Primitive.Conv(c, typeof(Tensor)), src),
            Kind.Float => Expression.NotEqual(Primitive.Conv(c, typeof(float)), Expression.Constant(0f)),
            _ => Expression.NotEqual(Primitive.Conv(c, typeof(double)), Expression.Constant(0.0)),
        };
        var test = Expression.Block(typeof(bool), cv, [.. cs, truth]);
        var (bv, bs, benv) = Writer.Emit(body, [.. carries, .. caps]);
        var step = new List<Expression>(bs);
        for (int j = 0; j < nc; j++) step.Add(Expression.Assign(nexts[j], Primitive.Conv(benv[body.Outputs[j]], carries[j].Type)));
        for (int j = 0; j < ny; j++) step.Add(Expression.Call(ys[j], typeof(List<object>).GetMethod(nameof(List<object>.Add))!, Expression.Convert(benv[body.Outputs[nc + j]], typeof(object))));
        for (int j = 0; j < nc; j++)
            step.Add(Expression.Assign(carries[j], carries[j].Type == typeof(Tensor) ? Expression.Call(typeof(ScanRules).GetMethod(nameof(ScanRules.CheckCarry))!, nexts[j], carries[j], trip, src) : nexts[j]));
        step.Add(Expression.PreIncrementAssign(trip));
        var block = new List<Expression>();
        for (int j = 0; j < nc; j++) block.Add(Expression.Assign(carries[j], Primitive.Conv(a[j], carries[j].Type)));
        for (int j = 0; j < caps.Length; j++) block.Add(Expression.Assign(caps[j], a[nc + j]));
        foreach (var y in ys) block.Add(Expression.Assign(y, Expression.New(typeof(List<object>))));
        block.Add(Expression.Assign(trip, Expression.Constant(0)));
        var brk = Expression.Label("done");
        block.Add(Expression.Loop(Expression.IfThenElse(test, Expression.Block(bv, step), Expression.Break(brk)), brk));
        block.Add(Expression.Call(typeof(LoopRuns).GetMethod(nameof(LoopRuns.AddWhileTrips))!, trip));
        var operands = Expression.NewArrayInit(typeof(object), [.. carries.Select(x => Expression.Convert(x, typeof(object))), .. caps.Select(x => Expression.Convert(x, typeof(object)))]);
        var results = new List<Expression>(carries.Select(x => Expression.Convert(x, typeof(object))));
        for (int j = 0; j < ny; j++)
            results.Add(Expression.Call(M(nameof(StackTrips)), ys[j], Expression.Constant(nc + j), src, Expression.Constant(body), operands));
        block.Add(Expression.NewArrayInit(typeof(object), results));
        return Expression.Block(typeof(object[]), [.. carries, .. nexts, .. caps, .. ys, trip], block);
    }

    /// <summary>The truth of a While's condition: a rank-0 tensor, true when non-zero.</summary>
    public static bool Truth(Tensor c, string src)
    {
        if (c.Rank != 0)
            throw new ShapeException($"the condition of the loop `{src}`", [c.Aval],
                $"the condition gives a tensor of shape {c.Aval}, not a scalar: a While's condition must give one value (a bool, or a rank-0 tensor, true when non-zero); reduce it, e.g. with Np.Max or Np.Sum");
        return (double)c != 0;
    }

    /// <summary>A y stacked over the trips that ran; with none, an empty stack shaped by one run of the body on the final carries.</summary>
    public static Tensor StackTrips(List<object> ys, int output, string src, Graph body, object[] operands)
    {
        if (ys.Count > 0) return ScanRules.StackRows(ys.ToArray(), src);
        var y = ScanRules.Compile(body)(operands)[output];
        var a = y switch { Tensor t => t.Aval, float => Aval.ScalarFloat, _ => Aval.ScalarDouble };
        return Lax.Zeros(new Aval([0, .. a.Dims], a.DType, a.Weak, adopt: true));
    }

    // ------------------------------------------------------------------ shape inference
    /// <summary>The avals of a While's results: the carries keep theirs (checked); the stacked ys' length is not known before it runs.</summary>
    internal static Aval?[] Avals(Node n, Aval?[] args)
    {
        args = ScanRules.WithScalarAvals(n, args);
        var p = n.Params.Get<WhileParams>(0);
        var cond = n.Subgraphs[0];
        var body = n.Subgraphs[1];
        var ci = ShapeInference.Run(cond, args);
        if (cond.Outputs[0].Kind == Kind.Tensor && ci[cond.Outputs[0]] is { Rank: > 0 } ca)
            throw new ShapeException($"the condition of the loop `{p.Source}`", [ca],
                $"the condition gives a tensor of shape {ca}, not a scalar: a While's condition must give one value (a bool, or a rank-0 tensor, true when non-zero); reduce it, e.g. with Np.Max or Np.Sum");
        var bi = ShapeInference.Run(body, args);
        var result = new Aval?[body.Outputs.Length];
        for (int j = 0; j < p.Carries; j++)
        {
            ScanRules.CheckSame(p.Source, args[j], bi[body.Outputs[j]]);
            result[j] = args[j];
        }
        return result;
    }

    /// <summary>The avals of one row of each stacked y of a While (what the Torch compiler needs to lower the loops that read them).</summary>
    internal static Aval?[] RowAvals(Node n, Aval?[] args)
    {
        args = ScanRules.WithScalarAvals(n, args);
        var body = n.Subgraphs[1];
        var bi = ShapeInference.Run(body, args);
        return body.Outputs.Skip(n.Params.Get<WhileParams>(0).Carries).Select(o => o.Kind switch
        {
            Kind.Double => Aval.ScalarDouble,
            Kind.Float => Aval.ScalarFloat,
            _ => bi[o],
        }).ToArray();
    }

    // ------------------------------------------------------------------ checkpointing: a While of segments
    /// <summary>
    /// The JVP of a While with <c>checkpoint: k</c>: the JVP of the same loop written as a While whose body runs a
    /// segment of up to k trips, a Scan of k steps each of which applies the body only while the condition holds
    /// (<c>go ? body(c) : c</c>). The outer While's residuals are the carries at the starts of the segments (about
    /// n/k); its linear Scan's body holds the inner Scan's JVP, which re-runs the segment and keeps its k carries only
    /// while that segment's tangent or cotangent is computed. The trips past the end of the loop inside the last
    /// segment run the body on a carry they then discard (its derivative there is masked, as <c>Np.Where</c>'s is).
    /// </summary>
    static V? CheckpointedJvp(RuleCtx c, V?[] t)
    {
        var g = Segmented(c.X.Select(x => x.N).ToArray(), c.P.Get<WhileParams>(0), c.Subs[0], c.Subs[1]);
        var (outs, touts) = Jvp.Run(c.B, g, c.X.Select(x => x.N).ToArray(), t);
        c.NewAns = Tuples.Pack(c.B, outs);
        return new V(Tuples.Pack(c.B, touts.Select((tv, i) => tv?.N ?? Jvp.Zero(c.B, outs[i])).ToArray()));
    }

    /// <summary>A graph over the operands of a While (no ys) giving its carries, the loop run as segments of <c>p.Checkpoint</c> trips.</summary>
    static Graph Segmented(Node[] operands, WhileParams p, Graph cond, Graph body)
    {
        int k = p.Checkpoint, nc = p.Carries;
        // one guarded trip: (carries, row, constants) -> cond ? body : carries
        var sb = new Builder();
        var ins = operands.Select(o => sb.Input(o.Kind, o.Name, o.Kind == Kind.Static ? o.Value as Type : null)).ToArray();
        sb.Input(Kind.Tensor, "i");   // the row of the Scan: unused
        var go = sb.Inline(cond, ins)[0];
        go = go.Kind switch
        {
            Kind.Double => sb.Apply(Prims.NotEqual, [go, sb.Const(0.0)]),
            Kind.Float => sb.Apply(Prims.NotEqual, [go, sb.Const(0f)]),
            _ => go,
        };
        var next = sb.Inline(body, ins);
        var guarded = Enumerable.Range(0, nc).Select(j => sb.Apply(Prims.Where, [go, next[j], ins[j]])).ToArray();
        // a scalar carry under a tensor condition comes back as a rank-0 tensor: read it back as the scalar
        for (int j = 0; j < nc; j++)
            if (guarded[j].Kind != ins[j].Kind)
                guarded[j] = sb.Apply(ins[j].Kind == Kind.Float ? Prims.ToFloat : Prims.ToDouble, [guarded[j]]);
        // the step's inputs in a Scan's order: carries, the row (unused), constants
        var guardedGraph = sb.Finish(guarded);
        var reordered = new Builder();
        var rc = Enumerable.Range(0, nc).Select(j => reordered.Input(operands[j].Kind, operands[j].Name)).ToArray();
        var rr = reordered.Input(Kind.Tensor, "i");
        var rk = operands.Skip(nc).Select(o => reordered.Input(o.Kind, o.Name, o.Kind == Kind.Static ? o.Value as Type : null)).ToArray();
        var stepGraph = reordered.Finish(reordered.Inline(guardedGraph, [.. rc, .. rk, rr]));
        // the segment: a Scan of k guarded trips, as the body of the outer While
        var segB = new Builder();
        var segIns = operands.Select(o => segB.Input(o.Kind, o.Name, o.Kind == Kind.Static ? o.Value as Type : null)).ToArray();
        var steps = segB.Const(Tensor.FromArray(Enumerable.Range(0, k).Select(i => (double)i).ToArray(), DType.Float64));
        var seg = segB.Apply(Prims.Scan, [.. segIns.Take(nc), steps, .. segIns.Skip(nc)], new Params(new ScanParams(nc, 1, k, false, p.Source)), [stepGraph], 0);
        var segGraph = segB.Finish(Tuples.Split(segB, seg));
        var b = new Builder();
        var bIns = operands.Select(o => b.Input(o.Kind, o.Name, o.Kind == Kind.Static ? o.Value as Type : null)).ToArray();
        var outer = b.Apply(Prims.While, bIns, new Params(p with { Checkpoint = 1 }), [cond, segGraph], 0);
        return b.Finish(Tuples.Split(b, outer));
    }

    // ------------------------------------------------------------------ JVP: a While emitting residuals and valid flags, and a linear Scan reading them
    static V? WhileJvp(RuleCtx c, V?[] t)
    {
        if (t.All(x => x is null)) return null;
        var p = c.P.Get<WhileParams>(0);
        var cond = c.Subs[0];
        var body = c.Subs[1];
        var b = c.B;
        int nc = p.Carries, nk = c.X.Length - nc, ny = body.Outputs.Length - nc;
        if (p.Checkpoint > 1 && ny == 0) return CheckpointedJvp(c, t);

        // the primal While, its body also emitting the carries at the start of the trip and the condition as 1 or 0
        var rb = new Builder();
        var rIns = body.Inputs.Select(i => rb.Input(i.Kind, i.Name, i.Value as Type)).ToArray();
        var rOuts = rb.Inline(body, rIns);
        var go = rb.Inline(cond, rIns)[0];
        // the flag is a float64 rank-0 tensor (under Vmap a batched condition gives one per example)
        var one = rb.Const(Tensor.Scalar(1.0, DType.Float64));
        var zero = rb.Const(Tensor.Scalar(0.0, DType.Float64));
        var valid = rb.Apply(Prims.Where, [go.Kind switch
        {
            Kind.Float => rb.Apply(Prims.FromFloat, [go]),
            Kind.Double => rb.Apply(Prims.FromDouble, [go]),
            // a C# bool as a double first: shape inference gives no aval to a node with a bool operand
            Kind.Bool => rb.Apply(Prims.FromDouble, [rb.Apply(Prims.Where, [go, rb.Const(1.0), rb.Const(0.0)])]),
            _ => go,
        }, one, zero]);
        var withResiduals = rb.Finish([.. rOuts, .. rIns.Take(nc), valid]);
        var primal = b.Apply(Prims.While, c.X.Select(x => x.N).ToArray(), c.P, [cond, withResiduals], 0);
        c.NewAns = primal;
        var residuals = Enumerable.Range(0, nc + 1).Select(j => Tuples.Get(b, primal, nc + ny + j)).ToArray();

        var withT = ScanRules.TangentMask(body, nc, t);
        var jg = Jvp.Graph(body, withT);

        // the linear body: (dcarries, residual rows, valid row, constants, dconstants) -> (dcarries', dys)
        var lb = new Builder();
        var dCarry = Enumerable.Range(0, nc).Select(j => lb.Input(body.Inputs[j].Kind, "d" + body.Inputs[j].Name)).ToArray();
        var resRow = Enumerable.Range(0, nc).Select(j => lb.Input(Kind.Tensor, body.Inputs[j].Name)).ToArray();
        var validRow = lb.Input(Kind.Tensor, "valid");
        var cst = Enumerable.Range(nc, nk).Select(j => lb.Input(body.Inputs[j].Kind, body.Inputs[j].Name, body.Inputs[j].Value as Type)).ToArray();
        var dkIdx = Enumerable.Range(nc, nk).Where(j => withT[j]).ToArray();
        var dCst = dkIdx.Select(j => lb.Input(body.Inputs[j].Kind, "d" + body.Inputs[j].Name)).ToArray();
        var carryVal = Enumerable.Range(0, nc).Select(j => body.Inputs[j].Kind switch
        {
            Kind.Double => lb.Apply(Prims.ToDouble, [resRow[j]]),
            Kind.Float => lb.Apply(Prims.ToFloat, [resRow[j]]),
            _ => resRow[j],
        }).ToArray();
        var jOuts = lb.Inline(jg, [.. carryVal, .. cst, .. dCarry, .. dCst]);
        var outs = new List<Node>();
        for (int j = 0; j < nc; j++)
        {
            var next = jOuts[nc + ny + j];
            // a scalar carry cannot be batched, so its flag is one value: a C# condition keeps the scalar exact
            outs.Add(dCarry[j].Kind is Kind.Double or Kind.Float
                ? lb.Apply(Prims.Where, [lb.Apply(Prims.NotEqual, [lb.Apply(Prims.ToDouble, [validRow]), lb.Const(0.0)]), next, dCarry[j]])
                : lb.Apply(Prims.Where, [validRow, next, dCarry[j]]));
        }
        for (int j = 0; j < ny; j++) outs.Add(jOuts[nc + ny + nc + j]);
        var linBody = lb.Finish(outs);

        var ops = new List<Node>();
        for (int j = 0; j < nc; j++) ops.Add(t[j]?.N ?? Jvp.Zero(b, c.X[j].N));
        ops.AddRange(residuals);
        for (int j = 0; j < nk; j++) ops.Add(c.X[nc + j].N);
        foreach (var j in dkIdx) ops.Add(t[j]!.N);
        var lp = new ScanParams(nc, nc + 1, -1, false, p.Source, p.Checkpoint, EmptyOk: true);
        return new V(b.Apply(Prims.Scan, ops.ToArray(), new Params(lp), [linBody], 0));
    }
}
