using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>Writes a graph back as an <see cref="Expression"/>: one local per node, in order, then the output pytree.</summary>
internal static class Writer
{
    public static LambdaExpression Write(Graph g, ParameterExpression[] parameters, TreeDef[] defs, TreeDef outDef, Type delegateType)
    {
        var inputs = new List<Expression>();
        for (int i = 0; i < parameters.Length; i++) defs[i].LeafAccess(parameters[i], inputs);
        Expression body;
        if (Unbatch.HasBatched(g))
        {
            // a vmapped program: rewritten into unbatched primitives per shape signature of its leaves, at the call
            var program = new BatchedProgram(g);
            var outs = Expression.Variable(typeof(object[]), "outs");
            var call = Expression.Call(Expression.Constant(program), typeof(BatchedProgram).GetMethod(nameof(BatchedProgram.Run))!,
                Expression.NewArrayInit(typeof(object), inputs.Select(i => Expression.Convert(i, typeof(object)))));
            int p = 0;
            var leaves = g.Outputs.Select((o, i) => (Expression)Expression.Convert(Expression.ArrayIndex(outs, Expression.Constant(i)), o.Kind.ClrType(o.Value as Type))).ToArray();
            var constructed = outDef.Construct(leaves, ref p);
            body = Expression.Block(outDef.Type, [outs], Expression.Assign(outs, call), constructed);
        }
        else
        {
            var (vars, stmts, env) = Emit(g, inputs);
            int pos = 0;
            var result = outDef.Construct(g.Outputs.Select(o => env[o]).ToArray(), ref pos);
            body = vars.Count == 0 && stmts.Count == 0 ? result : Expression.Block(outDef.Type, vars, [.. stmts, result]);
        }
        if (g.Nodes.Any(n => !n.IsConst)) body = Diagnosis.Wrap(body, g, defs, parameters);
        return Expression.Lambda(delegateType, body, parameters);
    }

    /// <summary>A sub-graph as a block expression over the given input expressions (used for branches).</summary>
    public static Expression InlineBlock(Graph g, Expression[] inputs)
    {
        var (vars, stmts, env) = Emit(g, inputs);
        var result = env[g.Outputs[0]];
        return stmts.Count == 0 ? result : Expression.Block(result.Type, vars, [.. stmts, result]);
    }

    internal static (List<ParameterExpression>, List<Expression>, Dictionary<Node, Expression>) Emit(Graph g, IReadOnlyList<Expression> inputs)
    {
        var env = new Dictionary<Node, Expression>(RefEq<Node>.Instance);
        for (int i = 0; i < g.Inputs.Length; i++) env[g.Inputs[i]] = inputs[i];
        var vars = new List<ParameterExpression>();
        var stmts = new List<Expression>();
        foreach (var n in g.Nodes)
        {
            if (n.IsConst)
            {
                env[n] = Expression.Constant(n.Value, n.Kind == Kind.Static ? n.Value!.GetType() : n.Kind.ClrType());
                continue;
            }
            var args = n.Args.Select(a => env[a]).ToArray();
            // a batched node here has operands of shapes unknown before the call (inside a loop body, after a
            // conditional whose branches differ): it is rewritten per call signature
            var e = n.Batch > 0 ? Vmapped.Emit(n, args) : n.Op.Emit(args, SmallArrays.KindsOf(n.Args), n.Params, n.Subgraphs);
            var v = Expression.Variable(n.Kind.ClrType(), "t" + (vars.Count + 1));
            vars.Add(v);
            stmts.Add(Expression.Assign(v, e.Type == v.Type ? e : Expression.Convert(e, v.Type)));
            env[n] = v;
        }
        return (vars, stmts, env);
    }
}

/// <summary>
/// Eager code of a graph with batched nodes: per shape signature of the call's leaves, the graph's shapes are inferred,
/// its batched nodes rewritten into unbatched primitives (<see cref="Unbatch.Run"/>), and the result written and
/// compiled once.
/// </summary>
internal sealed class BatchedProgram(Graph g)
{
    readonly System.Collections.Concurrent.ConcurrentDictionary<Signature, Lazy<Func<object?[], object?[]>>> cache = new();

    public object?[] Run(object?[] leaves)
    {
        var items = new object?[leaves.Length];
        for (int i = 0; i < leaves.Length; i++)
            items[i] = g.Inputs[i].Kind switch
            {
                Kind.Tensor => (leaves[i] as Tensor)?.Aval,
                Kind.Double or Kind.Float => null,
                _ => leaves[i],
            };
        var f = cache.GetOrAdd(new Signature(items), _ => new Lazy<Func<object?[], object?[]>>(() => Compile(items))).Value;
        return f(leaves);
    }

    Func<object?[], object?[]> Compile(object?[] items)
    {
        var avals = ShapeInference.InputAvals(g, items);
        var av = ShapeInference.Run(g, avals, "Ad.Vmap");
        var (g2, _) = Unbatch.Run(g, av);
        var arr = Expression.Parameter(typeof(object?[]), "leaves");
        var ins = g2.Inputs.Select((x, i) => (Expression)Expression.Convert(Expression.ArrayIndex(arr, Expression.Constant(i)), x.Kind.ClrType(x.Value as Type))).ToArray();
        var (vars, stmts, env) = Writer.Emit(g2, ins);
        var result = Expression.NewArrayInit(typeof(object), g2.Outputs.Select(o => Expression.Convert(env[o], typeof(object))));
        return Expression.Lambda<Func<object?[], object?[]>>(Expression.Block(typeof(object?[]), vars, [.. stmts, result]), arr).Compile();
    }
}
