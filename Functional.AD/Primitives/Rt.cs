using System.Collections.Concurrent;

namespace Functional.AD;

/// <summary>Run-time helpers that emitted code calls.</summary>
internal static class Rt
{
    // a class key (not a value tuple): the framework's shared code for reference keys is precompiled, an instantiation over a tuple is JIT-compiled in every process
    static readonly ConcurrentDictionary<InferKey, Aval> inferred = new();

    sealed record InferKey(Primitive Op, Params Params, string Operands);

    /// <summary>The cotangent seed of <c>Ad.Grad</c>: ones shaped like a scalar output, or a clear error naming the function (printed only then).</summary>
    public static Tensor GradSeed(Tensor output, FunctionText expression) => Lax.Ones(GradSeedAval(output.Aval, expression));

    /// <summary>The cotangent seed of <c>Ad.Grad</c>: ones shaped like a scalar output, or a clear error.</summary>
    public static Tensor GradSeed(Tensor output, string expression) => Lax.Ones(GradSeedAval(output.Aval, expression));

    /// <summary>The aval of the gradient seed of an output of aval <paramref name="output"/>: the output's own when it is rank 0, or a clear error.</summary>
    internal static Aval GradSeedAval(Aval output, FunctionText expression) => output.Rank == 0 ? output : GradSeedAval(output, expression.ToString());

    static Aval GradSeedAval(Aval output, string expression) =>
        output.Rank == 0 ? output : throw new GradException(
            $"Ad.Grad needs a function with a scalar output, but {expression} returns a tensor of shape {output}. " +
            "Reduce it first (Np.Sum, Np.Mean) or use a Jacobian (Ad.Jacrev / Ad.Vjp) for a non-scalar output.");

    /// <summary>
    /// A value of aval <paramref name="a"/> to evaluate a primitive on when only its shape matters: zeros, except ones for
    /// integers (an integer division by a placeholder must not divide by zero).
    /// </summary>
    internal static Tensor Placeholder(Aval a) => DTypes.IsInteger(a.DType) ? Lax.Ones(a) : Lax.Zeros(a);

    /// <summary>
    /// The operands of a shape query as text, for the cache key: built in a loop (<c>string.Join</c> over the
    /// <see cref="Kind"/> enum is a generic instantiation a fresh process JIT-compiles, with the enum's name table).
    /// </summary>
    static string OperandText(Kind[] kinds, Aval[] avals, int batch)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < kinds.Length; i++) sb.Append((int)kinds[i]).Append(';');
        sb.Append('|');
        for (int i = 0; i < avals.Length; i++) sb.Append(avals[i]).Append(';');
        return sb.Append("|b").Append(batch).ToString();
    }

    /// <summary>The shape rule of any primitive, by abstract evaluation: run it once on zeros of the operand shapes (cached).</summary>
    public static Aval InferAval(Primitive p, Params prms, Kind[] kinds, Aval[] avals) => InferAval(p, prms, kinds, avals, 0);

    /// <summary>The shape rule of a primitive applied at batch count <paramref name="batch"/> (see <see cref="Node.Batch"/>).</summary>
    public static Aval InferAval(Primitive p, Params prms, Kind[] kinds, Aval[] avals, int batch)
    {
        if (batch > 0)
            return Unbatch.AvalOf(p, prms, batch, kinds, avals) ?? throw new InvalidOperationException($"Internal error: {p.Name} at batch count {batch} has no shape.");
        if (ShapeInference.Known(p, kinds, avals) is { } known) return known;
        if (p.ShapeRule is { } rule) return rule(prms, avals);
        var key = new InferKey(p, prms, OperandText(kinds, avals, batch));
        return inferred.GetOrAdd(key, _ =>
        {
            var dummies = new object[avals.Length];
            for (int i = 0; i < avals.Length; i++)
                dummies[i] = kinds[i] switch
                {
                    Kind.Double => 0.0,
                    Kind.Float => 0f,
                    Kind.Bool => false,
                    Kind.Aval => avals[i],
                    _ => Placeholder(avals[i]),
                };
            var r = p.Eval(dummies, kinds, prms, batch);
            return r switch
            {
                Tensor t => t.Aval,
                Aval a => a,
                double => Functional.AD.Aval.ScalarDouble,
                float => Functional.AD.Aval.ScalarFloat,
                _ => throw new InvalidOperationException($"Internal error: {p.Name} has no shape."),
            };
        });
    }
}

/// <summary>
/// A function as an error message names it, printed as C# only when the message is made: printing is far slower than
/// the rest of <c>Ad.Grad</c> (and, in a fresh process, loads the printer's regular expressions), and most checks
/// never fail. With <c>api</c>, the transformation around it (<c>Ad.Grad(`(p, x) =&gt; ...`)</c>, the shape agreements'
/// messages); without, the function alone (the gradient seed's). Two are equal when they name the same expression with
/// the same transformation, so hash-consing still merges equal seeds.
/// </summary>
internal sealed class FunctionText(System.Linq.Expressions.LambdaExpression f, string? api = null) : IEquatable<FunctionText>
{
    readonly System.Linq.Expressions.LambdaExpression f = f;
    readonly string? api = api;
    string? text;

    /// <summary>The function as C# (<see cref="Printer.Expr"/>), in its transformation's call if it has one, printed on first use.</summary>
    public override string ToString() => text ??= api is null ? Printer.Expr(f) : $"{api}(`{Printer.Expr(f)}`)";

    public bool Equals(FunctionText? other) => other is not null && ReferenceEquals(f, other.f) && api == other.api;
    public override bool Equals(object? obj) => Equals(obj as FunctionText);
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(f);
}
