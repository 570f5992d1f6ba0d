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
/// <param name="Primal">With <paramref name="AgainstOutput"/>: the function whose output is meant, over the first graph inputs.</param>
/// <param name="FloatOnly">
/// Not a shape agreement but a dtype requirement: the leaf is differentiated, so it must be a float tensor (an integer or
/// bool tensor carries no gradient, JAX's float0).
/// </param>
internal sealed record ShapeAgreement(int Leaf, int Against, bool AgainstOutput, string LeafName, string AgainstName, FunctionText Api, Program? Primal = null, bool FloatOnly = false)
{
    /// <summary>The requirement that a differentiated leaf be a float tensor.</summary>
    public static ShapeAgreement Differentiated(int leaf, string leafName, FunctionText api) => new(leaf, leaf, false, leafName, "", api, FloatOnly: true);

    public ShapeException Fail(Aval got, Aval want) => new(
        $"{Api} called with {LeafName}: {got}", [got, want],
        $"{LeafName} has shape {got} but {AgainstName} has shape {want}; it must have exactly that shape (no broadcasting), the dtype may differ");

    /// <summary>Throws when the avals do not agree (a null aval, a scalar leaf, is not checked).</summary>
    public void Check(Aval? leaf, Aval? against)
    {
        if (FloatOnly)
        {
            if (leaf is not null && !DTypes.IsFloat(leaf.DType))
                throw new GradException(
                    $"{Api} called with {LeafName}: {leaf}: {LeafName} is differentiated, but an {DTypes.Name(leaf.DType)} tensor carries no gradient " +
                    "(integer and bool values have no tangent, JAX's float0). Differentiate with respect to the float arguments only " +
                    "(Ad.Grad(f, argnums), or move the integer data to another parameter), or convert it with AsType(DType.Float32) if it really is continuous.");
            return;
        }
        if (leaf is null || against is null) return;
        if (!SmallArrays.Same(leaf.Dims, against.Dims)) throw Fail(leaf, against);
    }
}

/// <summary>
/// Enforces a program's <see cref="ShapeAgreement"/>s before anything runs: on every eager call (once per shape
/// signature) and once per signature in the compilers. An agreement with an output compares against the output's
/// aval inferred from the function's own graph (<see cref="ShapeAgreement.Primal"/>), so a wrong cotangent is
/// named before it meets the derivative code.
/// </summary>
internal static class EntryChecks
{
    /// <summary>Checks every agreement of <paramref name="p"/> given the aval of each graph input (null for non-tensors).</summary>
    public static void Check(Program p, IReadOnlyList<Aval?> inputs)
    {
        Dictionary<Node, Aval?>? primal = null;
        foreach (var c in p.Agreements)
        {
            if (!c.AgainstOutput) { c.Check(inputs[c.Leaf], inputs[c.Against]); continue; }
            var g = c.Primal!.Graph;
            primal ??= ShapeInference.Run(g, g.Inputs.Select((x, i) => x.Kind switch
            {
                Kind.Double => Aval.ScalarDouble,
                Kind.Float => Aval.ScalarFloat,
                _ => inputs[i],
            }).ToList());
            c.Check(inputs[c.Leaf], primal.GetValueOrDefault(g.Outputs[c.Against]));
        }
    }

    sealed class Runner(Program p)
    {
        readonly System.Collections.Concurrent.ConcurrentDictionary<Signature, bool> seen = new();
        readonly string[] paths = p.ParamDefs.SelectMany((d, i) => d.LeafInfo(p.Parameters[i].Name ?? $"arg{i}").Select(l => l.Path)).ToArray();

        public void Before(object?[] args)
        {
            var leaves = new List<object?>();
            for (int i = 0; i < p.ParamDefs.Length; i++)
            {
                if (args[i] is null && !p.ParamDefs[i].IsLeaf)
                    throw new ArgumentNullException(p.Parameters[i].Name, $"argument {p.Parameters[i].Name} is a null {Printer.TypeName(p.ParamDefs[i].Type)}; pass a value.");
                p.ParamDefs[i].Flatten(args[i], leaves);
            }
            var avals = new Aval?[leaves.Count];
            for (int i = 0; i < avals.Length; i++)
            {
                if (p.Graph.Inputs[i].Kind == Kind.Tensor && leaves[i] is null)
                    throw new ArgumentNullException(paths[i], $"argument {paths[i]} is null; a Tensor is required.");
                avals[i] = (leaves[i] as Tensor)?.Aval;
            }
            var sig = new Signature([.. avals.Cast<object?>()]);
            if (seen.ContainsKey(sig)) return;
            Check(p, avals);
            seen.TryAdd(sig, true);
        }
    }

    static void NullChecks(TreeDef d, Expression at, string path, List<Expression> into)
    {
        if (d.IsStatic || d.Leaf is Kind.Double or Kind.Float) return;
        if (!at.Type.IsValueType)
        {
            var msg = d.IsLeaf ? $"argument {path} is null; a Tensor is required." : $"argument {path} is a null {Printer.TypeName(d.Type)}; pass a value.";
            into.Add(Expression.IfThen(Expression.ReferenceEqual(at, Expression.Constant(null, at.Type)),
                Expression.Throw(Expression.New(typeof(ArgumentNullException).GetConstructor([typeof(string), typeof(string)])!, Expression.Constant(path), Expression.Constant(msg)))));
        }
        if (d.IsLeaf) return;
        for (int i = 0; i < d.Members.Length; i++)
            NullChecks(d.Children[i], Expression.MakeMemberAccess(at, d.Members[i]), path + "." + d.Members[i].Name, into);
    }

    /// <summary>
    /// Wraps a written lambda so that every call checks the agreements of <paramref name="p"/> (and that no Tensor
    /// argument is null) before the body runs; <paramref name="p"/> must have the lambda's parameters.
    /// </summary>
    public static LambdaExpression Wrap(LambdaExpression lambda, Program p)
    {
        var checks = new List<Expression>();
        // a null record or Tensor argument would fail deep inside the body: name it instead (one reference test each)
        for (int i = 0; i < lambda.Parameters.Count; i++)
            NullChecks(p.ParamDefs[i], lambda.Parameters[i], lambda.Parameters[i].Name ?? $"arg{i}", checks);
        if (p.Agreements.Length > 0)
        {
            var r = new Runner(p);
            var args = Expression.NewArrayInit(typeof(object), lambda.Parameters.Select(x => Expression.Convert(x, typeof(object))));
            checks.Add(Expression.Call(Expression.Constant(r), typeof(Runner).GetMethod(nameof(Runner.Before))!, args));
        }
        if (checks.Count == 0) return lambda;
        var block = Expression.Block(lambda.ReturnType, [.. checks, lambda.Body]);
        return Expression.Lambda(lambda.Type, block, lambda.Parameters);
    }
}
