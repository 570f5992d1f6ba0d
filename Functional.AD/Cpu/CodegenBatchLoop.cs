using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// Batched nodes with tiny per-example work (vmapped XOR, per-example gradients of a small net) as one loop over the
/// batch around straight-line per-example code. Once every shape is known, the nodes that carry one batch axis
/// (<see cref="Node.Batch"/> = 1) form a region; re-applying each of them at batch count 0 to per-example operands
/// gives the per-example graph (by the definition of a batch count, the batched node is that graph mapped over the
/// batch). That graph is unrolled into scalar code by a child <see cref="Codegen"/>; its operands are loaded from the
/// batched arrays at the example's offset (or, for values with a size-1 batch axis, read once before the loop), and
/// the values the rest of the graph needs are stored into fresh [B, ...] arrays.
/// </summary>
internal sealed partial class Codegen
{
    /// <summary>Per-example values of at most this many elements are unrolled inside the batch loop.</summary>
    internal const int LoopTinyLimit = Tiny;

    /// <summary>Emits the graph with its batched region as a loop over the batch, when the region fits (see the class summary).</summary>
    bool TryEmitBatchLoop(Graph g)
    {
        var plan = BatchLoopPlan.Make(g, av);
        if (plan is null) return false;
        // the nodes before the loop that something needs (Vmap's views of the operands are read through)
        var need = new HashSet<Node>(RefEq<Node>.Instance);
        var stack = new Stack<Node>(g.Outputs);
        foreach (var (outer, _, _) in plan.Operands) stack.Push(Unwrap(outer));
        foreach (var n in g.Nodes)
            if (!plan.Pre.Contains(n) && !plan.Region.Contains(n) && !plan.Fused.Contains(n)) foreach (var x in n.Args) stack.Push(x);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!plan.Pre.Contains(n) || !need.Add(n)) continue;
            foreach (var x in n.Args) stack.Push(x);
        }
        foreach (var n in g.Nodes) if (!n.IsInput && need.Contains(n)) EmitNode(n);
        EmitLoop(plan);
        foreach (var n in g.Nodes) if (!n.IsInput && !plan.Pre.Contains(n) && !plan.Region.Contains(n) && !plan.Fused.Contains(n)) EmitNode(n);
        return true;
    }

    /// <summary>In lane mode (the batch loop's vector form) the vector type every element expression has, else null.</summary>
    Type? Lane;
    /// <summary>The element type of <see cref="Lane"/>.</summary>
    Type LaneElem = typeof(float);

    /// <summary>A node that lane mode cannot express (the batch loop then runs one example at a time).</summary>
    sealed class LaneBail : Exception;

    /// <summary>The constant <paramref name="v"/> as an expression of type <paramref name="t"/> (a scalar, or a splatted vector in lane mode).</summary>
    Expression K(double v, Type t)
    {
        if (t == typeof(double)) return Expression.Constant(v);
        if (t == typeof(float)) return Expression.Constant((float)v);
        return Splat(LaneElem == typeof(double) ? Expression.Constant(v) : Expression.Constant((float)v), t);
    }

    Expression Splat(Expression x, Type t)
    {
        var (ops, _, _) = Fusion.Width(LaneElem);
        return Expression.Call(ops.GetMethod("Splat")!.MakeGenericMethod(LaneElem), Primitive.Conv(x, LaneElem));
    }

    /// <summary>An elementwise primitive on lane vectors (the vector helpers of the fused loops), or a bail-out.</summary>
    Expression LaneOp(Primitive p, Expression[] xs)
    {
        var vector = p.Vector ?? throw new LaneBail();
        return vector(VectorCode.For(LaneElem), xs.Select(x => x.Type == Lane ? x : Splat(x, Lane!)).ToArray());
    }

    /// <summary>
    /// The per-example code, compiled by a child code generator with one local per input element: in lane mode
    /// (a vector of consecutive examples per local) when every node has a vector form, else one example at a time.
    /// </summary>
    (Codegen Child, ParameterExpression[][] Ins, int Lanes) PerExampleCode(BatchLoopPlan plan)
    {
        // weak scalars given from outside (literals, C# doubles) take the lanes' dtype, as in eager code
        var dtypes = plan.PerExample.Nodes.Where(n => n.Kind == Kind.Tensor && !((n.IsConst || n.IsInput) && plan.Avals[n] is { Weak: true }))
            .Select(n => plan.Avals[n]?.DType).Distinct().ToList();
        if (Fusion.Enabled && dtypes.Count == 1 && dtypes[0] is DType.Float32 or DType.Float64)
        {
            var et = dtypes[0] == DType.Float64 ? typeof(double) : typeof(float);
            var (_, vec, lanes) = Fusion.Width(et);
            if (plan.B >= lanes)
            {
                var child = new Codegen(plan.Avals) { Lane = vec, LaneElem = et };
                try { return (child, child.Emit(plan, n => n.Kind is Kind.Double or Kind.Float ? n.Kind.ClrType() : vec), lanes); }
                catch (LaneBail) { }
            }
        }
        var scalar = new Codegen(plan.Avals);
        // a weak scalar from outside is read with its exact value (as a double), as eager code reads it
        return (scalar, scalar.Emit(plan, n => n.Kind is Kind.Double or Kind.Float ? n.Kind.ClrType() : plan.Avals[n]!.Weak ? typeof(double) : Elem(plan.Avals[n]!)), 1);
    }

    /// <summary>Emits the per-example graph with its inputs bound to fresh locals (assigned by the loop).</summary>
    ParameterExpression[][] Emit(BatchLoopPlan plan, Func<Node, Type> type)
    {
        var ins = new ParameterExpression[plan.Operands.Count][];
        for (int k = 0; k < plan.Operands.Count; k++)
        {
            var input = plan.Operands[k].Input;
            var t = type(input);
            int s = input.Kind == Kind.Tensor ? plan.Avals[input]!.Size : 1;
            ins[k] = Enumerable.Range(0, s).Select(j => Expression.Variable(t, $"in{k}_{j}")).ToArray();
            if (input.Kind == Kind.Tensor) SetElems(input, ins[k]);
            else obj[input] = ins[k][0];   // a C# scalar of the enclosing code, as it is
        }
        foreach (var n in plan.PerExample.Nodes) if (!n.IsInput && plan.Live.Contains(n)) EmitNode(n);
        foreach (var (_, inner) in plan.Outputs) Elems(inner, Lane ?? Elem(plan.Avals[inner]!));
        foreach (var r in plan.Reductions) Elems(r.Inner, Lane ?? Elem(plan.Avals[r.Inner]!));
        return ins;
    }

    /// <summary>The node whose elements, in the same order, <paramref name="x"/> has: through Vmap's size-1 batch axis and a move of axis 0 to the front.</summary>
    static Node Unwrap(Node x)
    {
        while (x.Batch == 0 && x.Args.Length > 0 && x.Args[0].Kind == Kind.Tensor
               && x.Op.RelayoutOf?.Invoke(x.Params) is Relayout.Same or Relayout.UnitAxisInFront)
            x = x.Args[0];
        return x;
    }

    void EmitLoop(BatchLoopPlan plan)
    {
        int b = plan.B;
        var (child, ins, lanes) = PerExampleCode(plan);
        bool lane = lanes > 1;
        int bp = (b + lanes - 1) / lanes * lanes;   // the batch padded to whole vectors (lane mode)
        var i = Local(typeof(int), "example");
        var (vops, _, _) = lane ? Fusion.Width(child.LaneElem) : (typeof(object), typeof(object), 1);
        var loads = new List<Expression>();
        var hoisted = new List<ParameterExpression>();
        Expression Offset(int j, int s) => lane ? Expression.Add(i, Expression.Constant(j * bp))
            : j == 0 ? Expression.Multiply(i, Expression.Constant(s)) : Expression.Add(Expression.Multiply(i, Expression.Constant(s)), Expression.Constant(j));
        for (int k = 0; k < plan.Operands.Count; k++)
        {
            var (wrapped, input, batched) = plan.Operands[k];
            var outer = Unwrap(wrapped);
            if (input.Kind is Kind.Double or Kind.Float)
            {
                // a scalar of the enclosing code: read once
                Stmts.Add(Expression.Assign(ins[k][0], Primitive.Conv(Obj(outer), ins[k][0].Type)));
                hoisted.Add(ins[k][0]);
                continue;
            }
            var a = plan.Avals[input]!;
            var t = a.Weak ? typeof(double) : Elem(a);   // a weak scalar's exact value
            int s = a.Size;
            if (!batched)
            {
                // shared by every example (a size-1 batch axis): read once, before the loop
                var e = Elems(outer, t);
                for (int j = 0; j < s; j++)
                {
                    Stmts.Add(Expression.Assign(ins[k][j], lane ? child.Splat(e[j], ins[k][j].Type) : e[j]));
                    hoisted.Add(ins[k][j]);
                }
                continue;
            }
            if (lane) t = child.LaneElem;   // vector loads read the lanes' element type
            var data = DataOf(outer, t);
            // (in lane mode the columns live in the call's arena: they never leave the call)
            var arr = lane ? Assign(Expression.Call(typeof(JitRt).GetMethod(nameof(JitRt.ToColumns))!.MakeGenericMethod(t), data, Expression.Constant(b), Expression.Constant(s), Expression.Constant(bp), Scratch(t, s * bp)), t.MakeArrayType())
                           : Assign(data, t.MakeArrayType());
            for (int j = 0; j < s; j++)
                loads.Add(Expression.Assign(ins[k][j], lane
                    ? Expression.Call(vops.GetMethod("Load")!.MakeGenericMethod(t), arr, Offset(j, s))
                    : Expression.ArrayIndex(arr, Offset(j, s))));
        }
        // region values needed outside: fresh arrays in their final row-major layout, filled per example (in lane
        // mode a block of examples at a time: one value per example stored straight from its vector, several
        // transposed through a small per-call block of columns)
        var laneHelpers = lane && vops == typeof(Vec512Ops) ? typeof(Lane512) : typeof(Lane256);
        var stores = new List<Expression>();
        var colBlocks = new Dictionary<Type, ParameterExpression>();
        var after = new List<(Node Outer, ParameterExpression Arr, Aval A, int S)>();
        foreach (var (outer, inner) in plan.Outputs)
        {
            var oa = av[outer]!;
            var t = Elem(oa);
            int s = plan.Avals[inner]!.Size;
            var arr = Local(t.MakeArrayType());
            // not zeroed: every example's elements are stored
            Stmts.Add(Expression.Assign(arr, Expression.Call(typeof(GC).GetMethod(nameof(GC.AllocateUninitializedArray))!.MakeGenericMethod(t), Expression.Constant(oa.Size), Expression.Constant(false))));
            var src = child.Elems(inner, child.Lane ?? t);
            bool shared = oa.Dims[0] == 1;   // a size-1 batch axis: every example computes the same elements
            if (lane && s == 1)
                stores.Add(Expression.Call(laneHelpers.GetMethod("StoreColumn")!.MakeGenericMethod(t), src[0], arr, i, Expression.Constant(oa.Dims[0])));
            else if (lane)
            {
                // one block of columns for every output of this element type (each is stored, then transposed, in turn)
                if (!colBlocks.TryGetValue(t, out var cols))
                {
                    int most = plan.Outputs.Where(o => Elem(av[o.Outer]!) == t).Max(o => plan.Avals[o.Inner]!.Size);
                    colBlocks[t] = cols = Local(t.MakeArrayType());
                    Stmts.Add(Expression.Assign(cols, Scratch(t, most * lanes)));
                }
                for (int j = 0; j < s; j++)
                    stores.Add(Expression.Call(vops.GetMethod("Store")!.MakeGenericMethod(t), src[j], cols, Expression.Constant(j * lanes)));
                stores.Add(Expression.Call(typeof(LaneRows).GetMethod(nameof(LaneRows.Store))!.MakeGenericMethod(t), cols, arr, i, Expression.Constant(s), Expression.Constant(oa.Dims[0]), Expression.Constant(lanes)));
            }
            else
                for (int j = 0; j < s; j++)
                    stores.Add(Expression.Assign(Expression.ArrayAccess(arr, shared ? Expression.Constant(j) : Offset(j, s)), Primitive.Conv(src[j], t)));
            after.Add((outer, arr, oa, s));
        }
        // fused reductions over the batch: one accumulator per element (a vector of lanes in lane mode)
        var reduced = new List<(Node Result, ParameterExpression[] Acc, Aval A, bool Mean)>();
        ParameterExpression? mask = null;   // the padded tail's lanes cleared, computed once per iteration
        foreach (var (result, inner, mean, _) in plan.Reductions)
        {
            var ra = av[result]!;
            var t = Elem(ra);
            var src = child.Elems(inner, child.Lane ?? t);
            var acc = src.Select((_, j) => Expression.Variable(child.Lane ?? t, $"acc{reduced.Count}_{j}")).ToArray();
            for (int j = 0; j < acc.Length; j++)
            {
                Stmts.Add(Expression.Assign(acc[j], lane ? Expression.Default(acc[j].Type) : Primitive.Conv(Expression.Constant(0.0), t)));
                Expression x = lane ? src[j] : Primitive.Conv(src[j], t);
                if (lane && bp != b)
                {
                    if (mask is null)
                    {
                        mask = Expression.Variable(x.Type, "valid");
                        stores.Insert(0, Expression.Assign(mask, Expression.Call(laneHelpers.GetMethod("Mask")!.MakeGenericMethod(t), i, Expression.Constant(b))));
                    }
                    x = Expression.And(x, mask);
                }
                stores.Add(Expression.Assign(acc[j], Expression.Add(acc[j], x)));
            }
            hoisted.AddRange(acc);
            reduced.Add((result, acc, ra, mean));
        }
        var brk = Expression.Label("batchDone");
        var perIteration = ins.Where((_, k) => plan.Operands[k].Batched).SelectMany(x => x);
        var body = Expression.Block(typeof(void), [.. perIteration, .. child.Vars, .. (mask is null ? Array.Empty<ParameterExpression>() : [mask])], [.. loads, .. child.Stmts, .. stores, Expression.AddAssign(i, Expression.Constant(lanes))]);
        Vars.AddRange(hoisted);
        Stmts.Add(Expression.Assign(i, Expression.Constant(0)));
        Stmts.Add(Expression.Loop(Expression.IfThenElse(Expression.LessThan(i, Expression.Constant(bp)), body, Expression.Break(brk)), brk));
        foreach (var (outer, arr, oa, s) in after)
        {
            var make = MakeTensor(arr, oa);
            obj[outer] = Assign(make, typeof(Tensor));
            How[outer] = $"batch loop ({b} examples{(lane ? $", {lanes} per vector" : "")}, per-example code unrolled)";
        }
        foreach (var (result, acc, ra, mean) in reduced)
        {
            var t = Elem(ra);
            var sums = acc.Select(a => lane ? (Expression)Expression.Call(laneHelpers.GetMethod("Sum")!.MakeGenericMethod(t), a) : a);
            if (mean) sums = sums.Select(x => (Expression)Expression.Divide(x, Primitive.Conv(Expression.Constant((double)b), t)));
            var make = MakeTensor(Expression.NewArrayInit(t, sums), ra);
            obj[result] = Assign(make, typeof(Tensor));
            How[result] = $"accumulated in the batch loop";
        }
        foreach (var n in plan.Region)
            if (n.Kind == Kind.Aval) obj[n] = Expression.Constant(av[n]!);
        foreach (var n in plan.Region)
            if (!How.ContainsKey(n)) How[n] = n.Kind == Kind.Aval ? "shape" : "in the batch loop";
    }
}

