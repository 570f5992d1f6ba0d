using System.Collections.Concurrent;
using System.Linq.Expressions;

namespace Functional.AD;

/// <summary>
/// Caches for the work that specialisation does by running eager code at compile time, shared by all jitted
/// functions: the interpreted evaluator of a node's eager method (per primitive, parameters, batch count and operand
/// kinds) and the coefficients that probing finds for a tiny linear or bilinear node (per primitive, parameters,
/// batch count and operand avals). Both depend only on their keys, so a second specialisation of the same shapes, or
/// another function using the same small product, reuses them. Each cache is emptied when it grows past
/// <see cref="MaxEntries"/> (a program with ever new shapes must not grow it without bound).
/// </summary>
internal static class ProbeCache
{
    const int MaxEntries = 4096;

    /// <summary>One term of an output element: coefficient times element <c>I</c> of operand <c>A</c> (times element <c>J</c> of operand 1 for a bilinear node, else <c>J</c> = -1).</summary>
    /// <remarks>
    /// This and <see cref="Key"/> are classes, not structs: the framework's collections over reference types run
    /// precompiled shared code, while each instantiation over a struct of this assembly is JIT-compiled in every fresh
    /// process, even one published ReadyToRun (issue 20: about 30 methods on the first call).
    /// </remarks>
    public sealed record Term(double C, int A, int I, int J);

    /// <summary>A key that compares structurally: the primitive, its parameters, the batch count and a text of the operands.</summary>
    sealed record Key(Primitive Op, Params Params, int Batch, string Operands);

    static readonly ConcurrentDictionary<Key, Func<object?[], object?>> evaluators = new();
    static readonly ConcurrentDictionary<Key, Term[][]> coefficients = new();
    static readonly ConcurrentDictionary<Key, object?> values = new();
    static int evaluatorMisses, coefficientMisses, valueMisses;

    /// <summary>
    /// Clears <paramref name="d"/> every <see cref="MaxEntries"/> misses (counted in <paramref name="misses"/>), which
    /// bounds it: counted here because <c>ConcurrentDictionary.Count</c> takes every lock and, on its first use in a process,
    /// builds the collection's event source by reflection (4 ms of a fresh process's first call).
    /// </summary>
    static void Bound<TV>(ConcurrentDictionary<Key, TV> d, ref int misses)
    {
        if (Interlocked.Increment(ref misses) % MaxEntries == 0) d.Clear();
    }

    /// <summary>The eager code of node <paramref name="n"/> over boxed operands, interpreted (it runs at specialisation only).</summary>
    public static Func<object?[], object?> Evaluator(Node n)
    {
        if (n.Subgraphs.Length > 0) return Build(n);
        var key = new Key(n.Op, n.Params, n.Batch, string.Join(",", n.Args.Select(x => x.Kind == Kind.Static ? "static " + StaticType(x) : x.Kind.ToString())));
        if (evaluators.TryGetValue(key, out var f)) return f;
        Bound(evaluators, ref evaluatorMisses);
        return evaluators.GetOrAdd(key, _ => Build(n));
    }

    static Type StaticType(Node x) => x.Value as Type ?? x.Value?.GetType() ?? typeof(object);

    static Func<object?[], object?> Build(Node n)
    {
        var p = Expression.Parameter(typeof(object?[]), "args");
        var args = n.Args.Select((x, i) => (Expression)Expression.Convert(Expression.ArrayIndex(p, Expression.Constant(i)),
            x.Kind == Kind.Static ? StaticType(x) : x.Kind.ClrType())).ToArray();
        var body = n.Batch > 0 ? Vmapped.Emit(n, args) : n.Op.Emit(args, n.Args.Select(x => x.Kind).ToArray(), n.Params, n.Subgraphs);
        return Expression.Lambda<Func<object?[], object?>>(Expression.Convert(body, typeof(object)), p).Compile(preferInterpretation: true);
    }

    /// <summary>
    /// A text of the operands that determines a node's value when its tensor operands are given by aval only: per
    /// operand its aval, or the value of a scalar or aval constant. <c>null</c> when an operand's value matters and
    /// has no such text (a tensor constant, a static value): then nothing is cached.
    /// </summary>
    static string? OperandText(Node n, Func<Node, Aval?> avalOf, bool constantsByValue)
    {
        if (n.Subgraphs.Length > 0) return null;
        var parts = new string[n.Args.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            var x = n.Args[i];
            if (x.IsConst && constantsByValue)
                parts[i] = x.Value switch
                {
                    double d => "d" + BitConverter.DoubleToInt64Bits(d),
                    float f => "f" + BitConverter.SingleToInt32Bits(f),
                    Aval a => "a" + a,
                    _ => null!,
                };
            else if (x.Kind is Kind.Tensor or Kind.Aval && avalOf(x) is { } a) parts[i] = x.Kind + " " + a;
            else if (x.Kind is Kind.Double or Kind.Float) parts[i] = x.Kind.ToString();
            else return null;
            if (parts[i] is null) return null;
        }
        return string.Join(";", parts);
    }

    /// <summary>The probed coefficients of node <paramref name="n"/>, made by <paramref name="probe"/> on a miss.</summary>
    public static Term[][] Coefficients(Node n, Func<Node, Aval?> avalOf, Func<Term[][]> probe)
    {
        if (OperandText(n, avalOf, constantsByValue: true) is not { } text) return probe();
        var key = new Key(n.Op, n.Params, n.Batch, text);
        if (coefficients.TryGetValue(key, out var t)) return t;
        Bound(coefficients, ref coefficientMisses);
        return coefficients.GetOrAdd(key, _ => probe());
    }

    /// <summary>
    /// The terms of a product that declares them (<see cref="CpuLowering.ProductTerms"/>: Dot and its two transposed
    /// slots) on operands its shape rule accepts, written down instead of probed; <c>null</c> for anything else (then the
    /// caller probes). Probing costs a fresh process the JIT of the eager product kernels.
    /// </summary>
    public static Term[][]? ContractionTerms(Primitive p, Aval a, Aval b) =>
        p.Cpu?.ProductTerms is { } terms && ShapeInference.Known(p, [Kind.Tensor, Kind.Tensor], [a, b]) is not null ? terms(a.Dims, b.Dims) : null;

    /// <summary>The value of a node that depends only on its operands' shapes (Zeros, Ones, the gradient seed), made by <paramref name="make"/> on a miss.</summary>
    public static object? ShapeOnlyValue(Node n, Func<Node, Aval?> avalOf, Func<object?> make)
    {
        if (OperandText(n, avalOf, constantsByValue: true) is not { } text) return make();
        var key = new Key(n.Op, n.Params, n.Batch, text);
        if (values.TryGetValue(key, out var v)) return v;
        Bound(values, ref valueMisses);
        return values.GetOrAdd(key, _ => make());
    }
}
