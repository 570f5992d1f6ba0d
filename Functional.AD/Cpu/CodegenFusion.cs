using System.Linq.Expressions;

namespace Functional.AD;

internal sealed partial class Codegen
{
    int chainCount;

    /// <summary>Emits the graph with each fused chain as one unit, in a topological order of units (chains are convex).</summary>
    void EmitWithChains(Graph g, Dictionary<Node, List<Node>> chains)
    {
        // members whose values are needed outside their chain
        var live = new HashSet<Node>(g.Outputs, RefEq<Node>.Instance);
        foreach (var n in g.Nodes)
            foreach (var x in n.Args)
                if (chains.TryGetValue(x, out var c) && !(chains.TryGetValue(n, out var cn) && ReferenceEquals(c, cn))) live.Add(x);
        var done = new HashSet<Node>(RefEq<Node>.Instance);
        foreach (var n in g.Nodes) Visit(n);

        void Visit(Node n)
        {
            if (n.IsInput || !done.Add(n)) return;
            if (chains.TryGetValue(n, out var c))
            {
                foreach (var m in c) done.Add(m);
                foreach (var m in c)
                    foreach (var x in m.Args)
                        if (!chains.TryGetValue(x, out var cx) || !ReferenceEquals(cx, c)) Visit(x);
                EmitChain(c, live);
            }
            else
            {
                foreach (var x in n.Args) Visit(x);
                EmitNode(n);
            }
        }
    }

