using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>Writes a graph back as an <see cref="Expression"/>: one local per node, in order, then the output pytree.</summary>
internal static class Writer
{
    public static LambdaExpression Write(Graph g, ParameterExpression[] parameters, TreeDef[] defs, TreeDef outDef, Type delegateType)
    {
        var inputs = new List<Expression>();
        for (int i = 0; i < parameters.Length; i++) defs[i].LeafAccess(parameters[i], inputs);
        var (vars, stmts, env) = Emit(g, inputs);
        int pos = 0;
        var result = outDef.Construct(g.Outputs.Select(o => env[o]).ToArray(), ref pos);
        Expression body = vars.Count == 0 && stmts.Count == 0 ? result : Expression.Block(outDef.Type, vars, [.. stmts, result]);
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
            var e = n.Batch > 0 ? Vmapped.Emit(n, args) : n.Op.Emit(args, n.Args.Select(a => a.Kind).ToArray(), n.Params, n.Subgraphs);
            var v = Expression.Variable(n.Kind.ClrType(), "t" + (vars.Count + 1));
            vars.Add(v);
            stmts.Add(Expression.Assign(v, e.Type == v.Type ? e : Expression.Convert(e, v.Type)));
            env[n] = v;
        }
        return (vars, stmts, env);
    }
}