/// <summary>Which nodes form the batch loop, and the per-example graph it runs (see <see cref="Codegen"/>).</summary>
internal sealed class BatchLoopPlan
{
    public int B;
    /// <summary>The nodes with one batch axis, run per example inside the loop.</summary>
    public readonly HashSet<Node> Region = new(RefEq<Node>.Instance);
    /// <summary>Nodes outside the region that the region (transitively) needs, or that do not depend on it: emitted before the loop.</summary>
    public readonly HashSet<Node> Pre = new(RefEq<Node>.Instance);
    public Graph PerExample = null!;
    public Dictionary<Node, Aval?> Avals = null!;
    /// <summary>Per-example graph inputs: the outer node, its input, whether it carries the batch axis (else shared by all examples).</summary>
    public readonly List<(Node Outer, Node Input, bool Batched)> Operands = new();
    /// <summary>Region nodes whose values are needed outside the loop, with their per-example nodes.</summary>
    public readonly List<(Node Outer, Node Inner)> Outputs = new();
    /// <summary>
    /// Means and sums over the batch axis of a region value (through the structural moves of Vmap's output):
    /// accumulated inside the loop, the per-example values never stored. Chain: the nodes the reduction replaces.
    /// </summary>
    public readonly List<(Node Result, Node Inner, bool Mean, Node[] Chain)> Reductions = new();
    /// <summary>Nodes after the loop that its fused reductions replace (not emitted).</summary>
    public readonly HashSet<Node> Fused = new(RefEq<Node>.Instance);
    /// <summary>Per-example nodes whose values are needed (not only their shapes).</summary>
    public readonly HashSet<Node> Live = new(RefEq<Node>.Instance);