    /// <summary>One loop over the chain's elements: vector lanes, then a scalar tail; writes only the live members.</summary>
    void EmitChain(List<Node> c, HashSet<Node> live)
    {
        var members = new HashSet<Node>(c, RefEq<Node>.Instance);
        var a0 = av[c[^1]]!;
        // the loop's element type: the chain's compute dtype (bool members are carried as 0/1 in it)
        var a = new Aval(a0.Dims, Fusion.ComputeDType(c[^1], av)!.Value, a0.Weak);
        var t = Elem(a);
        int size = a.Size;
        var (ops, vecT, lanes) = Fusion.Width(t);
        var arrayT = t.MakeArrayType();
        var arrays = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        var scalars = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        var splats = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        var outs = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        // row operands (see Fusion.IsRowOperand): their array and the index that wraps at their size, one per size
        var rows = new Dictionary<Node, (Expression Arr, ParameterExpression J)>(RefEq<Node>.Instance);
        var wraps = new Dictionary<int, ParameterExpression>();
        var data = typeof(JitRt).GetMethod(nameof(JitRt.Data))!.MakeGenericMethod(t);
        var splat = ops.GetMethod("Splat")!.MakeGenericMethod(t);
        foreach (var m in c)
            foreach (var x in m.Args)
            {
                if (members.Contains(x) || arrays.ContainsKey(x) || scalars.ContainsKey(x) || rows.ContainsKey(x)) continue;
                if (x.Kind == Kind.Tensor && av[x]!.Size == size && av[x]!.Rank == a.Rank)
                    arrays[x] = Assign(Expression.Call(data, Obj(x)), arrayT);
                else if (Fusion.IsRowOperand(x, av, a))
                {
                    int inner = av[x]!.Size;
                    if (!wraps.TryGetValue(inner, out var j)) wraps[inner] = j = Local(typeof(int), "j" + inner);
                    rows[x] = (Assign(Expression.Call(data, Obj(x)), arrayT), j);
                }
                else
                {
                    var s = scalars[x] = Assign(Elems(x, t)[0], t);
                    splats[x] = Assign(Expression.Call(splat, s), vecT);
                }
            }
        foreach (var m in c)
            if (live.Contains(m)) outs[m] = Assign(Buffer(m, t, size), arrayT);

        var i = Local(typeof(int), "i");
        // vector body
        var vvars = new List<ParameterExpression>();
        var vbody = new List<Expression>();
        var vals = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        var load = ops.GetMethod("Load")!.MakeGenericMethod(t);
        var store = ops.GetMethod("Store")!.MakeGenericMethod(t);
        foreach (var (x, arr) in arrays)
        {
            var v = Expression.Variable(vecT);
            vvars.Add(v);
            vbody.Add(Expression.Assign(v, Expression.Call(load, arr, i)));
            vals[x] = v;
        }
        foreach (var (x, (arr, j)) in rows)
        {
            var v = Expression.Variable(vecT);
            vvars.Add(v);
            vbody.Add(Expression.Assign(v, Expression.Call(load, arr, j)));
            vals[x] = v;
        }
        foreach (var m in c)
        {
            var v = Expression.Variable(vecT);
            vvars.Add(v);
            var args = m.Args.Select(x => vals.TryGetValue(x, out var e) ? e : splats[x]).ToArray();
            vbody.Add(Expression.Assign(v, m.Op.Vector!(new VectorCode(ops, t), args)));
            vals[m] = v;
            if (outs.TryGetValue(m, out var o)) vbody.Add(Expression.Call(store, v, o, i));
        }
        vbody.Add(Expression.AddAssign(i, Expression.Constant(lanes)));
        foreach (var (inner, j) in wraps) vbody.Add(Wrap(j, inner, lanes));
        // scalar tail
        var svars = new List<ParameterExpression>();
        var sbody = new List<Expression>();
        var svals = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        foreach (var (x, arr) in arrays) svals[x] = Expression.ArrayIndex(arr, i);
        foreach (var (x, s) in scalars) svals[x] = s;
        foreach (var (x, (arr, j)) in rows) svals[x] = Expression.ArrayIndex(arr, j);
        foreach (var m in c)
        {
            var v = Expression.Variable(t);
            svars.Add(v);
            sbody.Add(Expression.Assign(v, Primitive.Conv(m.Op.Scalar!(m.Args.Select(x => svals[x]).ToArray(), t), t)));
            svals[m] = v;
            if (outs.TryGetValue(m, out var o)) sbody.Add(Expression.Assign(Expression.ArrayAccess(o, i), v));
        }
        sbody.Add(Expression.PreIncrementAssign(i));
        foreach (var (inner, j) in wraps) sbody.Add(Wrap(j, inner, 1));

        Stmts.Add(Expression.Assign(i, Expression.Constant(0)));
        foreach (var j in wraps.Values) Stmts.Add(Expression.Assign(j, Expression.Constant(0)));
        var brk = Expression.Label("vectorDone");
        Stmts.Add(Expression.Loop(Expression.IfThenElse(Expression.LessThanOrEqual(i, Expression.Constant(size - lanes)),
            Expression.Block(vvars, vbody), Expression.Break(brk)), brk));
        var brk2 = Expression.Label("tailDone");
        Stmts.Add(Expression.Loop(Expression.IfThenElse(Expression.LessThan(i, Expression.Constant(size)),
            Expression.Block(svars, sbody), Expression.Break(brk2)), brk2));

        int id = ++chainCount;
        foreach (var m in c)
        {
            if (outs.TryGetValue(m, out var o))
                obj[m] = Assign(MakeTensor(av[m]!.DType == DType.Bool
                    ? Expression.Call(typeof(JitRt).GetMethod(nameof(JitRt.ToBool))!.MakeGenericMethod(t), o) : o, av[m]!), typeof(Tensor));
            How[m] = $"fused #{id} ({c.Count} ops, {lanes}-lane loop{(outs.ContainsKey(m) ? ", written" : "")})";
        }
        FusedChains++;
    }

    /// <summary><c>j += step; if (j == inner) j = 0;</c> (the index of a row operand).</summary>
    static Expression Wrap(ParameterExpression j, int inner, int step) => Expression.Block(
        Expression.AddAssign(j, Expression.Constant(step)),
        Expression.IfThen(Expression.Equal(j, Expression.Constant(inner)), Expression.Assign(j, Expression.Constant(0))));

    /// <summary>How many chains were fused into loops (for tests).</summary>
    public int FusedChains;
}
