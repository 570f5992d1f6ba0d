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
    /// The terms of <c>Dot</c>, <c>DotTA</c> and <c>DotTB</c> on vectors and matrices whose axes agree, written down
    /// instead of probed: the same terms, in the same order, as running the eager kernel on one-hot operands gives
    /// (per output element, ascending in the first operand's element, then the second's), so the code is the same;
    /// <c>null</c> for anything else (then the caller probes). Probing costs a fresh process the JIT of the eager
    /// product kernels (issue 20).
    /// </summary>
    public static Term[][]? ContractionTerms(Primitive p, Aval a, Aval b)
    {
        if (p != Prims.Dot && p != Prims.DotTA && p != Prims.DotTB || ShapeInference.Known(p, [Kind.Tensor, Kind.Tensor], [a, b]) is not { } o) return null;
        var (x, y) = (a.Dims, b.Dims);
        var terms = new Term[o.Size][];
        // out[outIndex(r, c)] = sum over t < k of a[i] * b[j], (i, j) = index(r, c, t); i grows with t, as in a probe
        void Sum(int m, int n, int k, Func<int, int, int, (int I, int J)> index, Func<int, int, int> outIndex)
        {
            for (int r = 0; r < m; r++)
                for (int c = 0; c < n; c++)
                {
                    var ts = new Term[k];
                    for (int t = 0; t < k; t++) { var (i, j) = index(r, c, t); ts[t] = new Term(1, 0, i, j); }
                    terms[outIndex(r, c)] = ts;
                }
        }
        if (p == Prims.Dot)
        {
            // a [M, K] (M = 1 for a vector), b [K, N] (N = 1 for a vector): out[r, c] = sum_t a[r, t] b[t, c]
            int k = x[^1], m = x.Length == 2 ? x[0] : 1, n = y.Length == 2 ? y[1] : 1;
            Sum(m, n, k, (r, c, t) => (r * k + t, t * n + c), (r, c) => r * n + c);
        }
        else if (p == Prims.DotTA)   // (g, b): the cotangent of Dot's a
            switch (x.Length, y.Length)
            {
                case (0, 1): Sum(1, y[0], 1, (_, c, _) => (0, c), (_, c) => c); break;                                       // g * b
                case (1, 2): { int n = y[1]; Sum(y[0], 1, n, (r, _, t) => (t, r * n + t), (r, _) => r); break; }             // b @ g
                case (1, 1): { int n = y[0]; Sum(x[0], n, 1, (r, c, _) => (r, c), (r, c) => r * n + c); break; }             // outer(g, b)
                default: { int n = x[1], kk = y[0]; Sum(x[0], kk, n, (r, c, t) => (r * n + t, c * n + t), (r, c) => r * kk + c); break; }   // g @ b^T
            }
        else   // DotTB (a, g): the cotangent of Dot's b
            switch (x.Length, y.Length)
            {
                case (1, 0): Sum(x[0], 1, 1, (r, _, _) => (r, 0), (r, _) => r); break;                                       // a * g
                case (1, 1): { int n = y[0]; Sum(x[0], n, 1, (r, c, _) => (r, c), (r, c) => r * n + c); break; }             // outer(a, g)
                case (2, 1): { int k = x[1]; Sum(k, 1, x[0], (r, _, t) => (t * k + r, t), (r, _) => r); break; }              // a^T g
                default: { int k = x[1], n = y[1]; Sum(k, n, x[0], (r, c, t) => (t * k + r, t * n + c), (r, c) => r * n + c); break; }   // a^T @ g
            }
        return terms;
    }

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