    public static BatchLoopPlan? Make(Graph g, Dictionary<Node, Aval?> av)
    {
        // the region first, the plan only when there is one (most programs have no batched node)
        int inRegion = 0;
        foreach (var n in g.Nodes)
        {
            if (n.Batch > 1) return null;
            if (n.Batch == 1) inRegion++;
        }
        if (inRegion < 2) return null;
        var plan = new BatchLoopPlan();
        foreach (var n in g.Nodes) if (n.Batch == 1) plan.Region.Add(n);
        // one batch size; every value with a batch axis known
        int b = 1;
        bool Lead(Node x)
        {
            if (!av.TryGetValue(x, out var a) || a is null || a.Rank == 0) return false;
            if (a.Dims[0] != 1 && b != 1 && a.Dims[0] != b) return false;
            if (a.Dims[0] != 1) b = a.Dims[0];
            return true;
        }
        foreach (var n in plan.Region)
        {
            if (n.Kind is not (Kind.Tensor or Kind.Aval) || !Lead(n)) return null;
            foreach (var x in n.Args)
                // a rank-0 tensor operand carries no batch axis (a weak scalar, or a C# double meeting the batch): shared
                if (x.Kind is Kind.Tensor or Kind.Aval && !(x.Kind == Kind.Tensor && av.TryGetValue(x, out var xa) && xa is { Rank: 0 }) && !Lead(x)) return null;
        }
        if (b == 1) return null;
        plan.B = b;

        // after the loop: everything that depends on the region; the region must not depend on those (one loop)
        var post = new HashSet<Node>(RefEq<Node>.Instance);
        foreach (var n in g.Nodes)
            if (!plan.Region.Contains(n) && !(n.Kind == Kind.Aval && av.TryGetValue(n, out var na) && na is not null)   // a known shape is a constant
                && n.Args.Any(x => plan.Region.Contains(x) || post.Contains(x))) post.Add(n);
        foreach (var n in plan.Region)
            if (n.Args.Any(post.Contains)) return null;
        foreach (var n in g.Nodes) if (!plan.Region.Contains(n) && !post.Contains(n)) plan.Pre.Add(n);

        // the per-example graph
        var nb = new Builder();
        var map = new Dictionary<Node, Node>(RefEq<Node>.Instance);
        var inAvals = new List<Aval?>();
        Node Operand(Node x)
        {
            if (map.TryGetValue(x, out var m)) return m;
            if (x.IsConst && x.Kind is not (Kind.Aval or Kind.Tensor)) return map[x] = nb.Const(x.Value!);
            switch (x.Kind)
            {
                case Kind.Aval:
                    {
                        var a = av[x]!;
                        return map[x] = nb.Const(new Aval(a.Dims[1..], a.DType, a.Weak));
                    }
                case Kind.Tensor when x.IsConst && x.Value is Tensor { Rank: 0 }:
                    return map[x] = nb.Const(x.Value!);   // a weak scalar: broadcast as it is
                case Kind.Tensor when x.IsConst && x.Value is Tensor ct:
                    // a constant given Vmap's size-1 batch axis (folded): its per-example value drops that axis
                    if (ct.Dims[0] != 1) throw new NotSupportedException();
                    return map[x] = nb.Const(Vmapped.View(ct, ct.Dims[1..]));
                case Kind.Tensor when av[x]!.Rank == 0:
                    {
                        var inner = nb.Input(Kind.Tensor, x.Name);
                        inAvals.Add(av[x]);
                        plan.Operands.Add((x, inner, false));
                        return map[x] = inner;
                    }
                case Kind.Tensor:
                    {
                        var a = av[x]!;
                        var inner = nb.Input(Kind.Tensor, x.Name);
                        inAvals.Add(new Aval(a.Dims[1..], a.DType, a.Weak));
                        plan.Operands.Add((x, inner, a.Dims[0] != 1));
                        return map[x] = inner;
                    }
                case Kind.Double or Kind.Float:
                    {
                        var inner = nb.Input(x.Kind, x.Name);
                        inAvals.Add(x.Kind == Kind.Double ? Aval.ScalarDouble : Aval.ScalarFloat);
                        plan.Operands.Add((x, inner, false));
                        return map[x] = inner;
                    }
                default:
                    if (x.IsConst) return map[x] = nb.Const(x.Value!);
                    throw new NotSupportedException();
            }
        }
        try
        {
            foreach (var n in g.Nodes)
            {
                if (!plan.Region.Contains(n)) continue;
                if (n.Kind == Kind.Aval) { Operand(n); continue; }
                var args = n.Args.Select(x => plan.Region.Contains(x) && x.Kind == Kind.Tensor ? map[x] : Operand(x)).ToArray();
                var prms = Vmapped.ShiftBatch(n, -1);
                map[n] = nb.Apply(n.Op, args, prms, n.Subgraphs, 0);
            }
        }
        catch (NotSupportedException) { return null; }
        // reductions over the batch axis, fused into the loop
        var uses = new Dictionary<Node, int>(RefEq<Node>.Instance);
        foreach (var n in g.Nodes) foreach (var x in n.Args) uses[x] = uses.GetValueOrDefault(x) + 1;
        foreach (var o in g.Outputs) uses[o] = uses.GetValueOrDefault(o) + 1;
        var fused = new HashSet<Node>(RefEq<Node>.Instance);
        foreach (var m in g.Nodes)
        {
            if (!post.Contains(m) || m.Batch != 0 || m.Op.Accumulates == Accumulation.None || m.Params[0] is not int axis || axis != 0 || (bool)m.Params[1]!) continue;
            var chain = new List<Node> { m };
            var x = m.Args[0];
            while (!plan.Region.Contains(x))
            {
                if (x.Op.RelayoutOf?.Invoke(x.Params) is not (Relayout.Same or Relayout.BroadcastAxis0) || x.Batch != 0 || uses.GetValueOrDefault(x) != 1) break;
                chain.Add(x);
                x = x.Args[0];
            }
            if (!plan.Region.Contains(x) || x.Kind != Kind.Tensor || av[x]!.Dims[0] != b || !map.TryGetValue(x, out var inner)) continue;
            plan.Reductions.Add((m, inner, m.Op.Accumulates == Accumulation.Mean, chain.ToArray()));
            foreach (var c in chain) fused.Add(c);
        }
        // region values needed outside it
        var outs = new List<Node>();
        var outSet = new HashSet<Node>(g.Outputs, RefEq<Node>.Instance);
        foreach (var n in g.Nodes)
            if (!plan.Region.Contains(n) && !plan.Pre.Contains(n) && !fused.Contains(n)) foreach (var x in n.Args) if (plan.Region.Contains(x)) outSet.Add(x);
        foreach (var (_, inner, _, _) in plan.Reductions) outs.Add(inner);
        foreach (var c in fused) plan.Fused.Add(c);
        foreach (var n in g.Nodes)
            if (plan.Region.Contains(n) && outSet.Contains(n) && n.Kind == Kind.Tensor) { plan.Outputs.Add((n, map[n])); outs.Add(map[n]); }
        plan.PerExample = nb.Finish(outs);
        // values only a shape-only node reads (the gradient seed reads its operand's shape) are not computed
        Codegen.AddValueLive(outs, plan.Live, n => n.Kind == Kind.Aval || n.Op.Cpu is { ShapeOnly: true });
        try { plan.Avals = ShapeInference.Run(plan.PerExample, inAvals); }
        catch (ShapeException) { return null; }
        foreach (var n in plan.PerExample.Nodes)
            if (n.Kind == Kind.Tensor && (!plan.Avals.TryGetValue(n, out var a) || a is null || a.Size > Codegen.LoopTinyLimit
                || a.DType is not (DType.Float32 or DType.Float64))) return null;   // integer, bool and half values: the rewrite
        foreach (var n in plan.PerExample.Inputs)
            if (n.Kind == Kind.Tensor && plan.Avals.TryGetValue(n, out var ia) && ia is not null && ia.DType is not (DType.Float32 or DType.Float64)) return null;
        return plan;
    }
}
