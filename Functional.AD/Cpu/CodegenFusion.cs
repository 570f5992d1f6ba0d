using System.Linq.Expressions;

namespace Functional.AD;

internal sealed partial class Codegen
{
    int chainCount;

    /// <summary>Emits the graph with each fused chain as one unit, in a topological order of units (chains are convex).</summary>
    void EmitWithChains(Graph g, Dictionary<Node, List<Node>> chains, HashSet<Node> valueLive)
    {
        // members whose values are needed outside their chain
        var live = new HashSet<Node>(g.Outputs, RefEq<Node>.Instance);
        foreach (var n in g.Nodes)
            foreach (var x in n.Args)
                if (chains.TryGetValue(x, out var c) && !(chains.TryGetValue(n, out var cn) && ReferenceEquals(c, cn))) live.Add(x);
        // half members that the caller or an eager kernel reads: rounded in the loop's blocks (a half member that only
        // other fused loops read is passed to them unrounded, as float32)
        rounded = new HashSet<Node>(g.Outputs, RefEq<Node>.Instance);
        foreach (var n in g.Nodes)
            if (!chains.ContainsKey(n))
                foreach (var x in n.Args) rounded.Add(x);
        var done = new HashSet<Node>(RefEq<Node>.Instance);
        foreach (var n in g.Nodes) if (valueLive.Contains(n)) Visit(n);

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

    /// <summary>Elements per block of a loop that widens or rounds halves (a multiple of every lane count).</summary>
    internal const int HalfBlock = 2048;

    /// <summary>Chain members whose half-precision arrays are read outside fused loops (see <see cref="EmitWithChains"/>).</summary>
    HashSet<Node> rounded = new(RefEq<Node>.Instance);

    /// <summary>
    /// The float32 values of the half members that fused loops wrote (arena buffers, valid for the rest of the call): a
    /// later loop reads them instead of the rounded array, so values stay float32 from one fused loop to the next; the
    /// rounded array is made from them when something else asks (<see cref="Obj"/>).
    /// </summary>
    readonly Dictionary<Node, Expression> unrounded = new(RefEq<Node>.Instance);

    /// <summary>
    /// One loop over the chain's elements: vector lanes, then a scalar tail; writes only the live members. A chain that
    /// reads or writes float16 or bfloat16 runs in blocks of <see cref="HalfBlock"/> elements: each block first widens
    /// its part of every half operand into a float buffer of the call's arena, then runs the loop, then rounds its part
    /// of every half member that is written (from a float buffer) into the member's own array, so the widened and the
    /// unrounded values are still in the cache when they are read.
    /// </summary>
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
        // channel operands (see Fusion.IsChannelOperand): their array and the channel index k, which moves on every
        // inner elements (counted by q) and wraps at their size; one (q, k) per (inner, size)
        var channels = new Dictionary<Node, (Expression Arr, ParameterExpression K)>(RefEq<Node>.Instance);
        var steps = new Dictionary<(int Inner, int Count), (ParameterExpression Q, ParameterExpression K)>();
        var data = typeof(JitRt).GetMethod(nameof(JitRt.Data))!.MakeGenericMethod(t);
        var splat = ops.GetMethod("Splat")!.MakeGenericMethod(t);
        // half operands read in blocks: (the operand's own array, the float buffer its block is widened into)
        var widen = new List<(Expression Src, Expression Dst)>();
        // half members written in blocks: (the float buffer the loop writes, the member's own array)
        var narrow = new List<(Expression Src, Expression Dst)>();
        var finals = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        foreach (var m in c)
            foreach (var x in m.Args)
            {
                if (members.Contains(x) || arrays.ContainsKey(x) || scalars.ContainsKey(x) || rows.ContainsKey(x) || channels.ContainsKey(x)) continue;
                if (x.Kind == Kind.Tensor && av[x]!.Size == size && av[x]!.Rank == a.Rank)
                {
                    if (unrounded.TryGetValue(x, out var f) && t == typeof(float)) arrays[x] = f;
                    else if (unrounded.TryGetValue(x, out f))
                    {
                        arrays[x] = Assign(Scratch(t, size), arrayT);
                        widen.Add((f, arrays[x]));
                    }
                    else if (DTypes.IsHalf(av[x]!.DType))
                    {
                        var h = Elem(av[x]!);
                        var src = Assign(DataOf(Obj(x), h), h.MakeArrayType());
                        arrays[x] = Assign(Scratch(t, size), arrayT);
                        widen.Add((src, arrays[x]));
                    }
                    else arrays[x] = Assign(Expression.Call(data, Obj(x)), arrayT);
                }
                else if (Fusion.IsRowOperand(x, av, a))
                {
                    int inner = av[x]!.Size;
                    if (!wraps.TryGetValue(inner, out var j)) wraps[inner] = j = Local(typeof(int), "j" + inner);
                    rows[x] = (WholeOperand(x, t), j);
                }
                else if (Fusion.IsChannelOperand(x, av, a, out int chInner, out int chCount))
                {
                    if (!steps.TryGetValue((chInner, chCount), out var qk))
                        steps[(chInner, chCount)] = qk = (Local(typeof(int), $"q{chInner}_{chCount}"), Local(typeof(int), $"k{chInner}_{chCount}"));
                    channels[x] = (WholeOperand(x, t), qk.K);
                }
                else
                {
                    var s = scalars[x] = Assign(Elems(x, t)[0], t);
                    splats[x] = Assign(Expression.Call(splat, s), vecT);
                }
            }
        foreach (var m in c)
        {
            if (!live.Contains(m)) continue;
            if (DTypes.IsHalf(av[m]!.DType))
            {
                var h = Elem(av[m]!);
                outs[m] = unrounded[m] = Assign(Scratch(t, size), arrayT);
                if (!rounded.Contains(m)) continue;
                finals[m] = Assign(Buffer(m, h, size), h.MakeArrayType());
                narrow.Add((outs[m], finals[m]));
            }
            else outs[m] = Assign(Buffer(m, t, size), arrayT);
        }

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
        foreach (var (x, (arr, k)) in channels)
        {
            var v = Expression.Variable(vecT);
            vvars.Add(v);
            vbody.Add(Expression.Assign(v, Expression.Call(splat, Expression.ArrayIndex(arr, k))));
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
        foreach (var ((inner, count), (q, k)) in steps) vbody.Add(Step(q, k, inner, count, lanes));
        // scalar tail
        var svars = new List<ParameterExpression>();
        var sbody = new List<Expression>();
        var svals = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        foreach (var (x, arr) in arrays) svals[x] = Expression.ArrayIndex(arr, i);
        foreach (var (x, s) in scalars) svals[x] = s;
        foreach (var (x, (arr, j)) in rows) svals[x] = Expression.ArrayIndex(arr, j);
        foreach (var (x, (arr, k)) in channels) svals[x] = Expression.ArrayIndex(arr, k);
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
        foreach (var ((inner, count), (q, k)) in steps) sbody.Add(Step(q, k, inner, count, 1));

        Stmts.Add(Expression.Assign(i, Expression.Constant(0)));
        foreach (var j in wraps.Values) Stmts.Add(Expression.Assign(j, Expression.Constant(0)));
        foreach (var (q, k) in steps.Values) { Stmts.Add(Expression.Assign(q, Expression.Constant(0))); Stmts.Add(Expression.Assign(k, Expression.Constant(0))); }
        bool blocked = widen.Count > 0 || narrow.Count > 0;
        if (!blocked)
            Stmts.AddRange(Loops(Expression.Constant(size)));
        else
        {
            // for (start = 0; start < size; start += HalfBlock) { end = min(start + HalfBlock, size); widen; loops; round }
            var start = Local(typeof(int), "start");
            var end = Local(typeof(int), "end");
            var count = Expression.Subtract(end, start);
            var block = new List<Expression>
            {
                Expression.Assign(end, Expression.Call(typeof(Math).GetMethod(nameof(Math.Min), [typeof(int), typeof(int)])!,
                    Expression.Add(start, Expression.Constant(HalfBlock)), Expression.Constant(size))),
            };
            foreach (var (src, dst) in widen) block.Add(Expression.Call(JitRtMethod(nameof(JitRt.Widen), src.Type, dst.Type), src, dst, start, count));
            block.AddRange(Loops(end));
            foreach (var (src, dst) in narrow) block.Add(Expression.Call(JitRtMethod(nameof(JitRt.Narrow), src.Type, dst.Type), src, dst, start, count));
            block.Add(Expression.AddAssign(start, Expression.Constant(HalfBlock)));
            Stmts.Add(Expression.Assign(start, Expression.Constant(0)));
            var blocksDone = Expression.Label("blocksDone");
            Stmts.Add(Expression.Loop(Expression.IfThenElse(Expression.LessThan(start, Expression.Constant(size)),
                Expression.Block(block), Expression.Break(blocksDone)), blocksDone));
        }

        // the vector loop up to end - lanes, then the scalar tail up to end (only the last block of a blocked loop has one)
        IEnumerable<Expression> Loops(Expression limit)
        {
            var brk = Expression.Label("vectorDone");
            yield return Expression.Loop(Expression.IfThenElse(Expression.LessThanOrEqual(i, limit is ConstantExpression k ? Expression.Constant((int)k.Value! - lanes) : Expression.Subtract(limit, Expression.Constant(lanes))),
                Expression.Block(vvars, vbody), Expression.Break(brk)), brk);
            var brk2 = Expression.Label("tailDone");
            yield return Expression.Loop(Expression.IfThenElse(Expression.LessThan(i, limit),
                Expression.Block(svars, sbody), Expression.Break(brk2)), brk2);
        }

        int id = ++chainCount;
        string halves = blocked || c.Any(m => DTypes.IsHalf(av[m]!.DType)) ? ", halves in float32" : "";
        foreach (var m in c)
        {
            if (finals.TryGetValue(m, out var f))
                obj[m] = Assign(MakeTensor(f, av[m]!), typeof(Tensor));
            else if (unrounded.ContainsKey(m)) { }   // rounded when something asks (Obj)
            else if (outs.TryGetValue(m, out var o))
                obj[m] = Assign(MakeTensor(av[m]!.DType == DType.Bool
                    ? Expression.Call(typeof(JitRt).GetMethod(nameof(JitRt.ToBool))!.MakeGenericMethod(t), o) : o, av[m]!), typeof(Tensor));
            How[m] = $"fused #{id} ({c.Count} ops, {lanes}-lane loop{halves}{(outs.ContainsKey(m) ? ", written" : "")})";
        }
        FusedChains++;
    }

    /// <summary>The overload of a <see cref="JitRt"/> helper for these array types.</summary>
    static System.Reflection.MethodInfo JitRtMethod(string name, Type src, Type dst) =>
        typeof(JitRt).GetMethod(name, [src, dst, typeof(int), typeof(int)])
        ?? throw new MissingMethodException(nameof(JitRt), $"{name}({src.Name}, {dst.Name}, int, int)");

    /// <summary>A row or channel operand's elements as a <paramref name="t"/>[]: its unrounded float32 values, its own
    /// array, or a half operand widened whole, once (it is smaller than the loop that reads it).</summary>
    Expression WholeOperand(Node x, Type t)
    {
        var a = av[x]!;
        Expression e = unrounded.TryGetValue(x, out var f) ? t == typeof(float) ? f : WidenAll(f, a.Size, t)
            : DTypes.IsHalf(a.DType) ? WidenAll(DataOf(Obj(x), Elem(a)), a.Size, t)
            : DataOf(x, t);
        return Assign(e, t.MakeArrayType());
    }

    /// <summary>An array of <paramref name="size"/> halves (or unrounded float32 values) widened whole into a buffer of the arena (<paramref name="t"/>: float or double).</summary>
    Expression WidenAll(Expression array, int size, Type t)
    {
        var src = Assign(array);
        var dst = Assign(Scratch(t, size), t.MakeArrayType());
        Stmts.Add(Expression.Call(JitRtMethod(nameof(JitRt.Widen), src.Type, dst.Type), src, dst, Expression.Constant(0), Expression.Constant(size)));
        return dst;
    }

    /// <summary>A half member that fused loops passed on unrounded, rounded whole now into its own array (as a tensor).</summary>
    Expression RoundLate(Node n, Expression f, Aval a)
    {
        var h = Elem(a);
        var dst = Assign(Buffer(n, h, a.Size), h.MakeArrayType());
        Stmts.Add(Expression.Call(JitRtMethod(nameof(JitRt.Narrow), f.Type, dst.Type), f, dst, Expression.Constant(0), Expression.Constant(a.Size)));
        return Assign(MakeTensor(dst, a), typeof(Tensor));
    }

    /// <summary><c>j += step; if (j == inner) j = 0;</c> (the index of a row operand).</summary>
    static Expression Wrap(ParameterExpression j, int inner, int step) => Expression.Block(
        Expression.AddAssign(j, Expression.Constant(step)),
        Expression.IfThen(Expression.Equal(j, Expression.Constant(inner)), Expression.Assign(j, Expression.Constant(0))));

    /// <summary><c>q += step; if (q == inner) { q = 0; k++; if (k == count) k = 0; }</c> (the index of a channel operand).</summary>
    static Expression Step(ParameterExpression q, ParameterExpression k, int inner, int count, int step) => Expression.Block(
        Expression.AddAssign(q, Expression.Constant(step)),
        Expression.IfThen(Expression.Equal(q, Expression.Constant(inner)), Expression.Block(
            Expression.Assign(q, Expression.Constant(0)),
            Expression.PreIncrementAssign(k),
            Expression.IfThen(Expression.Equal(k, Expression.Constant(count)), Expression.Assign(k, Expression.Constant(0))))));

    /// <summary>How many chains were fused into loops (for tests).</summary>
    public int FusedChains;
}
