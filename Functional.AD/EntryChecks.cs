using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// A shape agreement a transformed function requires of its arguments and results: a tangent has its primal's
/// shape (<c>Jvp</c>, <c>Hvp</c>), a cotangent has its output's shape (<c>Vjp</c>). Broadcasting would otherwise
/// accept a [1] tangent for a [3] primal, or sum a [3,3] cotangent down to a [3] output, silently.
/// </summary>
/// <param name="Leaf">The graph input (leaf index) that is checked: the tangent, direction or cotangent.</param>
/// <param name="Against">The leaf it must match: a graph input, or (with <paramref name="AgainstOutput"/>) a graph output.</param>
/// <param name="AgainstOutput">Whether <paramref name="Against"/> indexes the outputs.</param>
/// <param name="LeafName">The checked leaf as the user wrote it (<c>dx.W</c>).</param>
/// <param name="AgainstName">What it must match (<c>the primal x.W</c>).</param>
/// <param name="Api">The transformation and function, printed (<c>Ad.Jvp(x =&gt; Np.Sin(x))</c>).</param>
internal sealed record ShapeAgreement(int Leaf, int Against, bool AgainstOutput, string LeafName, string AgainstName, string Api)
{
    public ShapeException Fail(Aval got, Aval want) => new(
        $"{Api} called with {LeafName}: {got}", [got, want],
        $"{LeafName} has shape {got} but {AgainstName} has shape {want}; it must have exactly that shape (no broadcasting), the dtype may differ");

    /// <summary>Throws when the avals do not agree (a null aval, a scalar leaf, is not checked).</summary>
    public void Check(Aval? leaf, Aval? against)
    {
        if (leaf is null || against is null) return;
        if (!leaf.Shape.SequenceEqual(against.Shape)) throw Fail(leaf, against);
    }
}

/// <summary>Enforces a program's <see cref="ShapeAgreement"/>s: on every eager call, and once per signature in compilers.</summary>
internal static class EntryChecks
{
    /// <summary>The checks on inputs alone, given the aval of each graph input (null for scalars).</summary>
    public static void CheckInputs(Program p, IReadOnlyList<Aval?> inputs)
    {
        foreach (var c in p.Agreements)
            if (!c.AgainstOutput) c.Check(inputs[c.Leaf], inputs[c.Against]);
    }

    /// <summary>The checks against outputs, given the avals of the graph inputs and outputs.</summary>
    public static void CheckOutputs(Program p, IReadOnlyList<Aval?> inputs, IReadOnlyList<Aval?> outputs)
    {
        foreach (var c in p.Agreements)
            if (c.AgainstOutput) c.Check(inputs[c.Leaf], outputs[c.Against]);
    }

    static Aval? AvalOf(object? v) => v is Tensor t ? t.Aval : null;

    static List<Aval?> InputAvals(Program p, object?[] args)
    {
        var leaves = new List<object?>();
        for (int i = 0; i < p.ParamDefs.Length; i++) p.ParamDefs[i].Flatten(args[i], leaves);
        return leaves.Select(AvalOf).ToList();
    }

    sealed class Runner(Program p)
    {
        public void Before(object?[] args) => CheckInputs(p, InputAvals(p, args));

        public object? After(object?[] args, object? result)
        {
            var outs = new List<object?>();
            p.OutDef.Flatten(result, outs);
            CheckOutputs(p, InputAvals(p, args), outs.Select(AvalOf).ToList());
            return result;
        }
    }

    /// <summary>
    /// Wraps a written lambda so that every call checks the agreements of <paramref name="p"/> (inputs before the
    /// body runs, outputs after); <paramref name="p"/> must have the lambda's parameters.
    /// </summary>
    public static LambdaExpression Wrap(LambdaExpression lambda, Program p)
    {
        if (p.Agreements.Length == 0) return lambda;
        var r = new Runner(p);
        var args = Expression.NewArrayInit(typeof(object), lambda.Parameters.Select(x => Expression.Convert(x, typeof(object))));
        var argsVar = Expression.Variable(typeof(object[]), "args");
        var before = Expression.Call(Expression.Constant(r), typeof(Runner).GetMethod(nameof(Runner.Before))!, argsVar);
        Expression body = Expression.Convert(lambda.Body, typeof(object));
        if (p.Agreements.Any(c => c.AgainstOutput))
            body = Expression.Call(Expression.Constant(r), typeof(Runner).GetMethod(nameof(Runner.After))!, argsVar, body);
        var block = Expression.Block(lambda.ReturnType, [argsVar], Expression.Assign(argsVar, args), before, Expression.Convert(body, lambda.ReturnType));
        return Expression.Lambda(lambda.Type, block, lambda.Parameters);
    }
}
